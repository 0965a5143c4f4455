"""Calibration: recovering a known parameter, reproducibility, the output folder, and
every bad targets file answered with one located line, exit 2 and nothing written."""

from __future__ import annotations

import json
import math
from pathlib import Path

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

import scorelab
from scorelab.calibrate import (
    TargetsError,
    calibrate,
    check,
    evaluate,
    read_targets,
)
from scorelab.cli import app

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "calibration" / "blacklist-targets.yaml"
OFF = {"enabled": False, "degree": {"distribution": "poisson", "mean": 1.0}, "same_city": 0.5, "same_group": 0.5}


def court(people: int, rate: str, days: int = 365) -> dict:
    """A town whose courts record every judgment default and list the debtor (no contacts)."""
    return {
        "name": "court-town",
        "population": {"people": people},
        "contacts": {"household": False, "workplace": {"enabled": False}, "school": {"enabled": False},
                     "friends": dict(OFF), "online": dict(OFF)},
        "behaviours": {"judgment_default": {"rate": rate, "min_age": 18}},
        "channels": {"courts": {"observes": ["judgment_default"], "detection": 1.0}},
        "lists": {"court_blacklist": {"entry": {"behaviours": ["judgment_default"]}, "exit": {"after": "2 years"}}},
        "run": {"days": days, "seed": 1},
    }


RATE = "behaviours.judgment_default.rate"
ENTRIES = "lists.court_blacklist.entries"


def targets_for(first_half: float, second_half: float, **extra) -> dict:
    return {
        "parameters": {RATE: {"low": 0.02, "high": 2.0, "log": True, "unit": "per year"}},
        "targets": [
            {"name": "entries H1", "metric": ENTRIES, "total": {"to": "2018-06-30"}, "value": first_half,
             "sd": "poisson", "source": "simulated with the true rate, seed 101"},
            {"name": "entries H2", "metric": ENTRIES, "total": {"from": "2018-07-01"}, "value": second_half,
             "sd": "poisson", "source": "simulated with the true rate, seed 101"},
        ],
        **extra,
    }


# --------------------------------------------------------------------------- recovery


def test_recovers_a_known_rate_within_its_poisson_noise():
    true_rate = 0.2  # per year
    data = scorelab.run(court(20_000, f"{true_rate} per year"), {"run.seed": 101}).metrics
    entries = data.get_column(ENTRIES).to_numpy()
    h1, h2 = float(entries[:181].sum()), float(entries[181:].sum())
    n = h1 + h2  # about 2,650 listings
    # Start from a wrong value (1 per year, five times too high) and search a 100-fold range.
    replicates = 1
    c = calibrate(court(20_000, "1 per year"), targets_for(h1, h2), trials=40, replicates=replicates, seed=0)
    fitted = c.fitted[RATE]
    # Tolerance: the listings are Poisson counts, and the rate is fitted from their total, so
    # fitted / true ~ n_data / n_sim. With n data listings (seed 101) and R replicates of the
    # simulation (seeds 1..R, independent of the data) the relative sd of the estimate is
    # sqrt(1/n + 1/(R n)) (3.9% here); we allow 3 of those (11.6%). The optimiser's resolution
    # (40 TPE trials) is a few tenths of that.
    tolerance = 3 * math.sqrt(1 / n + 1 / (replicates * n))
    assert abs(fitted / true_rate - 1) <= tolerance, (fitted, tolerance)
    assert c.parameters[RATE]["baseline"] == pytest.approx(1.0)  # the scenario's own value was tried first
    assert c.statistics["baseline_chi_square"] > 100 * c.loss
    assert c.statistics["dof"] == 1 and 0.0 < c.statistics["p_value"] <= 1.0
    assert c.fit.get_column("target").to_list() == ["entries H1", "entries H2"]
    assert c.fit.get_column("z").abs().max() < 3


# --------------------------------------------------------------------------- reproducibility


