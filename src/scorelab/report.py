"""Self-contained HTML reports of one or more runs, static figures, and ``plot()`` for Jupyter.

``render(results)`` returns one HTML page that needs nothing outside itself: figures are
inline SVG drawn by matplotlib (text kept as text, no script, no fonts or images to load),
styles are inline, and a Content-Security-Policy forbids scripts and every fetch
(``default-src 'none'``) as a second line of defence. Every string that comes from a
scenario or a run is escaped (``html.escape`` in the page; matplotlib escapes SVG text).

Why SVG from matplotlib rather than plotly: no JavaScript at all (plotly's bundle alone is
about 3.5 MB per page), so the page opens anywhere, prints, and cannot run code; the figures
are also the ones ``--png`` and ``plot()`` give.

Layout: a header per run (scenario, seed, people, days, date, scorelab version), key
findings as sentences computed from ``scorelab.metrics``, the headline table, and the
figures of ``scorelab.plots.PLOTS``. With two or more runs, a comparison comes first:
the headline figures side by side against the first run with differences highlighted,
findings on what changed, and the figures of ``plots.COMPARE_PLOTS``. The page states its
own size in bytes.
"""

from __future__ import annotations

import datetime as _dt
import html
import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from scorelab import metrics as M
from scorelab import plots as P
from scorelab.errors import UsageError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from scorelab.results import Result

#: Figure names ``plot()`` and ``--png`` accept: per run, and (several runs) comparisons.
PLOT_NAMES = tuple(P.PLOTS)
COMPARE_NAMES = tuple(P.COMPARE_PLOTS)

_RC = {
    "svg.fonttype": "none",  # text as <text>: smaller, selectable, escaped by matplotlib
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
}
#: Headline keys where a rise is worse (red) or better (green) in the comparison table.
_WORSE_UP = ("records, erroneous", "sanctions", "sanctions, wrongful", "sanctions, by association",
             "people sanctioned", "flags, false", "lawful acts suppressed", "income lost vs twin",
             "wrongful listings at end", "people-days wrongfully listed", "days to lift a wrongful listing, mean",
             "bystanders stopped", "alerts per 1,000 faces scanned")
_BETTER_UP = ("wrongdoing deterred", "flags, true", "alert precision")
_SIZE_MARK = "\x00SIZE\x00"


def e(s: Any) -> str:
    """Escape any run- or scenario-supplied value for the page (text and attribute values)."""
    return html.escape(str(s), quote=True)


def _open(r: Any) -> "Result":
    from scorelab.results import Result

    return r if isinstance(r, Result) else Result.open(r)


# --------------------------------------------------------------------------- figures


def plot(result: Any, name: str) -> "Figure":
    """One figure of a run (a ``Result`` or results folder) as a matplotlib Figure, which
    Jupyter shows inline. ``name`` is one of ``PLOT_NAMES``; for comparisons, pass a list of
    runs and one of ``COMPARE_NAMES``."""
    import matplotlib

    if isinstance(result, (list, tuple)):
        if name not in P.COMPARE_PLOTS:
            raise UsageError(f"plot: with several runs, name must be one of {', '.join(COMPARE_NAMES)}, got {name!r}")
        with matplotlib.rc_context(_RC):
            return P.COMPARE_PLOTS[name][1]([_open(r) for r in result])
    if name not in P.PLOTS:
        raise UsageError(f"plot: name must be one of {', '.join(PLOT_NAMES)}, got {name!r}")
    with matplotlib.rc_context(_RC):
        return P.PLOTS[name][1](_open(result))


