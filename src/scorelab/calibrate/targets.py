"""The targets file: its schema (pydantic models), reading it, and its located errors.

A targets file (YAML, docs/calibration.md) names the parameters to fit (dotted scenario
paths, the keys ``--set`` accepts, each with a range or a list of choices) and the published
aggregates to fit them to: one number per metric and date (``at``) or per window
(``total``/``mean``), with an uncertainty and a source. Targets are aggregates only: a
number per date or window of a per-step metric column, never per-person rows.

Problems are reported like scenario problems, all at once, one line each:
``targets.yaml:line:col: field.path: message`` (``TargetsError``, a ``ScenarioError``).
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from scorelab.errors import Problem, ScenarioError
from scorelab.scenario.base import parse_date as _date
from scorelab.scenario.loader import PRESET_DIR
from scorelab.scenario.problems import locate, problem_from_pydantic, problem_order
from scorelab.scenario.yamlread import Doc, is_file, line_col, read_yaml

_AGGREGATES_ONLY = "targets are aggregates (one number per date or window), never per-person rows"


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
        return locate(self.label, self.doc or Doc(), loc, message, key=key)


#: the built-in scenarios' targets files: the published outcome figures each one reproduces
TARGETS_DIR = PRESET_DIR / "targets"


def builtin_targets(name: str) -> Path | None:
    """The targets file of a built-in scenario (``presets/targets/<name>.yaml``), or None."""
    path = TARGETS_DIR / f"{name}.yaml"
    return path if "/" not in name and is_file(path) else None


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
        label, data, doc = "<targets>", dict(source), Doc()
    else:
        label = str(source)
        path = Path(label)
        builtin = None if is_file(path) or path.suffix in (".yaml", ".yml") else builtin_targets(label)
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
            line, col = line_col(raw[: e.start].decode("utf-8"), e.start)
            msg = f"invalid YAML: not UTF-8 text (byte {raw[e.start]:#04x})"
            raise TargetsError([Problem(label, line, col, "", msg)]) from None
        data, doc = read_yaml(label, text, problems)
        if problems:
            raise TargetsError(problems)
    if not isinstance(data, dict):
        kind = "null" if data is None else type(data).__name__
        raise TargetsError([Problem(label, 1, 1, "", f"a targets file must be a mapping (parameters, targets, ...), got {kind}")])
    try:
        spec = TargetsFile.model_validate(data)
    except ValidationError as e:
        found = {_problem(err, label, doc, data) for err in e.errors()}
        raise TargetsError(sorted(found, key=problem_order)) from None
    return Targets(spec, label, doc, data)


def _problem(err: Any, label: str, doc: Any, data: Any) -> Problem:
    """A pydantic error as a located problem; unknown fields get a suggestion from the targets
    models, and under ``targets`` a reminder that targets are aggregates."""
    def note(parent: Any) -> str:
        return f" ({_AGGREGATES_ONLY})" if tuple(parent[:1]) == ("targets",) else ""

    return problem_from_pydantic(err, label, doc, data, model=TargetsFile, unknown_note=note)
