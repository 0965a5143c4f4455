"""The tables of a sweep and the complete sweep folder read back.

``runs.parquet`` has one row per task (task, setting, varied values, replicate, seed, every
headline figure, ``wall_seconds``), read from the task's completed results folder;
``summary.parquet`` has one row per setting and numeric figure: n, mean, sd, se and the
Student-t confidence interval (``statistics.describe``). ``SweepResult`` is a finished sweep.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scorelab.errors import UsageError
from scorelab.sweep.design import ID_COLUMNS, TIMING_COLUMNS, SweepSpec, Task, format_setting
from scorelab.sweep.direct import extra_values
from scorelab.sweep.statistics import LEVEL, describe, figure_kind

if TYPE_CHECKING:
    import polars as pl

FORMAT_NAME = "scorelab-sweep"
FORMAT_VERSION = 1


def _value_series(name: str, vals: list[Any]) -> "pl.Series":
    """A varied key's values as one typed column (JSON text when the types are mixed)."""
    import polars as pl

    kinds = {type(v) for v in vals if v is not None}
    if kinds <= {bool}:
        return pl.Series(name, vals, dtype=pl.Boolean)
    if kinds <= {int}:
        return pl.Series(name, vals, dtype=pl.Int64)
    if kinds <= {int, float}:
        return pl.Series(name, [None if v is None else float(v) for v in vals], dtype=pl.Float64)
    if kinds <= {str}:
        return pl.Series(name, vals, dtype=pl.String)
    return pl.Series(name, [None if v is None else format_setting(v) for v in vals], dtype=pl.String)


def runs_table(tasks: Sequence[Task], keys: Sequence[str], runs_dir: Path) -> "pl.DataFrame":
    """One row per task, read from its completed results folder (in plan order)."""
    import polars as pl

    from scorelab import metrics
    from scorelab.tables import RunTables

    heads, walls = [], []
    for t in tasks:
        r = RunTables.open(runs_dir / t.id)
        heads.append({**metrics.headline(r), **extra_values(r, keys)})
        walls.append(float(r.manifest.get("wall_seconds") or 0.0))
    figures: list[str] = []
    for h in heads:
        figures += [k for k in h if k not in figures]
    clash = [f for f in figures if f in keys]
    if clash:
        raise UsageError(f"--vary {clash[0]}: the name is taken by a headline figure")
    cols: list[pl.Series] = [
        pl.Series("task", [t.id for t in tasks], dtype=pl.String),
        pl.Series("setting", [t.setting for t in tasks], dtype=pl.String),
        *(_value_series(k, [t.values.get(k) for t in tasks]) for k in keys),
        pl.Series("replicate", [t.replicate for t in tasks], dtype=pl.Int64),
        pl.Series("seed", [t.seed for t in tasks], dtype=pl.UInt64),
    ]
    for f in figures:
        vals = [h.get(f) for h in heads]
        if any(isinstance(v, str) for v in vals):
            cols.append(pl.Series(f, [None if v is None else str(v) for v in vals], dtype=pl.String))
        else:
            cols.append(pl.Series(f, [None if v is None else float(v) for v in vals], dtype=pl.Float64))
    cols.append(pl.Series("wall_seconds", walls, dtype=pl.Float64))
    return pl.DataFrame(cols)


def numeric_figures(runs: "pl.DataFrame", keys: Sequence[str]) -> list[str]:
    """The headline-figure columns of a runs table that hold numbers."""
    import polars as pl

    skip = set(ID_COLUMNS) | set(TIMING_COLUMNS) | set(keys)
    return [c for c, t in runs.schema.items() if c not in skip and t == pl.Float64]


def summary_table(runs: "pl.DataFrame", keys: Sequence[str], level: float = LEVEL) -> "pl.DataFrame":
    """Per setting and numeric figure (long, in setting then figure order): the varied
    values, ``figure``, ``n``, ``mean``, ``sd`` (n - 1 in the denominator), ``se`` = sd /
    sqrt(n) and ``ci_lo``/``ci_hi``: the interval of the mean that respects the figure's kind
    (``statistics.describe``: Student-t, with counts' Poisson interval, cut at bounds)."""
    import polars as pl

    figures = numeric_figures(runs, keys)
    order = list(dict.fromkeys(runs.get_column("setting").to_list()))
    rows: dict[str, list[Any]] = {c: [] for c in ("setting", *keys, "figure", "n", "mean", "sd", "se", "ci_lo", "ci_hi")}
    for sid in order:
        sub = runs.filter(pl.col("setting") == sid)
        first = sub.row(0, named=True)
        for f in figures:
            d = describe(sub.get_column(f).to_list(), level, figure_kind(f))
            rows["setting"].append(sid)
            for k in keys:
                rows[k].append(first[k])
            rows["figure"].append(f)
            for c in ("n", "mean", "sd", "se", "ci_lo", "ci_hi"):
                rows[c].append(d[c])
    schema: dict[str, Any] = {"setting": pl.String, **{k: runs.schema[k] for k in keys}, "figure": pl.String,
                              "n": pl.Int64, "mean": pl.Float64, "sd": pl.Float64, "se": pl.Float64,
                              "ci_lo": pl.Float64, "ci_hi": pl.Float64}
    return pl.DataFrame(rows, schema=schema)


