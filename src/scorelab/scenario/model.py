"""The root ``Scenario`` model and the checks that span sections (references by name, grade bands)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from scorelab.scenario.base import Name, StrictModel
from scorelab.scenario.population import ContactsSpec, PopulationSpec
from scorelab.scenario.run import Run
from scorelab.scenario.system import (
    Behaviour,
    BlackOrRedList,
    Channel,
    Consequence,
    Flag,
    Grade,
    Responses,
    Rollout,
    Safeguards,
    Scoring,
)

Path = tuple[str | int, ...]

#: Contact layers every population has (see docs/contacts.md).
LAYERS = ("household", "workplace", "school", "friends", "online")

#: Attributes that behaviour modifiers may test, by actor (see docs/scenario.md).
PERSON_ATTRIBUTES = (
    "age", "sex", "province", "city", "urban", "income", "occupation", "employed",
    "student", "internet_user", "online_shopper", "car_owner", "group",
)
FIRM_ATTRIBUTES = ("size", "sector", "province", "city")
BOOLEAN_ATTRIBUTES = ("urban", "employed", "student", "internet_user", "online_shopper", "car_owner")
#: Attributes that change during a run (re-evaluated at each event).
DYNAMIC_ATTRIBUTES = ("income", "employed")


def region_names(p: PopulationSpec) -> set[str]:
    """Province and city names a scenario may refer to."""
    return {r.province for r in p.regions} | {r.city for r in p.regions}


def attribute_names(actor: str) -> tuple[str, ...]:
    return PERSON_ATTRIBUTES if actor == "person" else FIRM_ATTRIBUTES


def _default_grades() -> list[Grade]:
    # Rongcheng bands as reported in docs/sources.md (not confirmed from the rules text).
    return [
        Grade(name="AAA", **{"from": 1050}),
        Grade(name="AA", **{"from": 1030, "below": 1050}),
        Grade(name="A", **{"from": 960, "below": 1030}),
        Grade(name="B", **{"from": 850, "below": 960}),
        Grade(name="C", **{"from": 600, "below": 850}),
        Grade(name="D", below=600),
    ]


class Scenario(StrictModel):
    """A whole scenario: who lives there, what is observed, how it is scored and what follows."""

    name: str = Field("scenario", description="a label for reports")
    description: str = Field("", description="free text")
    population: PopulationSpec = Field(default_factory=PopulationSpec)
    contacts: ContactsSpec = Field(default_factory=ContactsSpec)
    behaviours: dict[Name, Behaviour] = Field(default_factory=dict, description="event types by name")
    channels: dict[Name, Channel] = Field(default_factory=dict, description="observing organisations by name")
    scoring: Scoring = Field(default_factory=Scoring)
    grades: list[Grade] = Field(default_factory=_default_grades, description="score bands, highest first")
    lists: dict[Name, BlackOrRedList] = Field(default_factory=dict, description="blacklists and redlists by name")
    consequences: dict[Name, Consequence] = Field(default_factory=dict, description="what grades and lists open or close")
    flags: dict[Name, Flag] = Field(default_factory=dict, description="'suspicious' rules by name")
    responses: Responses = Field(default_factory=Responses)
    rollout: Rollout = Field(default_factory=Rollout)
    safeguards: Safeguards = Field(default_factory=Safeguards)
    run: Run = Field(default_factory=Run)


def layers_read(s: Scenario) -> set[str]:
    """The contact layers the day loop reads (misattribution to contacts, the social term);
    a run need not build the others."""
    read: set[str] = set()
    for ch in s.channels.values():
        if ch.misattribution.target == "contacts" and ch.misattribution.probability > 0:
            read |= {ch.misattribution.layer} if ch.misattribution.layer else set(LAYERS)
    if s.scoring.social is not None and s.scoring.social.weight > 0:
        read |= set(s.scoring.social.layers)
    if s.scoring.association is not None:
        read |= set(s.scoring.association.layers)
    return read


def check_references(s: Scenario) -> list[tuple[Path, str, bool]]:
    """Problems that span sections: undefined names, grade bands with gaps or overlaps.

    Returns ``(field path, message, at_key)`` triples (``at_key``: the problem is the
    mapping key at the end of the path, not its value); empty means consistent.
    """
    c = _References(s)
    c.behaviours()
    c.channels()
    c.scoring()
    c.association()
    c.out.extend(_check_bands(s))
    c.lists()
    c.consequences()
    c.flags()
    c.the_rest()
    return c.out


class _References:
    """``check_references`` section by section: the names each section may use, and the
    problems found so far (``out``, in the order of the sections)."""

    def __init__(self, s: Scenario) -> None:
        self.s = s
        self.out: list[tuple[Path, str, bool]] = []
        self.behaviour_names = set(s.behaviours)
        self.grades = [g.name for g in s.grades]
        self.list_names = set(s.lists)
        self.channel_names = set(s.channels)
        self.regions = region_names(s.population)
        self.groups = set(s.population.groups)

    def ref(self, path: Path, value: str | None, known: set[str] | list[str], what: str, at_key: bool = False) -> None:
        if value is not None and value not in known:
            self.out.append((path, _undefined(what, value, known), at_key))

    def behaviours(self) -> None:
        s, out = self.s, self.out
        for name, b in s.behaviours.items():
            attrs = set(attribute_names(b.actor))
            for i, mod in enumerate(b.modifiers):
                where = ("behaviours", name, "modifiers", i, "when")
                for attr, value in mod.when.items():
                    self.ref(where + (attr,), attr, attrs, f"{b.actor} attribute", True)
                    out.extend(_check_attribute_value(s, b.actor, attr, value, where + (attr,)))
                dynamic = [a for a in mod.when if b.actor == "person" and a in DYNAMIC_ATTRIBUTES]
                if dynamic and len(mod.when) > 1:
                    out.append((where, f"a modifier on {dynamic[0]} (which changes during a run) must test only that "
                                "attribute; use one modifier per condition", False))

    def channels(self) -> None:
        s, out, ref, behaviours, lists = self.s, self.out, self.ref, self.behaviour_names, self.list_names
        for name, c in s.channels.items():
            for i, b in enumerate(c.observes):
                ref(("channels", name, "observes", i), b, behaviours, "behaviour")
            for i, r in enumerate(c.regions or []):
                ref(("channels", name, "regions", i), r, self.regions, "region")
            if c.misattribution.layer is not None:
                ref(("channels", name, "misattribution", "layer"), c.misattribution.layer, set(LAYERS), "contact layer")
            if c.identification is not None:
                ref(("channels", name, "identification", "watchlist"), c.identification.watchlist, lists, "list")
                if c.identification.watchlist in lists and s.lists[c.identification.watchlist].kind == "red":
                    out.append((("channels", name, "identification", "watchlist"), "a red list is no watchlist", False))
                if c.identification.watchlist in lists and s.lists[c.identification.watchlist].actor != "person":
                    out.append((("channels", name, "identification", "watchlist"),
                                "a watchlist of faces must be a list of people (actor: person)", False))
                ref(("channels", name, "identification", "behaviour"), c.identification.behaviour, behaviours,
                    "behaviour")
                # (not when 'observes' names an undefined behaviour: that is the one error to fix)
                if c.identification.behaviour in behaviours and c.identification.behaviour not in c.observes \
                        and all(b in behaviours for b in c.observes):
                    out.append((("channels", name, "identification", "behaviour"),
                                f"the channel must observe {c.identification.behaviour!r} (add it to 'observes') "
                                f"to capture the faces it searches", False))
                elif s.behaviours.get(c.identification.behaviour) is not None \
                        and s.behaviours[c.identification.behaviour].actor != "person":
                    out.append((("channels", name, "identification", "behaviour"),
                                "identification searches people's faces: the behaviour must have actor 'person'", False))
            if c.audio is not None:
                self.audio(name, c)
            if c.classroom is not None:
                self.classroom(name, c)
            for b in c.by_behaviour:
                if b not in c.observes:
                    out.append((("channels", name, "by_behaviour", b),
                                f"{b!r} is not one of the behaviours this channel observes "
                                f"({', '.join(c.observes) or 'none'})", True))

    def carried(self, name: str, c: Channel, part: str, keys: tuple[str, str], actor: str, carrier: str,
                carries: str) -> None:
        """An audio or classroom part: its carrier behaviour (a trip, a school day) and the act
        it carries (talk, watched conduct) are defined behaviours of people, observed, not the
        same; the carrier is recorded only as a false positive."""
        s, out, behaviours = self.s, self.out, self.behaviour_names
        where = ("channels", name, part)
        spec = getattr(c, part)
        for key in keys:
            b = getattr(spec, key)
            self.ref(where + (key,), b, behaviours, "behaviour")
            if b not in behaviours or not all(x in behaviours for x in c.observes):
                continue
            if b not in c.observes:
                out.append((where + (key,), f"the channel must observe {b!r} (add it to 'observes')", False))
            elif s.behaviours[b].actor != "person":
                out.append((where + (key,), f"{actor}: the behaviour must have actor 'person'", False))
        first, second = (getattr(spec, k) for k in keys)
        how = c.by_behaviour.get(first)
        if how is not None and how.detection is not None:
            out.append((("channels", name, "by_behaviour", first, "detection"), f"{carrier} is "
                        f"{'heard' if part == 'audio' else 'recorded'} only as a false positive: set "
                        f"{part}.false_positive, not a detection", False))
        if first == second:
            out.append((where + (keys[1],), f"{keys[0]} and {keys[1]} must be different behaviours ({carries})",
                        False))

    def audio(self, name: str, c: Channel) -> None:
        """An audio channel's trips and talk (``carried``)."""
        if c.identification is not None:
            self.out.append((("channels", name, "audio"), "a channel either listens in cars (audio) or searches "
                             "faces (identification), not both: make two channels", False))
        self.carried(name, c, "audio", ("trips", "talk"), "people drive and talk in cars", "a trip",
                     "the talk is what some trips carry")

    def classroom(self, name: str, c: Channel) -> None:
        """A classroom channel's school days and watched conduct (``carried``); parents need
        households and children."""
        s, out = self.s, self.out
        where = ("channels", name, "classroom")
        if c.identification is not None or c.audio is not None:
            out.append((where, "a classroom channel neither listens in cars (audio) nor searches faces "
                        "(identification): make two channels", False))
        self.carried(name, c, "classroom", ("school_days", "watched"), "pupils are people", "a school day",
                     "the conduct is what some school days carry")
        if c.classroom.counts_against == "parents":
            if not any(p > 0 for p in s.population.household_sizes[1:]):
                out.append((where + ("counts_against",), "counts_against: parents needs households of two or more "
                            "people (population.household_sizes gives every household one member)", False))
            elif s.scoring.min_age <= 0:
                out.append((where + ("counts_against",), "counts_against: parents reaches pupils, people under the "
                            "scoring age, and scoring.min_age is 0: nobody is a pupil", False))
        elif c.classroom.counts_against == "pupil_later":
            if not s.scoring.coming_of_age:
                out.append((where + ("counts_against",), "counts_against: pupil_later needs scoring.coming_of_age: "
                            "true (without it no pupil is ever scored during the run)", False))
            elif s.scoring.min_age <= 0:
                out.append((where + ("counts_against",), "counts_against: pupil_later reaches pupils, people under "
                            "the scoring age, and scoring.min_age is 0: nobody is a pupil", False))

    def scoring(self) -> None:
        s, out, ref, behaviours = self.s, self.out, self.ref, self.behaviour_names
        if s.scoring.scheme == "index" and s.scoring.rules:
            out.append((("scoring", "rules"), "point rules need scheme 'points'; an index scheme uses 'dimensions'", False))
        for i, rule in enumerate(s.scoring.rules):
            ref(("scoring", "rules", i, "behaviour"), rule.behaviour, behaviours, "behaviour")
            ref(("scoring", "rules", i, "set_grade"), rule.set_grade, self.grades, "grade")
        for dname, dim in s.scoring.dimensions.items():
            for b in dim.records:
                ref(("scoring", "dimensions", dname, "records", b), b, behaviours, "behaviour", True)
        if s.scoring.start is not None:
            for g in s.scoring.start.by_group:
                ref(("scoring", "start", "by_group", g), g, self.groups, "group", True)
        if s.scoring.social is not None:
            for i, layer in enumerate(s.scoring.social.layers):
                ref(("scoring", "social", "layers", i), layer, set(LAYERS), "contact layer")
                spec = getattr(s.contacts, layer, None)
                if s.scoring.social.weight > 0 and getattr(spec, "storage", "stored") == "drawn":
                    out.append((("scoring", "social", "layers", i), f"the social term needs whose contacts a person "
                                f"is, which a drawn layer does not know: set contacts.{layer}.storage to stored", False))

    def association(self) -> None:
        s, out, ref, grades = self.s, self.out, self.ref, self.grades
        asc = s.scoring.association
        if asc is None:
            return
        at = ("scoring", "association")
        for layer in asc.layers:
            ref((*at, "layers", layer), layer, set(LAYERS), "contact layer", True)
            if getattr(getattr(s.contacts, layer, None), "storage", "stored") == "drawn":
                out.append(((*at, "layers", layer), f"the association term needs whose contacts a person is, "
                            f"which a drawn layer does not know: set contacts.{layer}.storage to stored", True))
        for i, l in enumerate(asc.lists):
            ref((*at, "lists", i), l, set(s.lists), "list")
            if l in s.lists and s.lists[l].actor != "person":
                out.append(((*at, "lists", i), f"list {l!r} holds firms; the association term reads lists of people", False))
            elif l in s.lists and s.lists[l].kind == "red":
                out.append(((*at, "lists", i), f"{l!r} is a red list; the association term counts blacklists against "
                            f"contacts", False))
        for i, g in enumerate(asc.grades):
            ref((*at, "grades", i), g, grades, "grade")
        if asc.rewards is not None:
            for i, g in enumerate(asc.rewards.grades):
                ref((*at, "rewards", "grades", i), g, grades, "grade")

    def lists(self) -> None:
        s, out, ref = self.s, self.out, self.ref
        for name, lst in s.lists.items():
            for i, b in enumerate(lst.entry.behaviours):
                ref(("lists", name, "entry", "behaviours", i), b, self.behaviour_names, "behaviour")
            for i, g in enumerate(lst.entry.grades):
                ref(("lists", name, "entry", "grades", i), g, self.grades, "grade")
            ref(("lists", name, "entry", "from_list"), lst.entry.from_list, self.list_names, "list")
            if lst.kind == "red" and lst.entry.from_list is not None and s.lists.get(lst.entry.from_list) is not None \
                    and s.lists[lst.entry.from_list].kind != "red":
                out.append((("lists", name, "entry", "from_list"), "a red list is not entered from a blacklist", False))
            if lst.joint_punishment and lst.actor != "firm":
                out.append((("lists", name, "joint_punishment"), "joint punishment needs a firm list (actor: firm)", False))

    def consequences(self) -> None:
        s, out, ref, grades = self.s, self.out, self.ref, self.grades
        for name, c in s.consequences.items():
            if c.outcome is not None:
                if c.kind != "score":
                    out.append((("consequences", name, "outcome"), "an outcome needs kind 'score'", False))
                for g in c.outcome.success_probability:
                    ref(("consequences", name, "outcome", "success_probability", g), g, grades, "grade", True)
            for i, g in enumerate(c.grades):
                ref(("consequences", name, "grades", i), g, grades, "grade")
            for i, lname in enumerate(c.lists):
                ref(("consequences", name, "lists", i), lname, self.list_names, "list")
            if not c.grades and not c.lists and not c.rates:
                out.append((("consequences", name), "needs 'grades' or 'lists' to say whom it applies to", False))
            self.rewards(name, c)
            self.links(name, c)
            if c.kind == "refusal":
                if c.service is None:
                    out.append((("consequences", name, "service"), "a refusal needs the service refused", False))
                if c.attempts is None:
                    out.append((("consequences", name, "attempts"), "a refusal needs an attempt rate, e.g. '2 per year'",
                                False))

    def rewards(self, name: str, c: Consequence) -> None:
        """Red lists give rewards only; promotion's rates by grade and employer."""
        s, out, ref = self.s, self.out, self.ref
        for i, lname in enumerate(c.lists):
            if lname in s.lists and s.lists[lname].kind == "red" and is_sanction(c):
                out.append((("consequences", name, "lists", i), f"{lname!r} is a red list: its consequences are "
                            f"rewards (discount, bonus, priority, promotion, a gain of income or points)", False))
        if c.kind != "promotion":
            if c.rates:
                out.append((("consequences", name, "rates"), "rates by grade need kind 'promotion'", False))
            if c.employer != "any":
                out.append((("consequences", name, "employer"), "an employer needs kind 'promotion'", False))
            return
        for g in c.rates:
            ref(("consequences", name, "rates", g), g, self.grades, "grade", True)
        if not c.rates:
            out.append((("consequences", name, "rates"), "a promotion needs rates by grade, e.g. {AAA: 0.1}", False))
        if c.income_change <= 0:
            out.append((("consequences", name, "income_change"), "a promotion needs a gain of income, e.g. 0.1", False))
        if c.actor != "person":
            out.append((("consequences", name, "actor"), "a promotion is of people", False))

    def links(self, name: str, c: Consequence) -> None:
        """A consequence through parents or employer applies to a person judged by someone else:
        the lists it reads hold that someone (people for parents, firms for employer)."""
        s, out, at = self.s, self.out, ("consequences", name, "through")
        if c.through == "self":
            return
        if c.actor != "person":
            out.append((at, f"through: {c.through} judges a person by their {c.through}: the consequence needs "
                        f"actor 'person'", False))
        if c.kind == "promotion":
            out.append((at, "a promotion is judged on the employee's own grade (through: self)", False))
        holds = "firm" if c.through == "employer" else "person"
        for i, lname in enumerate(c.lists):
            if lname in s.lists and s.lists[lname].actor != holds:
                what = "firms" if holds == "person" else "people"
                out.append((("consequences", name, "lists", i), f"list {lname!r} holds {what}; through: {c.through} "
                            f"reads lists of {'people' if holds == 'person' else 'firms'}", False))
        if c.through == "parents":
            if not any(p > 0 for p in s.population.household_sizes[1:]):
                out.append((at, "through: parents needs households of two or more people (population.household_sizes "
                            "gives every household one member: nobody lives with a parent)", False))
            elif s.scoring.min_age <= 0:
                out.append((at, "through: parents judges children, people under the scoring age, and scoring.min_age "
                            "is 0: nobody is a child", False))

    def flags(self) -> None:
        ref = self.ref
        for name, f in self.s.flags.items():
            for i, b in enumerate(f.rule.behaviours):
                ref(("flags", name, "rule", "behaviours", i), b, self.behaviour_names, "behaviour")
            for i, lname in enumerate(f.rule.lists):
                ref(("flags", name, "rule", "lists", i), lname, self.list_names, "list")
            ref(("flags", name, "add_to_list"), f.add_to_list, self.list_names, "list")

    def the_rest(self) -> None:
        """Responses, rollout and safeguards."""
        s, ref = self.s, self.ref
        for g in s.responses.risk_sensitivity:
            ref(("responses", "risk_sensitivity", g), g, self.groups, "group", True)
        for i, rj in enumerate(s.rollout.regions):
            ref(("rollout", "regions", i, "region"), rj.region, self.regions, "region")
        for i, ch in enumerate(s.safeguards.disabled_channels):
            ref(("safeguards", "disabled_channels", i), ch, self.channel_names, "channel")


