"""The direct effect of a varied key: the figure a change of that key moves first.

Varying ``safeguards.appeals.contested`` removes erroneous records on appeal; whether that
moves the headline (sanctions, wrongful sanctions...) depends on what those records would have
caused, and at a small scale it often does not beyond the replicates' noise. A sweep therefore
shows, beside the headline, the figure each varied key acts on directly: either a headline
figure, or a total of the run's per-step metrics added to ``runs.parquet`` for it (the first
matching rule of ``RULES``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from scorelab.vocabulary import (
    FLAGS_INVESTIGATED,
    LAWFUL_ACTS_SUPPRESSED,
    LISTINGS_OVERTURNED,
    RECORDS_ERRONEOUS,
    RECORDS_TRUE,
    SANCTIONS,
)

RECORDS_REMOVED_ON_APPEAL = "records removed on appeal"
RECORDS_DELETED = "records deleted (expiry, retention)"

#: Figures that are not in the headline: name -> the per-step metric column summed over the run.
EXTRA_FIGURES = {RECORDS_REMOVED_ON_APPEAL: "records_removed.appeal", RECORDS_DELETED: "records_removed.deleted"}

#: (pattern of a varied key, the figure it moves directly), first match wins.
RULES: tuple[tuple[str, str], ...] = (
    (r"^safeguards\.appeals\.listings\.", LISTINGS_OVERTURNED),
    (r"^safeguards\.appeals\.", RECORDS_REMOVED_ON_APPEAL),
    (r"^safeguards\.expiry$|^channels\.[^.]+\.retention$", RECORDS_DELETED),
    (r"^safeguards\.disabled_channels$|^channels\.[^.]+\.(coverage|detection|start|ramp)$", RECORDS_TRUE),
    (r"^channels\.[^.]+\.(misattribution|false_match_rate)", RECORDS_ERRONEOUS),
    (r"^responses\.|^safeguards\.transparency\.", LAWFUL_ACTS_SUPPRESSED),
    (r"^flags\.[^.]+\.capacity$", FLAGS_INVESTIGATED),
    (r"^consequences\.|^safeguards\.purpose_limitation$", SANCTIONS),
)


def direct_figure(key: str) -> str | None:
    """The figure a change of ``key`` moves directly, if a rule names one."""
    return next((figure for pattern, figure in RULES if re.search(pattern, key)), None)


def direct_figures(keys: Sequence[str]) -> list[str]:
    """The direct figures of the varied keys, each once, in the keys' order."""
    out: list[str] = []
    for k in keys:
        f = direct_figure(k)
        if f is not None and f not in out:
            out.append(f)
    return out


def extra_values(r: Any, keys: Sequence[str]) -> dict[str, float]:
    """The figures outside the headline that the varied keys move, for one run's tables."""
    out: dict[str, float] = {}
    for f in direct_figures(keys):
        column = EXTRA_FIGURES.get(f)
        if column is not None and column in r.metrics.columns:
            out[f] = float(r.metrics.get_column(column).sum())
    return out
