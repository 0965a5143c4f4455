"""No name reaches the terminal raw (issue 21, item 4).

Hostile names (the scenario's, groups', grades' and so metrics' names, a run folder's name,
a sweep's values and keys) go through validate, show, run, runs, query, report and sweep:
every command exits as it should, without a traceback, shows markup such as ``[/]`` and
``[link=...]`` as it is (rich neither fails on it nor eats it), and never writes the raw
control characters (ESC, BEL, NUL) or the bidirectional override U+202E: they appear as
their escapes (``\\x1b``, ``\\u202e``).

Runs are tiny (200 people, 2 days); the sweep runs one worker process."""

from __future__ import annotations

import ast
import copy
from pathlib import Path

import pytest
import yaml

from scorelab.cli import app
from scorelab.cli.common import safe
from test_cli import TINY

#: Markup rich would read, an SGR and an OSC 8 hyperlink sequence, NUL, a bidi override, an emoji code.
HOSTILE = "[/]\x1b[31mred\x1b]8;;https://example.com\x07link\x00\u202eevil[link=https://example.com]x[/link]:smile:"
#: A run folder's name (no NUL or slash in a file name).
FOLDER = "run-[b]\x1b]0;title\x07-\u202eevil"
RAW = ("\x1b", "\x07", "\x00", "\u202e")
SHOWN = ("[/]\\x1b[31mred\\x1b]8;;https://example.com\\x07link\\x00\\u202eevil"
         "[link=https://example.com]x[/link]:smile:")


def hostile_scenario() -> dict:
    s = copy.deepcopy(TINY)
    s["name"] = HOSTILE
    s["population"] = {"people": 200, "groups": {"maj" + HOSTILE: 0.9, "min[/]": 0.1}}
    s["grades"] = [{"name": "A" + HOSTILE, "from": 1000}, {"name": "B", "from": 990, "below": 1000},
                   {"name": "C[/]", "below": 990}]
    s["consequences"]["fine"]["grades"] = ["C[/]"]
    s["run"]["days"] = 2
    return s


def clean(r, code: int = 0) -> str:
    """The command exited with ``code``, without a traceback or any raw control character."""
    assert r.exit_code == code, r.output
    assert "Traceback" not in r.output, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    for ch in RAW:
        assert ch not in r.output, (repr(ch), r.output)
    return r.output


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """The hostile scenario file and one run of it in a runs folder, in a folder named FOLDER."""
    from typer.testing import CliRunner

    root = tmp_path_factory.mktemp("hostile")
    scen = root / "hostile.yaml"
    scen.write_text(yaml.safe_dump(hostile_scenario(), sort_keys=False, allow_unicode=False))
    runs = root / "runs"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COLUMNS", "400")
        r = CliRunner().invoke(app, ["run", str(scen), "--out", str(runs / FOLDER)], color=True)
    return {"scenario": scen, "runs": runs, "run": runs / FOLDER, "output": r}


@pytest.fixture(autouse=True)
def wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # tables unwrapped: a name is shown on one line


def invoke(runner, *args: str):
    return runner.invoke(app, list(args), color=True)  # color: click strips nothing, as on a terminal


def test_safe_escapes_what_a_terminal_acts_on():
    assert safe(HOSTILE) == SHOWN
    assert safe("中文 name, ü") == "中文 name, ü"
    assert safe("a\nb\tc\udcff\u2028") == "a\\nb\\tc\\udcff\\u2028"


def test_validate_and_show(runner, world, tmp_path):
    """show prints YAML that reads back to the same name; validate's problems are escaped."""
    clean(invoke(runner, "validate", str(world["scenario"])))
    out = clean(invoke(runner, "show", str(world["scenario"])))
    assert yaml.safe_load(out)["name"] == HOSTILE
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"population": {"pe\x1b]0;t\x07ople" + "\u202e": 5}}, allow_unicode=False))
    out = clean(invoke(runner, "validate", str(bad)), code=2)
    assert "pe\\x1b]0;t\\x07ople\\u202e" in out


