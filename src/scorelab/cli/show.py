"""The ``scorelab show`` command."""

from __future__ import annotations

from typing import Annotated

import typer

from scorelab.cli.common import load_scenario


def show(source: Annotated[str, typer.Argument(help="a built-in scenario or a YAML file")]) -> None:
    """Print the resolved scenario (after extends and defaults) as YAML."""
    from scorelab.scenario.yamlread import dump_yaml

    scenario = load_scenario(source)
    data = scenario.model_dump(mode="json", by_alias=True)
    typer.echo(dump_yaml(data))
