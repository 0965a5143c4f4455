"""The modelled system as data: behaviours, channels, scoring, grades,
consequences, lists, flags, responses, rollout, safeguards and the run.

Nothing about any real system is hard-coded here: behaviours, channels,
grades, lists and consequences are named by the scenario and referenced by
name. Cross-references are checked in ``scenario.model.Scenario``.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema, model_validator

from scorelab.errors import excerpt
from scorelab.scenario.classroom import Classroom
from scorelab.scenario.base import (
    MAX_MAGNITUDE,
    MAX_RATE,
    Age,
    Count,
    Date,
    Duration,
    Name,
    NonNegative,
    Probability,
    Rate,
    Real,
    StrictModel,
    duration,
    number,
    rate,
)

#: A relative change of income (-0.3: a third lost): from all of it lost to doubled.
RelativeChange = number(-1.0, 1.0)
#: A factor multiplying a behaviour's rate.
Factor = number(0.0, 1e6)
#: Most investigations per day a flag's capacity may name (in the population described).
MAX_CAPACITY = 1e12
Capacity = rate(MAX_CAPACITY, " in the population described")

Actor = Literal["person", "firm"]
BehaviourKind = Literal["wrongdoing", "civic", "disfavoured", "neutral"]


def _plain_value(x: Any) -> bool:
    """A text, boolean, or finite number within the schema's magnitude."""
    if isinstance(x, (bool, str)):
        return True
    if isinstance(x, int):
        return abs(x) <= MAX_MAGNITUDE
    return isinstance(x, float) and math.isfinite(x) and abs(x) <= MAX_MAGNITUDE


def _attribute_value(value: Any) -> Any:
    if _plain_value(value):
        return value
    if isinstance(value, list) and value and all(_plain_value(x) for x in value):
        return value
    raise ValueError(f"must be a value, a list of values or a range [lo, hi] (numbers finite and at most "
                     f"{MAX_MAGNITUDE:g} in size), got {excerpt(value)}")


AttributeValue = Annotated[
    Any,
    BeforeValidator(_attribute_value),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": ["boolean", "number", "string"]},
                {"type": "array", "items": {"type": ["boolean", "number", "string"]}, "minItems": 1},
            ]
        }
    ),
]


class Modifier(StrictModel):
    """Multiplies a base rate for the actors whose attributes match ``when``."""

    when: dict[str, AttributeValue] = Field(
        description="attribute -> value; a list of values matches any of them; for numeric attributes "
        "a two-element list [lo, hi] is an inclusive range. All conditions must hold."
    )
    factor: Factor = Field(description="rate multiplier for matching actors (dimensionless)")


class Behaviour(StrictModel):
    """An event type: people (or firms) do it at a rate that depends on their attributes."""

    actor: Actor = Field("person", description="who acts: person or firm")
    kind: BehaviourKind = Field(
        "wrongdoing",
        description="wrongdoing (sanctioned misconduct), civic (rewarded acts), disfavoured "
        "(lawful but disfavoured acts; their suppression is the chilling effect) or neutral",
    )
    domain: Name = Field("general", description="the life domain the act belongs to, used by purpose limitation")
    rate: Rate = Field(description="base rate per actor, with unit, e.g. '0.2 per year'")
    modifiers: list[Modifier] = Field(default_factory=list, description="attribute-dependent rate multipliers")
    min_age: Age = Field(0, description="people younger than this never do it (years)")
    deterrability: Probability = Field(
        1.0,
        description="how strongly the act responds to perceived observation (0 = not at all, 1 = fully); "
        "multiplies the response section's deterrence",
    )
    income_effect: RelativeChange = Field(
        0.0, description="relative change of the actor's income per act (e.g. -0.02); assumption, default 0"
    )

    @model_validator(mode="after")
    def _most_often(self) -> "Behaviour":
        top = self.rate
        for m in self.modifiers:
            top *= max(1.0, m.factor)
        if top > MAX_RATE:
            raise ValueError(f"the rate times its modifiers' factors above 1 is {top:.4g} per day; an actor does "
                             f"one behaviour at most {MAX_RATE:g} times a day")
        return self


