"""The whole command line under fuzzed scenarios and options (issue 21): whatever a scenario file
or an option holds, ``scorelab validate`` and ``scorelab run`` answer with one line per problem
or finish, and never with a traceback; and what ``validate`` accepts, ``run`` runs or refuses
with one line.

The scenarios are built-in scenarios mutated by ``scenario_strategies.mutated_scenario``
(extreme numbers, non-finite numbers, rates and durations past their bounds, hostile text,
sections switched on and off, entries added under hostile names), written as YAML files. Each
file is checked with ``scorelab validate`` and run with ``scorelab run FILE --set run.days=3
--set run.burn_in=0 --set population.people=N --out DIR`` (N of 1, 40 or 300: a few steps at
tiny size) through the command's entry point in this process. The options are fuzzed
``--set`` keys and values, ``--days``, ``--seed``, ``--scale`` and ``--checkpoint-every``, on a
tiny valid scenario.

Size: in CI (derandomized: the same inputs on every run) ``CI_EXAMPLES`` files of the smaller
built-in scenarios and 60 sets of options, about 15 s on two cores with a warm kernel cache;
``SCORELAB_FUZZ=nightly`` draws new ones every night, ``NIGHTLY_EXAMPLES`` files of every
built-in scenario (about 25 minutes) and 10,000 sets of options (about 6 minutes):
``SCORELAB_FUZZ=nightly python -m pytest tests/test_cli_fuzz.py``.

The inputs of issue 21 that crashed ``run`` after ``validate`` had accepted them, or crashed
``validate`` itself, are the first tests, each as a command line.
"""

from __future__ import annotations

import functools
import re
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from unittest import mock

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from scenario_strategies import NIGHTLY, SETTINGS, SMALL_PRESETS, fuzz_examples, mutated_scenario, scenario_yaml
from typer.main import get_command
from typer.testing import CliRunner

import scorelab
from scorelab.cli import app
from scorelab.cli import common as cli_common
from scorelab.errors import ScenarioError

CI_EXAMPLES = 150
#: Whether the commands print names as they are, never reading them as rich markup (issue 21,
#: item 4: ``cli.common.terminal``). Until they do, a name such as ``[/]`` stops ``run`` with
#: rich's MarkupError, and the fuzz leaves square brackets out of its hostile names.
MARKUP_SAFE = hasattr(cli_common, "terminal")
NIGHTLY_EXAMPLES = 10_000
WORK = Path(tempfile.mkdtemp(prefix="scorelab-cli-fuzz-"))
#: What the fuzzed files came to: refused by validate, or run to the end, or refused by run.
OUTCOMES: Counter[str] = Counter()

TINY = {
    "name": "tiny",
    "population": {"people": 300},
    "behaviours": {"x": {"rate": "0.1 per day"}},
    "channels": {"police": {"observes": ["x"]}},
    "scoring": {"min_age": 0, "rules": [{"behaviour": "x", "points": -5}]},
    "grades": [{"name": "A", "from": 990}, {"name": "C", "below": 990}],
    "lists": {"black": {"entry": {"behaviours": ["x"]}}},
    "flags": {"suspicious": {"rule": {"behaviours": ["x"]}, "capacity": "2 per day"}},
    "run": {"days": 3, "seed": 7},
}
#: Lines ``scorelab run`` writes to stderr on its way (progress, warnings), not problems.
PROGRESS = re.compile(r"^(.*: building [0-9,]+ people|built in |step [0-9]+/|warning: too few events)")


def problem_lines(text: str) -> list[str]:
    """The lines of stderr that are not progress."""
    return [line for line in text.splitlines() if line.strip() and not PROGRESS.match(line)]


@functools.cache
def _command(typer_app):
    """The click command of the app, built once (typer builds it again for every invocation)."""
    return get_command(typer_app)


#: Memory the runs may plan to use (``SCORELAB_MEMORY``): a fuzzed run that would make
#: billions of records (40 people acting 1,000 times a day for 38,337 days) is refused by the
#: memory check in one line instead of running for hours.
MEMORY = "512M"