def _categories(s: Scenario, actor: str, attr: str) -> list[str] | None:
    """Allowed values of a categorical attribute (None for numeric and boolean ones)."""
    p = s.population
    if attr == "sex":
        return ["female", "male"]
    if attr == "province":
        return sorted({r.province for r in p.regions})
    if attr == "city":
        return sorted({r.city for r in p.regions})
    if attr == "group":
        return list(p.groups)
    if attr == "occupation":
        return ["child", "student", "retired"] + [o.name for o in p.occupations]
    if attr == "sector":
        return list(p.firms.sectors)
    return None


def _check_attribute_value(s: Scenario, actor: str, attr: str, value: object, path: Path) -> list[tuple[Path, str, bool]]:
    """A modifier's value must be a known category, a boolean, a number or a range [lo, hi]."""
    cats = _categories(s, actor, attr)
    values = value if isinstance(value, list) else [value]
    if cats is not None:
        return [(path, _undefined(f"{attr} value", str(v), cats), False) for v in values if str(v) not in cats]
    if attr in BOOLEAN_ATTRIBUTES:
        if not all(isinstance(v, bool) for v in values):
            return [(path, f"must be true or false, got {value!r}", False)]
        return []
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    if not numeric or (isinstance(value, list) and len(value) != 2):
        return [(path, f"must be a number or a range [lo, hi], got {value!r}", False)]
    if isinstance(value, list) and value[0] > value[1]:
        return [(path, f"range must be [lo, hi] with lo <= hi, got {value!r}", False)]
    return []


