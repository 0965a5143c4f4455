"""The ``scorelab run`` command (and ``--resume``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from scorelab.cli.common import fail, load_scenario, print_table, safe, say, say_lines, table, terminal, with_days, wrapped
from scorelab.cli.replicates import MAX_REPLICATES, print_replicate_summary, replicate_targets, run_replicates
from scorelab.errors import UsageError


def _run_command(source: str, days: int | None, seed: int | None, scale: float | None, out: str | None,
                 sets: list[str], people_state: bool, checkpoint_every: int | None, shards: int | None,
                 replicates: int | None = None, cache: bool = True, threads: int | None = None) -> str:
    """The command as a user would retype it (stored in the manifest)."""
    import shlex

    parts = ["scorelab", "run", source]
    if days is not None:
        parts += ["--days", str(days)]
    if seed is not None:
        parts += ["--seed", str(seed)]
    if scale is not None:
        parts += ["--scale", repr(scale)]
    if out is not None:
        parts += ["--out", out]
    for item in sets:
        parts += ["--set", item]
    if people_state:
        parts.append("--people-state")
    if checkpoint_every is not None:
        parts += ["--checkpoint-every", str(checkpoint_every)]
    if shards is not None:
        parts += ["--shards", str(shards)]
    if threads is not None:
        parts += ["--threads", str(threads)]
    if replicates is not None:
        parts += ["--replicates", str(replicates)]
    if not cache:
        parts.append("--no-cache")
    return shlex.join(parts)


def _building(scenario: Any, shards: int | None, address: str | None, memory: str) -> str:
    """What the command says as the build starts: on a cluster whose actors build their own
    cities (``runner.layers_built``), only the people are built here."""
    from scorelab.runner import layers_built

    people = f"{scenario.name}: building {scenario.population.people:,} people"
    if layers_built(scenario, shards, address) == "none":
        return f"{people} here; each of the {shards} Ray actors builds its own cities' people, contacts and plan..."
    return f"{people} and their contacts (estimated memory {memory})..."


def _threads_and_memory(scenario: Any, shards: int | None, address: str | None,
                      threads: int | None) -> tuple[int, Any, int, int | None, bool]:
    """Threads (1 with shards) and the memory check of the run split over them or over the
    local Ray actors (estimate, bytes needed here, available, fits): threads divide the
    state, so they need no more memory than one."""
    from scorelab import memory
    from scorelab.engine.sharded import threads_for

    n_threads = 1 if shards is not None else threads_for(scenario, threads)
    workers = (shards if address is None else 1) if shards is not None else n_threads
    est, need, avail, fits = memory.check(scenario, workers, processes=shards is not None)
    return n_threads, est, need, avail, fits


def run(
    source: Annotated[str | None, typer.Argument(help="a built-in scenario or a YAML file")] = None,
    days: Annotated[int | None, typer.Option(help="override run.days")] = None,
    seed: Annotated[int | None, typer.Option(help="override run.seed")] = None,
    out: Annotated[str | None, typer.Option(help="results folder (default runs/<scenario>-<seed>-<time>)")] = None,
    scale: Annotated[float | None, typer.Option(help="multiply the population size")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a field: key=value")] = None,
    people_state: Annotated[bool, typer.Option("--people-state", help="also write people.parquet (one row per person)")] = False,
    checkpoint_every: Annotated[int | None, typer.Option(
        help="save the run's state every N steps, so that --resume can finish it after a crash")] = None,
    resume: Annotated[str | None, typer.Option(
        help="finish the checkpointed run whose results folder is this (no SOURCE or other options)")] = None,
    shards: Annotated[int | None, typer.Option(
        help="split the population's regions over N Ray actors (same result as one process)")] = None,
    address: Annotated[str | None, typer.Option(
        help="with --shards, or --resume of a sharded run: the Ray cluster to use (default: a local Ray)")] = None,
    threads: Annotated[int | None, typer.Option(
        help="run the regions' work on N threads, at most one per region (default: every core this process may "
             "use for 200,000 people or more, else 1); same result as one thread")] = None,
    memory_check: Annotated[bool, typer.Option(
        help="refuse a run whose memory estimate (which leans high) exceeds 90 % of the memory available")] = True,
    replicates: Annotated[int | None, typer.Option(
        help="run N seeds (the scenario's and the next N-1), each in a folder of its own under --out, and "
             "print means with 95 % intervals")] = None,
    cache: Annotated[bool, typer.Option(
        help="load the population and its contact layers from the population cache, or store them there "
             "(the same arrays either way; SCORELAB_NO_CACHE=1 also switches it off)")] = True,
) -> None:
    """Run a scenario with its counterfactual twin, write a results folder and print what the system did."""
    from scorelab import memory
    from scorelab.atomic import check_writable
    from scorelab.runner import execute
    from scorelab.tables import default_run_id

    if resume is not None:
        given = [n for n, v in (("SOURCE", source), ("--days", days), ("--seed", seed), ("--out", out),
                                ("--scale", scale), ("--set", set_), ("--checkpoint-every", checkpoint_every),
                                ("--shards", shards), ("--replicates", replicates), ("--threads", threads))
                 if v] + (["--people-state"] if people_state else [])
        if given:
            fail([f"--resume: the run continues as it was started; drop {', '.join(given)}"])
        _resume_command(resume, address)
        return
    if source is None:
        fail(["scorelab run: give a SOURCE (a built-in scenario or a YAML file), or --resume DIR"])
    if checkpoint_every is not None and checkpoint_every < 1:
        fail([f"--checkpoint-every: must be at least 1 step, got {checkpoint_every}"])
    if shards is not None and shards < 1:
        fail([f"--shards: must be at least 1, got {shards}"])
    if threads is not None and threads < 1:
        fail([f"--threads: must be at least 1, got {threads}"])
    if threads is not None and shards is not None:
        fail(["--threads: not with --shards (each Ray actor runs its regions on one thread)"])
    if replicates is not None and not 1 <= replicates <= MAX_REPLICATES:
        fail([f"--replicates: must be 1 to {MAX_REPLICATES}, got {replicates} (for more, scorelab sweep --replicates)"])
    if replicates is not None and checkpoint_every is not None:
        fail(["--replicates: not with --checkpoint-every (each replicate is short; resume is per run)"])
    if address is not None and shards is None:
        fail(["--address: only with --shards (or --resume of a sharded run)"])
    sets = with_days(set_, days)
    scenario = load_scenario(source, sets, seed, scale)
    if shards is not None:
        from scorelab.engine.sharded import check_shards

        try:
            check_shards(scenario, shards)
        except UsageError as e:
            fail([str(e)])
    n_threads, est, need, avail, fits = _threads_and_memory(scenario, shards, address, threads)
    fits = fits or not memory_check
    if not fits and shards is not None and address is None:
        fail([
            f"--shards {shards}: on this machine the driver holds the population and plan, Ray's object store a "
            f"copy of them, and each of the {shards} actors its regions' state, about {memory.human(need)} in all, "
            f"but about {memory.human(avail or 0)} is available; use fewer shards, --scale, or a Ray cluster "
            f"(--address)"
        ])
    if not fits:
        fail([
            f"scorelab run: {scenario.population.people:,} people need about {memory.human(est.total)} of memory "
            f"but about {memory.human(avail or 0)} is available ({est.describe()}); use --scale "
            f"{max(0.0001, 0.8 * (avail or 0) / max(est.total, 1)):.2g} for a smaller population, or a distributed run "
            f"(docs/results.md, memory model); the estimate leans high: --no-memory-check runs it anyway"
        ])
    folder = out if out is not None else str(Path("runs") / default_run_id(scenario))
    if replicates is not None and out is None:
        folder += f"-x{replicates}"
    try:
        for target in replicate_targets(Path(folder), scenario.run.seed, replicates):
            check_writable(target)
    except UsageError as e:
        fail([str(e)])
    command = _run_command(source, days, seed, scale, out, list(set_ or []), people_state, checkpoint_every, shards,
                           replicates, cache, threads)
    console = terminal(stderr=True)
    if scenario.run.rounding_note():
        console.print(safe(f"warning: {scenario.run.rounding_note()}"), highlight=False)
    console.print(safe(_building(scenario, shards, address, memory.human(need))), highlight=False)

    def built(seconds: float) -> None:
        burn_days = scenario.run.burn_in_steps * float(scenario.run.step)  # (the whole steps it runs)
        burn = f" after a burn-in of {burn_days:,g} days (not reported)" if scenario.run.burn_in else ""
        on = f" on {n_threads} threads" if n_threads > 1 else ""
        covered = scenario.run.reported_steps * float(scenario.run.step)  # (days rounded up to whole steps)
        console.print(f"built in {seconds:.1f} s; running {covered:,g} days{burn} beside the twin{on}...",
                      highlight=False)

    def execute_one(sc: Any, where: Any, cmd: str) -> Any:
        return _with_progress(console, lambda progress, compiling: execute(
            sc, out=where, people_state=people_state, on_built=built, command=cmd, progress=progress,
            checkpoint_every=checkpoint_every, shards=shards, ray_address=address, on_compile=compiling,
            threads=n_threads, cache=cache))

    if replicates is not None:
        seed_of = scenario.run.seed
        results = run_replicates(source, sets, scale, seed_of, replicates, Path(folder), execute_one, command)
        print_replicate_summary(results, Path(folder))
        return
    _print_summary(execute_one(scenario, folder, command))


def _resume_command(folder: str, address: str | None) -> None:
    from scorelab.runner import resume

    console = terminal(stderr=True)

    def built(seconds: float) -> None:
        console.print(safe(f"resuming {folder}: rebuilt the population in {seconds:.1f} s; continuing the day loop "
                           f"from its checkpoint..."), highlight=False)

    _print_summary(_with_progress(console, lambda progress, _compiling: resume(folder, progress=progress, on_built=built,
                                                                   ray_address=address)))


def _with_progress(console: Any, work: Callable[[Callable[[int, int], None], Callable[[], None]], Any]) -> Any:
    """Run ``work(progress, compiling)`` with a spinner and progress bar on a terminal (the
    spinner's line says when the kernels compile), or plain lines otherwise; a UsageError
    becomes a one-line failure."""
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeRemainingColumn

    from scorelab.runner import COMPILING

    try:
        if console.is_terminal:
            with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TimeRemainingColumn(), console=console) as bar:
                task = bar.add_task("building", total=None)

                def compiling_bar() -> None:
                    console.print(COMPILING + "...", highlight=False)
                    bar.update(task, description="compiling the kernels (first run only)")

                return work(lambda done, total: bar.update(task, completed=done, total=total, description="day loop"),
                            compiling_bar)
        last = [time.monotonic()]

        def plain(done: int, total: int) -> None:
            now = time.monotonic()
            if done == total or done % max(1, total // 10) == 0 or now - last[0] >= 10:
                last[0] = now
                console.print(f"step {done}/{total}", highlight=False)

        return work(plain, lambda: console.print(COMPILING + "...", highlight=False))
    except UsageError as e:
        fail([str(e)])
    except MemoryError:  # (the estimate was passed by, with --no-memory-check, or was short)
        fail(["scorelab run: out of memory; no results were written (use --scale for a smaller population, or keep "
              "the memory check on)"])


def _rate(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def _print_summary(result: Any) -> None:
    from scorelab.listings import coarse_figures
    from scorelab.metrics import few_events, per_thousand
    from scorelab.vocabulary import figure_unit, format_figure

    from scorelab.verdict import verdict

    head = result.summary()
    say("What the system did, against its counterfactual twin:")
    for sentence in verdict(result):
        say_lines(wrapped(f"- {sentence}", indent="  "))
    rates = per_thousand(head)
    out = table(f"{result.manifest['scenario']} (seed {result.seed}), against its counterfactual twin")
    out.add_column("what")
    out.add_column("value", justify="right")
    out.add_column("unit")
    out.add_column("per 1,000 people", justify="right")
    for k, v in head.items():
        out.add_row(k, format_figure(k, v), figure_unit(k) if v is not None else "", _rate(rates[k]) if k in rates else "")
    out.add_row("agent-days per second", f"{result.manifest['agent_days_per_second']:,.0f}", "", "")
    print_table(out)
    few = few_events(head)
    if few:
        listed = ", ".join(f"{k} ({n})" for k, n in few.items())
        say(f"warning: too few events to read per capita (+-44 % or more at 95 %): {listed}; "
            f"run more people (--scale) or replicates (scorelab sweep --replicates)", err=True)
    coarse = {k: why for k, why in coarse_figures(result).items() if k in head}  # (0 included: an empty list)
    if coarse:
        listed = ", ".join(f"{k} ({why})" for k, why in coarse.items())
        say(f"warning: resting on few simulated people or firms, each standing for many, these vary from run to run "
            f"far more than their counts suggest: {listed}; run more people (--scale) or replicates", err=True)
    say(f"results: {result.path}")
