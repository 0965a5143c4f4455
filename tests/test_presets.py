"""Built-in scenarios: each validates, is listed with its description, round-trips through
``scorelab show``, and its small fixed run reproduces tests/golden/<preset>.json
(regenerate with tools/refresh_golden.py after a deliberate change)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import scorelab
from scorelab.cli import app
from scorelab.scenario.loader import preset_names

GOLDEN = Path(__file__).resolve().parent / "golden"
PRESETS = preset_names()
EXPECTED = {"rongcheng-2018", "national-2027", "national-2027-ihs", "corporate", "safeguarded", "zhima-index"}
runner = CliRunner()


def test_expected_presets_exist():
    assert EXPECTED <= set(PRESETS)


def test_every_preset_has_a_golden_file():
    assert sorted(p.stem for p in GOLDEN.glob("*.json")) == PRESETS


@pytest.mark.parametrize("name", PRESETS)
def test_validates(name):
    r = runner.invoke(app, ["validate", name])
    assert r.exit_code == 0, r.output
    s = scorelab.load(name)
    assert s.name == name
    assert s.description.strip(), "a preset needs a description"


def test_listed_with_first_description_line():
    r = runner.invoke(app, ["presets"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    for name in PRESETS:
        first = scorelab.load(name).description.strip().splitlines()[0]
        assert any(line.split(None, 1)[0] == name and first in line for line in lines), name


@pytest.mark.parametrize("name", PRESETS)
def test_show_round_trips(name):
    r = runner.invoke(app, ["show", name])
    assert r.exit_code == 0, r.output
    assert scorelab.load(yaml.safe_load(r.output)) == scorelab.load(name)


def test_rongcheng_has_the_articles_organisations():
    s = scorelab.load("rongcheng-2018")
    assert s.population.people == 670_000
    assert len(s.channels) == 142                                    # organisations
    assert sum(len(c.observes) for c in s.channels.values()) == 160  # parameters
    domains = {s.behaviours[b].domain for c in s.channels.values() for b in c.observes}
    assert {"finances", "work_and_study", "public_places", "residence_and_family", "medical_services",
            "social_circle_and_habits", "search_queries", "posts_and_comments", "media_subscriptions",
            "phone_contacts", "browsing_history", "firewall_circumvention", "bank_card_transactions"} <= domains
    # a behaviour that carries points is observed by exactly one channel in each region
    scored = {r.behaviour for r in s.scoring.rules}
    for b in scored:
        observers = [c for c in s.channels.values() if b in c.observes]
        regions = [tuple(c.regions or ["*"]) for c in observers]
        assert len(regions) == len(set(regions)) and (len(observers) == 1 or "*" not in sum(regions, ())), b


def _close(a, b) -> bool:
    if isinstance(a, str) or isinstance(b, str) or a is None or b is None:
        return a == b
    if float(a).is_integer() and float(b).is_integer():
        return a == b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize("name", PRESETS)
def test_small_run_matches_golden(name):
    golden = json.loads((GOLDEN / f"{name}.json").read_text())
    summary = scorelab.run(name, golden["overrides"]).summary()
    assert list(summary) == list(golden["summary"])
    bad = {k: (summary[k], v) for k, v in golden["summary"].items() if not _close(summary[k], v)}
    assert not bad, f"{name}: summary differs from tests/golden/{name}.json (got, golden): {bad}"
