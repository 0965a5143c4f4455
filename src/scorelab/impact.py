"""Disparate impact: each harm per 1,000 people along several axes, with counts, intervals and
a minimum count below which no cell is ranked (issues 20 and 22).

A run's harms (sanctions, wrongful sanctions, flags, false flags, income lost, acts
suppressed, erroneous records, records held at the end where the run counts them) are
counted per person at the end of the run; this module sums
them over the cells of each axis (group, income decile, age band, urban or rural registration,
occupation, province, city) and reads each cell against the whole population. It is computed
from the per-person table once, when a run's tables are made (``RunTables.from_people``), and
kept as ``impact.parquet``; for a folder written before that file existed, the axes that
``groups.parquet`` holds (group, province, city, urban) are computed from it
(``impact_from_groups``), without the per-person intervals of money.

One row per (axis, cell, harm), and one per harm for the whole population (axis ``all``):

* ``count`` the harm summed over the cell's people (events; CNY for income lost; acts
  suppressed are lawful, disfavoured acts, net of those the system encouraged: deterred
  wrongdoing is no harm and is not counted), ``affected`` the people it touched (at
  least one event; a loss of income), ``events`` what the minimum-count rule reads (the
  count, or for income lost the people who lost some);
* ``per_1000`` and its 95 % interval: the Garwood interval of the count (``intervals``),
  widened to the normal interval from the people's own variance where that is wider (events
  cluster on the same people: a sanctioned person is sanctioned again); for income lost, the
  normal interval alone;
* ``affected_share`` with its Wilson interval; ``ratio`` to the whole population's rate;
* ``ranked``: at least ``MIN_EVENTS`` events among at least ``MIN_PEOPLE`` people. A cell
  below either is shown but never ranked: one sanction among a few dozen people made a
  group "10.61 times the overall rate". ``rank``: 1 for the worst-hit ranked cell per axis
  and harm; ``worst_hit`` names it only when at least two cells of the axis are ranked.

Docs: docs/metrics.md ("Disparate impact").
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import polars as pl

from scorelab.intervals import LEVEL, normal_quantile, poisson_bounds, wilson_bounds
from scorelab.vocabulary import INCOME_LOST, figure_unit

__all__ = [
    "AGE_BANDS", "AXES", "GROUP_AXES", "HARMS", "MIN_EVENTS", "MIN_PEOPLE", "SCHEMA", "Worst", "describe_worst",
    "counted", "harm_label", "impact_frame", "impact_from_groups", "income_deciles", "persons", "worst_hit",
]

#: The axes, in the order the report shows them.
AXES = ("group", "income_decile", "age_band", "urban", "occupation", "province", "city")
#: The axes ``groups.parquet`` holds (a folder without ``impact.parquet``).
GROUP_AXES = ("group", "urban", "province", "city")
#: The harms, each a per-person column of the people table.
HARMS = ("sanctions", "wrongful_sanctions", "flags", "false_flags", "income_lost", "acts_suppressed",
         "erroneous_records", "records_held")
#: Below this many events (or people who lost income) a cell is not ranked: a count's relative
#: sampling error, 1 / sqrt(n), is above 22 % (as ``vocabulary.FEW_EVENTS``).
MIN_EVENTS = 20
#: Below this many people a cell is not ranked.
MIN_PEOPLE = 100
#: Lower edges of the age bands, years (the last band open).
AGE_BANDS = (0, 18, 30, 45, 60)
#: A harm that is money rather than events.
MONEY = "income_lost"

#: The columns of ``groups.parquet`` counting the people each harm touched.
_AFFECTED_IN_GROUPS = {
    "sanctions": "sanctioned_people", "wrongful_sanctions": "wrongfully_sanctioned_people",
    "flags": "flagged_people", "false_flags": "falsely_flagged_people", "income_lost": "people_losing_income",
    "acts_suppressed": "people_with_suppressed_acts", "erroneous_records": "people_with_erroneous_records",
    "records_held": "people_with_data_held",
}

SCHEMA = {
    "axis": pl.String, "cell": pl.String, "harm": pl.String, "people": pl.Int64, "count": pl.Float64,
    "affected": pl.Int64, "events": pl.Float64, "per_1000": pl.Float64, "per_1000_lo": pl.Float64,
    "per_1000_hi": pl.Float64, "affected_share": pl.Float64, "affected_lo": pl.Float64, "affected_hi": pl.Float64,
    "ratio": pl.Float64, "ranked": pl.Boolean, "rank": pl.Int64,
}


# --------------------------------------------------------------------------- axes


def income_deciles(income: np.ndarray) -> np.ndarray:
    """Each person's income decile (uint8): 1 (lowest tenth) to 10 among people with an
    income, 0 for none (children, most students: thirty per cent of people with one income,
    zero, would otherwise fill three deciles by person id). Ties keep person order."""
    income = np.asarray(income)
    out = np.zeros(income.shape[0], dtype=np.uint8)
    earners = np.flatnonzero(income > 0)
    n = earners.size
    if not n:
        return out
    # The earner of stable rank r (incomes ascending, ties in person order) is in decile
    # r * 10 // n + 1: one more than the boundaries b_j = ceil(j n / 10) it has reached. Each
    # boundary's income is found by one partition (not a sort of everyone); of the earners with
    # exactly that income, those past the first b_j - (earners below it) have reached it.
    x = income[earners]
    bounds = [b for b in (-(-j * n // 10) for j in range(1, 10)) if b < n]  # (fewer than 10 earners: some empty)
    values = np.partition(x, bounds) if bounds else x
    dec = np.ones(n, dtype=np.uint8)
    for b in bounds:
        v = values[b]
        dec += x > v
        ties = np.flatnonzero(x == v)
        dec[ties[b - int(np.count_nonzero(x < v)):]] += 1
    out[earners] = dec
    return out


def _axis_key(axis: str) -> pl.Expr:
    """A sortable key of a person's cell on ``axis`` (the label comes after sorting)."""
    if axis == "age_band":
        return pl.sum_horizontal([(pl.col("age") >= edge).cast(pl.Int32) for edge in AGE_BANDS[1:]])
    if axis in ("urban", "income_decile"):
        return pl.col(axis).cast(pl.Int32)
    # (an Enum column is grouped as it is, in the scenario's order: a string per person would
    # cost 16 bytes or more while grouping)
    return pl.col(axis)