def svg(fig: "Figure", prefix: str) -> str:
    """A figure as an inline ``<svg>`` element: no XML prolog, doctype or metadata, ids
    prefixed so that several figures on one page never share one, scaled to its container."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({**_RC, "svg.hashsalt": prefix}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    s = buf.getvalue()
    s = s[s.index("<svg"):]
    s = re.sub(r"<metadata>.*?</metadata>\s*", "", s, flags=re.S)
    s = re.sub(r'\sid="', f' id="{prefix}-', s)
    s = re.sub(r"url\(#", f"url(#{prefix}-", s)
    s = re.sub(r'xlink:href="#', f'xlink:href="#{prefix}-', s)
    s = re.sub(r'<svg ([^>]*?)width="([^"]*)" height="[^"]*"', r'<svg \1width="100%" style="max-width:\2"', s, count=1)
    return s.strip()


def _figures(results: Sequence["Result"]) -> list[tuple[str, str, str, "Figure"]]:
    """(section, name, title, figure) for comparisons (2+ runs) then each run."""
    import matplotlib

    out = []
    with matplotlib.rc_context(_RC):
        if len(results) > 1:
            for name, (title, f) in P.COMPARE_PLOTS.items():
                out.append(("compare", name, title, f(results)))
        for i, r in enumerate(results):
            for name, (title, f) in P.PLOTS.items():
                out.append((f"run{i + 1}", name, title, f(r)))
    return out


def write_pngs(results: Sequence[Any], folder: str | Path, dpi: int = 110,
               figures: list[tuple[str, str, str, "Figure"]] | None = None) -> list[Path]:
    """Every figure as a PNG in ``folder`` (created): ``<run>-<name>.png`` and, with several
    runs, ``compare_<what>.png``. Returns the paths written."""
    import matplotlib

    rs = [_open(r) for r in results]
    base = Path(folder)
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"--png {folder}: cannot create the folder: {err.strerror or err}") from None
    labels = _file_labels(rs)
    written = []
    for section, name, _title, fig in figures if figures is not None else _figures(rs):
        path = base / (f"{name}.png" if section == "compare" else f"{labels[int(section[3:]) - 1]}-{name}.png")
        try:
            with matplotlib.rc_context(_RC):
                fig.savefig(path, dpi=dpi, metadata={"Software": None})
        except OSError as err:
            raise UsageError(f"--png {folder}: cannot write {path.name}: {err.strerror or err}") from None
        written.append(path)
    return written


def _file_labels(rs: Sequence["Result"]) -> list[str]:
    labs = ["".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in P.run_label(r)).strip(".") or "run" for r in rs]
    return [l if labs.count(l) == 1 else f"{l}-{i + 1}" for i, l in enumerate(labs)]


# --------------------------------------------------------------------------- findings


def _n(v: float) -> str:
    return f"{v:,.0f}"


def _pct(a: float, b: float) -> str:
    return f"{100 * a / b:.1f}%" if b else "n/a"


def findings(r: Any) -> list[str]:
    """Key findings of one run as plain sentences (text, not yet escaped)."""
    r = _open(r)
    out: list[str] = []
    people = float(r.manifest.get("people") or 0)
    days = float(r.manifest.get("days") or 0)
    rec = M.records(r)
    by = dict(rec.group_by("status").agg(pl.col("records").sum()).iter_rows())
    total = float(sum(by.values()))
    err = float(by.get("misattributed", 0) + by.get("false_match", 0))
    if total:
        out.append(f"{_n(err)} of {_n(total)} records ({_pct(err, total)}) were erroneous: "
                   f"{_n(by.get('misattributed', 0))} misattributed to someone else and "
                   f"{_n(by.get('false_match', 0))} false camera matches.")
    else:
        out.append(f"No records were made in {days:g} days.")
    ws = M.wrongful_sanctions(r).row(0, named=True)
    if ws["sanctions"]:
        out.append(f"{_pct(ws['wrongful'], ws['sanctions'])} of sanctions followed erroneous records "
                   f"({_n(ws['wrongful'])} of {_n(ws['sanctions'])}: they would not have applied on true records alone); "
                   f"{_n(ws['association'])} were by association (only what their contacts are put the grade there).")
        out.append(f"{_n(ws['people_sanctioned'])} people ({1000 * ws['people_sanctioned'] / people:,.1f} per 1,000) were "
                   f"sanctioned at least once, {_n(ws['people_wrongfully_sanctioned'])} of them wrongfully.")
    else:
        out.append(f"No sanctions were applied in {days:g} days.")
    cor = M.corrections(r).row(0, named=True)
    removed = cor["records_removed_appeal"] + cor["records_deleted"]
    if removed or cor["listings_overturned"] or cor["wrongful_listings_at_end"]:
        lifted = (f"{_n(cor['listings_overturned'])} listings were lifted because what listed the person was removed"
                  + (f" or the listing was appealed ({_n(cor['listings_appealed'])})" if cor["listings_appealed"] else "")
                  + (f", {_n(cor['wrongful_listings_overturned'])} of them wrongful, after "
                     f"{cor['days_to_correction_mean']:,.1f} days on average" if cor["wrongful_listings_overturned"] else ""))
        out.append(f"Safeguards removed {_n(cor['records_removed_appeal'])} records on appeal and deleted "
                   f"{_n(cor['records_deleted'])} on expiry or retention; {lifted}; {_n(cor['flags_withdrawn'])} flags "
                   f"were withdrawn and {_n(cor['investigations_overturned'])} investigations overturned. "
                   f"{_n(cor['wrongful_sanctions_before_correction'])} wrongful sanctions had happened on listings "
                   f"later lifted; {_n(cor['wrongful_listings_at_end'])} wrongful listings still stood at the end, and "
                   f"people spent {_n(cor['people_days_wrongfully_listed'])} days wrongfully listed in all.")
    ch = M.chilling(r)
    for kind, what, verb in (("disfavoured", "lawful acts", "did not happen that would have without the system"),
                             ("wrongdoing", "acts of wrongdoing", "were deterred")):
        sub = ch.filter(pl.col("kind") == kind)
        if sub.height == 0:
            continue
        sup, twin = float(sub.get_column("suppressed").sum()), float(sub.get_column("events_twin").sum())
        top = sub.filter(pl.col("suppressed") > 0).sort("suppressed", descending=True).head(3)
        detail = ", ".join(f"{_n(s)} {b.replace('_', ' ')}" for b, s in zip(top.get_column("behaviour").to_list(),
                                                                           top.get_column("suppressed").to_list()))
        out.append(f"{_n(sup)} {what} {verb} ({_pct(sup, twin)} of the twin's {_n(twin)})"
                   + (f": {detail}." if detail else "."))
    fl = M.flags(r)
    if fl.height:
        t, f = float(fl.get_column("true").sum()), float(fl.get_column("false").sum())
        if t + f:
            out.append(f"{_pct(t, t + f)} of judged flags were true ({_n(t)} true, {_n(f)} false); the investigation "
                       f"backlog ended at {_n(fl.get_column('backlog_end').sum())} (at most "
                       f"{_n(fl.get_column('backlog_max').max())}).")
    for row in M.lists(r).iter_rows(named=True):
        if row["entries"] or row["stock_end"]:
            who = "firms" if row["actor"] == "firm" else "people"
            out.append(f"The {row['list'].replace('_', ' ')} held {_n(row['stock_end'])} {who} at the end "
                       f"({_n(row['entries'])} entries, {_n(row['exits'])} exits, "
                       f"{_n(row['wrongful_entries'])} wrongful entries).")
    order = P.grade_order(r)
    rank = {g: i for i, g in enumerate(order)}
    tr = M.grade_transitions(r)
    moved = {"down": 0, "up": 0}
    scored = 0
    for s, en, p, _ in tr.iter_rows():
        scored += p
        if rank.get(en, 0) > rank.get(s, 0):
            moved["down"] += p
        elif rank.get(en, 0) < rank.get(s, 0):
            moved["up"] += p
    if scored:
        out.append(f"{_pct(moved['down'], scored)} of scored people ended in a lower grade than they started, "
                   f"{_pct(moved['up'], scored)} in a higher one.")
    w = M.worst_hit(r, "group")
    if w is not None and w["ratio"] is not None and M.disparate_impact(r, "group").height > 1:
        out.append(f"The most sanctioned group, {w['value']}, had {w['sanctions_per_capita'] * 1000:,.1f} sanctions "
                   f"per 1,000 people, {w['ratio']:.2f} times the overall rate.")
    lost = M.economic_losses(r).row(0, named=True)
    if lost["income_lost"]:
        out.append(f"Income lost against the twin: {lost['income_lost']:,.0f} in all, "
                   f"{lost['income_lost_per_person']:,.2f} per person.")
    return out


def compare_findings(results: Sequence[Any]) -> list[str]:
    """What changed from the first run to each other one, as sentences."""
    rs = [_open(r) for r in results]
    base, bh = rs[0], M.headline(rs[0])
    out = []
    for r in rs[1:]:
        h = M.headline(r)
        parts = []
        for k in ("sanctions, wrongful", "sanctions", "records, erroneous", "lawful acts suppressed", "people sanctioned",
                  "people-days wrongfully listed", "wrongful listings at end", "listings overturned"):
            a, b = float(bh.get(k, 0.0)), float(h.get(k, 0.0))  # type: ignore[arg-type]
            if a == b:
                continue
            rel = f" ({(b - a) / abs(a):+.0%})" if a else ""
            parts.append(f"{k} {_n(a)} \u2192 {_n(b)}{rel}")
        if parts:
            out.append(f"Against {P.run_label(base)}, {P.run_label(r)}: " + "; ".join(parts) + ".")
        else:
            out.append(f"{P.run_label(r)} has the same headline figures as {P.run_label(base)}.")
        if float(h["people"]) != float(bh["people"]) or float(h["days"]) != float(bh["days"]):
            out.append(f"Note: {P.run_label(r)} has {_n(float(h['people']))} people over {float(h['days']):g} days, "
                       f"{P.run_label(base)} {_n(float(bh['people']))} over {float(bh['days']):g}; compare rates "
                       f"(the figures above are per 1,000 people) rather than totals.")
    return out


# --------------------------------------------------------------------------- page

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',Arial,sans-serif;margin:0;color:#222;background:#fafafa}
main{max-width:1100px;margin:0 auto;padding:1.2em 1.5em 3em}
h1{font-size:1.6em;margin:.2em 0}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.8em}
h3{margin:1.2em 0 .3em}
table{border-collapse:collapse;font-size:.9em;margin:.5em 0}
td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.meta td:first-child{color:#555}
.findings li{margin:.3em 0}
figure.plot{background:#fff;border:1px solid #e3e3e3;border-radius:4px;margin:1em 0;padding:.5em}
figure.plot figcaption{font-weight:600;margin:0 0 .3em}
figure.plot svg{display:block;height:auto;max-width:100%}
.worse{background:#fde2e1}.better{background:#dff3e3}.changed{background:#fff4cc}
.note{color:#555;font-size:.85em}
.desc{white-space:pre-wrap;color:#444}
"""