class Misattribution(StrictModel):
    """A record that lands on the wrong person."""

    probability: Probability = Field(0.0, description="share of records attributed to someone else")
    target: Literal["random", "contacts"] = Field(
        "random", description="who gets the wrong record: a random person, or one of the actor's contacts"
    )
    layer: Name | None = Field(None, description="contact layer used when target is 'contacts' (default: all)")


class Identification(StrictModel):
    """1:N identification (for example face search at places of mass gathering) against a watchlist.

    Attendance is a behaviour: people do it at their own rate (by group or
    attribute), so crowds scale with the population. The channel sees an act of
    ``behaviour`` with its coverage and detection (the face is captured), then
    searches the face against the watchlist's W members at that moment: a listed
    person is recognised with probability ``hit_rate``; anyone else raises a false
    alert with probability 1 - (1 - f)^W, f the ``false_match_rate`` of one
    comparison. A record (a recognition, or a false match about the bystander who
    was scanned) is made only on an alert; captured faces that match nobody leave
    no record. Expected alert precision: docs/channels.md.
    """

    behaviour: Name = Field(description="the act during which faces are captured (e.g. 'mass_gathering'); "
                            "must be one of the channel's observed behaviours; its rate per person is the attendance")
    watchlist: Name = Field(description="the list whose members are searched for")
    hit_rate: Probability = Field(1.0, description="probability that a captured face of a listed person is recognised")
    false_match_rate: Probability = Field(
        description="probability that one comparison of an unlisted face with one listed person matches falsely"
    )

    @model_validator(mode="before")
    @classmethod
    def _removed_crowd_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in ("gatherings", "crowd_size"):
                if key in data:
                    raise ValueError(
                        f"'{key}' was removed: crowds are the people who do the identification behaviour "
                        f"(its rate per person), so they scale with the population; see docs/channels.md")
        return data


class Passengers(StrictModel):
    """Who rides with the driver on a trip: each other member of the driver's household, with a probability."""

    layer: Literal["household"] = Field("household", description="contact layer passengers come from (the "
                                        "driver's household: its members are in the car, not the driver's friends)")
    probability: Probability = Field(0.0, description="probability that each other member of the driver's "
                                     "household rides along on a trip that raises a record (recorded too)")


class Audio(StrictModel):
    """In-car microphones that listen for keywords (docs/channels.md#in-car-audio).

    Trips and the watched speech are behaviours, so the speech is chilled by deterrence and
    counted in the twin: ``talk``'s rate per person is the rate of trips that carry it. A covered
    trip raises a false positive with ``false_positive``; a covered act of ``talk`` is heard with
    the channel's detection. Either record is of ``talk``, about the driver (a false positive is
    false), and about each passenger who rode along (erroneous: the act was the driver's).
    """

    trips: Name = Field(description="the behaviour whose acts are car trips (its rate per person: trips per "
                        "driver); must be one of the channel's observed behaviours; trips leave no record themselves")
    talk: Name = Field(description="the behaviour whose acts are the watched speech in a car (lawful, deterrable); "
                       "must be one of the channel's observed behaviours; the channel's detection is the chance a "
                       "keyword in it is heard")
    false_positive: Probability = Field(description="probability that a covered trip raises a keyword record "
                                        "although nobody said anything watched (a false record about the driver)")
    passengers: Passengers = Field(default_factory=Passengers, description="who else in the car is recorded")


class ObservedBehaviour(StrictModel):
    """How well one channel sees one of its behaviours, where it differs from the channel's own."""

    detection: Probability | None = Field(None, description="probability that a seen act becomes a record "
                                          "(default: the channel's detection)")
    false_match_rate: Probability | None = Field(
        None, description="share of the records not misattributed that are put on a falsely matched other "
        "person (default: the channel's false_match_rate)")


