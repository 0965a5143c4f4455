"""Disparate impact along several axes (issue 20) and the worst-hit group per harm (issue 22).

Rates per 1,000 against counts made by hand from the per-person table, the intervals'
coverage, the minimum-count rule, the case the old headline got wrong (the group with the
most sanctions is not the one with the most flags or income lost), the comparison, the
results folder, and per-capita rates that do not depend on ``--scale``.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import scorelab
from scorelab import impact as I
from scorelab import metrics
from scorelab import vocabulary as V
from scorelab.intervals import poisson_bounds, poisson_interval, wilson_bounds, wilson_interval
from scorelab.results import Result
from scorelab.tables import RunTables
from test_results import tiny


def flagged(people: int = 3000, days: int = 30, seed: int = 7) -> dict:
    """The tiny scenario with a flag on three records in 30 days, so false flags happen."""
    sc = tiny(people=people, days=days, rate="0.05 per day")
    sc["channels"]["police"]["misattribution"] = {"probability": 0.2}
    sc["flags"] = {"suspicious": {"rule": {"behaviours": ["x"], "min_records": 2, "within": "30 days"},
                                  "capacity": "5 per day"}}
    sc["run"]["seed"] = seed
    return sc


@pytest.fixture(scope="module")
def result() -> Result:
    return scorelab.run(scorelab.load(flagged()))


# --------------------------------------------------------------------------- rates by hand


def test_rates_and_counts_match_the_people_table(result):
    """Every row's people, count, affected people and rate per 1,000 equal the same figures
    computed with numpy from the per-person table, on every axis; the ratio is the rate over
    everyone's; a row is ranked exactly when it has MIN_EVENTS events among MIN_PEOPLE people."""
    people, d = result.people, result.impact()
    assert set(d.get_column("axis").unique()) == {"all", *I.AXES}
    assert set(d.get_column("harm").unique()) == set(I.HARMS)
    age = people.get_column("age").to_numpy()
    band = np.searchsorted(np.array(I.AGE_BANDS), age, side="right") - 1
    labels = {
        "group": people.get_column("group").cast(pl.String).to_numpy(),
        "urban": np.where(people.get_column("urban").to_numpy(), "urban", "rural"),
        "age_band": np.array([f"{I.AGE_BANDS[b]}+" if b == len(I.AGE_BANDS) - 1
                              else f"{I.AGE_BANDS[b]}-{I.AGE_BANDS[b + 1] - 1}" for b in band]),
        "income_decile": np.array(["no income" if k == 0 else f"decile {k}"
                                   for k in people.get_column("income_decile").to_numpy()]),
        "occupation": people.get_column("occupation").cast(pl.String).to_numpy(),
    }
    n = people.height
    for harm in I.HARMS:
        x = people.get_column(harm).to_numpy().astype(float)
        overall = 1000.0 * x.sum() / n
        every = d.filter((pl.col("axis") == "all") & (pl.col("harm") == harm)).row(0, named=True)
        assert every["people"] == n and every["per_1000"] == pytest.approx(overall)
        for axis, keys in labels.items():
            rows = d.filter((pl.col("axis") == axis) & (pl.col("harm") == harm))
            assert sorted(rows.get_column("cell").to_list()) == sorted(set(keys.tolist()))
            for row in rows.iter_rows(named=True):
                mine = keys == row["cell"]
                touched = (x[mine] > 0) if harm == "income_lost" else (x[mine] != 0)
                assert row["people"] == mine.sum()
                assert row["count"] == pytest.approx(x[mine].sum())
                assert row["affected"] == touched.sum()
                assert row["per_1000"] == pytest.approx(1000.0 * x[mine].sum() / mine.sum())
                if overall:
                    assert row["ratio"] == pytest.approx(row["per_1000"] / overall)
                events = touched.sum() if harm == "income_lost" else x[mine].sum()
                assert row["ranked"] == (events >= I.MIN_EVENTS and mine.sum() >= I.MIN_PEOPLE)
    ranked = d.filter(pl.col("ranked"))
    assert ranked.height and ranked.get_column("rank").null_count() == 0
    assert d.filter(~pl.col("ranked")).get_column("rank").null_count() == d.filter(~pl.col("ranked")).height
    assert d.filter((pl.col("harm") == "false_flags") & (pl.col("axis") == "all")).item(0, "count") > 0


