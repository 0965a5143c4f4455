"""Docs that run (issue 22): every ```bash and ```python example in README.md and docs/ is
executed, in order, file by file, in a fresh folder, and must succeed. A stale example (a
renamed option, a preset that does not exist, a function that moved) fails CI.

Examples run at a small scale: a ``scorelab run``, ``sweep``, ``population`` or ``calibrate``
gets ``--set population.people=...`` instead of its ``--scale`` (and a short ``--days`` for
runs and sweeps); a calibration runs 2 trials. Python examples run as written, except for the
few sizes ``PYTHON_SMALLER`` shrinks (each replacement must still match the page). What is
not run says why in ``NOT_RUN`` or ``SET_UP``: the set-up commands (the README's two commands
are what CI itself runs), benchmarks, Ray clusters, a 100-million-person run.

Blocks meant to be read, not run (synopses, outputs, YAML) are ```text or ```yaml.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from scorelab.cli import app

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
PEOPLE, DAYS = 800, 5

#: Commands not run here, each with the reason (the exact command, comments stripped).
NOT_RUN = {
    "scorelab run --resume runs/nation": "resumes a run killed midway: tests/test_checkpoint.py kills runs and resumes them",
    "scorelab run rongcheng-2018 --shards 4": "Ray actors: tests/test_sharded.py runs sharded runs",
    "scorelab run national-2027 --shards 35 --address ray://head:10001": "needs a Ray cluster",
    "scorelab sweep --resume sweeps/random --backend ray --address auto": "needs a Ray cluster",
    "scorelab run rongcheng-2018 --set population.people=100000000 --set contacts.friends.storage=drawn "
    "--set contacts.online.storage=drawn --set run.burn_in=0 --no-memory-check":
        "100 million people: benchmarks/bench_memory.py measures it",
}
#: Commands whose first words say they are not run, and why.
SET_UP = {
    "python3 -m venv": "set-up: the tests run in the environment it makes",
    ".": "set-up (activating the environment)",
    "pip": "set-up: installing",
    "python -m pytest": "the test command itself",
    "python benchmarks/": "a benchmark: python benchmarks/run_all.py runs them, outside the tests",
    "/usr/bin/time": "100 million people: benchmarks/bench_memory.py measures it",
    "scorelab explore": "serves a page until stopped: tests/test_explore.py starts it and drives it in Chromium",
}
#: Options naming a Ray cluster: a sweep or run with them is not run.
CLUSTER = ("--address",)
#: (page, text in a Python example) -> its smaller stand-in.
PYTHON_SMALLER = {
    ("docs/calibration.md", 'sets={"population.people": 67_000},\n              trials=30, replicates=2'):
        'sets={"population.people": 6_700},\n              trials=2, replicates=1',
    ("docs/calibration.md", 'check("rongcheng-2018", "targets.yaml", sets={"population.people": 67_000})'):
        'check("rongcheng-2018", "targets.yaml", sets={"population.people": 6_700})',
    ("docs/population.md", "PopulationSpec(people=670_000)"): "PopulationSpec(people=20_000)",
    ("docs/contacts.md", "PopulationSpec(people=670_000)"): "PopulationSpec(people=20_000)",
    ("docs/contacts.md", 'scorelab.load("national-2027", scale=0.0001)'):
        'scorelab.load("national-2027", scale=0.00001)',
    ("docs/sweeps.md", 'overrides={"population.people": 5000, "run.days": 90}'):
        'overrides={"population.people": 800, "run.days": 5}',
    ("docs/presets/national-2027.md", "scorelab.load('national-2027', scale=0.0001)"):
        "scorelab.load('national-2027', {'run.burn_in': 0, 'run.days': 30}, scale=0.00001)",
    ("README.md", 'scorelab.load("rongcheng-2018", {"population.people": 50_000})'):
        'scorelab.load("rongcheng-2018", {"population.people": 5_000})',
    ("docs/calibration.md", 'evaluate("national-2027", "national-2027")'):
        'evaluate("national-2027", "national-2027", replicates=1, scale=0.00001)',
}
#: Files an example names as the reader's own, made in the example's folder.
MY_CITY = {"extends": "rongcheng-2018", "name": "my-city", "population": {"people": PEOPLE}}


def blocks(page: Path) -> list[tuple[int, str, str]]:
    """(line, language, text) of the page's ```bash and ```python blocks."""
    text = page.read_text(encoding="utf-8")
    return [(text[:m.start()].count("\n") + 1, m.group(1), m.group(2))
            for m in re.finditer(r"^```(bash|python)\n(.*?)^```", text, re.S | re.M)]


def commands(shell: str) -> list[list[str]]:
    """The commands of a shell block: continuation lines joined, comments dropped, ``&&``
    and ``;`` splitting a line into commands."""
    out: list[list[str]] = []
    for line in shell.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        current: list[str] = []
        for w in words + ["&&"]:
            if w in ("&&", ";"):
                if current:
                    out.append(current)
                current = []
            else:
                current.append(w)
    return out