class Channel(StrictModel):
    """An organisation observing some behaviours and reporting records."""

    observes: list[Name] = Field(default_factory=list, description="behaviours this channel records")
    coverage: Probability = Field(1.0, description="share of actors the channel reaches once fully rolled out")
    regions: list[Name] | None = Field(None, description="provinces or cities covered (default: all)")
    detection: Probability = Field(1.0, description="probability that an act of a covered actor becomes a record")
    misattribution: Misattribution = Field(default_factory=Misattribution)
    false_match_rate: Probability = Field(
        0.0, description="share of the records not misattributed that the channel's matching (a face, a plate) "
        "puts on another person, anyone in the population; a false match (error 'false_match')")
    by_behaviour: dict[Name, ObservedBehaviour] = Field(
        default_factory=dict, description="behaviour -> its own detection and false-match rate on this channel")
    identification: Identification | None = Field(None, description="1:N identification against a watchlist")
    audio: Audio | None = Field(None, description="in-car microphones listening for keywords on trips")
    classroom: Classroom | None = Field(None, description="classroom cameras observing pupils (docs/classroom.md)")
    delay: Duration = Field(0.0, description="days from act to record")
    retention: Duration | None = Field(None, description="days a record is kept (default: for ever)")
    start: Date | None = Field(None, description="date the channel starts reporting (default: run start)")
    ramp: Duration = Field(0.0, description="days over which coverage grows linearly from 0 after start")
    gated_by_rollout: bool = Field(
        True, description="records only in regions that have joined the system (rollout); false for an "
        "institution that worked before it (courts, banks), which records everywhere from its start")


class PointRule(StrictModel):
    """Points for one record type in a point scheme."""

    behaviour: Name
    points: Real = Field(0.0, description="points added per record (negative for deductions)")
    cap_per_year: NonNegative | None = Field(
        None, description="largest absolute change this rule may make per person in each year of the run (points)"
    )
    set_grade: Name | None = Field(
        None, description="a record moves the person at once to at most this grade (e.g. drunk driving -> C)"
    )


class Dimension(StrictModel):
    """One weighted dimension of an index scheme, valued in [0, 1]."""

    weight: NonNegative = Field(description="weight of the dimension in the index")
    start: Probability = Field(0.5, description="value with no records")
    records: dict[Name, Real] = Field(
        default_factory=dict, description="behaviour -> change of the dimension value per record"
    )
    income: Real = Field(0.0, description="change per unit of income percentile (0..1) relative to the median")


class SocialTerm(StrictModel):
    """A share of the score that comes from contacts' scores (guilt by association)."""

    weight: Probability = Field(description="share of the score taken from the mean of contacts' scores")
    layers: list[Name] = Field(default_factory=lambda: ["friends"], description="contact layers used")


#: Largest points of the association term, per contact (its sums are kept in whole millionths
#: of a point, so that a contact that stops counting takes back exactly what it gave)
ASSOCIATION_MAX_POINTS = 1e6


class AssociationRewards(StrictModel):
    """Contacts in high grades raise a person's score (the association term's reward side)."""

    grades: list[Name] = Field(description="a contact in one of these grades (judged on the contact's own records) counts for a person")
    points: number(0.0, ASSOCIATION_MAX_POINTS) = Field(
        description="points per such contact, times the weight of the layer linking them")


class AssociationTerm(StrictModel):
    """Guilt by association: a person's score moves with the standing of their contacts, as
    such systems are described (a listed debtor's family marked down, a 'relationships'
    dimension). A contact counts against a person while it is on one of ``lists`` or in one
    of ``grades``, judged on the contact's own records and lists (their own contacts do not
    pass on, so there is no chain); each such contact adds ``points`` times the weight of the
    layer linking them; the sum stops at ``cap``."""

    lists: list[Name] = Field(default_factory=list, description="a contact on one of these lists counts against a person")
    grades: list[Name] = Field(
        default_factory=list, description="a contact in one of these grades, judged on the contact's own records, counts against a person")
    points: number(-ASSOCIATION_MAX_POINTS, ASSOCIATION_MAX_POINTS) = Field(
        description="points per contact that counts against a person, times the layer's weight (negative: a penalty)")
    layers: dict[Name, number(0.0, 100.0)] = Field(
        description="contact layer -> weight of a contact linked by it (a contact linked by several counts once, at the largest)")
    cap: NonNegative | None = Field(None, description="largest change the term makes to a score, either way (points; default: none)")
    rewards: AssociationRewards | None = Field(None, description="contacts in high grades raise a person's score (default: none)")
    half_life: Duration = Field(
        0.0, description="after a contact stops counting, what it gave halves every half-life (five times, then the rest goes); 0: at once")

    @model_validator(mode="after")
    def _check(self) -> "AssociationTerm":
        if not self.layers:
            raise ValueError("layers: name at least one contact layer and its weight, e.g. {household: 1.0}")
        if not (self.lists or self.grades or self.rewards):
            raise ValueError("give lists or grades whose members count against their contacts, or rewards")
        return self


