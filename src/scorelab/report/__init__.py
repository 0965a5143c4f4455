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

The modules: ``page`` (the page shell every report shares), ``findings`` (the sentences),
``runs`` (the report of runs, ``plot``, PNGs) and ``sweep`` (the report of a sweep folder,
imported on its own: ``scorelab.report.sweep.write(DIR)``).
"""

from scorelab.report.findings import compare_findings, findings
from scorelab.report.page import e, page_head, svg, write_page
from scorelab.report.runs import COMPARE_NAMES, PLOT_NAMES, plot, render, write, write_pngs

__all__ = [
    "COMPARE_NAMES", "PLOT_NAMES", "compare_findings", "e", "findings", "page_head", "plot", "render", "svg", "write",
    "write_page", "write_pngs",
]