def _check_bands(s: Scenario) -> list[tuple[Path, str, bool]]:
    """Grades are listed highest first and tile the score line: no gap, no overlap."""
    out: list[tuple[Path, str, bool]] = []
    gs = s.grades
    if not gs:
        return [(("grades",), "needs at least one grade", False)]
    seen: dict[str, int] = {}
    for i, g in enumerate(gs):
        if g.name in seen:
            out.append((("grades", i, "name"), f"grade {g.name!r} is defined twice (first at grades.{seen[g.name]})", False))
        seen.setdefault(g.name, i)
        if g.from_ is not None and g.below is not None and g.from_ >= g.below:
            out.append((("grades", i, "below"), f"must be above 'from' ({g.from_:g}), got {g.below:g}", False))
    if gs[0].below is not None:
        out.append((("grades", 0, "below"), "the highest grade must be open above (no 'below')", False))
    if gs[-1].from_ is not None:
        out.append((("grades", len(gs) - 1, "from"), "the lowest grade must be open below (no 'from')", False))
    for i in range(len(gs) - 1):
        upper, lower = gs[i], gs[i + 1]
        if upper.from_ is None:
            out.append((("grades", i, "from"), "only the lowest grade may be open below", False))
            continue
        if lower.below is None:
            out.append((("grades", i + 1, "below"), "only the highest grade may be open above", False))
            continue
        if lower.below < upper.from_:
            out.append((("grades", i + 1, "below"), f"leaves a gap: {lower.below:g} .. {upper.from_:g} belongs to no grade", False))
        elif lower.below > upper.from_:
            out.append((("grades", i + 1, "below"), f"overlaps grade {upper.name!r} which starts at {upper.from_:g}", False))
    return out


