"""Parameter sweeps: designs, seeds, errors, backends (process pool and Ray) giving identical
tables, a worker killed mid-sweep, resuming, the confidence intervals and the report.

Runs are tiny (200 people, 5 days) so the file stays well under a minute on two cores."""

from __future__ import annotations

import copy
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from scorelab import sweep as S
from scorelab.cli import app
from scorelab.errors import UsageError
from scorelab.intervals import poisson_interval
from scorelab.sweep.statistics import figure_kind, t_quantile
from test_cli import TINY as CLI_TINY
from test_cli import one_line_error

# the command-line tests' tiny scenario, smaller and shorter
TINY = copy.deepcopy(CLI_TINY)
TINY["population"]["people"] = 200
TINY["run"]["days"] = 5
VARY = ["population.people=150,250", "scoring.rules.0.points=-5,-10"]
KILLED = "s001-r000"  # the task whose worker dies on its first attempt in the retry tests


def spec(**kw: Any) -> S.SweepSpec:
    return S.make_spec(TINY, kw.pop("vary", VARY), replicates=kw.pop("replicates", 2), **kw)


def comparable(df: pl.DataFrame) -> pl.DataFrame:
    return df.drop([c for c in S.TIMING_COLUMNS if c in df.columns])


def same_tables(a: S.SweepResult, b: S.SweepResult) -> None:
    assert comparable(a.runs).equals(comparable(b.runs))
    assert a.summary.equals(b.summary)


def complete_folder(r: S.SweepResult, n: int) -> None:
    """One row per task, every task a complete results folder, nothing left over."""
    ids = r.runs.get_column("task").to_list()
    assert len(ids) == n == len(set(ids)) == len(r.info["tasks"])
    assert ids == [t["id"] for t in r.info["tasks"]]
    runs = r.path / "runs"
    assert sorted(p.name for p in runs.iterdir()) == sorted(ids)  # no hidden partial folders either
    assert all((runs / i / "manifest.json").is_file() for i in ids)
    assert not S.work_path(r.path).exists()
    assert not (r.path / ".attempts").exists() and not (r.path / ".lock").exists()


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> S.SweepResult:
    """The reference sweep: 4 settings x 2 replicates on a pool of 2 processes."""
    return S.run_sweep(spec(), tmp_path_factory.mktemp("ref") / "sweep", workers=2)


@pytest.fixture()
def tiny(tmp_path) -> Path:
    p = tmp_path / "tiny.yaml"
    p.write_text(yaml.safe_dump(TINY, sort_keys=False))
    return p


# --------------------------------------------------------------------------- the design


def test_grid_is_the_cartesian_product_in_the_order_given():
    sp = S.make_spec(TINY, ["population.people=100,200,300", "scoring.recovery=1 year,null",
                            "safeguards.purpose_limitation=true,false"])
    sets = S.settings(sp)
    assert [s.id for s in sets] == [f"s{i:03d}" for i in range(12)]
    assert sets[0].values == {"population.people": 100, "scoring.recovery": "1 year", "safeguards.purpose_limitation": True}
    assert sets[1].values["safeguards.purpose_limitation"] is False  # the last key varies fastest
    assert sets[2].values == {"population.people": 100, "scoring.recovery": None, "safeguards.purpose_limitation": True}
    assert [s.values["population.people"] for s in sets] == [100] * 4 + [200] * 4 + [300] * 4
    tasks = S.plan_sweep(sp)
    assert [t.id for t in tasks] == [s.id + "-r000" for s in sets]  # one replicate: run.seed
    assert {t.seed for t in tasks} == {7}


def test_values_are_read_as_set_reads_them():
    ax = S.parse_vary("x=1,2.5,true,'7',1 year,[1, 2],{a: 1}")
    assert ax.values == (1, 2.5, True, "7", "1 year", [1, 2], {"a": 1})
    assert S.parse_vary("run.start=2019-01-01").values == ("2019-01-01",)  # dates as ISO text
    r = S.parse_vary("k=1..5")
    assert (r.low, r.high, r.integer) == (1, 5, True)
    r = S.parse_vary("k=0.1..1")
    assert (r.low, r.high, r.integer) == (0.1, 1.0, False)


