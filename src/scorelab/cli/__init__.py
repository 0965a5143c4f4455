"""The ``scorelab`` command: one module per subcommand, registered here in the order
``scorelab --help`` lists them; ``common`` holds what they share.

Nothing in the library imports this package. Imports of numba kernels and data libraries
stay inside the commands so that ``scorelab --help`` is instant.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from scorelab.cli import (cache, calibrate, explore, population, presets, query, report, run, runs, schema, show, sweep,
                          validate)
from scorelab.cli.common import say

app = typer.Typer(
    name="scorelab",
    help="Simulate social-credit and mass-scoring systems on synthetic populations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from scorelab import __version__

        say(f"scorelab {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="print the version and exit")] = False,
) -> None:
    """Simulate social-credit and mass-scoring systems on synthetic populations."""

for _command in (validate.validate, schema.schema, presets.presets, show.show, population.population, run.run,
                 runs.runs, query.query, report.report, sweep.sweep, calibrate.calibrate, explore.explore,
                 cache.cache):
    app.command()(_command)


def main(argv: list[str] | None = None) -> None:
    """The ``scorelab`` command. A misused command line (an unknown option, a value of the wrong
    type, a missing argument) is one line naming the command and the option, exit 2, instead
    of click's framed usage message."""
    # (click's UsageError, whether typer uses click or its own copy of it)
    usage_error = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
    try:
        code = app(args=argv, prog_name="scorelab", standalone_mode=False)
    except usage_error as e:
        if type(e).__name__ == "NoArgsIsHelpError":  # (the help is printed: no command was given)
            sys.exit(2)
        where = e.ctx.command_path if e.ctx is not None else "scorelab"
        say(f"{where}: {' '.join(e.format_message().split())} (see {where} --help)", err=True)
        sys.exit(2)
    except typer.Abort:
        say("aborted", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        say("interrupted", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