def why_not_run(words: list[str]) -> str | None:
    line = shlex.join(words)
    if line in NOT_RUN:
        return NOT_RUN[line]
    for start, why in SET_UP.items():
        if line == start or line.startswith(start + " ") or (start.endswith("/") and line.startswith(start)):
            return why
    if any(w in CLUSTER for w in words):
        return "needs a Ray cluster"
    return None


def _drop(words: list[str], option: str) -> list[str]:
    out, skip = [], False
    for w in words:
        if skip:
            skip = False
        elif w == option:
            skip = True
        elif not w.startswith(option + "="):
            out.append(w)
    return out


def smaller(words: list[str]) -> list[str]:
    """A scorelab command at the tests' scale."""
    if len(words) < 3 or words[1] not in ("run", "sweep", "population", "calibrate") or "--resume" in words:
        return words
    out = _drop(words, "--scale")
    people = f"population.people={PEOPLE}"
    if any(w.startswith("population.people=") for w in out):
        out = [people if w.startswith("population.people=") else w for w in out]
    else:
        out += ["--set", people]
    if words[1] in ("run", "sweep"):
        out = _drop(out, "--days") + ["--days", str(DAYS), "--set", "run.burn_in=0"]
    for option, most in (("--replicates", 2), ("--samples", 3)):
        if option in out and words[1] != "calibrate":
            i = out.index(option) + 1
            out[i] = str(min(int(out[i]), most))
    if words[1] == "calibrate" and "--check" not in out:
        out = _drop(_drop(out, "--trials"), "--replicates") + ["--trials", "2", "--replicates", "1"]
    return out


def run_shell(words: list[str], where: str) -> None:
    if words[0] == "scorelab":
        r = CliRunner().invoke(app, smaller(words)[1:], catch_exceptions=False)
        assert r.exit_code == 0, f"{where}: {shlex.join(words)} exited {r.exit_code}:\n{r.output[-3000:]}"
        return
    if words[:2] == ["python", "-c"]:
        code = python_text(where.split(":")[0], words[2])
        r = subprocess.run([sys.executable, "-c", code, *words[3:]], capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, f"{where}: {shlex.join(words)}:\n{r.stderr[-3000:]}"
        return
    raise AssertionError(f"{where}: {shlex.join(words)}: not a command the docs test knows how to run; "
                         "run it here, or list it in NOT_RUN or SET_UP with the reason")


def python_text(page: str, text: str) -> str:
    for (where, old), new in PYTHON_SMALLER.items():
        if where == page and old in text:
            text = text.replace(old, new)
    return text


PAGES = [p for p in DOCS if blocks(p)]


def test_every_shrunk_example_is_still_on_its_page():
    for (page, old) in PYTHON_SMALLER:
        assert old in (REPO / page).read_text(encoding="utf-8"), f"{page}: the example changed; update PYTHON_SMALLER"
    said = {shlex.join(w) for p in PAGES for _, lang, t in blocks(p) if lang == "bash" for w in commands(t)}
    for line in NOT_RUN:
        assert line in said, f"NOT_RUN lists {line!r}, which no page shows any more"


def test_the_shell_parser_and_the_shrinking():
    assert commands("a b && c 'd e' # f\nscorelab run x \\\n  --scale 0.1") == [["a", "b"], ["c", "d e"],
                                                                              ["scorelab", "run", "x", "--scale", "0.1"]]
    assert smaller(["scorelab", "run", "x", "--scale", "0.1", "--days", "90", "--replicates", "5"]) == [
        "scorelab", "run", "x", "--replicates", "2", "--set", f"population.people={PEOPLE}", "--days", str(DAYS),
        "--set", "run.burn_in=0"]
    assert why_not_run(["pip", "install", "-e", "."]) and why_not_run(["python", "benchmarks/bench_ab.py"])
    assert why_not_run(["scorelab", "run", "x"]) is None


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(REPO)) for p in PAGES])
def test_the_examples_of_a_page_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.symlink(REPO / "examples", tmp_path / "examples")
    (tmp_path / "targets.yaml").write_bytes((REPO / "examples/calibration/blacklist-targets.yaml").read_bytes())
    for name in ("my-city.yaml", "city.yaml", "other.yaml"):
        (tmp_path / name).write_text(yaml.safe_dump({**MY_CITY, "name": name[:-5]}), encoding="utf-8")
    rel = str(page.relative_to(REPO))
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for line, lang, text in blocks(page):
        where = f"{rel}:{line}"
        if lang == "python":
            exec(compile(python_text(rel, text), where, "exec"), namespace)  # noqa: S102 (the docs' own examples)
            continue
        for words in commands(text):
            if why_not_run(words) is None:
                run_shell(words, where)
    import matplotlib.pyplot as plt

    plt.close("all")
