"""The report of a sweep: one self-contained HTML page.

It uses the page shell of every report (``report.page``: the Content-Security-Policy that
forbids scripts and every fetch, the styles, the escaping ``e``, inline-SVG figures through
``figure_html`` under ``RC``, the self-measured size); the figures are drawn with
``scorelab.plots`` helpers (``new_figure``, ``label``), so names from a scenario are never
read as mathematics.

Content: the sweep's spec (scenario, design, varied keys, seeds, command, versions), the
summary table (per setting: n and, for a few headline figures, the mean with its
confidence interval), and per figure the mean with confidence-interval error bars against
each varied key (one line per combination of the other keys when a grid has few of them).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from scorelab import plots as P
from scorelab.errors import UsageError
from scorelab.report.page import RC, SIZE_MARK, SOURCES_NOTE, e, figure_html, page_head, version, with_size, write_page
from scorelab.sweep import SweepResult, format_setting
from scorelab.sweep.tables import cell_text
from scorelab.vocabulary import DEFAULT_FIGURES

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Most lines in a panel (combinations of the other keys); beyond, the points are not grouped.
MAX_SERIES = 8
#: Most settings listed in the summary table (all are in summary.parquet).
MAX_ROWS = 200


def _open(sweep: Any) -> SweepResult:
    return sweep if isinstance(sweep, SweepResult) else SweepResult.open(sweep)


def _numeric(vals: Sequence[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals)


def _choose(s: SweepResult, figures: Sequence[str] | None) -> list[str]:
    if figures is None:
        return [f for f in DEFAULT_FIGURES if f in s.figures]
    bad = [f for f in figures if f not in s.figures]
    if bad:
        raise UsageError(f"--figure {bad[0]}: not a numeric figure of this sweep; choose from {', '.join(s.figures)}")
    return list(figures)


def figure(sweep: Any, name: str) -> "Figure":
    """The mean of headline figure ``name`` with its confidence interval against each varied
    key (one panel per key), as a matplotlib Figure."""
    import matplotlib

    s = _open(sweep)
    _choose(s, [name])
    with matplotlib.rc_context(RC):
        return _draw(s, name)


def _draw(s: SweepResult, name: str) -> "Figure":
    keys = s.keys
    sub = s.summary.filter(pl.col("figure") == name)
    rows = sub.to_dicts()
    level = float(s.info.get("level", 0.95))
    panels = keys or [""]
    if len(panels) <= 3:
        fig, axes = P.new_figure((10.0, 3.4), ncols=len(panels))
    else:  # more keys than fit in a row: rows of three panels
        from matplotlib.figure import Figure

        nrows = (len(panels) + 2) // 3
        fig = Figure(figsize=(10.0, 3.0 * nrows), layout="constrained")
        axes = list(fig.subplots(nrows, 3, squeeze=False).ravel())
        for ax in axes[len(panels):]:
            ax.set_visible(False)
    random_design = s.info["spec"]["design"] == "random"
    for ax, key in zip(axes, panels):
        others = [k for k in keys if k != key]
        groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for r in rows:
            groups.setdefault(tuple(r[k] for k in others), []).append(r)
        if random_design or len(groups) > MAX_SERIES:
            groups = {(): rows}
        xs_all = [r[key] for r in rows] if key else [0] * len(rows)
        numeric = _numeric(xs_all)
        cats = list(dict.fromkeys(format_setting(v) for v in xs_all)) if not numeric else []
        n_groups = len(groups)
        for gi, (gvals, grs) in enumerate(groups.items()):
            pts = []
            for r in grs:
                x = r[key] if key else 0
                mean = r["mean"]
                if mean is None:
                    continue
                lo = r["ci_lo"] if r["ci_lo"] is not None else mean
                hi = r["ci_hi"] if r["ci_hi"] is not None else mean
                xpos = float(x) if numeric else cats.index(format_setting(x)) + (gi - (n_groups - 1) / 2) * 0.1
                pts.append((xpos, mean, mean - lo, hi - mean))
            pts.sort()
            if not pts:
                continue
            lab = ", ".join(f"{k}={format_setting(v)}" for k, v in zip(others, gvals)) if gvals else None
            ax.errorbar([p[0] for p in pts], [p[1] for p in pts], yerr=[[p[2] for p in pts], [p[3] for p in pts]],
                        fmt="o" if random_design or not key else "o-", capsize=3, markersize=4, linewidth=1.2,
                        alpha=0.6 if random_design else 1.0, label=P.short(lab, 40) if lab else None)
        if not rows:
            P.empty(ax, "no values")
        if not numeric:
            ax.set_xticks(range(len(cats)))
            ax.set_xticklabels([P.short(c, 16) for c in cats], rotation=30 if len(cats) > 4 else 0,
                               ha="right" if len(cats) > 4 else "center")
        if key:
            ax.set_xlabel(P.label(key))
        else:
            ax.set_xticks([0])
            ax.set_xticklabels(["every run"])
        ax.set_ylabel(P.label(name))
        ax.ticklabel_format(axis="y", useOffset=False, style="plain")
        if len(groups) > 1:
            ax.legend(fontsize=7)
        ax.set_title(P.label(f"{name} by {key}" if key else name))
    fig.suptitle(P.label(f"mean and {level:.0%} confidence interval over replicates"), fontsize=9)
    return fig


def _figures(s: SweepResult, names: Sequence[str]) -> list[tuple[str, str, str, "Figure"]]:
    import matplotlib

    out = []
    with matplotlib.rc_context(RC):
        for name in names:
            slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "figure"
            out.append(("sweep", slug, f"{name}: mean and confidence interval by setting", _draw(s, name)))
    return out


def _spec_table(s: SweepResult) -> str:
    info, spec = s.info, s.info["spec"]
    seeds = spec["seeds"]
    design = spec["design"] + (f", {spec['samples']} samples, design seed {spec['design_seed']}"
                               if spec["design"] == "random" else " (every combination)")
    vary = []
    for a in spec["vary"]:
        vary.append(f"{a['key']} = {a['range'][0]}..{a['range'][1]}" if "range" in a
                    else f"{a['key']} = " + ", ".join(format_setting(v) for v in a["values"]))
    rows: list[tuple[str, Any]] = [
        ("scenario", info.get("name", "?")), ("source", spec.get("source", "")), ("design", design),
        ("varied", "; ".join(vary) if vary else "nothing (replicates only)"),
        ("replicate seeds", ", ".join(map(str, seeds[:20])) + (f", ... ({len(seeds)} in all)" if len(seeds) > 20 else "")
         + " (the same for every setting)"),
        ("settings x replicates", f"{len(info['settings'])} x {len(seeds)} = {len(info['tasks'])} runs"),
    ]
    if spec.get("overrides"):
        rows.append(("every run", ", ".join(f"{k}={format_setting(v)}" for k, v in spec["overrides"].items())))
    if info.get("command"):
        rows.append(("command", info["command"]))
    rows += [("started", str(info.get("created", "?")).replace("T", " ")),
             ("finished", str(info.get("finished", "?")).replace("T", " ")),
             ("backend", info.get("backend", "?"))]
    if info.get("wall_seconds") is not None:
        rows.append(("wall time of the last call", f"{float(info['wall_seconds']):,.1f} s "
                                                   f"({info.get('ran', 0)} run, {info.get('skipped', 0)} already complete, "
                                                   f"{info.get('retried', 0)} attempts lost and retried)"))
    rows.append(("versions", ", ".join(f"{k} {v}" for k, v in (info.get("versions") or {}).items())))
    return "<table class='meta'>" + "".join(f"<tr><td>{e(k)}</td><td>{e(v)}</td></tr>" for k, v in rows) + "</table>"


def _summary_table(s: SweepResult, names: Sequence[str]) -> str:
    wide = s.wide(names)
    level = float(s.info.get("level", 0.95))
    th = "".join(f"<th>{e(k)}</th>" for k in s.keys) + "<th class='n'>n</th>"
    th += "".join(f"<th class='n'>{e(f)}</th>" for f in names)
    body = []
    for row in wide.head(MAX_ROWS).iter_rows(named=True):
        cells = [f"<td>{e(row['setting'])}</td>"]
        cells += [f"<td>{e(format_setting(row[k]) if row[k] is not None else '')}</td>" for k in s.keys]
        cells.append(f"<td class='n'>{e(row['n'])}</td>")
        cells += [f"<td class='n'>{e(cell_text(f, row))}</td>" for f in names]
        body.append("<tr>" + "".join(cells) + "</tr>")
    more = (f"<p class='note'>The first {MAX_ROWS} of {wide.height} settings; every one is in summary.parquet.</p>"
            if wide.height > MAX_ROWS else "")
    return (f"<table class='summary'><tr><th>setting</th>{th}</tr>{''.join(body)}</table>{more}"
            f"<p class='note'>Mean over the replicates [{level:.0%} confidence interval of the mean: mean \u00b1 t "
            f"\u00d7 sd / \u221an with Student's t at n \u2212 1 degrees of freedom; for counts, widened to the exact "
            f"Poisson interval of their total / n, so that a count has one even with one replicate or replicates that "
            f"agree; shares kept in [0, 1]; other figures have none with one replicate]. Every figure is "
            f"against the run's counterfactual twin. All headline figures: summary.parquet; every run: runs.parquet.</p>")


def render(sweep: Any, figures: Sequence[str] | None = None, generated: str | None = None,
           drawn: list[tuple[str, str, str, "Figure"]] | None = None) -> str:
    """The report page of a sweep (a ``SweepResult`` or a sweep folder); ``figures``: the
    headline figures to show (default: those of ``vocabulary.DEFAULT_FIGURES`` the sweep has)."""
    s = _open(sweep)
    names = _choose(s, figures)
    generated = generated or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    figs = drawn if drawn is not None else _figures(s, names)
    title = f"scorelab sweep: {s.info.get('name', '?')}"
    parts = [
        page_head(title),
        f"<h1>{e(title)}</h1>",
        f"<p class='note'>Synthetic populations; each run is measured against its counterfactual twin (same people and "
        f"random numbers, scoring off), and every setting has the same replicate seeds. Generated {e(generated)} by "
        f"scorelab {e(version())}. This file: {SIZE_MARK}, self-contained (no scripts, nothing loaded from "
        f"elsewhere).</p>",
        "<section id='spec'><h2>Sweep</h2>", _spec_table(s), "</section>",
        "<section id='summary'><h2>Summary by setting</h2>", _summary_table(s, names), "</section>",
        "<section id='figures'><h2>Figures</h2>",
    ]
    parts += [figure_html(section, name, t, fig) for section, name, t, fig in figs]
    parts.append("</section>")
    parts.append(f"<p class='note'>Report size: {SIZE_MARK}. {e(SOURCES_NOTE)}</p></main></body></html>\n")
    return with_size("".join(parts))


def write(sweep: Any, out: str | Path | None = None, figures: Sequence[str] | None = None) -> Path:
    """Write the report page (default ``<sweep folder>/report.html``); returns its path."""
    s = _open(sweep)
    path = Path(out) if out is not None else s.path / "report.html"
    return write_page(render(s, figures), path, f"{path}: cannot write the sweep report")
