"""The ``scorelab validate`` command."""

from __future__ import annotations

from typing import Annotated

import typer

from scorelab.cli.common import fail, parse_sets, say
from scorelab.errors import ScenarioError, UsageError


def validate(
    files: Annotated[list[str], typer.Argument(help="scenario files or built-in names")],
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a field: key=value (as run takes it)")] = None,
    scale: Annotated[float | None, typer.Option(help="multiply the population size (as run takes it)")] = None,
) -> None:
    """Check scenario files, with the --set and --scale a run would get; print every problem
    as file:line:col: field: message."""
    from scorelab.scenario.loader import load

    overrides = parse_sets(set_ or [])
    if scale is not None and not scale > 0:
        fail([f"--scale: must be > 0, got {scale}"])
    bad = False
    for f in files:
        try:
            sc = load(f, overrides or None, scale)
            say(f"{f}: ok")
            note = sc.run.rounding_note()
            if note:
                say(f"{f}: note: {note}")
        except ScenarioError as e:
            bad = True
            for p in e.problems:
                say(p, err=True)
        except UsageError as e:
            bad = True
            say(e, err=True)
    if bad:
        raise typer.Exit(2)
