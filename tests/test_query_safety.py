"""``scorelab query`` reads the run folders and nothing else (issue 21, items 8, 5 and 10).

SQL can neither reach the network (URLs, extensions installed or loaded on demand) nor the
file system outside the runs folder (reading, ``COPY ... TO``, ``ATTACH``), nor turn those
settings back on: each is refused with one line, and nothing is written. Normal queries
over the runs still answer. A run folder with a damaged Parquet file is skipped with one
warning line naming it, and the other runs answer. Empty SQL and a ``--limit`` below 1 are
one-line refusals.

Two runs of 200 people over 2 days are made once for the module."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest

from scorelab.cli import app
from test_cli import TINY, one_line_error

SECRET = "secret-outside-the-runs-folder"


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """``root/runs`` with runs ``a`` and ``b``; ``root/outside.csv`` holds SECRET."""
    import scorelab

    root = tmp_path_factory.mktemp("query")
    scenario = copy.deepcopy(TINY)
    scenario["population"]["people"] = 200
    scenario["run"]["days"] = 2
    for name, seed in (("a", 1), ("b", 2)):
        scorelab.run(scorelab.load(scenario, {"run.seed": seed}), out=root / "runs" / name)
    (root / "outside.csv").write_text(f"x\n{SECRET}\n")
    return root


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("sql, needle", [
    ("select * from read_csv('https://example.com/data.csv')", "https://example.com/data.csv"),
    ("select * from read_parquet('s3://bucket/x.parquet')", "s3://bucket"),
    ("install httpfs", "LOAD statements are refused"),
    ("load httpfs", "LOAD statements are refused"),
    ("select * from read_csv('{root}/outside.csv')", "outside.csv"),
    ("select * from read_text('{root}/runs/../outside.csv')", "outside.csv"),
    ("select * from glob('{root}/*')", "Permission"),
    ("copy (select 1) to '{root}/runs/copied.csv'", "COPY statements are refused"),
    ("select 1; copy metrics to '{root}/copied.csv'", "COPY statements are refused"),
    ("attach '{root}/new.db'", "ATTACH statements are refused"),
    ("set enable_external_access = true", "SET statements are refused"),
])
def test_network_outside_files_and_writing_are_refused(runner, root, sql, needle):
    before = files(root)
    r = runner.invoke(app, ["query", sql.format(root=root), "--runs", str(root / "runs")])
    one_line_error(r, "query:", needle)
    assert SECRET not in r.output and "download" not in r.output.lower()
    assert files(root) == before  # nothing written, not even inside the runs folder


def test_external_access_is_off(runner, root):
    """The setting as DuckDB reports it."""
    r = runner.invoke(app, ["query", "select * from duckdb_settings() where name = 'enable_external_access'",
                            "--runs", str(root / "runs")])
    assert r.exit_code == 0 and "false" in r.output, r.output


@pytest.mark.parametrize("sql, needles", [
    ("select run_id, count(*) as n from metrics group by run_id order by run_id", ["│ a      │ 2 │", "│ b      │ 2 │"]),
    ("select run_id, seed from runs order by seed", ["a", "b"]),
    ("describe metrics", ["score.mean"]),
    ("show tables", ["metrics", "runs"]),
    ("with g as (select * from groups) select count(*) as rows_of_groups from g", ["rows_of_groups"]),
    ("select count(*) as direct from read_parquet('{root}/runs/a/metrics.parquet')", ["direct", "│ 2 "]),
])
def test_normal_queries_still_work(runner, root, sql, needles):
    r = runner.invoke(app, ["query", sql.format(root=root), "--runs", str(root / "runs")])
    assert r.exit_code == 0, r.output
    for n in needles:
        assert n in r.output


@pytest.mark.parametrize("args, needle", [
    (["", ], "no SQL statement"),
    (["  ;  "], "no SQL statement"),
    (["/* only a comment */"], "no SQL statement"),
    (["select 1", "--limit", "-1"], "--limit: must be at least 1"),
    (["select 1", "--limit", "0"], "--limit: must be at least 1"),
])
def test_empty_sql_and_bad_limit(runner, root, args, needle):
    one_line_error(runner.invoke(app, ["query", *args, "--runs", str(root / "runs")]), needle)


def test_a_damaged_run_folder_is_skipped(runner, root, tmp_path):
    """Runs c (metrics.parquet not Parquet at all), d (groups.parquet cut in half) and e
    (metrics.parquet's pages overwritten, its footer intact) are skipped with one line
    each; a and b answer."""
    runs = tmp_path / "runs"
    shutil.copytree(root / "runs", runs)
    for name, damage in (("c", "garbage"), ("d", "truncated"), ("e", "pages")):
        shutil.copytree(runs / "a", runs / name)
        man = json.loads((runs / name / "manifest.json").read_text())
        (runs / name / "manifest.json").write_text(json.dumps({**man, "run_id": name}))
        target = runs / name / ("groups.parquet" if damage == "truncated" else "metrics.parquet")
        data = bytearray(target.read_bytes())
        if damage == "garbage":
            data = bytearray(b"not parquet" * 20)
        elif damage == "truncated":
            data = data[: len(data) // 2]
        else:
            data[4:1500] = b"\xab" * 1496
        target.write_bytes(bytes(data))
    r = runner.invoke(app, ["query", "select run_id, count(*) as n from metrics group by run_id order by run_id",
                            "--runs", str(runs)])
    assert r.exit_code == 0, r.output
    skipped = [line for line in r.output.splitlines() if line.startswith("skipping ")]
    named = sorted(n for line in skipped for n in "abcde"
                   if line.startswith((f"skipping {runs / n}:", f"skipping {runs / n}/")))  # the folder or its file
    assert len(skipped) == 3 and named == list("cde"), r.output
    assert all("damaged" in line for line in skipped)
    assert "│ a " in r.output and "│ b " in r.output and "│ c " not in r.output and "│ e " not in r.output
