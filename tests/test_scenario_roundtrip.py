"""Every resolved scenario a run writes loads again, exactly (issue 21, item 1): as a file
(``scorelab validate <run>/scenario.yaml``) and as the data a checkpoint holds (``scorelab run
--resume``). Rates and durations are written as text that reads back as the same float, and
texts that YAML would read as something else are quoted.

``test_resolved_scenario_loads_again_exactly`` is a Hypothesis property over mutated built-in
scenarios (numbers, rates and durations within their bounds, hostile texts, sections switched
on and off, entries added under hostile names): 100 examples of the smaller built-in
scenarios in CI (about 4 s), 10,000 of all of them with ``SCORELAB_FUZZ=nightly``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from scenario_strategies import NIGHTLY, SETTINGS, SMALL_PRESETS, fuzz_examples, mutated_scenario

import scorelab
from scorelab import units
from scorelab.errors import ScenarioError
from scorelab.scenario.yamlread import dump_yaml

#: ``yaml.safe_load``'s loader, with libyaml where PyYAML has it (the same reading, faster).
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
RUN: Counter[str] = Counter()


def written_and_read(s: scorelab.Scenario, tmp_path: Path) -> tuple[scorelab.Scenario, scorelab.Scenario]:
    """``s`` written as a run writes its ``scenario.yaml``, loaded back as a file and as the plain
    data ``yaml.safe_load`` reads from it (as a checkpoint and a results folder read it)."""
    text = dump_yaml(s.model_dump(mode="json", by_alias=True))
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return scorelab.load(str(path)), scorelab.load(yaml.load(text, Loader=SAFE_LOADER))


@pytest.mark.parametrize("sets", [
    {"behaviours.x.rate": "1 per week"},
    {"behaviours.x.rate": "0.1 per month", "channels.c.delay": "1 week"},
    {"behaviours.x.rate": {"value": 1 / 3, "per": "day"}, "run.step": 1 / 3},
    {"responses.awareness.growth": "1000 per day"},
    {"name": "1e5", "description": "no"},
    {"channels.c.retention": "3.3 months", "safeguards.expiry": "0.1 years"},
])
def test_written_scenario_loads_again_exactly(tmp_path, sets):
    """Rates and durations were written with 10 significant digits ("52.17857143 per year" for
    1 per week), so a resumed run or ``validate <run>/scenario.yaml`` read a slightly different
    scenario; texts such as "1e5", read back as numbers by YAML 1.2, must be quoted."""
    base = {"behaviours": {"x": {"rate": "2 per year"}}, "channels": {"c": {"observes": ["x"]}}}
    s = scorelab.load(base, sets)
    assert written_and_read(s, tmp_path) == (s, s)


class Stop(Exception):
    pass


def test_stopped_run_resumes_and_its_scenario_validates(tmp_path):
    """A run with values that used to be written inexactly or misread (a rate of 1 per week, a
    description "1e5", a name "no") stopped after a checkpoint: ``scorelab run --resume``
    finishes it with the same scenario, and ``scorelab validate <run>/scenario.yaml`` says ok."""
    from typer.testing import CliRunner

    from scorelab.cli import app

    s = scorelab.load({
        "name": "no", "description": "1e5", "population": {"people": 60},
        "behaviours": {"x": {"rate": "1 per week"}}, "channels": {"c": {"observes": ["x"], "delay": "1 week"}},
        "responses": {"awareness": {"growth": "0.1 per month"}}, "run": {"days": 12},
    })

    def stop(done: int, total: int) -> None:
        if done == 8:
            raise Stop

    out = tmp_path / "run"
    with pytest.raises(Stop):
        scorelab.run(s, out=out, checkpoint_every=3, progress=stop)
    resumed = CliRunner().invoke(app, ["run", "--resume", str(out)])
    assert resumed.exit_code == 0, resumed.output
    assert scorelab.load(str(out / "scenario.yaml")) == s
    checked = CliRunner().invoke(app, ["validate", str(out / "scenario.yaml")])
    assert checked.exit_code == 0, checked.output


@settings(max_examples=fuzz_examples(100, 10_000), **SETTINGS)
@given(data=mutated_scenario(max_ops=3, within_bounds=True, presets=None if NIGHTLY else SMALL_PRESETS))
def test_resolved_scenario_loads_again_exactly(tmp_path_factory, data):
    """Every valid mutated built-in scenario, written the way a run writes it, loads again as
    the same scenario: as a file (``validate <run>/scenario.yaml``) and as the data a checkpoint
    holds (``run --resume``)."""
    try:
        s = scorelab.load(data)
    except ScenarioError:
        RUN["invalid"] += 1
        return
    RUN["valid"] += 1
    assert written_and_read(s, tmp_path_factory.mktemp("rt")) == (s, s)


def test_zz_round_trip_saw_valid_scenarios():
    """The property above is not vacuous: a good share of its mutated scenarios are valid (a third
    at least; each mutation may break one of the cross-section rules)."""
    if not RUN:
        pytest.skip("the round-trip property did not run in this session")
    assert RUN["valid"] >= 0.3 * (RUN["valid"] + RUN["invalid"]), dict(RUN)


@pytest.mark.parametrize("days", [1 / 3, 0.1, 1e-3, 123456.789, 1e6, 5e-324, 0.0])
def test_format_duration_reads_back_exactly(days):
    assert units.parse_duration(units.format_duration(days)) == days


@settings(max_examples=300, **SETTINGS)
@given(st.floats(min_value=0, max_value=units.MAX_RATE * 10))
def test_format_rate_reads_back_exactly(per_day):
    """A rate written back as text parses to exactly the same float (per year where exact, else
    the shortest exact form)."""
    assert units.parse_rate(units.format_rate(per_day)) == per_day


