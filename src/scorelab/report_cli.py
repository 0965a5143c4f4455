"""The ``scorelab report`` command (registered in cli.py with ``app.command()(report)``).

Heavy imports (matplotlib, polars) stay inside the function so ``scorelab --help`` is instant.
"""

from __future__ import annotations

from typing import Annotated

import typer


def report(
    runs: Annotated[list[str], typer.Argument(help="results folders; with two or more, the first is the baseline")],
    out: Annotated[str, typer.Option(help="the HTML file to write")] = "report.html",
    png: Annotated[str | None, typer.Option(help="also write every figure as a PNG into this folder")] = None,
) -> None:
    """Write one self-contained HTML report (no scripts, nothing loaded from elsewhere) of one
    or more runs; with two or more, a side-by-side comparison against the first."""
    from scorelab.errors import UsageError

    try:
        from scorelab import report as rep

        path = rep.write(runs, out, png)
    except UsageError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(2) from None
    size = path.stat().st_size
    typer.echo(f"report: {path} ({size:,} bytes)")
    if png is not None:
        typer.echo(f"figures: {png}")
