"""Damaged results folders (issue 21): a folder whose manifest, scenario or tables are missing,
of the wrong type, truncated or altered is refused with one line naming the file when it is
named (``report``, ``Result.open``), and skipped with that line when listed (``runs``,
``query``), the other folders still listed and queried; never a traceback or a wrong figure.

One tiny run is written once for the module; each case copies and damages it. The
Hypothesis tests draw SCORELAB_FUZZ_EXAMPLES examples (default 15, derandomized); with
SCORELAB_FUZZ_EXAMPLES set (a nightly-size run, docs/results.md "Damaged files") the report
is also rendered with every single column of every table dropped.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import scorelab
from scorelab.atomic import digest
from scorelab.cli import app
from scorelab.results import Result
from scorelab.results_files import REQUIRED, scan_runs
from test_cli import one_line_error
from test_results import tiny

EXAMPLES = int(os.environ.get("SCORELAB_FUZZ_EXAMPLES", "15"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
DATA_FILES = ("scenario.yaml", "metrics.parquet", "groups.parquet", "scores.parquet", "people.parquet",
              "regions.parquet", "trajectories.parquet", "impact.parquet", "lending.parquet")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A complete results folder of a tiny run, with people.parquet, and lending.parquet (a
    refusal of loans)."""
    out = tmp_path_factory.mktemp("ok") / "run"
    sc = tiny(people=500, days=12)
    sc["consequences"]["loan"] = {"kind": "refusal", "service": "loans", "grades": ["C"], "attempts": "1 per month"}
    scorelab.run(scorelab.load(sc), out=out, people_state=True)
    return out


def copy(folder: Path, tmp: Path) -> Path:
    """A copy of the good run beside a second good copy: ``<tmp>/cN/run`` (to damage) and
    ``<tmp>/cN/good``."""
    dest = tmp / f"c{len(list(tmp.iterdir()))}"
    shutil.copytree(folder, dest / "run")
    shutil.copytree(folder, dest / "good")
    return dest / "run"


def reseal(run: Path) -> None:
    """Record the files' new digests in the manifest, as if written so."""
    m = json.loads((run / "manifest.json").read_text())
    m["files"] = {name: digest(run / name) for name in m["files"]}
    (run / "manifest.json").write_text(json.dumps(m))


def unverified(run: Path) -> None:
    """Drop the digests: a folder written before they were recorded."""
    m = json.loads((run / "manifest.json").read_text())
    del m["files"]
    (run / "manifest.json").write_text(json.dumps(m))


def refused_everywhere(run: Path, *needles: str) -> None:
    """``Result.open`` and ``report`` refuse the folder with one line (naming the needles);
    ``runs`` and ``query`` skip it with that line and still show the good folder beside it."""
    with pytest.raises(scorelab.UsageError) as e:
        Result.open(run)
    line = str(e.value)
    assert "\n" not in line and str(run) in line, line
    for n in needles:
        assert n in line, line
    one_line_error(CliRunner().invoke(app, ["report", str(run), "--out", str(run.parent / "r.html")]), *needles)
    assert not any(p.name.endswith(".tmp") or p.name == "r.html" for p in run.parent.iterdir())
    r = CliRunner().invoke(app, ["runs", str(run.parent)])
    assert r.exit_code == 0 and "Traceback" not in r.output, r.output
    found, damaged = scan_runs(run.parent, verify=True)
    assert [Path(m["path"]).name for m in found] == ["good"] and len(damaged) == 1 and str(run) in damaged[0]
    assert "good" in r.output


def _manifest(change: Any):
    def damage(run: Path) -> None:
        m = json.loads((run / "manifest.json").read_text())
        change(m)
        (run / "manifest.json").write_text(json.dumps(m))
    return damage


def _table(name: str, change: Any):
    def damage(run: Path) -> None:
        change(pl.read_parquet(run / name)).write_parquet(run / name)
    return damage


def _bytes(name: str, data: bytes):
    return lambda run: (run / name).write_bytes(data)


MANIFEST_CASES = {
    'days: "abc"': (_manifest(lambda m: m.__setitem__("days", "abc")), "manifest.json: days: input should be a valid number"),
    "people: null": (_manifest(lambda m: m.__setitem__("people", None)), "manifest.json: people:"),
    "seed: true": (_manifest(lambda m: m.__setitem__("seed", True)), "manifest.json: seed:"),
    "no run_id": (_manifest(lambda m: m.pop("run_id")), "manifest.json: run_id: missing"),
    "no names": (_manifest(lambda m: m.pop("names")), "manifest.json: names: missing"),
    "names.grades: 5": (_manifest(lambda m: m["names"].__setitem__("grades", 5)), "manifest.json: names.grades:"),
    "names.consequences.fine.sanction: 1": (
        _manifest(lambda m: m["names"]["consequences"]["fine"].__setitem__("sanction", 1)),
        "manifest.json: names.consequences.fine.sanction:"),
    "files.metrics.parquet: 3": (_manifest(lambda m: m["files"].__setitem__("metrics.parquet", 3)),
                                 "manifest.json: files.metrics.parquet:"),
    "a list": (_bytes("manifest.json", b"[]"), "not a scorelab results folder"),
    "not JSON": (_bytes("manifest.json", b'{"format": '), "manifest.json:1:"),
    "not UTF-8": (_bytes("manifest.json", b'{"format": "\xff"}'), "manifest.json: not UTF-8"),
}


