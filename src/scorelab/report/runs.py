"""The report of one or more runs: the page (``render``, ``write``), its figures as PNG
(``write_pngs``) and one figure for Jupyter (``plot``)."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scorelab import atomic
from scorelab import metrics as M
from scorelab import metrics_data
from scorelab import plots as P
from scorelab.errors import UsageError
from scorelab.report.compare import are_replicates, compare_table, differences_html, replicate_table, single_seed_warning
from scorelab.report.findings import compare_findings, findings
from scorelab.report.impact import impact_table
from scorelab.plots.regions import fig_lending
from scorelab.report.page import RC, SIZE_MARK, SOURCES_NOTE, e, figure_html, page_head, version, with_size, write_page
from scorelab.tables import RunTables, as_run_tables
from scorelab.verdict import verdict
from scorelab.vocabulary import figure_unit, format_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Figure names ``plot()`` and ``--png`` accept: per run, and (several runs) comparisons.
PLOT_NAMES = tuple(P.PLOTS)
COMPARE_NAMES = tuple(P.COMPARE_PLOTS)

# --------------------------------------------------------------------------- figures


def plot(result: Any, name: str) -> "Figure":
    """One figure of a run (a ``Result`` or results folder) as a matplotlib Figure, which
    Jupyter shows inline. ``name`` is one of ``PLOT_NAMES``; for comparisons, pass a list of
    runs and one of ``COMPARE_NAMES``."""
    import matplotlib

    if isinstance(result, (list, tuple)):
        if name not in P.COMPARE_PLOTS:
            raise UsageError(f"plot: with several runs, name must be one of {', '.join(COMPARE_NAMES)}, got {name!r}")
        with matplotlib.rc_context(RC):
            return P.COMPARE_PLOTS[name][1]([as_run_tables(r) for r in result])
    if name not in P.PLOTS:
        raise UsageError(f"plot: name must be one of {', '.join(PLOT_NAMES)}, got {name!r}")
    with matplotlib.rc_context(RC):
        return P.PLOTS[name][1](as_run_tables(result))


def _figures(results: Sequence[RunTables]) -> list[tuple[str, str, str, "Figure"]]:
    """(section, name, title, figure) for comparisons (2+ runs) then each run."""
    import matplotlib

    out = []
    with matplotlib.rc_context(RC):
        if len(results) > 1:
            for name, (title, f) in P.COMPARE_PLOTS.items():
                out.append(("compare", name, title, f(results)))
        for i, r in enumerate(results):
            for name, (title, f) in P.PLOTS.items():
                out.append((f"run{i + 1}", name, title, f(r)))
            if r.has_lending:  # (only a run with loans has the figure)
                out.append((f"run{i + 1}", "lending", "Lending by group", fig_lending(r)))
    return out


def write_pngs(results: Sequence[Any], folder: str | Path, dpi: int = 110,
               figures: list[tuple[str, str, str, "Figure"]] | None = None) -> list[Path]:
    """Every figure as a PNG in ``folder`` (created): ``<run>-<name>.png`` and, with several
    runs, ``compare_<what>.png``. Returns the paths written."""
    import matplotlib

    rs = [as_run_tables(r) for r in results]
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
            with matplotlib.rc_context(RC):  # (a PNG that fails midway, on a full disk, is removed)
                atomic.write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi, metadata={"Software": None}))
        except atomic.WriteFailure as err:
            raise UsageError(f"--png {folder}: cannot write {path.name}: {err.reason}") from None
        except OSError as err:
            raise UsageError(f"--png {folder}: cannot write {path.name}: {err.strerror or err}") from None
        written.append(path)
    return written


def _file_labels(rs: Sequence[RunTables]) -> list[str]:
    labs = ["".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in P.run_label(r)).strip(".") or "run" for r in rs]
    return [l if labs.count(l) == 1 else f"{l}-{i + 1}" for i, l in enumerate(labs)]


# --------------------------------------------------------------------------- page


def _section(r: RunTables, key: str) -> dict[str, Any]:
    """A section of the run's scenario as a mapping (empty if the folder's scenario lacks it)."""
    value = (r.scenario_data or {}).get(key)
    return value if isinstance(value, dict) else {}


def _scale_label(r: RunTables) -> str:
    pop = _section(r, "population")
    people, whole = pop.get("people"), pop.get("represents")
    if not isinstance(whole, (int, float)) or not isinstance(people, (int, float)) or not whole or not people \
            or people == whole:
        return "the whole population described"
    return (f"{people / whole:.3g} of the {int(whole):,} people described: counts are for the simulated people, "
            f"rates per 1,000 are the whole population's (docs/scale.md)")


def _meta_table(r: RunTables) -> str:
    m = r.manifest
    rows = [("scenario", m.get("scenario", "?")), ("run", m.get("run_id", "?")), ("seed", m.get("seed", "?")),
            ("population", f"{int(m.get('people', 0)):,} people, {int(m.get('firms', 0)):,} firms"),
            ("days", f"{float(m.get('days', 0)):g} ({int(m.get('steps', 0)):,} steps of {float(m.get('step_days', 1)):g} d)"),
            ("start date", _section(r, "run").get("start", "?")),
            ("burn-in", f"{float(m.get('burn_in_days', 0)):g} days before the start date, run but not reported"
             if m.get("burn_in_days") else "none: the system starts empty on the start date"),
            ("scale", _scale_label(r)),
            ("run date", str(m.get("created", "?")).replace("T", " ")),
            ("scorelab version", m.get("scorelab_version", "?"))]
    if m.get("command"):
        rows.append(("command", m["command"]))
    return "<table class='meta'>" + "".join(f"<tr><td>{e(k)}</td><td>{e(v)}</td></tr>" for k, v in rows) + "</table>"


def _summary_table(r: RunTables) -> str:
    rows = "".join(f"<tr><td>{e(k)}</td><td class='n'>{e(format_figure(k, v))}</td><td class='unit'>{e(figure_unit(k) if v is not None else '')}</td></tr>"
                   for k, v in M.headline(r).items())
    return f"<table class='summary'><tr><th>what</th><th class='n'>value</th><th>unit</th></tr>{rows}</table>"


def _data_held_table(r: RunTables) -> str:
    """What is held about people at the end, by group and overall, beside the twin's (none)."""
    try:
        d = metrics_data.data_held(r, "group")
    except UsageError:
        return "<p class='note'>Not kept by the scorelab that wrote this run.</p>"
    head = ("<tr><th>group</th><th class='n'>people</th><th class='n'>with data held</th>"
            "<th class='n'>records per person</th><th class='n'>channels per person</th>"
            "<th class='n'>domains per person</th><th class='n'>twin: records per person</th></tr>")
    rows = "".join(
        f"<tr><td>{e(x['group'] if x['group'] is not None else 'everyone')}</td><td class='n'>{x['people']:,}</td>"
        f"<td class='n'>{x['share_with_data'] or 0:.1%}</td><td class='n'>{x['records_per_person'] or 0:,.2f}</td>"
        f"<td class='n'>{x['channels_per_person'] or 0:,.2f}</td><td class='n'>{x['domains_per_person'] or 0:,.2f}</td>"
        f"<td class='n'>{x['twin_records_per_person']:,.2f}</td></tr>"
        for x in d.iter_rows(named=True))
    return (f"<table class='data-held'>{head}{rows}</table><p class='note'>Live records at the end of the run "
            f"(visible, not expired, deleted or removed on appeal), and the distinct channels and behaviour "
            f"domains they come from. The twin has no channels: it holds nothing.</p>")