def _label(axis: str, key: Any) -> str:
    """The name of a numeric cell key: an age band, urban or rural, an income decile."""
    if axis == "age_band":
        lo = AGE_BANDS[int(key)]
        return f"{lo}+" if int(key) == len(AGE_BANDS) - 1 else f"{lo}-{AGE_BANDS[int(key) + 1] - 1}"
    if axis == "urban":
        return "urban" if key else "rural"
    return "no income" if key == 0 else f"decile {key}"


def _source(axis: str) -> str:
    return "age" if axis == "age_band" else axis


# --------------------------------------------------------------------------- frames


#: ``_cells`` numbers a person's combination of cells below this (int64)
_CODE_LIMIT = 1 << 62


def _cells(people: pl.DataFrame, axes: list[str], harms: list[str]) -> pl.DataFrame:
    """One row per combination of cells that someone is in (a person's cell on every axis at
    once): its key on each axis, its people, and per harm the sum, the people it touched
    (``.affected``) and the sum of squares (``.sq``). Each axis then sums these few thousand
    rows, not everyone: summing a 670,000-person table once, by a sort, takes a tenth of
    the time of a grouping per axis (0.05 against 0.5 s)."""
    keys = people.select([_axis_key(a).alias(a) for a in axes])
    code = np.zeros(people.height, dtype=np.int64)
    for a in axes:  # (a mixed-radix number of the person's cells)
        col = keys.get_column(a).to_physical()  # (an Enum's codes, in its order)
        col = keys.get_column(a).rank("dense") if not col.dtype.is_numeric() else col  # (plain strings)
        c = col.fill_null(-1).to_numpy().astype(np.int64)
        c -= c.min(initial=0)
        radix = int(c.max(initial=0)) + 1
        if int(code.max(initial=0)) >= _CODE_LIMIT // radix:  # (numbered anew before it could overflow)
            code = np.unique(code, return_inverse=True)[1].astype(np.int64).reshape(-1)
        code = code * radix + c
    order = np.argsort(code, kind="stable")
    code = code[order]
    starts = np.flatnonzero(np.diff(code, prepend=code[:1] - 1))  # (where each combination begins)
    cols: dict[str, Any] = {"people": np.diff(np.r_[starts, code.size]).astype(np.int64)}
    for h in harms:
        x = people.get_column(h).cast(pl.Float64).to_numpy()[order]
        touched = x > 0 if h == MONEY else x != 0
        cols[h] = np.add.reduceat(x, starts)
        cols[f"{h}.affected"] = np.add.reduceat(touched.astype(np.int64), starts)
        cols[f"{h}.sq"] = np.add.reduceat(x * x, starts)
    return keys[order[starts]].with_columns(**{k: pl.Series(k, v) for k, v in cols.items()})