def _scale_label(r: "Result") -> str:
    pop = (r.scenario_data or {}).get("population", {})
    people, whole = pop.get("people"), pop.get("represents")
    if not whole or not people or people == whole:
        return "the whole population described"
    return (f"{people / whole:.3g} of the {int(whole):,} people described: counts are for the simulated people, "
            f"rates per 1,000 are the whole population's (docs/scale.md)")


def _meta_table(r: "Result") -> str:
    m = r.manifest
    rows = [("scenario", m.get("scenario", "?")), ("run", m.get("run_id", "?")), ("seed", m.get("seed", "?")),
            ("population", f"{int(m.get('people', 0)):,} people, {int(m.get('firms', 0)):,} firms"),
            ("days", f"{float(m.get('days', 0)):g} ({int(m.get('steps', 0)):,} steps of {float(m.get('step_days', 1)):g} d)"),
            ("start date", (r.scenario_data or {}).get("run", {}).get("start", "?")),
            ("burn-in", f"{float(m.get('burn_in_days', 0)):g} days before the start date, run but not reported"
             if m.get("burn_in_days") else "none: the system starts empty on the start date"),
            ("scale", _scale_label(r)),
            ("run date", str(m.get("created", "?")).replace("T", " ")),
            ("scorelab version", m.get("scorelab_version", "?"))]
    if m.get("command"):
        rows.append(("command", m["command"]))
    return "<table class='meta'>" + "".join(f"<tr><td>{e(k)}</td><td>{e(v)}</td></tr>" for k, v in rows) + "</table>"


