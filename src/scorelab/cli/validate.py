"""The ``scorelab validate`` command."""

from __future__ import annotations

from typing import Annotated

import typer

from scorelab.cli.common import say
from scorelab.errors import ScenarioError


def validate(files: Annotated[list[str], typer.Argument(help="scenario files or built-in names")]) -> None:
    """Check scenario files; print every problem as file:line:col: field: message."""
    from scorelab.scenario.loader import load

    bad = False
    for f in files:
        try:
            load(f)
            say(f"{f}: ok")
        except ScenarioError as e:
            bad = True
            for p in e.problems:
                say(p, err=True)
    if bad:
        raise typer.Exit(2)
