"""The report's per-harm disparate-impact table: for each harm, the whole population's rate
per 1,000 and, along each axis, the worst-hit cell among those with enough events to be
ranked (``scorelab.impact``), with its ratio to the overall rate, its interval and its count."""

from __future__ import annotations

from typing import Any

import polars as pl

from scorelab import metrics as M
from scorelab.impact import AXES, MIN_EVENTS, MIN_PEOPLE, counted, harm_label, persons, worst_hit
from scorelab.report.page import e

#: Column titles of the axes.
AXIS_TITLES = {"group": "group", "income_decile": "income decile", "age_band": "age band", "urban": "urban / rural",
               "occupation": "occupation", "province": "province", "city": "city"}


def _rate(harm: str, per_1000: float) -> str:
    return f"{per_1000 / 1000:,.2f} per person" if harm == "income_lost" else f"{per_1000:,.1f} per 1,000"


def _cell(harm: str, axis: str, d: pl.DataFrame) -> str:
    w = worst_hit(d, harm, axis)
    if w.cell is None:
        short = "none" if w.reason.startswith("none (no ") else "none ranked"
        return f"<span class='unit' title='{e(w.reason)}'>{e(short)}</span>"
    r = d.filter((pl.col("axis") == axis) & (pl.col("harm") == harm) & (pl.col("cell") == w.cell)).row(0, named=True)
    ratio = f"{w.ratio:.2f}\u00d7" if w.ratio is not None else ""
    count = (f"{w.affected:,} of {persons(w.people)} lost income" if harm == "income_lost"
             else f"{counted(w.count, harm)} among {persons(w.people)}")
    title = (f"{_rate(harm, w.per_1000)}, 95 % interval {r['per_1000_lo']:,.1f} to {r['per_1000_hi']:,.1f} per 1,000"
             if r["per_1000_lo"] is not None and r["per_1000_hi"] is not None else _rate(harm, w.per_1000))
    return (f"<span title='{e(title)}'><b>{e(w.cell)}</b> {e(ratio)}</span>"
            f"<br><span class='unit'>{e(count)}</span>")


def impact_table(r: Any) -> str:
    """The per-harm table (HTML) with a note on the minimum count."""
    d = M.impact(r)
    axes = [a for a in AXES if d.filter(pl.col("axis") == a).height]
    head = "<tr><th>harm</th><th class='n'>everyone</th>" + "".join(f"<th>{e(AXIS_TITLES[a])}</th>" for a in axes)
    body = []
    for harm in dict.fromkeys(d.get_column("harm").to_list()):
        everyone = d.filter((pl.col("axis") == "all") & (pl.col("harm") == harm))
        rate = _rate(harm, everyone.item(0, "per_1000") or 0.0) if everyone.height else ""
        cells = "".join(f"<td>{_cell(harm, a, d)}</td>" for a in axes)
        body.append(f"<tr><td>{e(harm_label(harm))}</td><td class='n'>{e(rate)}</td>{cells}</tr>")
    return (f"<table class='impact'>{head}</tr>{''.join(body)}</table>"
            f"<p class='note'>The worst-hit cell of each axis per harm, as a multiple of everyone's rate (hover for "
            f"the rate and its 95 % interval). A cell is ranked only with at least {MIN_EVENTS} events (for income, "
            f"{MIN_EVENTS} people who lost some) among at least {MIN_PEOPLE:,} people, and named only when two cells "
            f"or more of the axis are (hover over \"none ranked\" for why); every cell, ranked or not, "
            f"is in <code>scorelab query 'select * from impact'</code> and <code>result.impact()</code>. Income lost "
            f"is in the population's currency; lawful acts suppressed are net of those the system encouraged, and "
            f"deterred wrongdoing is not counted as a harm.</p>")