def _sums(cells: pl.DataFrame, axis: str | None, harms: list[str]) -> pl.DataFrame:
    """Per key of ``axis`` (or over everyone): people, each harm's sum, the people it touched
    and its sum of squares, from ``_cells``. Summed by numpy in the cells' order within each key
    (a stable sort), so that the float sums are the same bits in every run: a polars grouping
    adds in an order of its threads' making, and income sums differed in the last bits."""
    cols = ["people", *(c for h in harms for c in (h, f"{h}.affected", f"{h}.sq"))]
    if axis is None:
        return pl.DataFrame({c: pl.Series(c, [cells.get_column(c).to_numpy().sum()]) for c in cols}) \
            .with_columns(pl.lit("all").alias("_key"))
    ordered = cells.select(pl.col(axis).alias("_key"), *cols).sort("_key", maintain_order=True)
    if ordered.height == 0:
        return ordered
    key = ordered.get_column("_key")
    starts = np.flatnonzero(key.ne_missing(key.shift(1)).fill_null(True).to_numpy())
    return ordered[starts].select("_key").with_columns(
        pl.Series(c, np.add.reduceat(ordered.get_column(c).to_numpy(), starts)) for c in cols)


def impact_frame(people: pl.DataFrame) -> pl.DataFrame:
    """The impact table (module docstring) of a per-person table; axes and harms it lacks
    columns for are left out (a people table written before they were kept)."""
    harms = [h for h in HARMS if h in people.columns]
    axes = [a for a in AXES if _source(a) in people.columns]
    cells = _cells(people, axes, harms)
    parts = [_long("all", _sums(cells, None, harms), harms)]
    parts += [_long(a, _sums(cells, a, harms), harms) for a in axes]
    return _finish(pl.concat(parts))


def impact_from_groups(groups: pl.DataFrame) -> pl.DataFrame:
    """The impact table along the axes ``groups.parquet`` holds, from its per-cell sums: the
    same counts and rates as ``impact_frame``, count intervals Poisson only, none for money."""
    harms = [h for h in HARMS if h in groups.columns]
    renamed = groups.rename({v: f"{k}.affected" for k, v in _AFFECTED_IN_GROUPS.items()
                             if k in harms and v in groups.columns})
    sums = [pl.col("people").sum().cast(pl.Int64)]
    sums += [pl.col(c).sum() for h in harms for c in (h, f"{h}.affected") if c in renamed.columns]
    # (a folder older than a counter of people: that many unknown, and its cells not ranked)
    unknown = [pl.lit(None, dtype=pl.Int64).alias(f"{h}.affected") for h in harms if f"{h}.affected" not in renamed.columns]
    parts = [_long("all", renamed.select(sums).with_columns(pl.lit("all").alias("_key"), *unknown), harms)]
    for axis in GROUP_AXES:
        cells = renamed.group_by(_axis_key(axis).alias("_key")).agg(sums).sort("_key").with_columns(*unknown)
        parts.append(_long(axis, cells, harms))
    return _finish(pl.concat(parts))


def _long(axis: str, sums: pl.DataFrame, harms: list[str]) -> pl.DataFrame:
    """One row per (cell, harm) of an axis' sums."""
    keys = sums.get_column("_key")
    if axis == "all":
        cells = ["all"] * sums.height
    elif axis in ("age_band", "urban", "income_decile"):
        cells = [_label(axis, k) for k in keys.to_list()]
    else:
        cells = keys.cast(pl.String).to_list()
    rows = []
    for h in harms:
        sq = sums.get_column(f"{h}.sq") if f"{h}.sq" in sums.columns else pl.Series([None] * sums.height)
        rows.append(pl.DataFrame({
            "axis": [axis] * sums.height, "cell": cells, "harm": [h] * sums.height,
            "people": sums.get_column("people").cast(pl.Int64), "count": sums.get_column(h).cast(pl.Float64),
            "affected": sums.get_column(f"{h}.affected").cast(pl.Int64), "sq": sq.cast(pl.Float64),
        }))
    return pl.concat(rows) if rows else pl.DataFrame(schema={**{k: SCHEMA[k] for k in
                                                               ("axis", "cell", "harm", "people", "count", "affected")},
                                                             "sq": pl.Float64})


