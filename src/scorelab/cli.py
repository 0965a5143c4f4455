"""The ``scorelab`` command. Imports of numba kernels and data libraries stay
inside the commands so that ``scorelab --help`` is instant."""

from __future__ import annotations

import sys
from pathlib import Path
from collections.abc import Callable
from typing import Annotated, Any, NoReturn

import typer

from scorelab.errors import ScenarioError, UsageError

app = typer.Typer(
    name="scorelab",
    help="Simulate social-credit and mass-scoring systems on synthetic populations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _fail(lines: list[str], code: int = 2) -> NoReturn:
    for line in lines:
        typer.echo(line, err=True)
    raise typer.Exit(code)


def _parse_sets(sets: list[str]) -> dict[str, Any]:
    """``key=value`` pairs; values are read as YAML scalars (numbers, booleans, quoted strings)."""
    import yaml

    out: dict[str, Any] = {}
    for item in sets:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            _fail([f"--set {item}: expected key=value, e.g. run.days=30"])
        try:
            out[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            out[key.strip()] = raw
    return out


def _with_days(sets: list[str] | None, days: int | None) -> list[str]:
    """The ``--set`` items with ``--days`` added as ``run.days`` (one-line failure if negative)."""
    out = list(sets or [])
    if days is not None:
        if days < 0:
            _fail([f"--days: must be >= 0, got {days}"])
        out.append(f"run.days={days}")
    return out


def _load(source: str, sets: list[str] | None = None, seed: int | None = None, scale: float | None = None) -> Any:
    from scorelab.scenario.loader import load

    overrides = _parse_sets(sets or [])
    if seed is not None:
        overrides["run.seed"] = seed
    try:
        if scale is not None and not scale > 0:
            _fail([f"--scale: must be > 0, got {scale}"])
        return load(source, overrides or None, scale)
    except ScenarioError as e:
        _fail([str(p) for p in e.problems])
    except UsageError as e:
        _fail([str(e)])


@app.command()
def validate(files: Annotated[list[str], typer.Argument(help="scenario files or built-in names")]) -> None:
    """Check scenario files; print every problem as file:line:col: field: message."""
    from scorelab.scenario.loader import load

    bad = False
    for f in files:
        try:
            load(f)
            typer.echo(f"{f}: ok")
        except ScenarioError as e:
            bad = True
            for p in e.problems:
                typer.echo(str(p), err=True)
    if bad:
        raise typer.Exit(2)


@app.command()
def schema() -> None:
    """Print the JSON schema of scenario files."""
    import json

    from scorelab.scenario.model import Scenario

    typer.echo(json.dumps(Scenario.model_json_schema(by_alias=True, mode="validation"), indent=2))


@app.command()
def presets() -> None:
    """List the built-in scenarios."""
    from scorelab.scenario.loader import load, preset_names

    for name in preset_names():
        s = load(name)
        first = (s.description.strip().splitlines() or [""])[0]
        typer.echo(f"{name:<20} {first}")


@app.command()
def show(source: Annotated[str, typer.Argument(help="a built-in scenario or a YAML file")]) -> None:
    """Print the resolved scenario (after extends and defaults) as YAML."""
    import yaml

    scenario = _load(source)
    data = scenario.model_dump(mode="json", by_alias=True)
    typer.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


@app.command()
def population(
    source: Annotated[str, typer.Argument(help="a built-in scenario or a YAML file")],
    seed: Annotated[int | None, typer.Option(help="override run.seed")] = None,
    scale: Annotated[float | None, typer.Option(help="multiply the population size")] = None,
    chunks: Annotated[int, typer.Option(help="build in this many chunks (same result)")] = 1,
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a field: key=value")] = None,
) -> None:
    """Build a scenario's synthetic population and contact layers and summarise them."""
    import time

    from rich.console import Console
    from rich.table import Table

    from scorelab.synth.contacts import build_contacts
    from scorelab.synth.population import build_population

    scenario = _load(source, set_, seed, scale)
    if chunks < 1:
        _fail([f"--chunks: must be >= 1, got {chunks}"])
    t0 = time.perf_counter()
    pop = build_population(scenario.population, scenario.run.seed, chunks=chunks)
    t1 = time.perf_counter()
    contacts = build_contacts(pop, scenario.contacts, scenario.run.seed, chunks=chunks)
    t2 = time.perf_counter()
    table = Table(title=f"{scenario.name}: synthetic population (seed {scenario.run.seed})")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("people", f"{pop.n:,}")
    table.add_row("firms", f"{pop.firms.n:,}")
    for name, layer in contacts.layers.items():
        table.add_row(f"{name} edges", f"{layer.n_edges:,}")
    table.add_row("memory, people and firms", f"{pop.nbytes() / 2**20:,.1f} MiB")
    table.add_row("memory, contacts", f"{contacts.nbytes() / 2**20:,.1f} MiB")
    table.add_row("build time", f"{t1 - t0:.2f} s + {t2 - t1:.2f} s")
    Console().print(table)


def _run_command(source: str, days: int | None, seed: int | None, scale: float | None, out: str | None,
                 sets: list[str], people_state: bool, checkpoint_every: int | None, shards: int | None) -> str:
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
    return shlex.join(parts)


@app.command()
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
    memory_check: Annotated[bool, typer.Option(
        help="refuse a run whose memory estimate (which leans high) exceeds 90 % of the memory available")] = True,
) -> None:
    """Run a scenario with its counterfactual twin, write a results folder and print what the system did."""
    from rich.console import Console

    from scorelab import memory
    from scorelab.results import check_writable, default_run_id, execute

    if resume is not None:
        given = [n for n, v in (("SOURCE", source), ("--days", days), ("--seed", seed), ("--out", out),
                                ("--scale", scale), ("--set", set_), ("--checkpoint-every", checkpoint_every),
                                ("--shards", shards))
                 if v] + (["--people-state"] if people_state else [])
        if given:
            _fail([f"--resume: the run continues as it was started; drop {', '.join(given)}"])
        _resume_command(resume, address)
        return
    if source is None:
        _fail(["scorelab run: give a SOURCE (a built-in scenario or a YAML file), or --resume DIR"])
    if checkpoint_every is not None and checkpoint_every < 1:
        _fail([f"--checkpoint-every: must be at least 1 step, got {checkpoint_every}"])
    if shards is not None and shards < 1:
        _fail([f"--shards: must be at least 1, got {shards}"])
    if address is not None and shards is None:
        _fail(["--address: only with --shards (or --resume of a sharded run)"])
    sets = _with_days(set_, days)
    scenario = _load(source, sets, seed, scale)
    if shards is not None:
        from scorelab.engine.sharded import check_shards

        try:
            check_shards(scenario, shards)
        except UsageError as e:
            _fail([str(e)])
    copies = shards + 1 if shards is not None and address is None else 1
    est, avail, fits = memory.check(scenario, copies)
    fits = fits or not memory_check
    if not fits and copies > 1:
        _fail([
            f"--shards {shards}: on this machine the driver and each of the {shards} actors hold the whole run, "
            f"{copies} x {memory.human(est.total)}, but about {memory.human(avail or 0)} is available; use fewer "
            f"shards, --scale, or a Ray cluster (--address)"
        ])
    if not fits:
        _fail([
            f"scorelab run: {scenario.population.people:,} people need about {memory.human(est.total)} of memory "
            f"but about {memory.human(avail or 0)} is available ({est.describe()}); use --scale "
            f"{max(0.0001, 0.8 * (avail or 0) / max(est.total, 1)):.2g} for a smaller population, or a distributed run "
            f"(docs/results.md, memory model); the estimate leans high: --no-memory-check runs it anyway"
        ])
    folder = out if out is not None else str(Path("runs") / default_run_id(scenario))
    try:
        check_writable(Path(folder))
    except UsageError as e:
        _fail([str(e)])
    command = _run_command(source, days, seed, scale, out, list(set_ or []), people_state, checkpoint_every, shards)
    console = Console(stderr=True)
    console.print(f"{scenario.name}: building {scenario.population.people:,} people and their contacts "
                  f"(estimated memory {memory.human(est.total)})...", highlight=False)

    def built(seconds: float) -> None:
        burn = f" after a burn-in of {scenario.run.burn_in:g} days (not reported)" if scenario.run.burn_in else ""
        console.print(f"built in {seconds:.1f} s; running {scenario.run.days} days{burn} beside the twin...",
                      highlight=False)

    result = _with_progress(console, lambda progress: execute(
        scenario, out=folder, people_state=people_state, on_built=built, command=command, progress=progress,
        checkpoint_every=checkpoint_every, shards=shards, ray_address=address))
    _print_summary(result)


def _resume_command(folder: str, address: str | None) -> None:
    from rich.console import Console

    from scorelab.results import resume

    console = Console(stderr=True)

    def built(seconds: float) -> None:
        console.print(f"resuming {folder}: rebuilt the population in {seconds:.1f} s; continuing the day loop "
                      f"from its checkpoint...", highlight=False)

    _print_summary(_with_progress(console, lambda progress: resume(folder, progress=progress, on_built=built,
                                                                   ray_address=address)))


def _with_progress(console: Any, work: Callable[[Callable[[int, int], None]], Any]) -> Any:
    """Run ``work(progress)`` with a progress bar on a terminal, or plain lines otherwise;
    a UsageError becomes a one-line failure."""
    import time

    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    try:
        if console.is_terminal:
            with Progress(TextColumn("day loop"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                          TimeRemainingColumn(), console=console) as bar:
                task = bar.add_task("run", total=None)
                return work(lambda done, total: bar.update(task, completed=done, total=total))
        last = [time.monotonic()]

        def plain(done: int, total: int) -> None:
            now = time.monotonic()
            if done == total or done % max(1, total // 10) == 0 or now - last[0] >= 10:
                last[0] = now
                console.print(f"step {done}/{total}", highlight=False)

        return work(plain)
    except UsageError as e:
        _fail([str(e)])


def _rate(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def _print_summary(result: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    from scorelab.results import format_value

    from scorelab.metrics import few_events, per_thousand

    head = result.summary()
    rates = per_thousand(head)
    table = Table(title=f"{result.manifest['scenario']} (seed {result.seed}), against its counterfactual twin")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_column("per 1,000 people", justify="right")
    for k, v in head.items():
        table.add_row(k, format_value(k, v), _rate(rates[k]) if k in rates else "")
    table.add_row("agent-days per second", f"{result.manifest['agent_days_per_second']:,.0f}", "")
    Console(width=max(100, Console().width)).print(table)
    few = few_events(head)
    if few:
        listed = ", ".join(f"{k} ({n})" for k, n in few.items())
        typer.echo(f"warning: too few events to read per capita (+-44 % or more at 95 %): {listed}; "
                   f"run more people (--scale) or replicates (scorelab sweep --replicates)", err=True)
    typer.echo(f"results: {result.path}")


@app.command()
def runs(directory: Annotated[str, typer.Argument(help="folder holding run folders")] = "runs") -> None:
    """List the run folders under DIRECTORY (default ./runs)."""
    from rich.console import Console
    from rich.table import Table

    from scorelab.results import list_runs

    base = Path(directory)
    if not base.is_dir():
        _fail([f"{directory}: no such folder"])
    found = list_runs(base)
    partial = [d for d in base.iterdir() if d.is_dir() and d.name.startswith(".") and ".partial" in d.name]
    if not found:
        typer.echo(f"{directory}: no runs" + (f" ({len(partial)} incomplete)" if partial else ""))
        return
    table = Table(title=f"runs in {directory}")
    table.add_column("run", no_wrap=True)
    for col, just in ( ("scenario", "left"), ("seed", "right"), ("days", "right"),
                      ("people", "right"), ("date", "left"), ("wall time", "right"), ("people.parquet", "left")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for m in found:
        table.add_row(Path(m["path"]).name, str(m.get("scenario", "?")), str(m.get("seed", "?")),
                      f"{m.get('days', 0):g}", f"{m.get('people', 0):,}", str(m.get("created", "?")).replace("T", " ")[:19],
                      f"{m.get('wall_seconds', 0):.1f} s", "yes" if m.get("people_state") else "no")
    Console(width=max(120, Console().width)).print(table)
    if partial:
        typer.echo(f"{len(partial)} incomplete run folder(s) (interrupted runs) not listed", err=True)


def _sql_list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


@app.command()
def query(
    sql: Annotated[str, typer.Argument(help="SQL over the views metrics, people, groups, scores, runs")],
    runs_dir: Annotated[str, typer.Option("--runs", help="folder holding run folders")] = "runs",
    limit: Annotated[int, typer.Option(help="most rows to print")] = 200,
) -> None:
    """Run SQL (DuckDB) over every run's Parquet files and print the result.

    Views: metrics (one row per run and step), people (runs saved with --people-state),
    groups (end state summed by group, province, city, urban), scores (end-score value counts),
    runs (one row per run). Metric names hold dots: quote them, e.g. "score.mean".
    """
    import duckdb
    import polars as pl
    from rich.console import Console
    from rich.table import Table

    from scorelab.results import READABLE_VERSIONS, list_runs

    base = Path(runs_dir)
    if not base.is_dir():
        _fail([f"--runs {runs_dir}: no such folder"])
    found = []
    for m in list_runs(base):
        if m.get("format_version") not in READABLE_VERSIONS:
            typer.echo(f"skipping {m['path']}: results format version {m.get('format_version')} is not readable "
                       f"by this scorelab", err=True)
            continue
        found.append(m)
    if not found:
        _fail([f"--runs {runs_dir}: no runs there"])
    con = duckdb.connect(":memory:")
    for view in ("metrics", "people", "groups", "scores"):
        files = [str(Path(m["path"]) / f"{view}.parquet") for m in found if (Path(m["path"]) / f"{view}.parquet").is_file()]
        if files:
            con.execute(f"CREATE VIEW {view} AS SELECT * FROM read_parquet({_sql_list(files)}, union_by_name = true)")
        else:
            con.execute(f"CREATE VIEW {view} AS SELECT NULL::VARCHAR AS run_id WHERE false")
    runs_df = pl.DataFrame([{
        "run_id": m.get("run_id"), "scenario": m.get("scenario"), "seed": m.get("seed"), "days": m.get("days"),
        "people": m.get("people"), "created": m.get("created"), "wall_seconds": m.get("wall_seconds"),
        "agent_days_per_second": m.get("agent_days_per_second"), "scorelab_version": m.get("scorelab_version"),
        "people_state": bool(m.get("people_state")), "path": m["path"],
    } for m in found]).to_arrow()
    con.register("_runs_table", runs_df)
    con.execute("CREATE VIEW runs AS SELECT * FROM _runs_table")
    try:
        cur = con.execute(sql)
        if cur.description is None:
            typer.echo("ok")
            return
        columns = [d[0] for d in cur.description]
        rows = cur.fetchmany(limit + 1)
    except duckdb.Error as e:
        _fail([f"query: {str(e).splitlines()[0]}"])
    table = Table()
    for c in columns:
        table.add_column(c)
    for row in rows[:limit]:
        table.add_row(*[_cell(v) for v in row])
    Console(width=max(120, Console().width)).print(table)
    if len(rows) > limit:
        typer.echo(f"(more than {limit} rows; showing the first {limit}; use --limit)", err=True)


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


from scorelab.report_cli import report  # noqa: E402  (imports only typer at module level)

app.command()(report)
from scorelab.sweep_cli import sweep; app.command()(sweep)  # noqa: E402, E702  (imports only typer at module level)
from scorelab.calibrate_cli import calibrate; app.command()(calibrate)  # noqa: E402, E702  (imports only typer at module level)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
