"""The names the layers share: the headline figures of a run and a few constants.

The headline (``metrics.headline``) is what a run is summed up by: the command line prints it,
the report tables and compares it, a sweep averages it per setting, and its figures are the
columns of a sweep's ``runs.parquet``. Each figure's name is spelled here once; the modules
that build, show or choose figures import the names instead of writing the strings again.

The kernels do not import this module (their codes are in ``codes``), so rewording a figure
does not recompile them.
"""

from __future__ import annotations

from typing import Any

from scorelab.codes import NO_GRADE  # (re-exported: the code of an entity not scored)

__all__ = [
    "AUDIO_FIGURES", "CLASSROOM_FIGURES", "DEFAULT_FIGURES", "EVENT_COUNTS", "EXTENSIVE", "FIRM_FIGURES",
    "FIRM_DETERRENCE_FIGURES", "FIRM_LIST_FIGURES", "FIRM_RECORD_FIGURES", "FIRM_RED_LIST_FIGURES", "FIRM_REWARD_FIGURES", "HEADLINE_FIGURES", "IDENTIFICATION_FIGURES", "RED_LIST_FIGURES",
    "LINKED_FIGURES", "FINE_FIGURES", "METRIC_ID_COLUMNS", "WORST_HIT",
    "FEW_EVENTS", "NO_GRADE", "few_events", "figure_unit", "format_figure", "grade_share", "modelled", "not_defined", "per_thousand",
]

#: Columns of a run's per-step metrics frame (``metrics.parquet``) that identify a row; every
#: other column is a metric.
METRIC_ID_COLUMNS = ("run_id", "seed", "step", "day")

# --------------------------------------------------------------------------- headline figures

PEOPLE = "people"
DAYS = "days"
RECORDS_TRUE = "records, true"
RECORDS_ERRONEOUS = "records, erroneous"
SANCTIONS = "sanctions"
SANCTIONS_WRONGFUL = "sanctions, wrongful"
SANCTIONS_BY_ASSOCIATION = "sanctions, by association"
SANCTIONS_WRONGFUL_BEFORE_CORRECTION = "sanctions, wrongful, before a correction"
LISTINGS_OVERTURNED = "listings overturned"
WRONGFUL_LISTINGS_AT_END = "wrongful listings at end"
PEOPLE_DAYS_WRONGFULLY_LISTED = "people-days wrongfully listed"
DAYS_TO_LIFT_WRONGFUL_LISTING = "days to lift a wrongful listing, mean of those lifted"
FLAGS_WITHDRAWN = "flags withdrawn"
PEOPLE_SANCTIONED = "people sanctioned"
FLAGS_TRUE = "flags, true"
FLAGS_FALSE = "flags, false"
FLAGS_INVESTIGATED = "flags investigated"
LAWFUL_ACTS_SUPPRESSED = "lawful acts suppressed"
WRONGDOING_DETERRED = "wrongdoing deterred"
INCOME_LOST = "income lost vs twin"
# what is held about people at the end (the twin holds nothing): live records, people with any
RECORDS_HELD = "records held about people at end"
PEOPLE_WITH_DATA = "people with data held at end"
# runs with sanctions on firms only (the figures above are people's)
FIRM_SANCTIONS = "sanctions of firms"
FIRM_SANCTIONS_WRONGFUL = "sanctions of firms, wrongful"
FIRM_REWARDS = "rewards of firms"
# runs with a blacklist of firms only (the listings above are people's: their own lists, and the
# joint listings of firms' representatives)
FIRM_LISTINGS_OVERTURNED = "listings of firms overturned"
FIRM_WRONGFUL_LISTINGS_AT_END = "wrongful listings of firms at end"
FIRM_DAYS_WRONGFULLY_LISTED = "firm-days wrongfully listed"
# runs that record firms' behaviour only (the records above are about people)
FIRM_RECORDS_TRUE = "records about firms, true"
FIRM_RECORDS_ERRONEOUS = "records about firms, erroneous"
# runs with wrongdoing by firms only ("wrongdoing deterred" is people's)
FIRM_WRONGDOING_DETERRED = "wrongdoing of firms deterred"
# runs with face identification only
BYSTANDERS_STOPPED = "bystanders stopped"
ALERT_PRECISION = "alert precision"
ALERTS_PER_THOUSAND_FACES = "alerts per 1,000 faces scanned"
# runs with in-car audio only
AUDIO_RECORDS = "in-car audio records"
AUDIO_RECORDS_FALSE = "in-car audio records, false"
AUDIO_FALSE_SHARE = "in-car audio records, false share"
# runs with red lists only
REWARDS = "rewards"
REWARDS_WRONGFUL = "rewards, wrongful"
RED_LISTED_AT_END = "red-listed at end"
RED_LISTED_FIRMS_AT_END = "red-listed firms at end"
# runs with a consequence through parents or employer only (linked_harms)
CHILDREN_REFUSED_FOR_PARENTS = "children refused for parents' rating"
CHILDREN_SANCTIONED_FOR_PARENTS = "sanctions of children for parents' rating"
EMPLOYEES_LAID_OFF_FOR_EMPLOYER = "employees laid off for employer's rating"
WAGE_CUTS_FOR_EMPLOYER = "wage cuts for employer's rating"
SANCTIONS_FOR_EMPLOYER = "sanctions of employees for employer's rating"
PEOPLE_SANCTIONED_FOR_OTHERS = "people sanctioned for another's rating"
# runs with fines on people only
FINES_ON_PEOPLE = "fines paid by people"
FINES_ON_PEOPLE_COUNT = "fines on people"
# runs with classroom monitoring only (``classroom``): records about pupils (under the scoring
# age), of which erroneous; records against parents for a pupil's act; sanctions of parents with one
PUPIL_RECORDS = "pupil records"
PUPIL_RECORDS_ERRONEOUS = "pupil records, erroneous"
PARENT_RECORDS_FOR_PUPILS = "records against parents for a pupil's act"
PARENT_SANCTIONS_FOR_PUPILS = "sanctions of parents with a pupil's record"
# the text figures, last: the worst-hit group per harm (``impact.worst_hit``), by the harm's
# name in the impact table; a group is named only when its count reaches the minimum
WORST_HIT = {
    "sanctions": "worst-hit group (sanctions)",
    "wrongful_sanctions": "worst-hit group (wrongful sanctions)",
    "flags": "worst-hit group (flags)",
    "false_flags": "worst-hit group (false flags)",
    "income_lost": "worst-hit group (income lost)",
    "acts_suppressed": "worst-hit group (lawful acts suppressed)",
}


