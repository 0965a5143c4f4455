"""Confidence intervals that respect the quantity: a count's never goes below zero, a share's
stays in [0, 1]. Used by sweeps (``sweep.statistics``), the figures and the report."""

from __future__ import annotations

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
