"""Trajectories: a reproducible sample of people (``run.trajectories``) whose state is kept
every step, identical across reruns and shard counts, ending where the per-person end state
ends; the table, the API, the query view and the report's figure."""

from __future__ import annotations

import copy
import json

import numpy as np
import polars as pl
import pytest

import scorelab
from scorelab.cli import app
from scorelab.engine.plan import compile_plan
from scorelab.engine.sharded import simulate_sharded
from scorelab.engine.simulation import simulate
from scorelab.errors import UsageError
from scorelab.tables import RunTables
from test_sharded import FOUR_CITIES


def _scenario(days: int = 40, n: int = 25) -> dict:
    sc = copy.deepcopy(FOUR_CITIES)
    sc["run"]["days"] = days
    sc["run"]["trajectories"] = n
    return sc


@pytest.fixture(scope="module")
def world():
    s = scorelab.load(_scenario())
    pop, contacts = scorelab.build_population(s)
    return s, pop, contacts


def _frame(out, s, pop):
    return RunTables.from_output(out, s, pop, run_id="x", created="2026-01-01T00:00:00+00:00").trajectories


def test_the_paths_are_the_same_for_any_shards_and_reruns(world):
    s, pop, contacts = world
    one = _frame(simulate(s, pop, contacts), s, pop)
    assert one.equals(_frame(simulate(s, pop, contacts), s, pop))
    for shards in (2, 4):
        assert one.equals(_frame(simulate_sharded(s, pop, contacts, shards, backend="local"), s, pop)), shards
    assert one.get_column("person").n_unique() == 25 and one.height == 25 * 40
    assert one.get_column("city").n_unique() >= 3  # (sampled across the regions, so across the shards)


def test_the_sample_is_counter_based(world):
    s, pop, contacts = world
    ids = compile_plan(s, pop, contacts).params.tr_ids
    more = compile_plan(scorelab.load(_scenario(n=50)), pop, contacts).params.tr_ids
    assert np.all(np.diff(ids) > 0) and set(ids) <= set(more)  # the smallest uniforms: a larger sample holds it
    other = scorelab.load({**_scenario(), "run": {**_scenario()["run"], "seed": 8}})
    assert not np.array_equal(compile_plan(other, pop, contacts).params.tr_ids, ids)


def test_a_path_ends_where_the_person_ends(world):
    s, pop, contacts = world
    out = simulate(s, pop, contacts)
    t = _frame(out, s, pop)
    last = t.filter(pl.col("step") == t["step"].max()).sort("person")
    ids = last.get_column("person").to_numpy()
    p = out.people
    assert np.array_equal(last["records_held"], p["records_held"][ids])
    assert np.array_equal(last["sanctions"], p["sanctions"][ids])
    assert np.array_equal(last["flags"], p["flags"][ids])
    assert np.allclose(last["income"], p["income"][ids]) and np.allclose(last["income_twin"], p["income_twin"][ids])
    listed = sum(p[k].astype(int) for k in p if k.startswith("listed."))[ids]
    assert np.array_equal(last["lists"], listed)
    scored = last["score"].is_not_null().to_numpy()
    assert np.allclose(last["score"].to_numpy()[scored], p["score"][ids][scored])
    assert t["sanctions"].max() > 0 or t["records_held"].max() > 0  # (something happens to someone)


def test_the_table_the_api_the_query_and_the_report(tmp_path, runner):
    r = scorelab.run(scorelab.load(_scenario(days=20, n=6)), out=tmp_path / "runs" / "a", check_memory=False)
    back = scorelab.Result.open(tmp_path / "runs" / "a")
    assert back.trajectories.equals(r.trajectories)
    person = int(r.trajectories["person"][0])
    assert back.trajectory(person).height == 20
    with pytest.raises(UsageError, match="was not sampled"):
        back.trajectory(-1)
    q = runner.invoke(app, ["query", "select count(distinct person) as n from trajectories", "--runs",
                            str(tmp_path / "runs"), "--format", "json"])
    assert q.exit_code == 0, q.output and json.loads(q.output)["n"] == 6
    assert len(r.plot("lives").axes[0].lines) == 5
    from scorelab.report import render

    assert "data-plot='lives'" in render([back])


def test_none_or_too_many(runner):
    r = scorelab.run(scorelab.load(_scenario(days=5, n=0)), check_memory=False)
    assert r.trajectories.height == 0 and r.plot("lives") is not None
    sc = _scenario(days=5)
    sc["population"]["people"] = 300
    sc["run"]["trajectories"] = 1000
    assert scorelab.run(scorelab.load(sc), check_memory=False).trajectories["person"].n_unique() == 300
    bad = runner.invoke(app, ["validate", "rongcheng-2018", "--set", "run.trajectories=5000"])
    assert bad.exit_code != 0 and len(bad.output.strip().splitlines()) == 1 and "run.trajectories" in bad.output