def is_sanction(c: Consequence) -> bool:
    """Whether a consequence harms whom it applies to (engine.plan.consequences reads the same)."""
    return harms(c.kind, c.income_change, c.points)


def observes_firms(data: dict[str, Any]) -> bool:
    """Whether a scenario (plain data, as ``model_dump``) has a channel observing a firm's
    behaviour: whether its runs make records about firms."""
    behaviours = data.get("behaviours") or {}
    firm = {b for b, v in behaviours.items() if isinstance(v, dict) and v.get("actor") == "firm"}
    return any(isinstance(c, dict) and firm & set(c.get("observes") or ()) for c in (data.get("channels") or {}).values())


def harms(kind: str, income_change: float, points: float) -> bool:
    """Whether a consequence of ``kind`` with this income change and points is a sanction."""
    return kind in ("refusal", "fine", "dismissal") or (kind == "income" and income_change < 0) \
        or (kind == "score" and points < 0)


def _undefined(what: str, value: str, known: set[str] | list[str]) -> str:
    from difflib import get_close_matches

    msg = f"undefined {what} {value!r}"
    close = get_close_matches(value, sorted(known), n=1, cutoff=0.6)
    if close:
        msg += f"; did you mean {close[0]!r}?"
    elif known and len(known) <= 12:
        msg += f"; defined: {', '.join(k if k.isprintable() else repr(k) for k in sorted(known))}"  # (one line)
    elif not known:
        msg += f"; no {what}s are defined"
    return msg
