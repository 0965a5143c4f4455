"""Figures of the outputs beside the metric catalogue (``scorelab.metrics_data``): regions
over time, what is known about people, and the lives of a few sampled people. A folder
written before these were kept (results format 3) gets a panel saying so."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from scorelab import metrics_data as D
from scorelab.errors import UsageError
from scorelab.plots.common import (
    C_ERR, C_TRUE, MAX_ROWS, WIDE, empty, label, new_figure, score_axis, short, thin_level,
)
from scorelab.tables import RunTables

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: People whose lives the ``lives`` figure draws.
LIVES = 5
_OLD = "not kept by the scorelab that wrote this run"


#: Most lines a figure names in its legend.
LEGEND = 10


def _level(r: RunTables) -> str:
    """Cities when few enough to read or all in one province, else provinces."""
    reg = r.regions
    few = reg.get_column("region").n_unique() <= MAX_ROWS
    return "city" if few or reg.get_column("province").n_unique() == 1 else "province"


def fig_regions(r: RunTables) -> "Figure":
    """Records made per 1,000 people since the start, and records held per person, per city (or
    province; the most populous ``LEGEND``, each named), over time: rollout region by region."""
    fig, (a, b) = new_figure(WIDE, 2)
    try:
        level = _level(r)
        s = D.region_series(r, level)
    except UsageError:
        empty(a, _OLD)
        empty(b, _OLD)
        return fig
    names = s.select(level, "people").unique(level).sort("people", descending=True).get_column(level).to_list()
    for name in names[:LEGEND]:  # (every line named: 20 lines without a legend named nothing)
        one = s.filter(pl.col(level) == name)
        day = one.get_column("day").to_numpy()
        records = (one.get_column("records_true") + one.get_column("records_erroneous")).to_numpy().astype(float)
        people = float(one.get_column("people")[0]) or 1.0
        d, rec = thin_level(day, np.cumsum(records))  # (cumulative: a daily rate is mostly noise in a town)
        a.plot(d, 1000.0 * rec / people, label=short(label(name), 20))
        d, held = thin_level(day, one.get_column("records_held").to_numpy().astype(float))
        b.plot(d, held / people)
    if len(names) > LEGEND:
        a.text(1.0, -0.2, f"the {LEGEND} most populous; {len(names) - LEGEND} more not shown", transform=a.transAxes,
               ha="right", fontsize=7, color="#666666")
    a.set_title(f"records made per 1,000 people since day 0, by {level}")
    a.set_xlabel("day")
    a.legend(fontsize=7)
    b.set_title("records held per person")
    b.set_xlabel("day")
    b.set_ylim(0, None)
    return fig


def fig_data_held(r: RunTables) -> "Figure":
    """The pooled data space: how the data held about people grows (the twin holds none), and
    what is held per person by group at the end."""
    fig, (a, b) = new_figure(WIDE, 2)
    try:
        s = D.data_series(r)
        g = D.data_held(r, "group")
    except UsageError:
        empty(a, _OLD)
        empty(b, _OLD)
        return fig
    day = s.get_column("day").to_numpy()
    d, share, twin = thin_level(day, s.get_column("share_with_data").to_numpy(), s.get_column("twin_records_held").to_numpy())
    a.plot(d, share, color=C_ERR, label="system")
    a.plot(d, twin, color=C_TRUE, linestyle="--", label="twin (holds nothing)")
    a.set_ylim(0, max(1e-9, float(share.max(initial=0.0))) * 1.1)
    a.set_title("share of people with data held")
    a.set_xlabel("day")
    a.legend(fontsize=7)
    g = g.filter(pl.col("group").is_not_null()).sort("people", descending=True).head(MAX_ROWS)
    if g.height and g.get_column("records_per_person").sum() > 0:
        y = np.arange(g.height)
        b.barh(y - 0.2, g.get_column("records_per_person").to_numpy(), height=0.4, color=C_ERR, label="records")
        b.barh(y + 0.2, g.get_column("channels_per_person").to_numpy(), height=0.4, color=C_TRUE, label="channels")
        b.set_yticks(y, [short(label(x)) for x in g.get_column("group").to_list()], fontsize=8)
        b.invert_yaxis()
        b.legend(fontsize=7, loc="lower right")
    else:
        empty(b, "no data held about anyone")
    b.set_title("held per person at the end, by group")
    return fig


def fig_lives(r: RunTables) -> "Figure":
    """The lives of a few sampled people: score over time, and income against their twin's."""
    fig, (a, b) = new_figure(WIDE, 2)
    try:
        t = D.trajectories(r)
    except UsageError:
        empty(a, _OLD)
        empty(b, _OLD)
        return fig
    people = t.get_column("person").unique(maintain_order=True).to_list()[:LIVES]
    if not people:
        empty(a, "no people sampled (run.trajectories: 0)")
        empty(b, "no people sampled")
        return fig
    for p in people:
        one = t.filter(pl.col("person") == p)
        day = one.get_column("day").to_numpy()
        d, score = thin_level(day, one.get_column("score").fill_null(np.nan).to_numpy().astype(float))
        line = a.plot(d, score, label=f"person {p} ({short(label(one.get_column('group')[0]), 16)})")[0]
        inc, twin = one.get_column("income").to_numpy(), one.get_column("income_twin").to_numpy()
        ratio = np.divide(inc, twin, out=np.ones_like(inc), where=twin > 0)
        d, ratio = thin_level(day, ratio)
        b.plot(d, ratio, color=line.get_color())
    a.set_title("score (gaps: not scored)")
    a.set_xlabel("day")
    a.legend(fontsize=7)
    b.axhline(1.0, color="#999999", linewidth=0.8)
    b.set_title("income / the twin's income")
    b.set_xlabel("day")
    return fig


def fig_lending(r: RunTables) -> "Figure":
    """Lending by group (a run with loans): each group's mean level over time against its twin's
    (which nothing moves), and the share of its applications refused so far."""
    fig, (a, b) = new_figure(WIDE, 2)
    t = r.lending_by_group()
    lo, hi = np.inf, -np.inf
    for name in t.get_column("group").unique(maintain_order=True).to_list()[:MAX_ROWS]:
        one = t.filter(pl.col("group") == name)
        fact, twin = one.filter(pl.col("world") == "factual"), one.filter(pl.col("world") == "twin")
        day = fact.get_column("day").to_numpy()
        d, lf, lt = thin_level(day, fact.get_column("mean_level").to_numpy(), twin.get_column("mean_level").to_numpy())
        line = a.plot(d, lf, label=short(label(name), 20))[0]
        a.plot(d, lt, color=line.get_color(), linestyle="--", linewidth=0.8)
        both = np.concatenate([lf, lt])
        if np.isfinite(both).any():
            lo, hi = min(lo, float(np.nanmin(both))), max(hi, float(np.nanmax(both)))
        applied = np.cumsum(fact.get_column("loans_applied").to_numpy().astype(float))
        refused = np.cumsum(fact.get_column("loans_refused").to_numpy().astype(float))
        d, share = thin_level(day, np.divide(refused, applied, out=np.full_like(refused, np.nan), where=applied > 0))
        b.plot(d, share, color=line.get_color())
    score_axis(a, lo, hi)  # (a drift of a few points on 1,000 drawn across the whole axis looked dramatic)
    a.set_title("mean score (the credit level) by group (dashed: the twin)", fontsize=9)
    a.set_xlabel("day")
    a.legend(fontsize=7)
    b.set_title("share of loan applications refused so far")
    b.set_xlabel("day")
    b.set_ylim(0, 1)
    return fig
