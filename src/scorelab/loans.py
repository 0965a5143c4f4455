"""Lending by group (docs/metrics.md#lending-by-group): for each step, world and group of the
population, the mean level the lender reads (the total score), the repayment rate and the
loans applied for, refused, due and repaid; built from the lending block of a run's metrics
(``engine.layout.LENDING_COLUMNS``) into ``lending.parquet``. The mean level is that of the
group's people scored from the start (with ``scoring.coming_of_age`` those who come of age
later apply for loans but are not in it).

A loan is a people's consequence whose service is ``loans``; the kernels count each scored
applicant's application once, by group (``kernel.consequences.count_loan``). The twin has no
rating: its people apply on the same draws, nobody is refused for a level, no loan of it has a
modelled outcome (repayment null), and its levels stay where the reported period started.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from scorelab.engine.layout import LEVEL_UNITS

__all__ = ["WORLDS", "lending_frame"]

#: The worlds of lending.parquet, in its row order
WORLDS = ("factual", "twin")


def lending_frame(metrics: dict[str, Any], groups: list[str], people: pl.DataFrame) -> pl.DataFrame | None:
    """One row per world, group and step (in that order), or None for a run without loans
    (``groups`` empty). ``metrics``: the run's named columns (``lending.<g>.<column>``, the
    level a running sum); ``people``: the per-person table (group, start_score: null for
    people not scored), whose scored people are the group's ``people``."""
    if not groups:
        return None
    step = np.asarray(metrics["step"], dtype=np.int64)
    day = np.asarray(metrics["day"], dtype=np.float64)
    n = step.shape[0]
    scored = people.filter(pl.col("start_score").is_not_null()).group_by(pl.col("group").cast(pl.String)).agg(
        pl.len().alias("people"), pl.col("start_score").sum().alias("start"))
    size = {row["group"]: row for row in scored.iter_rows(named=True)}
    zeros = np.zeros(n, dtype=np.int64)
    parts = []
    for world in WORLDS:
        factual = world == "factual"
        for g, name in enumerate(groups):
            count = int(size[name]["people"]) if name in size else 0
            col = {x: np.asarray(metrics[f"lending.{g}.{x}"], dtype=np.float64)
                   for x in ("applied", "refused", "due", "repaid", "level")}
            if factual:
                level = col["level"] / (LEVEL_UNITS * count) if count else np.full(n, np.nan)
                repay = np.where(col["due"] > 0, col["repaid"] / np.maximum(col["due"], 1.0), np.nan)
            else:  # (no rating moves a level; nothing of the twin's loans is modelled but the applications)
                level = np.full(n, float(size[name]["start"]) / count if count else np.nan)
                repay = np.full(n, np.nan)
            parts.append(pl.DataFrame({
                "step": step, "day": day,
                "world": pl.Series([world] * n, dtype=pl.String),
                "group": pl.Series([name] * n, dtype=pl.String),
                "people": np.full(n, count, dtype=np.int64),
                "mean_level": level,
                "repayment_rate": pl.Series(repay, nan_to_null=True),
                "loans_applied": col["applied"].astype(np.int64),
                **{f"loans_{x}": col[x].astype(np.int64) if factual else zeros for x in ("refused", "due", "repaid")},
            }))
    return pl.concat(parts)
