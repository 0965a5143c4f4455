"""The ``scorelab schema`` command."""

from __future__ import annotations

from scorelab.cli.common import say_lines


def schema() -> None:
    """Print the JSON schema of scenario files."""
    import json

    from scorelab.scenario.model import Scenario

    say_lines(json.dumps(Scenario.model_json_schema(by_alias=True, mode="validation"), indent=2))
