"""A headline ratio over nothing has no value, never 0.

"Alert precision 0 %" reads as "every alert was wrong" and "0 days to lift a wrongful listing"
as "lifted at once"; in a run with no alerts, or where no wrongful listing was lifted, both
are false. ``metrics.headline`` gives such a figure as ``None``; tables show why
(``vocabulary.not_defined``); means over replicates and a sweep's settings leave those runs out
and say over how many runs they are.
"""

from __future__ import annotations

import polars as pl
import pytest
import yaml

from scorelab import metrics
from scorelab import vocabulary as V
from scorelab.cli import app
from scorelab.intervals import shown_mean
from scorelab.sweep.tables import cell_text, summary_table

OFF = {"enabled": False, "degree": {"distribution": "poisson", "mean": 1.0}, "same_city": 0.5, "same_group": 0.5}
#: Everyone observed; C-graded people are listed for a century, so no listing is ever lifted.
NEVER_LIFTED = {
    "name": "never-lifted",
    "population": {"people": 300},
    "contacts": {"household": False, "workplace": {"enabled": False}, "school": {"enabled": False},
                 "friends": dict(OFF), "online": dict(OFF)},
    "behaviours": {"x": {"rate": "0.1 per day"}},
    "channels": {"police": {"observes": ["x"], "coverage": 1, "detection": 1, "misattribution": {"probability": 0.5}}},
    "scoring": {"min_age": 0, "rules": [{"behaviour": "x", "points": -5}]},
    "grades": [{"name": "A", "from": 1000}, {"name": "B", "from": 990, "below": 1000}, {"name": "C", "below": 990}],
    "lists": {"blacklist": {"entry": {"grades": ["C"]}, "exit": {"after": "100 years"}}},
    "run": {"days": 20, "seed": 3},
}


@pytest.fixture(scope="module")
def never_lifted():
    import scorelab

    return scorelab.run(NEVER_LIFTED)


def test_a_mean_over_no_lifted_listing_is_none_not_zero(never_lifted):
    head = never_lifted.summary()
    assert head[V.WRONGFUL_LISTINGS_AT_END] > 0 and head[V.LISTINGS_OVERTURNED] == 0
    assert head[V.DAYS_TO_LIFT_WRONGFUL_LISTING] is None
    assert V.format_figure(V.DAYS_TO_LIFT_WRONGFUL_LISTING, None) == "none lifted"
    # the per-capita reading and the few-events warning read only counts
    assert V.DAYS_TO_LIFT_WRONGFUL_LISTING not in metrics.per_thousand(head)
    metrics.few_events(head)


def test_the_command_line_says_why_a_figure_has_no_value(runner, tmp_path):
    p = tmp_path / "never.yaml"
    p.write_text(yaml.safe_dump(NEVER_LIFTED, sort_keys=False))
    r = runner.invoke(app, ["run", str(p), "--out", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    line = next(l for l in r.output.splitlines() if "days to lift a wrongful listing" in l)
    assert "none lifted" in line and " 0 " not in line, line


@pytest.mark.parametrize(("name", "reason"), [
    (V.DAYS_TO_LIFT_WRONGFUL_LISTING, "none lifted"), (V.ALERT_PRECISION, "no alerts"),
    (V.ALERTS_PER_THOUSAND_FACES, "no faces scanned"), (V.AUDIO_FALSE_SHARE, "no in-car audio records"),
    (V.grade_share("AAA"), "no one scored"), ("some other ratio", "not defined"),
])
def test_each_undefined_figure_names_its_reason(name, reason):
    assert V.format_figure(name, None) == reason
    assert V.format_figure(name, float("nan")) == reason


def test_replicate_means_leave_out_the_runs_without_a_value():
    mean, ci = shown_mean(V.ALERT_PRECISION, [None, 0.5, 0.7])
    assert mean == "60.0% (2 of 3 runs; no alerts in the others)"
    assert ci.startswith("[") and ci.endswith("]")
    assert shown_mean(V.ALERT_PRECISION, [None, None]) == ("no alerts", "")
    assert shown_mean(V.ALERT_PRECISION, [0.25, 0.25]) == ("25.0%", "")  # (seeds agree: no interval)


def test_a_sweep_summary_counts_only_the_runs_with_a_value():
    runs = pl.DataFrame({"task": ["a", "b", "c", "d"], "setting": ["s1", "s1", "s1", "s2"],
                         "replicate": [0, 1, 2, 0], "seed": [1, 2, 3, 1],
                         V.ALERT_PRECISION: [0.4, None, 0.6, None]},
                        schema_overrides={"seed": pl.UInt64, V.ALERT_PRECISION: pl.Float64})
    summary = summary_table(runs, [])
    s1 = summary.filter(pl.col("setting") == "s1").row(0, named=True)
    s2 = summary.filter(pl.col("setting") == "s2").row(0, named=True)
    assert s1["n"] == 2 and s1["mean"] == pytest.approx(0.5)
    assert s2["n"] == 0 and s2["mean"] is None
    row1 = {"n": 3, f"{V.ALERT_PRECISION} mean": 0.5, f"{V.ALERT_PRECISION} lo": 0.0,
            f"{V.ALERT_PRECISION} hi": 1.0, f"{V.ALERT_PRECISION} n": 2}
    assert cell_text(V.ALERT_PRECISION, row1) == "50.0% [0.0%, 100.0%] (2 of 3 runs)"
    row2 = {"n": 1, f"{V.ALERT_PRECISION} mean": None, f"{V.ALERT_PRECISION} lo": None,
            f"{V.ALERT_PRECISION} hi": None, f"{V.ALERT_PRECISION} n": 0}
    assert cell_text(V.ALERT_PRECISION, row2) == "no alerts"


def test_a_comparison_of_two_runs_without_a_value_calls_them_equal(never_lifted, tmp_path):
    from scorelab.report.compare import compare_table

    import scorelab

    other = scorelab.run({**NEVER_LIFTED, "run": {"days": 20, "seed": 4}})
    html = compare_table([never_lifted, other])
    row = next(r for r in html.split("<tr>") if V.DAYS_TO_LIFT_WRONGFUL_LISTING in r)
    assert row.count("none lifted") == 2 and ">=<" in row, row


def test_a_figure_missing_from_one_run_is_not_modelled_there(never_lifted):
    """A headline figure of a part one run's scenario lacks (here: sanctions of firms) reads
    "not modelled" for that run, and its difference "not comparable", never blank."""
    from scorelab.report.compare import compare_table

    import scorelab

    firm_fine = {"kind": "fine", "actor": "firm", "grades": ["C"], "amount": 10, "every": 1}
    other = scorelab.run({**NEVER_LIFTED, "consequences": {"firm_fine": firm_fine}})
    assert V.FIRM_SANCTIONS in other.summary() and V.FIRM_SANCTIONS not in never_lifted.summary()
    html = compare_table([never_lifted, other])
    row = next(r for r in html.split("<tr>") if f"<td>{V.FIRM_SANCTIONS}</td>" in r)
    assert "not modelled" in row and "not comparable" in row, row