def _summary_table(r: "Result") -> str:
    from scorelab.results import format_value

    rows = "".join(f"<tr><td>{e(k)}</td><td class='n'>{e(format_value(k, v))}</td></tr>" for k, v in M.headline(r).items())
    return f"<table class='summary'><tr><th>what</th><th class='n'>value</th></tr>{rows}</table>"


def _compare_table(rs: Sequence["Result"]) -> str:
    from scorelab.results import format_value

    heads = [M.headline(r) for r in rs]
    labels = [P.run_label(r) for r in rs]
    th = "".join(f"<th class='n'>{e(l)}</th>" for l in labels)
    th += "".join(f"<th class='n'>\u0394 {e(l)}</th>" for l in labels[1:])
    body = []
    for k in heads[0]:
        cells, deltas = [], []
        base = heads[0].get(k)
        for i, h in enumerate(heads):
            v = h.get(k)
            cls = ""
            if i and v != base:
                cls = "changed"
                if isinstance(v, float) and isinstance(base, float):
                    if k in _WORSE_UP:
                        cls = "worse" if v > base else "better"
                    elif k in _BETTER_UP:
                        cls = "better" if v > base else "worse"
            cells.append(f"<td class='n {cls}'>{e(format_value(k, v)) if v is not None else ''}</td>")
            if i:
                if isinstance(v, float) and isinstance(base, float):
                    d = v - base
                    if not d:
                        txt = "="
                    elif "share" in k:
                        txt = f"{100 * d:+.1f} pp"
                    else:
                        rel = f" ({d / abs(base):+.0%})" if base else ""
                        txt = ("+" if d > 0 else "") + format_value(k, d) + rel
                else:
                    txt = "=" if v == base else "differs"
                deltas.append(f"<td class='n {cls}'>{e(txt)}</td>")
        body.append(f"<tr><td>{e(k)}</td>{''.join(cells)}{''.join(deltas)}</tr>")
    return (f"<table class='compare'><tr><th>what</th>{th}</tr>{''.join(body)}</table>"
            "<p class='note'>\u0394: difference from the first run (pp: percentage points). Red: worse, green: better (more harm, or less "
            "deterrence, is worse); yellow: changed.</p>")


