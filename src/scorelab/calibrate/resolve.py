"""A targets file against a scenario: which fields to fit (``ParameterToFit``, with the
scenario's own value), which figures to compare (``Goal``: the metric, the steps of its date
or window, the scaled value and sd), and ``check``, which reports every problem at once.

A scenario given by name, file or mapping runs as the targets file's ``run`` section says
(``run_settings``); a ``Scenario`` runs as it is.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scorelab.calibrate.targets import (
    Parameter,
    RunSpec,
    Target,
    Targets,
    TargetsError,
    TargetsFile,
    Window,
    read_targets,
)
from scorelab.errors import Problem, ScenarioError, UsageError
from scorelab.scenario.problems import problem_order
from scorelab.vocabulary import METRIC_ID_COLUMNS

if TYPE_CHECKING:
    import polars as pl

    from scorelab.scenario.model import Scenario


@dataclass(frozen=True)
class ParameterToFit:
    """A parameter of the targets file resolved against the scenario."""

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
class Goal:
    """A target resolved against the scenario: its scaled value and sd, and its steps."""

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
    from scorelab.runner import run

    small = {"population.people": min(scenario.population.people, 100), "run.days": 0}
    cols = run(scenario, small, check_memory=False).metrics.columns
    return [c for c in cols if c not in METRIC_ID_COLUMNS]


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


def _resolve(targets: Targets, scenario: "Scenario", names: list[str]) -> tuple[list[ParameterToFit], list[Goal], float, str]:
    """Check a targets file against a scenario and its metric names; every problem is located
    in the targets file."""
    from scorelab.scenario.loader import load

    spec = targets.spec
    problems: list[Problem] = []
    data = scenario.model_dump(mode="json", by_alias=True)
    values = scenario.model_dump(mode="python", by_alias=True)
    params: list[ParameterToFit] = []
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
            probe = ParameterToFit(path, p, None)
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
        params.append(ParameterToFit(path, p, _baseline(p, path, data, values)))
    by_name = set(names)
    start, step, days = scenario.run.start, scenario.run.step, scenario.run.days
    n_steps = scenario.run.reported_steps
    last_day = start + _dt.timedelta(days=max(days - 1, 0))
    span = f"the run covers {start} .. {last_day} (run.days {days})"
    factor, how = _scale_factor(spec, scenario)
    goals: list[Goal] = []
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
        goals.append(Goal(i, t.name or f"{t.metric} {window}", t, value, sd, first, last, window))
    if days <= 0 and not problems:
        problems.append(Problem(targets.label, None, None, "", "the scenario runs no days (run.days 0): nothing to fit"))
    if problems:
        raise TargetsError(sorted(set(problems), key=problem_order))
    seen: dict[str, int] = {}
    for g in goals:  # names label columns: keep them unique
        seen[g.name] = seen.get(g.name, 0) + 1
    if any(n > 1 for n in seen.values()):
        goals = [Goal(g.index, f"{g.name} #{g.index}" if seen[g.name] > 1 else g.name, *_rest(g)) for g in goals]
    return params, goals, factor, how


def _absolute_sd(t: Target, value: float, factor: float) -> float:
    """The part of a target's sd given as ``sd`` (0 without one), scaled like its value."""
    if t.sd == "poisson":
        return math.sqrt(max(abs(value), 1.0))
    return 0.0 if t.sd is None else float(t.sd) * factor


def _rest(g: Goal) -> tuple[Any, ...]:
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


def run_settings(spec: TargetsFile, scale: float | None = None,
                 sets: Mapping[str, Any] | None = None) -> tuple[float | None, dict[str, Any]]:
    """The ``--scale`` and the overrides a run for these targets uses: the targets file's ``run``
    section (its scale, and its days as ``run.days``) unless ``scale`` or ``sets`` say otherwise."""
    run = spec.run or RunSpec()
    overrides = dict(sets or {})
    if run.days is not None and "run.days" not in overrides:
        overrides["run.days"] = run.days
    return (scale if scale is not None else run.scale), overrides


def prepare(scenario: Any, targets: Any, sets: Mapping[str, Any] | None, scale: float | None = None,
            fitting: bool = True) -> tuple[Any, ...]:
    """The scenario as it will run, the targets file, the parameters to fit, the goals, the
    scale factor and how it was found; ``fitting``: refuse ``sets`` of a fitted parameter."""
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
    base, tg, params, goals, factor, how = prepare(scenario, targets, sets, scale)
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