@pytest.mark.parametrize("case", list(MANIFEST_CASES))
def test_a_wrong_manifest_is_refused_and_skipped(folder, tmp_path, case):
    damage, needle = MANIFEST_CASES[case]
    run = copy(folder, tmp_path)
    damage(run)
    refused_everywhere(run, needle)


FILE_CASES = {
    "scenario.yaml not UTF-8": (_bytes("scenario.yaml", b"name: \xff\xfe\n"), "scenario.yaml: not UTF-8"),
    "scenario.yaml a list": (_bytes("scenario.yaml", b"- 1\n- 2\n"), "scenario.yaml: expected the scenario's sections"),
    "scenario.yaml not YAML": (_bytes("scenario.yaml", b"a: [1, 2\n"), "scenario.yaml:"),
    "metrics without score.mean": (_table("metrics.parquet", lambda df: df.drop("score.mean")),
                                   "metrics.parquet: score.mean: missing column"),
    "metrics without a grade": (_table("metrics.parquet", lambda df: df.drop("grades.B")),
                                "metrics.parquet: grades.B: missing column"),
    "metrics with a text column": (_table("metrics.parquet", lambda df: df.with_columns(pl.col("events.x").cast(pl.String))),
                                   "metrics.parquet: events.x: a column of String"),
    "metrics a row short": (_table("metrics.parquet", lambda df: df.head(11)), "metrics.parquet: 11 rows"),
    "metrics with a NaN figure": (_table("metrics.parquet", lambda df: df.with_columns(
        pl.when(pl.col("step") == 3).then(float("nan")).otherwise(pl.col("score.mean")).alias("score.mean"))),
        "metrics.parquet: score.mean: not a finite number at step 3"),
    "groups without people": (_table("groups.parquet", lambda df: df.drop("people")), "groups.parquet: people: missing"),
    "scores with text scores": (_table("scores.parquet", lambda df: df.with_columns(pl.col("score").cast(pl.String))),
                                "scores.parquet: score:"),
    "metrics.parquet empty": (_bytes("metrics.parquet", b""), "metrics.parquet: unreadable Parquet file"),
    "people.parquet missing": (lambda run: (run / "people.parquet").unlink(), "people.parquet: missing"),
    "impact without per_1000": (_table("impact.parquet", lambda df: df.drop("per_1000")),
                                "impact.parquet: per_1000: missing column"),
    "impact with text ranks": (_table("impact.parquet", lambda df: df.with_columns(pl.col("rank").cast(pl.String))),
                               "impact.parquet: rank: a column of String"),
    "impact.parquet missing": (lambda run: (run / "impact.parquet").unlink(), "impact.parquet: missing"),
    "regions.parquet missing": (lambda run: (run / "regions.parquet").unlink(), "regions.parquet: missing"),
    "trajectories.parquet missing": (lambda run: (run / "trajectories.parquet").unlink(),
                                     "trajectories.parquet: missing"),
    "regions without records held": (_table("regions.parquet", lambda df: df.drop("records_held")),
                                     "regions.parquet: records_held: missing column"),
    "regions a row short": (_table("regions.parquet", lambda df: df.head(df.height - 1)),
                            "regions.parquet: 11 rows, not a row per step"),
    "lending.parquet missing": (lambda run: (run / "lending.parquet").unlink(), "lending.parquet: missing"),
    "lending without refusals": (_table("lending.parquet", lambda df: df.drop("loans_refused")),
                                 "lending.parquet: loans_refused: missing column"),
    "lending a row short": (_table("lending.parquet", lambda df: df.head(df.height - 1)),
                            "not a row per step (12 steps) of each group in each world"),
    "trajectories with text scores": (_table("trajectories.parquet",
                                             lambda df: df.with_columns(pl.col("score").cast(pl.String))),
                                      "trajectories.parquet: score:"),
}


@pytest.mark.parametrize("verified", [True, False], ids=["with digests", "without digests"])
@pytest.mark.parametrize("case", list(FILE_CASES))
def test_a_wrong_file_is_refused_and_skipped(folder, tmp_path, case, verified):
    """With the digests recorded, the damaged file is refused as altered; with its new digest
    recorded (a writer's bug) or in a folder written before digests, as what is wrong in it."""
    damage, needle = FILE_CASES[case]
    run = copy(folder, tmp_path)
    damage(run)
    if case.endswith("parquet missing"):
        refused_everywhere(run, needle)
        return
    if verified:
        refused_everywhere(run, case.split()[0].split(".")[0], "damaged")
        reseal(run)
    else:
        unverified(run)
    refused_everywhere(run, needle)


