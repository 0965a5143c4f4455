"""Figures of a run (and of several runs side by side), drawn with matplotlib.

Every figure is a function of ``Result`` objects only (through ``scorelab.metrics``), so it
can be redrawn from a results folder. Figures are built with ``matplotlib.figure.Figure``
directly (no pyplot, no global state); ``scorelab.report`` turns them into inline SVG or
PNG. Long per-step series are thinned to at most ``MAX_POINTS`` points before drawing:
levels (stocks, means, shares) by keeping every k-th step and the last one, flows (events
per step) by summing k steps into one bucket and dividing by its length in days, so a
thinned flow is still a rate per day and its area is unchanged.

Every name that comes from a scenario (behaviours, channels, groups, ...) goes through
``label()``: ``$`` is escaped so that matplotlib never reads it as mathematics, and a
leading ``_`` (which matplotlib would hide from legends) is kept visible.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from scorelab import metrics as M

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from scorelab.results import Result

#: Most points drawn per series.
MAX_POINTS = 400
#: Most bars in a per-cell chart (disparate impact by province/city keeps the largest cells).
MAX_CELLS = 15
#: Most rows in a per-item chart (channels, behaviours, consequences, lists, flags): the
#: largest are drawn, the rest are summed into one "other" row or left out with a note.
MAX_ROWS = 20

WIDE = (10.0, 3.6)
TALL = (10.0, 4.6)
C_TRUE, C_ERR, C_MATCH = "#4c72b0", "#dd8452", "#c44e52"
C_ASSOC = "#8172b3"
KIND_COLOURS = {"wrongdoing": "#4c72b0", "disfavoured": "#c44e52", "civic": "#55a868", "neutral": "#937860"}


def label(s: Any) -> str:
    """A scenario- or run-supplied string made safe for matplotlib text (no mathtext, not hidden)."""
    t = str(s).replace("\\", "\\\\").replace("$", r"\$")
    return "\u200b" + t if t.startswith("_") else t


def short(s: Any, n: int = 28) -> str:
    t = str(s)
    return label(t if len(t) <= n else t[: n - 1] + "\u2026")


# --------------------------------------------------------------------------- thinning


def thin_stride(n: int, max_points: int = MAX_POINTS) -> np.ndarray:
    """Indices of every k-th of n points and the last one (at most about max_points)."""
    if n <= max_points:
        return np.arange(n)
    k = int(np.ceil(n / max_points))
    idx = np.arange(0, n, k)
    return idx if idx[-1] == n - 1 else np.append(idx, n - 1)


def thin_level(day: np.ndarray, *ys: np.ndarray, max_points: int = MAX_POINTS) -> tuple[np.ndarray, ...]:
    """Levels (stocks, means, shares): keep every k-th step and the last."""
    idx = thin_stride(len(day), max_points)
    return (day[idx], *[np.asarray(y)[idx] for y in ys])


def thin_flow(day: np.ndarray, *ys: np.ndarray, step_days: float = 1.0,
              max_points: int = MAX_POINTS) -> tuple[np.ndarray, ...]:
    """Flows (counts per step) as a rate per day, summed over buckets of k steps; the day of a
    bucket is its first step's."""
    n = len(day)
    k = max(1, int(np.ceil(n / max_points)))
    starts = np.arange(0, n, k)
    out = [day[starts]] if n else [day]
    for y in ys:
        y = np.asarray(y, dtype=np.float64)
        sums = np.add.reduceat(y, starts) if n else y
        widths = np.diff(np.append(starts, n)) * step_days
        out.append(sums / widths if n else y)
    return tuple(out)


# --------------------------------------------------------------------------- helpers


def _fig(size: tuple[float, float] = WIDE, ncols: int = 1, **kw: Any) -> tuple["Figure", list["Axes"]]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False, **kw)[0]
    return fig, list(axes)


