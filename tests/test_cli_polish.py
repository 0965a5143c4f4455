"""Everyday polish of the command line (issue 22, item 6): --version, show --section, validate
with --set and --scale, query --format and the hint for unquoted metric names, tables that are
never cut when piped, the extras a command needs named in one line, Result.to_pandas()."""

from __future__ import annotations

import copy
import csv
import io
import json
import sys
from pathlib import Path

import pytest
import yaml

import scorelab
from scorelab.cli import app
from test_cli import TINY, one_line_error


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("polish") / "runs"
    scenario = copy.deepcopy(TINY)
    scenario["population"]["people"] = 200
    scenario["run"]["days"] = 3
    scorelab.run(scorelab.load(scenario), out=root / "a")
    return root


@pytest.fixture
def tiny_file(tmp_path) -> Path:
    """A 200-person, 3-day scenario file."""
    path = tmp_path / "tiny.yaml"
    scenario = copy.deepcopy(TINY)
    scenario["population"]["people"] = 200
    scenario["run"]["days"] = 3
    path.write_text(yaml.safe_dump(scenario))
    return path


def test_version(runner):
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0
    assert r.output.strip() == f"scorelab {scorelab.__version__}"


def test_show_prints_only_the_sections_asked(runner):
    r = runner.invoke(app, ["show", "rongcheng-2018", "--section", "run", "--section", "rollout"])
    assert r.exit_code == 0, r.output
    assert set(yaml.safe_load(r.output)) == {"run", "rollout"}
    one_line_error(runner.invoke(app, ["show", "rongcheng-2018", "--section", "scorig"]),
                   "--section scorig", "no such section", "scoring")


def test_show_applies_set(runner):
    r = runner.invoke(app, ["show", "rongcheng-2018", "--section", "run", "--set", "run.days=12"])
    assert yaml.safe_load(r.output)["run"]["days"] == 12


def test_validate_takes_what_run_takes(runner):
    """A --set that run would refuse, validate refuses too, at --set; one that run accepts passes."""
    one_line_error(runner.invoke(app, ["validate", "rongcheng-2018", "--set", "run.days=-1"]),
                   "--set", "run.days", ">= 0")
    one_line_error(runner.invoke(app, ["validate", "rongcheng-2018", "--set", "scoring.bsae=3"]),
                   "--set", "scoring.bsae", "unknown field")
    one_line_error(runner.invoke(app, ["validate", "rongcheng-2018", "--scale", "0"]), "--scale")
    r = runner.invoke(app, ["validate", "rongcheng-2018", "--set", "run.days=10", "--scale", "0.01"])
    assert r.exit_code == 0 and r.output.strip() == "rongcheng-2018: ok"


def test_query_formats(runner, runs):
    sql = 'select step, "score.mean" from metrics order by step'
    r = runner.invoke(app, ["query", sql, "--runs", str(runs), "--format", "csv"])
    assert r.exit_code == 0, r.output
    rows = list(csv.reader(io.StringIO(r.output)))
    assert rows[0] == ["step", "score.mean"] and [int(x[0]) for x in rows[1:]] == [0, 1, 2]
    r = runner.invoke(app, ["query", sql, "--runs", str(runs), "--format", "json"])
    objs = [json.loads(line) for line in r.output.splitlines()]
    assert [o["step"] for o in objs] == [0, 1, 2] and all(isinstance(o["score.mean"], float) for o in objs)
    one_line_error(runner.invoke(app, ["query", sql, "--runs", str(runs), "--format", "xml"]),
                   "--format xml", "csv", "json")


def test_query_hints_at_quoting_a_dotted_metric_name(runner, runs):
    r = runner.invoke(app, ["query", "select score.mean from metrics", "--runs", str(runs)])
    one_line_error(r, "query:", 'quote them, e.g. "score.mean"')


def test_a_wide_table_piped_is_not_cut(runner, runs):
    """Every metric column of a run, piped (not a terminal): each column name printed whole."""
    r = runner.invoke(app, ["query", "select * from metrics limit 1", "--runs", str(runs)])
    assert r.exit_code == 0, r.output
    names = [c for c in scorelab.Result.open(runs / "a").metrics.columns]
    assert "…" not in r.output
    for n in names:
        assert n in r.output, n


