"""The optimiser loop: Optuna's TPE sampler with a fixed seed, one trial after another in
this process; each trial runs the scenario once per replicate seed (``run.seed + r``, so
trials differ only by their parameters) and scores the mean of the replicates with the
chi-square ``sum_i ((simulated_i - target_i) / sd_i)^2``. The scenario's own values, when
they lie in the ranges, are the first trial."""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scorelab import atomic
from scorelab.calibrate.evaluation import sd_of, simulate
from scorelab.calibrate.output import Calibration, TrialRecord, build_calibration, write_folder
from scorelab.calibrate.resolve import prepare
from scorelab.calibrate.targets import Targets, TargetsFile
from scorelab.errors import ScenarioError, UsageError, require_extra

if TYPE_CHECKING:
    from scorelab.scenario.model import Scenario


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
    optuna = require_extra("optuna", "calibrate", "calibration (scorelab calibrate)")

    t0 = time.perf_counter()
    base, tg, params, goals, factor, scale_how = prepare(scenario, targets, sets, scale)
    spec = tg.spec
    n_trials = spec.trials if trials is None else trials
    n_reps = spec.replicates if replicates is None else replicates
    opt_seed = spec.seed if seed is None else seed
    for what, v, lo in (("trials", n_trials, 1), ("replicates", n_reps, 1), ("seed", opt_seed, 0)):
        if v < lo:
            raise UsageError(f"--{what}: must be >= {lo}, got {v}")
    seeds = [base.run.seed + r for r in range(n_reps)]
    final = Path(out) if out is not None else None
    staging = atomic.prepare(final) if final is not None else None
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
                sims = simulate(base, goals, overrides, seeds)
            except ScenarioError as e:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                rec = TrialRecord(n + 1, values, None, [math.nan] * len(goals), [None] * len(goals),
                                  time.perf_counter() - t1, "failed", "; ".join(p.message for p in e.problems))
            else:
                means = [math.fsum(col) / len(col) for col in zip(*sims, strict=True)]
                sds = [sd_of(col) for col in zip(*sims, strict=True)]
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
        result = build_calibration(base, tg, params, goals, records, best, factor, scale_how,
                         {"trials": n_trials, "replicates": n_reps, "seed": opt_seed, "seeds": seeds,
                          "n_startup_trials": max(2, min(10, n_trials // 4))},
                         command, sets)
        result.info["wall_seconds"] = round(time.perf_counter() - t0, 3)
        if final is not None and staging is not None:
            write_folder(result, staging)
            result.path = atomic.commit(staging, final)
        return result
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        optuna.logging.set_verbosity(previous)