def test_the_table_is_the_same_when_combinations_are_numbered_anew(result, monkeypatch):
    """The combinations of cells are numbered as one integer; where the number could
    overflow it is numbered anew, densely, and the table does not change."""
    before = result.impact()
    monkeypatch.setattr(I, "_CODE_LIMIT", 64)  # (renumbered at almost every axis)
    after = I.impact_frame(result.people)
    cols = [c for c in after.columns if c != "run_id"]
    assert after.select(cols).equals(before.select(cols))


def test_the_table_is_the_same_bits_every_time():
    """Two runs of one scenario write the same impact.parquet (results are byte-identical for any
    threads, shards or resume): the float sums per cell are added in one order. A polars grouping
    added them in its threads' order, and income_lost's counts, rates and ratios differed in the
    last bits from one computation to the next."""
    sc = scorelab.load("rongcheng-2018", {"run.days": 180, "run.burn_in": 0}, scale=0.05)
    people = scorelab.run(sc, people_state=True).people
    first = I.impact_frame(people)
    for _ in range(5):
        assert I.impact_frame(people).equals(first)


def test_income_deciles_split_earners_in_tenths():
    """Deciles 1..10 hold a tenth of the people with an income each, in order of income;
    people without one are decile 0."""
    rng = np.random.default_rng(3)
    income = np.where(rng.random(10_000) < 0.3, 0.0, rng.lognormal(10, 1, 10_000)).astype(np.float32)
    dec = I.income_deciles(income)
    assert (dec[income == 0] == 0).all()
    counts = np.bincount(dec[income > 0], minlength=11)[1:]
    assert counts.max() - counts.min() <= 1
    for k in range(1, 10):
        assert income[dec == k].max() <= income[dec == k + 1].min()