def test_random_design_is_reproducible_and_in_range():
    vary = ["population.people=100..300", "consequences.fine.amount=10.0..20.0", "scoring.recovery=30 days,1 year"]
    a = S.settings(S.make_spec(TINY, vary, design="random", samples=40))
    b = S.settings(S.make_spec(TINY, vary, design="random", samples=40))
    c = S.settings(S.make_spec(TINY, vary, design="random", samples=40, design_seed=8))
    assert a == b and a != c
    people = [s.values["population.people"] for s in a]
    amounts = [s.values["consequences.fine.amount"] for s in a]
    assert all(isinstance(p, int) and 100 <= p <= 300 for p in people)
    assert all(isinstance(x, float) and 10.0 <= x < 20.0 for x in amounts)
    assert {s.values["scoring.recovery"] for s in a} == {"30 days", "1 year"}
    assert len(set(people)) > 20
    # a prefix of a larger design is the smaller design (counter-based draws)
    assert S.settings(S.make_spec(TINY, vary, design="random", samples=10)) == a[:10]


def test_seeds_are_shared_by_every_setting():
    tasks = S.plan_sweep(spec(replicates=3))
    assert len(tasks) == 12
    by_setting: dict[str, list[int]] = {}
    for t in tasks:
        by_setting.setdefault(t.setting, []).append(t.seed)
    assert list(by_setting.values()) == [[7, 8, 9]] * 4  # run.seed, run.seed + 1, ...
    tasks = S.plan_sweep(S.make_spec(TINY, VARY, seeds=[11, 3, 5]))
    assert [t.seed for t in tasks[:3]] == [11, 3, 5] and [t.replicate for t in tasks[:3]] == [0, 1, 2]
    assert tasks[0].overrides == {"population.people": 150, "scoring.rules.0.points": -5, "run.seed": 11}
    for kw, msg in (({"seeds": [1, 1]}, "given twice"), ({"seeds": [1, 2], "replicates": 3}, "disagrees"),
                    ({"replicates": 0}, "at least 1"), ({"seeds": []}, "at least one")):
        with pytest.raises(UsageError, match=msg):
            S.make_spec(TINY, VARY, **kw)


def test_headline_figures_are_the_numeric_columns(reference):
    figures = S.headline_figures(S.make_spec(TINY).scenario)
    assert S.numeric_figures(reference.runs, reference.keys) == figures
    assert reference.figures == figures
    assert reference.runs.schema["worst-hit group (sanctions)"] == pl.String


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("args, needles", [
    (["--vary", "population.peeple=1,2"], ["--vary population.peeple=1", "population.peeple", "did you mean 'people'"]),
    (["--vary", "population.people=100,abc"], ["--vary population.people=abc", "population.people", "whole number"]),
    (["--vary", "nosuch.field=1"], ["--vary nosuch.field=1", "nosuch", "unknown field"]),
    (["--vary", "run.days=-1,3"], ["--vary run.days=-1", "run.days"]),
    (["--vary", "population.people"], ["--vary population.people", "expected key=v1,v2"]),
    (["--vary", "population.people=1,,2"], ["--vary", "population.people", "empty value"]),
    (["--vary", "population.people=100..300"], ["--vary population.people=100..300", "--design random"]),
    (["--vary", "population.people=300..100", "--design", "random", "--samples", "2"], ["--vary", "low < high"]),
    (["--vary", "population.people=-5..100", "--design", "random", "--samples", "2"],
     ["--vary population.people=-5", "population.people"]),
    (["--vary", "run.seed=1,2"], ["--vary run.seed", "--seeds"]),
    (["--vary", "population.people=1,2", "--vary", "population.people=3"], ["--vary population.people", "twice"]),
    (["--vary", "population.people=1,2", "--design", "random"], ["--samples"]),
    (["--vary", "population.people=1,2", "--seeds", "1,x"], ["--seeds", "'x'"]),
    (["--vary", "population.people=1,2", "--backend", "dask"], ["--backend", "dask"]),
    (["--vary", "population.people=1,2", "--address", "auto"], ["--address", "--backend ray"]),
    (["--vary", "population.people=1,2", "--figure", "nope"], ["--figure nope", "headline figure"]),
    (["--vary", "population.people=1,2", "--set", "population.people=x"], ["--set", "population.people"]),
    # designs too large to run are refused at once, before anything is expanded in memory (issue 21)
    (["--vary", "population.people=100..300", "--design", "random", "--samples", str(10**12)],
     ["--samples 1000000000000", "1,000,000,000,000 runs", "at most 100,000 runs"]),
    (["--vary", "population.people=1,2", "--replicates", str(10**12)], ["--replicates 1000000000000", "at most 100,000"]),
    (["--vary", "run.days=" + ",".join(map(str, range(1, 41))),
      "--vary", "population.people=" + ",".join(map(str, range(100, 140))),
      "--vary", "scoring.rules.0.points=" + ",".join(map(str, range(-80, 0)))],
     ["--vary: 40 x 40 x 80 values x 1 replicate(s) = 128,000 runs", "at most 100,000"]),
])
def test_bad_arguments_fail_in_one_line_before_any_work(runner, tiny, tmp_path, args, needles):
    out = tmp_path / "out"
    r = runner.invoke(app, ["sweep", str(tiny), *args, "--out", str(out)])
    one_line_error(r, *needles)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.yaml"]  # nothing written, not even a work folder


