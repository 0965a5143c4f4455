"""The page shell every report shares: one self-contained HTML page.

Figures are inline SVG (``svg``) drawn under ``RC``; every string from a scenario or a run
is escaped (``e``); the page forbids scripts and every fetch (``page_head``: its
Content-Security-Policy) and states its own size (``SIZE_MARK``, replaced by ``with_size``);
``write_page`` writes it atomically.
"""

from __future__ import annotations

import html
import io
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scorelab import atomic
from scorelab.errors import UsageError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Matplotlib settings of every figure in a report.
RC = {
    "svg.fonttype": "none",  # text as <text>: smaller, selectable, escaped by matplotlib
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
}
#: Where a page states its own size (``with_size`` puts the number in).
SIZE_MARK = "\x00SIZE\x00"
# The footer's pointer to the sources of the presets' published figures (text: the page loads and
# links nothing, so it names the file in the scorelab source tree).
SOURCES_NOTE = ("The published figures the built-in scenarios use, with their sources and dates, are listed in "
                "docs/sources.md of scorelab.")


def e(s: Any) -> str:
    """Escape any run- or scenario-supplied value for the page (text and attribute values)."""
    return html.escape(str(s), quote=True)


def svg(fig: "Figure", prefix: str) -> str:
    """A figure as an inline ``<svg>`` element: no XML prolog, doctype or metadata, ids
    prefixed so that several figures on one page never share one, scaled to its container."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({**RC, "svg.hashsalt": prefix}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    s = buf.getvalue()
    s = s[s.index("<svg"):]
    s = re.sub(r"<metadata>.*?</metadata>\s*", "", s, flags=re.S)
    s = re.sub(r'\sid="', f' id="{prefix}-', s)
    s = re.sub(r"url\(#", f"url(#{prefix}-", s)
    s = re.sub(r'xlink:href="#', f'xlink:href="#{prefix}-', s)
    s = re.sub(r'<svg ([^>]*?)width="([^"]*)" height="[^"]*"', r'<svg \1width="100%" style="max-width:\2"', s, count=1)
    return s.strip()


def figure_html(section: str, name: str, title: str, fig: "Figure") -> str:
    """A figure with its caption, as the page shows it (ids prefixed with its section)."""
    pid = f"{section}-{name}"
    return (f"<figure class='plot' id='{pid}' data-plot='{name}' data-section='{section}'>"
            f"<figcaption>{e(title)}</figcaption>{svg(fig, pid)}</figure>")


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
.worse{background:#fde2e1}.better{background:#dff3e3}.changed{background:#fff4cc}.noise{color:#777}
.warning{background:#fff4cc;border-left:4px solid #e0a800;padding:.4em .6em}.unit{color:#555;font-size:.85em}
.verdict li{font-size:1.08em;margin:.35em 0}
.note{color:#555;font-size:.85em}
.desc{white-space:pre-wrap;color:#444}
"""


def page_head(title: str) -> str:
    """A page's start, up to the opening ``<main>``: the Content-Security-Policy (no scripts,
    nothing fetched), the title (escaped) and the styles. The sweep report shares it."""
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'; "
            "img-src data:\">"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{e(title)}</title><style>{_CSS}</style></head><body><main>")


def with_size(page: str) -> str:
    """Replace the size marks with the page's own size in bytes (fixed point: the digits
    written change the size they describe)."""
    size = len(page.encode("utf-8"))
    for _ in range(10):
        text = f"{size:,} bytes ({size / 1024:,.0f} KiB)"
        out = page.replace(SIZE_MARK, text)
        new = len(out.encode("utf-8"))
        if new == size:
            return out
        size = new
    return out


def version() -> str:
    """The scorelab version a page names."""
    from scorelab import __version__

    return __version__


def write_page(page: str, path: Path, failure: str) -> Path:
    """Write an HTML page atomically (a hidden temporary name, then a rename), creating its
    folder; UsageError ``"<failure>: <reason>"`` when that fails (a write that fails midway,
    on a full disk, leaves no temporary file behind: ``atomic.write_with``)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(path, page)
    except atomic.WriteFailure as err:
        raise UsageError(f"{failure}: {err.reason}") from None
    except OSError as err:
        raise UsageError(f"{failure}: {err.strerror or err}") from None
    return path
