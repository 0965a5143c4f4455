"""The command line: every command, and every bad input answered with one line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from scorelab.cli import app

OFF = {"enabled": False, "degree": {"distribution": "poisson", "mean": 1.0}, "same_city": 0.5, "same_group": 0.5}
TINY = {
    "name": "tiny",
    "population": {"people": 400},
    "contacts": {"household": False, "workplace": {"enabled": False}, "school": {"enabled": False},
                 "friends": dict(OFF), "online": dict(OFF)},
    "behaviours": {"x": {"rate": "0.1 per day"}, "post": {"kind": "disfavoured", "rate": "0.2 per day"}},
    "channels": {"police": {"observes": ["x", "post"]}},
    "scoring": {"min_age": 0, "rules": [{"behaviour": "x", "points": -5}]},
    "grades": [{"name": "A", "from": 1000}, {"name": "B", "from": 990, "below": 1000}, {"name": "C", "below": 990}],
    "consequences": {"fine": {"kind": "fine", "grades": ["C"], "amount": 100, "every": 1}},
    "flags": {"suspicious": {"rule": {"behaviours": ["x"]}, "capacity": "2 per day"}},
    "run": {"days": 10, "seed": 7},
}


@pytest.fixture()
def tiny(tmp_path) -> Path:
    p = tmp_path / "tiny.yaml"
    p.write_text(yaml.safe_dump(TINY, sort_keys=False))
    return p


@pytest.fixture()
def runs(tmp_path, tiny, runner) -> Path:
    """Two finished runs (seeds 1 and 2, the second with people.parquet) under tmp/runs."""
    root = tmp_path / "runs"
    for seed, extra in ((1, []), (2, ["--people-state"])):
        r = runner.invoke(app, ["run", str(tiny), "--seed", str(seed), "--out", str(root / f"tiny-{seed}"), *extra])
        assert r.exit_code == 0, r.output
    return root


def one_line_error(r, *needles: str) -> None:
    assert r.exit_code == 2, r.output
    text = r.output.strip()
    assert "Traceback" not in text
    assert len(text.splitlines()) == 1, text
    for n in needles:
        assert n in text, text


# --------------------------------------------------------------------------- run


def test_run_writes_folder_and_prints_summary(runner, tiny, tmp_path):
    """`run FILE --out DIR` runs the scenario, prints the summary table (people, records true
    and erroneous, sanctions and wrongful, flags, lawful acts suppressed, grade shares,
    worst-hit group) and writes a complete results folder."""
    out = tmp_path / "out"
    r = runner.invoke(app, ["run", str(tiny), "--out", str(out)])
    assert r.exit_code == 0, r.output
    for label in ("people", "records, true", "records, erroneous", "sanctions", "sanctions, wrongful", "flags, true",
                  "flags, false", "lawful acts suppressed", "grade A share", "worst-hit group", "step 10/10"):
        assert label in r.output, label
    assert f"results: {out}" in r.output
    assert sorted(p.name for p in out.iterdir()) == [
        "groups.parquet", "impact.parquet", "manifest.json", "metrics.parquet", "regions.parquet", "scenario.yaml", "scores.parquet",
        "trajectories.parquet"]
    man = json.loads((out / "manifest.json").read_text())
    assert man["command"].startswith("scorelab run ") and man["seed"] == 7 and man["people"] == 400


def test_run_options_days_seed_scale_set_people_state(runner, tiny, tmp_path):
    """--days, --seed, --scale and --set change the scenario as run; --people-state adds
    people.parquet; the default folder is runs/<scenario>-<seed>-<time> under the cwd."""
    import polars as pl

    out = tmp_path / "o"
    r = runner.invoke(app, ["run", str(tiny), "--days", "5", "--seed", "3", "--scale", "0.5", "--set",
                            "scoring.rules.0.points=-7", "--people-state", "--out", str(out)])
    assert r.exit_code == 0, r.output
    man = json.loads((out / "manifest.json").read_text())
    assert (man["days"], man["seed"], man["people"], man["people_state"]) == (5, 3, 200, True)
    sc = yaml.safe_load((out / "scenario.yaml").read_text())
    assert sc["scoring"]["rules"][0]["points"] == -7
    people = pl.read_parquet(out / "people.parquet")
    assert people.height == 200 and people.get_column("score").min() <= 993
    assert set(((1000 - people.get_column("score")) % 7).to_list()) == {0}


def test_run_reads_counts_per_1000_and_warns_on_few_events(runner, tiny, tmp_path):
    """The summary gives each count per 1,000 people; a count of 1-19 events gets a warning
    naming it (its per-capita reading is uncertain by more than +-44 %); --scale keeps the
    described population in the saved scenario."""
    from scorelab.metrics import few_events, per_thousand
    from scorelab.results import Result

    out = tmp_path / "o"
    r = runner.invoke(app, ["run", str(tiny), "--days", "2", "--scale", "0.5", "--out", str(out)])
    assert r.exit_code == 0, r.output
    head = Result.open(out).summary()
    assert "per 1,000 people" in r.output
    rates = per_thousand(head)
    assert rates["records, true"] == pytest.approx(1000 * head["records, true"] / 200)
    few = few_events(head)
    assert few and all(0 < n < 20 for n in few.values())
    warning = next(line for line in r.output.splitlines() if line.startswith("warning: too few events"))
    for k, n in few.items():
        assert f"{k} ({n})" in warning
    assert not few_events({**head, **{k: 20.0 for k in few}})
    saved = yaml.safe_load((out / "scenario.yaml").read_text())["population"]
    assert (saved["people"], saved["represents"]) == (200, 400)


def test_run_default_folder(runner, tiny, tmp_path, monkeypatch):
    """Without --out the run goes to runs/tiny-<seed>-<YYYYmmdd-HHMMSS> in the working folder."""
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["run", str(tiny), "--days", "2"])
    assert r.exit_code == 0, r.output
    (folder,) = list((tmp_path / "runs").iterdir())
    assert folder.name.startswith("tiny-7-") and (folder / "manifest.json").is_file()


def test_run_unknown_preset_suggests_closest(runner):
    """An unknown built-in name gets the closest preset suggested, one line, exit 2."""
    r = runner.invoke(app, ["run", "rongcheng-2019"])
    one_line_error(r, "did you mean 'rongcheng-2018'")


def test_run_set_unknown_key_is_a_located_one_line_error(runner, tiny):
    """--set on an unknown field gives validate's one-line 'where: field: message' with the
    override itself as the place (the value came from --set, not from the file), exit 2."""
    r = runner.invoke(app, ["run", str(tiny), "--set", "scoring.bsae=900"])
    one_line_error(r, "--set: scoring.bsae", "unknown field", "did you mean 'base'")


def test_run_set_bad_value_is_a_located_one_line_error(runner, tiny):
    """--set with a value of the wrong type names the field, exit 2, no traceback."""
    r = runner.invoke(app, ["run", str(tiny), "--set", "channels.police.detection=lots"])
    one_line_error(r, "--set: channels.police.detection", "must be a number")
    r = runner.invoke(app, ["run", str(tiny), "--set", "nokeyvalue"])
    one_line_error(r, "expected key=value")


def test_run_unwritable_out_fails_before_work(runner, tiny, tmp_path):
    """An --out under a file, or an existing non-empty folder, fails at once with one line and
    exit 2, before any population is built."""
    (tmp_path / "afile").write_text("")
    r = runner.invoke(app, ["run", str(tiny), "--out", str(tmp_path / "afile" / "run")])
    one_line_error(r, "cannot write results there")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep").write_text("")
    r = runner.invoke(app, ["run", str(tiny), "--out", str(tmp_path / "full")])
    one_line_error(r, "not empty")


def test_run_says_the_burn_in_it_runs_in_whole_steps(runner, tiny, tmp_path):
    """A burn-in of 2.5 days runs three daily steps, and the run says 3 days, not 2.5."""
    r = runner.invoke(app, ["run", str(tiny), "--set", "run.burn_in=2.5", "--out", str(tmp_path / "b")])
    assert r.exit_code == 0, r.output
    assert "after a burn-in of 3 days (not reported)" in " ".join(r.output.split()), r.output


def test_run_that_cannot_fit_says_so(runner, tmp_path):
    """A run whose memory estimate exceeds what is available stops before allocating, with the
    estimate, a --scale suggestion and a distributed-run hint, exit 2."""
    r = runner.invoke(app, ["run", "rongcheng-2018", "--scale", "3000", "--out", str(tmp_path / "big")])
    one_line_error(r, "need about", "is available", "--scale", "distributed")
    assert not (tmp_path / "big").exists()


def test_run_memory_limit_from_environment(runner, tiny, tmp_path, monkeypatch):
    """SCORELAB_MEMORY caps the memory a run may plan for (here 1 MiB: refused)."""
    monkeypatch.setenv("SCORELAB_MEMORY", "1M")
    r = runner.invoke(app, ["run", str(tiny), "--out", str(tmp_path / "x")])
    one_line_error(r, "memory")


def test_run_negative_days(runner, tiny):
    """--days below 0 is refused with one line."""
    one_line_error(runner.invoke(app, ["run", str(tiny), "--days", "-1"]), "--days")


# --------------------------------------------------------------------------- runs and query


def test_runs_lists_run_folders(runner, runs):
    """`runs DIR` lists each complete run with scenario, seed, days, people, date and wall time,
    and counts interrupted (partial) folders without listing them."""
    (runs / ".tiny-3.partial-1").mkdir()
    r = runner.invoke(app, ["runs", str(runs)])
    assert r.exit_code == 0, r.output
    assert "tiny-1" in r.output and "tiny-2" in r.output and "400" in r.output
    assert "1 incomplete" in r.output


def test_runs_empty_and_missing(runner, tmp_path):
    """An empty folder says there are no runs; a missing one is a one-line error."""
    (tmp_path / "e").mkdir()
    r = runner.invoke(app, ["runs", str(tmp_path / "e")])
    assert r.exit_code == 0 and "no runs" in r.output
    one_line_error(runner.invoke(app, ["runs", str(tmp_path / "missing")]), "no such folder")


def test_query_over_all_runs(runner, runs):
    """`query SQL --runs DIR` runs DuckDB SQL over the metrics view of every run (with run_id),
    the people view of runs saved with people state, and the runs view."""
    r = runner.invoke(app, ["query", 'select run_id, count(*) as n, max("score.mean") as m from metrics '
                                     "group by run_id order by run_id", "--runs", str(runs)])
    assert r.exit_code == 0, r.output
    assert "tiny-1" in r.output and "tiny-2" in r.output and "10" in r.output
    r = runner.invoke(app, ["query", "select run_id, count(*) as n from people group by run_id", "--runs", str(runs)])
    assert r.exit_code == 0, r.output
    assert "tiny-2" in r.output and "400" in r.output and "tiny-1" not in r.output
    r = runner.invoke(app, ["query", "select run_id, seed, people from runs order by seed", "--runs", str(runs)])
    assert r.exit_code == 0 and "tiny-1" in r.output
    r = runner.invoke(app, ["query", 'select sum(people) as p from groups', "--runs", str(runs)])
    assert r.exit_code == 0 and "800" in r.output


def test_query_errors_are_one_line(runner, runs, tmp_path):
    """Bad SQL, a missing runs folder and a folder without runs are one-line errors, exit 2."""
    one_line_error(runner.invoke(app, ["query", "select nope from metrics", "--runs", str(runs)]), "query:")
    one_line_error(runner.invoke(app, ["query", "select 1", "--runs", str(tmp_path / "missing")]), "no such folder")
    (tmp_path / "empty").mkdir()
    one_line_error(runner.invoke(app, ["query", "select 1", "--runs", str(tmp_path / "empty")]), "no runs")


def test_query_refuses_two_folders_of_one_run(runner, runs, tmp_path):
    """A copied results folder holds the same run_id: its rows would be added to the original's
    (the views join runs by run_id), doubling every sum. It is a one-line error instead."""
    import shutil

    shutil.copytree(runs, tmp_path / "copied")
    shutil.copytree(runs / "tiny-1", tmp_path / "copied" / "tiny-1-backup")
    one_line_error(runner.invoke(app, ["query", "select sum(people) from groups", "--runs", str(tmp_path / "copied")]),
                   "run_id 'tiny-1' is in two folders")


def test_query_skips_other_format_versions(runner, runs):
    """A run folder of another results-format version is skipped with a one-line notice."""
    m = json.loads((runs / "tiny-1" / "manifest.json").read_text())
    m["format_version"] = 99
    (runs / "tiny-1" / "manifest.json").write_text(json.dumps(m))
    r = runner.invoke(app, ["query", "select distinct run_id from metrics", "--runs", str(runs)])
    assert r.exit_code == 0, r.output
    assert "skipping" in r.output and "version 99" in r.output
    assert "tiny-2" in r.output


# --------------------------------------------------------------------------- the other commands


def test_validate_says_when_the_days_are_not_whole_steps(runner, tiny):
    """A run covers whole steps: 100 days in 30-day steps are 120 days, and every figure is over
    those. validate and run say so, and the run's headline says 120."""
    r = runner.invoke(app, ["validate", str(tiny), "--set", "run.step=30 days", "--set", "run.days=100"])
    assert r.exit_code == 0, r.output
    assert "not a whole number of steps of 30 days: the run covers 120 days (4 steps)" in r.output
    r = runner.invoke(app, ["validate", str(tiny), "--set", "run.step=0.5", "--set", "run.days=100"])
    assert r.exit_code == 0 and "note" not in r.output


