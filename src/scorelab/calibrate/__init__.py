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

The modules, in the order they build on each other: ``targets`` (the targets file's schema
and errors), ``resolve`` (the file against a scenario; ``check``), ``evaluation`` (running
and comparing; ``evaluate``), ``output`` (``Calibration`` and its folder) and ``optimiser``
(``calibrate``).
"""

from scorelab.calibrate.evaluation import OFF_Z, Evaluation, chi_square_sf, evaluate, verdict
from scorelab.calibrate.optimiser import calibrate
from scorelab.calibrate.output import FORMAT_NAME, FORMAT_VERSION, Calibration, TrialRecord
from scorelab.calibrate.resolve import check, metric_names, run_settings
from scorelab.calibrate.targets import (
    TARGETS_DIR,
    Parameter,
    RunSpec,
    Target,
    Targets,
    TargetsError,
    TargetsFile,
    builtin_targets,
    read_targets,
)

__all__ = [
    "FORMAT_NAME", "FORMAT_VERSION", "OFF_Z", "TARGETS_DIR", "Calibration", "Evaluation", "Parameter", "RunSpec",
    "Target", "Targets", "TargetsError", "TargetsFile", "TrialRecord", "builtin_targets", "calibrate", "check",
    "chi_square_sf", "evaluate", "metric_names", "read_targets", "run_settings", "verdict",
]