class ScoreDistribution(StrictModel):
    """Starting scores drawn from a discrete distribution."""

    values: list[Real] = Field(description="possible starting scores (points)")
    shares: list[Probability] = Field(description="share of people starting at each value; sums to 1")

    @model_validator(mode="after")
    def _check(self) -> "ScoreDistribution":
        if not self.values or len(self.values) != len(self.shares):
            raise ValueError(f"values and shares need the same non-zero length, got {len(self.values)} and {len(self.shares)}")
        if abs(math.fsum(self.shares) - 1.0) > 1e-6:
            raise ValueError(f"shares must sum to 1, got {math.fsum(self.shares):.6g}")
        return self


class StartScores(StrictModel):
    """Starting scores that differ between people (points scheme); default: everyone at ``base``."""

    default: ScoreDistribution | None = Field(None, description="for people of groups not listed in by_group")
    by_group: dict[Name, ScoreDistribution] = Field(
        default_factory=dict, description="group -> starting score distribution"
    )


class Scoring(StrictModel):
    """How records become a score."""

    scheme: Literal["points", "index"] = Field("points", description="points: base plus points per record; index: weighted dimensions")
    base: Real = Field(1000.0, description="starting score (points scheme)")
    rules: list[PointRule] = Field(default_factory=list, description="points per record (points scheme)")
    range: tuple[Real, Real] = Field((350.0, 950.0), description="score range [low, high] (index scheme)")
    dimensions: dict[Name, Dimension] = Field(default_factory=dict, description="index dimensions")
    recovery: Duration | None = Field(None, description="points of a record expire after this many days (default: never)")
    bounds: tuple[Real, Real] | None = Field(None, description="clip the score to [low, high] (default: no clip)")
    social: SocialTerm | None = Field(None, description="social-circle term: a blend with contacts' mean score (default: off)")
    association: AssociationTerm | None = Field(
        None, description="guilt by association: points by contacts who are listed or in low grades (default: off)")
    start: StartScores | None = Field(None, description="starting scores by group (points scheme; default: base)")
    min_age: Age = Field(18, description="people scored from this age (years)")
    coming_of_age: bool = Field(False, description="people under min_age are scored from the day they reach it "
                                "in the run; other age settings read the age at day 0")
    enabled: bool = Field(True, description="false switches the whole scoring system off (the counterfactual)")

    @model_validator(mode="after")
    def _check(self) -> "Scoring":
        if self.range[0] >= self.range[1]:
            raise ValueError(f"range: low must be below high, got {list(self.range)}")
        if self.bounds is not None and self.bounds[0] >= self.bounds[1]:
            raise ValueError(f"bounds: low must be below high, got {list(self.bounds)}")
        if self.scheme == "index" and not self.dimensions:
            raise ValueError("an index scheme needs at least one dimension")
        if self.scheme == "index" and self.start is not None:
            raise ValueError("start scores need scheme 'points' (an index scheme starts from its dimensions)")
        return self


class Grade(StrictModel):
    """A score band [from, below). The top band has no 'below', the bottom band no 'from'."""

    name: Name
    from_: Real | None = Field(None, alias="from", description="lowest score in the band (inclusive)")
    below: Real | None = Field(None, description="score the band stays below (exclusive)")

    model_config = StrictModel.model_config | {"populate_by_name": True}


class ListEntry(StrictModel):
    """When an actor enters a list."""

    behaviours: list[Name] = Field(default_factory=list, description="records of these behaviours count")
    min_records: Count = Field(1, description="records within 'within' that trigger entry")
    within: Duration | None = Field(None, description="window for counting records (default: all kept records)")
    grades: list[Name] = Field(default_factory=list, description="or: being in one of these grades")
    from_list: Name | None = Field(None, description="or: having been on this list for 'after_listed' days")
    after_listed: Duration = Field(0.0, description="days on 'from_list' before moving (e.g. 3 years)")


