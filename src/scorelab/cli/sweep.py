"""The ``scorelab sweep`` command.

Heavy imports (numba kernels, polars, Ray) stay inside the function so ``scorelab --help``
is instant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from scorelab.cli.common import fail, file_name, load_scenario, parse_sets, say, print_table, table, with_days

if TYPE_CHECKING:
    from scorelab.sweep import Event, SweepResult


def sweep(
    source: Annotated[str | None, typer.Argument(help="a built-in scenario or a YAML file")] = None,
    vary: Annotated[list[str] | None, typer.Option(
        "--vary", help="a field to vary: key=v1,v2,... (values read as --set reads them) or key=low..high "
                       "(a range, random design); repeatable")] = None,
    design: Annotated[str, typer.Option(
        help="grid: every combination of the values, in the order given; random: --samples draws")] = "grid",
    samples: Annotated[int | None, typer.Option(help="settings drawn by the random design")] = None,
    replicates: Annotated[int | None, typer.Option(
        help="runs per setting, seeds run.seed, run.seed+1, ... (the same for every setting)")] = None,
    seeds: Annotated[str | None, typer.Option(help="the replicate seeds, comma-separated, e.g. 1,2,3")] = None,
    design_seed: Annotated[int | None, typer.Option(help="seed of the random design (default run.seed)")] = None,
    days: Annotated[int | None, typer.Option(help="override run.days")] = None,
    scale: Annotated[float | None, typer.Option(help="multiply the population size")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a field of every run: key=value")] = None,
    out: Annotated[str | None, typer.Option(help="the sweep folder (default sweeps/<scenario>-<time>)")] = None,
    backend: Annotated[str, typer.Option(help="process (a local process pool) or ray")] = "process",
    address: Annotated[str | None, typer.Option(help="Ray cluster to join (with --backend ray)")] = None,
    workers: Annotated[int | None, typer.Option(
        help="worker processes (default: one per CPU, as memory allows); with ray, CPUs of a local Ray")] = None,
    retries: Annotated[int, typer.Option(help="retries of a task whose worker process dies")] = 2,
    report: Annotated[bool, typer.Option("--report", help="also write the sweep report, DIR/report.html")] = False,
    figure: Annotated[list[str] | None, typer.Option(
        "--figure", help="a headline figure for the table and the report; repeatable")] = None,
    resume: Annotated[str | None, typer.Option(
        help="continue the interrupted sweep whose folder is this (no SOURCE, --vary or design options)")] = None,
) -> None:
    """Run a scenario over a grid or random design of settings, each with the same replicate
    seeds; write every run, runs.parquet, summary.parquet (means, 95% CIs) and print a summary."""
    import datetime as _dt
    from pathlib import Path

    from scorelab import sweep as S
    from scorelab.errors import UsageError

    if backend not in S.BACKENDS:
        fail([f"--backend: expected one of {', '.join(S.BACKENDS)}, got {backend!r}"])
    if address is not None and backend != "ray":
        fail(["--address: only with --backend ray"])
    try:
        if backend == "ray":
            S.import_ray()  # before anything is planned or written
        if resume is not None:
            given = [n for n, v in (("SOURCE", source), ("--vary", vary), ("--samples", samples),
                                    ("--replicates", replicates), ("--seeds", seeds), ("--design-seed", design_seed),
                                    ("--days", days), ("--scale", scale), ("--set", set_), ("--out", out)) if v]
            if design != "grid":
                given.append("--design")
            if given:
                fail([f"--resume: the sweep continues as it was planned; drop {', '.join(given)}"])
            figures = _figures(figure, S.read_spec(resume)[0].scenario)
            say(f"resuming the sweep {resume}...", err=True)
            result = S.resume_sweep(resume, backend=backend, workers=workers, address=address, retries=retries,
                                    progress=_progress)
        else:
            if source is None:
                fail(["scorelab sweep: give a SOURCE (a built-in scenario or a YAML file), or --resume DIR"])
            sets = with_days(set_, days)
            scenario = load_scenario(source, sets, None, scale)
            spec = S.make_spec(scenario, list(vary or []), design=design, samples=samples, replicates=replicates,
                               seeds=_parse_seeds(seeds) if seeds is not None else None, design_seed=design_seed,
                               source=source, overrides=_overrides(sets))
            figures = _figures(figure, spec.scenario)
            folder = out if out is not None else str(
                Path("sweeps") / f"{file_name(spec.name, 'sweep')}-{_dt.datetime.now(_dt.timezone.utc).strftime('%Y%m%d-%H%M%S')}")
            n_set, n_rep = len(S.settings(spec)), len(spec.seeds)
            say(f"{spec.name}: {n_set} setting(s) x {n_rep} replicate(s) = {n_set * n_rep} runs "
                f"({backend} backend) -> {folder}", err=True)
            command = _command(source, vary, design, samples, replicates, seeds, design_seed, days, scale, set_,
                               folder, backend, address, workers, retries)
            result = S.run_sweep(spec, folder, backend=backend, workers=workers, address=address, retries=retries,
                                 progress=_progress, command=command)
    except UsageError as e:
        fail([str(e)])
    _print_table(result, figures)
    parts = [f"{result.runs.height} runs", f"{result.ran} run now"]
    if result.skipped:
        parts.append(f"{result.skipped} already complete")
    if result.retried:
        parts.append(f"{result.retried} attempt(s) lost with their worker and retried")
    say(f"sweep: {result.path} ({', '.join(parts)})")
    if report:
        from scorelab.report import sweep as sweep_report

        try:
            path = sweep_report.write(result, result.path / "report.html", figures=figures)
        except UsageError as e:
            fail([str(e)])
        say(f"report: {path} ({path.stat().st_size:,} bytes)")


def _progress(ev: "Event") -> None:
    width = len(str(ev.total))
    if ev.kind == "done":
        again = f", attempt {ev.attempt}" if ev.attempt > 1 else ""
        say(f"[{ev.done:>{width}}/{ev.total}] {ev.task.id} ({ev.task.describe()}): {ev.seconds:.1f} s{again}", err=True)
    else:
        say(f"{ev.task.id}: its worker process died; retrying (attempt {ev.attempt})", err=True)


def _parse_seeds(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        try:
            out.append(int(part.strip()))
        except ValueError:
            fail([f"--seeds {text}: expected whole numbers separated by commas, got {part.strip()!r}"])
    return out


def _overrides(sets: list[str]) -> dict[str, Any]:
    return parse_sets(sets)


def _figures(chosen: list[str] | None, scenario: dict[str, Any]) -> list[str]:
    from scorelab.sweep import headline_figures
    from scorelab.vocabulary import DEFAULT_FIGURES

    known = headline_figures(scenario)
    if not chosen:
        return [f for f in DEFAULT_FIGURES if f in known]
    for f in chosen:
        if f not in known:
            fail([f"--figure {f}: not a numeric headline figure; choose from {', '.join(known)}"])
    return list(dict.fromkeys(chosen))


def _command(source: str, vary: list[str] | None, design: str, samples: int | None, replicates: int | None,
             seeds: str | None, design_seed: int | None, days: int | None, scale: float | None,
             sets: list[str] | None, out: str, backend: str, address: str | None, workers: int | None,
             retries: int) -> str:
    """The command as a user would retype it (stored in sweep.json)."""
    import shlex

    parts = ["scorelab", "sweep", source]
    for v in vary or []:
        parts += ["--vary", v]
    opts: list[tuple[str, Any]] = [("--design", design if design != "grid" else None), ("--samples", samples),
                                   ("--replicates", replicates), ("--seeds", seeds), ("--design-seed", design_seed),
                                   ("--days", days), ("--scale", scale)]
    for name, val in opts:
        if val is not None:
            parts += [name, str(val)]
    for s in sets or []:
        parts += ["--set", s]
    parts += ["--out", out]
    for name, val in (("--backend", backend if backend != "process" else None), ("--address", address),
                      ("--workers", workers), ("--retries", retries if retries != 2 else None)):
        if val is not None:
            parts += [name, str(val)]
    return shlex.join(parts)


def _print_table(result: "SweepResult", figures: list[str]) -> None:
    """Per setting, each figure's mean [interval]: first the figures the varied keys move
    directly (``sweep.direct``), then the chosen ones; then a line on which figures moved
    beyond the replicates' noise."""
    from scorelab.sweep import format_setting
    from scorelab.sweep.direct import direct_figures
    from scorelab.sweep.tables import cell_text
    from scorelab.vocabulary import DAYS, PEOPLE

    shown = [f for f in dict.fromkeys([*direct_figures(result.keys), *figures]) if f in result.figures]
    wide = result.wide(shown)
    level = float(result.info.get("level", 0.95))
    n_rep = len(result.info["spec"]["seeds"])
    out = table(f"{result.info.get('name', 'sweep')}: {wide.height} setting(s) x {n_rep} replicate(s); "
                f"mean [{level:.0%} CI]")
    out.add_column("setting", no_wrap=True)
    for k in result.keys:
        out.add_column(k, justify="right", overflow="fold")
    out.add_column("n", justify="right")
    for f in shown:
        out.add_column(f, justify="right", overflow="fold")
    for row in wide.iter_rows(named=True):
        cells = [row["setting"], *(format_setting(row[k]) for k in result.keys), str(row["n"])]
        cells += [cell_text(f, row) for f in shown]
        out.add_row(*cells)
    print_table(out)
    if wide.height > 1:
        sizes = result.wide([PEOPLE, DAYS])
        say(_moved_line(wide, shown, direct_figures(result.keys), sizes.get_column(f"{PEOPLE} mean").to_list(),
                        sizes.get_column(f"{DAYS} mean").to_list()))


