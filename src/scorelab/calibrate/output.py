"""The outcome of a calibration: every trial (``TrialRecord``), the ``Calibration`` built
from them (fitted values, fit to each target, goodness of fit) and its folder
(``calibration.json``, ``trials.parquet``, ``fit.parquet``, ``fitted.yaml``)."""

from __future__ import annotations

import datetime as _dt
import json
import math
import platform
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scorelab import atomic
from scorelab.calibrate.evaluation import chi_square_sf, fit_frame
from scorelab.calibrate.resolve import Goal, ParameterToFit
from scorelab.calibrate.targets import Parameter, Targets

if TYPE_CHECKING:
    import polars as pl

    from scorelab.scenario.model import Scenario

FORMAT_NAME = "scorelab-calibration"
#: Version of the calibration-folder layout; bumped when files or fields change meaning.
FORMAT_VERSION = 1


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


def build_calibration(base: "Scenario", tg: Targets, params: list[ParameterToFit], goals: list[Goal], records: list[TrialRecord],
            best: TrialRecord, factor: float, scale_how: str, run: dict[str, Any], command: str | None,
            sets: Mapping[str, Any] | None) -> Calibration:
    import optuna
    import polars as pl

    from scorelab import __version__
    from scorelab.scenario.loader import load

    fitted = {p.path: best.params[p.path] for p in params}
    overrides = {p.path: p.override(fitted[p.path]) for p in params}
    scenario = load(base.model_dump(mode="json", by_alias=True), overrides)
    fit = fit_frame(goals, best.simulated, best.simulated_sd, len(run["seeds"]))
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
            entry["near_trials"] = len(vals)
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
        "scorelab_version": __version__,
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


def _near_bound(x: Any, s: Parameter) -> bool:
    """Whether a fitted value lies in the outer 1% of its range (the range may be too narrow)."""
    lo, hi = float(s.low), float(s.high)  # type: ignore[arg-type]
    if s.log:
        x, lo, hi = math.log(x), math.log(lo), math.log(hi)
    return (x - lo) <= 0.01 * (hi - lo) or (hi - x) <= 0.01 * (hi - lo)


def write_folder(c: Calibration, folder: Path) -> None:
    """The calibration folder's files; ``calibration.json`` last."""
    from scorelab.scenario.yamlread import dump_yaml

    c.trials.write_parquet(folder / "trials.parquet")
    c.fit.write_parquet(folder / "fit.parquet")
    header = [
        f"# {c.info['scenario']['name']} with calibrated values (scorelab calibrate, {c.info['created']})",
        f"# targets: {c.info['targets_file']}; chi-square {c.loss:.6g} on {c.statistics['dof']} dof; best trial {c.best_trial}",
    ]
    header += [f"#   {k}: {v!r}" for k, v in c.overrides.items()]
    header.append("# The scenario exactly as calibrated (population size, days and --set included).")
    text = "\n".join(header) + "\n" + dump_yaml(c.scenario.model_dump(mode="json", by_alias=True))
    (folder / "fitted.yaml").write_text(text, encoding="utf-8")
    doc = dict(c.info)
    doc["fitted"] = {k: {"value": v, "override": c.overrides[k]} for k, v in c.fitted.items()}
    doc["best_trial"] = c.best_trial
    doc["statistics"] = c.statistics
    doc["parameters"] = c.parameters
    doc["targets"] = c.fit.to_dicts()
    atomic.write_text(folder / "calibration.json", json.dumps(doc, indent=2, default=str))
