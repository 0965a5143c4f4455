"""The ``scorelab population`` command."""

from __future__ import annotations

from typing import Annotated

import typer

from scorelab.cli.common import fail, load_scenario, print_table, table


def population(
    source: Annotated[str, typer.Argument(help="a built-in scenario or a YAML file")],
    seed: Annotated[int | None, typer.Option(help="override run.seed")] = None,
    scale: Annotated[float | None, typer.Option(help="multiply the population size")] = None,
    chunks: Annotated[int, typer.Option(help="build in this many chunks (same result)")] = 1,
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a field: key=value")] = None,
) -> None:
    """Build a scenario's synthetic population and contact layers and summarise them."""
    import time

    from scorelab.synth.contacts import build_contacts
    from scorelab.synth.population import build_population

    scenario = load_scenario(source, set_, seed, scale)
    if chunks < 1:
        fail([f"--chunks: must be >= 1, got {chunks}"])
    t0 = time.perf_counter()
    pop = build_population(scenario.population, scenario.run.seed, chunks=chunks)
    t1 = time.perf_counter()
    contacts = build_contacts(pop, scenario.contacts, scenario.run.seed, chunks=chunks)
    t2 = time.perf_counter()
    summary = table(f"{scenario.name}: synthetic population (seed {scenario.run.seed})")
    summary.add_column("what")
    summary.add_column("value", justify="right")
    summary.add_row("people", f"{pop.n:,}")
    summary.add_row("firms", f"{pop.firms.n:,}")
    for name, layer in contacts.layers.items():
        summary.add_row(f"{name} edges", f"{layer.n_edges:,}")
    summary.add_row("memory, people and firms", f"{pop.nbytes() / 2**20:,.1f} MiB")
    summary.add_row("memory, contacts", f"{contacts.nbytes() / 2**20:,.1f} MiB")
    summary.add_row("build time", f"{t1 - t0:.2f} s + {t2 - t1:.2f} s")
    print_table(summary)
