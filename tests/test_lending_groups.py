"""Lending by group (docs/metrics.md#lending-by-group) on the lending-feedback preset: the
groups add up to the national series, the share refused matches the lending rule's closed
form, the twin is what it says, sharding changes nothing, the table survives a results
folder, and a run without loans says it has none.

One small run serves every test (2,000 people over two cities, 180 days). Defaults cost no
level here (``outcome.failure_points: 0``): nobody then falls below the policy's level 3 and
nobody below it moves (a refused applicant stays), so each group's people below the threshold
are its day-0 count throughout, and its refusals a Poisson count with mean
rate x days x (people below 3), a share (people below 3) / (scored people) of its applications.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

import scorelab
from scorelab.cli import app
from scorelab.engine.sharded import simulate_sharded
from scorelab.engine.simulation import simulate
from scorelab.errors import UsageError
from scorelab.metrics_data import lending_summary
from scorelab.results import Result

DAYS = 180
RATE = 12 / 365.25  # applications a day (the preset's 1 per month)
SETTINGS = {
    "population.people": 2000, "population.represents": 2000, "run.days": DAYS,
    "population.regions": [{"province": "P", "city": "A", "share": 0.5}, {"province": "P", "city": "B", "share": 0.5}],
    "consequences.loan.outcome.failure_points": 0,
}


@pytest.fixture(scope="module")
def world():
    sc = scorelab.load("lending-feedback", SETTINGS)
    pop, contacts = scorelab.build_population(sc)
    out = simulate(sc, pop, contacts)
    return sc, pop, contacts, out, Result.from_output(out, sc, pop)


def factual(r) -> pl.DataFrame:
    return r.lending_by_group().filter(pl.col("world") == "factual")


def test_groups_add_up_to_the_national_series(world):
    """Each step: the groups' loans due and repaid are the loan's applications and successes,
    every applicant is refused or granted (due), and the groups' level sums give score.mean
    (to 1e-9)."""
    *_, r = world
    f = factual(r)
    by_step = f.group_by("step").agg(pl.col("loans_due").sum(), pl.col("loans_repaid").sum(),
                                     (pl.col("mean_level") * pl.col("people")).sum().alias("level"),
                                     pl.col("people").sum()).sort("step")
    m = r.metrics.sort("step")
    assert by_step.get_column("loans_due").to_list() == m.get_column("consequences.loan.applied").cast(pl.Int64).to_list()
    assert by_step.get_column("loans_repaid").to_list() == \
        m.get_column("consequences.loan.successes").cast(pl.Int64).to_list()
    assert (f.get_column("loans_applied") == f.get_column("loans_refused") + f.get_column("loans_due")).all()
    mean = (by_step.get_column("level") / by_step.get_column("people")).to_numpy()
    assert np.allclose(mean, m.get_column("score.mean").to_numpy(), rtol=1e-9, atol=1e-9)
    assert f.get_column("loans_due").sum() > 1000 and f.get_column("loans_refused").sum() > 500


def test_refusals_match_the_closed_form(world):
    """Per group: refusals / applications = the group's share below level 3 (within 4 binomial
    standard errors), and the applications and refusals are Poisson counts with means rate x
    days x scored people and x people below 3 (within 4 sd). Repayment lies within the
    repayment chances of the levels lent to (0.6 to 0.7) and no one's level falls."""
    *_, r = world
    start = r.people.filter(pl.col("start_score").is_not_null()).group_by(pl.col("group").cast(pl.String)).agg(
        pl.len().alias("n"), (pl.col("start_score") < 2.5).sum().alias("below"))
    s = lending_summary(r).filter(pl.col("world") == "factual").join(start, on="group")
    assert s.height == 2
    for x in s.iter_rows(named=True):
        assert x["people"] == x["n"]
        p = x["below"] / x["n"]
        se = math.sqrt(p * (1 - p) / x["loans_applied"])
        assert abs(x["refused_share"] - p) <= 4 * se + 1e-12, (x["group"], x["refused_share"], p)
        for count, people in ((x["loans_applied"], x["n"]), (x["loans_refused"], x["below"])):
            mu = RATE * DAYS * people
            assert abs(count - mu) <= 4 * math.sqrt(mu), (x["group"], count, mu)
        assert 0.6 - 4 * math.sqrt(0.24 / x["loans_due"]) <= x["repayment_rate"] <= 0.7 + 4 * math.sqrt(0.21 / x["loans_due"])
        assert x["mean_level_end"] >= x["mean_level_start"]
    refused = dict(zip(s.get_column("group"), s.get_column("refused_share")))
    assert refused["disadvantaged"] > refused["advantaged"]  # (start shares below 3: 0.4 against 0.2)


