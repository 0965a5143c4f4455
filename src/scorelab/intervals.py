"""Confidence intervals that respect the quantity: a count's never goes below zero, a share's
stays in [0, 1]. Used by sweeps (``sweep.statistics``), the figures, the verdict and the report.

A figure is one of four kinds (``figure_kind``):

* a **count** of events (``vocabulary.EVENT_COUNTS``): the interval is the union of the
  Student-t interval of the replicates' mean and the exact Poisson (Garwood) interval of their
  total divided by the replicates, cut at zero. With one replicate, or replicates that all
  counted nothing, it is the Poisson interval alone: zero sanctions in two runs still allows a
  mean of up to 1.84 a run (at 95 %), and no count's interval goes below zero;
* a **share** (a grade share, a precision): the t interval cut to [0, 1];
* anything else that cannot be negative (people-days, days, people): the t interval cut at
  zero; a figure that may be negative (income lost vs twin: rewards can make it a gain) keeps
  the t interval as it is.

Cutting an interval at a bound the quantity cannot cross keeps its coverage: the mean of
non-negative values is non-negative.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from scorelab.vocabulary import EVENT_COUNTS, INCOME_LOST

#: The level of every interval scorelab shows.
LEVEL = 0.95


def poisson_interval(total: float, level: float = LEVEL) -> tuple[float, float]:
    """The exact (Garwood) interval of a Poisson mean from one observed count ``total``
    (rounded to a whole number): chi-square quantiles, 0 below when nothing was counted."""
    from scipy.stats import chi2

    k = max(0, round(total))
    a = 1.0 - level
    lo = 0.0 if k == 0 else float(chi2.ppf(a / 2, 2 * k)) / 2
    return lo, float(chi2.ppf(1 - a / 2, 2 * k + 2)) / 2


Kind = Literal["count", "share", "nonnegative", "any"]


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile (p >= 0.5) of Student's t with ``df`` >= 1 degrees of freedom."""
    if not 0.5 <= p < 1.0 or df < 1:
        raise ValueError(f"t_quantile needs 0.5 <= p < 1 and df >= 1, got p={p}, df={df}")
    from scipy.stats import t

    return float(t.ppf(p, df))


def figure_kind(name: str) -> Kind:
    """How a headline figure's interval is built (module docstring)."""
    if name in EVENT_COUNTS:
        return "count"
    if "share" in name or "precision" in name:
        return "share"
    if name == INCOME_LOST:
        return "any"
    return "nonnegative"


def describe(values: Sequence[float], level: float = LEVEL, kind: Kind = "any") -> dict[str, float | int | None]:
    """n, mean, sample sd, standard error and the interval of the non-null values' mean for a
    figure of ``kind`` (module docstring). sd and se are null below two values; so is the
    interval, except for counts (the Poisson interval)."""
    xs = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    n = len(xs)
    if n == 0:
        return {"n": 0, "mean": None, "sd": None, "se": None, "ci_lo": None, "ci_hi": None}
    mean = math.fsum(xs) / n
    sd = se = lo = hi = None
    if n >= 2:
        sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
        se = sd / math.sqrt(n)
        half = t_quantile(0.5 + level / 2.0, n - 1) * se
        lo, hi = mean - half, mean + half
    if kind == "count":
        p_lo, p_hi = poisson_interval(math.fsum(xs), level)
        lo = p_lo / n if lo is None else min(lo, p_lo / n)
        hi = p_hi / n if hi is None else max(hi, p_hi / n)
    if lo is not None and hi is not None and kind != "any":
        lo = max(lo, 0.0)
        if kind == "share":
            hi = min(hi, 1.0)
    return {"n": n, "mean": mean, "sd": sd, "se": se, "ci_lo": lo, "ci_hi": hi}