def _finish(rows: pl.DataFrame) -> pl.DataFrame:
    """Rates, intervals, ratios and ranks of the summed rows."""
    people = rows.get_column("people").to_numpy().astype(np.float64)
    count = rows.get_column("count").to_numpy().astype(np.float64)
    money = (rows.get_column("harm") == MONEY).to_numpy()
    affected = rows.get_column("affected").to_numpy().astype(np.float64)  # (NaN where unknown)
    per = np.divide(1000.0 * count, people, out=np.full_like(count, np.nan), where=people > 0)
    lo, hi = _per_1000_interval(count, people, rows.get_column("sq").to_numpy().astype(np.float64), money)
    known = ~np.isnan(affected)
    a_lo, a_hi = wilson_bounds(np.where(known, affected, 0.0), people)
    events = np.where(money, affected, count)
    out = rows.drop("sq").with_columns(
        pl.Series("events", events), pl.Series("per_1000", per, nan_to_null=True),
        pl.Series("per_1000_lo", lo, nan_to_null=True), pl.Series("per_1000_hi", hi, nan_to_null=True),
        pl.Series("affected_share", np.divide(affected, people, out=np.full_like(count, np.nan), where=people > 0),
                  nan_to_null=True),
        pl.Series("affected_lo", np.where(known, a_lo, np.nan), nan_to_null=True),
        pl.Series("affected_hi", np.where(known, a_hi, np.nan), nan_to_null=True),
    )
    overall = out.filter(pl.col("axis") == "all").select("harm", pl.col("per_1000").alias("_overall"))
    out = out.join(overall, on="harm", how="left", maintain_order="left").with_columns(
        pl.when(pl.col("_overall") != 0).then(pl.col("per_1000") / pl.col("_overall")).alias("ratio"),
        ((pl.col("events") >= MIN_EVENTS) & (pl.col("people") >= MIN_PEOPLE) & (pl.col("axis") != "all"))
        .fill_null(False).alias("ranked"),
    ).drop("_overall")
    rank = (pl.when(pl.col("ranked")).then(pl.col("per_1000").rank("ordinal", descending=True)
                                           .over("axis", "harm", pl.col("ranked"))))
    return out.with_columns(rank.cast(pl.Int64).alias("rank")).select(list(SCHEMA)).cast(SCHEMA)  # type: ignore[arg-type]