#: The numeric headline figures every run has, in the headline's order (then, for the runs that
#: have them, ``FIRM_RECORD_FIGURES``, ``FIRM_DETERRENCE_FIGURES``, ``FIRM_FIGURES``, ``FIRM_REWARD_FIGURES``, ``FIRM_LIST_FIGURES``,
#: ``IDENTIFICATION_FIGURES``, ``AUDIO_FIGURES``, ``RED_LIST_FIGURES``, ``FIRM_RED_LIST_FIGURES``,
#: ``LINKED_FIGURES``, ``FINE_FIGURES`` and ``CLASSROOM_FIGURES``, then one ``grade_share`` per grade, then
#: the ``WORST_HIT`` texts).
HEADLINE_FIGURES = (
    PEOPLE, DAYS, RECORDS_TRUE, RECORDS_ERRONEOUS, SANCTIONS, SANCTIONS_WRONGFUL, SANCTIONS_BY_ASSOCIATION,
    SANCTIONS_WRONGFUL_BEFORE_CORRECTION, LISTINGS_OVERTURNED, WRONGFUL_LISTINGS_AT_END, PEOPLE_DAYS_WRONGFULLY_LISTED,
    DAYS_TO_LIFT_WRONGFUL_LISTING, FLAGS_WITHDRAWN, PEOPLE_SANCTIONED, FLAGS_TRUE, FLAGS_FALSE, FLAGS_INVESTIGATED,
    LAWFUL_ACTS_SUPPRESSED, WRONGDOING_DETERRED, INCOME_LOST, RECORDS_HELD, PEOPLE_WITH_DATA,
)
#: Figures of runs with sanctions on firms, after the numeric headline figures: the sanctions
#: of firms and those of them wrongful ("sanctions" and the per-person harms are people's).
FIRM_FIGURES = (FIRM_SANCTIONS, FIRM_SANCTIONS_WRONGFUL)
#: The figure of runs that reward firms, after the firm figures ("rewards" are people's).
FIRM_REWARD_FIGURES = (FIRM_REWARDS,)
#: Figures of runs with a blacklist of firms, after the firms' rewards: its listings of firms
#: lifted as overturned, those wrongful at the end, and the firm-days spent wrongfully listed
#: (the listings' figures before are people's, a representative's joint listing included).
FIRM_LIST_FIGURES = (FIRM_LISTINGS_OVERTURNED, FIRM_WRONGFUL_LISTINGS_AT_END, FIRM_DAYS_WRONGFULLY_LISTED)
#: Figures of runs whose channels observe firms' behaviour, before the firm figures: the records
#: about firms ("records, true" and "records, erroneous" are about people).
FIRM_RECORD_FIGURES = (FIRM_RECORDS_TRUE, FIRM_RECORDS_ERRONEOUS)
#: The figure of runs with wrongdoing by firms, after the records about firms: the firms' acts of
#: wrongdoing deterred ("wrongdoing deterred" and "lawful acts suppressed" are people's).
FIRM_DETERRENCE_FIGURES = (FIRM_WRONGDOING_DETERRED,)
IDENTIFICATION_FIGURES = (BYSTANDERS_STOPPED, ALERT_PRECISION, ALERTS_PER_THOUSAND_FACES)
#: Figures of runs with in-car audio, after the identification figures: records the microphones
#: made, those about someone who said nothing watched (false positives, passengers), their share.
AUDIO_FIGURES = (AUDIO_RECORDS, AUDIO_RECORDS_FALSE, AUDIO_FALSE_SHARE)
#: Figures of runs with red lists, after the identification (and audio) figures: every reward (by grade or
#: list), those that went to people graded or listed wrongly, red-listed people at the end.
RED_LIST_FIGURES = (REWARDS, REWARDS_WRONGFUL, RED_LISTED_AT_END)
#: The figure of runs with a red list of firms, after the red-list figures.
FIRM_RED_LIST_FIGURES = (RED_LISTED_FIRMS_AT_END,)
#: Figures of runs with a consequence through parents or employer (``linked_harms``), after
#: the red-list figures: sanctions that reach a child for a parent's grade or listing (refusals
#: among them: school admission...), and an employee for the employer's (dismissals, wage cuts:
#: income losses), and the people sanctioned at least once so.
LINKED_FIGURES = (CHILDREN_SANCTIONED_FOR_PARENTS, CHILDREN_REFUSED_FOR_PARENTS, SANCTIONS_FOR_EMPLOYER,
                  EMPLOYEES_LAID_OFF_FOR_EMPLOYER, WAGE_CUTS_FOR_EMPLOYER, PEOPLE_SANCTIONED_FOR_OTHERS)
