"""The ``scorelab presets`` command."""

from __future__ import annotations

from scorelab.cli.common import say


def presets() -> None:
    """List the built-in scenarios."""
    from scorelab.scenario.loader import load, preset_names

    for name in preset_names():
        s = load(name)
        first = (s.description.strip().splitlines() or [""])[0]
        say(f"{name:<20} {first}")
