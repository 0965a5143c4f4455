"""The ``scorelab report`` command.

Heavy imports (matplotlib, polars) stay inside the function so ``scorelab --help`` is instant.
"""

from __future__ import annotations

from typing import Annotated

import typer

from scorelab.cli.common import fail, say


def _expanded(runs: list[str]) -> list[str]:
    """The folders to report: a folder of run folders (``scorelab run --replicates`` writes
    one) stands for the runs in it, oldest first."""
    from pathlib import Path

    from scorelab.tables import scan_runs

    out: list[str] = []
    for item in runs:
        base = Path(item)
        if base.is_dir() and not (base / "manifest.json").exists():
            found, damaged = scan_runs(base)
            for line in damaged:
                say(f"skipping {line}", err=True)
            if found:
                out += [str(m["path"]) for m in found]
                continue
        out.append(item)
    return out


def report(
    runs: Annotated[list[str], typer.Argument(
        help="results folders (with two or more, the first is the baseline; runs of one scenario with different "
             "seeds are reported as replicates), a folder of them (run --replicates), or one sweep folder")],
    out: Annotated[str, typer.Option(help="the HTML file to write")] = "report.html",
    png: Annotated[str | None, typer.Option(help="also write every figure as a PNG into this folder")] = None,
) -> None:
    """Write one self-contained HTML report (no scripts, nothing loaded from elsewhere) of one
    or more runs; with two or more, a side-by-side comparison against the first; of a sweep
    folder, the sweep's means and intervals by setting."""
    from pathlib import Path

    from scorelab.errors import UsageError

    try:
        if len(runs) == 1 and (Path(runs[0]) / "sweep.json").is_file():
            from scorelab.report import sweep as sweep_report

            if png is not None:
                raise UsageError("--png: not available for a sweep report")
            path = sweep_report.write(runs[0], out)
        else:
            from scorelab import report as rep

            path = rep.write(_expanded(runs), out, png)
    except UsageError as e:
        fail([str(e)])
    size = path.stat().st_size
    say(f"report: {path} ({size:,} bytes)")
    if png is not None:
        say(f"figures: {png}")