#: Figures of runs with fines on people, after the linked figures: fines applied and the money paid.
FINE_FIGURES = (FINES_ON_PEOPLE_COUNT, FINES_ON_PEOPLE)
#: Figures of runs with classroom monitoring (``classroom``), after the fine figures: records
#: about pupils, of which erroneous (false positives), records made against parents for a
#: pupil's act, and sanctions of people after such a record was made against them.
CLASSROOM_FIGURES = (PUPIL_RECORDS, PUPIL_RECORDS_ERRONEOUS, PARENT_RECORDS_FOR_PUPILS, PARENT_SANCTIONS_FOR_PUPILS)


def grade_share(grade: str) -> str:
    """The headline figure of the share of scored people in a grade at the end."""
    return f"grade {grade} share"


def share_grade(name: str) -> str | None:
    """The grade whose share the headline figure ``name`` is (``grade_share``'s inverse), else None."""
    return name[len("grade "):-len(" share")] if name.startswith("grade ") and name.endswith(" share") else None


#: Headline figures that are counts of events over the run (they grow with the population):
#: read them per 1,000 people (``per_thousand``); a count below ``FEW_EVENTS``
#: is too small to be read per capita (its relative sampling error, 1 / sqrt(n), is above 22 %).
EVENT_COUNTS = (
    RECORDS_TRUE, RECORDS_ERRONEOUS, SANCTIONS, SANCTIONS_WRONGFUL, SANCTIONS_BY_ASSOCIATION,
    SANCTIONS_WRONGFUL_BEFORE_CORRECTION, LISTINGS_OVERTURNED, WRONGFUL_LISTINGS_AT_END, FLAGS_WITHDRAWN,
    PEOPLE_SANCTIONED, FLAGS_TRUE, FLAGS_FALSE, FLAGS_INVESTIGATED, LAWFUL_ACTS_SUPPRESSED,
    WRONGDOING_DETERRED, RECORDS_HELD, PEOPLE_WITH_DATA,
    *FIRM_RECORD_FIGURES, FIRM_WRONGDOING_DETERRED, *FIRM_FIGURES, *FIRM_REWARD_FIGURES, FIRM_LISTINGS_OVERTURNED, FIRM_WRONGFUL_LISTINGS_AT_END,
    BYSTANDERS_STOPPED, REWARDS, REWARDS_WRONGFUL, RED_LISTED_AT_END, RED_LISTED_FIRMS_AT_END, *LINKED_FIGURES,
    FINES_ON_PEOPLE_COUNT,
    AUDIO_RECORDS, AUDIO_RECORDS_FALSE, *CLASSROOM_FIGURES,
)
#: Headline totals that are not counts of events but also grow with the population.
EXTENSIVE = EVENT_COUNTS + (PEOPLE_DAYS_WRONGFULLY_LISTED, FIRM_DAYS_WRONGFULLY_LISTED, INCOME_LOST, FINES_ON_PEOPLE)

