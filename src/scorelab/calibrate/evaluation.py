"""Running the scenario against its targets, and how far each simulated figure lies from
its target: ``simulate`` (one run per replicate seed), ``fit_frame`` (the table of
fit.parquet: residual, z, relative error) and ``evaluate`` (the scenario's own values,
with a ``verdict`` per target)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scorelab.calibrate.resolve import Goal, prepare
from scorelab.calibrate.targets import Targets, TargetsFile
from scorelab.errors import UsageError

if TYPE_CHECKING:
    import polars as pl

    from scorelab.scenario.model import Scenario


def chi_square_sf(x: float, dof: int) -> float:
    """P(X >= x) for X chi-square with ``dof`` degrees of freedom."""
    if dof < 1:
        raise ValueError("dof must be >= 1")
    from scipy.stats import chi2

    return float(chi2.sf(x, dof))


def sd_of(values: tuple[float, ...]) -> float | None:
    """The sample sd (n - 1 in the denominator); None below two values."""
    if len(values) < 2:
        return None
    m = math.fsum(values) / len(values)
    return math.sqrt(math.fsum((v - m) ** 2 for v in values) / (len(values) - 1))


def simulate(base: "Scenario", goals: list[Goal], overrides: Mapping[str, Any], seeds: list[int]) -> list[list[float]]:
    """Each goal's aggregate in a run per seed (rows: seeds; columns: goals)."""
    from scorelab.runner import run

    sims = []
    for s in seeds:  # one run per seed serves every goal
        metrics = run(base, {**overrides, "run.seed": s}).metrics
        sims.append([g.compute(metrics) for g in goals])
    return sims


_FIT_SCHEMA = {
    "target": "String", "metric": "String", "window": "String", "published": "Float64", "scaled": "Boolean",
    "value": "Float64", "sd": "Float64", "simulated": "Float64", "simulated_sd": "Float64", "simulated_se": "Float64",
    "residual": "Float64", "z": "Float64", "relative_error": "Float64", "source": "String",
}


def fit_frame(goals: list[Goal], means: list[float], sds: list[float | None], n_rep: int) -> "pl.DataFrame":
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

    base, tg, _params, goals, factor, how = prepare(scenario, targets, sets, scale, fitting=False)
    n_reps = tg.spec.replicates if replicates is None else replicates
    if n_reps < 1:
        raise UsageError(f"--replicates: must be >= 1, got {n_reps}")
    seeds = [base.run.seed + r for r in range(n_reps)]
    sims = simulate(base, goals, {}, seeds)
    per_goal = [list(col) for col in zip(*sims, strict=True)]
    means = [math.fsum(col) / len(col) for col in per_goal]
    fit = fit_frame(goals, means, [sd_of(tuple(col)) for col in per_goal], n_reps)
    fit = fit.with_columns(pl.Series("verdict", [verdict(z) for z in fit.get_column("z")], dtype=pl.String))
    info = {"scenario": base.name, "people": base.population.people, "days": base.run.days,
            "scale": {"factor": factor, "how": how}, "run_scale": base.population.scale, "seeds": seeds,
            "targets_file": tg.label}
    return Evaluation(fit, per_goal, base, tg, info)
