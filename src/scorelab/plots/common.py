"""What the figures share: limits, colours, safe labels, thinning of long series, and
reading per-step columns of a run (see the package's docstring)."""


from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from scorelab.tables import RunTables

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

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


#: The smallest span of a mean-score axis, as a share of the scores' level: a drift of 3.5
#: points on 1,000 drawn across the whole axis looked dramatic.
MIN_SCORE_SPAN = 0.05


def score_axis(ax: Any, lo: float, hi: float) -> None:
    """Limit a mean-score axis around [lo, hi] to at least ``MIN_SCORE_SPAN`` of the level."""
    if np.isfinite(lo) and np.isfinite(hi):
        mid, span = (lo + hi) / 2, max(hi - lo, MIN_SCORE_SPAN * abs((lo + hi) / 2), 1e-9)
        ax.set_ylim(mid - 0.55 * span, mid + 0.55 * span)
    ax.ticklabel_format(axis="y", useOffset=False, style="plain")


def new_figure(size: tuple[float, float] = WIDE, ncols: int = 1, nrows: int = 1,
               **kw: Any) -> tuple["Figure", list["Axes"]]:
    """A figure (no pyplot) with ``nrows`` rows of ``ncols`` axes, listed row by row."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, [ax for row in axes for ax in row]


def empty(ax: "Axes", text: str) -> None:
    """A panel with nothing to draw: ``text`` in its middle, no ticks."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#666666")
    ax.set_xticks([])
    ax.set_yticks([])


def column(r: RunTables, name: str) -> np.ndarray:
    """A per-step metric as floats (zeros when the run has no such column)."""
    m = r.metrics
    return m.get_column(name).to_numpy().astype(np.float64) if name in m.columns else np.zeros(m.height)


def day_column(r: RunTables) -> np.ndarray:
    """The day of each step."""
    return r.metrics.get_column("day").to_numpy().astype(np.float64)


def dates(r: RunTables, days: np.ndarray) -> np.ndarray:
    """Calendar dates (numpy datetime64[D]) of days counted from the run's start date, for
    time axes that read as dates; days from 0 when the scenario has no start date."""
    start = ((r.scenario_data or {}).get("run") or {}).get("start")
    try:
        origin = np.datetime64(str(start), "D")
    except (ValueError, TypeError):
        origin = np.datetime64("1970-01-01", "D")
    return origin + np.round(days).astype("timedelta64[D]")


def date_axis(ax: "Axes") -> None:
    """A time axis of dates, labelled concisely (month and year as the span needs)."""
    import matplotlib.dates as mdates

    loc = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc))


def days_per_step(r: RunTables) -> float:
    """The length of a step in days."""
    return float(r.manifest.get("step_days") or 1.0)


def grade_order(r: RunTables) -> list[str]:
    """Grades best first: by their lower bound (``from``) in the scenario, falling back to
    the order of the names in the run."""
    names = list(r.names["grades"])
    bands = {}
    grades = (r.scenario_data or {}).get("grades")
    for g in grades if isinstance(grades, list) else []:
        if isinstance(g, dict) and g.get("name") in names:
            lo = g.get("from")
            bands[g["name"]] = float(lo) if isinstance(lo, (int, float)) else float("-inf")
    if len(bands) == len(names):
        return sorted(names, key=lambda g: (-bands[g], names.index(g)))
    return names


def sanction_names(r: RunTables) -> list[str]:
    """The consequences that are sanctions of people (a firm's are not read per 1,000 people)."""
    return [k for k, v in r.names["consequences"].items() if v.get("sanction") and v.get("actor") != "firm"]


def sanctions_series(r: RunTables) -> dict[str, np.ndarray]:
    """Per step: people's sanctions, wrongful ones, by association (as the headline's)."""
    ks = sanction_names(r)
    z = np.zeros(r.metrics.height)
    return {x: sum((column(r, f"consequences.{k}.{x}") for k in ks), z.copy()) for x in ("applied", "wrongful", "association")}


def run_label(r: RunTables) -> str:
    return str(r.manifest.get("run_id") or r.manifest.get("scenario") or "run")


def top(names: Sequence[str], weights: Sequence[float], n: int = MAX_ROWS) -> tuple[list[str], list[str]]:
    """The n names with the largest weights (in their original order) and the others."""
    names = list(names)
    if len(names) <= n:
        return names, []
    order = np.argsort(-np.abs(np.asarray(weights, dtype=np.float64)), kind="stable")
    keep = set(order[:n].tolist())
    return [x for i, x in enumerate(names) if i in keep], [x for i, x in enumerate(names) if i not in keep]


def fmt_count(v: float) -> str:
    """A count or a small rate as a bar label."""
    return f"{v:,.0f}" if abs(v) >= 10 or v == int(v) else f"{v:.2g}"