#: Below this many events a headline count is too few to be read per capita
#: (``EVENT_COUNTS``: its relative sampling error, 1 / sqrt(n), is above 22 %).
FEW_EVENTS = 20


def per_thousand(head: dict[str, float | str | None]) -> dict[str, float]:
    """The headline's extensive figures per 1,000 simulated people: what does not depend on
    ``--scale`` (docs/scale.md)."""
    people = float(head[PEOPLE])  # type: ignore[arg-type]
    return {k: 1000.0 * float(v) / people for k, v in head.items() if k in EXTENSIVE}  # type: ignore[arg-type]


def few_events(head: dict[str, float | str | None]) -> dict[str, int]:
    """Headline counts that rest on 1 to FEW_EVENTS - 1 events: their per-capita reading is
    uncertain by more than +-44 % (95 %); run more people or replicates."""
    return {k: int(v) for k, v in head.items() if k in EVENT_COUNTS and 0 < float(v) < FEW_EVENTS}  # type: ignore[arg-type]


#: Headline figures the command line and the sweep report show unless told otherwise.
DEFAULT_FIGURES = (SANCTIONS, SANCTIONS_WRONGFUL, RECORDS_ERRONEOUS, LAWFUL_ACTS_SUPPRESSED, INCOME_LOST)


#: The unit of each headline figure (incomes are in the population's currency, CNY in the
#: built-in scenarios); a grade share is of scored people at the end.
_UNITS = {
    PEOPLE: "people", DAYS: "days", RECORDS_TRUE: "records", RECORDS_ERRONEOUS: "records",
    SANCTIONS: "sanctions", SANCTIONS_WRONGFUL: "sanctions", SANCTIONS_BY_ASSOCIATION: "sanctions",
    FIRM_SANCTIONS: "sanctions", FIRM_SANCTIONS_WRONGFUL: "sanctions", FIRM_REWARDS: "rewards",
    FIRM_RECORDS_TRUE: "records", FIRM_RECORDS_ERRONEOUS: "records", FIRM_LISTINGS_OVERTURNED: "listings",
    FIRM_WRONGDOING_DETERRED: "acts",
    FIRM_WRONGFUL_LISTINGS_AT_END: "listings", FIRM_DAYS_WRONGFULLY_LISTED: "firm-days", RED_LISTED_FIRMS_AT_END: "firms",
    SANCTIONS_WRONGFUL_BEFORE_CORRECTION: "sanctions", LISTINGS_OVERTURNED: "listings",
    WRONGFUL_LISTINGS_AT_END: "listings", PEOPLE_DAYS_WRONGFULLY_LISTED: "person-days", DAYS_TO_LIFT_WRONGFUL_LISTING: "days",
    FLAGS_WITHDRAWN: "flags", PEOPLE_SANCTIONED: "people", FLAGS_TRUE: "flags", FLAGS_FALSE: "flags",
    FLAGS_INVESTIGATED: "flags", LAWFUL_ACTS_SUPPRESSED: "acts", WRONGDOING_DETERRED: "acts",
    INCOME_LOST: "CNY", RECORDS_HELD: "records", PEOPLE_WITH_DATA: "people", BYSTANDERS_STOPPED: "people", ALERT_PRECISION: "% of alerts",
    ALERTS_PER_THOUSAND_FACES: "alerts per 1,000 faces", REWARDS: "rewards", REWARDS_WRONGFUL: "rewards",
    RED_LISTED_AT_END: "people", CHILDREN_SANCTIONED_FOR_PARENTS: "sanctions",
    CHILDREN_REFUSED_FOR_PARENTS: "refusals", SANCTIONS_FOR_EMPLOYER: "sanctions",
    EMPLOYEES_LAID_OFF_FOR_EMPLOYER: "dismissals", WAGE_CUTS_FOR_EMPLOYER: "wage cuts",
    PEOPLE_SANCTIONED_FOR_OTHERS: "people", FINES_ON_PEOPLE_COUNT: "fines", FINES_ON_PEOPLE: "CNY",
    AUDIO_RECORDS: "records", AUDIO_RECORDS_FALSE: "records", AUDIO_FALSE_SHARE: "% of in-car audio records",
    PUPIL_RECORDS: "records", PUPIL_RECORDS_ERRONEOUS: "records", PARENT_RECORDS_FOR_PUPILS: "records",
    PARENT_SANCTIONS_FOR_PUPILS: "sanctions",
}


