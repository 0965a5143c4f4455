"""The ``scorelab schema`` command."""

from __future__ import annotations

import typer


def schema() -> None:
    """Print the JSON schema of scenario files."""
    import json

    from scorelab.scenario.model import Scenario

    typer.echo(json.dumps(Scenario.model_json_schema(by_alias=True, mode="validation"), indent=2))