def test_validate_ok_and_bad(runner, tiny, tmp_path):
    """validate prints 'ok' for a good file and file:line:col problems (exit 2) for a bad one."""
    r = runner.invoke(app, ["validate", str(tiny)])
    assert r.exit_code == 0 and "ok" in r.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("run:\n  days: many\n")
    r = runner.invoke(app, ["validate", str(bad)])
    assert r.exit_code == 2 and f"{bad}:2:9: run.days" in r.output


def test_schema_presets_show(runner, tiny):
    """schema prints JSON schema; presets lists rongcheng-2018; show prints the resolved YAML."""
    r = runner.invoke(app, ["schema"])
    assert r.exit_code == 0 and "properties" in json.loads(r.output)
    r = runner.invoke(app, ["presets"])
    assert r.exit_code == 0 and "rongcheng-2018" in r.output
    r = runner.invoke(app, ["show", str(tiny)])
    assert r.exit_code == 0 and yaml.safe_load(r.output)["name"] == "tiny"


def test_population_command(runner, tiny):
    """population builds the population and prints sizes and memory."""
    r = runner.invoke(app, ["population", str(tiny)])
    assert r.exit_code == 0, r.output
    assert "people" in r.output and "400" in r.output


def test_the_memory_check_can_be_skipped(runner, tiny, tmp_path, monkeypatch):
    """--no-memory-check runs what the estimate (which leans high) would refuse; the refusal
    names the flag."""
    monkeypatch.setenv("SCORELAB_MEMORY", "1M")
    r = runner.invoke(app, ["run", str(tiny), "--out", str(tmp_path / "x")])
    one_line_error(r, "--no-memory-check")
    r = runner.invoke(app, ["run", str(tiny), "--days", "3", "--out", str(tmp_path / "y"), "--no-memory-check"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "y" / "manifest.json").is_file()


def test_running_out_of_memory_is_one_line(runner, tiny, tmp_path, monkeypatch):
    """A run that exhausts memory (the check skipped, or the estimate short) ends in one line and
    leaves no results folder, not a MemoryError traceback."""
    import scorelab.runner

    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(scorelab.runner, "execute", exhausted)
    r = runner.invoke(app, ["run", str(tiny), "--out", str(tmp_path / "z"), "--no-memory-check"])
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    lines = r.output.strip().splitlines()  # (the line saying the run started, then the failure)
    assert len(lines) == 2 and "building 400 people" in lines[0] and "out of memory" in lines[1], r.output
    assert not (tmp_path / "z").exists()


@pytest.mark.parametrize("argv, names", [
    (["sweep", "rongcheng-2018", "--vary", "run.seed=1,2", "--samples", "1e12"], "scorelab sweep: Invalid value for '--samples'"),
    (["--nope"], "scorelab: No such option: --nope"),
    (["validate"], "scorelab validate: Missing argument"),
    (["run", "rongcheng-2018", "--scale", "abc"], "scorelab run: Invalid value for '--scale'"),
    (["nosuch"], "scorelab: No such command 'nosuch'"),
])
def test_a_misused_command_line_is_one_line(argv, names, capsys):
    """click's framed usage message (five lines and a box) is one line naming the command and
    the option, with where to find help; exit 2."""
    from scorelab.cli import main

    with pytest.raises(SystemExit) as done:
        main(argv)
    err = capsys.readouterr().err
    assert done.value.code == 2
    assert err.count("\n") == 1 and err.startswith(names) and "--help)" in err, err


def test_incomes_at_the_bounds_stay_finite(tmp_path):
    """The largest income change a scenario may set (+100 % an act) at a high rate doubles an
    income past float64's range within days; incomes are capped (kernel.INCOME_CAP), so income
    lost vs twin stays a number (it was NaN: inf - inf)."""
    import math

    import scorelab
    from scorelab.engine.kernel.constants import INCOME_CAP
    from scorelab.metrics import headline

    data = {**TINY, "behaviours": {**TINY["behaviours"], "gain": {"kind": "civic", "rate": "1000 per day",
                                                                   "income_effect": 1.0}}}
    path = tmp_path / "gain.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    result = scorelab.run(str(path), {"run.days": 3, "population.people": 50})
    figures = headline(result)
    lost = figures["income lost vs twin"]
    assert isinstance(lost, float) and math.isfinite(lost) and abs(lost) <= 2 * 50 * INCOME_CAP, figures
