"""Parameter sweeps: one scenario run over a design of settings, each with the same replicate seeds.

A sweep is described by a ``SweepSpec``: the resolved base scenario, the varied keys
(``Axis``: a list of values, or a numeric range for the random design), the design
(``grid``: the cartesian product in the order given; ``random``: ``samples`` draws from
``scorelab.rng.Stream(design_seed, "sweep.design")``, so a design is reproducible) and the
replicate seeds, which every setting shares (common random numbers: settings differ by
their values, not by their luck). ``plan_sweep`` expands it into ``Task`` objects, one per
(setting, seed); ``run_sweep`` runs them on a local process pool or on Ray and combines
their headline figures (``scorelab.metrics.headline``) into tidy tables.

The output folder ``DIR`` (docs/sweeps.md):

* ``runs/<task-id>/``: each task's results folder, written atomically by ``scorelab.run``,
  so a completed task is exactly a folder with ``manifest.json``;
* ``runs.parquet``: one row per task (task, setting, varied values, replicate, seed, every
  headline figure, ``wall_seconds``);
* ``summary.parquet``: one row per setting and numeric figure: n, mean, sd, se and the
  Student-t confidence interval;
* ``sweep.json`` (spec, settings, tasks, versions) and ``scenario.yaml`` (the base scenario).

Like a results folder, ``DIR`` appears only when complete: work happens in the hidden
sibling ``.<name>.sweep-partial``, which survives an interruption; running the same sweep
again (or ``resume_sweep``) skips the tasks whose folder is complete. Rows are built from
the completed folders keyed by task id, so a retried task can never give a duplicate or a
missing row.
"""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import math
import os
import platform
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from scorelab.errors import ScenarioError, UsageError

if TYPE_CHECKING:
    import polars as pl

    from scorelab.scenario.model import Scenario

FORMAT_NAME = "scorelab-sweep"
FORMAT_VERSION = 1
DESIGNS = ("grid", "random")
BACKENDS = ("process", "ray")
#: Confidence level of the intervals in ``summary.parquet``.
LEVEL = 0.95
#: Columns of ``runs.parquet`` that identify a task.
ID_COLUMNS = ("task", "setting", "replicate", "seed")
#: Columns that measure time, not results: leave them out when comparing sweeps.
TIMING_COLUMNS = ("wall_seconds",)
#: Headline figures the command line and the report show unless told otherwise.
DEFAULT_FIGURES = ("sanctions", "sanctions, wrongful", "records, erroneous", "lawful acts suppressed",
                   "income lost vs twin")
#: Numeric headline figures every run has (``metrics.headline``), before the grade shares.
HEADLINE_FIGURES = ("people", "days", "records, true", "records, erroneous", "sanctions", "sanctions, wrongful",
                    "sanctions, by association", "sanctions, wrongful, before a correction", "listings overturned",
                    "wrongful listings at end", "people-days wrongfully listed", "days to lift a wrongful listing, mean",
                    "flags withdrawn", "people sanctioned", "flags, true", "flags, false", "flags investigated",
                    "lawful acts suppressed", "wrongdoing deterred", "income lost vs twin")
#: Test hook: the id of a task whose worker process exits (``os._exit(1)``) after its first
#: step, on its first attempt only (a marker file in the sweep's work folder remembers it).
TEST_EXIT_ENV = "SCORELAB_SWEEP_TEST_EXIT"
_RANGE = re.compile(r"^\s*(.+?)\s*\.\.\s*(.+?)\s*$")
_WORK_SUFFIX = ".sweep-partial"
_ATTEMPTS = ".attempts"


# --------------------------------------------------------------------------- the design


