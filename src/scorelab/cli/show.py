"""The ``scorelab show`` command."""

from __future__ import annotations

from typing import Annotated

import typer

from scorelab.cli.common import fail, load_scenario, say_lines


def show(
    source: Annotated[str, typer.Argument(help="a built-in scenario or a YAML file")],
    section: Annotated[list[str] | None, typer.Option(
        "--section", help="print only this top-level section (repeat for several), e.g. --section scoring")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a field: key=value")] = None,
    scale: Annotated[float | None, typer.Option(help="multiply the population size")] = None,
) -> None:
    """Print the resolved scenario (after extends, --set and defaults) as YAML."""
    from scorelab.scenario.yamlread import dump_yaml

    scenario = load_scenario(source, set_, scale=scale)
    data = scenario.model_dump(mode="json", by_alias=True)
    if section:
        unknown = [s for s in section if s not in data]
        if unknown:
            fail([f"--section {unknown[0]}: no such section; sections: {', '.join(data)}"])
        data = {k: v for k, v in data.items() if k in section}
    text = dump_yaml(data)
    if not all(line.isprintable() for line in text.splitlines()):
        # YAML leaves some characters that a terminal acts on (U+202E...) as they are; without
        # allow_unicode it writes every non-ASCII character as an escape, which reads back the same
        text = dump_yaml(data, allow_unicode=False)
    say_lines(text)