def test_run(world):
    """run prints the hostile name in its first line and its summary; grade and group names too."""
    out = clean(world["output"])
    assert (world["run"] / "manifest.json").is_file()
    assert SHOWN in out and "[link=https://example.com]x[/link]" in out
    assert f"grade A{SHOWN} share" in out


def test_runs(runner, world):
    out = clean(invoke(runner, "runs", str(world["runs"])))
    assert safe(FOLDER) in out and SHOWN in out


@pytest.mark.parametrize("sql, expected", [
    ("select run_id, scenario, path from runs", [SHOWN, safe(FOLDER)]),
    ('select distinct "group" from groups', ["maj" + SHOWN, "min[/]"]),
    ("select columns('^grades') from metrics limit 1", [f"grades.A{SHOWN}", "grades.C[/]"]),
    ('select 1 as "[/]\x1b[2J\u202e"', ["[/]\\x1b[2J\\u202e"]),
])
def test_query(runner, world, sql, expected):
    out = clean(invoke(runner, "query", sql, "--runs", str(world["runs"])))
    for text in expected:
        assert text in out


def test_query_error_naming_a_hostile_column(runner, world):
    out = clean(invoke(runner, "query", 'select "\x1b[2J[/]" from metrics', "--runs", str(world["runs"])), code=2)
    assert len(out.strip().splitlines()) == 1 and "\\x1b[2J[/]" in out


def test_report(runner, world, tmp_path):
    """report's one-line failure names the folder escaped (rendering a report is left to
    tests/test_report.py: it takes seconds)."""
    out = clean(invoke(runner, "report", str(world["runs"] / (FOLDER + "-missing")), "--out",
                       str(tmp_path / "r.html")), code=2)
    assert len(out.strip().splitlines()) == 1 and safe(FOLDER) + "-missing" in out


def test_sweep(runner, world, tmp_path):
    """A sweep of the hostile scenario whose varied value is hostile too; a hostile --vary key
    is a one-line error."""
    out = clean(invoke(runner, "sweep", str(world["scenario"]), "--vary", "name=evil\x1b]0;t\x07\u202e[/]",
                       "--workers", "1", "--out", str(tmp_path / "sw")))
    assert SHOWN in out and "evil\\x1b]0;t\\x07\\u202e[/]" in out and (tmp_path / "sw" / "runs.parquet").is_file()
    out = clean(invoke(runner, "sweep", str(world["scenario"]), "--vary", "x[/]\x1b]0;t\x07.y=1,2",
                       "--out", str(tmp_path / "sw2")), code=2)
    assert len(out.strip().splitlines()) == 1 and "x[/]\\x1b]0;t\\x07.y" in out


def test_commands_print_only_through_common():
    """Every command prints through cli/common.py (safe, say, fail, terminal, table): no other
    module of the command line calls typer.echo, print, or builds a rich Console or Table."""
    cli = Path(__file__).resolve().parents[1] / "src" / "scorelab" / "cli"
    found = []
    for path in sorted(cli.glob("*.py")):
        if path.name == "common.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            if isinstance(f, ast.Name) and f.id in ("print", "Console", "Table") or \
                    isinstance(f, ast.Attribute) and f.attr in ("echo", "secho", "Console", "Table"):
                found.append(f"{path.name}:{node.lineno}")
    assert not found, found


def test_a_run_folder_named_with_glob_characters_reads_back(world):
    """A folder named with ``[b]`` is a path, not a glob pattern: polars read it as a pattern
    (``report`` failed: "invalid glob pattern")."""
    from scorelab.tables import read_folder

    folder = read_folder(world["run"])
    assert folder.tables["metrics"].height == 2


def test_an_undefined_name_beside_a_name_with_a_line_break_is_one_line(runner, tmp_path):
    """The list of defined names in "undefined grade ...; defined: ..." shows a name that holds
    a line break as its escape (found by tests/test_cli_fuzz.py)."""
    s = copy.deepcopy(TINY)
    s["grades"] = [{"name": "A", "from": 1000}, {"name": "a\nb", "below": 1000}]
    s["consequences"]["fine"]["grades"] = ["L5"]
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(s), encoding="utf-8")
    r = runner.invoke(app, ["validate", str(path)])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    assert "undefined grade 'L5'" in r.output and "'a\\nb'" in r.output, r.output