@dataclass(frozen=True)
class Axis:
    """One varied key: a list of ``values`` (grid or random choices), or a numeric range
    ``low..high`` (random design only; whole numbers when both ends are, ends included)."""

    key: str
    values: tuple[Any, ...] = ()
    low: float | int | None = None
    high: float | int | None = None

    @property
    def is_range(self) -> bool:
        return self.low is not None

    @property
    def integer(self) -> bool:
        return isinstance(self.low, int) and isinstance(self.high, int)

    def describe(self) -> str:
        """As the user would type it after ``--vary``."""
        if self.is_range:
            return f"{self.key}={self.low}..{self.high}"
        return f"{self.key}=" + ",".join(format_value(v) for v in self.values)

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "range": [self.low, self.high]} if self.is_range else \
            {"key": self.key, "values": list(self.values)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Axis":
        if "range" in d:
            return cls(d["key"], (), d["range"][0], d["range"][1])
        return cls(d["key"], tuple(d["values"]))


def _split_top(text: str) -> list[str]:
    """Split on commas outside brackets, braces and quotes (a value may be a YAML list)."""
    parts, depth, quote, cur = [], 0, "", []
    for ch in text:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth <= 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return parts


def _json_value(v: Any) -> Any:
    """A parsed value as plain JSON data (dates become ISO strings), so that a spec survives
    ``sweep.json`` unchanged."""
    return json.loads(json.dumps(v, default=str))


def _parse_value(key: str, raw: str) -> Any:
    """One value read exactly as ``--set key=value`` reads it (YAML scalars)."""
    from scorelab.cli import _parse_sets

    return _json_value(_parse_sets([f"{key}={raw}"])[key])


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def parse_vary(text: str) -> Axis:
    """``key=v1,v2,...`` (values read as ``--set`` reads them) or ``key=low..high`` (a range)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key or not raw.strip():
        raise UsageError(f"--vary {text}: expected key=v1,v2,... or key=low..high, e.g. population.people=1000,2000")
    m = _RANGE.match(raw)
    if m and "," not in raw:
        lo, hi = _parse_value(key, m.group(1)), _parse_value(key, m.group(2))
        if not (_is_number(lo) and _is_number(hi)):
            raise UsageError(f"--vary {text}: {key}: a range low..high needs two numbers")
        if not lo < hi:
            raise UsageError(f"--vary {text}: {key}: a range needs low < high, got {lo}..{hi}")
        if isinstance(lo, int) != isinstance(hi, int):
            lo, hi = float(lo), float(hi)
        return Axis(key, (), lo, hi)
    parts = _split_top(raw)
    if any(not p.strip() for p in parts):
        raise UsageError(f"--vary {text}: {key}: an empty value (two commas, or a comma at an end)")
    values = tuple(_parse_value(key, p) for p in parts)
    seen: list[Any] = []
    for v in values:
        if v in seen and type(v) is type(seen[seen.index(v)]):
            raise UsageError(f"--vary {text}: {key}: the value {format_value(v)} is given twice")
        seen.append(v)
    return Axis(key, values)


def replicate_seeds(base_seed: int, replicates: int | None = None, seeds: Sequence[int] | None = None) -> tuple[int, ...]:
    """The replicate seeds every setting shares: ``seeds`` as given, else ``replicates``
    consecutive seeds from the scenario's ``run.seed`` (replicate 0 is the scenario as
    written), else just ``run.seed``."""
    if seeds is not None:
        seeds = [int(s) for s in seeds]
        if not seeds:
            raise UsageError("--seeds: give at least one seed")
        bad = [s for s in seeds if not 0 <= s < 2**64]
        if bad:
            raise UsageError(f"--seeds: seeds must be in [0, 2**64), got {bad[0]}")
        dup = [s for i, s in enumerate(seeds) if s in seeds[:i]]
        if dup:
            raise UsageError(f"--seeds: the seed {dup[0]} is given twice")
        if replicates is not None and replicates != len(seeds):
            raise UsageError(f"--replicates {replicates} disagrees with the {len(seeds)} seeds of --seeds; give one of them")
        return tuple(seeds)
    n = 1 if replicates is None else int(replicates)
    if n < 1:
        raise UsageError(f"--replicates: must be at least 1, got {n}")
    if base_seed + n > 2**64:
        raise UsageError(f"--replicates: run.seed {base_seed} + {n} replicates passes 2**64; give --seeds")
    return tuple(base_seed + i for i in range(n))


@dataclass(frozen=True)
class SweepSpec:
    """What to run. ``scenario`` is the resolved base scenario (``--set``, ``--days`` and
    ``--scale`` applied); ``source`` and ``overrides`` only say where it came from."""

    scenario: dict[str, Any]
    axes: tuple[Axis, ...] = ()
    design: Literal["grid", "random"] = "grid"
    samples: int | None = None
    seeds: tuple[int, ...] = ()
    design_seed: int = 0
    source: str = ""
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.scenario.get("name") or "scenario")

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(a.key for a in self.axes)

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "overrides": self.overrides, "design": self.design, "samples": self.samples,
                "design_seed": self.design_seed, "vary": [a.to_json() for a in self.axes], "seeds": list(self.seeds)}

    @classmethod
    def from_json(cls, d: dict[str, Any], scenario: dict[str, Any]) -> "SweepSpec":
        return cls(scenario=scenario, axes=tuple(Axis.from_json(a) for a in d["vary"]), design=d["design"],
                   samples=d.get("samples"), seeds=tuple(int(s) for s in d["seeds"]),
                   design_seed=int(d["design_seed"]), source=str(d.get("source", "")),
                   overrides=dict(d.get("overrides") or {}))


@dataclass(frozen=True)
class Setting:
    """One point of the design: the value of every varied key."""

    index: int
    id: str
    values: dict[str, Any]


@dataclass(frozen=True)
class Task:
    """One run: a setting with one replicate seed. ``id`` names its results folder."""

    id: str
    setting: str
    replicate: int
    seed: int
    values: dict[str, Any]

    @property
    def overrides(self) -> dict[str, Any]:
        """The overrides of the base scenario for this run."""
        return {**self.values, "run.seed": self.seed}

    def describe(self) -> str:
        return ", ".join([*(f"{k}={format_value(v)}" for k, v in self.values.items()), f"seed {self.seed}"])


def format_value(v: Any) -> str:
    """A varied value as text: strings as they are, everything else as JSON."""
    return v if isinstance(v, str) else json.dumps(v)


def make_spec(
    scenario: "Scenario | Any",
    vary: Sequence[str | Axis] = (),
    *,
    design: str = "grid",
    samples: int | None = None,
    replicates: int | None = None,
    seeds: Sequence[int] | None = None,
    design_seed: int | None = None,
    source: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> SweepSpec:
    """Build and check a sweep: ``scenario`` is a Scenario (``overrides``, if given, are
    taken as already applied and only recorded) or anything ``scorelab.load`` accepts
    (``overrides`` applied to it); ``vary`` holds ``Axis`` objects or ``--vary`` texts.
    Every setting's scenario is loaded here, so a bad key or value fails (UsageError, one
    line naming ``--vary`` and the field) before anything runs."""
    from scorelab.scenario.loader import load
    from scorelab.scenario.model import Scenario

    base = scenario if isinstance(scenario, Scenario) else load(scenario, overrides or None)
    if source is None:
        source = str(scenario) if isinstance(scenario, (str, Path)) else base.name
    if design not in DESIGNS:
        raise UsageError(f"--design: expected one of {', '.join(DESIGNS)}, got {design!r}")
    axes = tuple(a if isinstance(a, Axis) else parse_vary(a) for a in vary)
    keys = [a.key for a in axes]
    for i, k in enumerate(keys):
        if k in keys[:i]:
            raise UsageError(f"--vary {k}: the key is given twice")
        if k == "run.seed":
            raise UsageError("--vary run.seed: the replicate seeds come from --seeds or --replicates")
        if k in ID_COLUMNS or k in TIMING_COLUMNS or k in HEADLINE_FIGURES or k == "figure":
            raise UsageError(f"--vary {k}: the name is taken by a column of runs.parquet")
    if design == "grid":
        if samples is not None:
            raise UsageError("--samples: only with --design random (a grid runs every combination)")
        for a in axes:
            if a.is_range:
                raise UsageError(f"--vary {a.describe()}: a range needs --design random (a grid takes a list of values)")
    elif samples is None or samples < 1:
        raise UsageError(f"--samples: the random design needs --samples N with N >= 1, got {samples}")
    data = base.model_dump(mode="json", by_alias=True)
    spec = SweepSpec(scenario=data, axes=axes, design=design,  # type: ignore[arg-type]
                     samples=samples, seeds=replicate_seeds(base.run.seed, replicates, seeds),
                     design_seed=base.run.seed if design_seed is None else int(design_seed), source=source,
                     overrides=_json_value(dict(overrides or {})))
    if not 0 <= spec.design_seed < 2**64:
        raise UsageError(f"--design-seed: must be in [0, 2**64), got {spec.design_seed}")
    validate(spec)
    return spec


def headline_figures(scenario: dict[str, Any]) -> list[str]:
    """The numeric headline figures (``metrics.headline``) of runs of a scenario (data as
    ``model_dump``): the fixed ones, then one share per grade."""
    grades = [g.get("name") for g in scenario.get("grades") or [] if isinstance(g, dict)]
    return [*HEADLINE_FIGURES, *(f"grade {g} share" for g in grades)]


def validate(spec: SweepSpec) -> None:
    """Load every setting's scenario (and both ends of every range); the first problem is
    raised as UsageError naming ``--vary``, the key and the value, and the field."""
    from scorelab.scenario.loader import load

    checks = [s.values for s in settings(spec)]
    for a in spec.axes:
        if a.is_range:
            checks += [{a.key: a.low}, {a.key: a.high}]
    for values in checks:
        if not values:
            continue
        try:
            load(spec.scenario, values)
        except ScenarioError as e:
            p = e.problems[0]
            key = next((k for k in values if p.path == k or p.path.startswith(k + ".") or k.startswith(p.path + ".")),
                       next(iter(values)))
            field_ = p.path or key
            raise UsageError(f"--vary {key}={format_value(values[key])}: {field_}: {p.message}") from None


def _ids(n: int, prefix: str) -> list[str]:
    width = max(3, len(str(n - 1)))
    return [f"{prefix}{i:0{width}d}" for i in range(n)]


def settings(spec: SweepSpec) -> list[Setting]:
    """The design's settings, in order: the grid's combinations (the first key varies
    slowest), or the random design's ``samples`` draws (counter-based: draw i of key j is
    ``Stream(design_seed, "sweep.design")`` at entity i, slot j)."""
    if spec.design == "grid":
        combos = [dict(zip(spec.keys, vals)) for vals in itertools.product(*(a.values for a in spec.axes))]
    else:
        import numpy as np

        from scorelab.rng import Stream

        n = int(spec.samples or 0)
        stream = Stream(spec.design_seed, "sweep.design")
        cols: dict[str, list[Any]] = {}
        for j, a in enumerate(spec.axes):
            u = stream.uniform(np.arange(n, dtype=np.uint64), day=0, slot=j)
            if not a.is_range:
                idx = np.minimum((u * len(a.values)).astype(np.int64), len(a.values) - 1)
                cols[a.key] = [a.values[i] for i in idx.tolist()]
            elif a.integer:
                lo, hi = int(a.low), int(a.high)  # type: ignore[arg-type]
                cols[a.key] = [min(hi, lo + int(x * (hi - lo + 1))) for x in u.tolist()]
            else:
                lo_f, hi_f = float(a.low), float(a.high)  # type: ignore[arg-type]
                cols[a.key] = [lo_f + x * (hi_f - lo_f) for x in u.tolist()]
        combos = [{k: cols[k][i] for k in spec.keys} for i in range(n)]
    return [Setting(i, sid, values) for i, (sid, values) in enumerate(zip(_ids(len(combos), "s"), combos))]


def plan_sweep(spec: SweepSpec) -> list[Task]:
    """Every task of the sweep, setting by setting, each with every replicate seed."""
    out = []
    reps = _ids(len(spec.seeds), "r")
    for s in settings(spec):
        for r, (rid, seed) in enumerate(zip(reps, spec.seeds)):
            out.append(Task(id=f"{s.id}-{rid}", setting=s.id, replicate=r, seed=seed, values=dict(s.values)))
    return out


# --------------------------------------------------------------------------- statistics


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


# --------------------------------------------------------------------------- tables


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
    return pl.Series(name, [None if v is None else format_value(v) for v in vals], dtype=pl.String)


def runs_table(tasks: Sequence[Task], keys: Sequence[str], runs_dir: Path) -> "pl.DataFrame":
    """One row per task, read from its completed results folder (in plan order)."""
    import polars as pl

    from scorelab import metrics
    from scorelab.results import Result

    heads, walls = [], []
    for t in tasks:
        r = Result.open(runs_dir / t.id)
        heads.append(metrics.headline(r))
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
    sqrt(n) and ``ci_lo``/``ci_hi`` = mean -+ t(0.5 + level / 2, n - 1) * se."""
    import polars as pl

    figures = numeric_figures(runs, keys)
    order = list(dict.fromkeys(runs.get_column("setting").to_list()))
    rows: dict[str, list[Any]] = {c: [] for c in ("setting", *keys, "figure", "n", "mean", "sd", "se", "ci_lo", "ci_hi")}
    for sid in order:
        sub = runs.filter(pl.col("setting") == sid)
        first = sub.row(0, named=True)
        for f in figures:
            d = describe(sub.get_column(f).to_list(), level)
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


