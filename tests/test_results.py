"""Results folders: round trip, atomic writing, interrupted runs, format versions, the
Python API and the memory estimate."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import polars as pl
import pytest

import scorelab
from scorelab import memory
from scorelab.results import FORMAT_VERSION, Result, list_runs

OFF = {"enabled": False, "degree": {"distribution": "poisson", "mean": 1.0}, "same_city": 0.5, "same_group": 0.5}


def tiny(people: int = 500, days: int = 10, rate: str = "0.1 per day") -> dict:
    return {
        "name": "tiny",
        "population": {"people": people},
        "contacts": {"household": False, "workplace": {"enabled": False}, "school": {"enabled": False},
                     "friends": dict(OFF), "online": dict(OFF)},
        "behaviours": {"x": {"rate": rate}},
        "channels": {"police": {"observes": ["x"]}},
        "scoring": {"min_age": 0, "rules": [{"behaviour": "x", "points": -5}]},
        "grades": [{"name": "A", "from": 1000}, {"name": "B", "from": 990, "below": 1000}, {"name": "C", "below": 990}],
        "consequences": {"fine": {"kind": "fine", "grades": ["C"], "amount": 100, "every": 1}},
        "responses": {"enabled": False},
        "run": {"days": days, "seed": 7},
    }


@pytest.fixture(scope="module")
def result() -> Result:
    return scorelab.run(tiny())


def test_round_trip_gives_identical_frames(result, tmp_path):
    """save(people=True) then Result.open gives identical metrics, groups, scores and people
    frames, the same manifest and a scenario.yaml that loads back to the same scenario."""
    path = result.save(tmp_path / "r", people=True)
    back = Result.open(path)
    assert back.metrics.equals(result.metrics)
    assert back.groups.equals(result.groups)
    assert back.scores.equals(result.scores)
    assert back.people.equals(result.people)
    assert back.equals(result)
    assert back.manifest["run_id"] == result.manifest["run_id"]
    assert back.manifest["people_state"] is True
    reloaded = scorelab.load(str(path / "scenario.yaml"))
    assert reloaded.model_dump(mode="json", by_alias=True) == result.scenario_data
    assert back.summary() == result.summary()


def test_folder_layout_manifest_and_tidy_metrics(result, tmp_path):
    """The folder holds scenario.yaml, manifest.json, metrics/groups/scores/impact Parquet (people only
    when asked); metrics.parquet has run_id, seed, day then one column per metric, one row
    per day; the manifest carries versions, seed, timings, platform and command."""
    path = result.save(tmp_path / "r")
    assert sorted(p.name for p in path.iterdir()) == [
        "groups.parquet", "impact.parquet", "manifest.json", "metrics.parquet", "regions.parquet", "scenario.yaml", "scores.parquet",
        "trajectories.parquet"]
    m = pl.read_parquet(path / "metrics.parquet")
    assert m.columns[:4] == ["run_id", "seed", "step", "day"]
    assert m.height == 10 and m.get_column("day").to_list() == [float(d) for d in range(10)]
    assert set(m.get_column("run_id")) == {result.run_id} and set(m.get_column("seed")) == {7}
    assert {"events.x", "events_twin.x", "records.police.true", "grades.C", "score.mean"} <= set(m.columns)
    man = json.loads((path / "manifest.json").read_text())
    for key in ("scorelab_version", "format_version", "seed", "wall_seconds", "agent_days_per_second",
                "platform", "python", "command", "created", "people", "days"):
        assert key in man, key
    assert man["format_version"] == FORMAT_VERSION and man["scorelab_version"] == scorelab.__version__
    assert man["people_state"] is False
    back = Result.open(path)
    assert not back.has_people
    with pytest.raises(scorelab.UsageError, match="without per-person state"):
        back.people


def test_people_frame_joins_population_columns(result):
    """The per-person frame carries the population's group, province, city and urban columns
    beside the end state, one row per person; names are Enum columns in the scenario's order
    (the per-cell tables keep strings)."""
    p = result.people
    assert p.height == 500
    assert {"person", "group", "province", "city", "urban", "start_grade", "grade", "score", "sanctions",
            "wrongful_sanctions", "income_lost", "acts_suppressed"} <= set(p.columns)
    assert p.get_column("urban").dtype == pl.Boolean
    for c in ("group", "province", "city", "start_grade", "grade"):
        assert isinstance(p.get_column(c).dtype, pl.Enum), c
    assert p.get_column("grade").dtype.categories.to_list() == ["A", "B", "C"]
    assert p.get_column("score").is_null().to_list() == p.get_column("grade").is_null().to_list()
    assert result.groups.get_column("group").dtype == pl.String == result.scores.get_column("grade").dtype
    assert result.groups.get_column("people").sum() == 500


def test_version_1_folder_reads_back(result, tmp_path):
    """A folder of results-format version 1 (people's names as String columns, and no digests
    of the files in the manifest) still opens, with the same values."""
    path = result.save(tmp_path / "r", people=True)
    people = pl.read_parquet(path / "people.parquet")
    people.with_columns(pl.col(pl.Enum).cast(pl.String)).write_parquet(path / "people.parquet")
    man = json.loads((path / "manifest.json").read_text())
    del man["files"]
    (path / "manifest.json").write_text(json.dumps({**man, "format_version": 1}))
    back = Result.open(path)
    assert back.people.get_column("grade").dtype == pl.String
    assert back.people.equals(result.people.with_columns(pl.col(pl.Enum).cast(pl.String)))
    assert back.summary() == result.summary()


def test_exception_inside_progress_leaves_nothing(tmp_path):
    """A run that fails midway (an exception raised from the progress callback on day 5)
    leaves neither the results folder nor its hidden staging folder."""
    def boom(done: int, total: int) -> None:
        if done == 5:
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        scorelab.run(tiny(), out=tmp_path / "run", progress=boom)
    assert list(tmp_path.iterdir()) == []


def test_sigkilled_run_leaves_nothing_that_looks_complete(tmp_path):
    """A `scorelab run` killed with SIGKILL in the middle of its day loop leaves no results
    folder under the requested name; the hidden partial folder has no manifest, is not
    listed by list_runs and is refused by Result.open; the next run written beside it
    removes it."""
    scenario = tmp_path / "slow.yaml"
    import yaml

    scenario.write_text(yaml.safe_dump(tiny(people=2000, days=65_000, rate="0.002 per day")))
    out = tmp_path / "runs" / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "scorelab", "run", str(scenario), "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        for line in proc.stderr:  # the day loop starts after "built in ..."
            if line.startswith("built in") or time.monotonic() > deadline:
                break
        time.sleep(0.3)
        assert proc.poll() is None, "the run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()
    leftovers = list((tmp_path / "runs").iterdir())
    assert all(p.name.startswith(".") and ".partial" in p.name for p in leftovers)
    for p in leftovers:
        assert not (p / "manifest.json").exists()
        with pytest.raises(scorelab.UsageError, match="not a complete results folder"):
            Result.open(p)
    assert list_runs(tmp_path / "runs") == []
    scorelab.run(tiny(), out=tmp_path / "runs" / "again")  # a later run beside it removes the dead run's folder
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["again"]


def test_other_format_version_is_refused_with_one_line(result, tmp_path):
    """A folder written in another results-format version is refused with a one-line message
    naming both versions; a folder that is not a results folder is refused too."""
    path = result.save(tmp_path / "r")
    man = json.loads((path / "manifest.json").read_text())
    man["format_version"] = 99
    (path / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(scorelab.UsageError) as e:
        Result.open(path)
    assert "format version 99" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(scorelab.UsageError, match="no such results folder"):
        Result.open(tmp_path / "nope")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "manifest.json").write_text('{"format": "something-else"}')
    with pytest.raises(scorelab.UsageError, match="not a scorelab results folder"):
        Result.open(tmp_path / "other")


def test_save_refuses_non_empty_or_unwritable_places(result, tmp_path):
    """Saving over a non-empty folder or under a file fails with UsageError and writes nothing;
    an existing empty folder is fine."""
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep")
    with pytest.raises(scorelab.UsageError, match="not empty"):
        result.save(tmp_path / "full")
    (tmp_path / "afile").write_text("")
    with pytest.raises(scorelab.UsageError, match="cannot write"):
        result.save(tmp_path / "afile" / "r")
    (tmp_path / "empty").mkdir()
    assert Result.open(result.save(tmp_path / "empty")).equals(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "empty", "full"]


def test_api_run_returns_a_result(result):
    """scorelab.run returns a Result with polars metrics (one row per day), a summary dict with
    the headline figures, a repr and an HTML repr for Jupyter."""
    assert isinstance(result, scorelab.Result)
    assert isinstance(result.metrics, pl.DataFrame) and result.metrics.height == 10
    s = result.summary()
    assert s["people"] == 500 and s["days"] == 10
    assert s["records, true"] == result.metrics.get_column("records.police.true").sum()
    assert "worst-hit group (sanctions)" in s and "worst-hit group (flags)" in s
    assert "tiny" in repr(result) and "<table>" in result._repr_html_()
    assert set(scorelab.__all__) >= {"load", "run", "Result", "Scenario"}


def test_memory_estimate_model(monkeypatch):
    """The estimate grows linearly with people (same bytes per person at 10x), counts records
    from rates x days x detection, and check() refuses when SCORELAB_MEMORY is smaller."""
    small = scorelab.load(tiny(people=1_000_000, days=10))
    big = scorelab.load(tiny(people=10_000_000, days=10))
    e1, e2 = memory.estimate(small), memory.estimate(big)
    per1 = (e1.total - memory.FIXED_BYTES) / 1_000_000
    per2 = (e2.total - memory.FIXED_BYTES) / 10_000_000
    assert per1 == pytest.approx(per2, rel=0.01)
    assert 200 < per1 < 2000
    assert e1.parts["records"] == pytest.approx(1_000_000 * 0.1 * 10 * memory.RECORD_BYTES, rel=1e-6)
    assert e1.parts["contacts"] == 0  # no layer is read (nor built)
    assert e1.total == sum(e1.parts[k] for k in memory.RESIDENT) + e1.phase(e1.peak_phase)
    assert e1.total < sum(e1.parts.values())  # the phases do not add up: the build's transient is gone
    monkeypatch.setenv("SCORELAB_MEMORY", "100M")
    est, need, avail, fits = memory.check(small)
    assert avail == 100 * 2**20 and not fits and need == est.total
    with pytest.raises(scorelab.UsageError, match="memory"):
        scorelab.run(small)
    monkeypatch.setenv("SCORELAB_MEMORY", "64G")
    assert memory.check(small)[3]
    # threads divide the state: the run once; local Ray actors add a process each and the store's copy
    assert memory.check(small, 4)[1] == est.total
    p = est.parts
    assert memory.check(small, 4, processes=True)[1] == (est.total + 4 * p["fixed"] + p["population"]
                                                         + p["contacts"] + p["plan"])
    assert memory.parse_bytes("1.5K") == 1536 and memory.parse_bytes("2GiB") == 2 * 2**30


@pytest.mark.parametrize("name", ["rongcheng-2018", "national-2027"])
def test_memory_estimate_counts_the_state_the_engine_allocates(name):
    """The estimate's day-loop state is the bytes of the state the engine allocates (records,
    list slots and the other arrays that grow aside, which the estimate counts apart), for the
    number of firms the estimate guesses (people / 15), within 3 %; its contacts are at least the bytes
    of the layers a run builds (those its rules read), and less than 70 % over (it counts
    everyone as taking part in every layer, as if no age or internet limit held)."""
    from scorelab.engine import layout
    from scorelab.engine.plan import compile_plan
    from scorelab.engine.simulation import _alloc_state, state_sizes

    sc = scorelab.load(name, {"population.people": 20_000})
    pop, contacts = scorelab.build_population(sc, layers="read")
    plan = compile_plan(sc, pop, contacts)
    S = _alloc_state(plan, pop)
    sizes = state_sizes(plan)
    assert sum(getattr(S, a.name).nbytes for a in layout.STATE if not a.grown) == layout.fixed_bytes(sizes)
    est = memory.estimate(sc)
    guessed = layout.fixed_bytes(sizes._replace(firms=20_000 // 15))
    assert est.parts["day-loop state"] == pytest.approx(guessed, rel=0.03)
    # every person counted as taking part in each layer (age and internet limits aside): high
    assert contacts.nbytes() <= est.parts["contacts"] < 1.7 * contacts.nbytes()


def test_memory_estimate_holds_a_measured_run(tmp_path):
    """A Rongcheng year of 400,000 people in a fresh process (kernels loaded from the cache,
    as in any run after the first): its peak resident memory is below the estimate, and the estimate leans high by less than 60 % (it counts records at
    the expected number before deterrence, and rounds each part up)."""
    import subprocess
    import sys

    # the same scenario and size for a few days: compiles the kernels for its types (some array
    # types depend on the size) into the disk cache if needed, so that the child only loads them
    # (a compile would add LLVM's memory to the child's peak)
    # (with a burn-in, so that the end of one is compiled too)
    scorelab.run(scorelab.load("rongcheng-2018", {"population.people": 400000, "run.days": 5, "run.burn_in": "2 days"}))
    # VmHWM, not ru_maxrss: Linux carries the forking parent's peak across exec into the
    # child's ru_maxrss, and the parent here is this test process
    code = (
        "import scorelab\n"
        "sc = scorelab.load('rongcheng-2018', {'population.people': 400000})\n"
        "scorelab.run(sc, check_memory=False)\n"
        "print(next(int(x.split()[1]) * 1024 for x in open('/proc/self/status') if x.startswith('VmHWM')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=600)
    peak = int(out.stdout.strip().splitlines()[-1])
    est = memory.estimate(scorelab.load("rongcheng-2018", {"population.people": 400000})).total
    assert peak < est < 1.6 * peak, (memory.human(peak), memory.human(est))


def test_plan_without_tables_keeps_names_and_sizes():
    """What a run hands the result tables: the plan's names and sizes, none of its arrays (the
    contact graphs among them) but the few small ones the tables read; the plan itself is
    unchanged."""
    from scorelab.engine.plan import compile_plan

    sc = scorelab.load("rongcheng-2018", {"population.people": 2000})
    pop, contacts = scorelab.build_population(sc, layers="read")
    plan = compile_plan(sc, pop, contacts)
    light = plan.without_tables()
    assert light.grade_names == plan.grade_names and light.consequence_sanction == plan.consequence_sanction
    P, L = plan.params, light.params
    assert (L.n_people, L.n_firms, L.n_steps, L.dt) == (P.n_people, P.n_firms, P.n_steps, P.dt)
    assert L.mis_idx is None and L.ent_city is None and isinstance(P.ent_city, np.ndarray)
    from scorelab.engine.plan.params import KEPT_TABLES

    kept = {k for k, v in L._asdict().items() if isinstance(v, (np.ndarray, tuple))}
    assert kept == set(KEPT_TABLES)  # (small: a region's first person, the sampled people)
    assert sum(getattr(L, k).nbytes for k in kept) < 1000
    memory.release()  # harmless anywhere


def test_build_population_refuses_an_unknown_layer_choice():
    """``layers`` is "all" or "read"; anything else is a one-line usage error."""
    with pytest.raises(scorelab.UsageError, match="layers must be 'all', 'read' or 'none', not 'some'"):
        scorelab.build_population(scorelab.load(tiny()), layers="some")


def test_memory_available_is_known_here(monkeypatch):
    """Without an override the available memory is read from the system (a positive number)."""
    monkeypatch.delenv("SCORELAB_MEMORY", raising=False)
    avail = memory.available()
    assert avail is None or avail > 0
