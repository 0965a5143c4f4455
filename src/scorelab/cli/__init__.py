"""The ``scorelab`` command: one module per subcommand, registered here in the order
``scorelab --help`` lists them; ``common`` holds what they share.

Nothing in the library imports this package. Imports of numba kernels and data libraries
stay inside the commands so that ``scorelab --help`` is instant.
"""

from __future__ import annotations

import sys

import typer

from scorelab.cli import calibrate, population, presets, query, report, run, runs, schema, show, sweep, validate
from scorelab.cli.common import say

app = typer.Typer(
    name="scorelab",
    help="Simulate social-credit and mass-scoring systems on synthetic populations.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _command in (validate.validate, schema.schema, presets.presets, show.show, population.population, run.run,
                 runs.runs, query.query, report.report, sweep.sweep, calibrate.calibrate):
    app.command()(_command)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        say("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