# --------------------------------------------------------------------------- results


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
        """The summary with one row per setting: ``<figure> mean|lo|hi`` columns."""
        import polars as pl

        figs = list(figures) if figures is not None else self.figures
        base = self.summary.filter(pl.col("figure") == figs[0]).select("setting", *self.keys, "n") if figs else \
            self.summary.select("setting", *self.keys).unique(maintain_order=True)
        for f in figs:
            sub = self.summary.filter(pl.col("figure") == f).select(
                "setting", pl.col("mean").alias(f"{f} mean"), pl.col("ci_lo").alias(f"{f} lo"),
                pl.col("ci_hi").alias(f"{f} hi"))
            base = base.join(sub, on="setting", how="left")
        return base.sort("setting")

    @classmethod
    def open(cls, path: str | Path) -> "SweepResult":
        """Read a complete sweep folder (UsageError, one line, if it is not one)."""
        import polars as pl

        p = Path(path)
        info = _read_info(p)
        if info is None:
            raise UsageError(f"{p}: not a complete sweep folder (no readable sweep.json)")
        if info.get("format_version") != FORMAT_VERSION:
            raise UsageError(f"{p}: sweep format version {info.get('format_version')} is not readable by this scorelab "
                             f"(reads {FORMAT_VERSION})")
        if info.get("status") != "complete":
            raise UsageError(f"{p}: the sweep is not complete; continue it with scorelab sweep --resume {p}")
        try:
            runs = pl.read_parquet(p / "runs.parquet")
            summary = pl.read_parquet(p / "summary.parquet")
        except (OSError, pl.exceptions.PolarsError) as e:
            raise UsageError(f"{p}: damaged sweep folder: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
        return cls(path=p, info=info, runs=runs, summary=summary)


def _read_info(p: Path) -> dict[str, Any] | None:
    try:
        info = json.loads((p / "sweep.json").read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and info.get("format") == FORMAT_NAME else None


# --------------------------------------------------------------------------- workers


def _attempts_dir(runs_dir: Path) -> Path:
    return runs_dir.parent / _ATTEMPTS


def run_task(scenario: dict[str, Any], task: Task, runs_dir: str, test_exit: str | None = None) -> str:
    """Run one task into ``runs_dir/<task.id>`` with ``scorelab.run`` (in a worker process).
    A complete folder is left as it is; hidden staging folders of dead earlier attempts are
    removed first. While it runs, a marker ``.attempts/<task>@<pid>`` says so: one left
    behind is an attempt whose process died. ``test_exit`` (tests only): the id of a task
    whose process exits after its first step, on its first attempt only."""
    import scorelab
    from scorelab.results import remove_stale_staging

    final = Path(runs_dir) / task.id
    if (final / "manifest.json").is_file():
        return str(final)
    attempts = _attempts_dir(Path(runs_dir))
    attempts.mkdir(exist_ok=True)
    marker = attempts / f"{task.id}@{os.getpid()}"
    marker.touch()
    once = attempts / f"{task.id}.test-exit"

    def exit_once(done: int, total: int) -> None:
        if done >= 1 and not once.exists():
            once.touch()
            os._exit(1)

    try:
        remove_stale_staging(final)
        try:
            scorelab.run(scorelab.load(scenario, task.overrides), out=final, check_memory=False,
                         progress=exit_once if test_exit == task.id else None)
        except UsageError:
            if (final / "manifest.json").is_file():  # another attempt finished it meanwhile
                return str(final)
            raise
    finally:
        marker.unlink(missing_ok=True)
    return str(final)


def _lost_attempts(runs_dir: Path, task_ids: set[str] | None = None) -> dict[str, int]:
    """Markers left by attempts whose process died, by task (removed as they are counted)."""
    out: dict[str, int] = {}
    d = _attempts_dir(runs_dir)
    if not d.is_dir():
        return out
    for m in sorted(d.glob("*@*")):
        tid = m.name.rsplit("@", 1)[0]
        if task_ids is None or tid in task_ids:
            out[tid] = out.get(tid, 0) + 1
            m.unlink(missing_ok=True)
    return out


def _times(n: int) -> str:
    return f"{n} time" if n == 1 else f"{n} times"


@dataclass(frozen=True)
class Event:
    """Progress of a sweep: a task ``done`` (its seconds, and on which ``attempt``), or an
    attempt ``lost`` with its worker, about to be retried (``attempt`` is the next one)."""

    kind: Literal["done", "lost"]
    task: Task
    done: int
    total: int
    seconds: float = 0.0
    attempt: int = 0


class _Tracker:
    def __init__(self, tasks: list[Task], runs_dir: Path, total: int, done: int, max_attempts: int,
                 progress: Callable[[Event], None] | None, work: Path, out: Path) -> None:
        self.tasks, self.runs_dir, self.total, self.done = tasks, runs_dir, total, done
        self.max_attempts, self.progress, self.work, self.out = max_attempts, progress, work, out
        self.lost: dict[str, int] = {}
        self.started = time.perf_counter()
        self.by_id = {t.id: t for t in tasks}

    def complete(self, t: Task) -> bool:
        return (self.runs_dir / t.id / "manifest.json").is_file()

    def finished(self, t: Task) -> None:
        self.done += 1
        for tid, n in _lost_attempts(self.runs_dir, {t.id}).items():
            self.lost[tid] = self.lost.get(tid, 0) + n
        attempt = self.lost.get(t.id, 0) + 1
        if self.progress is not None:
            try:
                secs = float(json.loads((self.runs_dir / t.id / "manifest.json").read_text()).get("wall_seconds", 0.0))
            except (OSError, ValueError):
                secs = 0.0
            self.progress(Event("done", t, self.done, self.total, seconds=secs, attempt=attempt))

    def count_lost(self, tids: dict[str, int]) -> None:
        for tid, n in tids.items():
            self.lost[tid] = self.lost.get(tid, 0) + n
            t = self.by_id.get(tid)
            if t is None:
                continue
            if self.lost[tid] >= self.max_attempts:
                raise UsageError(
                    f"task {tid} ({t.describe()}): its worker process died {_times(self.lost[tid])} (killed, out of "
                    f"memory?); giving up. Completed runs are kept: rerun the same command or "
                    f"scorelab sweep --resume {self.out} to continue")
            if self.progress is not None:
                self.progress(Event("lost", t, self.done, self.total, attempt=self.lost[tid] + 1))

    def task_failed(self, t: Task, e: BaseException) -> UsageError:
        first = (str(e).strip().splitlines() or [""])[0]
        what = first if isinstance(e, UsageError) else f"{type(e).__name__}: {first}" if first else type(e).__name__
        return UsageError(f"task {t.id} ({t.describe()}) failed: {what}; completed runs are kept in {self.work}")


def _run_process(scenario: dict[str, Any], tasks: list[Task], track: _Tracker, workers: int,
                 test_exit: str | None) -> None:
    """A local process pool (spawned workers). When a worker dies the pool breaks; the
    unfinished tasks go to a new pool, and each task that was running counts an attempt."""
    import concurrent.futures as cf
    import multiprocessing as mp
    from concurrent.futures.process import BrokenProcessPool

    ctx = mp.get_context("spawn")
    pending = [t for t in tasks if not track.complete(t)]
    blind = 0
    while pending:
        broken = False
        reported: set[str] = set()
        ex = cf.ProcessPoolExecutor(max_workers=max(1, min(workers, len(pending))), mp_context=ctx)
        try:
            futs = {ex.submit(run_task, scenario, t, str(track.runs_dir), test_exit): t for t in pending}
            for f in cf.as_completed(futs):
                t = futs[f]
                try:
                    f.result()
                except BrokenProcessPool:
                    broken = True
                    continue
                except BaseException as e:  # noqa: BLE001 - reported as one line, the rest cancelled
                    ex.shutdown(wait=True, cancel_futures=True)
                    raise track.task_failed(t, e) from None
                track.finished(t)
                reported.add(t.id)
        finally:
            ex.shutdown(wait=True, cancel_futures=True)
        for t in pending:  # finished in a worker beside the lost one, but its result went with the pool
            if t.id not in reported and track.complete(t):
                track.finished(t)
        pending = [t for t in pending if not track.complete(t)]
        if broken or pending:
            lost = _lost_attempts(track.runs_dir, {t.id for t in pending})
            if not lost:
                blind += 1
                if blind >= track.max_attempts:
                    raise UsageError(f"the process pool broke {blind} times before any task started; giving up "
                                     f"(completed runs are kept in {track.work})")
            track.count_lost(lost)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UsageError("--backend ray needs Ray, which is not installed: pip install 'scorelab[ray]'") from None
    return ray


def _run_ray(scenario: dict[str, Any], tasks: list[Task], track: _Tracker, address: str | None,
             workers: int | None, test_exit: str | None) -> None:
    """Ray tasks (one CPU each), retried by Ray when their worker dies (``max_retries``).
    Uses the Ray instance already initialised in this process, else starts or joins one
    (``address``) and shuts it down at the end."""
    ray = _import_ray()
    started = False
    if not ray.is_initialized():
        import logging

        kw: dict[str, Any] = {"address": address} if address else {"include_dashboard": False}
        kw["logging_level"] = logging.WARNING
        if workers is not None and not address:
            kw["num_cpus"] = workers
        try:
            ray.init(**kw)
        except Exception as e:  # noqa: BLE001 - connection problems, bad address
            raise UsageError(f"--backend ray: cannot start or join Ray{' at ' + address if address else ''}: "
                             f"{(str(e).strip().splitlines() or [type(e).__name__])[0]}") from None
        started = True
    try:
        remote = ray.remote(num_cpus=1, max_retries=max(0, track.max_attempts - 1), retry_exceptions=False)(run_task)
        ref = ray.put(scenario)
        pending = [t for t in tasks if not track.complete(t)]
        refs = {remote.remote(ref, t, str(track.runs_dir), test_exit): t for t in pending}
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            for r in ready:
                t = refs.pop(r)
                try:
                    ray.get(r)
                except ray.exceptions.RayTaskError as e:
                    for other in refs:
                        ray.cancel(other)
                    raise track.task_failed(t, e.cause if getattr(e, "cause", None) is not None else e) from None
                except ray.exceptions.RayError as e:  # the worker died more often than max_retries allows
                    for other in refs:
                        ray.cancel(other)
                    lost = _lost_attempts(track.runs_dir, {t.id})
                    raise UsageError(
                        f"task {t.id} ({t.describe()}): its worker died {_times(max(lost.get(t.id, 0), track.max_attempts))} "
                        f"({type(e).__name__}); giving up. Completed runs are kept: rerun the same command or "
                        f"scorelab sweep --resume {track.out} to continue") from None
                track.finished(t)
    finally:
        if started:
            ray.shutdown()


# --------------------------------------------------------------------------- the folder


def work_path(out: Path) -> Path:
    """The hidden folder an unfinished sweep ``out`` works in."""
    return out.parent / f".{out.name}{_WORK_SUFFIX}"


def _plan_key(info: dict[str, Any]) -> str:
    """What must match for a folder to hold the same sweep: spec, scenario and tasks."""
    spec = {k: v for k, v in info["spec"].items() if k not in ("source", "overrides")}
    return json.dumps({"spec": spec, "scenario": info["scenario_sha256"], "tasks": info["tasks"]}, sort_keys=True)


def _versions(backend: str) -> dict[str, str]:
    import numba
    import numpy
    import polars

    from scorelab import __version__

    v = {"scorelab": __version__, "python": sys.version.split()[0], "numpy": numpy.__version__,
         "numba": numba.__version__, "polars": polars.__version__, "platform": platform.platform()}
    if backend == "ray":
        try:
            import ray

            v["ray"] = ray.__version__
        except ImportError:
            pass
    return v


def _info(spec: SweepSpec, tasks: list[Task], command: str, backend: str) -> dict[str, Any]:
    import hashlib

    scen = json.dumps(spec.scenario, sort_keys=True)
    sets = settings(spec)
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "status": "running",
        "name": spec.name,
        "spec": spec.to_json(),
        "level": LEVEL,
        "scenario_sha256": hashlib.sha256(scen.encode("utf-8")).hexdigest(),
        "settings": [{"id": s.id, "values": s.values} for s in sets],
        "tasks": [{"id": t.id, "setting": t.setting, "replicate": t.replicate, "seed": t.seed} for t in tasks],
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "backend": backend,
        "versions": _versions(backend),
    }


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (two processes never work on one sweep)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    lock = folder / ".lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise UsageError(f"{folder}: another scorelab sweep is working in this folder") from None
        yield
    finally:
        os.close(fd)


def _default_workers(spec: SweepSpec, n_tasks: int, workers: int | None) -> int:
    """Worker processes: ``workers`` (checked against memory), else as many as there are
    CPUs and tasks, fewer if that many runs at once would not fit in memory."""
    from scorelab import memory
    from scorelab.scenario.loader import load

    peak = max(memory.estimate(load(spec.scenario, s.values)).total for s in settings(spec)[:1000])
    avail = memory.available()
    fit = max(1, int(memory.HEADROOM * avail // max(peak, 1))) if avail is not None else n_tasks
    if workers is not None:
        if workers < 1:
            raise UsageError(f"--workers: must be at least 1, got {workers}")
        if workers > fit and min(workers, n_tasks) > fit:
            raise UsageError(f"--workers {workers}: each run needs up to about {memory.human(peak)} of memory and about "
                             f"{memory.human(avail or 0)} is available: at most {fit} at once; use --workers {fit}")
        return workers
    return max(1, min(os.cpu_count() or 1, n_tasks, fit))


def run_sweep(
    spec: SweepSpec,
    out: str | Path,
    *,
    backend: str = "process",
    workers: int | None = None,
    address: str | None = None,
    retries: int = 2,
    progress: Callable[[Event], None] | None = None,
    command: str = "",
) -> SweepResult:
    """Run every task of ``spec`` and write the sweep folder ``out`` (docs/sweeps.md).

    ``backend``: ``process`` (a local pool of ``workers`` processes, default one per CPU) or
    ``ray`` (the Ray instance of this process, or one started here or joined at
    ``address``; the folder must then be on storage every node sees). A task whose worker
    dies is retried up to ``retries`` times. Running the same sweep again with the same
    ``out`` continues it (complete tasks are skipped); when ``out`` already holds it
    complete, it is returned as is. ``progress`` gets an ``Event`` per finished or lost task."""
    out = Path(out)
    if backend not in BACKENDS:
        raise UsageError(f"--backend: expected one of {', '.join(BACKENDS)}, got {backend!r}")
    if address is not None and backend != "ray":
        raise UsageError("--address: only with --backend ray")
    if retries < 0:
        raise UsageError(f"--retries: must be >= 0, got {retries}")
    if backend == "ray":
        _import_ray()
    tasks = plan_sweep(spec)
    info = _info(spec, tasks, command, backend)
    if out.exists():
        if not out.is_dir():
            raise UsageError(f"{out}: exists and is not a folder")
        old = _read_info(out)
        if old is not None and old.get("status") == "complete" and _plan_key(old) == _plan_key(info):
            done = SweepResult.open(out)
            done.skipped = len(tasks)
            return done
        if any(out.iterdir()):
            raise UsageError(f"{out}: exists and is not empty; choose another --out")
    work = work_path(out)
    resumed = work.is_dir()
    try:
        work.mkdir(parents=True, exist_ok=True)
        (work / "runs").mkdir(exist_ok=True)
        probe = work / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise UsageError(f"{out}: cannot write the sweep there: {e.strerror or e}") from None
    with _locked(work):
        old = _read_info(work) if resumed else None
        if resumed and old is not None and _plan_key(old) != _plan_key(info):
            raise UsageError(f"{out}: an unfinished, different sweep is in {work}; continue it with "
                             f"scorelab sweep --resume {out}, remove that folder, or choose another --out")
        if old is not None:
            info["created"] = old.get("created", info["created"])
        import yaml

        (work / "scenario.yaml").write_text(yaml.safe_dump(spec.scenario, sort_keys=False, allow_unicode=True),
                                            encoding="utf-8")
        _write_json(work / "sweep.json", info)
        runs_dir = work / "runs"
        complete = [t for t in tasks if (runs_dir / t.id / "manifest.json").is_file()]
        todo = [t for t in tasks if t not in complete]
        _lost_attempts(runs_dir)  # markers of an earlier, interrupted call: no attempt of this one
        track = _Tracker(tasks, runs_dir, total=len(tasks), done=len(complete), max_attempts=retries + 1,
                         progress=progress, work=work, out=out)
        t0 = time.perf_counter()
        test_exit = os.environ.get(TEST_EXIT_ENV) or None
        if todo:
            if backend == "ray":
                _run_ray(spec.scenario, todo, track, address, workers, test_exit)
            else:
                _run_process(spec.scenario, todo, track, _default_workers(spec, len(todo), workers), test_exit)
        missing = [t.id for t in tasks if not (runs_dir / t.id / "manifest.json").is_file()]
        if missing:  # pragma: no cover - every backend either finishes a task or raises
            raise UsageError(f"{out}: {len(missing)} task(s) did not finish ({missing[0]}, ...); run again to continue")
        runs = runs_table(tasks, spec.keys, runs_dir)
        summary = summary_table(runs, spec.keys)
        for name, df in (("runs", runs), ("summary", summary)):
            tmp = work / f"{name}.parquet.tmp"
            df.write_parquet(tmp)
            os.replace(tmp, work / f"{name}.parquet")
        info.update(status="complete", finished=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                    wall_seconds=time.perf_counter() - t0, ran=len(todo), skipped=len(complete),
                    retried=sum(track.lost.values()))
        shutil.rmtree(work / _ATTEMPTS, ignore_errors=True)
        for d in runs_dir.glob(".*.partial-*"):
            shutil.rmtree(d, ignore_errors=True)
        _write_json(work / "sweep.json", info)
        (work / ".lock").unlink(missing_ok=True)
        if out.exists():
            out.rmdir()  # empty (checked above)
        os.replace(work, out)
    return SweepResult(path=out, info=info, runs=runs, summary=summary, ran=len(todo), skipped=len(complete),
                       retried=sum(track.lost.values()))


def read_spec(out: str | Path) -> tuple[SweepSpec, dict[str, Any]]:
    """The spec and ``sweep.json`` of the sweep ``out``: the unfinished one in its hidden work
    folder if there is one, else the complete one (UsageError, one line, if neither)."""
    import yaml

    out = Path(out)
    for folder in (work_path(out), out):
        info = _read_info(folder)
        if info is None or not (folder / "scenario.yaml").is_file():
            continue
        if info.get("format_version") != FORMAT_VERSION:
            raise UsageError(f"{folder}: sweep format version {info.get('format_version')} is not readable by this "
                             f"scorelab (reads {FORMAT_VERSION})")
        try:
            data = yaml.safe_load((folder / "scenario.yaml").read_text(encoding="utf-8"))
            return SweepSpec.from_json(info["spec"], data), info
        except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as e:
            raise UsageError(f"{folder}: damaged sweep folder: {type(e).__name__}: {e}") from None
    raise UsageError(f"{out}: no sweep to resume there (neither {work_path(out).name} nor a complete sweep)")


def resume_sweep(out: str | Path, **kw: Any) -> SweepResult:
    """Continue the unfinished sweep whose folder will be ``out`` (keywords as ``run_sweep``);
    a complete one is returned as it is."""
    out = Path(out)
    spec, info = read_spec(out)
    if not work_path(out).is_dir():
        done = SweepResult.open(out)
        done.skipped = len(done.info["tasks"])
        return done
    kw.setdefault("command", info.get("command", ""))
    return run_sweep(spec, out, **kw)
