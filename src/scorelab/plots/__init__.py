"""Figures of a run (and of several runs side by side), drawn with matplotlib.

Every figure is a function of a run's tables only (``tables.RunTables``, such as a
``Result``; through ``scorelab.metrics``), so it can be redrawn from a results folder.
Figures are built with ``matplotlib.figure.Figure`` directly (no pyplot, no global state);
``scorelab.report`` turns them into inline SVG or PNG. Long per-step series are thinned to at most ``MAX_POINTS`` points before drawing:
levels (stocks, means, shares) by keeping every k-th step and the last one, flows (events
per step) by summing k steps into one bucket and dividing by its length in days, so a
thinned flow is still a rate per day and its area is unchanged.

Every name that comes from a scenario (behaviours, channels, groups, ...) goes through
``label()``: ``$`` is escaped so that matplotlib never reads it as mathematics, and a
leading ``_`` (which matplotlib would hide from legends) is kept visible.

``run`` has the figures of one run (``PLOTS``), ``compare`` those of several runs side by side
(``COMPARE_PLOTS``), ``common`` what they share.
"""

from scorelab.plots.common import (
    MAX_CELLS,
    MAX_POINTS,
    MAX_ROWS,
    empty,
    grade_order,
    label,
    new_figure,
    run_label,
    sanctions_series,
    short,
    thin_flow,
    thin_level,
    thin_stride,
    top,
)
from scorelab.plots.compare import COMPARE_PLOTS, HARMS
from scorelab.plots.run import PLOTS

__all__ = [
    "COMPARE_PLOTS", "HARMS", "MAX_CELLS", "MAX_POINTS", "MAX_ROWS", "PLOTS", "empty", "grade_order", "label",
    "new_figure", "run_label", "sanctions_series", "short", "thin_flow", "thin_level", "thin_stride", "top",
]