def test_ray_missing_says_what_to_install(runner, tiny, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    r = runner.invoke(app, ["sweep", str(tiny), "--vary", "population.people=1,2", "--backend", "ray",
                            "--out", str(tmp_path / "out")])
    one_line_error(r, "scorelab[ray]")
    assert not (tmp_path / "out").exists() and not S.work_path(tmp_path / "out").exists()


def test_a_design_too_large_is_refused_before_it_is_expanded():
    """Through the library too, and for a spec read back from a sweep folder (settings())."""
    import time

    t0 = time.perf_counter()
    with pytest.raises(UsageError, match="at most 100,000 runs"):
        S.make_spec(TINY, ["population.people=100..300"], design="random", samples=10**12)
    with pytest.raises(UsageError, match="at most 100,000 runs"):
        S.make_spec(TINY, VARY, replicates=S.MAX_RUNS // 4 + 1)  # 4 settings
    big = S.SweepSpec(scenario=spec().scenario, axes=(S.parse_vary("population.people=100..300"),),
                      design="random", samples=10**15, seeds=(1, 2))
    with pytest.raises(UsageError, match="2,000,000,000,000,000 runs"):
        S.settings(big)
    assert time.perf_counter() - t0 < 5


# --------------------------------------------------------------------------- statistics


def test_confidence_intervals_by_hand(reference):
    d = S.describe([1.0, 2.0, 4.0])
    sd = math.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2)
    half = 4.302652729749464 * sd / math.sqrt(3)
    assert d["n"] == 3 and d["mean"] == pytest.approx(7 / 3) and d["sd"] == pytest.approx(sd)
    assert (d["ci_lo"], d["ci_hi"]) == (pytest.approx(7 / 3 - half), pytest.approx(7 / 3 + half))
    assert S.describe([5.0]) == {"n": 1, "mean": 5.0, "sd": None, "se": None, "ci_lo": None, "ci_hi": None}
    # the summary of the reference sweep, recomputed from its runs table: the t interval,
    # widened to the Poisson interval for counts and cut at the quantity's bounds
    t1 = math.tan(math.pi * 0.475)  # t(0.975, 1 degree of freedom): two replicates
    for row in reference.summary.iter_rows(named=True):
        every = reference.runs.filter(pl.col("setting") == row["setting"]).get_column(row["figure"]).to_list()
        xs = [x for x in every if x is not None]  # (a ratio over nothing has no value: left out)
        assert row["n"] == len(xs) and len(every) == 2
        if len(xs) < 2:
            assert row["sd"] is None and (xs or row["mean"] is None)
            continue
        m, s = statistics.mean(xs), statistics.stdev(xs)
        assert row["mean"] == pytest.approx(m, abs=1e-12)
        assert row["sd"] == pytest.approx(s, abs=1e-12)
        assert row["se"] == pytest.approx(s / math.sqrt(2), abs=1e-12)
        lo, hi = m - t1 * s / math.sqrt(2), m + t1 * s / math.sqrt(2)
        kind = figure_kind(row["figure"])
        if kind == "count":
            p_lo, p_hi = poisson_interval(sum(xs))
            lo, hi = min(lo, p_lo / 2), max(hi, p_hi / 2)
        if kind != "any":
            lo = max(lo, 0.0)
        if kind == "share":
            hi = min(hi, 1.0)
        assert row["ci_lo"] == pytest.approx(lo, abs=1e-9)
        assert row["ci_hi"] == pytest.approx(hi, abs=1e-9)
        assert kind == "any" or row["ci_lo"] >= 0
    sub = reference.summary.filter(pl.col("figure") == "sanctions")
    assert sub.columns[:3] == ["setting", "population.people", "scoring.rules.0.points"]
    assert sub.get_column("population.people").to_list() == [150, 150, 250, 250]


def test_intervals_respect_the_quantity():
    """Issue 22: with two replicates, intervals on counts went negative ("sanctions 5.50
    [-26.27, 37.27]"). A count's interval never goes below zero and is at least the Poisson
    interval of the total; a share stays in [0, 1]; income lost (a gain possible) is left."""
    d = S.describe([0.0, 11.0], kind="count")  # the t interval alone is 5.5 -+ 69.9
    assert d["ci_lo"] == 0.0 and d["ci_hi"] == pytest.approx(5.5 + t_quantile(0.975, 1) * 5.5)
    # nothing counted in 2 runs: not [0, 0] but the Poisson upper bound of a total of 0 (3.689), per run
    z = S.describe([0.0, 0.0], kind="count")
    assert z["ci_lo"] == 0.0 and z["ci_hi"] == pytest.approx(3.6888794541139363 / 2, rel=1e-9)
    # one replicate: the Poisson interval (Garwood, 95 %, k = 100: 81.364 .. 121.627)
    one = S.describe([100.0], kind="count")
    assert (one["ci_lo"], one["ci_hi"]) == (pytest.approx(81.3639, abs=1e-3), pytest.approx(121.6268, abs=1e-3))
    share = S.describe([0.01, 0.99], kind="share")
    assert share["ci_lo"] == 0.0 and share["ci_hi"] == 1.0
    income = S.describe([-50.0, 10.0], kind="any")
    assert income["ci_lo"] < -50
    assert figure_kind("sanctions") == "count" and figure_kind("grade A share") == "share"
    assert figure_kind("income lost vs twin") == "any" and figure_kind("people-days wrongfully listed") == "nonnegative"


def test_a_sweep_shows_the_direct_effect_of_its_key(runner, tmp_path):
    """Issue 22: the README's appeals sweep gave identical headline rows. The table now shows
    the figure the varied key moves directly (records removed on appeal), which moves here from
    none to some, and a line says which figures moved beyond the replicates' noise."""
    scenario = copy.deepcopy(TINY)
    scenario["channels"]["police"]["misattribution"] = {"probability": 0.3}
    scenario["safeguards"] = {"appeals": {"delay": "1 days", "success": 1.0}}
    src = tmp_path / "appeals.yaml"
    src.write_text(yaml.safe_dump(scenario, sort_keys=False))
    r = runner.invoke(app, ["sweep", str(src), "--vary", "safeguards.appeals.contested=0,1", "--replicates", "3",
                            "--out", str(tmp_path / "sw"), "--workers", "1"])
    assert r.exit_code == 0, r.output
    res = S.SweepResult.open(tmp_path / "sw")
    removed = res.summary.filter(pl.col("figure") == "records removed on appeal").sort("safeguards.appeals.contested")
    none, some = removed.get_column("mean").to_list()
    assert none == 0 and some > 20
    assert removed.get_column("ci_lo").to_list()[0] == 0.0  # never below zero
    assert "records removed on appeal" in r.output
    assert "moved beyond the replicates' noise: records removed on appeal" in r.output


def test_the_line_when_nothing_moved():
    from scorelab.cli.sweep import _moved_line

    wide = pl.DataFrame({"sanctions lo": [1.0, 2.0], "sanctions hi": [5.0, 6.0]})
    line = _moved_line(wide, ["sanctions"], ["records removed on appeal"], [1000.0, 1000.0], [90.0, 90.0])
    assert line.startswith("no figure moved beyond its interval") and "--replicates" in line


def test_totals_of_settings_of_different_sizes_move_only_per_person():
    """A sweep over the population's size: 4x the people, 4x the sanctions, the same rate. The
    totals' intervals do not overlap, but nothing moved: they are compared per 1,000 people."""
    from scorelab.cli.sweep import _moved_line

    wide = pl.DataFrame({"sanctions lo": [40.0, 180.0], "sanctions hi": [60.0, 220.0],
                         "alert precision lo": [0.1, 0.6], "alert precision hi": [0.2, 0.7]})
    line = _moved_line(wide, ["sanctions", "alert precision"], [], [5000.0, 20000.0], [180.0, 180.0])
    assert line.startswith("moved beyond the replicates' noise: alert precision;"), line
    assert "per 1,000 people (the settings differ in size)" in line
    longer = _moved_line(wide, ["sanctions"], [], [5000.0, 5000.0], [180.0, 720.0])
    assert longer.startswith("no figure moved") and "differ in length: sanctions" in longer
    same = _moved_line(wide, ["sanctions"], [], [5000.0, 5000.0], [180.0, 180.0])
    assert same.startswith("moved beyond the replicates' noise: sanctions")


# --------------------------------------------------------------------------- backends


def test_reference_folder(reference):
    complete_folder(reference, 8)
    assert set(reference.runs.columns) >= {"task", "setting", "population.people", "scoring.rules.0.points",
                                           "replicate", "seed", "sanctions", "wall_seconds"}
    assert reference.runs.get_column("seed").to_list() == [7, 8] * 4
    info = json.loads((reference.path / "sweep.json").read_text())
    assert info["status"] == "complete" and info["format"] == "scorelab-sweep" and info["versions"]["scorelab"]
    again = S.SweepResult.open(reference.path)
    same_tables(again, reference)
    # the same sweep again with the same folder: nothing to do
    done = S.run_sweep(spec(), reference.path, workers=2)
    assert (done.ran, done.skipped) == (0, 8)
    with pytest.raises(UsageError, match="not empty"):  # another sweep there
        S.run_sweep(spec(replicates=1), reference.path)


def test_one_or_two_workers_give_the_same_tables(reference, tmp_path):
    same_tables(S.run_sweep(spec(), tmp_path / "one", workers=1), reference)


def test_ray_gives_the_same_tables_as_the_pool(reference, ray_session, tmp_path):
    r = S.run_sweep(spec(), tmp_path / "ray", backend="ray")
    complete_folder(r, 8)
    assert r.info["backend"] == "ray"
    same_tables(r, reference)


def test_a_worker_killed_mid_sweep_is_retried_on_the_pool(reference, tmp_path, monkeypatch):
    monkeypatch.setenv(S.TEST_EXIT_ENV, KILLED)
    events: list[S.Event] = []
    r = S.run_sweep(spec(), tmp_path / "killed", workers=2, progress=events.append)
    complete_folder(r, 8)
    same_tables(r, reference)
    assert r.retried >= 1 and r.info["retried"] == r.retried
    assert any(e.kind == "lost" and e.task.id == KILLED for e in events)
    assert sorted(e.task.id for e in events if e.kind == "done") == sorted(r.runs.get_column("task").to_list())


def test_a_worker_killed_mid_sweep_is_retried_by_ray(reference, ray_session, tmp_path, monkeypatch):
    monkeypatch.setenv(S.TEST_EXIT_ENV, KILLED)
    events: list[S.Event] = []
    r = S.run_sweep(spec(), tmp_path / "killed", backend="ray", progress=events.append)
    complete_folder(r, 8)
    same_tables(r, reference)
    assert r.retried == 1
    assert [e.attempt for e in events if e.task.id == KILLED] == [2]


_DRIVER = """
import sys, time
from scorelab.sweep.backends import process_pool

if __name__ == "__main__":
    pool = process_pool(2)
    futures = [pool.submit(time.sleep, 120) for _ in range(2)]
    while len(pool._processes) < 2:
        time.sleep(0.05)
    print(" ".join(map(str, pool._processes)), flush=True)
    time.sleep(120)
"""


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped by its new parent, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_pool_workers_die_with_their_driver(tmp_path):
    """The sweep driver killed with SIGKILL: its pool workers, busy with a task, end within
    a few seconds (before: they lived on until their task was done)."""
    import os
    import signal
    import subprocess
    import time

    src = str(Path(S.__file__).resolve().parents[2])  # this scorelab's sources, whatever the cwd
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    driver = subprocess.Popen([sys.executable, "-c", _DRIVER], stdout=subprocess.PIPE, text=True, env=env,
                              cwd=tmp_path)
    workers: list[int] = []
    try:
        workers = [int(p) for p in driver.stdout.readline().split()]  # type: ignore[union-attr]
        assert len(workers) == 2 and all(_alive(p) for p in workers)
        time.sleep(0.5)  # the workers have run their initializer and taken their task
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
        deadline = time.monotonic() + 5
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [p for p in workers if _alive(p)], "pool workers outlived their driver"
    finally:
        driver.kill()
        for p in workers:
            if _alive(p):
                os.kill(p, signal.SIGKILL)


def test_the_parent_watch_elsewhere_than_linux(tmp_path):
    """Where prctl is missing, a thread ends the worker once its parent is gone (here: a
    'parent' pid that is not its parent)."""
    import subprocess

    code = ("import sys, time\n"
            "from scorelab.sweep.backends import end_with_parent\n"
            "sys.platform = 'darwin'\n"
            "print('watching', flush=True); end_with_parent(-1); time.sleep(30); sys.exit(5)")
    src = str(Path(S.__file__).resolve().parents[2])
    r = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": src}, timeout=25, cwd=tmp_path,
                       capture_output=True, text=True)
    assert r.stdout == "watching\n" and r.returncode == 1, r.stderr