class ListExit(StrictModel):
    """When an actor leaves a list."""

    after: Duration = Field(365.25, description="minimum days listed")
    clean: Duration | None = Field(None, description="and no new entry records for this many days")
    probability: Rate | None = Field(None, description="or: leave at this rate once 'after' has passed (e.g. paying the debt)")


class BlackOrRedList(StrictModel):
    """A blacklist or redlist with entry and exit rules."""

    kind: Literal["black", "red"] = Field(
        "black", description="black (its consequences are sanctions) or red (a list of 'trustworthy' people: its "
        "consequences are rewards, a wrongful red listing is not appealed and counts as no sanction; "
        "docs/lists-and-consequences.md#red-lists)")
    actor: Actor = Field("person")
    entry: ListEntry
    exit: ListExit = Field(default_factory=ListExit)
    joint_punishment: bool = Field(
        False, description="a firm's listing also lists its legal representative (firm lists only)"
    )


class Outcome(StrictModel):
    """A consequence with a random outcome whose chance depends on the grade (for example a
    granted loan that is repaid or defaulted, moving the score up or down)."""

    success_probability: dict[Name, Probability] = Field(
        description="grade -> probability of success (grades not listed: 0)"
    )
    success_points: Real = Field(0.0, description="score change on success (points)")
    failure_points: Real = Field(0.0, description="score change on failure (points)")


ConsequenceKind = Literal["refusal", "fine", "discount", "bonus", "income", "dismissal", "score", "priority",
                          "promotion"]


class Consequence(StrictModel):
    """What a grade or a list opens or closes."""

    kind: ConsequenceKind = Field(description="refusal of a service, fine, discount, bonus, income change, dismissal, "
                                  "score change, priority (a refusal's mirror: an attempt at the service served first, "
                                  "a reward) or promotion (an employee's income gain at a rate by grade, a reward)")
    grades: list[Name] = Field(default_factory=list, description="applies to actors in these grades")
    lists: list[Name] = Field(default_factory=list, description="applies to actors on these lists")
    actor: Actor = Field("person")
    service: Name | None = Field(None, description="the service refused (flights, rail, schools...); 'loans': by group")
    attempts: Rate | None = Field(None, description="how often an actor tries to use the service, e.g. '2 per year'")
    probability: Probability = Field(1.0, description="probability per attempt (refusal) or per period that it applies")
    amount: Real = Field(0.0, description="money per application (fine, discount, bonus) in the population's currency")
    income_change: RelativeChange = Field(0.0, description="relative income change on application (e.g. -0.3 for job loss)")
    points: Real = Field(0.0, description="score change on application (kind 'score')")
    every: duration(1.0 / MAX_RATE) = Field(
        365.25, description="period of recurring consequences (fines, discounts, bonuses)")
    domains: list[Name] | None = Field(
        None, description="domains whose records this consequence may use under purpose limitation (default: all)"
    )
    outcome: Outcome | None = Field(
        None, description="kind 'score' only: a random success or failure by grade instead of fixed points"
    )
    rates: dict[Name, Probability] = Field(
        default_factory=dict, description="kind 'promotion' only: grade -> probability that an employee in the grade "
        "is promoted in each period 'every' (dimensionless; grades not listed: never); the grades it applies to. "
        "The twin promotes nobody: give the promotions the rating adds, not the ordinary ones"
    )
    employer: Literal["public", "private", "any"] = Field(
        "any", description="kind 'promotion' only: employees of public employers (firms of the sector named "
        "'public'), of the others, or any"
    )
    through: Literal["self", "parents", "employer"] = Field(
        "self", description="whose grade or listing decides: the person's own (self); their parents' (a child, "
        "a person under the scoring age, is judged by the scored adults of their household: the first two, the "
        "population having no other parent link), a sanction that crosses generations; or their employer's (an "
        "employee is judged by the firm they work for, whose grades and lists are firms'). The consequence "
        "applies to the person: parents and employer need actor 'person'"
    )


