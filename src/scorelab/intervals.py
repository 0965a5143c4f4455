"""Confidence intervals that respect the quantity: a count's never goes below zero, a share's
stays in [0, 1]. Used by sweeps (``sweep.statistics``), the disparate-impact table
(``impact``), the figures and the report. Each comes as a function of one value and of arrays
(``*_bounds``), the one calling the other, so there is one formula of each."""

from __future__ import annotations

import numpy as np

#: The level of every interval scorelab shows.
LEVEL = 0.95


def poisson_bounds(totals: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """The exact (Garwood) interval of a Poisson mean for each observed count in ``totals``
    (rounded to whole numbers, negatives as 0): chi-square quantiles, 0 below when nothing
    was counted."""
    from scipy.stats import chi2

    k = np.maximum(np.rint(np.asarray(totals, dtype=np.float64)), 0.0)
    a = 1.0 - level
    with np.errstate(invalid="ignore"):
        lo = np.where(k == 0, 0.0, chi2.ppf(a / 2, np.maximum(2 * k, 1e-300)) / 2)
    return lo.astype(np.float64), (chi2.ppf(1 - a / 2, 2 * k + 2) / 2).astype(np.float64)


def poisson_interval(total: float, level: float = LEVEL) -> tuple[float, float]:
    """``poisson_bounds`` of one count ``total``."""
    lo, hi = poisson_bounds(np.array([total]), level)
    return float(lo[0]), float(hi[0])


def wilson_bounds(successes: np.ndarray, trials: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """The Wilson score interval of each share ``successes / trials``: inside [0, 1], sensible
    at 0 and at all successes (where the normal interval collapses to a point); (0, 1) where
    there are no trials."""
    from scipy.stats import norm

    n = np.asarray(trials, dtype=np.float64)
    s = np.asarray(successes, dtype=np.float64)
    safe = np.where(n > 0, n, 1.0)
    p = np.clip(s / safe, 0.0, 1.0)
    z = float(norm.ppf(1 - (1.0 - level) / 2))
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
