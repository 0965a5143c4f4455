"""The disparate-impact figure: one panel per axis (group, income decile, age band, urban or
rural, occupation, province, city), each harm's rate in each cell as a ratio to the whole
population's rate, with its 95 % interval; a cell with too few events to be ranked is drawn
pale and unhatched (``impact.MIN_EVENTS``, ``impact.MIN_PEOPLE``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from scorelab import metrics as M
from scorelab.impact import AXES, MIN_EVENTS, MIN_PEOPLE, harm_label
from scorelab.plots.common import MAX_CELLS, empty, new_figure, short
from scorelab.tables import RunTables

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: The harms drawn, with their colours.
DRAWN = {"sanctions": "#c44e52", "wrongful_sanctions": "#8172b2", "flags": "#4c72b0", "false_flags": "#64b5cd",
         "income_lost": "#dd8452", "acts_suppressed": "#55a868"}
TITLES = {"group": "by group", "income_decile": "by income decile", "age_band": "by age band",
          "urban": "urban / rural", "occupation": "by occupation", "province": "by province", "city": "by city"}


def _cells(d: pl.DataFrame) -> tuple[list[str], str]:
    """The cells of one axis to draw (in the table's order), and a note when some are left out."""
    people = d.unique("cell", keep="first", maintain_order=True).select("cell", "people")
    cells = people.get_column("cell").to_list()
    if len(cells) <= MAX_CELLS:
        return cells, ""
    largest = set(people.sort("people", descending=True).head(MAX_CELLS).get_column("cell").to_list())
    return [c for c in cells if c in largest], f" (largest {MAX_CELLS} of {len(cells)})"


def _panel(ax: "Axes", d: pl.DataFrame, axis: str) -> None:
    harms = [h for h in DRAWN if h in set(d.get_column("harm").to_list())]
    cells, note = _cells(d)
    ax.set_title(TITLES.get(axis, axis) + note, fontsize=9)
    if not cells or not harms:
        empty(ax, "no cells")
        return
    x = np.arange(len(cells))
    width = 0.8 / len(harms)
    top, bottom = 1.0, 0.0
    for i, h in enumerate(harms):
        rows = {r["cell"]: r for r in d.filter(pl.col("harm") == h).iter_rows(named=True)}
        overall = [rows[c]["per_1000"] / rows[c]["ratio"] if rows[c]["ratio"] else None for c in cells]
        ratio = np.array([rows[c]["ratio"] if rows[c]["ratio"] is not None else np.nan for c in cells], dtype=float)
        lo = np.array([rows[c]["per_1000_lo"] / o if o and rows[c]["per_1000_lo"] is not None else np.nan
                       for c, o in zip(cells, overall)], dtype=float)
        hi = np.array([rows[c]["per_1000_hi"] / o if o and rows[c]["per_1000_hi"] is not None else np.nan
                       for c, o in zip(cells, overall)], dtype=float)
        ranked = np.array([bool(rows[c]["ranked"]) for c in cells])
        pos = x + (i - (len(harms) - 1) / 2) * width
        values = np.nan_to_num(ratio)
        ax.bar(pos[ranked], values[ranked], width=width, color=DRAWN[h], label=harm_label(h))
        ax.bar(pos[~ranked], values[~ranked], width=width, color=DRAWN[h], alpha=0.25)
        ok = ranked & np.isfinite(lo) & np.isfinite(hi)
        if ok.any():
            err = np.vstack([np.maximum(values[ok] - lo[ok], 0), np.maximum(hi[ok] - values[ok], 0)])
            ax.errorbar(pos[ok], values[ok], yerr=err, fmt="none", ecolor="#333333", elinewidth=0.6, capsize=1.5)
            top = max(top, float(np.nanmax(hi[ok])))
        if np.isfinite(ratio).any():  # (a net gain of income, or more acts than the twin's, is below 0)
            top = max(top, float(np.nanmax(ratio[ranked]))) if np.isfinite(ratio[ranked]).any() else top
            bottom = min(bottom, float(np.nanmin(ratio)))
    ax.axhline(1.0, color="#333333", linewidth=0.8, linestyle="--")
    ax.set_ylim(max(bottom, -10.0) * 1.08, min(top, 10.0) * 1.08)
    rotate = len(cells) > 4
    ax.set_xticks(x, [short(c, 16) for c in cells], fontsize=7, rotation=35 if rotate else 0,
                  ha="right" if rotate else "center")
    ax.set_ylabel("rate / overall rate", fontsize=8)


def fig_impact(r: RunTables) -> "Figure":
    """Each harm's rate per cell against the whole population's (1 = the same), one panel per
    axis the run's impact table holds; bars of cells below the minimum count pale and without
    an interval, never ranked."""
    d = M.impact(r)
    axes = [a for a in AXES if d.filter(pl.col("axis") == a).height]
    cols = 2
    rows = max(1, (len(axes) + cols - 1) // cols)
    fig, panels = new_figure((11.0, 2.9 * rows), cols, nrows=rows)
    for ax, axis in zip(panels, axes):
        _panel(ax, d.filter(pl.col("axis") == axis), axis)
    for ax in panels[len(axes):]:
        ax.set_axis_off()
    if axes:
        from matplotlib.patches import Patch

        harms = [h for h in DRAWN if h in set(d.get_column("harm").to_list())]
        fig.legend([Patch(color=DRAWN[h]) for h in harms], [harm_label(h) for h in harms],
                   loc="outside lower center", ncols=max(1, len(harms)), fontsize=8)
    fig.suptitle(f"pale bars: fewer than {MIN_EVENTS} events or {MIN_PEOPLE:,} people, not ranked; "
                 "bars above 10x are cut at the top", fontsize=8, color="#666666")
    if not axes:
        empty(panels[0], "no impact table")
    return fig