def _figure_html(section: str, name: str, title: str, fig: "Figure") -> str:
    pid = f"{section}-{name}"
    return (f"<figure class='plot' id='{pid}' data-plot='{name}' data-section='{section}'>"
            f"<figcaption>{e(title)}</figcaption>{svg(fig, pid)}</figure>")


def page_head(title: str) -> str:
    """A page's start, up to the opening ``<main>``: the Content-Security-Policy (no scripts,
    nothing fetched), the title (escaped) and the styles. The sweep report shares it."""
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'; "
            "img-src data:\">"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{e(title)}</title><style>{_CSS}</style></head><body><main>")


def render(results: Sequence[Any], generated: str | None = None,
           figures: list[tuple[str, str, str, "Figure"]] | None = None) -> str:
    """The report page for one or more runs (Results or results folders)."""
    rs = [_open(r) for r in results]
    if not rs:
        raise UsageError("report: give at least one run")
    generated = generated or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    figs = figures if figures is not None else _figures(rs)
    by_section: dict[str, list[str]] = {}
    for section, name, title, fig in figs:
        by_section.setdefault(section, []).append(_figure_html(section, name, title, fig))
    title = (f"scorelab report: {rs[0].manifest.get('scenario', '?')}" if len(rs) == 1
             else "scorelab report: " + " vs ".join(str(r.manifest.get("scenario", "?")) for r in rs))
    parts = [
        page_head(title),
        f"<h1>{e(title)}</h1>",
        f"<p class='note'>Synthetic populations; every figure is against the run's counterfactual twin (same people and "
        f"random numbers, scoring off). Generated {e(generated)} by scorelab {e(_version())}. This file: "
        f"{_SIZE_MARK}, self-contained (no scripts, nothing loaded from elsewhere).</p>",
    ]
    if len(rs) > 1:
        parts.append("<section id='compare'><h2>Comparison</h2>")
        parts.append("<ul class='findings'>" + "".join(f"<li>{e(s)}</li>" for s in compare_findings(rs)) + "</ul>")
        parts.append(_compare_table(rs))
        parts += by_section.get("compare", [])
        parts.append("</section>")
    for i, r in enumerate(rs):
        sec = f"run{i + 1}"
        desc = str((r.scenario_data or {}).get("description") or "").strip()
        parts.append(f"<section id='{sec}' class='run'><h2>{e(r.manifest.get('scenario', '?'))}"
                     f"{' (run ' + str(i + 1) + ')' if len(rs) > 1 else ''}</h2>")
        if desc:
            parts.append(f"<p class='desc'>{e(desc)}</p>")
        parts.append(_meta_table(r))
        parts.append("<h3>Key findings</h3><ul class='findings'>" + "".join(f"<li>{e(s)}</li>" for s in findings(r)) + "</ul>")
        parts.append("<h3>Headline figures</h3>" + _summary_table(r))
        parts.append("<h3>Figures</h3>")
        parts += by_section.get(sec, [])
        parts.append("</section>")
    parts.append(f"<p class='note'>Report size: {_SIZE_MARK}. Long series are thinned to at most {P.MAX_POINTS} "
                 f"points (levels by stride, flows summed per bucket, as a rate per day).</p></main></body></html>\n")
    return _with_size("".join(parts))