def cell_text(figure: str, row: dict[str, Any]) -> str:
    """A figure's cell in a row of ``SweepResult.wide``: mean [interval], saying over how many of
    the setting's runs when it has no value in some (``metrics.headline``: a ratio over nothing),
    and why when it has none in any."""
    from scorelab.vocabulary import format_figure

    mean, lo, hi, n = row[f"{figure} mean"], row[f"{figure} lo"], row[f"{figure} hi"], row[f"{figure} n"]
    if mean is None:
        return format_figure(figure, None) if n == 0 else ""
    text = format_figure(figure, mean)
    if lo is not None and hi is not None:
        text += f" [{format_figure(figure, lo)}, {format_figure(figure, hi)}]"
    if n < row["n"]:
        text += f" ({n} of {row['n']} runs)"
    return text


@dataclass
class SweepResult:
    """A finished sweep: ``info`` (sweep.json), ``runs`` and ``summary`` (the two tables),
    and what this call did: ``ran`` tasks, ``skipped`` complete ones, ``retried`` attempts
    lost with their worker."""

    path: Path
    info: dict[str, Any]
    runs: "pl.DataFrame"
    summary: "pl.DataFrame"
    ran: int = 0
    skipped: int = 0
    retried: int = 0

    @property
    def keys(self) -> list[str]:
        return [a["key"] for a in self.info["spec"]["vary"]]

    @property
    def figures(self) -> list[str]:
        """The numeric headline figures summarised."""
        return list(dict.fromkeys(self.summary.get_column("figure").to_list()))

    @property
    def spec(self) -> SweepSpec:
        import yaml

        data = yaml.safe_load((self.path / "scenario.yaml").read_text(encoding="utf-8"))
        return SweepSpec.from_json(self.info["spec"], data)

    def run_path(self, task_id: str) -> Path:
        return self.path / "runs" / task_id

    def wide(self, figures: Sequence[str] | None = None) -> "pl.DataFrame":
        """The summary with one row per setting: ``n`` (the setting's runs) and per figure
        ``<figure> mean|lo|hi|n`` columns (its n: the runs where it has a value)."""
        import polars as pl

        figs = list(figures) if figures is not None else self.figures
        runs = self.runs.group_by("setting").agg(pl.len().cast(pl.Int64).alias("n"))
        base = self.summary.select("setting", *self.keys).unique(subset="setting", maintain_order=True)
        base = base.join(runs, on="setting", how="left")
        for f in figs:
            sub = self.summary.filter(pl.col("figure") == f).select(
                "setting", pl.col("mean").alias(f"{f} mean"), pl.col("ci_lo").alias(f"{f} lo"),
                pl.col("ci_hi").alias(f"{f} hi"), pl.col("n").alias(f"{f} n"))
            base = base.join(sub, on="setting", how="left")
        return base.sort("setting")

    @classmethod
    def open(cls, path: str | Path) -> "SweepResult":
        """Read a complete sweep folder (UsageError, one line, if it is not one)."""
        import polars as pl

        p = Path(path)
        info = read_info(p)
        if info is None:
            raise UsageError(f"{p}: not a complete sweep folder (no readable sweep.json)")
        if info.get("format_version") != FORMAT_VERSION:
            raise UsageError(f"{p}: sweep format version {info.get('format_version')} is not readable by this scorelab "
                             f"(reads {FORMAT_VERSION})")
        if info.get("status") != "complete":
            raise UsageError(f"{p}: the sweep is not complete; continue it with scorelab sweep --resume {p}")
        try:
            runs = pl.read_parquet(p / "runs.parquet", glob=False)
            summary = pl.read_parquet(p / "summary.parquet", glob=False)
        except (OSError, pl.exceptions.PolarsError) as e:
            raise UsageError(f"{p}: damaged sweep folder: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
        return cls(path=p, info=info, runs=runs, summary=summary)


def read_info(p: Path) -> dict[str, Any] | None:
    """The ``sweep.json`` of folder ``p`` (None when missing, unreadable or not a sweep's)."""
    try:
        info = json.loads((p / "sweep.json").read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and info.get("format") == FORMAT_NAME else None

