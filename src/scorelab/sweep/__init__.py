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

The modules, in the order they build on each other: ``design`` (axes, spec, settings,
tasks), ``statistics`` (means and intervals), ``tables`` (runs.parquet, summary.parquet,
``SweepResult``), ``backends`` (process pool, Ray, lost workers), ``locking`` (one process
per work folder) and ``folder`` (``run_sweep``, ``resume_sweep``).
"""

from scorelab.sweep.backends import BACKENDS, TEST_EXIT_ENV, Event, import_ray, run_task
from scorelab.sweep.design import (
    DESIGNS,
    ID_COLUMNS,
    MAX_RUNS,
    TIMING_COLUMNS,
    Axis,
    Setting,
    SweepSpec,
    Task,
    format_setting,
    headline_figures,
    make_spec,
    parse_vary,
    plan_sweep,
    replicate_seeds,
    settings,
    validate,
)
from scorelab.sweep.folder import read_spec, resume_sweep, run_sweep, work_path
from scorelab.sweep.statistics import LEVEL, describe, t_quantile
from scorelab.sweep.tables import FORMAT_NAME, FORMAT_VERSION, SweepResult, numeric_figures, runs_table, summary_table
from scorelab.vocabulary import DEFAULT_FIGURES, HEADLINE_FIGURES

__all__ = [
    "BACKENDS", "DEFAULT_FIGURES", "DESIGNS", "FORMAT_NAME", "FORMAT_VERSION", "HEADLINE_FIGURES", "ID_COLUMNS",
    "LEVEL", "MAX_RUNS", "TEST_EXIT_ENV", "TIMING_COLUMNS", "Axis", "Event", "Setting", "SweepResult", "SweepSpec", "Task",
    "describe", "format_setting", "headline_figures", "import_ray", "make_spec", "numeric_figures", "parse_vary",
    "plan_sweep", "read_spec", "replicate_seeds", "resume_sweep", "run_sweep", "run_task", "runs_table", "settings",
    "summary_table", "t_quantile", "validate", "work_path",
]