def test_ray_is_started_in_one_place(monkeypatch):
    """engine/ray_start.py starts Ray for sharded runs and sweeps; without Ray, each says
    which option needs it."""
    from scorelab.engine import ray_start

    src = Path(S.__file__).resolve().parents[1]
    callers = sorted(str(p.relative_to(src)) for p in src.rglob("*.py") if "ray.init(" in p.read_text())
    assert callers == ["engine/ray_start.py"]
    monkeypatch.setitem(sys.modules, "ray", None)
    for what in ("--shards", "--backend ray"):
        with pytest.raises(UsageError, match=f"^{what} needs Ray.*scorelab\\[ray\\]"):
            ray_start.start_ray(what)


def test_an_interrupted_sweep_resumes_where_it_stopped(reference, tmp_path, monkeypatch, runner):
    out = tmp_path / "resumed"
    monkeypatch.setenv(S.TEST_EXIT_ENV, KILLED)
    with pytest.raises(UsageError, match=f"task {KILLED} .*died 1 time "):  # no retries: the sweep stops
        S.run_sweep(spec(), out, workers=1, retries=0)
    monkeypatch.delenv(S.TEST_EXIT_ENV)
    work = S.work_path(out)
    assert not out.exists() and work.is_dir()
    done_before = sorted(p.name for p in (work / "runs").iterdir() if (p / "manifest.json").is_file())
    assert done_before == ["s000-r000", "s000-r001"]  # one worker: the tasks before the killed one
    stamps = {i: (work / "runs" / i / "manifest.json").stat().st_mtime_ns for i in done_before}
    with pytest.raises(UsageError, match="different sweep"):
        S.run_sweep(spec(replicates=3), out)
    r = runner.invoke(app, ["sweep", "--resume", str(out), "--workers", "2"])
    assert r.exit_code == 0, r.output
    assert "resuming" in r.output and "2 already complete" in r.output and "6 run now" in r.output
    res = S.SweepResult.open(out)
    complete_folder(res, 8)
    same_tables(res, reference)
    assert {i: (out / "runs" / i / "manifest.json").stat().st_mtime_ns for i in done_before} == stamps  # not rerun