def _lending_table(r: RunTables) -> str:
    """Lending by group over the run, both worlds (``metrics_data.lending_summary``)."""
    head = ("<tr><th>world</th><th>group</th><th class='n'>people</th><th class='n'>mean level, start</th>"
            "<th class='n'>mean level, end</th><th class='n'>loans applied for</th><th class='n'>refused</th>"
            "<th class='n'>share refused</th><th class='n'>repayment rate</th></tr>")

    def share(v: float | None) -> str:
        return "" if v is None or v != v else f"{v:.1%}"

    rows = "".join(
        f"<tr><td>{e(x['world'])}</td><td>{e(x['group'])}</td><td class='n'>{x['people']:,}</td>"
        f"<td class='n'>{x['mean_level_start']:,.2f}</td><td class='n'>{x['mean_level_end']:,.2f}</td>"
        f"<td class='n'>{x['loans_applied']:,}</td><td class='n'>{x['loans_refused']:,}</td>"
        f"<td class='n'>{share(x['refused_share'])}</td><td class='n'>{share(x['repayment_rate'])}</td></tr>"
        for x in metrics_data.lending_summary(r).iter_rows(named=True))
    return (f"<table class='lending'>{head}{rows}</table><p class='note'>Applications for loans by scored people "
            f"over the run; repayment is repaid / due for loans with an outcome. The twin has no rating: its "
            f"people apply on the same draws, nobody is refused for a level, and its levels stay as they started."
            f"</p>")


