"""Confidence intervals that respect the quantity: a count's never goes below zero, a share's
stays in [0, 1]. Used by sweeps (``sweep.statistics``), the disparate-impact table (``impact``:
the arrays' forms, ``*_bounds``), the figures, the verdict and the report.

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

import numpy as np

from scorelab.vocabulary import EVENT_COUNTS, INCOME_LOST, format_figure

#: The level of every interval scorelab shows.
LEVEL = 0.95


def poisson_bounds(totals: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """The exact (Garwood) interval of a Poisson mean for each observed count in ``totals``
    (rounded to whole numbers, negatives as 0): chi-square quantiles, 0 below when nothing
    was counted."""
    k = np.maximum(np.rint(np.asarray(totals, dtype=np.float64)), 0.0)
    a = 1.0 - level
    with np.errstate(invalid="ignore"):
        lo = np.where(k == 0, 0.0, chi2_quantile(a / 2, np.maximum(2 * k, 1e-300)) / 2)
    return lo.astype(np.float64), (chi2_quantile(1 - a / 2, 2 * k + 2) / 2).astype(np.float64)


# The quantiles below are scipy.stats' (chi2.ppf, norm.ppf, t.ppf) computed as those compute them,
# from scipy.special: importing scipy.stats costs most of a second of CPU, a fifth of a whole run.


def chi2_quantile(p: float, df: np.ndarray) -> np.ndarray:
    """The ``p`` quantile (0 < p < 1) of chi-square with ``df`` > 0 degrees of freedom."""
    from scipy.special import gammaincinv

    return 2 * gammaincinv(np.asarray(df, dtype=np.float64) / 2, p)


def normal_quantile(p: float) -> float:
    """The ``p`` quantile (0 < p < 1) of the standard normal."""
    from scipy.special import ndtri

    return float(ndtri(p))


def poisson_interval(total: float, level: float = LEVEL) -> tuple[float, float]:
    """``poisson_bounds`` of one count ``total``."""
    lo, hi = poisson_bounds(np.array([total]), level)
    return float(lo[0]), float(hi[0])


def wilson_bounds(successes: np.ndarray, trials: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """The Wilson score interval of each share ``successes / trials``: inside [0, 1], sensible
    at 0 and at all successes (where the normal interval collapses to a point); (0, 1) where
    there are no trials."""
    n = np.asarray(trials, dtype=np.float64)
    s = np.asarray(successes, dtype=np.float64)
    safe = np.where(n > 0, n, 1.0)
    p = np.clip(s / safe, 0.0, 1.0)
    z = normal_quantile(1 - (1.0 - level) / 2)
    centre = (p + z * z / (2 * safe)) / (1 + z * z / safe)
    half = z * np.sqrt(p * (1 - p) / safe + z * z / (4 * safe * safe)) / (1 + z * z / safe)
    # (exactly 0 below with no successes, 1 above with all: the formula leaves rounding there)
    lo = np.where((n > 0) & (s > 0), np.maximum(0.0, centre - half), 0.0)
    hi = np.where((n > 0) & (s < n), np.minimum(1.0, centre + half), 1.0)
    return lo, hi


def wilson_interval(successes: float, trials: float, level: float = LEVEL) -> tuple[float, float]:
    """``wilson_bounds`` of one share."""
    lo, hi = wilson_bounds(np.array([successes]), np.array([trials]), level)
    return float(lo[0]), float(hi[0])


Kind = Literal["count", "share", "nonnegative", "any"]


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile (p >= 0.5) of Student's t with ``df`` >= 1 degrees of freedom."""
    if not 0.5 <= p < 1.0 or df < 1:
        raise ValueError(f"t_quantile needs 0.5 <= p < 1 and df >= 1, got p={p}, df={df}")
    from scipy.special import stdtrit

    return float(stdtrit(df, p))


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


def shown_mean(name: str, values: Sequence[float | None], level: float = LEVEL) -> tuple[str, str]:
    """A headline figure over replicates as a table shows it: the mean and its interval.

    Runs where the figure has no value (``None``: a ratio over nothing, such as the precision
    of alerts in a run with no alerts) are left out of the mean, which then says over how many
    runs it is; when no run has a value, the reason is shown (``vocabulary.not_defined``). No
    interval is shown for replicates that all agree, except for counts (the Poisson interval)."""
    xs = [float(v) for v in values if v is not None]
    if not xs:
        return format_figure(name, None), ""
    kind = figure_kind(name)
    d = describe(xs, level, kind)
    mean = format_figure(name, float(d["mean"] or 0.0))
    if len(xs) < len(values):
        mean += f" ({len(xs)} of {len(values)} runs; {format_figure(name, None)} in the others)"
    if d["ci_lo"] is None or d["ci_hi"] is None or (d["sd"] == 0 and kind != "count"):
        return mean, ""
    return mean, f"[{format_figure(name, float(d['ci_lo']))}, {format_figure(name, float(d['ci_hi']))}]"