# --------------------------------------------------------------------------- command line and report


def test_command_line_sweep_with_report(runner, tmp_path):
    data = dict(TINY, name="<i>tiny</i> & $x$")
    src = tmp_path / "xss.yaml"
    src.write_text(yaml.safe_dump(data, sort_keys=False))
    out = tmp_path / "cli"
    r = runner.invoke(app, ["sweep", str(src), "--vary", "population.people=150,250", "--seeds", "3,4", "--days", "3",
                            "--workers", "2", "--out", str(out), "--report", "--figure", "sanctions",
                            "--figure", "grade C share"])
    assert r.exit_code == 0, r.output
    assert "[2/4]" in r.output and "sanctions" in r.output and f"sweep: {out}" in r.output
    res = S.SweepResult.open(out)
    complete_folder(res, 4)
    assert res.runs.get_column("seed").to_list() == [3, 4, 3, 4]
    assert res.runs.get_column("days").to_list() == [3.0] * 4
    assert "--seeds 3,4" in res.info["command"]
    page = (out / "report.html").read_text()
    assert "default-src 'none'" in page and "<script" not in page.lower()
    assert "&lt;i&gt;tiny&lt;/i&gt; &amp; $x$" in page and "<i>tiny</i>" not in page
    assert page.count("<svg") == 2 and "data-plot='grade-c-share'" in page
    assert "population.people" in page and "3, 4 (the same for every setting)" in page
    assert f"{len(page.encode()):,} bytes" in page
    # `scorelab report` on a sweep folder writes the sweep's page
    r = runner.invoke(app, ["report", str(out), "--out", str(tmp_path / "again.html")])
    assert r.exit_code == 0, r.output
    again = (tmp_path / "again.html").read_text()
    assert "population.people" in again and again.count("<svg") >= 2
