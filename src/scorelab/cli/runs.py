"""The ``scorelab runs`` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scorelab.cli.common import fail, say, print_table, table


def runs(directory: Annotated[str, typer.Argument(help="folder holding run folders")] = "runs") -> None:
    """List the run folders under DIRECTORY (default ./runs); a damaged one is skipped with one line."""
    from scorelab.tables import scan_runs

    base = Path(directory)
    if not base.is_dir():
        fail([f"{directory}: no such folder"])
    found, damaged = scan_runs(base)
    for line in damaged:  # (each names its folder and what is wrong)
        say(f"skipping {line}", err=True)
    partial = [d for d in base.iterdir() if d.is_dir() and d.name.startswith(".") and ".partial" in d.name]
    if not found:
        say(f"{directory}: no runs" + (f" ({len(partial)} incomplete)" if partial else ""))
        return
    listing = table(f"runs in {directory}")
    listing.add_column("run", no_wrap=True)
    for col, just in ( ("scenario", "left"), ("seed", "right"), ("days", "right"),
                      ("people", "right"), ("date", "left"), ("wall time", "right"), ("people.parquet", "left")):
        listing.add_column(col, justify=just)  # type: ignore[arg-type]
    for m in found:
        listing.add_row(Path(m["path"]).name, str(m.get("scenario", "?")), str(m.get("seed", "?")),
                        f"{m.get('days', 0):g}", f"{m.get('people', 0):,}", str(m.get("created", "?")).replace("T", " ")[:19],
                        f"{m.get('wall_seconds', 0):.1f} s", "yes" if m.get("people_state") else "no")
    print_table(listing)
    if partial:
        say(f"{len(partial)} incomplete run folder(s) (interrupted runs) not listed", err=True)
