"""The ``scorelab show`` command."""

from __future__ import annotations

from typing import Annotated

import typer

from scorelab.cli.common import load_scenario, say_lines


def show(source: Annotated[str, typer.Argument(help="a built-in scenario or a YAML file")]) -> None:
    """Print the resolved scenario (after extends and defaults) as YAML."""
    from scorelab.scenario.yamlread import dump_yaml

    scenario = load_scenario(source)
    data = scenario.model_dump(mode="json", by_alias=True)
    text = dump_yaml(data)
    if not all(line.isprintable() for line in text.splitlines()):
        # YAML leaves some characters that a terminal acts on (U+202E...) as they are; without
        # allow_unicode it writes every non-ASCII character as an escape, which reads back the same
        text = dump_yaml(data, allow_unicode=False)
    say_lines(text)