@FUZZ
@given(name=st.sampled_from(DATA_FILES), at=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7),
       truncate=st.booleans())
def test_a_truncated_or_flipped_file_is_refused(folder, tmp_path, name, at, bit, truncate):
    """Any file of the folder cut short or with one bit flipped: refused by ``Result.open``
    (the reader of ``report``), skipped by ``runs``'s scan."""
    run = copy(folder, tmp_path)
    data = bytearray((run / name).read_bytes())
    if truncate:
        data = data[: int(len(data) * at)]
    else:
        data[int(len(data) * at)] ^= 1 << bit
    (run / name).write_bytes(bytes(data))
    with pytest.raises(scorelab.UsageError) as e:
        Result.open(run)
    assert str(run / name) in str(e.value) and "\n" not in str(e.value)
    found, damaged = scan_runs(run.parent, verify=True)
    assert [Path(m["path"]).name for m in found] == ["good"] and len(damaged) == 1
    shutil.rmtree(run.parent)


@FUZZ
@given(at=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7))
def test_a_flipped_manifest_is_refused_or_harmless(folder, tmp_path, at, bit):
    """manifest.json with a bit flipped: refused with one line (the manifest's figures are
    checked against the tables), or (a space, a digit of a timing or of the date) read, and
    then every headline figure is the good folder's."""
    run = copy(folder, tmp_path)
    data = bytearray((run / "manifest.json").read_bytes())
    data[int(len(data) * at)] ^= 1 << bit
    (run / "manifest.json").write_bytes(bytes(data))
    try:
        r = Result.open(run)
    except scorelab.UsageError as e:
        assert "\n" not in str(e) and str(run) in str(e)
    else:
        assert r.summary() == Result.open(run.parent / "good").summary()
    shutil.rmtree(run.parent)


def test_query_skips_a_damaged_folder_and_queries_the_others(folder, tmp_path):
    run = copy(folder, tmp_path)
    (run / "metrics.parquet").write_bytes((run / "metrics.parquet").read_bytes()[:1000])
    r = CliRunner().invoke(app, ["query", "select count(distinct run_id) as n from metrics", "--runs", str(run.parent)])
    assert r.exit_code == 0, r.output
    assert f"skipping {run / 'metrics.parquet'}: damaged" in r.output
    assert r.output.strip().splitlines()[-2].strip("│ ") == "1"


def test_every_required_column_is_one_the_readers_need(folder):
    """The columns ``REQUIRED`` names exist in a fresh folder; every harm of the impact table
    is a column of the groups table (what a folder without impact.parquet is read from)."""
    from scorelab.impact import HARMS

    for table, columns in REQUIRED.items():
        schema = pl.read_parquet_schema(folder / f"{table}.parquet")
        assert set(columns) <= set(schema), table
    assert set(HARMS) <= set(pl.read_parquet_schema(folder / "groups.parquet"))


def _columns(folder: Path) -> list[tuple[str, str]]:
    return [(t, c) for t in ("metrics", "groups", "scores", "impact") for c in pl.read_parquet_schema(folder / f"{t}.parquet")]


@pytest.mark.skipif("SCORELAB_FUZZ_EXAMPLES" not in os.environ, reason="nightly size: set SCORELAB_FUZZ_EXAMPLES")
def test_a_report_without_any_one_column_is_written_or_refused(folder, tmp_path):
    """Every column of every table dropped in turn (a folder without digests): ``report``
    either writes the page or refuses the folder with one line; never a traceback. Nightly
    size (a report per column)."""
    for table, column in _columns(folder):
        run = copy(folder, tmp_path)
        unverified(run)
        _table(f"{table}.parquet", lambda df: df.drop(column))(run)
        r = CliRunner().invoke(app, ["report", str(run), "--out", str(run.parent / "r.html")])
        assert "Traceback" not in r.output and (r.exit_code == 0 or len(r.output.strip().splitlines()) == 1), \
            f"{table}.{column}: {r.output}"
        shutil.rmtree(run.parent)


def test_a_folder_of_version_3_is_read_without_impact_parquet(folder, tmp_path):
    """A folder written before impact.parquet (format version 3) is read: its impact table is
    computed from people.parquet, and without that from groups.parquet's axes."""
    run = copy(folder, tmp_path)
    (run / "impact.parquet").unlink()
    m = json.loads((run / "manifest.json").read_text())
    m["format_version"] = 3
    del m["files"]["impact.parquet"]
    (run / "manifest.json").write_text(json.dumps(m))
    assert Result.open(run).impact().equals(Result.open(folder).impact())
    (run / "people.parquet").unlink()
    m["people_state"] = False
    del m["files"]["people.parquet"]
    (run / "manifest.json").write_text(json.dumps(m))
    axes = set(Result.open(run).impact().get_column("axis").unique())
    assert axes == {"all", "group", "urban", "province", "city"}
    from scorelab.metrics import headline

    assert "worst-hit group (sanctions)" in headline(Result.open(run))
