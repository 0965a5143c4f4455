"""A burn-in (run.burn_in): the system and its twin run before day 0, and only what follows
is reported (docs/day-loop.md#burn-in)."""

from __future__ import annotations

import numpy as np
import pytest

import scorelab
from scorelab.engine.plan import compile_plan
from scorelab.engine.simulation import COUNTERS, simulate
from test_checkpoint import Stop, same_bytes, stop_at

# Rongcheng without the parts that depend on the time since day 0 (awareness growth), so that
# a run shifted by its burn-in sees the same calendar: dates are taken from step 0 in both
SMALL = {"population.people": 3000, "responses.awareness.growth": "0 per year", "run.burn_in": 0}


@pytest.fixture(scope="module")
def shifted():
    """A: two years of burn-in then one reported year from 2020; B: three years from 2018,
    reported whole; B2: B's first two years. Same calendar, same steps, same random numbers."""
    a = scorelab.load("rongcheng-2018", {**SMALL, "run.burn_in": 730, "run.days": 365, "run.start": "2020-01-01"})
    b = scorelab.load("rongcheng-2018", {**SMALL, "run.days": 1095, "run.start": "2018-01-01"})
    b2 = scorelab.load("rongcheng-2018", {**SMALL, "run.days": 730, "run.start": "2018-01-01"})
    pop, contacts = scorelab.build_population(a, layers="read")
    return simulate(a, pop, contacts), simulate(b, pop, contacts), simulate(b2, pop, contacts)


def test_a_burn_in_and_a_year_are_the_last_year_of_a_long_run(shifted):
    """Grade shares (and every other per-step metric) of the reported year are those of the
    last year of the long run, to the bit; the burn-in is not reported."""
    a, b, _ = shifted
    assert len(a.metrics["step"]) == 365 and a.metrics["step"][0] == 0
    for k in a.metrics:
        if k not in ("step", "day"):
            assert np.array_equal(a.metrics[k], b.metrics[k][730:], equal_nan=True), k  # (unscored: NaN)
    assert b.metrics["grades.B"][730:].sum() > 0 and b.metrics["consequences.flight_ban.applied"][730:].sum() > 0
    assert a.n_steps == 365 and a.burn_in_steps == 730


def test_the_people_report_only_what_follows_the_burn_in(shifted):
    """Outcome counters and money of the reported year are the long run's minus its first
    two years; income lost is the loss over the reported year alone; start grades are the
    grades the burn-in ended with; the burn-in's records keep their (negative) steps."""
    a, b, b2 = shifted
    for name in COUNTERS:
        assert np.array_equal(a.people[name], b.people[name] - b2.people[name]), name
    assert a.people["sanctions"].sum() > 0
    assert np.allclose(a.people["money"], b.people["money"] - b2.people["money"])
    # B books each income change until its end (day 1095), B2 until day 730: the difference
    # is what the reported year lost
    assert np.allclose(a.people["income_lost"], b.people["income_lost"] - b2.people["income_lost"], atol=1e-6)
    assert np.abs(a.people["income_lost"]).sum() > 0
    assert np.array_equal(a.people["start_grade"], b2.people["grade"])
    # records keep the engine's steps: from the start of the burn-in
    assert a.records["step"].min() == 0 and a.records["step"].max() == 730 + 364


def test_a_burn_in_with_no_reported_days_reports_nothing():
    sc = scorelab.load("rongcheng-2018", {"population.people": 2000, "run.burn_in": 200, "run.days": 0})
    pop, contacts = scorelab.build_population(sc, layers="read")
    out = simulate(sc, pop, contacts)
    assert len(out.metrics["step"]) == 0 and len(out.records["step"]) > 0
    for name in (*COUNTERS, "money", "income_lost"):
        assert not out.people[name].any(), name
    assert np.array_equal(out.people["start_grade"], out.people["grade"])


def test_a_channel_that_started_before_the_run_is_part_way_up_its_ramp():
    """national-2027's cameras start 2014-01-01 with a 7-year ramp: without a burn-in, on
    2018-01-01 (step 0) they are 1,461 days up it, with a year of burn-in 1,096 days, and with
    the preset's own 5-year burn-in (step 0 is 2013-01-01) they start 366 steps in."""
    def start_step(overrides):
        sc = scorelab.load("national-2027", {"population.people": 2000, **overrides})
        pop, contacts = scorelab.build_population(sc, layers="read")
        plan = compile_plan(sc, pop, contacts)
        return int(plan.params.c_start[plan.channel_names.index("cameras")]), plan.params.report_from

    assert start_step({"run.burn_in": 0}) == (-1461, 0)
    assert start_step({"run.burn_in": 365}) == (-1461 + 365, 365)
    assert start_step({}) == (-1461 + 1827, 1827)


def test_a_run_resumed_at_the_end_of_its_burn_in_is_byte_identical(tmp_path):
    """A checkpoint every 7 steps and a burn-in of 35 days: the save at step 35 is taken as the
    reported period starts, and the run stopped at 40 resumes from it."""
    sc = scorelab.load("rongcheng-2018", {"population.people": 3000, "run.burn_in": 35, "run.days": 45})
    whole = scorelab.run(sc, out=tmp_path / "a" / "run", people_state=True)
    out = tmp_path / "b" / "run"
    with pytest.raises(Stop):
        scorelab.run(sc, out=out, people_state=True, checkpoint_every=7, progress=stop_at(40))
    resumed = scorelab.resume(out)
    assert resumed.manifest["resumed_from_step"] == 35
    assert whole.manifest["burn_in_days"] == 35.0 and whole.manifest["days"] == 45.0
    same_bytes(tmp_path / "a" / "run", out)


def test_bad_burn_ins_are_one_clear_error():
    with pytest.raises(scorelab.ScenarioError, match="run.burn_in"):
        scorelab.load("rongcheng-2018", {"run.burn_in": -5})
    with pytest.raises(scorelab.ScenarioError, match="burn-in"):
        scorelab.load("rongcheng-2018", {"run.burn_in": "200 years"})
