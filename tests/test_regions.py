"""Regions over time (regions.parquet): each region's records, sanctions, rewards, listings
and data held per step sum to the national series, in a single-process and a sharded run;
the table, the API, the query view and the report figure."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import scorelab
from scorelab.cli import app
from scorelab.engine.layout import REGION_COLUMNS
from scorelab.engine.simulation import simulate
from scorelab.errors import UsageError
from test_sharded import FOUR_CITIES


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    sc = copy.deepcopy(FOUR_CITIES)
    sc["run"]["days"] = 60
    out = tmp_path_factory.mktemp("runs") / "four"
    return scorelab.run(scorelab.load(sc), out=out, check_memory=False)


def _sum_of(m: pl.DataFrame, prefix: str, suffix: str) -> np.ndarray:
    cols = [c for c in m.columns if c.startswith(prefix) and c.endswith(suffix)]
    return m.select(cols).sum_horizontal().to_numpy() if cols else np.zeros(m.height)


def test_region_series_sum_to_the_national_series(run):
    m, reg = run.metrics, run.regions
    names = run.names
    national = reg.group_by("step").agg(pl.col(REGION_COLUMNS).sum()).sort("step")
    assert national.height == m.height
    # (a region's records are about its people: those about firms are counted apart)
    firms = m["records_about_firms.true"].to_numpy()
    assert np.array_equal(national["records_true"], _sum_of(m, "records.", ".true") - firms)
    erroneous = _sum_of(m, "records.", ".misattributed") + _sum_of(m, "records.", ".false_match")
    firms_err = m["records_about_firms.misattributed"].to_numpy() + m["records_about_firms.false_match"].to_numpy()
    assert np.array_equal(national["records_erroneous"], erroneous - firms_err)
    # (a region's sanctions and rewards are its people's: rates per 1,000 people count no firm's)
    sanctions = [k for k, v in names["consequences"].items() if v["sanction"] and v["actor"] != "firm"]
    rewards = [k for k, v in names["consequences"].items() if not v["sanction"] and v["actor"] != "firm"]
    for col, ks, x in (("sanctions", sanctions, "applied"), ("sanctions_wrongful", sanctions, "wrongful"),
                       ("rewards", rewards, "applied"), ("rewards_wrongful", rewards, "wrongful")):
        want = m.select([f"consequences.{k}.{x}" for k in ks]).sum_horizontal().to_numpy() if ks else 0
        assert np.array_equal(national[col], want + np.zeros(m.height)), col
    assert np.array_equal(national["listings"], _sum_of(m, "lists.", ".stock"))
    assert np.array_equal(national["records_held"], m["data.records_held"])
    assert np.array_equal(national["people_with_data"], m["data.people_with_data"])
    assert national["sanctions"].sum() > 100 and national["listings"].max() > 10
    # every region has something, and its people are the population's
    per = reg.group_by("city").agg(pl.col("records_true").sum(), pl.col("people").first())
    assert per.height == 4 and per["records_true"].min() > 0 and per["people"].sum() == run.manifest["people"]


def test_end_stocks_agree_with_the_people(run):
    last = run.regions.filter(pl.col("step") == run.regions["step"].max())
    by_city = run.people.group_by("city").agg(pl.col("records_held").sum(), (pl.col("records_held") > 0).sum().alias("n"))
    joined = last.join(by_city.with_columns(pl.col("city").cast(pl.String)), on="city")
    assert joined.height == 4
    assert (joined["records_held"] == joined["records_held_right"]).all()
    assert (joined["people_with_data"] == joined["n"]).all()


def test_the_folder_the_api_and_the_query_view(run, runner):
    back = scorelab.Result.open(run.path)
    assert back.regions.equals(run.regions)
    prov = back.regions_over_time("province")
    assert prov.get_column("province").unique().sort().to_list() == ["P", "Q"]
    nat = back.regions_over_time("national")
    assert np.allclose(nat["records_held"], back.metrics["data.records_held"])
    assert nat["records_held_per_1000"][-1] == pytest.approx(1000 * nat["records_held"][-1] / run.manifest["people"])
    with pytest.raises(UsageError, match="level must be one of"):
        back.regions_over_time("street")
    r = runner.invoke(app, ["query", "select city, sum(sanctions) as s from regions group by city order by city",
                            "--runs", str(run.path.parent), "--format", "json"])
    assert r.exit_code == 0, r.output
    rows = [json.loads(x) for x in r.output.splitlines()]
    assert [x["city"] for x in rows] == ["A", "B", "C", "D"]
    assert sum(x["s"] for x in rows) == run.regions["sanctions"].sum()


def test_the_report_draws_regions_over_time(run):
    fig = run.plot("regions")
    assert len(fig.axes[0].lines) == 4
    from scorelab.report import render

    assert "data-plot='regions'" in render([run])


def test_a_sharded_run_gives_the_same_regions():
    sc = copy.deepcopy(FOUR_CITIES)
    sc["run"]["days"] = 30
    s = scorelab.load(sc)
    pop, contacts = scorelab.build_population(s)
    from scorelab.engine.sharded import simulate_sharded

    a, b = simulate(s, pop, contacts), simulate_sharded(s, pop, contacts, 3, backend="local")
    for k in a.metrics:
        if k.startswith(("regions.", "data.")):
            assert np.array_equal(a.metrics[k], b.metrics[k]), k


def test_a_version_2_folder_reads_without_them(run, tmp_path):
    """A folder written before format 3 has no regions nor trajectories: it opens, says what
    it lacks in one line when asked, and its report is still written."""
    import shutil

    path = Path(shutil.copytree(run.path, tmp_path / "old"))
    for f in ("regions.parquet", "trajectories.parquet"):
        (path / f).unlink()
    man = json.loads((path / "manifest.json").read_text())
    del man["files"]
    (path / "manifest.json").write_text(json.dumps({**man, "format_version": 2}))
    back = scorelab.Result.open(path)
    with pytest.raises(UsageError, match="results format 3"):
        back.regions
    with pytest.raises(UsageError, match="results format 3"):
        back.trajectory()
    from scorelab.report import render

    assert "data-plot='regions'" in render([back])
