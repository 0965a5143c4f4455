"""The ``scorelab explore`` command: a local web explorer (the ``explore`` extra)."""

from __future__ import annotations

from typing import Annotated

import typer

from scorelab.cli.common import fail, say


def explore(
    scenario: Annotated[str | None, typer.Argument(
        help="the starting scenario: a YAML file or a built-in name (default: rongcheng-2018)")] = None,
    people: Annotated[int, typer.Option(help="people simulated per run (each view runs 3 seeds)")] = 5000,
    port: Annotated[int, typer.Option(help="the port to serve on")] = 8765,
    host: Annotated[str, typer.Option(help="the address to bind (default: this machine only)")] = "127.0.0.1",
    save: Annotated[str | None, typer.Option(
        help="where 'Save this scenario' writes a scenario file that extends the starting one")] = None,
) -> None:
    """Serve a local web page to move the levers of a scoring system (safeguards, errors, channels,
    responses, investigations) and see the effect against the counterfactual twin."""
    from pathlib import Path

    from scorelab.errors import ScenarioError, UsageError
    from scorelab.scenario.loader import preset_names

    start = scenario or "rongcheng-2018"
    if not 1 <= people <= 10_000_000:
        fail([f"scorelab explore: --people must be between 1 and 10,000,000, got {people}"])
    if not 1 <= port <= 65535:
        fail([f"scorelab explore: --port must be between 1 and 65535, got {port}"])
    try:
        from scorelab.explore.views import start_of

        start_of(start)
        from scorelab.explore.server import serve

        choices = [start] + [p for p in preset_names() if p != start]
        serve(choices, people, host, port, Path(save) if save else None, announce=say)
    except (ScenarioError, UsageError) as e:
        fail([str(e).splitlines()[0]])
    except OSError as e:
        fail([f"scorelab explore: cannot serve on {host}:{port}: {e.strerror or e}"])