def test_a_missing_extra_is_named(runner, runs, monkeypatch):
    """A minimal install lacks DuckDB and Optuna: the command says which extra to install."""
    monkeypatch.setitem(sys.modules, "duckdb", None)  # (import fails as if not installed)
    one_line_error(runner.invoke(app, ["query", "select 1", "--runs", str(runs)]),
                   "scorelab query needs duckdb", "pip install 'scorelab[sql]'")
    monkeypatch.setitem(sys.modules, "optuna", None)
    from scorelab.errors import UsageError, require_extra

    with pytest.raises(UsageError, match=r"scorelab\[calibrate\]"):
        require_extra("optuna", "calibrate", "calibration")


def test_to_pandas(runs):
    r = scorelab.Result.open(runs / "a")
    df = r.to_pandas()
    assert list(df.columns) == r.metrics.columns and len(df) == r.metrics.height
    assert r.to_pandas("groups")["people"].sum() == 200
    with pytest.raises(scorelab.UsageError, match="tables: metrics"):
        r.to_pandas("nope")


def test_run_prints_the_verdict_before_the_table(runner, tmp_path, tiny_file):
    path = tiny_file
    r = runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "one")])
    assert r.exit_code == 0, r.output
    out = r.output
    verdict = out.index("What the system did, against its counterfactual twin:")
    assert verdict < out.index("records, true")
    said = [line for line in out[verdict:].splitlines()[1:4]]
    assert all(line.startswith("- ") for line in said), said
    assert scorelab.Result.open(tmp_path / "one").verdict() == [line[2:] for line in said]


def test_run_replicates_writes_one_folder_per_seed_and_prints_intervals(runner, tmp_path, tiny_file):
    path = tiny_file
    out = tmp_path / "reps"
    r = runner.invoke(app, ["run", str(path), "--replicates", "2", "--seed", "7", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == ["seed-7", "seed-8"]
    assert "means of 2 seeds, 95 % intervals" in r.output and "95 % interval" in r.output
    assert scorelab.Result.open(out / "seed-8").seed == 8
    # each replicate is the run of its seed
    single = scorelab.run(scorelab.load(str(path), {"run.seed": 8}))
    assert scorelab.Result.open(out / "seed-8").summary() == single.summary()
    # the report of the folder reports them together, as replicates
    page = tmp_path / "reps.html"
    r = runner.invoke(app, ["report", str(out), "--out", str(page)])
    assert r.exit_code == 0, r.output
    assert "2 replicates" in page.read_text(encoding="utf-8")


@pytest.mark.parametrize("args, needle", [
    (["--replicates", "0"], "--replicates: must be 1 to 100"),
    (["--replicates", "3", "--checkpoint-every", "2"], "--replicates: not with --checkpoint-every"),
])
def test_run_replicates_refuses_bad_values_in_one_line(runner, args, needle):
    one_line_error(runner.invoke(app, ["run", "rongcheng-2018", *args]), needle)


def test_help_text_reflows_to_the_terminal(runner):
    """Help paragraphs are reflowed to the width, not kept at the source's line breaks."""
    wide = runner.invoke(app, ["report", "--help"], env={"COLUMNS": "160"}, terminal_width=160)
    narrow = runner.invoke(app, ["report", "--help"], env={"COLUMNS": "60"}, terminal_width=60)
    assert wide.exit_code == narrow.exit_code == 0
    assert "of one or more runs; with two or more, a side-by-side comparison" in wide.output
    assert max(len(line) for line in narrow.output.splitlines()) <= 60


def test_a_terminal_sees_a_spinner_that_says_the_kernels_compile():
    import time

    from rich.console import Console

    from scorelab.cli.run import _with_progress
    from scorelab.runner import COMPILING

    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    said = []

    def work(progress, compiling):
        compiling()
        time.sleep(0.3)  # (the live display refreshes 10 times a second)
        said.append("compiled")
        progress(1, 2)
        progress(2, 2)
        return 42

    assert _with_progress(console, work) == 42 and said == ["compiled"]
    import re

    text = " ".join(re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", " ", out.getvalue()).split())
    assert COMPILING in text and "compiling the kernels (first run only)" in text and "day loop" in text
    piped = io.StringIO()
    assert _with_progress(Console(file=piped, force_terminal=False, width=120), work) == 42
    assert COMPILING in " ".join(piped.getvalue().split()) and "step 2/2" in piped.getvalue()
