"""Calibration: fit chosen scenario parameters to published aggregates.

A **targets file** (YAML, docs/calibration.md) names the parameters to fit (dotted
scenario paths, the keys ``--set`` accepts, each with a range or a list of choices) and
the published aggregates to fit them to: one number per metric and date (``at``) or per
window (``total``/``mean``), with an uncertainty and a source. Targets are aggregates
only: a number per date or window of a per-step metric column, never per-person rows.

``calibrate`` runs Optuna's TPE sampler with a fixed seed, one trial after another in this
process; each trial runs the scenario (``scorelab.run``, no results folder) once per
replicate seed and scores the mean of the replicates with the chi-square
``sum_i ((simulated_i - target_i) / sd_i)^2``. The result (``Calibration``) holds the
fitted values, the per-target fit, goodness-of-fit statistics and every trial; with
``out`` it is written atomically as a calibration folder (``calibration.json``,
``trials.parquet``, ``fit.parquet``, ``fitted.yaml``).

Targets-file problems are reported like scenario problems, all at once, one line each:
``targets.yaml:line:col: field.path: message`` (``TargetsError``, a ``ScenarioError``).
"""

from __future__ import annotations

import datetime as _dt
import difflib
import json
import math
import platform
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from scorelab.errors import Problem, ScenarioError, UsageError
from scorelab.scenario import loader as _loader
from scorelab.scenario.base import _date

if TYPE_CHECKING:
    import polars as pl

    from scorelab.scenario.model import Scenario

FORMAT_NAME = "scorelab-calibration"
#: Version of the calibration-folder layout; bumped when files or fields change meaning.
FORMAT_VERSION = 1
#: Columns of a metrics frame that are not metrics.
_NOT_METRICS = ("run_id", "seed", "step", "day")
_AGGREGATES_ONLY = "targets are aggregates (one number per date or window), never per-person rows"

__all__ = [
    "OFF_Z", "Calibration", "Evaluation", "Parameter", "RunSpec", "Target", "Targets", "TargetsError", "TargetsFile",
    "TrialRecord", "builtin_targets", "calibrate", "check", "chi_square_sf", "evaluate", "metric_names",
    "read_targets", "run_settings", "verdict",
]


class TargetsError(ScenarioError):
    """A targets file could not be read or does not fit the scenario; ``problems`` lists
    every problem, each located in the targets file."""


# --------------------------------------------------------------------------- the targets file


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


def _day_or_date(value: Any) -> int | _dt.date:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    try:
        return _date(value)
    except ValueError:
        raise ValueError(f"must be a date like 2018-12-31 or a day number from the run start (0, 1, ...), "
                         f"got {value!r}") from None


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"must be one finite number, got {_short(value)}")
    return float(value)


def _aggregate(value: Any) -> float:
    if isinstance(value, (list, dict)):
        raise ValueError(f"must be one number, got {type(value).__name__} {_short(value)}: {_AGGREGATES_ONLY}")
    return _number(value)


def _positive(value: Any) -> float:
    v = _number(value)
    if v <= 0:
        raise ValueError(f"must be a number > 0, got {value!r}")
    return v


def _sd(value: Any) -> float | str:
    if value == "poisson":
        return "poisson"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"must be a number > 0 (in the units of value) or 'poisson', got {_short(value)}")
    return float(value)


def _window(value: Any) -> Any:
    if value == "all":
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"must be 'all' or a window {{from: DATE, to: DATE}}, got {_short(value)}")
    return value