def test_same_seed_same_calibration():
    scen = court(2000, "0.5 per year", days=90)
    tg = {
        "parameters": {RATE: {"low": 0.05, "high": 5.0, "log": True, "unit": "per year"},
                       "channels.courts.detection": {"low": 0.5, "high": 1.0}},
        "targets": [{"metric": ENTRIES, "total": "all", "value": 150, "tolerance": 0.1, "source": "made up"},
                    {"metric": "lists.court_blacklist.stock", "at": 60, "value": 100, "sd": 15, "source": "made up"}],
        "trials": 6, "replicates": 2, "seed": 5,
    }
    a, b = calibrate(scen, tg), calibrate(scen, tg)
    assert a.fitted == b.fitted and a.loss == b.loss
    assert a.trials.drop("seconds").equals(b.trials.drop("seconds"))
    assert a.fit.equals(b.fit)
    other = calibrate(scen, tg, seed=6)
    assert not other.trials.drop("seconds").equals(a.trials.drop("seconds"))
    assert a.trials.height == 6 and a.info["run_seeds"] == [1, 2]
    assert a.fit.get_column("simulated_sd").null_count() == 0  # two replicates: an sd across them


# --------------------------------------------------------------------------- output folder


def test_output_folder_and_fitted_yaml(tmp_path):
    out = tmp_path / "cal"
    c = calibrate(court(1000, "0.5 per year", days=60), targets_for(40, 0, trials=4),
                  sets={"run.days": 200}, out=out)
    assert c.path == out
    assert sorted(p.name for p in out.iterdir()) == ["calibration.json", "fit.parquet", "fitted.yaml", "trials.parquet"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left
    doc = json.loads((out / "calibration.json").read_text())
    assert doc["format"] == "scorelab-calibration" and doc["format_version"] == 1
    assert doc["fitted"][RATE]["value"] == c.fitted[RATE]
    assert {"chi_square", "dof", "p_value", "rmse_relative", "baseline_chi_square"} <= set(doc["statistics"])
    assert [t["target"] for t in doc["targets"]] == ["entries H1", "entries H2"]
    assert doc["optuna_version"] and doc["scenario"]["days"] == 200
    trials = pl.read_parquet(out / "trials.parquet")
    assert trials.height == 4 and {"trial", "loss", f"param.{RATE}", "sim.entries H1"} <= set(trials.columns)
    assert pl.read_parquet(out / "fit.parquet").equals(c.fit)
    fitted = scorelab.load(out / "fitted.yaml")
    assert fitted.model_dump(mode="json", by_alias=True) == c.scenario.model_dump(mode="json", by_alias=True)
    assert fitted.behaviours["judgment_default"].rate * 365.25 == pytest.approx(c.fitted[RATE])
    assert fitted.run.days == 200  # exactly as calibrated


def test_existing_out_folder_is_refused_before_any_run(tmp_path):
    (tmp_path / "cal").mkdir()
    (tmp_path / "cal" / "x").write_text("keep")
    with pytest.raises(scorelab.UsageError, match="not empty"):
        calibrate(court(500, "0.5 per year"), targets_for(5, 5, trials=2), out=tmp_path / "cal")
    assert (tmp_path / "cal" / "x").read_text() == "keep"


# --------------------------------------------------------------------------- the command line


@pytest.fixture()
def files(tmp_path) -> tuple[Path, Path]:
    scen = tmp_path / "town.yaml"
    scen.write_text(yaml.safe_dump(court(400, "0.5 per year", days=60), sort_keys=False))
    tg = tmp_path / "targets.yaml"
    tg.write_text(
        "parameters:\n"
        "  behaviours.judgment_default.rate: {low: 0.05, high: 5, log: true, unit: per year}\n"
        "targets:\n"
        "  - metric: lists.court_blacklist.entries\n"
        "    total: all\n"
        "    value: 20\n"
        "    sd: poisson\n"
        "    source: made up\n"
        "trials: 3\n"
    )
    return scen, tg


def test_cli_calibrate(files, tmp_path):
    scen, tg = files
    out = tmp_path / "cal"
    r = CliRunner().invoke(app, ["calibrate", str(scen), "--targets", str(tg), "--out", str(out), "--replicates", "2"])
    assert r.exit_code == 0, r.output
    for needle in ("trial 1/3", "fitted values", "fit to each target", "chi-square", f"calibration: {out}"):
        assert needle in r.output, r.output
    doc = json.loads((out / "calibration.json").read_text())
    assert doc["replicates"] == 2 and doc["command"].startswith("scorelab calibrate ")
    (entry,) = doc["parameters"].values()
    near = entry["near_trials"]  # (trials within chi2 <= best + 1: a range needs 3; the table says how many)
    assert 1 <= near <= 3 and (entry["interval"] is None) == (near < 3)
    if near < 3:
        assert f"{near} of 3: too few" in r.output, r.output
    r = CliRunner().invoke(app, ["calibrate", str(scen), "--targets", str(tg), "--check"])
    assert r.exit_code == 0 and "ok (1 parameter(s), 1 target(s)" in r.output, r.output


BAD = [
    ("trials: 3", "trails: 3", 9, "trails: unknown field 'trails'; did you mean 'trials'?"),
    ("metric: lists.court_blacklist.entries", "metric: lists.court_blacklist.entry", 4,
     "targets.0.metric: unknown metric 'lists.court_blacklist.entry'; did you mean 'lists.court_blacklist.entries'?"),
    ("low: 0.05, high: 5,", "low: 5, high: 0.05,", 2, "parameters.behaviours.judgment_default.rate.high: must be > low"),
    ("behaviours.judgment_default.rate:", "behaviours.judgment_defualt.rate:", 2,
     ("parameters.behaviours.judgment_defualt.rate: unknown parameter: the scenario has no field 'judgment_defualt' "
      "here; did you mean 'judgment_default'?")),
    ("value: 20", "value: [3, 4, 5]", 6, "targets.0.value: must be one number"),
    ("total: all", "at: 2019-06-30", 5, "targets.0.at: 2019-06-30 is after the last simulated day"),
    ("sd: poisson", "person: 17", 7, "targets.0.person: unknown field 'person'"),
]


@pytest.mark.parametrize(("old", "new", "line", "message"), BAD, ids=[b[1].split(":")[0] for b in BAD])
def test_bad_targets_file_is_one_located_line(files, tmp_path, old, new, line, message):
    scen, tg = files
    text = tg.read_text()
    assert old in text
    tg.write_text(text.replace(old, new))
    out = tmp_path / "cal"
    r = CliRunner().invoke(app, ["calibrate", str(scen), "--targets", str(tg), "--out", str(out)])
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.output, r.output
    assert lines[0].startswith(f"{tg}:{line}:"), lines[0]
    assert message in lines[0], lines[0]
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_bad_targets_are_all_reported_at_once(tmp_path):
    tg = tmp_path / "t.yaml"
    tg.write_text("parameters: {}\ntargets:\n  - {metric: x, at: 3, total: all, value: true, source: ''}\nscale: -2\n")
    with pytest.raises(TargetsError) as e:
        read_targets(tg)
    text = str(e.value)
    assert f"{tg}:1:13: parameters: give at least one" in text
    assert "targets.0.value: must be one finite number, got True" in text
    assert "scale.factor: must be a number > 0" in text
    assert all(line.startswith(f"{tg}:") for line in text.splitlines())


# --------------------------------------------------------------------------- the example


def test_example_targets_file_validates_against_its_scenario():
    plan = check("rongcheng-2018", EXAMPLE, sets={"population.people": 67_000})
    assert list(plan["parameters"]) == [RATE]
    assert plan["parameters"][RATE]["baseline"] == pytest.approx(0.0023)  # the preset's fitted rate
    assert plan["scale"]["factor"] == pytest.approx(67_000 / 1.41e9)
    npcic = plan["targets"][0]
    assert npcic["window"] == "total 2018-01-01..2018-12-31"
    assert npcic["value"] == pytest.approx(2_614_000 * 67_000 / 1.41e9)
    assert npcic["sd"] == pytest.approx(math.sqrt(npcic["value"]))


# --------------------------------------------------------------------------- scale, run, sd, built-in targets, evaluate


def _entries_target(**extra) -> dict:
    target = {"metric": ENTRIES, "total": "all", "value": 10_000, "sd": "poisson", "source": "made up"}
    return {"parameters": {RATE: {"low": 0.05, "high": 5.0, "log": True, "unit": "per year"}},
            "targets": [{**target, **extra}]}


def test_without_scale_figures_describe_the_scenarios_represented_population():
    town = court(1000, "0.5 per year", days=30)
    town["population"]["represents"] = 100_000
    plan = check(town, _entries_target())
    assert plan["scale"]["factor"] == pytest.approx(0.01)
    assert "1,000 simulated people / 100,000 people the scenario describes" in plan["scale"]["how"]
    assert plan["targets"][0]["value"] == pytest.approx(100)
    # --scale keeps the described population: the factor follows it
    assert check(town, _entries_target(), scale=0.5)["scale"]["factor"] == pytest.approx(0.005)
    # a scenario that names no population.represents compares the figures as published
    plain = check(court(1000, "0.5 per year", days=30), _entries_target())
    assert plain["scale"]["factor"] == 1.0 and "as published" in plain["scale"]["how"]
    # an explicit scale still wins
    assert check(town, {**_entries_target(), "scale": 0.5})["scale"]["factor"] == 0.5


def test_run_section_sets_scale_and_days_unless_told():
    town = court(1000, "0.5 per year")
    tg = {**_entries_target(), "run": {"scale": 0.5, "days": 30}}
    plan = check(town, tg)
    assert (plan["people"], plan["days"]) == (500, 30)
    plan = check(town, tg, scale=0.2, sets={"run.days": 60})  # the caller's --scale and --days win
    assert (plan["people"], plan["days"]) == (200, 60)
    with pytest.raises(scorelab.UsageError, match="a Scenario runs at its own size"):
        check(scorelab.load(town), tg, scale=0.5)
    assert check(scorelab.load(town), tg)["people"] == 1000  # a Scenario object runs as it is


def test_sd_and_tolerance_add_in_quadrature():
    town = court(1000, "0.5 per year", days=30)
    both = check(town, _entries_target(tolerance=0.1))["targets"][0]
    assert both["sd"] == pytest.approx(math.sqrt(10_000 + 1000.0 ** 2))
    fixed = check(town, _entries_target(sd=30, tolerance=0.004))["targets"][0]
    assert fixed["sd"] == pytest.approx(50.0)
    with pytest.raises(TargetsError, match="give sd, tolerance, or both"):
        read_targets(_entries_target(sd=None))


def test_bad_run_section_is_located(tmp_path):
    tg = tmp_path / "t.yaml"
    tg.write_text(yaml.safe_dump({**_entries_target(), "run": {"scale": -1, "days": 0, "seed": 3}}, sort_keys=False))
    with pytest.raises(TargetsError) as e:
        read_targets(tg)
    text = str(e.value)
    assert "run.scale: must be a number > 0" in text
    assert "run.days: input should be greater than or equal to 1, got 0" in text
    assert "run.seed: unknown field 'seed'" in text
    assert all(line.startswith(f"{tg}:") for line in text.splitlines())


def test_builtin_targets_are_read_by_name_and_run_at_their_scale():
    tg = read_targets("national-2027")
    assert Path(tg.label).as_posix().endswith("scorelab/presets/targets/national-2027.yaml")
    with pytest.raises(TargetsError, match="cannot read: .*; built-in scenarios with targets: corporate, national-2027"):
        read_targets("no-such-preset")
    r = CliRunner().invoke(app, ["calibrate", "national-2027", "--targets", "national-2027", "--check"])
    assert r.exit_code == 0, r.output
    assert "ok (4 parameter(s), 4 target(s); scale:" in r.output and "factor 0.0001)" in r.output
    assert "2018-01-01..2018-12-31 = 215.9" in r.output


def test_evaluate_runs_the_scenarios_own_values_with_verdicts():
    scen = court(2000, "0.5 per year", days=90)
    # about 2000 x 0.79 adults x 0.5 x 90 / 365.25 = 195 listings expected
    tg = {"parameters": {RATE: {"low": 0.05, "high": 5.0, "log": True, "unit": "per year"}},
          "targets": [{"name": "near", "metric": ENTRIES, "total": "all", "value": 195, "sd": "poisson",
                       "tolerance": 0.1, "source": "made up"},
                      {"name": "far", "metric": ENTRIES, "total": "all", "value": 600, "sd": "poisson",
                       "source": "made up"}],
          "replicates": 3}
    e = evaluate(scen, tg)
    assert e.info["seeds"] == [1, 2, 3] and len(e.simulated[0]) == 3
    assert e.fit.get_column("verdict").to_list() == ["within", "off"] and e.off == ["far"]
    again = evaluate(scen, tg)
    assert again.fit.equals(e.fit)  # deterministic for its seeds
    # --set may give a fitted parameter another value: evaluate that one
    high = evaluate(scen, tg, sets={RATE: "1.5 per year"})
    assert high.fit.get_column("simulated")[0] > 2 * e.fit.get_column("simulated")[0]