def _moved_line(wide: Any, shown: list[str], direct: list[str], people: list[float], days: list[float]) -> str:
    """Which figures moved between settings beyond their intervals (two settings whose
    intervals do not overlap), or a line saying that none did. Totals that grow with the
    population are compared per 1,000 people when the settings differ in size, and not at all
    when they differ in length (more days hold more events)."""
    from scorelab.vocabulary import EXTENSIVE

    moved, unknown, apart = [], [], []
    sized, timed = len(set(people)) > 1, len(set(days)) > 1
    for f in shown:
        lo, hi = wide.get_column(f"{f} lo").to_list(), wide.get_column(f"{f} hi").to_list()
        if f in EXTENSIVE and timed:
            apart.append(f)
        elif any(v is None for v in lo + hi):
            unknown.append(f)
        else:
            if f in EXTENSIVE and sized:  # (per 1,000 people: a total grows with the population)
                lo = [1000.0 * v / n for v, n in zip(lo, people)]
                hi = [1000.0 * v / n for v, n in zip(hi, people)]
            if max(lo) > min(hi):
                moved.append(f)
    notes = ("; totals compared per 1,000 people (the settings differ in size)" if sized and not timed else "") + (
        f"; not compared, since the settings differ in length: {', '.join(apart)}" if apart else "")
    if moved:
        return f"moved beyond the replicates' noise: {', '.join(moved)}{notes}"
    line = "no figure moved beyond its interval between settings"
    if direct:
        line += f" (not even the direct effect: {', '.join(direct)})"
    line += notes
    if unknown:
        line += f"; without intervals (one replicate, or no value in some settings): {', '.join(unknown)}"
    return line + "; more replicates (--replicates) or people (--scale) may show an effect"