def invoke(args: list[str]):
    with mock.patch("typer.testing._get_command", _command):
        result = CliRunner().invoke(app, args, env={"SCORELAB_MEMORY": MEMORY})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"scorelab {' '.join(args)}: traceback") from result.exception
    assert "Traceback" not in result.output, result.output
    return result


def check_refusal(result, min_lines: int = 1, max_lines: int = 1) -> list[str]:
    """Exit 2, and between ``min_lines`` and ``max_lines`` problem lines (each a located problem
    or a one-line refusal), no more."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = problem_lines(result.stderr)
    assert min_lines <= len(lines) <= max_lines, result.stderr
    return lines


def tiny_file(tmp_path: Path, **sets) -> Path:
    data = yaml.safe_load(yaml.safe_dump(TINY))
    for dotted, value in sets.items():
        node = data
        *parents, last = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# ------------------------------------------------------------------ issue 21's inputs


@pytest.mark.parametrize("sets, field, message", [
    ({"channels.police.delay": "1e19 days"}, "channels.police.delay", "at most 1e+06 days"),
    ({"channels.police.retention": "1e300 days"}, "channels.police.retention", "at most 1e+06 days"),
    ({"behaviours.x.rate": "1e400 per year"}, "behaviours.x.rate", "finite"),
    ({"behaviours.x.rate": "1e300 per day"}, "behaviours.x.rate", "at most 1000 per day"),
    ({"run.seed": 2**64}, "run.seed", "at most 9223372036854775807"),
    ({"run.seed": 2**63}, "run.seed", "at most 9223372036854775807"),
    ({"flags.suspicious.capacity": "1e300 per day"}, "flags.suspicious.capacity", "at most 1e+12 per day"),
    ({"population.firms": {"mean_size": 1.0e-300}}, "population.firms.mean_size", "at least 1"),
    ({"responses": {"awareness": {"growth": "1e400 per year"}}}, "responses.awareness.growth", "finite"),
    ({"run.step": "1e-320 days"}, "run.step", "at least 0.001 days"),
    ({"run.days": int("9" * 400)}, "run.days", "at most 2147483647"),
])
def test_values_run_could_not_honour_are_refused_by_validate(tmp_path, sets, field, message):
    """Values ``validate`` used to accept and ``run`` then crashed on (OverflowError, NaN to
    integer, negative dimensions, an allocation, a seed the results cannot store), or that
    crashed ``validate`` itself: both commands now refuse them with one located line."""
    path = tiny_file(tmp_path, **sets)
    for args in (["validate", str(path)], ["run", str(path), "--out", str(tmp_path / "out")]):
        (line,) = check_refusal(invoke(args))
        assert f": {field}: " in line and message in line, line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("scale", ["inf", "-inf", "nan", "0", "1e308"])
def test_non_finite_or_absurd_scale_is_one_line(tmp_path, scale):
    """``--scale inf`` used to raise OverflowError; a scale that is not a finite number > 0, or
    makes a population past the bound, is one line."""
    (line,) = check_refusal(invoke(["run", str(tiny_file(tmp_path)), "--scale", scale, "--out", str(tmp_path / "o")]))
    assert "scale" in line or "population.people" in line, line


def test_seed_past_63_bits_never_loses_a_finished_run(tmp_path):
    """A seed between 2**63 and 2**64 - 1 used to run to the end and then fail writing the
    results (lost); it is refused before any work, and the largest allowed seed runs and writes."""
    (line,) = check_refusal(invoke(["run", str(tiny_file(tmp_path)), "--seed", str(2**64 - 1), "--out",
                                    str(tmp_path / "a")]))
    assert "run.seed" in line
    r = invoke(["run", str(tiny_file(tmp_path)), "--seed", str(2**63 - 1), "--out", str(tmp_path / "b")])
    assert r.exit_code == 0, r.output
    assert scorelab.Result.open(tmp_path / "b").seed == 2**63 - 1


def test_values_at_their_bounds_run(tmp_path):
    """A scenario with every kind of bound reached (rates at their most, durations at their
    longest, the largest seed and capacity, the smallest step and firm size) runs and writes
    its results: the bounds are ones the engine honours."""
    path = tiny_file(tmp_path, **{
        "behaviours.x.rate": "1000 per day", "channels.police": {"observes": ["x"], "delay": "1000000 days",
                                                                  "retention": "1000000 days"},
        "flags.suspicious.capacity": "1e12 per day", "run.seed": 2**63 - 1, "run.step": 0.001, "run.days": 1,
        "population.firms": {"mean_size": 1.0, "size_sigma": 2.5}, "scoring.rules": [{"behaviour": "x", "points": 1e12}],
        "lists.black.exit": {"after": "1000000 days", "probability": "1000 per day"},
        "population.income": {"median_urban": 1e12, "sigma": 5.0},
    })
    r = invoke(["run", str(path), "--out", str(tmp_path / "o"), "--set", "population.people=40"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "o" / "manifest.json").is_file()


def test_largest_sizes_are_refused_before_any_allocation(tmp_path):
    """The largest population with every rate, degree and duration at its bound: the memory
    estimate stays a finite number and ``run`` refuses in one line before building anything."""
    path = tiny_file(tmp_path, **{
        "population.people": 2**31 - 1, "behaviours.x.rate": "1000 per day", "run.days": 65_535,
        "channels.police": {"observes": ["x"], "delay": "1000000 days"},
        "contacts": {"friends": {"degree": {"distribution": "poisson", "mean": 10_000}, "same_city": 0.5,
                                 "same_group": 0.5}},
        "scoring.social": {"weight": 0.5, "layers": ["friends"]},
    })
    (line,) = check_refusal(invoke(["run", str(path), "--out", str(tmp_path / "o")]))
    assert "of memory" in line and "inf" not in line and "nan" not in line, line
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------ the fuzz


@settings(max_examples=fuzz_examples(CI_EXAMPLES, NIGHTLY_EXAMPLES), **SETTINGS)
@given(data=mutated_scenario(presets=None if NIGHTLY else SMALL_PRESETS, markup=MARKUP_SAFE),
       people=st.sampled_from([1, 40, 300]))
def test_fuzzed_scenarios_validate_and_run_or_refuse_in_one_line(data, people):
    """A mutated built-in scenario: ``validate`` prints one located line per problem (exit 2)
    or ``ok``; ``run`` (3 days, tiny) refuses with the same lines, or, when the file is valid,
    finishes with a results folder or refuses with one line. Never a traceback, never a
    half-written results folder."""
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    path, out = WORK / "fuzz.yaml", WORK / "out"
    path.write_text(scenario_yaml(data), encoding="utf-8")
    overrides = {"run.days": 3, "run.burn_in": 0, "population.people": people}
    checked = invoke(["validate", str(path)])
    OUTCOMES["invalid" if checked.exit_code else "valid"] += 1
    if checked.exit_code != 0:
        lines = check_refusal(checked, 1, 10**6)
        assert all(line.startswith(f"{path}:") for line in lines), lines
    else:  # (then a note per rounding it did, e.g. days that are not whole steps)
        lines = checked.stdout.strip().splitlines()
        assert lines[0] == f"{path}: ok" and all(x.startswith(f"{path}: note: ") for x in lines[1:]), checked.output
    sets = [x for k, v in overrides.items() for x in ("--set", f"{k}={v}")]
    ran = invoke(["run", str(path), *sets, "--out", str(out)])
    OUTCOMES["ran" if ran.exit_code == 0 else "refused by run"] += 1
    if ran.exit_code == 0:
        assert (out / "manifest.json").is_file(), ran.output
    else:  # a scenario that loads with the run's overrides is refused in one line, else one per problem
        check_refusal(ran, 1, 1 if loads(path, overrides) else 10**6)
        assert not out.exists() or not any(out.iterdir()), sorted(p.name for p in out.iterdir())


def loads(path: Path, overrides: dict | None = None) -> bool:
    """Whether the file loads (with ``overrides``); every problem is one line."""
    try:
        scorelab.load(str(path), overrides)
        return True
    except ScenarioError as e:
        assert all("\n" not in str(p) and "\r" not in str(p) for p in e.problems), e.problems
        return False


SET_KEYS = st.one_of(
    st.sampled_from(["run.days", "run.seed", "run.step", "run.burn_in", "population.people", "population.represents",
                     "behaviours.x.rate", "behaviours.x.modifiers", "channels.police.delay", "scoring.rules.0.points",
                     "scoring.rules.9.points", "grades.0.from", "flags.suspicious.capacity", "contacts.friends.storage",
                     "lists.black.entry.behaviours.0", "name", "extends", "run", "x.y.z", "", ".", "..", "run.",
                     "run..days", "behaviours.x.rate.per", "0", "scoring.rules.-1.points"]),
    st.text(max_size=10),
)
SET_VALUES = st.one_of(
    st.sampled_from(["", "1e400", ".inf", ".nan", "-1", "1e5", "2e-320", "9" * 400, str(2**64), "!!int x",
                     "!!float x", "!!timestamp 2018-13-45", "!!python/name:os.system", "[" * 3000, "&a [*a]",
                     "!!binary aGk=", "{a: 1}", "[1, 2]", "no", "~", "1 per day", "1e400 per year", "1e19 days",
                     "/etc/shadow", "\x00", "\ud800"]),
    st.text(max_size=12),
)
#: Options a run accepts, at their extremes: the fuzz runs some scenarios to the end.
GOOD_OPTIONS = st.sampled_from([
    ("--days", "0"), ("--days", "1"), ("--seed", str(2**63 - 1)), ("--seed", "0"), ("--scale", "1e-9"),
    ("--scale", "2.5"), ("--checkpoint-every", "1"), ("--set", "run.step=0.001"), ("--set", "run.step=365.25"),
    ("--set", "run.burn_in=2"), ("--set", "behaviours.x.rate=1000 per day"), ("--set", "name=1e5"),
    ("--set", "flags.suspicious.capacity=1e12 per day"), ("--set", "population.represents=1"),
    ("--set", "channels.police.delay=1000000 days"), ("--set", "scoring.rules.0.points=-1e12"),
])
OPTIONS = st.lists(st.one_of(
    GOOD_OPTIONS,
    GOOD_OPTIONS,
    st.tuples(st.just("--set"), st.builds(lambda k, v: f"{k}={v}", SET_KEYS, SET_VALUES)),
    st.tuples(st.just("--set"), SET_KEYS),
    st.tuples(st.sampled_from(["--days", "--seed", "--scale", "--checkpoint-every"]),
              st.one_of(st.sampled_from(["inf", "nan", "-1", "0", "1e400", str(2**64), "1e-320", "x", ""]),
                        st.integers(-(2**70), 2**70).map(str))),
), min_size=1, max_size=3)


@settings(max_examples=fuzz_examples(60, 10_000), **SETTINGS)
@given(options=OPTIONS)
def test_fuzzed_options_are_one_line(tmp_path_factory, options):
    """``scorelab run`` of a tiny valid scenario with fuzzed options (``--set`` keys and values,
    ``--days``, ``--seed``, ``--scale``, ``--checkpoint-every``): it runs, or refuses
    with one line per problem (a usage error is one line), never a traceback."""
    tmp = tmp_path_factory.mktemp("opts")
    args = ["run", str(tiny_file(tmp, **{"population.people": 40})), "--out", str(tmp / "out")]
    args += [x for pair in options for x in pair]
    ran = invoke(args)
    OUTCOMES["options ran" if ran.exit_code == 0 else "options refused"] += 1
    if ran.exit_code == 0:
        assert (tmp / "out" / "manifest.json").is_file(), ran.output
    else:
        assert ran.exit_code == 2, ran.output
        assert 1 <= len(problem_lines(ran.stderr)) <= 10, ran.stderr


def test_zz_fuzz_ran_scenarios_to_the_end():
    """The fuzz is not only a test of refusals: a fair share of its files are valid and run to
    the end (skipped when the fuzz did not run in this session)."""
    if not OUTCOMES:
        pytest.skip("the fuzz did not run in this session")
    assert OUTCOMES["ran"] >= 0.2 * sum(OUTCOMES[k] for k in ("valid", "invalid")), dict(OUTCOMES)
    assert OUTCOMES["invalid"] >= 0.2 * sum(OUTCOMES[k] for k in ("valid", "invalid")), dict(OUTCOMES)
    assert OUTCOMES["options ran"] >= 0.1 * sum(OUTCOMES[k] for k in ("options ran", "options refused")), dict(OUTCOMES)