def _deciles_by_sorting(income: np.ndarray) -> np.ndarray:
    """The definition: earners sorted by income (ties in person order), rank r -> r * 10 // n + 1."""
    out = np.zeros(income.shape[0], dtype=np.uint8)
    earners = np.flatnonzero(income > 0)
    if earners.size:
        order = earners[np.argsort(income[earners], kind="stable")]
        out[order] = (np.arange(order.size) * 10 // order.size + 1).astype(np.uint8)
    return out


@pytest.mark.parametrize("n", [0, 1, 2, 9, 10, 11, 37, 1000, 10_001])
@pytest.mark.parametrize("values", [3, 50, 0])  # few distinct incomes (many ties), or continuous
def test_income_deciles_equal_the_sorted_definition(n, values):
    """Found by partitions, the deciles equal the sorted definition exactly, ties included."""
    rng = np.random.default_rng(n * 7 + values)
    income = (rng.integers(0, values + 1, n) * 1000.0 if values else rng.lognormal(10, 1, n)).astype(np.float32)
    income[rng.random(n) < 0.3] = 0.0
    np.testing.assert_array_equal(I.income_deciles(income), _deciles_by_sorting(income))


def test_folder_round_trip_and_the_groups_fallback(result, tmp_path):
    """impact.parquet comes back equal; a folder without it (an older version) gives the same
    counts and rates on the axes groups.parquet holds."""
    back = RunTables.open(result.save(tmp_path / "r"))
    assert back.impact().equals(result.impact())
    old = I.impact_from_groups(result.groups)
    assert set(old.get_column("axis").unique()) == {"all", *I.GROUP_AXES}
    key = ["axis", "cell", "harm"]
    joined = old.join(result.impact(), on=key, suffix="_new")
    assert joined.height == old.height
    for c in ("people", "count", "affected", "per_1000", "ratio", "ranked", "rank"):
        a, b = joined.get_column(c).to_list(), joined.get_column(f"{c}_new").to_list()
        assert a == pytest.approx(b) if c in ("count", "per_1000", "ratio") else a == b, c


# --------------------------------------------------------------------------- intervals


def test_intervals_hold_the_estimate_and_respect_the_quantity():
    """Garwood: 0 below at 0, contains k, widens upwards, lower bound never below 0. Wilson:
    inside [0, 1], contains the share, (0, 1) without trials, not a point at 0 or n."""
    k = np.arange(0, 200, dtype=float)
    lo, hi = poisson_bounds(k)
    assert lo[0] == 0 and (lo <= k).all() and (hi >= k).all() and (lo >= 0).all()
    assert (np.diff(lo) > 0).all() and (np.diff(hi) > 0).all()
    assert poisson_interval(10) == pytest.approx((4.7954, 18.3904), abs=1e-3)  # (Garwood's table)
    s = np.array([0, 1, 5, 50, 100], dtype=float)
    wl, wh = wilson_bounds(s, np.full(5, 100.0))
    assert (wl >= 0).all() and (wh <= 1).all() and (wl <= s / 100).all() and (wh >= s / 100).all()
    assert wh[0] > 0 and wl[-1] < 1
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert wilson_interval(10, 100) == pytest.approx((0.05523, 0.17437), abs=1e-4)


@pytest.mark.parametrize("mu", [0.7, 4.0, 25.0])
def test_poisson_interval_covers_at_least_95_percent(mu):
    """The Garwood interval is exact-conservative: over 20,000 Poisson draws it covers the mean
    at least 95 % of the time (less 0.5 pp for the simulation's own error)."""
    k = np.random.default_rng(11).poisson(mu, 20_000).astype(float)
    lo, hi = poisson_bounds(k)
    assert ((lo <= mu) & (mu <= hi)).mean() >= 0.945


@pytest.mark.parametrize("p,n", [(0.05, 200), (0.3, 60), (0.5, 1000)])
def test_wilson_interval_covers_about_95_percent(p, n):
    """The Wilson interval covers a share within 2 pp of 95 % over 20,000 binomial draws."""
    s = np.random.default_rng(12).binomial(n, p, 20_000).astype(float)
    lo, hi = wilson_bounds(s, np.full(s.size, float(n)))
    assert abs(((lo <= p) & (p <= hi)).mean() - 0.95) < 0.02


# --------------------------------------------------------------------------- ranking


def _people(cells: dict[str, dict[str, float]], n: dict[str, int]) -> pl.DataFrame:
    """A per-person table of groups of the given sizes: each count harm one event each for the
    group's first people (``cells[group][harm]`` of them), income lost shared by its first 40."""
    parts = []
    for g, size in n.items():
        cols: dict[str, object] = {"group": [g] * size, "urban": [True] * size}
        for harm in I.HARMS:
            total = float(cells[g].get(harm, 0.0))
            col = np.zeros(size)
            if harm == "income_lost":
                col[:40] = total / 40
            else:
                col[: int(total)] = 1.0
            cols[harm] = col
        parts.append(pl.DataFrame(cols))
    return pl.concat(parts)


def test_a_cell_below_the_minimum_count_is_never_ranked():
    """A group of 50 people with 10 sanctions (200 per 1,000) is shown but not ranked: the
    worst-hit group is the large one with 30 among 1,000 (not the one with 20); with one large
    group ranked alone, none is named (nothing to compare it with); with one sanction in all,
    none, and the line says so with its counts in words ("1 sanction", "1 person")."""
    sizes = {"few": 50, "many": 1000, "more": 1000}
    d = I.impact_frame(_people({"few": {"sanctions": 10}, "many": {"sanctions": 30}, "more": {"sanctions": 20}}, sizes))
    few = d.filter((pl.col("axis") == "group") & (pl.col("cell") == "few") & (pl.col("harm") == "sanctions"))
    assert few.item(0, "per_1000") == pytest.approx(200.0) and not few.item(0, "ranked")
    assert few.item(0, "rank") is None
    w = I.worst_hit(d, "sanctions")
    assert w.cell == "many" and w.count == 30
    assert I.describe_worst(w) == "many: 30.0 sanctions per 1,000, 1.02x the overall rate (30 sanctions among 1,000 people)"
    alone = I.impact_frame(_people({"few": {"sanctions": 10}, "many": {"sanctions": 30}, "more": {}}, sizes))
    assert I.describe_worst(I.worst_hit(alone, "sanctions")).startswith(
        "none ranked: only many has at least 20 sanctions among at least 100 people")
    single = I.impact_frame(_people({"all of us": {"sanctions": 30}}, {"all of us": 1000}))
    assert I.describe_worst(I.worst_hit(single, "sanctions")) == \
        "none ranked: one group only (all of us), nothing to compare it with"
    one = I.impact_frame(_people({"a": {"sanctions": 1}, "b": {}}, {"a": 1, "b": 400}))
    text = I.describe_worst(I.worst_hit(one, "sanctions"))
    assert text.startswith("none ranked") and "1 sanction among 1 person" in text and "1 people" not in text
    assert I.describe_worst(I.worst_hit(one, "flags")) == "none (no flags)"


WRONG_GROUP = {  # sanctions worst for the majority; flags and income lost for the minority
    "majority": {"sanctions": 300, "flags": 100, "income_lost": 9000.0, "false_flags": 30},
    "minority": {"sanctions": 25, "flags": 24, "income_lost": 2200.0, "false_flags": 20},
}
SIZES = {"majority": 9100, "minority": 900}


def _replaced(r: RunTables, people: pl.DataFrame) -> RunTables:
    return RunTables(scenario=r.scenario_data, manifest=r.manifest, metrics=r.metrics, groups=r.groups,
                     scores=r.scores, impact=I.impact_frame(people))


def test_headline_names_the_worst_hit_group_per_harm(result):
    """The case the old headline got wrong: the majority has the most sanctions per person,
    the minority 2.1x the flags and 2.2x the income lost; each harm names its own group (the
    old single "worst-hit group", by sanctions, named the majority for all)."""
    people = _people(WRONG_GROUP, SIZES)
    head = metrics.headline(_replaced(result, people))
    assert "worst-hit group" not in head
    assert head[V.WORST_HIT["sanctions"]].startswith("majority: ")
    assert head[V.WORST_HIT["flags"]] == ("minority: 26.7 flags per 1,000, 2.15x the overall rate "
                                          "(24 flags among 900 people)")
    assert head[V.WORST_HIT["income_lost"]].startswith("minority: 2.44 CNY lost per person, 2.18x the overall rate")
    for name in V.WORST_HIT.values():
        assert isinstance(head[name], str) and "1 people" not in head[name]


def test_comparison_names_a_change_of_worst_hit_group(result):
    """The comparison table and findings say when a harm's worst-hit group changed."""
    from scorelab.report.compare import compare_table
    from scorelab.report.findings import compare_findings

    a = _replaced(result, _people(WRONG_GROUP, SIZES))
    swapped = {"majority": WRONG_GROUP["minority"], "minority": WRONG_GROUP["majority"]}
    b = _replaced(result, _people(swapped, {"majority": 900, "minority": 9100}))
    html = compare_table([a, b])
    assert "minority \u2192 majority" in html or "minority &#8594; majority" in html
    text = " ".join(compare_findings([a, b]))
    assert "worst-hit group (flags) minority \u2192 majority" in text


# --------------------------------------------------------------------------- scale


def test_rates_per_1000_do_not_depend_on_scale():
    """The whole population's rate per 1,000 of each harm agrees between a run at scale 1 and
    at 0.5 within 5 standard errors of the difference (Poisson, for counts)."""
    sc = flagged(people=4000, days=30)
    sc["population"]["represents"] = 4000
    full = scorelab.run(scorelab.load(sc)).impact().filter(pl.col("axis") == "all")
    half = scorelab.run(scorelab.load(sc, scale=0.5)).impact().filter(pl.col("axis") == "all")
    for harm in ("sanctions", "flags", "false_flags", "erroneous_records"):
        a = full.filter(pl.col("harm") == harm).row(0, named=True)
        b = half.filter(pl.col("harm") == harm).row(0, named=True)
        assert b["people"] == a["people"] // 2
        se = 1000.0 * np.sqrt(a["count"] / a["people"] ** 2 + b["count"] / b["people"] ** 2)
        assert abs(a["per_1000"] - b["per_1000"]) <= 5 * max(se, 1e-9), harm


def test_query_view_impact(result, tmp_path):
    """``scorelab query`` has the view ``impact``: the folder's rows, with its run id."""
    from typer.testing import CliRunner

    from scorelab.cli import app

    result.save(tmp_path / "runs" / "a")
    sql = "select harm, cell, per_1000, ranked from impact where axis = 'group' and harm = 'flags' order by cell"
    out = CliRunner().invoke(app, ["query", sql, "--runs", str(tmp_path / "runs"), "--format", "csv"])
    assert out.exit_code == 0, out.output
    rows = out.output.strip().splitlines()
    expected = result.impact().filter((pl.col("axis") == "group") & (pl.col("harm") == "flags")).sort("cell")
    assert rows[0] == "harm,cell,per_1000,ranked" and len(rows) == 1 + expected.height
    assert [r.split(",")[1] for r in rows[1:]] == expected.get_column("cell").to_list()
