"""Figures of several runs side by side: ``COMPARE_PLOTS``, name -> (title, function of a
list of runs' tables); the first run is the baseline of the report's comparison."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from scorelab import metrics as M
from scorelab import vocabulary as V
from scorelab.intervals import poisson_interval
from scorelab.plots.common import (
    MIN_SCORE_SPAN,
    WIDE,
    column,
    date_axis,
    dates,
    day_column,
    empty,
    grade_order,
    new_figure,
    run_label,
    sanctions_series,
    score_axis,
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
    """Mean score over time, one line per run, on an axis at least ``MIN_SCORE_SPAN`` of the
    level wide."""
    fig, (a,) = new_figure(WIDE)
    lo, hi = np.inf, -np.inf
    for r, lab in zip(results, _labels(results)):
        ss = M.score_series(r)
        d, mu = thin_level(ss.get_column("day").to_numpy().astype(float),
                           ss.get_column("mean").fill_null(np.nan).to_numpy().astype(float))
        a.plot(dates(r, d), mu, label=lab)
        if np.isfinite(mu).any():
            lo, hi = min(lo, float(np.nanmin(mu))), max(hi, float(np.nanmax(mu)))
    score_axis(a, lo, hi)
    date_axis(a)
    a.set_ylabel("mean score (points)")
    a.legend(fontsize=8)
    a.set_title(f"mean score, run against run (axis at least {MIN_SCORE_SPAN:.0%} of the level)")
    return fig


def fig_compare_sanctions(results: Sequence[RunTables]) -> "Figure":
    """Cumulative sanctions and wrongful sanctions per 1,000 people, run against run (the twin
    has none: its line is zero)."""
    fig, (a, b) = new_figure(WIDE, 2)
    for i, (r, lab) in enumerate(zip(results, _labels(results))):
        s = sanctions_series(r)
        k = 1000.0 / max(1, int(r.manifest.get("people") or 1))
        day = day_column(r)
        d, ap, wr = thin_level(day, np.cumsum(s["applied"]) * k, np.cumsum(s["wrongful"]) * k)
        colour = f"C{i % 10}"
        a.plot(dates(r, d), ap, color=colour, label=lab)
        b.plot(dates(r, d), wr, color=colour, label=lab)
    for ax, t in ((a, "sanctions"), (b, "wrongful sanctions")):
        date_axis(ax)
        ax.axhline(0.0, color="0.5", lw=1, ls=":", label="twin (no system): 0")
        ax.set_ylabel("cumulative, per 1,000 people")
        ax.set_title(t)
        ax.legend(fontsize=7)
    return fig


def _lawful(r: RunTables) -> list[str]:
    return [b for b, kind in r.names.get("behaviours", {}).items() if kind in ("disfavoured", "civic", "neutral")]


def fig_compare_lawful(results: Sequence[RunTables]) -> "Figure":
    """Lawful acts (disfavoured, civic, neutral) per 1,000 people, cumulative: each run's
    factual world (solid) beside its twin (dashed), so the chilling effect is the gap."""
    fig, (a,) = new_figure(WIDE)
    drawn = False
    for i, (r, lab) in enumerate(zip(results, _labels(results))):
        names = _lawful(r)
        if not names:
            continue
        k = 1000.0 / max(1, int(r.manifest.get("people") or 1))
        fact = sum(column(r, f"events.{b}") for b in names)
        twin = sum(column(r, f"events_twin.{b}") for b in names)
        d, f_, t_ = thin_level(day_column(r), np.cumsum(fact) * k, np.cumsum(twin) * k)
        colour = f"C{i % 10}"
        a.plot(dates(r, d), f_, color=colour, label=f"{lab}: with the system")
        a.plot(dates(r, d), t_, color=colour, ls="--", label=f"{lab}: twin")
        drawn = True
    if not drawn:
        empty(a, "no lawful behaviours in these runs")
        return fig
    date_axis(a)
    a.set_ylabel("lawful acts, cumulative, per 1,000 people")
    a.legend(fontsize=7)
    a.set_title("lawful acts with the system (solid) and in the twin (dashed)")
    return fig


#: What the harms panels compare (per 1,000 people), one panel each.
HARMS = (V.RECORDS_ERRONEOUS, V.SANCTIONS, V.SANCTIONS_WRONGFUL, V.SANCTIONS_BY_ASSOCIATION, V.PEOPLE_SANCTIONED,
         V.FLAGS_FALSE, V.LAWFUL_ACTS_SUPPRESSED)


def fig_compare_harms(results: Sequence[RunTables]) -> "Figure":
    """Key harms per 1,000 people, run against run: one panel per harm on its own scale (one
    bar chart flattened every harm but the largest), each bar with its 95 % Poisson interval."""
    n = len(HARMS)
    cols = 4
    rows = (n + cols - 1) // cols
    fig, axes = new_figure((10.0, 2.4 * rows), cols, nrows=rows)
    labs = _labels(results)
    for j, harm in enumerate(HARMS):
        ax = axes[j]
        vals, los, his, absent = [], [], [], []
        for i, r in enumerate(results):
            h = M.headline(r)
            k = 1000.0 / max(1.0, float(h[V.PEOPLE]))
            if harm not in h or not V.modelled(r.scenario_data or {}, harm):
                absent.append(i)  # (not modelled: no bar, not a bar at 0)
                for xs in (vals, los, his):
                    xs.append(0.0)
                continue
            v = max(0.0, float(h[harm]))  # type: ignore[arg-type]
            lo, hi = poisson_interval(v)
            vals.append(v * k)
            los.append((v - lo) * k)
            his.append((hi - v) * k)
        x = np.arange(len(results))
        ax.bar(x, vals, color=[f"C{i % 10}" for i in range(len(results))], yerr=[los, his], capsize=3)
        for i in absent:
            ax.text(x[i], 0.0, "not\nmodelled", ha="center", va="bottom", fontsize=7, color="#666666")
        ax.set_xticks(x, [short(l, 12) for l in labs], fontsize=7)
        ax.set_title(harm, fontsize=9)
        ax.tick_params(axis="y", labelsize=7)
    for ax in axes[n:]:
        ax.set_visible(False)
    axes[0].set_ylabel("per 1,000 people", fontsize=8)
    fig.suptitle("harms per 1,000 people (each panel its own scale; bars: 95 % Poisson interval)", fontsize=10)
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
    "compare_lawful": ("Lawful acts against the twin", fig_compare_lawful),
    "compare_scores": ("Mean score over time", fig_compare_scores),
    "compare_grades": ("End grade shares", fig_compare_grades),
}