def _verdict_html(rs: Sequence[RunTables]) -> str:
    """The page's opening: what the system did to people, in three sentences per scenario
    (replicates: one set, with intervals)."""
    def items(sentences: list[str]) -> str:
        return "<ul class='verdict'>" + "".join(f"<li>{e(s)}</li>" for s in sentences) + "</ul>"

    head = "<section id='verdict'><h2>What the system did, against its counterfactual twin</h2>"
    if len(rs) == 1:
        return head + items(verdict(rs[0])) + "</section>"
    if are_replicates(rs):
        return (head + f"<p class='note'>Means of {len(rs)} replicates (seeds), with 95 % intervals.</p>"
                + items(verdict(list(rs))) + "</section>")
    body = "".join(f"<h3>{e(P.run_label(r))}</h3>" + items(verdict(r)) for r in rs)
    return head + f"<p class='warning'>{e(single_seed_warning(rs))}</p>" + body + "</section>"


def render(results: Sequence[Any], generated: str | None = None,
           figures: list[tuple[str, str, str, "Figure"]] | None = None) -> str:
    """The report page for one or more runs (Results or results folders)."""
    rs = [as_run_tables(r) for r in results]
    if not rs:
        raise UsageError("report: give at least one run")
    generated = generated or _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    figs = figures if figures is not None else _figures(rs)
    by_section: dict[str, list[str]] = {}
    for section, name, title, fig in figs:
        by_section.setdefault(section, []).append(figure_html(section, name, title, fig))
    title = (f"scorelab report: {rs[0].manifest.get('scenario', '?')}" if len(rs) == 1
             else "scorelab report: " + " vs ".join(str(r.manifest.get("scenario", "?")) for r in rs))
    parts = [
        page_head(title),
        f"<h1>{e(title)}</h1>",
        f"<p class='note'>Synthetic populations; every figure is against the run's counterfactual twin (same people and "
        f"random numbers, scoring off). Generated {e(generated)} by scorelab {e(version())}. This file: "
        f"{SIZE_MARK}, self-contained (no scripts, nothing loaded from elsewhere).</p>",
    ]
    parts.append(_verdict_html(rs))
    if len(rs) > 1 and are_replicates(rs):
        parts.append(f"<section id='compare'><h2>{len(rs)} replicates</h2>")
        parts.append("<h3>Headline figures</h3>" + replicate_table(rs))
        parts += by_section.get("compare", [])
        parts.append("</section>")
    elif len(rs) > 1:
        parts.append("<section id='compare'><h2>Comparison</h2>")
        parts.append("<ul class='findings'>" + "".join(f"<li>{e(s)}</li>" for s in compare_findings(rs)) + "</ul>")
        parts.append(differences_html(rs))
        parts.append("<h3>Headline figures</h3>" + compare_table(rs))
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
        parts.append("<h3>Disparate impact</h3>" + impact_table(r))
        parts.append("<h3>What is known about a person</h3>" + _data_held_table(r))
        if r.has_lending:
            parts.append("<h3>Lending by group</h3>" + _lending_table(r))
        parts.append("<h3>Figures</h3>")
        parts += by_section.get(sec, [])
        parts.append("</section>")
    parts.append(f"<p class='note'>Report size: {SIZE_MARK}. Long series are thinned to at most {P.MAX_POINTS} "
                 f"points (levels by stride, flows summed per bucket, as a rate per day). {e(SOURCES_NOTE)}</p>"
                 "</main></body></html>\n")
    return with_size("".join(parts))


def write(results: Sequence[Any], out: str | Path = "report.html", png: str | Path | None = None) -> Path:
    """Write the report page to ``out`` (and PNGs to ``png`` if given); returns the page's path."""
    rs = [as_run_tables(r) for r in results]
    if not rs:
        raise UsageError("report: give at least one run")
    figs = _figures(rs)
    path = write_page(render(rs, figures=figs), Path(out), f"--out {out}: cannot write the report")
    if png is not None:
        for *_, fig in figs:  # (laid out for the page already: the PNGs keep that layout)
            fig.set_layout_engine("none")
        write_pngs(rs, png, figures=figs)
    return path
