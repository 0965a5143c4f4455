"""The ``scorelab presets`` command."""

from __future__ import annotations

import typer


def presets() -> None:
    """List the built-in scenarios."""
    from scorelab.scenario.loader import load, preset_names

    for name in preset_names():
        s = load(name)
        first = (s.description.strip().splitlines() or [""])[0]
        typer.echo(f"{name:<20} {first}")