def _per_1000_interval(count: np.ndarray, people: np.ndarray, sq: np.ndarray,
                       money: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 95 % interval per 1,000 people: Garwood for counts, widened to the normal interval
    of the people's own values where they are known and it is wider; for money, the normal
    one (null without the squares)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        g_lo, g_hi = poisson_bounds(np.where(money, 0.0, np.maximum(count, 0.0)))
        z = normal_quantile(1 - (1 - LEVEL) / 2)
        mean = count / people
        var = np.maximum(sq / people - mean * mean, 0.0) * people / np.maximum(people - 1, 1)
        half = z * np.sqrt(var / people)
        n_lo, n_hi = 1000.0 * (mean - half), 1000.0 * (mean + half)
        c_lo, c_hi = 1000.0 * g_lo / people, 1000.0 * g_hi / people
        neg = count < 0  # (net acts suppressed below zero: no Poisson count)
        lo = np.where(money | neg, n_lo, np.fmin(c_lo, np.where(np.isnan(n_lo), np.inf, np.maximum(n_lo, 0.0))))
        hi = np.where(money | neg, n_hi, np.fmax(c_hi, n_hi))
    empty = people <= 0
    return np.where(empty, np.nan, lo), np.where(empty, np.nan, hi)


# --------------------------------------------------------------------------- worst hit


class Worst(NamedTuple):
    """The worst-hit cell of an axis for a harm, or why there is none (``cell`` None)."""

    harm: str
    axis: str
    cell: str | None
    per_1000: float
    ratio: float | None
    count: float
    events: float
    affected: int | None
    people: int
    reason: str


#: How each harm's events are named: (one, several).
NOUNS = {
    "sanctions": ("sanction", "sanctions"), "wrongful_sanctions": ("wrongful sanction", "wrongful sanctions"),
    "flags": ("flag", "flags"), "false_flags": ("false flag", "false flags"),
    "acts_suppressed": ("lawful act suppressed", "lawful acts suppressed"),
    "erroneous_records": ("erroneous record", "erroneous records"), "records_held": ("record held", "records held"),
    MONEY: ("person who lost income", "people who lost income"),
}


def harm_label(harm: str) -> str:
    """A harm's name in tables and figures: "lawful acts suppressed", not its column's name."""
    return "income lost" if harm == MONEY else NOUNS.get(harm, ("", harm.replace("_", " ")))[1]


def counted(n: float, harm: str) -> str:
    """``n`` events of ``harm`` in words: "1 sanction", "45 sanctions"."""
    one, many = NOUNS.get(harm, (harm, harm))
    return f"{n:,.0f} {one if round(n) == 1 else many}"


def persons(n: float) -> str:
    """``n`` people in words: "1 person", "3,660 people"."""
    return f"{n:,.0f} {'person' if round(n) == 1 else 'people'}"


def worst_hit(impact: pl.DataFrame, harm: str, axis: str = "group") -> Worst:
    """The ranked cell of ``axis`` with the highest rate of ``harm`` (rank 1), when at least two
    cells are ranked (one ranked cell is compared with nothing); otherwise ``cell`` is None
    and ``reason`` says why (no events, too few, no net harm)."""
    rows = impact.filter((pl.col("axis") == axis) & (pl.col("harm") == harm))
    total = float(rows.get_column("count").sum()) if rows.height else 0.0
    ranked = rows.filter(pl.col("ranked"))
    nothing = Worst(harm, axis, None, 0.0, None, total, 0.0, None, 0, "")
    if not rows.height or rows.get_column("events").fill_null(0).max() <= 0:  # type: ignore[operator]
        noun = "income lost" if harm == MONEY else NOUNS.get(harm, (harm, harm))[1]
        return nothing._replace(reason=f"none (no {noun})")
    if ranked.height >= 2:
        r = ranked.filter(pl.col("rank") == 1).row(0, named=True)
        if r["per_1000"] > 0:
            return Worst(harm, axis, r["cell"], r["per_1000"], r["ratio"], r["count"], r["events"], r["affected"],
                         r["people"], "")
        return nothing._replace(reason="none (no net harm in any ranked cell)")
    rule = f"at least {counted(MIN_EVENTS, harm)} among at least {persons(MIN_PEOPLE)}"  # (the thresholds, not counts)
    if ranked.height == 1 and rows.height == 1:
        return nothing._replace(reason=f"none ranked: one {axis} only ({rows.item(0, 'cell')}), nothing to compare it with")
    if ranked.height == 1:
        only = ranked.row(0, named=True)
        rest = rows.filter(~pl.col("ranked")).sort("events", descending=True).row(0, named=True)
        return nothing._replace(
            reason=f"none ranked: only {only['cell']} has {rule}, nothing to compare it with "
                   f"(next: {rest['cell']}, {counted(rest['events'], harm)} among {persons(rest['people'])})")
    most = rows.sort("events", descending=True).row(0, named=True)
    return nothing._replace(
        reason=f"none ranked: no {axis} has {rule} "
               f"(the most: {most['cell']}, {counted(most['events'], harm)} among {persons(most['people'])})")


def describe_worst(w: Worst) -> str:
    """A worst-hit cell in one line, with its counts: ``minority: 12.3 flags per 1,000, 2.10x
    the overall rate (45 flags among 3,660 people)``."""
    if w.cell is None:
        return w.reason
    ratio = f", {w.ratio:.2f}x the overall rate" if w.ratio is not None else ""
    if w.harm == MONEY:
        return (f"{w.cell}: {w.per_1000 / 1000:,.2f} {figure_unit(INCOME_LOST)} lost per person{ratio} "
                f"({w.affected:,} of {persons(w.people)} lost income)")
    noun = NOUNS.get(w.harm, (w.harm, w.harm))[1]
    return f"{w.cell}: {w.per_1000:,.1f} {noun} per 1,000{ratio} ({counted(w.count, w.harm)} among {persons(w.people)})"