def _empty(ax: "Axes", text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#666666")
    ax.set_xticks([])
    ax.set_yticks([])


def _col(r: "Result", name: str) -> np.ndarray:
    m = r.metrics
    return m.get_column(name).to_numpy().astype(np.float64) if name in m.columns else np.zeros(m.height)


def _day(r: "Result") -> np.ndarray:
    return r.metrics.get_column("day").to_numpy().astype(np.float64)


def _step_days(r: "Result") -> float:
    return float(r.manifest.get("step_days") or 1.0)


def grade_order(r: "Result") -> list[str]:
    """Grades best first: by their lower bound (``from``) in the scenario, falling back to
    the order of the names in the run."""
    names = list(r.names["grades"])
    bands = {}
    for g in (r.scenario_data or {}).get("grades") or []:
        if isinstance(g, dict) and g.get("name") in names:
            lo = g.get("from")
            bands[g["name"]] = float(lo) if isinstance(lo, (int, float)) else float("-inf")
    if len(bands) == len(names):
        return sorted(names, key=lambda g: (-bands[g], names.index(g)))
    return names


def _sanction_names(r: "Result") -> list[str]:
    return [k for k, v in r.names["consequences"].items() if v.get("sanction")]


def sanctions_series(r: "Result") -> dict[str, np.ndarray]:
    """Per step: all sanctions, wrongful ones, by association."""
    ks = _sanction_names(r)
    z = np.zeros(r.metrics.height)
    return {x: sum((_col(r, f"consequences.{k}.{x}") for k in ks), z.copy()) for x in ("applied", "wrongful", "association")}


def run_label(r: "Result") -> str:
    return str(r.manifest.get("run_id") or r.manifest.get("scenario") or "run")


def top(names: Sequence[str], weights: Sequence[float], n: int = MAX_ROWS) -> tuple[list[str], list[str]]:
    """The n names with the largest weights (in their original order) and the others."""
    names = list(names)
    if len(names) <= n:
        return names, []
    order = np.argsort(-np.abs(np.asarray(weights, dtype=np.float64)), kind="stable")
    keep = set(order[:n].tolist())
    return [x for i, x in enumerate(names) if i in keep], [x for i, x in enumerate(names) if i not in keep]


def _fmt(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 10 or v == int(v) else f"{v:.2g}"


# --------------------------------------------------------------------------- per-run figures


def fig_score(r: "Result") -> "Figure":
    """Mean score with a band of one standard deviation over time; the end-score histogram
    with its quantiles."""
    fig, (a, b) = _fig(WIDE, 2)
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
        _empty(a, "no scored people")
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
        _empty(b, "no scored people")
    b.set_title("end scores and quantiles")
    return fig


def fig_grades(r: "Result") -> "Figure":
    """Share of scored people in each grade at the end of each step (best grade on top)."""
    fig, (a,) = _fig(WIDE)
    order = grade_order(r)
    day = _day(r)
    if order and len(day):
        cols = np.vstack([_col(r, f"grades.{g}") for g in reversed(order)])
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
        _empty(a, "no grades")
    a.set_title("grade shares over time")
    return fig


def fig_records(r: "Result") -> "Figure":
    """Records by channel and error status; the erroneous share per channel."""
    rec = M.records(r)
    tot = dict(rec.group_by("channel").agg(pl.col("records").sum()).iter_rows())
    every = list(r.names["channels"])
    channels, rest = top(every, [tot.get(c, 0) for c in every])
    rows = [*channels, *([f"other ({len(rest)} channels)"] if rest else [])]
    fig, (a, b) = _fig((10.0, max(2.8, 0.32 * len(rows) + 1.4)), 2, sharey=True)
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
                b.text(s, yi, f" {s:.1f}% ({_fmt(e)})", va="center", fontsize=7)
        b.set_xlabel("% erroneous")
        b.set_xlim(0, max(5.0, float(share.max()) * 1.35 if share.size else 5.0))
    else:
        _empty(a, "no channels")
        _empty(b, "")
    a.set_title("records by channel and status")
    b.set_title("erroneous records")
    return fig


def fig_sanctions(r: "Result") -> "Figure":
    """Sanctions per day (all, wrongful, by association) and per consequence."""
    fig, (a, b) = _fig(WIDE, 2)
    s = sanctions_series(r)
    day = _day(r)
    if len(day) and s["applied"].sum() > 0:
        d, ap, wr, asn = thin_flow(day, s["applied"], s["wrongful"], s["association"], step_days=_step_days(r))
        a.plot(d, ap, color=C_TRUE, label="sanctions")
        a.plot(d, wr, color=C_MATCH, label="wrongful")
        a.plot(d, asn, color=C_ASSOC, linestyle="--", label="by association")
        a.set_ylabel("per day")
        a.set_xlabel("day")
        a.legend(fontsize=8)
    else:
        _empty(a, "no sanctions applied")
    a.set_title("sanctions over time")
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
        sanction = c.get_column("sanction").to_list()
        b.set_yticks(y, [short(n) + ("" if s_ else " (reward)") for n, s_ in zip(names, sanction)], fontsize=8)
        b.invert_yaxis()
        b.set_xlabel("times applied")
        b.legend(fontsize=7, loc="lower right")
    else:
        _empty(b, "no consequences")
    b.set_title("per consequence")
    return fig


def fig_flags(r: "Result") -> "Figure":
    """Flag precision (true / raised and judged) and the investigation backlog over time."""
    fig, (a, b) = _fig(WIDE, 2)
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
            txt = f" {p:.0f}% ({_fmt(row['true'])} true, {_fmt(row['false'])} false)" if row["true"] + row["false"] else " no flags"
            a.text(p if row["true"] + row["false"] else 0, yi, txt, va="center", fontsize=7)
        a.set_yticks(y, [short(n) for n in names], fontsize=8)
        a.set_xlim(0, 140)
        a.set_xticks([0, 25, 50, 75, 100])
        a.set_xlabel("precision, %")
        a.invert_yaxis()
        day = _day(r)
        for f in names:
            d, bl = thin_level(day, _col(r, f"flags.{f}.backlog"))
            b.plot(d, bl, label=label(f))
        b.set_xlabel("day")
        b.set_ylabel("flags waiting")
        b.legend(fontsize=8)
    else:
        _empty(a, "no flags in this scenario")
        _empty(b, "")
    a.set_title("flag precision")
    b.set_title("investigation backlog")
    return fig


def fig_chilling(r: "Result") -> "Figure":
    """Acts suppressed against the twin per behaviour (chilling for lawful ones, deterrence for
    wrongdoing), and the cumulative lawful acts suppressed over time."""
    ch = M.chilling(r)
    keep, rest = top(ch.get_column("behaviour").to_list(), ch.get_column("suppressed").to_list())
    ch = ch.filter(pl.col("behaviour").is_in(keep))
    fig, (a, b) = _fig((10.0, max(3.0, 0.3 * ch.height + 1.4)), 2)
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
                a.text(max(s, 0), yi, f" {_fmt(sup)}", va="center", fontsize=7)
        a.axvline(0, color="#333333", linewidth=0.8)
        a.set_yticks(y, [f"{short(n, 24)} [{label(k)}]" for n, k in zip(names, kinds)], fontsize=7)
        a.invert_yaxis()
        a.set_xlabel("% of the twin's acts that did not happen")
        lo, hi = float(min(0.0, share.min())), float(max(1.0, share.max()))
        a.set_xlim(lo * 1.3, hi * 1.35)
    else:
        _empty(a, "no behaviours")
    a.set_title("acts suppressed against the twin")
    day = _day(r)
    shown = False
    for kind, colour, text in (("disfavoured", KIND_COLOURS["disfavoured"], "lawful acts (chilling)"),
                               ("wrongdoing", KIND_COLOURS["wrongdoing"], "wrongdoing (deterrence)")):
        bs = [bname for bname, k in r.names["behaviours"].items() if k == kind]
        if not bs or not len(day):
            continue
        diff = sum((_col(r, f"events_twin.{x}") - _col(r, f"events.{x}") for x in bs), np.zeros(len(day)))
        d, cum = thin_level(day, np.cumsum(diff))
        b.plot(d, cum, color=colour, label=text)
        shown = True
    if shown:
        b.set_xlabel("day")
        b.set_ylabel("acts suppressed, cumulative")
        b.legend(fontsize=8)
    else:
        _empty(b, "no lawful or wrongdoing behaviours")
    b.set_title("suppressed over time")
    return fig


def _impact_panel(ax: "Axes", d: pl.DataFrame, by: str, title: str) -> None:
    measures = ("sanctions", "wrongful_sanctions", "refusals", "flags")
    if d.height == 0:
        _empty(ax, "no cells")
        ax.set_title(title)
        return
    if d.height > MAX_CELLS:
        d = d.sort("people", descending=True).head(MAX_CELLS).sort(by)
        title += f" (largest {MAX_CELLS})"
    cells = [("urban" if v else "rural") if isinstance(v, bool) else short(v, 18) for v in d.get_column(by).to_list()]
    x = np.arange(len(cells))
    wdt = 0.8 / len(measures)
    any_bar = False
    for i, m in enumerate(measures):
        vals = [v if v is not None else np.nan for v in d.get_column(f"{m}_ratio").to_list()]
        if np.isfinite(vals).any():
            any_bar = True
        ax.bar(x + (i - (len(measures) - 1) / 2) * wdt, np.nan_to_num(vals), width=wdt, label=m.replace("_", " "))
    ax.axhline(1.0, color="#333333", linewidth=0.8, linestyle="--")
    ax.set_xticks(x, cells, fontsize=8, rotation=30 if len(cells) > 4 else 0, ha="right" if len(cells) > 4 else "center")
    ax.set_ylabel("per capita / overall")
    if not any_bar:
        ax.text(0.5, 0.9, "nothing to compare (no sanctions, refusals or flags)", ha="center", transform=ax.transAxes,
                fontsize=8, color="#666666")
    ax.legend(fontsize=7)
    ax.set_title(title)


def fig_disparate_impact(r: "Result") -> "Figure":
    """Per-capita outcomes by group and by region (province; urban against rural), as ratios to
    the whole population's rate (1 = the same)."""
    fig, (a, b, c) = _fig((12.0, 3.8), 3, width_ratios=[2, 2, 1])
    _impact_panel(a, M.disparate_impact(r, "group"), "group", "by group")
    prov = M.disparate_impact(r, "province")
    if prov.height > 1:
        _impact_panel(b, prov, "province", "by province")
    else:
        _impact_panel(b, M.disparate_impact(r, "city"), "city", "by city")
    _impact_panel(c, M.disparate_impact(r, "urban"), "urban", "urban / rural")
    return fig


def fig_lists(r: "Result") -> "Figure":
    """Black- and redlist stock over time, and entries, exits, wrongful entries per list."""
    fig, (a, b) = _fig(WIDE, 2)
    ls = M.lists(r)
    keep, rest = top(ls.get_column("list").to_list(),
                     (ls.get_column("entries") + ls.get_column("stock_max")).to_list(), 10)
    ls = ls.filter(pl.col("list").is_in(keep))
    if rest:
        b.text(1.0, -0.2, f"{len(rest)} more not shown", transform=b.transAxes, ha="right", fontsize=7, color="#666666")
    day = _day(r)
    if ls.height:
        for name in ls.get_column("list").to_list():
            d, st = thin_level(day, _col(r, f"lists.{name}.stock"))
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
        _empty(a, "no lists in this scenario")
        _empty(b, "")
    a.set_title("list stock")
    b.set_title("list flows")
    return fig


def fig_mobility(r: "Result") -> "Figure":
    """Grade mobility: share of each start grade's people in each end grade."""
    order = grade_order(r)
    n = len(order)
    fig, (a,) = _fig((6.4, max(3.2, 0.45 * n + 1.6)))
    if not n:
        _empty(a, "no grades")
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
PLOTS: dict[str, tuple[str, Callable[["Result"], "Figure"]]] = {
    "score": ("Score distribution over time", fig_score),
    "grades": ("Grade shares over time", fig_grades),
    "records": ("Records by channel and error status", fig_records),
    "sanctions": ("Sanctions and wrongful sanctions", fig_sanctions),
    "flags": ("Flag precision and backlog", fig_flags),
    "chilling": ("Chilling and deterrence against the twin", fig_chilling),
    "disparate_impact": ("Disparate impact by group and region", fig_disparate_impact),
    "lists": ("Blacklist stock and flows", fig_lists),
    "mobility": ("Grade mobility matrix", fig_mobility),
}


# --------------------------------------------------------------------------- comparison figures


def _labels(results: Sequence["Result"]) -> list[str]:
    labs = [run_label(r) for r in results]
    return [short(l, 32) if labs.count(l) == 1 else f"{short(l, 28)} #{i + 1}" for i, l in enumerate(labs)]


def fig_compare_scores(results: Sequence["Result"]) -> "Figure":
    """Mean score over time, one line per run."""
    fig, (a,) = _fig(WIDE)
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


def fig_compare_sanctions(results: Sequence["Result"]) -> "Figure":
    """Cumulative sanctions and wrongful sanctions per 1,000 people, run against run."""
    fig, (a, b) = _fig(WIDE, 2)
    for i, (r, lab) in enumerate(zip(results, _labels(results))):
        s = sanctions_series(r)
        k = 1000.0 / max(1, int(r.manifest.get("people") or 1))
        day = _day(r)
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
HARMS = ("records, erroneous", "sanctions", "sanctions, wrongful", "sanctions, by association", "people sanctioned",
         "flags, false", "lawful acts suppressed")


def fig_compare_harms(results: Sequence["Result"]) -> "Figure":
    """Key harms per 1,000 people, run against run."""
    fig, (a,) = _fig(TALL)
    labs = _labels(results)
    x = np.arange(len(HARMS))
    wdt = 0.8 / len(results)
    for i, (r, lab) in enumerate(zip(results, labs)):
        h = M.headline(r)
        k = 1000.0 / max(1.0, float(h["people"]))
        vals = [float(h.get(m, 0.0)) * k for m in HARMS]  # type: ignore[arg-type]
        a.bar(x + (i - (len(results) - 1) / 2) * wdt, vals, width=wdt, label=lab)
    a.set_xticks(x, [m.replace(", ", "\n") for m in HARMS], fontsize=8)
    a.set_ylabel("per 1,000 people")
    a.legend(fontsize=8)
    a.set_title("harms per 1,000 people")
    return fig


def fig_compare_grades(results: Sequence["Result"]) -> "Figure":
    """End grade shares, run against run (grades by name across runs)."""
    fig, (a,) = _fig(WIDE)
    labs = _labels(results)
    order: list[str] = []
    for r in results:
        for g in grade_order(r):
            if g not in order:
                order.append(g)
    if not order:
        _empty(a, "no grades")
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


COMPARE_PLOTS: dict[str, tuple[str, Callable[[Sequence["Result"]], "Figure"]]] = {
    "compare_harms": ("Harms per 1,000 people", fig_compare_harms),
    "compare_sanctions": ("Sanctions over time", fig_compare_sanctions),
    "compare_scores": ("Mean score over time", fig_compare_scores),
    "compare_grades": ("End grade shares", fig_compare_grades),
}