def _with_size(page: str) -> str:
    """Replace the size marks with the page's own size in bytes (fixed point: the digits
    written change the size they describe)."""
    size = len(page.encode("utf-8"))
    for _ in range(10):
        text = f"{size:,} bytes ({size / 1024:,.0f} KiB)"
        out = page.replace(_SIZE_MARK, text)
        new = len(out.encode("utf-8"))
        if new == size:
            return out
        size = new
    return out


def _version() -> str:
    from scorelab import __version__

    return __version__


def write_page(page: str, path: Path, failure: str) -> Path:
    """Write an HTML page atomically (a hidden temporary name, then a rename), creating its
    folder; UsageError ``"<failure>: <reason>"`` when that fails."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(page, encoding="utf-8")
        tmp.replace(path)
    except OSError as err:
        raise UsageError(f"{failure}: {err.strerror or err}") from None
    return path


def write(results: Sequence[Any], out: str | Path = "report.html", png: str | Path | None = None) -> Path:
    """Write the report page to ``out`` (and PNGs to ``png`` if given); returns the page's path."""
    rs = [_open(r) for r in results]
    if not rs:
        raise UsageError("report: give at least one run")
    figs = _figures(rs)
    path = write_page(render(rs, figures=figs), Path(out), f"--out {out}: cannot write the report")
    if png is not None:
        write_pngs(rs, png, figures=figs)
    return path
