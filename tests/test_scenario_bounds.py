"""Bounds on every number of a scenario (issue 21, item 3): what ``scorelab validate`` accepts,
``scorelab run`` runs or refuses before any work in one line. Non-finite numbers are refused in
every field; each number has bounds the engine honours, stated in the schema and the generated
field reference (docs/scenario-reference.md, "Bounds").
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

import scorelab
from scorelab.errors import ScenarioError

ROOT = Path(__file__).resolve().parent.parent
BASE = {"behaviours": {"x": {"rate": "2 per year"}}, "channels": {"c": {"observes": ["x"]}},
        "lists": {"l": {"entry": {"behaviours": ["x"]}}}}


def problems(source, overrides=None, **kw) -> list:
    with pytest.raises(ScenarioError) as e:
        scorelab.load(source, overrides, **kw)
    return e.value.problems


@pytest.mark.parametrize("sets, field", [
    ({"behaviours.x.rate": "1e400 per year"}, "behaviours.x.rate"),
    ({"behaviours.x.rate": {"value": 1e400, "per": "year"}}, "behaviours.x.rate"),
    ({"responses.awareness.growth": "1e400 per year"}, "responses.awareness.growth"),
    ({"channels.c.delay": "1e400 days"}, "channels.c.delay"),
    ({"channels.c.delay": math.inf}, "channels.c.delay"),
    ({"scoring.base": math.inf}, "scoring.base"),
    ({"scoring.base": 10**400}, "scoring.base"),
    ({"channels.c.coverage": math.nan}, "channels.c.coverage"),
    ({"behaviours.x.modifiers": [{"when": {"age": [0, math.inf]}, "factor": 2}]}, "behaviours.x.modifiers.0.when.age"),
    ({"behaviours.x.modifiers": [{"when": {"income": [0, 10**400]}, "factor": 2}]}, "behaviours.x.modifiers.0.when.income"),
    ({"scoring.association": {"lists": ["l"], "points": math.nan, "layers": {"household": 1}}}, "scoring.association.points"),
    ({"scoring.association": {"lists": ["l"], "points": -1, "layers": {"household": math.inf}}},
     "scoring.association.layers.household"),
])
def test_non_finite_numbers_are_refused_everywhere(sets, field):
    """NaN, infinities and numbers that overflow a float (``1e400``, a 400-digit integer) are
    refused in every field, units and ranges of modifiers included."""
    (p,) = problems(BASE, sets)
    assert p.path == field, str(p)


@pytest.mark.parametrize("sets, field, message", [
    ({"run.step": 1e-320}, "run.step", "at least 0.001 days"),
    ({"run.step": "400 days"}, "run.step", "at most 365.25 days"),
    ({"run.counterfactual": False}, "run.counterfactual", "the counterfactual twin always runs"),
    ({"run.days": int("9" * 400)}, "run.days", "at most 2147483647"),
    ({"run.seed": 2**63}, "run.seed", "at most 9223372036854775807"),
    ({"run.start": "9999-06-01", "run.days": 365}, "run", "calendar"),
    ({"run.start": "0001-03-01", "run.burn_in": "100 days"}, "run", "calendar"),
    ({"behaviours.x.rate": "1001 per day"}, "behaviours.x.rate", "at most 1000 per day"),
    ({"behaviours.x.modifiers": [{"when": {"age": [0, 5]}, "factor": 1e6}]}, "behaviours.x", "at most 1000 times a day"),
    ({"behaviours.x.min_age": 151}, "behaviours.x.min_age", "at most 150"),
    ({"behaviours.x.income_effect": 2}, "behaviours.x.income_effect", "at most 1"),
    ({"channels.c.retention": "1000001 days"}, "channels.c.retention", "at most 1e+06 days"),
    ({"consequences.k": {"kind": "fine", "lists": ["l"], "every": 0}}, "consequences.k.every", "at least 0.001 days"),
    ({"scoring.base": 1.5e12}, "scoring.base", "at most 1e+12"),
    ({"population.firms.mean_size": 1e-300}, "population.firms.mean_size", "at least 1"),
    ({"population.schools.size_sigma": 30}, "population.schools.size_sigma", "at most 2.5"),
    ({"contacts.friends.degree.mean": 1e9}, "contacts.friends.degree.mean", "at most 10000"),
    ({"population.represents": 10**13}, "population.represents", "at most 1000000000000"),
])
def test_numbers_past_their_bounds_are_refused(sets, field, message):
    """Each number has bounds the engine honours (docs/scenario-reference.md, "Bounds"): past them
    a value is one located problem at validation, not a crash or a wrong result in the run."""
    (p,) = problems(BASE, sets)
    assert (p.path, message in p.message) == (field, True), str(p)


def test_every_number_in_the_reference_states_its_bounds():
    """The generated field reference names the bounds of every numeric field."""
    spec = importlib.util.spec_from_file_location("gen_scenario_docs", ROOT / "tools" / "gen_scenario_docs.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    for path, kind, *_ in gen.rows(scorelab.Scenario, ""):
        if any(w in kind for w in ("number", "integer", "rate", "duration", "age")):
            assert any(b in kind for b in ("in [", "in (", "at most")), (path, kind)


def test_scale_must_be_finite():
    """``--scale inf`` raised OverflowError; a scale past any population is refused as such."""
    (p,) = problems("rongcheng-2018", scale=math.inf)
    assert "scale must be > 0 and finite" in p.message
    (p,) = problems("rongcheng-2018", scale=1e300)
    assert p.path == "population.people" and "at most" in p.message


