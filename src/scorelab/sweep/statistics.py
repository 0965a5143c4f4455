"""The statistics of a sweep's summary: per setting, the mean over the replicates with a
confidence interval that respects the quantity (``scorelab.intervals``: counts by Student t
joined with Poisson and cut at zero, shares kept in [0, 1]). The figures a sweep adds for the
varied keys' direct effect (``direct.EXTRA_FIGURES``: records removed on appeal...) are counts
too.
"""

from __future__ import annotations

from scorelab.intervals import LEVEL, Kind, describe, t_quantile
from scorelab.intervals import figure_kind as _base_kind
from scorelab.sweep.direct import EXTRA_FIGURES

__all__ = ["LEVEL", "Kind", "describe", "figure_kind", "t_quantile"]


def figure_kind(name: str) -> Kind:
    """How a sweep figure's interval is built (``intervals.figure_kind``, and the direct-effect
    figures are counts)."""
    return "count" if name in EXTRA_FIGURES else _base_kind(name)