def test_the_twin_applies_alike_and_is_never_refused(world):
    *_, r = world
    t = r.lending_by_group()
    f, tw = (t.filter(pl.col("world") == w).sort("group", "step") for w in ("factual", "twin"))
    assert tw.get_column("loans_applied").to_list() == f.get_column("loans_applied").to_list()
    assert tw.get_column("loans_refused").sum() == tw.get_column("loans_due").sum() == 0
    assert tw.get_column("repayment_rate").null_count() == tw.height
    start = r.people.filter(pl.col("start_score").is_not_null()).group_by(pl.col("group").cast(pl.String)).agg(
        pl.col("start_score").mean())
    for g, level in start.iter_rows():
        assert np.allclose(tw.filter(pl.col("group") == g).get_column("mean_level").to_numpy(), level, rtol=1e-12)
    assert set(t.get_column("group")) == {"advantaged", "disadvantaged"} and t.height == 2 * 2 * DAYS


def test_two_shards_count_the_same(world):
    sc, pop, contacts, out, _ = world
    part = simulate_sharded(sc, pop, contacts, 2, backend="local")
    names = [k for k in out.metrics if k.startswith("lending.")]
    assert len(names) == 2 * 5
    for k in names:
        assert np.array_equal(out.metrics[k], part.metrics[k]), k


def test_the_mean_level_is_that_of_the_people_scored_from_the_start():
    """With people coming of age, each group's last mean level is the mean end score of its
    people scored from the start (to the block's 1/2048 of a point): those who came of age
    apply for loans but are not in the mean's cohort."""
    sc = scorelab.load("lending-feedback", {**SETTINGS, "scoring.coming_of_age": True})
    pop, contacts = scorelab.build_population(sc)
    out = simulate(sc, pop, contacts)
    assert out.metrics["ageing.came_of_age"].sum() > 10
    r = Result.from_output(out, sc, pop)
    last = factual(r).filter(pl.col("step") == pl.col("step").max())
    cohort = r.people.filter(pl.col("start_score").is_not_null()).group_by(pl.col("group").cast(pl.String)).agg(
        pl.col("score").mean().alias("score"), pl.len().alias("n"))
    got = last.join(cohort, on="group")
    assert got.height == last.height and (got.get_column("people") == got.get_column("n")).all()
    assert np.allclose(got.get_column("mean_level").to_numpy(), got.get_column("score").to_numpy(), atol=1 / 2048)


def test_the_table_survives_a_results_folder(world, tmp_path):
    *_, r = world
    r.save(tmp_path / "run")
    assert (tmp_path / "run" / "lending.parquet").is_file()
    back = scorelab.results.Result.open(tmp_path / "run")
    assert back.lending_by_group().equals(r.lending_by_group()) and back.manifest["names"]["lending"]
    res = CliRunner().invoke(app, ["query", "select world, sum(loans_refused) as n from lending group by world "
                                   "order by world", "--runs", str(tmp_path), "--format", "csv"])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[1:] == [f"factual,{factual(r).get_column('loans_refused').sum()}", "twin,0"]


def test_the_verdict_says_what_lending_did(world):
    """Granting loans by grade sanctions nobody, so without its own sentence the verdict said
    nothing happened: the fourth sentence gives the refusals (the twin refuses none) and each
    group's share refused, as ``lending_summary`` counts them, most refused first."""
    from scorelab.verdict import verdict

    r = world[-1]
    said = verdict(r)
    assert len(said) == 4 and said[0].startswith("Nobody was sanctioned")
    # (no "run more people": none of the harms the third sentence compares can happen here)
    assert said[2] == "There were no sanctions, wrongful sanctions, police flags or income lost to compare across groups."
    f = lending_summary(r).filter(pl.col("world") == "factual").sort("refused_share", descending=True)
    refused, applied = int(f.get_column("loans_refused").sum()), int(f.get_column("loans_applied").sum())
    assert refused > 0 and f"refused {refused:,} of {applied:,} applications" in said[3], said[3]
    assert "where the twin refuses none" in said[3]
    groups = f.get_column("group").to_list()
    shares = [f"{g} {100 * x:.1f} % refused" for g, x in zip(groups, f.get_column("refused_share").to_list())]
    assert all(x in said[3] for x in shares) and said[3].index(shares[0]) < said[3].index(shares[1]), said[3]


def test_a_run_without_loans_has_no_lending(tmp_path):
    """A consequence that is no loan (no service) counts nothing: no file, no view, and the API
    says why in one line."""
    r = scorelab.run("lending-feedback", {**SETTINGS, "population.people": 300, "population.represents": 300,
                                          "run.days": 5, "consequences.loan.service": None}, out=tmp_path / "run")
    assert not r.has_lending and not any(c.startswith("lending.") for c in r.metrics.columns)
    assert len(r.verdict()) == 3  # (no sentence on loans)
    with pytest.raises(UsageError, match="no lending by group") as e:
        r.lending_by_group()
    assert "\n" not in str(e.value)
    assert not (tmp_path / "run" / "lending.parquet").exists()
    res = CliRunner().invoke(app, ["query", "select * from lending", "--runs", str(tmp_path)])
    assert res.exit_code != 0 and "no run here has the lending view" in res.output
