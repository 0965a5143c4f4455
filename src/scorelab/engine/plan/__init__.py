"""From a validated Scenario and its population to flat numeric tables for the kernels.

Everything named in the scenario (behaviours, channels, grades, lists,
consequences, flags, domains) becomes an integer index here, and every rate
becomes a per-step quantity here (via ``units.step_probability`` or rate x dt),
so the kernels never see names or units.

Entities: people are ids ``0..N-1``, firms ``N..N+F-1``. Event *types* are the
behaviours followed by the consequences (whose events are service attempts or
periodic applications).

One planner per concept fills that concept's fields of ``Params`` (``compile_plan`` lists
them in order); each reads the scenario through a ``Context`` (names and their indices, days
and dates as steps) made once:

==================  =================================================================
module              what it plans
==================  =================================================================
``params``          ``Params``, ``Plan`` and the codes and limits the tables use
``context``         ``Context``; sizes and time (``plan_run``)
``entities``        entities, regions, rollout
``behaviours``      event types (static classes, dynamic modifiers), behaviours
``classes``         static class codes (conditions, masks, rate factors, packing)
``channels``        region signatures, observers, channels, 1:N identification, in-car audio, classrooms
``misattribution``  where misattributed records land (contact graphs, drawn layers)
``scoring``         points or index, the social and association terms, views
``lists``           lists
``consequences``    consequences (and which lists are kept per region)
``flags``           flags
``responses``       responses and the safeguards' appeals
``streams``         the keys of the random streams
``part``            a plan of some regions' entities alone, and what parts agree on
``rows``            the tables of a plan's own entities, filled a range of them at a time
``helpers``         errors, read-only arrays, stream keys, unions of contact layers
==================  =================================================================
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from scorelab.engine.plan.behaviours import _conditions, class_facts, plan_behaviours, plan_event_types
from scorelab.engine.plan.channels import (
    plan_audio, plan_channel_regions, plan_channels, plan_classroom, plan_identification, plan_observers,
)
from scorelab.engine.plan.classes import class_codes, pack_classes
from scorelab.engine.plan.consequences import plan_consequences
from scorelab.engine.plan.context import Context, plan_run
from scorelab.engine.plan.entities import plan_coming_of_age, plan_entities, plan_rollout
from scorelab.engine.plan.flags import plan_flags
from scorelab.engine.plan.helpers import read_only
from scorelab.engine.plan.lists import plan_lists
from scorelab.engine.plan.misattribution import plan_misattribution
from scorelab.engine.plan.part import PlanFacts, PlanPart
from scorelab.engine.plan.params import (
    ASSOCIATION_UNIT, CONSEQUENCE_CODES, DYNAMIC_CODES, KIND_CODES, MAX_BEHAVIOURS, MAX_CHANNELS, MAX_LISTS,
    MIS_ANYONE, MIS_HOUSEHOLD, MIS_SLOTS, NO_GRADE, Params, Plan,
)
from scorelab.engine.plan.responses import plan_appeals, plan_responses
from scorelab.engine.plan.rows import most_in_household
from scorelab.engine.plan.scoring import plan_association, plan_scoring, plan_social, plan_views
from scorelab.engine.plan.streams import plan_streams
from scorelab.scenario.model import Scenario
from scorelab.synth.contacts import Contacts
from scorelab.synth.population import Population

__all__ = [
    "ASSOCIATION_UNIT", "CONSEQUENCE_CODES", "DYNAMIC_CODES", "KIND_CODES", "MAX_BEHAVIOURS", "MAX_CHANNELS",
    "MAX_LISTS", "MIS_ANYONE", "MIS_HOUSEHOLD", "MIS_SLOTS", "NO_GRADE", "Context", "Params", "Plan", "PlanFacts",
    "PlanPart", "class_codes", "compile_plan", "divides", "pack_classes", "plan_facts",
]


def compile_plan(s: Scenario, pop: Population, contacts: Contacts, part: PlanPart | None = None) -> Plan:
    """Turn names and units into index tables and per-step quantities, one concept at a time;
    with ``part``, for its regions' entities alone (``plan.part``: their facts of everyone
    agreed, ``plan_facts``).

    Raises ScenarioError if the scenario's cross-references do not hold (a Scenario built
    directly in Python has not been through ``check_references`` yet).
    """
    cx = Context.of(s, pop, contacts, part)
    fields: dict[str, Any] = {}

    def add(part: dict[str, Any]) -> None:
        assert not fields.keys() & part.keys(), f"filled twice: {sorted(fields.keys() & part.keys())}"
        fields.update(part)

    add(plan_run(cx))
    add(plan_entities(cx))
    add(plan_rollout(cx))
    add(plan_coming_of_age(cx))
    add(plan_channel_regions(cx))
    add(plan_event_types(cx))
    add(plan_behaviours(cx))
    add(plan_observers(cx, fields["sig_ok"]))
    add(plan_channels(cx))
    add(plan_identification(cx))
    add(plan_audio(cx))
    add(plan_classroom(cx))
    add(plan_misattribution(cx))
    add(plan_social(cx))
    add(plan_association(cx))
    add(plan_scoring(cx))
    add(plan_views(cx))
    add(plan_lists(cx))
    add(plan_consequences(cx, fields["k_view"]))
    add(plan_flags(cx))
    add(plan_responses(cx))
    add(plan_appeals(cx))
    add(plan_streams(cx))
    params = Params(**{name: read_only(value) for name, value in fields.items()})  # (the kernels only read it)
    return Plan(
        params=params, behaviour_names=cx.beh, channel_names=cx.chans, grade_names=cx.grades, list_names=cx.lists,
        consequence_names=cx.cons, flag_names=cx.flags, consequence_sanction=[bool(x) for x in params.k_sanction],
        identifying_names=[c for c in cx.chans if s.channels[c].identification is not None],
        audio_names=[c for c in cx.chans if s.channels[c].audio is not None],
        classroom_names=[c for c in cx.chans if s.channels[c].classroom is not None],
        lending_groups=list(pop.group_names) if params.ln_on else [],
        joint_list_names=[x for x, row in zip(cx.lists, params.l_joint_row) if row >= 0],
    )


def divides(s: Scenario) -> bool:
    """Whether the scenario's plan can be compiled for some regions alone (``plan.part``): not
    with an index scheme's income term, nor with a behaviour of more than 8 static conditions."""
    if s.scoring.scheme != "points" and any(d.income != 0 for d in s.scoring.dimensions.values()):
        return False
    return all(len(_conditions(b)[0]) <= 8 for b in s.behaviours.values())


def plan_facts(s: Scenario, pop: Population, contacts: Contacts, part: PlanPart) -> PlanFacts:
    """What the plan of ``part`` reads of its own entities that every part must agree on
    (``PlanFacts.combine`` puts the parts' together)."""
    cx = Context.of(s, pop, contacts, replace(part, facts=None))
    return PlanFacts(class_facts(cx), most_in_household(cx))