#: Why a headline figure that is a ratio has no value in a run (``metrics.headline`` gives it
#: as ``None``, the runs table of a sweep as null): its denominator is zero. Showing 0 instead
#: would say something false ("alert precision 0 %": every alert wrong; "0 days to lift": lifted
#: at once), so tables show this reason and means are taken over the runs where it is defined.
_UNDEFINED_BECAUSE = {
    DAYS_TO_LIFT_WRONGFUL_LISTING: "none lifted",
    ALERT_PRECISION: "no alerts",
    ALERTS_PER_THOUSAND_FACES: "no faces scanned",
    AUDIO_FALSE_SHARE: "no in-car audio records",
}


def not_defined(name: str) -> str:
    """What a table shows for a headline figure with no value in a run (its denominator is zero)."""
    if name in _UNDEFINED_BECAUSE:
        return _UNDEFINED_BECAUSE[name]
    if share_grade(name) is not None:
        return "no one scored"
    return "not defined"


def figure_unit(name: str) -> str:
    """The unit a headline figure is counted in ("" for a text figure or one not known here)."""
    if name in _UNITS:
        return _UNITS[name]
    if "share" in name:
        return "% of scored people"
    return ""


def format_figure(name: str, value: Any) -> str:
    """How tables show a headline figure: text as it is, shares and precisions as percentages,
    small fractional numbers with two decimals, the rest as whole numbers; a figure with no
    value (``None``, NaN) as the reason it has none (``not_defined``)."""
    if isinstance(value, str):
        return value
    if value is None or value != value:
        return not_defined(name)
    if "share" in name or "precision" in name:
        return f"{value:.1%}"
    if isinstance(value, float) and abs(value) < 100 and value != int(value):
        return f"{value:,.2f}"
    return f"{value:,.0f}"


#: The scenario section a headline figure needs: a run whose scenario has none of it does not
#: model what the figure counts (its zero is "not modelled", not "none").
_NEEDS = {
    FLAGS_TRUE: "flags", FLAGS_FALSE: "flags", FLAGS_INVESTIGATED: "flags", FLAGS_WITHDRAWN: "flags",
    LISTINGS_OVERTURNED: "lists", WRONGFUL_LISTINGS_AT_END: "lists", PEOPLE_DAYS_WRONGFULLY_LISTED: "lists",
    DAYS_TO_LIFT_WRONGFUL_LISTING: "lists", SANCTIONS: "consequences", SANCTIONS_WRONGFUL: "consequences",
    SANCTIONS_BY_ASSOCIATION: "consequences", SANCTIONS_WRONGFUL_BEFORE_CORRECTION: "consequences",
    PEOPLE_SANCTIONED: "consequences", WORST_HIT["sanctions"]: "consequences",
    WORST_HIT["wrongful_sanctions"]: "consequences", WORST_HIT["flags"]: "flags", WORST_HIT["false_flags"]: "flags",
}
#: The kind of people's behaviour a figure counts: a scenario with none of it does not model it.
_NEEDS_BEHAVIOUR = {LAWFUL_ACTS_SUPPRESSED: "disfavoured", WRONGDOING_DETERRED: "wrongdoing",
                    WORST_HIT["acts_suppressed"]: "disfavoured"}


def modelled(scenario: dict[str, Any], figure: str) -> bool:
    """Whether a scenario (plain data, as ``model_dump``) models what headline ``figure`` counts:
    a run without flags has no "flags, true" to lose, one that watches no lawful behaviour no
    "lawful acts suppressed" to fall; comparisons show "not modelled", not 0."""
    section = _NEEDS.get(figure)
    if section is not None:
        return bool(scenario.get(section))
    if figure in _NEEDS_BEHAVIOUR:
        return any(isinstance(b, dict) and b.get("actor", "person") == "person"
                   and b.get("kind", "wrongdoing") == _NEEDS_BEHAVIOUR[figure]
                   for b in (scenario.get("behaviours") or {}).values())
    return True
