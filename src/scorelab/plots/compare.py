"""Figures of several runs side by side: ``COMPARE_PLOTS``, name -> (title, function of a
list of runs' tables); the first run is the baseline of the report's comparison."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from scorelab import metrics as M
from scorelab import vocabulary as V
from scorelab.plots.common import (
    TALL,
    WIDE,
    day_column,
    empty,
    grade_order,
    new_figure,
    run_label,
    sanctions_series,
    short,
    thin_level,
)
from scorelab.tables import RunTables

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _labels(results: Sequence[RunTables]) -> list[str]:
    labs = [run_label(r) for r in results]
    return [short(l, 32) if labs.count(l) == 1 else f"{short(l, 28)} #{i + 1}" for i, l in enumerate(labs)]


def fig_compare_scores(results: Sequence[RunTables]) -> "Figure":
    """Mean score over time, one line per run."""
    fig, (a,) = new_figure(WIDE)
    for r, lab in zip(results, _labels(results)):
        ss = M.score_series(r)
        d, mu = thin_level(ss.get_column("day").to_numpy().astype(float),
                           ss.get_column("mean").fill_null(np.nan).to_numpy().astype(float))
        a.plot(d, mu, label=lab)
    a.set_xlabel("day")
    a.set_ylabel("mean score")
    a.ticklabel_format(axis="y", useOffset=False, style="plain")
    a.legend(fontsize=8)
    a.set_title("mean score, run against run")
    return fig


def fig_compare_sanctions(results: Sequence[RunTables]) -> "Figure":
    """Cumulative sanctions and wrongful sanctions per 1,000 people, run against run."""
    fig, (a, b) = new_figure(WIDE, 2)
    for i, (r, lab) in enumerate(zip(results, _labels(results))):
        s = sanctions_series(r)
        k = 1000.0 / max(1, int(r.manifest.get("people") or 1))
        day = day_column(r)
        d, ap, wr = thin_level(day, np.cumsum(s["applied"]) * k, np.cumsum(s["wrongful"]) * k)
        colour = f"C{i % 10}"
        a.plot(d, ap, color=colour, label=lab)
        b.plot(d, wr, color=colour, label=lab)
    for ax, t in ((a, "sanctions"), (b, "wrongful sanctions")):
        ax.set_xlabel("day")
        ax.set_ylabel("cumulative, per 1,000 people")
        ax.set_title(t)
        ax.legend(fontsize=7)
    return fig


#: What the side-by-side bar chart compares (per 1,000 people).
HARMS = (V.RECORDS_ERRONEOUS, V.SANCTIONS, V.SANCTIONS_WRONGFUL, V.SANCTIONS_BY_ASSOCIATION, V.PEOPLE_SANCTIONED,
         V.FLAGS_FALSE, V.LAWFUL_ACTS_SUPPRESSED)


def fig_compare_harms(results: Sequence[RunTables]) -> "Figure":
    """Key harms per 1,000 people, run against run."""
    fig, (a,) = new_figure(TALL)
    labs = _labels(results)
    x = np.arange(len(HARMS))
    wdt = 0.8 / len(results)
    for i, (r, lab) in enumerate(zip(results, labs)):
        h = M.headline(r)
        k = 1000.0 / max(1.0, float(h[V.PEOPLE]))
        vals = [float(h.get(m, 0.0)) * k for m in HARMS]  # type: ignore[arg-type]
        a.bar(x + (i - (len(results) - 1) / 2) * wdt, vals, width=wdt, label=lab)
    a.set_xticks(x, [m.replace(", ", "\n") for m in HARMS], fontsize=8)
    a.set_ylabel("per 1,000 people")
    a.legend(fontsize=8)
    a.set_title("harms per 1,000 people")
    return fig


def fig_compare_grades(results: Sequence[RunTables]) -> "Figure":
    """End grade shares, run against run (grades by name across runs)."""
    fig, (a,) = new_figure(WIDE)
    labs = _labels(results)
    order: list[str] = []
    for r in results:
        for g in grade_order(r):
            if g not in order:
                order.append(g)
    if not order:
        empty(a, "no grades")
        return fig
    x = np.arange(len(order))
    wdt = 0.8 / len(results)
    for i, (r, lab) in enumerate(zip(results, labs)):
        gs = M.grade_shares(r)
        d = dict(zip(gs.get_column("grade").to_list(), gs.get_column("end_share").to_list()))
        a.bar(x + (i - (len(results) - 1) / 2) * wdt, [(d.get(g) or 0.0) * 100 for g in order], width=wdt, label=lab)
    a.set_xticks(x, [short(g, 10) for g in order])
    a.set_ylabel("% of scored people at the end")
    a.legend(fontsize=8)
    a.set_title("end grade shares")
    return fig


COMPARE_PLOTS: dict[str, tuple[str, Callable[[Sequence[RunTables]], "Figure"]]] = {
    "compare_harms": ("Harms per 1,000 people", fig_compare_harms),
    "compare_sanctions": ("Sanctions over time", fig_compare_sanctions),
    "compare_scores": ("Mean score over time", fig_compare_scores),
    "compare_grades": ("End grade shares", fig_compare_grades),
}
