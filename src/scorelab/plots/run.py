"""Figures of one run: ``PLOTS``, name -> (title, function of the run's tables)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from scorelab import metrics as M
from scorelab.plots.common import (
    C_ASSOC,
    C_ERR,
    C_MATCH,
    C_TRUE,
    KIND_COLOURS,
    WIDE,
    column,
    day_column,
    days_per_step,
    empty,
    fmt_count,
    grade_order,
    label,
    new_figure,
    sanctions_series,
    short,
    thin_flow,
    thin_level,
    top,
)
from scorelab.plots.impact import fig_impact
from scorelab.plots.regions import fig_data_held, fig_lives, fig_regions
from scorelab.tables import RunTables

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def fig_score(r: RunTables) -> "Figure":
    """Mean score with a band of one standard deviation over time; the end-score histogram
    with its quantiles."""
    fig, (a, b) = new_figure(WIDE, 2)
    ss = M.score_series(r)
    day = ss.get_column("day").to_numpy().astype(float)
    mean = ss.get_column("mean").fill_null(np.nan).to_numpy().astype(float)
    sd = ss.get_column("sd").fill_null(np.nan).to_numpy().astype(float)
    if len(day) and np.isfinite(mean).any():
        d, mu, s = thin_level(day, mean, sd)
        a.fill_between(d, mu - s, mu + s, color=C_TRUE, alpha=0.2, linewidth=0, label="mean \u00b1 sd")
        a.plot(d, mu, color=C_TRUE, label="mean")
        a.set_xlabel("day")
        a.set_ylabel("score")
        a.ticklabel_format(axis="y", useOffset=False, style="plain")
        a.legend(loc="best", fontsize=8)
    else:
        empty(a, "no scored people")
    a.set_title("score over time")
    sc = r.scores.filter(pl.col("score").is_not_null()).sort("score")
    if sc.height:
        x = sc.get_column("score").to_numpy().astype(float)
        w = sc.get_column("people").to_numpy().astype(float)
        lo, hi = float(x.min()), float(x.max())
        bins = 40 if hi > lo else 1
        b.hist(x, bins=bins, weights=w, range=(lo - 0.5, hi + 0.5) if hi == lo else (lo, hi), color=C_TRUE, alpha=0.8)
        b.set_yscale("log")
        dist = M.score_distribution(r).row(0, named=True)
        for q, ls in (("p10", ":"), ("p25", "--"), ("p50", "-"), ("p75", "--"), ("p90", ":")):
            if dist.get(q) is not None:
                b.axvline(dist[q], color="#333333", linestyle=ls, linewidth=1, label=f"{q} {dist[q]:,.6g}")
        b.legend(fontsize=7, loc="upper left")
        b.set_xlabel("end score")
        b.set_ylabel("people (log)")
    else:
        empty(b, "no scored people")
    b.set_title("end scores and quantiles")
    return fig


def fig_grades(r: RunTables) -> "Figure":
    """Share of scored people in each grade at the end of each step (best grade on top)."""
    fig, (a,) = new_figure(WIDE)
    order = grade_order(r)
    day = day_column(r)
    if order and len(day):
        cols = np.vstack([column(r, f"grades.{g}") for g in reversed(order)])
        tot = cols.sum(axis=0)
        shares = np.divide(cols, tot, out=np.zeros_like(cols), where=tot > 0)
        d, *ys = thin_level(day, *shares)
        import matplotlib

        cmap = matplotlib.colormaps["RdYlGn"]
        colours = [cmap(i / max(1, len(order) - 1)) for i in range(len(order))]
        a.stackplot(d, np.vstack(ys) * 100, labels=[label(g) for g in reversed(order)], colors=colours, alpha=0.9)
        a.set_ylim(0, 100)
        a.set_xlim(d[0], d[-1] if d[-1] > d[0] else d[0] + 1)
        a.set_ylabel("% of scored people")
        a.set_xlabel("day")
        h, lab = a.get_legend_handles_labels()
        a.legend(h[::-1], lab[::-1], loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, title="grade")
    else:
        empty(a, "no grades")
    a.set_title("grade shares over time")
    return fig


def fig_records(r: RunTables) -> "Figure":
    """Records by channel and error status; the erroneous share per channel."""
    rec = M.records(r)
    tot = dict(rec.group_by("channel").agg(pl.col("records").sum()).iter_rows())
    every = list(r.names["channels"])
    channels, rest = top(every, [tot.get(c, 0) for c in every])
    rows = [*channels, *([f"other ({len(rest)} channels)"] if rest else [])]
    fig, (a, b) = new_figure((10.0, max(2.8, 0.32 * len(rows) + 1.4)), 2, sharey=True)
    if channels:
        piv: dict[str, list[float]] = {st: [] for st in ("true", "misattributed", "false_match")}
        for group in [[c] for c in channels] + ([rest] if rest else []):
            sub = rec.filter(pl.col("channel").is_in(group)).group_by("status").agg(pl.col("records").sum())
            d = dict(sub.iter_rows())
            for st in piv:
                piv[st].append(float(d.get(st, 0)))
        channels = rows
        y = np.arange(len(channels))
        left = np.zeros(len(channels))
        for st, colour in (("true", C_TRUE), ("misattributed", C_ERR), ("false_match", C_MATCH)):
            v = np.array(piv[st])
            a.barh(y, v, left=left, color=colour, label=st.replace("_", " "))
            left += v
        a.set_yticks(y, [short(c) for c in channels], fontsize=8)
        a.invert_yaxis()
        a.set_xlabel("records")
        a.legend(fontsize=8, loc="lower right")
        err = np.array(piv["misattributed"]) + np.array(piv["false_match"])
        share = np.divide(err, left, out=np.zeros_like(err), where=left > 0) * 100
        b.barh(y, share, color=C_ERR)
        for yi, s, e in zip(y, share, err):
            if e:
                b.text(s, yi, f" {s:.1f}% ({fmt_count(e)})", va="center", fontsize=7)
        b.set_xlabel("% erroneous")
        b.set_xlim(0, max(5.0, float(share.max()) * 1.35 if share.size else 5.0))
    else:
        empty(a, "no channels")
        empty(b, "")
    a.set_title("records by channel and status")
    b.set_title("erroneous records")
    return fig


def fig_sanctions(r: RunTables) -> "Figure":
    """People's sanctions per day (all, wrongful, by association) and sanctions per consequence
    (a firm's among them, named by its consequence)."""
    fig, (a, b) = new_figure(WIDE, 2)
    s = sanctions_series(r)
    day = day_column(r)
    if len(day) and s["applied"].sum() > 0:
        d, ap, wr, asn = thin_flow(day, s["applied"], s["wrongful"], s["association"], step_days=days_per_step(r))
        a.plot(d, ap, color=C_TRUE, label="sanctions")
        a.plot(d, wr, color=C_MATCH, label="wrongful")
        a.plot(d, asn, color=C_ASSOC, linestyle="--", label="by association")
        a.set_ylabel("per day")
        a.set_xlabel("day")
        a.legend(fontsize=8)
    else:
        empty(a, "no sanctions of people")
    a.set_title("sanctions of people over time")
    c = M.consequences(r)
    keep, rest = top(c.get_column("consequence").to_list(), c.get_column("applied").to_list())
    c = c.filter(pl.col("consequence").is_in(keep))
    if rest:
        b.text(1.0, -0.2, f"{len(rest)} more not shown", transform=b.transAxes, ha="right", fontsize=7, color="#666666")
    if c.height:
        names = c.get_column("consequence").to_list()
        y = np.arange(len(names))
        ap = c.get_column("applied").to_numpy().astype(float)
        wr = c.get_column("wrongful").to_numpy().astype(float)
        asn = c.get_column("association").to_numpy().astype(float)
        b.barh(y - 0.27, ap, height=0.27, color=C_TRUE, label="applied")
        b.barh(y, wr, height=0.27, color=C_MATCH, label="wrongful")
        b.barh(y + 0.27, asn, height=0.27, color=C_ASSOC, label="by association")
        sanction, actor = c.get_column("sanction").to_list(), c.get_column("actor").to_list()
        b.set_yticks(y, [short(n) + ("" if s_ else " (reward)") + (" (firms)" if w == "firm" else "")
                         for n, s_, w in zip(names, sanction, actor)], fontsize=8)
        b.invert_yaxis()
        b.set_xlabel("times applied")
        b.legend(fontsize=7, loc="lower right")
    else:
        empty(b, "no consequences")
    b.set_title("per consequence")
    return fig


def fig_flags(r: RunTables) -> "Figure":
    """Flag precision (true / raised and judged) and the investigation backlog over time."""
    fig, (a, b) = new_figure(WIDE, 2)
    fl = M.flags(r)
    keep, rest = top(fl.get_column("flag").to_list(), fl.get_column("raised").to_list(), 10)
    fl = fl.filter(pl.col("flag").is_in(keep))
    if rest:
        a.text(1.0, -0.2, f"{len(rest)} more not shown", transform=a.transAxes, ha="right", fontsize=7, color="#666666")
    if fl.height:
        names = fl.get_column("flag").to_list()
        y = np.arange(len(names))
        prec = [p * 100 if p is not None else 0.0 for p in fl.get_column("precision").to_list()]
        a.barh(y, prec, color=C_TRUE)
        for yi, p, row in zip(y, prec, fl.iter_rows(named=True)):
            txt = f" {p:.0f}% ({fmt_count(row['true'])} true, {fmt_count(row['false'])} false)" if row["true"] + row["false"] else " no flags"
            a.text(p if row["true"] + row["false"] else 0, yi, txt, va="center", fontsize=7)
        a.set_yticks(y, [short(n) for n in names], fontsize=8)
        a.set_xlim(0, 140)
        a.set_xticks([0, 25, 50, 75, 100])
        a.set_xlabel("precision, %")
        a.invert_yaxis()
        day = day_column(r)
        for f in names:
            d, bl = thin_level(day, column(r, f"flags.{f}.backlog"))
            b.plot(d, bl, label=label(f))
        b.set_xlabel("day")
        b.set_ylabel("flags waiting")
        b.legend(fontsize=8)
    else:
        empty(a, "no flags in this scenario")
        empty(b, "")
    a.set_title("flag precision")
    b.set_title("investigation backlog")
    return fig


def fig_chilling(r: RunTables) -> "Figure":
    """Acts suppressed against the twin per behaviour (chilling for lawful ones, deterrence for
    wrongdoing), and the cumulative lawful acts suppressed over time."""
    ch = M.chilling(r)
    keep, rest = top(ch.get_column("behaviour").to_list(), ch.get_column("suppressed").to_list())
    ch = ch.filter(pl.col("behaviour").is_in(keep))
    fig, (a, b) = new_figure((10.0, max(3.0, 0.3 * ch.height + 1.4)), 2)
    if rest:
        a.text(1.0, -0.2, f"{len(rest)} behaviours with smaller effects not shown", transform=a.transAxes, ha="right",
               fontsize=7, color="#666666")
    if ch.height:
        ch = ch.sort("kind", "behaviour")
        names = ch.get_column("behaviour").to_list()
        kinds = ch.get_column("kind").to_list()
        share = np.array([(s or 0.0) * 100 for s in ch.get_column("suppressed_share").to_list()])
        y = np.arange(len(names))
        a.barh(y, share, color=[KIND_COLOURS.get(k, "#999999") for k in kinds])
        for yi, s, sup in zip(y, share, ch.get_column("suppressed").to_list()):
            if sup:
                a.text(max(s, 0), yi, f" {fmt_count(sup)}", va="center", fontsize=7)
        a.axvline(0, color="#333333", linewidth=0.8)
        actors = ch.get_column("actor").to_list()
        a.set_yticks(y, [f"{short(n, 24)} [{label(k)}{', firms' if w == 'firm' else ''}]"
                         for n, k, w in zip(names, kinds, actors)], fontsize=7)
        a.invert_yaxis()
        a.set_xlabel("% of the twin's acts that did not happen")
        lo, hi = float(min(0.0, share.min())), float(max(1.0, share.max()))
        a.set_xlim(lo * 1.3, hi * 1.35)
    else:
        empty(a, "no behaviours")
    a.set_title("acts suppressed against the twin")
    day = day_column(r)
    shown = False
    people = set(M.chilling(r).filter(pl.col("actor") == "person").get_column("behaviour").to_list())  # (people's acts)
    for kind, colour, text in (("disfavoured", KIND_COLOURS["disfavoured"], "lawful acts (chilling)"),
                               ("wrongdoing", KIND_COLOURS["wrongdoing"], "wrongdoing (deterrence)")):
        bs = [bname for bname, k in r.names["behaviours"].items() if k == kind and bname in people]
        if not bs or not len(day):
            continue
        diff = sum((column(r, f"events_twin.{x}") - column(r, f"events.{x}") for x in bs), np.zeros(len(day)))
        d, cum = thin_level(day, np.cumsum(diff))
        b.plot(d, cum, color=colour, label=text)
        shown = True
    if shown:
        b.set_xlabel("day")
        b.set_ylabel("acts suppressed, cumulative")
        b.legend(fontsize=8)
    else:
        empty(b, "no lawful or wrongdoing behaviours")
    b.set_title("people's acts suppressed over time")
    return fig


def fig_lists(r: RunTables) -> "Figure":
    """Black- and redlist stock over time, and entries, exits, wrongful entries per list."""
    fig, (a, b) = new_figure(WIDE, 2)
    ls = M.lists(r).with_columns(  # (a list of firms' joint listings of representatives: a line of their own)
        prefix=pl.when(pl.col("joint")).then(pl.lit("joint_listings.")).otherwise(pl.lit("lists.")) + pl.col("list"),
        list=pl.when(pl.col("joint")).then(pl.col("list") + " (representatives)").otherwise(pl.col("list")))
    keep, rest = top(ls.get_column("list").to_list(),
                     (ls.get_column("entries") + ls.get_column("stock_max")).to_list(), 10)
    ls = ls.filter(pl.col("list").is_in(keep))
    if rest:
        b.text(1.0, -0.2, f"{len(rest)} more not shown", transform=b.transAxes, ha="right", fontsize=7, color="#666666")
    day = day_column(r)
    if ls.height:
        for name, prefix in zip(ls.get_column("list").to_list(), ls.get_column("prefix").to_list()):
            d, st = thin_level(day, column(r, f"{prefix}.stock"))
            a.plot(d, st, label=label(name))
        a.set_xlabel("day")
        a.set_ylabel("on the list")
        a.legend(fontsize=8)
        names = ls.get_column("list").to_list()
        y = np.arange(len(names))
        for off, col, colour in ((-0.27, "entries", C_TRUE), (0.0, "exits", "#55a868"), (0.27, "wrongful_entries", C_MATCH)):
            b.barh(y + off, ls.get_column(col).to_numpy().astype(float), height=0.27, color=colour,
                   label=col.replace("_", " "))
        b.set_yticks(y, [short(n) for n in names], fontsize=8)
        b.invert_yaxis()
        b.set_xlabel("over the run")
        b.legend(fontsize=7, loc="lower right")
    else:
        empty(a, "no lists in this scenario")
        empty(b, "")
    a.set_title("list stock")
    b.set_title("list flows")
    return fig


def fig_mobility(r: RunTables) -> "Figure":
    """Grade mobility: share of each start grade's people in each end grade."""
    order = grade_order(r)
    n = len(order)
    fig, (a,) = new_figure((6.4, max(3.2, 0.45 * n + 1.6)))
    if not n:
        empty(a, "no grades")
        a.set_title("grade mobility")
        return fig
    t = M.grade_transitions(r)
    cell = {(s, e): (p, sh) for s, e, p, sh in t.iter_rows()}
    share = np.zeros((n, n))
    people = np.zeros((n, n), dtype=np.int64)
    for i, s in enumerate(order):
        for j, e in enumerate(order):
            p, sh = cell.get((s, e), (0, None))
            people[i, j] = p
            share[i, j] = sh if sh is not None else np.nan
    a.pcolormesh(np.ma.masked_invalid(share), cmap="Blues", vmin=0, vmax=1, edgecolors="white", linewidth=0.5)
    for i in range(n):
        for j in range(n):
            if people[i, j]:
                dark = share[i, j] > 0.6
                a.text(j + 0.5, i + 0.5, f"{share[i, j]:.0%}\n{people[i, j]:,}", ha="center", va="center", fontsize=7,
                       color="white" if dark else "#222222")
    a.set_xticks(np.arange(n) + 0.5, [short(g, 10) for g in order], fontsize=8)
    a.set_yticks(np.arange(n) + 0.5, [short(g, 10) for g in order], fontsize=8)
    a.set_xlim(0, n)
    a.set_ylim(n, 0)
    a.set_xlabel("end grade")
    a.set_ylabel("start grade")
    a.set_title("grade mobility (share of the start grade)")
    return fig


#: Per-run figures: name -> (title, function).
PLOTS: dict[str, tuple[str, Callable[[RunTables], "Figure"]]] = {
    "score": ("Score distribution over time", fig_score),
    "grades": ("Grade shares over time", fig_grades),
    "records": ("Records by channel and error status", fig_records),
    "sanctions": ("Sanctions and wrongful sanctions", fig_sanctions),
    "flags": ("Flag precision and backlog", fig_flags),
    "chilling": ("Chilling and deterrence against the twin", fig_chilling),
    "disparate_impact": ("Disparate impact by harm: group, income, age, urban or rural, occupation, region", fig_impact),
    "lists": ("Blacklist stock and flows", fig_lists),
    "mobility": ("Grade mobility matrix", fig_mobility),
    "data_held": ("What is known about a person: data held against the twin", fig_data_held),
    "regions": ("Regions over time", fig_regions),
    "lives": ("The lives of five sampled people", fig_lives),
}