def _scale(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {"factor": value}
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


DayOrDate = Annotated[int | _dt.date, BeforeValidator(_day_or_date)]
Number = Annotated[float, BeforeValidator(_number)]


class Window(_Strict):
    """Days ``from`` .. ``to`` inclusive (dates, or day numbers from the run start);
    either end may be left out (the run's first or last day)."""

    from_: DayOrDate | None = Field(None, alias="from", description="first day (default: the run's first day)")
    to: DayOrDate | None = Field(None, description="last day, inclusive (default: the run's last day)")


WindowField = Annotated[Window, BeforeValidator(_window)]


class Parameter(_Strict):
    """A scenario field to fit: a range (``low``..``high``, optionally on a log scale, whole
    numbers, with a unit) or a list of ``choices``."""

    low: Number | None = Field(None, description="lowest value tried")
    high: Number | None = Field(None, description="highest value tried; must be > low")
    log: bool = Field(False, description="sample on a log scale (low must be > 0)")
    integer: bool = Field(False, description="whole numbers only")
    unit: str | None = Field(None, description="unit appended to the value, e.g. 'per year' for a rate, 'days'")
    choices: list[str | int | float | bool] | None = Field(None, description="values to choose from instead of a range")

    @model_validator(mode="before")
    @classmethod
    def _list_is_choices(cls, value: Any) -> Any:
        return {"choices": value} if isinstance(value, list) else value

    @field_validator("high")
    @classmethod
    def _above_low(cls, v: float | None, info: Any) -> float | None:
        low = info.data.get("low")
        if v is not None and low is not None and not v > low:
            raise ValueError(f"must be > low ({low:g}), got {v:g}")
        return v

    @field_validator("choices")
    @classmethod
    def _some_choices(cls, v: list[Any] | None) -> list[Any] | None:
        if v is not None and len(v) < 2:
            raise ValueError(f"give at least two choices, got {len(v)}")
        return v

    @model_validator(mode="after")
    def _range_or_choices(self) -> "Parameter":
        if self.choices is not None:
            if self.low is not None or self.high is not None or self.log or self.integer or self.unit is not None:
                raise ValueError("give either choices or a range (low, high, log, integer, unit), not both")
            return self
        if self.low is None or self.high is None:
            raise ValueError("give a range {low: X, high: Y} (optionally log, integer, unit) or a list of choices")
        if self.log and self.low <= 0:
            raise ValueError(f"a log range needs low > 0, got {self.low:g}")
        if self.integer and not (float(self.low).is_integer() and float(self.high).is_integer()):
            raise ValueError("an integer range needs whole-number low and high")
        return self

    @property
    def kind(self) -> str:
        return "choices" if self.choices is not None else "int" if self.integer else "float"


class Target(_Strict):
    """One published aggregate: a metric's value at a date, or its total or mean over a window."""

    name: str | None = Field(None, description="label in tables (default: metric and date/window)")
    metric: str = Field(description="a per-step metric column, e.g. lists.court_blacklist.entries")
    at: DayOrDate | None = Field(None, description="the value at the end of the step holding this date or day")
    total: WindowField | None = Field(None, description="the sum over the steps of a window ('all': the whole run)")
    mean: WindowField | None = Field(None, description="the mean over the steps of a window ('all': the whole run)")
    value: Annotated[float, BeforeValidator(_aggregate)] = Field(description="the published figure")
    sd: Annotated[float | str, BeforeValidator(_sd)] | None = Field(
        None, description="its standard deviation, in the units of value, or 'poisson' (sqrt of the scaled value)")
    tolerance: Annotated[float, BeforeValidator(_positive)] | None = Field(
        None, description="a relative standard deviation (0.1 = 10% of value); with sd, the two add in quadrature")
    scaled: bool = Field(True, description="multiply value and sd by the file's scale factor")
    source: str = Field(description="where the figure was published")

    @field_validator("source")
    @classmethod
    def _cited(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("name where the figure was published")
        return v

    @model_validator(mode="after")
    def _one_of_each(self) -> "Target":
        given = [k for k in ("at", "total", "mean") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of at, total, mean (got {', '.join(given) or 'none'})")
        if self.sd is None and self.tolerance is None:
            raise ValueError("give sd, tolerance, or both (they add in quadrature)")
        return self

    @property
    def how(self) -> str:
        """``at``, ``total`` or ``mean``."""
        return "at" if self.at is not None else "total" if self.total is not None else "mean"


class Scale(_Strict):
    """How the published figures compare with the simulated population: an explicit
    ``factor``, or the ``population`` the figures describe (factor = simulated people / it)."""

    factor: Annotated[float, BeforeValidator(_positive)] | None = None
    population: Annotated[float, BeforeValidator(_positive)] | None = None

    @model_validator(mode="after")
    def _one(self) -> "Scale":
        if (self.factor is None) == (self.population is None):
            raise ValueError("give a number (the factor) or exactly one of factor, population")
        return self


class RunSpec(_Strict):
    """How the scenario is run for these targets when the command (or the caller) does not say:
    its ``--scale`` and ``run.days``."""

    scale: Annotated[float, BeforeValidator(_positive)] | None = Field(
        None, description="the --scale the scenario runs at (a share of its population.people); --scale overrides")
    days: Annotated[int, Field(ge=1)] | None = Field(
        None, description="run.days (the targets' dates need no more); --days and --set run.days override")


def _at_least_one(v: Any) -> Any:
    if isinstance(v, (dict, list)) and not v:
        raise ValueError("give at least one")
    return v


class TargetsFile(_Strict):
    """The root of a targets file."""

    description: str | None = None
    scale: Annotated[Scale, BeforeValidator(_scale)] | None = Field(
        None, description="scale of the published figures to the simulated population (default: "
                          "population.people / population.represents)")
    run: RunSpec | None = Field(None, description="the --scale and run.days the scenario runs at unless told")
    parameters: Annotated[dict[str, Parameter], BeforeValidator(_at_least_one)] = Field(
        description="scenario field path -> range or choices")
    targets: Annotated[list[Target], BeforeValidator(_at_least_one)] = Field(description="published aggregates")
    trials: Annotated[int, Field(ge=1)] = Field(40, description="optimiser trials")
    replicates: Annotated[int, Field(ge=1)] = Field(1, description="runs per trial (seeds run.seed + 0, 1, ...)")
    seed: Annotated[int, Field(ge=0)] = Field(0, description="seed of the optimiser")


@dataclass
class Targets:
    """A validated targets file with the position of every value (for located errors)."""

    spec: TargetsFile
    label: str
    doc: Any = field(repr=False, default=None)
    data: Any = field(repr=False, default=None)

    def problem(self, loc: tuple[str | int, ...], message: str, key: bool = False) -> Problem:
        return _loader._locate(self.label, self.doc or _loader._Doc(), loc, message, key=key)


#: the built-in scenarios' targets files: the published outcome figures each one reproduces
TARGETS_DIR = _loader.PRESET_DIR / "targets"


def builtin_targets(name: str) -> Path | None:
    """The targets file of a built-in scenario (``presets/targets/<name>.yaml``), or None."""
    path = TARGETS_DIR / f"{name}.yaml"
    return path if "/" not in name and _loader._is_file(path) else None


def read_targets(source: "str | Path | Mapping[str, Any] | Targets | TargetsFile") -> Targets:
    """Read and validate a targets file (or plain data); a name that is no file, such as
    ``national-2027``, reads that built-in scenario's targets file. Raises TargetsError with
    every problem, each as ``file:line:col: field.path: message``."""
    if isinstance(source, Targets):
        return source
    if isinstance(source, TargetsFile):
        return Targets(source, "<targets>")
    problems: list[Problem] = []
    if isinstance(source, Mapping):
        label, data, doc = "<targets>", dict(source), _loader._Doc()
    else:
        label = str(source)
        path = Path(label)
        builtin = None if _loader._is_file(path) or path.suffix in (".yaml", ".yml") else builtin_targets(label)
        if builtin is not None:
            label, path = str(builtin), builtin
        try:
            raw = path.read_bytes()
        except OSError as e:
            hint = ""
            if not path.suffix and "/" not in label:
                names = sorted(p.stem for p in TARGETS_DIR.glob("*.yaml"))
                hint = f"; built-in scenarios with targets: {', '.join(names)}"
            raise TargetsError([Problem(label, None, None, "", f"cannot read: {e.strerror or e}{hint}")]) from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            line, col = _loader._line_col(raw[: e.start].decode("utf-8"), e.start)
            msg = f"invalid YAML: not UTF-8 text (byte {raw[e.start]:#04x})"
            raise TargetsError([Problem(label, line, col, "", msg)]) from None
        data, doc = _loader._read_yaml(label, text, problems)
        if problems:
            raise TargetsError(problems)
    if not isinstance(data, dict):
        kind = "null" if data is None else type(data).__name__
        raise TargetsError([Problem(label, 1, 1, "", f"a targets file must be a mapping (parameters, targets, ...), got {kind}")])
    try:
        spec = TargetsFile.model_validate(data)
    except ValidationError as e:
        found = {_problem(err, label, doc, data) for err in e.errors()}
        raise TargetsError(sorted(found, key=_loader._order)) from None
    return Targets(spec, label, doc, data)


def _problem(err: Any, label: str, doc: Any, data: Any) -> Problem:
    """A pydantic error as a located problem; unknown fields get a suggestion from the targets
    models, and under ``targets`` a reminder that targets are aggregates."""
    def note(parent: Any) -> str:
        return f" ({_AGGREGATES_ONLY})" if tuple(parent[:1]) == ("targets",) else ""

    return _loader._problem_from_pydantic(err, label, doc, data, model=TargetsFile, unknown_note=note)


# --------------------------------------------------------------------------- targets against a scenario


@dataclass(frozen=True)
class _Param:
    path: str
    spec: Parameter
    baseline: Any  # the scenario's own value in the parameter's unit (None when unknown or out of range)

    def distribution(self) -> Any:
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        s = self.spec
        if s.choices is not None:
            return CategoricalDistribution(s.choices)
        if s.integer:
            return IntDistribution(int(s.low), int(s.high), log=s.log)  # type: ignore[arg-type]
        return FloatDistribution(s.low, s.high, log=s.log)  # type: ignore[arg-type]

    def override(self, value: Any) -> Any:
        """The value as the scenario reads it (with the unit, if any)."""
        if self.spec.unit is not None:
            return f"{_fmt(value, 10)} {self.spec.unit}"  # the precision scenario files are written with
        if self.spec.integer:
            return int(value)
        return value

    def shown(self, value: Any) -> str:
        if value is None:
            return ""
        if self.spec.unit is not None:
            return f"{_fmt(value, 4)} {self.spec.unit}"
        return _fmt(value, 4) if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class _Goal:
    index: int
    name: str
    target: Target
    value: float  # scaled
    sd: float  # scaled
    first: int  # steps first..last (inclusive)
    last: int
    window: str  # human-readable: "at 2018-12-31", "total 2018-01-01..2018-12-31"

    def compute(self, metrics: "pl.DataFrame") -> float:
        col = metrics.get_column(self.target.metric).to_numpy()
        if self.target.how == "at":
            return float(col[self.last])
        part = col[self.first: self.last + 1]
        return float(part.sum() if self.target.how == "total" else part.mean())


def _fmt(x: Any, digits: int = 10) -> str:
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    return str(x)


def _walk(data: Any, path: str) -> tuple[bool, Any, str, list[str]]:
    """Follow a dotted path in plain data: (found, value, the part that failed, its siblings)."""
    node = data
    for part in path.split("."):
        if isinstance(node, dict):
            if part not in node:
                return False, None, part, [str(k) for k in node]
            node = node[part]
        elif isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                return False, None, part, [str(i) for i in range(len(node))]
            node = node[int(part)]
        else:
            return False, None, part, []
    return True, node, "", []


def metric_names(scenario: "Scenario") -> list[str]:
    """The metric columns a run of this scenario has (from a run of at most 100 people and no days)."""
    import scorelab

    small = {"population.people": min(scenario.population.people, 100), "run.days": 0}
    cols = scorelab.run(scenario, small, check_memory=False).metrics.columns
    return [c for c in cols if c not in _NOT_METRICS]


def _scale_factor(spec: TargetsFile, scenario: "Scenario") -> tuple[float, str]:
    s = spec.scale
    if s is None:  # the population the scenario's own counts describe (docs/scale.md)
        pop = scenario.population
        if pop.represents is None:
            return 1.0, "none (figures compared as published; the scenario names no population.represents)"
        how = f"{pop.people:,} simulated people / {pop.represents:,} people the scenario describes (population.represents)"
        return pop.scale, how
    if s.factor is not None:
        return s.factor, f"explicit factor {s.factor:.6g}"
    people = scenario.population.people
    how = f"{people:,} simulated people / {s.population:,.0f} people the figures describe"
    return people / s.population, how  # type: ignore[operator]


def _resolve(targets: Targets, scenario: "Scenario", names: list[str]) -> tuple[list[_Param], list[_Goal], float, str]:
    """Check a targets file against a scenario and its metric names; every problem is located
    in the targets file."""
    from scorelab.scenario.loader import load

    spec = targets.spec
    problems: list[Problem] = []
    data = scenario.model_dump(mode="json", by_alias=True)
    values = scenario.model_dump(mode="python", by_alias=True)
    params: list[_Param] = []
    for path, p in spec.parameters.items():
        loc: tuple[str | int, ...] = ("parameters", path)
        found, current, bad, siblings = _walk(data, path)
        if not found:
            close = difflib.get_close_matches(bad, siblings, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            if not close and siblings:
                hint = f"; expected one of: {', '.join(siblings[:12])}"
            problems.append(targets.problem(loc, f"unknown parameter: the scenario has no field {bad!r} here{hint}", key=True))
            continue
        if isinstance(current, (dict, list)):
            problems.append(targets.problem(loc, "is a section, not a value: name one field inside it", key=True))
            continue
        tried: list[tuple[str, int | None, Any]] = [("low", None, p.low), ("high", None, p.high)]
        if p.choices is not None:
            tried = [("choices", i, c) for i, c in enumerate(p.choices)]
        ok = True
        for what, i, v in tried:
            probe = _Param(path, p, None)
            try:
                load(data, {path: probe.override(v)})
            except ScenarioError as e:
                ok = False
                first = e.problems[0]
                where = loc + (what,) + ((i,) if i is not None else ())
                hint = "; give the parameter a unit, e.g. unit: per year" if "needs a unit" in first.message else ""
                problems.append(targets.problem(where, f"{_fmt(v)} is not a valid value for {path}: {first.message}{hint}"))
        if not ok:
            continue
        params.append(_Param(path, p, _baseline(p, path, data, values)))
    by_name = set(names)
    start, step, days = scenario.run.start, scenario.run.step, scenario.run.days
    n_steps = int(math.ceil(days / step))
    last_day = start + _dt.timedelta(days=max(days - 1, 0))
    span = f"the run covers {start} .. {last_day} (run.days {days})"
    factor, how = _scale_factor(spec, scenario)
    goals: list[_Goal] = []
    for i, t in enumerate(spec.targets):
        loc = ("targets", i)
        if t.metric not in by_name:
            close = difflib.get_close_matches(t.metric, names, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else "; see docs/results.md for the metric columns"
            problems.append(targets.problem(loc + ("metric",), f"unknown metric {t.metric!r}{hint}"))
            continue

        def day_of(v: int | _dt.date | None, default: int, where: tuple[str | int, ...]) -> int | None:
            if v is None:
                return default
            d = v if isinstance(v, int) else (v - start).days
            shown = f"day {v}" if isinstance(v, int) else str(v)
            if d < 0:
                problems.append(targets.problem(where, f"{shown} is before the run starts; {span}"))
                return None
            if d >= days:
                problems.append(targets.problem(where, f"{shown} is after the last simulated day; {span}"))
                return None
            return d

        if t.how == "at":
            d = day_of(t.at, 0, loc + ("at",))
            if d is None:
                continue
            first = last = min(int(d // step), n_steps - 1)
            window = f"at {_show_day(t.at, start)}"
        else:
            w: Window = getattr(t, t.how)
            a = day_of(w.from_, 0, loc + (t.how, "from"))
            b = day_of(w.to, days - 1, loc + (t.how, "to"))
            if a is None or b is None:
                continue
            if b < a:
                problems.append(targets.problem(loc + (t.how, "to"), "the window ends before it starts"))
                continue
            first, last = min(int(a // step), n_steps - 1), min(int(b // step), n_steps - 1)
            window = f"{t.how} {start + _dt.timedelta(days=a)}..{start + _dt.timedelta(days=b)}"
        f = factor if t.scaled else 1.0
        value = t.value * f
        sd = math.hypot(_absolute_sd(t, value, f), float(t.tolerance or 0.0) * abs(value))
        if not sd > 0:
            msg = "a relative tolerance of a zero value is zero: give sd instead"
            problems.append(targets.problem(loc + ("tolerance",), msg))
            continue
        goals.append(_Goal(i, t.name or f"{t.metric} {window}", t, value, sd, first, last, window))
    if days <= 0 and not problems:
        problems.append(Problem(targets.label, None, None, "", "the scenario runs no days (run.days 0): nothing to fit"))
    if problems:
        raise TargetsError(sorted(set(problems), key=_loader._order))
    seen: dict[str, int] = {}
    for g in goals:  # names label columns: keep them unique
        seen[g.name] = seen.get(g.name, 0) + 1
    if any(n > 1 for n in seen.values()):
        goals = [_Goal(g.index, f"{g.name} #{g.index}" if seen[g.name] > 1 else g.name, *_rest(g)) for g in goals]
    return params, goals, factor, how


def _absolute_sd(t: Target, value: float, factor: float) -> float:
    """The part of a target's sd given as ``sd`` (0 without one), scaled like its value."""
    if t.sd == "poisson":
        return math.sqrt(max(abs(value), 1.0))
    return 0.0 if t.sd is None else float(t.sd) * factor


def _rest(g: _Goal) -> tuple[Any, ...]:
    return (g.target, g.value, g.sd, g.first, g.last, g.window)


def _show_day(v: Any, start: _dt.date) -> str:
    return str(start + _dt.timedelta(days=v)) if isinstance(v, int) else str(v)


def _baseline(p: Parameter, path: str, data: dict[str, Any], values: dict[str, Any]) -> Any:
    """The scenario's own value of a parameter, in the parameter's unit; None if outside the range."""
    from scorelab.scenario.loader import load

    found, current, _, _ = _walk(values, path)
    if not found:
        return None
    if p.choices is not None:
        shown = _walk(data, path)[1]
        return shown if shown in p.choices else None
    if isinstance(current, bool) or not isinstance(current, (int, float)):
        return None
    x = float(current)
    if p.unit is not None:
        try:
            one = _walk(load(data, {path: f"1 {p.unit}"}).model_dump(mode="python", by_alias=True), path)[1]
        except ScenarioError:
            return None
        if not isinstance(one, (int, float)) or one == 0:
            return None
        x = float(f"{x / float(one):.12g}")  # undo the unit conversion's rounding (0.004 per year, not 0.0040000000000000001)
    if p.integer:
        if not x.is_integer():
            return None
        x = int(x)
    return x if p.low <= x <= p.high else None  # type: ignore[operator]


# --------------------------------------------------------------------------- statistics


def chi_square_sf(x: float, dof: int) -> float:
    """P(X >= x) for X chi-square with ``dof`` degrees of freedom."""
    if dof < 1:
        raise ValueError("dof must be >= 1")
    from scipy.stats import chi2

    return float(chi2.sf(x, dof))


# --------------------------------------------------------------------------- calibration


@dataclass
class TrialRecord:
    """One optimiser trial (numbered from 1): parameter values, the simulated target values (means over
    replicates), their chi-square, and how long it took."""

    number: int
    params: dict[str, Any]
    loss: float | None
    simulated: list[float]
    simulated_sd: list[float | None]
    seconds: float
    state: str = "complete"  # or "failed"
    error: str | None = None
    baseline: bool = False


@dataclass
class Calibration:
    """The outcome of ``calibrate``: fitted values, the fit to each target, goodness of fit
    and every trial. ``path`` is the calibration folder when one was written."""

    fitted: dict[str, Any]
    overrides: dict[str, Any]
    best_trial: int
    loss: float
    statistics: dict[str, Any]
    fit: "pl.DataFrame"
    trials: "pl.DataFrame"
    parameters: dict[str, dict[str, Any]]
    scenario: "Scenario"
    info: dict[str, Any]
    path: Path | None = None

    def summary(self) -> dict[str, Any]:
        """Fitted values and the goodness-of-fit figures, as one flat dict."""
        out: dict[str, Any] = {f"fitted {k}": self.parameters[k]["fitted_shown"] for k in self.fitted}
        out.update(self.statistics)
        return out

    def __repr__(self) -> str:
        vals = ", ".join(f"{k}={self.parameters[k]['fitted_shown']}" for k in self.fitted)
        return f"Calibration({vals}; chi_square={self.loss:.4g}, trials={self.trials.height})"


def run_settings(spec: TargetsFile, scale: float | None = None,
                 sets: Mapping[str, Any] | None = None) -> tuple[float | None, dict[str, Any]]:
    """The ``--scale`` and the overrides a run for these targets uses: the targets file's ``run``
    section (its scale, and its days as ``run.days``) unless ``scale`` or ``sets`` say otherwise."""
    run = spec.run or RunSpec()
    overrides = dict(sets or {})
    if run.days is not None and "run.days" not in overrides:
        overrides["run.days"] = run.days
    return (scale if scale is not None else run.scale), overrides


def _prepare(scenario: Any, targets: Any, sets: Mapping[str, Any] | None, scale: float | None = None,
             fitting: bool = True) -> tuple[Any, ...]:
    from scorelab.scenario.loader import load
    from scorelab.scenario.model import Scenario as _Scenario

    tg = read_targets(targets)
    both = sorted(set(sets or ()) & set(tg.spec.parameters))
    if both and fitting:
        raise UsageError(f"--set {both[0]}: this field is a calibrated parameter; leave it to the targets file")
    if isinstance(scenario, _Scenario):  # taken as it is: its size and days are the caller's
        if scale is not None:
            raise UsageError("scale: give a scenario name, file or mapping to scale; a Scenario runs at its own size")
        base = scenario
        if sets:
            base = load(base.model_dump(mode="json", by_alias=True), dict(sets))
    else:
        factor, overrides = run_settings(tg.spec, scale, sets)
        base = load(scenario, overrides or None, factor)
    params, goals, factor, how = _resolve(tg, base, metric_names(base))
    return base, tg, params, goals, factor, how


def check(
    scenario: "Scenario | str | Path | Mapping[str, Any]",
    targets: "str | Path | Mapping[str, Any] | Targets | TargetsFile",
    *,
    sets: Mapping[str, Any] | None = None,
    scale: float | None = None,
) -> dict[str, Any]:
    """Check a targets file against a scenario without running any trial: parameter paths
    and ranges, metric names, dates and windows, scale. Returns what would be fitted (the
    parameters, each target's window and scaled value and sd, the scale factor); raises
    TargetsError with every problem located in the targets file. A scenario given by name,
    file or mapping is loaded as the targets file's ``run`` section says (``scale`` and
    ``sets`` override it)."""
    base, tg, params, goals, factor, how = _prepare(scenario, targets, sets, scale)
    return {
        "targets_file": tg.label,
        "scenario": base.name,
        "people": base.population.people,
        "days": base.run.days,
        "scale": {"factor": factor, "how": how},
        "parameters": {p.path: {"kind": p.spec.kind, "baseline": p.baseline} for p in params},
        "targets": [{"name": g.name, "metric": g.target.metric, "window": g.window, "value": g.value, "sd": g.sd}
                    for g in goals],
    }


def calibrate(
    scenario: "Scenario | str | Path | Mapping[str, Any]",
    targets: "str | Path | Mapping[str, Any] | Targets | TargetsFile",
    *,
    trials: int | None = None,
    replicates: int | None = None,
    seed: int | None = None,
    sets: Mapping[str, Any] | None = None,
    out: str | Path | None = None,
    progress: Callable[[TrialRecord, TrialRecord | None, int], None] | None = None,
    command: str | None = None,
    scale: float | None = None,
) -> Calibration:
    """Fit the targets file's parameters of ``scenario`` to its targets.

    ``scenario``: a Scenario (run as it is) or anything ``scorelab.load`` accepts (loaded at
    the targets file's ``run.scale`` and ``run.days``; ``scale`` and a ``run.days`` in ``sets``
    override them); ``sets`` are dotted overrides applied first (as ``--set``). ``trials``,
    ``replicates`` and ``seed`` (of the optimiser) override the targets file's. Replicate r of every trial runs with
    ``run.seed + r``, so trials differ only by their parameters. With ``out`` a calibration
    folder is written there atomically. ``progress(trial, best, n_trials)`` is called after
    each trial. Raises TargetsError (located problems of the targets file), ScenarioError or
    UsageError.
    """
    import optuna

    from scorelab.results import commit, prepare

    t0 = time.perf_counter()
    base, tg, params, goals, factor, scale_how = _prepare(scenario, targets, sets, scale)
    spec = tg.spec
    n_trials = spec.trials if trials is None else trials
    n_reps = spec.replicates if replicates is None else replicates
    opt_seed = spec.seed if seed is None else seed
    for what, v, lo in (("trials", n_trials, 1), ("replicates", n_reps, 1), ("seed", opt_seed, 0)):
        if v < lo:
            raise UsageError(f"--{what}: must be >= {lo}, got {v}")
    seeds = [base.run.seed + r for r in range(n_reps)]
    final = Path(out) if out is not None else None
    staging = prepare(final) if final is not None else None
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        sampler = optuna.samplers.TPESampler(seed=opt_seed, n_startup_trials=max(2, min(10, n_trials // 4)))
        study = optuna.create_study(direction="minimize", sampler=sampler)
        dists = {p.path: p.distribution() for p in params}
        baseline = {p.path: p.baseline for p in params}
        has_baseline = all(v is not None for v in baseline.values())
        if has_baseline:
            study.enqueue_trial(baseline)
        records: list[TrialRecord] = []
        best: TrialRecord | None = None
        for n in range(n_trials):
            trial = study.ask(dists)
            values = dict(trial.params)
            overrides = {p.path: p.override(values[p.path]) for p in params}
            t1 = time.perf_counter()
            try:
                sims = _simulate(base, goals, overrides, seeds)
            except ScenarioError as e:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                rec = TrialRecord(n + 1, values, None, [math.nan] * len(goals), [None] * len(goals),
                                  time.perf_counter() - t1, "failed", "; ".join(p.message for p in e.problems))
            else:
                means = [math.fsum(col) / len(col) for col in zip(*sims, strict=True)]
                sds = [_sd_of(col) for col in zip(*sims, strict=True)]
                loss = math.fsum(((m - g.value) / g.sd) ** 2 for m, g in zip(means, goals, strict=True))
                if math.isfinite(loss):
                    study.tell(trial, loss)
                    rec = TrialRecord(n + 1, values, loss, means, sds, time.perf_counter() - t1)
                else:
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                    rec = TrialRecord(n + 1, values, None, means, sds, time.perf_counter() - t1, "failed",
                                      "a simulated value is not a number")
            rec.baseline = has_baseline and n == 0
            records.append(rec)
            if rec.loss is not None and (best is None or rec.loss < best.loss):  # type: ignore[operator]
                best = rec
            if progress is not None:
                progress(rec, best, n_trials)
        if best is None:
            raise UsageError(f"every trial failed; the first: {records[0].error}")
        result = _result(base, tg, params, goals, records, best, factor, scale_how,
                         {"trials": n_trials, "replicates": n_reps, "seed": opt_seed, "seeds": seeds,
                          "n_startup_trials": max(2, min(10, n_trials // 4))},
                         command, sets)
        result.info["wall_seconds"] = round(time.perf_counter() - t0, 3)
        if final is not None and staging is not None:
            _write(result, staging)
            result.path = commit(staging, final)
        return result
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        optuna.logging.set_verbosity(previous)


def _simulate(base: "Scenario", goals: list[_Goal], overrides: Mapping[str, Any], seeds: list[int]) -> list[list[float]]:
    """Each goal's aggregate in a run per seed (rows: seeds; columns: goals)."""
    import scorelab

    sims = []
    for s in seeds:  # one run per seed serves every goal
        metrics = scorelab.run(base, {**overrides, "run.seed": s}).metrics
        sims.append([g.compute(metrics) for g in goals])
    return sims


#: a check's verdict is "off" when the simulated mean is more than this many sd from the target
OFF_Z = 2.0


def verdict(z: float) -> str:
    """``within`` when |z| <= OFF_Z (the simulated mean lies within two of the target's sd), else ``off``."""
    return "within" if abs(z) <= OFF_Z else "off"


@dataclass
class Evaluation:
    """The scenario's own values run against a targets file (``evaluate``). ``fit`` has the columns
    of fit.parquet plus ``verdict``; ``simulated`` holds each target's value in every replicate."""

    fit: "pl.DataFrame"
    simulated: list[list[float]]
    scenario: "Scenario"
    targets: Targets
    info: dict[str, Any]

    @property
    def off(self) -> list[str]:
        """The targets whose verdict is ``off``."""
        return [r["target"] for r in self.fit.iter_rows(named=True) if r["verdict"] == "off"]


def evaluate(
    scenario: "Scenario | str | Path | Mapping[str, Any]",
    targets: "str | Path | Mapping[str, Any] | Targets | TargetsFile",
    *,
    replicates: int | None = None,
    sets: Mapping[str, Any] | None = None,
    scale: float | None = None,
) -> Evaluation:
    """Run the scenario with its own values (nothing fitted) once per replicate (seeds
    ``run.seed + r``, the file's ``replicates`` unless given) and compare each target with the
    mean: the fit table of ``calibrate`` with a ``verdict`` per target (``verdict``). The
    scenario is loaded as in ``calibrate`` (the targets file's ``run`` section); ``sets`` may
    give the fitted parameters other values, to evaluate those."""
    import polars as pl

    base, tg, _params, goals, factor, how = _prepare(scenario, targets, sets, scale, fitting=False)
    n_reps = tg.spec.replicates if replicates is None else replicates
    if n_reps < 1:
        raise UsageError(f"--replicates: must be >= 1, got {n_reps}")
    seeds = [base.run.seed + r for r in range(n_reps)]
    sims = _simulate(base, goals, {}, seeds)
    per_goal = [list(col) for col in zip(*sims, strict=True)]
    means = [math.fsum(col) / len(col) for col in per_goal]
    fit = _fit_frame(goals, means, [_sd_of(tuple(col)) for col in per_goal], n_reps)
    fit = fit.with_columns(pl.Series("verdict", [verdict(z) for z in fit.get_column("z")], dtype=pl.String))
    info = {"scenario": base.name, "people": base.population.people, "days": base.run.days,
            "scale": {"factor": factor, "how": how}, "run_scale": base.population.scale, "seeds": seeds,
            "targets_file": tg.label}
    return Evaluation(fit, per_goal, base, tg, info)


def _sd_of(values: tuple[float, ...]) -> float | None:
    if len(values) < 2:
        return None
    m = math.fsum(values) / len(values)
    return math.sqrt(math.fsum((v - m) ** 2 for v in values) / (len(values) - 1))


def _result(base: "Scenario", tg: Targets, params: list[_Param], goals: list[_Goal], records: list[TrialRecord],
            best: TrialRecord, factor: float, scale_how: str, run: dict[str, Any], command: str | None,
            sets: Mapping[str, Any] | None) -> Calibration:
    import optuna
    import polars as pl

    import scorelab
    from scorelab.scenario.loader import load

    fitted = {p.path: best.params[p.path] for p in params}
    overrides = {p.path: p.override(fitted[p.path]) for p in params}
    scenario = load(base.model_dump(mode="json", by_alias=True), overrides)
    fit = _fit_frame(goals, best.simulated, best.simulated_sd, len(run["seeds"]))
    rows = fit.to_dicts()
    chi2 = math.fsum(r["z"] ** 2 for r in rows)
    dof = len(goals) - len(params)
    rel = [r["relative_error"] for r in rows if r["relative_error"] is not None]
    base_rec = records[0] if records and records[0].baseline else None
    stats = {
        "chi_square": chi2,
        "dof": dof,
        "reduced_chi_square": chi2 / dof if dof > 0 else None,
        "p_value": chi_square_sf(chi2, dof) if dof > 0 else None,
        "rmse_relative": math.sqrt(math.fsum(x * x for x in rel) / len(rel)) if rel else None,
        "targets": len(goals),
        "parameters": len(params),
        "baseline_chi_square": base_rec.loss if base_rec is not None else None,
        "trials_complete": sum(r.state == "complete" for r in records),
        "trials_failed": sum(r.state == "failed" for r in records),
    }
    near = [r for r in records if r.loss is not None and r.loss <= best.loss + 1.0]  # type: ignore[operator]
    parameters: dict[str, dict[str, Any]] = {}
    for p in params:
        s = p.spec
        entry: dict[str, Any] = {
            "kind": s.kind, "low": s.low, "high": s.high, "log": s.log, "unit": s.unit, "choices": s.choices,
            "baseline": p.baseline, "fitted": fitted[p.path], "override": overrides[p.path],
            "fitted_shown": p.shown(fitted[p.path]), "baseline_shown": p.shown(p.baseline),
        }
        if s.choices is None:
            vals = [r.params[p.path] for r in near]
            entry["interval"] = [min(vals), max(vals)] if len(vals) >= 3 else None
            entry["at_bound"] = bool(_near_bound(fitted[p.path], s))
        parameters[p.path] = entry
    trial_cols: dict[str, Any] = {
        "trial": pl.Series([r.number for r in records], dtype=pl.Int64),
        "state": pl.Series([r.state for r in records], dtype=pl.String),
        "baseline": pl.Series([r.baseline for r in records], dtype=pl.Boolean),
        "loss": pl.Series([r.loss for r in records], dtype=pl.Float64),
    }
    for p in params:
        vals = [r.params.get(p.path) for r in records]
        if p.spec.choices is not None:
            dtype = pl.String
            vals = [None if v is None else json.dumps(v) for v in vals]
        elif p.spec.integer:
            dtype = pl.Int64
        else:
            dtype = pl.Float64
        trial_cols[f"param.{p.path}"] = pl.Series(vals, dtype=dtype)
    for j, g in enumerate(goals):
        trial_cols[f"sim.{g.name}"] = pl.Series([r.simulated[j] for r in records], dtype=pl.Float64)
    trial_cols["seconds"] = pl.Series([r.seconds for r in records], dtype=pl.Float64)
    trial_cols["error"] = pl.Series([r.error for r in records], dtype=pl.String)
    info = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "scorelab_version": scorelab.__version__,
        "optuna_version": optuna.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "scenario": {"name": base.name, "people": base.population.people, "days": base.run.days,
                     "start": str(base.run.start), "step_days": base.run.step, "sets": dict(sets or {})},
        "targets_file": tg.label,
        "description": tg.spec.description,
        "scale": {"factor": factor, "how": scale_how},
        "sampler": {"name": "optuna.samplers.TPESampler", "seed": run["seed"], "n_startup_trials": run["n_startup_trials"],
                    "baseline_enqueued": base_rec is not None},
        "trials": run["trials"],
        "replicates": run["replicates"],
        "run_seeds": run["seeds"],
        "loss": "chi-square: sum over targets of ((simulated mean - value) / sd)^2",
    }
    return Calibration(fitted=fitted, overrides=overrides, best_trial=best.number, loss=best.loss,  # type: ignore[arg-type]
                       statistics=stats, fit=fit, trials=pl.DataFrame(trial_cols), parameters=parameters,
                       scenario=scenario, info=info)


_FIT_SCHEMA = {
    "target": "String", "metric": "String", "window": "String", "published": "Float64", "scaled": "Boolean",
    "value": "Float64", "sd": "Float64", "simulated": "Float64", "simulated_sd": "Float64", "simulated_se": "Float64",
    "residual": "Float64", "z": "Float64", "relative_error": "Float64", "source": "String",
}


def _fit_frame(goals: list[_Goal], means: list[float], sds: list[float | None], n_rep: int) -> "pl.DataFrame":
    """One row per target: the published and scaled figure, the simulated mean over ``n_rep``
    replicates with its sd, and the residual, z and relative error (fit.parquet's columns)."""
    import polars as pl

    rows = []
    for g, sim, sd in zip(goals, means, sds, strict=True):
        resid = sim - g.value
        rows.append({
            "target": g.name, "metric": g.target.metric, "window": g.window, "published": g.target.value,
            "scaled": g.target.scaled, "value": g.value, "sd": g.sd, "simulated": sim, "simulated_sd": sd,
            "simulated_se": None if sd is None else sd / math.sqrt(n_rep), "residual": resid, "z": resid / g.sd,
            "relative_error": resid / g.value if g.value != 0 else None, "source": g.target.source,
        })
    return pl.DataFrame(rows, schema={k: getattr(pl, v) for k, v in _FIT_SCHEMA.items()})


def _near_bound(x: Any, s: Parameter) -> bool:
    """Whether a fitted value lies in the outer 1% of its range (the range may be too narrow)."""
    lo, hi = float(s.low), float(s.high)  # type: ignore[arg-type]
    if s.log:
        x, lo, hi = math.log(x), math.log(lo), math.log(hi)
    return (x - lo) <= 0.01 * (hi - lo) or (hi - x) <= 0.01 * (hi - lo)


def _write(c: Calibration, folder: Path) -> None:
    """The calibration folder's files; ``calibration.json`` last."""
    import yaml

    c.trials.write_parquet(folder / "trials.parquet")
    c.fit.write_parquet(folder / "fit.parquet")
    header = [
        f"# {c.info['scenario']['name']} with calibrated values (scorelab calibrate, {c.info['created']})",
        f"# targets: {c.info['targets_file']}; chi-square {c.loss:.6g} on {c.statistics['dof']} dof; best trial {c.best_trial}",
    ]
    header += [f"#   {k}: {v!r}" for k, v in c.overrides.items()]
    header.append("# The scenario exactly as calibrated (population size, days and --set included).")
    text = "\n".join(header) + "\n" + yaml.safe_dump(c.scenario.model_dump(mode="json", by_alias=True),
                                                     sort_keys=False, allow_unicode=True)
    (folder / "fitted.yaml").write_text(text, encoding="utf-8")
    doc = dict(c.info)
    doc["fitted"] = {k: {"value": v, "override": c.overrides[k]} for k, v in c.fitted.items()}
    doc["best_trial"] = c.best_trial
    doc["statistics"] = c.statistics
    doc["parameters"] = c.parameters
    doc["targets"] = c.fit.to_dicts()
    tmp = folder / ".calibration.json.tmp"
    tmp.write_text(json.dumps(doc, indent=2, default=str), encoding="utf-8")
    tmp.replace(folder / "calibration.json")