class FlagRule(StrictModel):
    """A 'suspicious' rule over recent records."""

    behaviours: list[Name] = Field(description="records of these behaviours count")
    min_records: Count = Field(1, description="records within 'within' that raise the flag")
    within: Duration = Field(30.0, description="window in days")
    lists: list[Name] = Field(default_factory=list, description="or: a hit while on one of these lists")


class Flag(StrictModel):
    """A 'suspicious' status sent for attention, served by limited investigation capacity."""

    rule: FlagRule
    capacity: Capacity = Field(description="investigations per day in the population the scenario describes "
                           "(population.represents), e.g. '50 per day'; a scaled run serves capacity x people / "
                           "represents")
    fixed_capacity: bool = Field(False, description="serve exactly 'capacity' whatever the simulated population "
                                 "(not scaled with --scale)")
    investigation_income: RelativeChange = Field(0.0, description="relative income change of an investigated person")
    investigation_points: Real = Field(0.0, description="score change of an investigated person")
    add_to_list: Name | None = Field(None, description="list an investigated person is put on")
    cooldown: Duration = Field(90.0, description="days before the same person can be flagged again")


class Awareness(StrictModel):
    initial: Probability = Field(
        0.11, description="share aware of the rules at start (docs/sources.md: ~11% knew they were in a pilot, 2018 survey)"
    )
    growth: Rate = Field(
        "0 per year", description="rate at which unaware people become aware (default: none; assumption)"
    )
    maximum: Probability = Field(1.0, description="awareness never exceeds this share")


class Responses(StrictModel):
    """How people change behaviour when watched (deterrence and the chilling effect)."""

    enabled: bool = Field(True)
    awareness: Awareness = Field(default_factory=Awareness)
    deterrence: NonNegative = Field(
        1.0,
        description="rate multiplier for an aware actor is exp(-deterrence x deterrability x perceived risk); "
        "perceived risk = combined detection of the channels observing the act (assumption)",
    )
    risk_sensitivity: dict[Name, NonNegative] = Field(
        default_factory=dict, description="group -> multiplier of deterrence (default 1 for every group)"
    )


class RegionJoin(StrictModel):
    region: Name = Field(description="a province or city")
    joins: Date = Field(description="date the region joins the system")


class Rollout(StrictModel):
    """Regions join on dates; before joining, no channel reports there."""

    regions: list[RegionJoin] = Field(default_factory=list, description="join dates; unlisted regions join at 'default'")
    default: Date | None = Field(None, description="join date of unlisted regions (default: run start)")


class ListingAppeals(StrictModel):
    """Appeals of a wrongful listing itself (not of the records under it): an upheld appeal lifts
    the listing, and what it caused, after the delay."""

    contested: Probability = Field(
        0.0, description="share of wrongful listings whose listed person appeals the listing (assumption; default: none)"
    )
    success: Probability = Field(0.8, description="share of appealed wrongful listings lifted (assumption)")
    delay: Duration = Field(90.0, description="days from listing to its lifting on an upheld appeal (assumption)")


class Appeals(StrictModel):
    contested: Probability = Field(
        0.0, description="share of erroneous records contested (docs/sources.md prior: 26% of people found a material error)"
    )
    success: Probability = Field(
        0.8, description="share of contested erroneous records removed (docs/sources.md prior: 21%/26% changed after dispute)"
    )
    delay: Duration = Field(60.0, description="days from record to removal (assumption)")
    listings: ListingAppeals = Field(default_factory=ListingAppeals, description="appeals of wrongful listings themselves")


class Transparency(StrictModel):
    awareness: Probability = Field(
        0.0, description="extra share of unaware people made aware at start (assumption)"
    )


class Safeguards(StrictModel):
    """Safeguards, each switchable, for comparing designs."""

    appeals: Appeals = Field(default_factory=Appeals)
    expiry: Duration | None = Field(None, description="every record expires after this many days (default: never)")
    purpose_limitation: bool = Field(False, description="consequences use only records from their own domains")
    transparency: Transparency = Field(default_factory=Transparency)
    disabled_channels: list[Name] = Field(default_factory=list, description="data minimisation: these channels are off")
