"""What the commands share: one-line failures, ``--set`` and ``--days``, loading a scenario.

Imports of numba kernels and data libraries stay inside the commands so that
``scorelab --help`` is instant.
"""

from __future__ import annotations

from typing import Any, NoReturn

import typer

from scorelab.errors import ScenarioError, UsageError


def fail(lines: list[str], code: int = 2) -> NoReturn:
    """Print each line to stderr and exit with ``code`` (2: a usage problem)."""
    for line in lines:
        typer.echo(line, err=True)
    raise typer.Exit(code)


def parse_sets(sets: list[str]) -> dict[str, Any]:
    """``key=value`` pairs; values are read as YAML scalars (numbers, booleans, quoted strings)."""
    from scorelab.scenario.loader import override_value

    out: dict[str, Any] = {}
    for item in sets:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            fail([f"--set {item}: expected key=value, e.g. run.days=30"])
        out[key.strip()] = override_value(raw)
    return out


def with_days(sets: list[str] | None, days: int | None) -> list[str]:
    """The ``--set`` items with ``--days`` added as ``run.days`` (one-line failure if negative)."""
    out = list(sets or [])
    if days is not None:
        if days < 0:
            fail([f"--days: must be >= 0, got {days}"])
        out.append(f"run.days={days}")
    return out


def load_scenario(source: str, sets: list[str] | None = None, seed: int | None = None,
                  scale: float | None = None) -> Any:
    """The scenario ``source`` with ``--set`` items, ``--seed`` and ``--scale`` applied; every
    problem of the file is a one-line failure."""
    from scorelab.scenario.loader import load

    overrides = parse_sets(sets or [])
    if seed is not None:
        overrides["run.seed"] = seed
    try:
        if scale is not None and not scale > 0:
            fail([f"--scale: must be > 0, got {scale}"])
        return load(source, overrides or None, scale)
    except ScenarioError as e:
        fail([str(p) for p in e.problems])
    except UsageError as e:
        fail([str(e)])
