"""What is known about people, regions over time and people's paths: the outputs beside the
metric catalogue (``scorelab.metrics``), as pure functions of a run's tables.

* **Data held** (the pooled data space, the system's privacy cost): live records about each
  person at the end, the distinct channels and behaviour domains they come from (the
  per-person columns ``records_held``, ``channels_holding``, ``domains_holding``, summed per
  cell in ``groups.parquet``), and how they grow with rollout (the per-step ``data.*``
  metrics). The twin holds nothing: it has no channels, so its column is zero by construction.
* **Regions** (``regions.parquet``): each region's records, sanctions, rewards, listings and
  data held per step, summed to cities or provinces, with rates per 1,000 people.
* **Trajectories** (``trajectories.parquet``): the sampled people's paths, step by step.
* **Lending by group** (``lending.parquet``, runs with loans): each group's mean level,
  repayment and loans refused per step in both worlds, summed over the run by ``lending_summary``.

Per-person and per-1,000 figures do not depend on ``--scale`` (docs/scale.md). Formulas:
docs/metrics.md#data-held.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from scorelab.errors import UsageError
from scorelab.tables import RunTables, as_run_tables

__all__ = ["BY", "REGION_LEVELS", "data_held", "data_series", "lending_summary", "region_series", "trajectories"]

BY = ("group", "province", "city", "urban")
#: What ``region_series`` sums regions to.
REGION_LEVELS = ("city", "province", "national")
#: Region columns that are stocks at the step's end (the others are flows during the step).
_STOCKS = ("listings", "records_held", "people_with_data")
_FLOWS = ("records_true", "records_erroneous", "sanctions", "sanctions_wrongful", "rewards", "rewards_wrongful")


def _held_columns(r: RunTables) -> None:
    if "records_held" not in r.groups.columns:
        raise UsageError(f"{r.path}: written before the data held about people was kept (results format 3); rerun it")


def data_held(r: Any, by: str = "group") -> pl.DataFrame:
    """What is held about people at the end, per value of ``by`` (group, province, city or
    urban) and over everyone (a last row, ``by`` null): people, those with any live record,
    their share, and per person the live records, distinct channels and domains holding
    data about them; the twin's records per person (0: the twin has no channels)."""
    r = as_run_tables(r)
    if by not in BY:
        raise UsageError(f"data_held: by must be one of {', '.join(BY)}, got {by!r}")
    _held_columns(r)
    g = r.groups
    sums = [pl.col(c).sum().cast(pl.Float64) for c in ("people", "people_with_data_held", "records_held",
                                                        "channels_holding", "domains_holding")]
    cells = g.group_by(by).agg(sums).sort(by)
    total = g.select(pl.lit(None, dtype=g.schema[by]).alias(by), *sums)
    both = pl.concat([cells, total], how="vertical_relaxed")
    people = pl.col("people")
    return both.select(
        by,
        people.cast(pl.Int64),
        pl.col("people_with_data_held").cast(pl.Int64).alias("people_with_data"),
        (pl.col("people_with_data_held") / people).alias("share_with_data"),
        (pl.col("records_held") / people).alias("records_per_person"),
        (pl.col("channels_holding") / people).alias("channels_per_person"),
        (pl.col("domains_holding") / people).alias("domains_per_person"),
        pl.lit(0.0).alias("twin_records_per_person"),
    )


def data_series(r: Any) -> pl.DataFrame:
    """How the data held grows with rollout: per step, live records about people and people
    with any, per 1,000 people and as a share; the twin's (zero) beside them."""
    r = as_run_tables(r)
    m = r.metrics
    if "data.records_held" not in m.columns:
        raise UsageError(f"{r.path}: written before the data held about people was kept (results format 3); rerun it")
    n = float(r.manifest["people"]) or 1.0
    return m.select(
        "step", "day",
        pl.col("data.records_held").alias("records_held"),
        pl.col("data.people_with_data").alias("people_with_data"),
        (1000.0 * pl.col("data.records_held") / n).alias("records_per_1000"),
        (pl.col("data.people_with_data") / n).alias("share_with_data"),
        pl.lit(0.0).alias("twin_records_held"),
    )


def region_series(r: Any, level: str = "city") -> pl.DataFrame:
    """Each region's series, summed to ``level`` (city, province or national), per step:
    the flows and stocks of ``regions.parquet`` and, for each, the rate per 1,000 people
    (flows per day)."""
    r = as_run_tables(r)
    if level not in REGION_LEVELS:
        raise UsageError(f"region_series: level must be one of {', '.join(REGION_LEVELS)}, got {level!r}")
    reg = r.regions
    keys = {"city": ["province", "city"], "province": ["province"], "national": []}[level]
    cols = [c for c in (*_FLOWS, *_STOCKS) if c in reg.columns]
    out = reg.group_by(*keys, "step", maintain_order=True).agg(pl.col("day").first(), pl.col("people").sum(),
                                                               *[pl.col(c).sum() for c in cols])
    step_days = float(r.manifest.get("step_days", 1.0)) or 1.0
    rates = [(1000.0 * pl.col(c) / pl.col("people") / (step_days if c in _FLOWS else 1.0)).alias(f"{c}_per_1000")
             for c in cols]
    return out.with_columns(rates).sort(*keys, "step")


def trajectories(r: Any, person: int | None = None) -> pl.DataFrame:
    """The sampled people's paths (``run.trajectories``): one row per person and step; with
    ``person``, that person's only (UsageError if they were not sampled)."""
    r = as_run_tables(r)
    t = r.trajectories
    if person is None:
        return t
    one = t.filter(pl.col("person") == person)
    if one.height == 0:
        sampled = t.get_column("person").unique().sort().to_list()
        raise UsageError(f"trajectories: person {person} was not sampled; sampled: "
                         f"{', '.join(map(str, sampled[:10]))}{' ...' if len(sampled) > 10 else ''}")
    return one


def lending_summary(r: Any) -> pl.DataFrame:
    """Lending by group over the run, one row per world and group: scored people, mean level at
    the start and at the end, loans applied for and refused, the share refused, loans due and
    repaid and the repayment rate (repaid / due; null with none due). UsageError for a run
    without loans (``RunTables.lending_by_group``)."""
    t = as_run_tables(r).lending_by_group()
    first, last = t.get_column("step").min(), t.get_column("step").max()
    return t.group_by("world", "group", maintain_order=True).agg(
        pl.col("people").first(),
        pl.col("mean_level").filter(pl.col("step") == first).first().alias("mean_level_start"),
        pl.col("mean_level").filter(pl.col("step") == last).first().alias("mean_level_end"),
        pl.col("loans_applied").sum(), pl.col("loans_refused").sum(),
        pl.col("loans_due").sum(), pl.col("loans_repaid").sum(),
    ).with_columns(
        (pl.col("loans_refused") / pl.col("loans_applied")).alias("refused_share"),
        pl.when(pl.col("loans_due") > 0).then(pl.col("loans_repaid") / pl.col("loans_due")).alias("repayment_rate"),
    )
