"""The ``scorelab calibrate`` command.

Heavy imports (optuna, polars, the engine) stay inside the function so ``scorelab --help``
is instant.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from scorelab.cli.common import fail, file_name, load_scenario, parse_sets, say, table, terminal, with_days

if TYPE_CHECKING:
    from scorelab.calibrate import Calibration, TrialRecord


def calibrate(
    source: Annotated[str, typer.Argument(help="a built-in scenario or a YAML file")],
    targets: Annotated[str, typer.Option("--targets", help="targets file (YAML): parameters to fit, published aggregates; "
                                                            "a built-in scenario's name reads its own")],
    trials: Annotated[int | None, typer.Option(help="optimiser trials (default: the targets file's, else 40)")] = None,
    replicates: Annotated[int | None, typer.Option(help="runs per trial, seeds run.seed + 0, 1, ... (default: the file's, "
                                                         "else 1)")] = None,
    seed: Annotated[int | None, typer.Option(help="seed of the optimiser (default: the file's, else 0); simulation seeds "
                                                  "come from run.seed")] = None,
    days: Annotated[int | None, typer.Option(help="override run.days (default: the targets file's run.days, if any)")] = None,
    scale: Annotated[float | None, typer.Option(help="multiply the population size (default: the targets file's "
                                                     "run.scale, if any)")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a field: key=value")] = None,
    out: Annotated[str | None, typer.Option(help="calibration folder (default calibrations/<scenario>-<time>)")] = None,
    check: Annotated[bool, typer.Option("--check", help="only check the targets file against the scenario; run nothing")] = False,
) -> None:
    """Fit scenario parameters to published aggregates (a targets file) with Optuna's TPE
    sampler; print the fitted values and the fit to each target, and write a calibration
    folder (calibration.json, trials.parquet, fit.parquet, fitted.yaml). Aggregates only:
    targets are numbers per date or window, never per-person data."""
    import datetime as dt
    import shlex
    from pathlib import Path

    from scorelab.calibrate import read_targets, run_settings
    from scorelab.calibrate import calibrate as fit
    from scorelab.errors import ScenarioError, UsageError

    sets = with_days(set_, days)
    for name, v, low in (("trials", trials, 1), ("replicates", replicates, 1), ("seed", seed, 0)):
        if v is not None and v < low:
            fail([f"--{name}: must be >= {low}, got {v}"])
    try:
        tg = read_targets(targets)
    except ScenarioError as e:
        fail([str(p) for p in e.problems])
    overrides = parse_sets(sets)
    # the targets file's run section (scale, days), unless --scale, --days or --set run.days say otherwise
    run_scale, run_sets = run_settings(tg.spec, scale, overrides)
    extra = [f"run.days={run_sets['run.days']}"] if "run.days" in run_sets and "run.days" not in overrides else []
    scenario = load_scenario(source, sets + extra, None, run_scale)
    if check:
        _check(scenario, tg, overrides, targets)
        return
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    folder = out if out is not None else str(Path("calibrations") / f"{file_name(scenario.name, 'scenario')}-{stamp}")
    parts = ["scorelab", "calibrate", source, "--targets", targets]
    for flag, v in (("--trials", trials), ("--replicates", replicates), ("--seed", seed), ("--days", days),
                    ("--scale", scale)):
        if v is not None:
            parts += [flag, repr(v) if isinstance(v, float) else str(v)]
    for item in set_ or []:
        parts += ["--set", item]
    if out is not None:
        parts += ["--out", out]
    try:
        c = fit(scenario, tg, trials=trials, replicates=replicates, seed=seed, sets=overrides or None,
                out=folder, progress=_progress(scenario, targets), command=shlex.join(parts))
    except ScenarioError as e:
        fail([str(p) for p in e.problems])
    except UsageError as e:
        fail([str(e)])
    _print_calibration(c)


def _check(scenario: Any, tg: Any, overrides: dict[str, Any], targets: str) -> None:
    """``--check``: what would be fitted, or every problem of the targets file."""
    from scorelab.calibrate import check as check_targets
    from scorelab.errors import ScenarioError, UsageError

    try:
        plan = check_targets(scenario, tg, sets=overrides or None)
    except ScenarioError as e:
        fail([str(p) for p in e.problems])
    except UsageError as e:
        fail([str(e)])
    say(f"{targets}: ok ({len(plan['parameters'])} parameter(s), {len(plan['targets'])} target(s); "
        f"scale: {plan['scale']['how']}, factor {plan['scale']['factor']:.4g})")
    for g in plan["targets"]:
        say(f"  {g['name']}: {g['metric']} {g['window']} = {g['value']:,.6g} (sd {g['sd']:.4g})")


def _progress(scenario: Any, targets: str) -> Callable[[TrialRecord, TrialRecord | None, int], None]:
    """The log of the trials, one line each on stderr."""
    def err(line: str) -> None:
        say(line, err=True)

    def progress(rec: TrialRecord, best: TrialRecord | None, total: int) -> None:
        if rec.number == 1:  # the targets file has been checked: start the log
            err(f"{scenario.name}: {scenario.population.people:,} people, {scenario.run.days} days, "
                f"calibrating against {targets}")
        values = "  ".join(f"{k}={_short(v)}" for k, v in rec.params.items())
        width = len(str(total))
        if rec.loss is None:
            err(f"trial {rec.number:>{width}}/{total}  {values}  failed: {rec.error}")
            return
        mark = " (the scenario's own values)" if rec.baseline else ""
        best_txt = f"best {best.loss:.4g} (trial {best.number})" if best is not None else ""
        err(f"trial {rec.number:>{width}}/{total}  {values}  chi2 {rec.loss:.4g}  {best_txt}  {rec.seconds:.1f} s{mark}")

    return progress


def _print_calibration(c: Calibration) -> None:
    """The fitted values, the fit to each target and the goodness of fit."""
    console = terminal(min_width=140)
    longest = max([len(k) for k in c.parameters] + [len(n) for n in c.fit.get_column("target").to_list()])
    fitted_table = table(f"fitted values (best of {c.trials.height} trials: trial {c.best_trial})")
    for col, just in (("parameter", "left"), ("range", "left"), ("scenario's value", "right"), ("fitted", "right"),
                      ("trials with chi2 <= best + 1", "right")):
        fitted_table.add_column(col, justify=just, overflow="fold",  # type: ignore[arg-type]
                                min_width=min(longest, 50) if col == "parameter" else None)
    for path, p in c.parameters.items():
        if p["choices"] is not None:
            rng = ", ".join(map(str, p["choices"]))
        else:
            rng = f"{p['low']:g} .. {p['high']:g}" + (" (log)" if p["log"] else "") + (f" {p['unit']}" if p["unit"] else "")
        iv = p.get("interval")
        # (a range needs 3 such trials; say so instead of leaving the cell blank)
        near = f"{_short(iv[0])} .. {_short(iv[1])}" if iv else \
            f"{p.get('near_trials', 0)} of {c.trials.height}: too few for a range (3)"
        fitted = p["fitted_shown"] + (" (at the edge of the range)" if p.get("at_bound") else "")
        fitted_table.add_row(path, rng, p["baseline_shown"], fitted, near)
    console.print(fitted_table)
    fit_table = table("fit to each target (scaled to the simulated population)")
    for col, just in (("target", "left"), ("published", "right"), ("target value", "right"), ("sd", "right"),
                      ("simulated (mean ± sd)", "right"), ("z", "right"), ("rel. error", "right"), ("source", "left")):
        fit_table.add_column(col, justify=just, overflow="fold",  # type: ignore[arg-type]
                             min_width=min(longest, 40) if col == "target" else None,
                             max_width=48 if col == "source" else None)
    for r in c.fit.iter_rows(named=True):
        sim = f"{r['simulated']:,.4g}" + (f" ± {r['simulated_sd']:.3g}" if r["simulated_sd"] is not None else "")
        rel = f"{r['relative_error']:+.1%}" if r["relative_error"] is not None else ""
        fit_table.add_row(r["target"], f"{r['published']:,.6g}", f"{r['value']:,.4g}", f"{r['sd']:.3g}", sim,
                          f"{r['z']:+.2f}", rel, r["source"])
    console.print(fit_table)
    s = c.statistics
    line = f"chi-square {s['chi_square']:.4g} on {s['dof']} degrees of freedom"
    if s["p_value"] is not None:
        line += f" (p = {s['p_value']:.3g})"
    if s["rmse_relative"] is not None:
        line += f"; RMSE of relative errors {s['rmse_relative']:.1%}"
    if s["baseline_chi_square"] is not None:
        line += f"; the scenario's own values: chi-square {s['baseline_chi_square']:.4g}"
    say(line)
    sc = c.info["scale"]
    say(f"scale: {sc['how']}" + (f" = {sc['factor']:.4g}" if "factor" in sc["how"] or "/" in sc["how"] else ""))
    say(f"calibration: {c.path}")


def _short(v: object) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)
