"""The statistics of a sweep's summary: per setting, the mean over the replicates with a
Student-t confidence interval."""

from __future__ import annotations

import math
from collections.abc import Sequence

#: Confidence level of the intervals in ``summary.parquet``.
LEVEL = 0.95


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile (p >= 0.5) of Student's t with ``df`` >= 1 degrees of freedom."""
    if not 0.5 <= p < 1.0 or df < 1:
        raise ValueError(f"t_quantile needs 0.5 <= p < 1 and df >= 1, got p={p}, df={df}")
    from scipy.stats import t

    return float(t.ppf(p, df))


def describe(values: Sequence[float], level: float = LEVEL) -> dict[str, float | int | None]:
    """n, mean, sample sd, standard error and the Student-t interval mean -+ t * se of the
    non-null values (sd, se and the interval are null below two values)."""
    xs = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    n = len(xs)
    if n == 0:
        return {"n": 0, "mean": None, "sd": None, "se": None, "ci_lo": None, "ci_hi": None}
    mean = math.fsum(xs) / n
    if n < 2:
        return {"n": n, "mean": mean, "sd": None, "se": None, "ci_lo": None, "ci_hi": None}
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
    se = sd / math.sqrt(n)
    half = t_quantile(0.5 + level / 2.0, n - 1) * se
    return {"n": n, "mean": mean, "sd": sd, "se": se, "ci_lo": mean - half, "ci_hi": mean + half}

