"""The ``scorelab`` command. Imports of numba kernels and data libraries stay
inside the commands so that ``scorelab --help`` is instant."""

from __future__ import annotations

import sys
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


def _load(source: str, sets: list[str] | None = None, seed: int | None = None, scale: float | None = None) -> Any:
    from scorelab.scenario.loader import load

    overrides = _parse_sets(sets or [])
    if seed is not None:
        overrides["run.seed"] = seed
    try:
        scenario = load(source, overrides or None)
        if scale is not None:
            if not scale > 0:
                _fail([f"--scale: must be > 0, got {scale}"])
            size = max(1, round(scenario.population.people * scale))
            scenario = load(source, {**overrides, "population.people": size})
        return scenario
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
    table.add_row("memory, people and firms", f"{pop.nbytes / 2**20:,.1f} MiB")
    table.add_row("memory, contacts", f"{contacts.nbytes / 2**20:,.1f} MiB")
    table.add_row("build time", f"{t1 - t0:.2f} s + {t2 - t1:.2f} s")
    Console().print(table)


@app.command()
def run(
    source: Annotated[str, typer.Argument(help="a built-in scenario or a YAML file")],
    days: Annotated[int | None, typer.Option(help="override run.days")] = None,
    seed: Annotated[int | None, typer.Option(help="override run.seed")] = None,
    scale: Annotated[float | None, typer.Option(help="multiply the population size")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a field: key=value")] = None,
) -> None:
    """Run a scenario with its counterfactual twin and print what the system did."""
    import time

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.table import Table

    from scorelab.engine.simulation import simulate
    from scorelab.synth.contacts import build_contacts
    from scorelab.synth.population import build_population

    sets = list(set_ or [])
    if days is not None:
        sets.append(f"run.days={days}")
    scenario = _load(source, sets, seed, scale)
    console = Console(stderr=True)
    t0 = time.perf_counter()
    console.print(f"building {scenario.population.people:,} people and their contacts...")
    pop = build_population(scenario.population, scenario.run.seed)
    contacts = build_contacts(pop, scenario.contacts, scenario.run.seed)
    console.print(f"built in {time.perf_counter() - t0:.1f} s; compiling and running {scenario.run.days} days...")
    if console.is_terminal:
        with Progress(TextColumn("day loop"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      TimeRemainingColumn(), console=console) as bar:
            task = bar.add_task("run", total=1)
            out = simulate(scenario, pop, contacts, lambda done, total: bar.update(task, completed=done, total=total))
    else:
        def plain(done: int, total: int) -> None:
            if done == total or done % max(1, total // 10) == 0:
                console.print(f"step {done}/{total}")
        out = simulate(scenario, pop, contacts, plain)
    table = Table(title=f"{scenario.name} (seed {scenario.run.seed}), against its counterfactual twin")
    table.add_column("what")
    table.add_column("value", justify="right")
    for k, v in out.summary().items():
        table.add_row(k, f"{v:.1%}" if "share" in k else f"{v:,.0f}")
    table.add_row("agent-days per second", f"{out.agent_days_per_second:,.0f}")
    Console().print(table)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
