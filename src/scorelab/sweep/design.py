"""The design of a sweep: what varies (``Axis``), the spec (``SweepSpec``), and the settings
and tasks it expands into.

A grid design is the cartesian product of the axes' values in the order given; a random
design draws ``samples`` settings from ``scorelab.rng.Stream(design_seed, "sweep.design")``,
so a design is reproducible. Every setting shares the replicate seeds (common random
numbers: settings differ by their values, not by their luck); a ``Task`` is one setting with
one seed, and its id names its results folder.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from scorelab.errors import ScenarioError, UsageError
from scorelab.scenario.loader import load, override_value
from scorelab.scenario.model import Scenario, harms, observes_firms
from scorelab.vocabulary import (
    AUDIO_FIGURES, CLASSROOM_FIGURES, FINE_FIGURES, FIRM_DETERRENCE_FIGURES, FIRM_FIGURES, FIRM_LIST_FIGURES, FIRM_RECORD_FIGURES,
    FIRM_RED_LIST_FIGURES, FIRM_REWARD_FIGURES,
    HEADLINE_FIGURES, IDENTIFICATION_FIGURES, LINKED_FIGURES, RED_LIST_FIGURES, grade_share,
)

DESIGNS = ("grid", "random")
#: The most runs (settings x replicates) a design may have: each run is a results folder and a
#: row of ``sweep.json``, and a design is expanded in memory before anything runs, so a larger
#: one is refused at once rather than exhausting memory (docs/sweeps.md).
MAX_RUNS = 100_000
#: Columns of ``runs.parquet`` that identify a task (a varied key may not take their names).
ID_COLUMNS = ("task", "setting", "replicate", "seed")
#: Columns of ``runs.parquet`` that measure time, not results: leave them out when comparing sweeps.
TIMING_COLUMNS = ("wall_seconds",)
_RANGE = re.compile(r"^\s*(.+?)\s*\.\.\s*(.+?)\s*$")


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
        return f"{self.key}=" + ",".join(format_setting(v) for v in self.values)

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


def _parse_value(raw: str) -> Any:
    """One value read exactly as ``--set key=value`` reads it (YAML scalars)."""
    return _json_value(override_value(raw))


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
        lo, hi = _parse_value(m.group(1)), _parse_value(m.group(2))
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
    values = tuple(_parse_value(p) for p in parts)
    seen: list[Any] = []
    for v in values:
        if v in seen and type(v) is type(seen[seen.index(v)]):
            raise UsageError(f"--vary {text}: {key}: the value {format_setting(v)} is given twice")
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
        if len(seeds) > MAX_RUNS:
            raise UsageError(f"--seeds: {len(seeds):,} seeds; a sweep may have at most {MAX_RUNS:,} runs "
                             f"(settings x replicates; docs/sweeps.md)")
        bad = [s for s in seeds if not 0 <= s < 2**64]
        if bad:
            raise UsageError(f"--seeds: seeds must be in [0, 2**64), got {bad[0]}")
        seen: set[int] = set()
        for s in seeds:
            if s in seen:
                raise UsageError(f"--seeds: the seed {s} is given twice")
            seen.add(s)
        if replicates is not None and replicates != len(seeds):
            raise UsageError(f"--replicates {replicates} disagrees with the {len(seeds)} seeds of --seeds; give one of them")
        return tuple(seeds)
    n = 1 if replicates is None else int(replicates)
    if n < 1:
        raise UsageError(f"--replicates: must be at least 1, got {n}")
    if n > MAX_RUNS:
        raise UsageError(f"--replicates {n}: a sweep may have at most {MAX_RUNS:,} runs (settings x replicates; "
                         f"docs/sweeps.md)")
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
        return ", ".join([*(f"{k}={format_setting(v)}" for k, v in self.values.items()), f"seed {self.seed}"])


def format_setting(v: Any) -> str:
    """A varied value as text: strings as they are, everything else as JSON."""
    return v if isinstance(v, str) else json.dumps(v)


def make_spec(
    scenario: Scenario | Any,
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
    check_size(spec)  # (settings() checks it too, before expanding a design)
    validate(spec)
    return spec


def design_size(spec: SweepSpec) -> int:
    """The number of runs of ``spec`` (settings x replicate seeds), without expanding it."""
    n_settings = math.prod(len(a.values) for a in spec.axes) if spec.design == "grid" else int(spec.samples or 0)
    return n_settings * max(1, len(spec.seeds))


def check_size(spec: SweepSpec) -> None:
    """A UsageError (one line) if ``spec`` has more than ``MAX_RUNS`` runs: refused before
    its settings and tasks are expanded in memory."""
    n = design_size(spec)
    if n > MAX_RUNS:
        what = f"--samples {spec.samples}" if spec.design == "random" else \
            "--vary: " + " x ".join(str(len(a.values)) for a in spec.axes) + " values"
        raise UsageError(f"{what} x {len(spec.seeds)} replicate(s) = {n:,} runs: a sweep may have at most "
                         f"{MAX_RUNS:,} runs (docs/sweeps.md)")


def headline_figures(scenario: dict[str, Any]) -> list[str]:
    """The numeric headline figures (``metrics.headline``) of runs of a scenario (data as
    ``model_dump``): the fixed ones, those of the parts the scenario has (records, sanctions and
    rewards of firms, face identification, in-car audio, red lists, consequences through parents
    or employer, fines on people, classroom monitoring), then one share per grade."""
    def items(section: str) -> list[dict[str, Any]]:
        value = scenario.get(section) or {}
        return [v for v in (value.values() if isinstance(value, dict) else value) if isinstance(v, dict)]

    channels, lists, consequences = items("channels"), items("lists"), items("consequences")
    behaviours = items("behaviours")

    def sanction(k: dict[str, Any]) -> bool:
        return harms(str(k.get("kind")), float(k.get("income_change") or 0), float(k.get("points") or 0))

    parts = [
        (observes_firms(scenario), FIRM_RECORD_FIGURES),
        (any(b.get("actor") == "firm" and b.get("kind", "wrongdoing") == "wrongdoing" for b in behaviours),
         FIRM_DETERRENCE_FIGURES),
        (any(k.get("actor") == "firm" and sanction(k) for k in consequences), FIRM_FIGURES),
        (any(k.get("actor") == "firm" and not sanction(k) for k in consequences), FIRM_REWARD_FIGURES),
        (any(li.get("actor") == "firm" and li.get("kind", "black") != "red" for li in lists), FIRM_LIST_FIGURES),
        (any(c.get("identification") for c in channels), IDENTIFICATION_FIGURES),
        (any(c.get("audio") for c in channels), AUDIO_FIGURES),
        (any(li.get("kind") == "red" for li in lists), RED_LIST_FIGURES),
        (any(li.get("kind") == "red" and li.get("actor") == "firm" for li in lists), FIRM_RED_LIST_FIGURES),
        (any(k.get("through", "self") != "self" for k in consequences), LINKED_FIGURES),
        (any(k.get("kind") == "fine" and k.get("actor", "person") == "person" for k in consequences), FINE_FIGURES),
        (any(c.get("classroom") for c in channels), CLASSROOM_FIGURES),
    ]
    grades = [g.get("name") for g in scenario.get("grades") or [] if isinstance(g, dict)]
    return [*HEADLINE_FIGURES, *(f for has, figures in parts if has for f in figures), *(grade_share(g) for g in grades)]


def validate(spec: SweepSpec) -> None:
    """Load every setting's scenario (and both ends of every range); the first problem is
    raised as UsageError naming ``--vary``, the key and the value, and the field."""
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
            raise UsageError(f"--vary {key}={format_setting(values[key])}: {field_}: {p.message}") from None


def _ids(n: int, prefix: str) -> list[str]:
    width = max(3, len(str(n - 1)))
    return [f"{prefix}{i:0{width}d}" for i in range(n)]


def settings(spec: SweepSpec) -> list[Setting]:
    """The design's settings, in order: the grid's combinations (the first key varies
    slowest), or the random design's ``samples`` draws (counter-based: draw i of key j is
    ``Stream(design_seed, "sweep.design")`` at entity i, slot j). A design of more than
    ``MAX_RUNS`` runs is refused (UsageError) before anything is expanded."""
    check_size(spec)
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

