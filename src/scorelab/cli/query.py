"""The ``scorelab query`` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from scorelab.cli.common import fail


def _sql_list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def query(
    sql: Annotated[str, typer.Argument(help="SQL over the views metrics, people, groups, scores, runs")],
    runs_dir: Annotated[str, typer.Option("--runs", help="folder holding run folders")] = "runs",
    limit: Annotated[int, typer.Option(help="most rows to print")] = 200,
) -> None:
    """Run SQL (DuckDB) over every run's Parquet files and print the result.

    Views: metrics (one row per run and step), people (runs saved with --people-state),
    groups (end state summed by group, province, city, urban), scores (end-score value counts),
    runs (one row per run). Metric names hold dots: quote them, e.g. "score.mean".
    """
    import duckdb
    import polars as pl
    from rich.console import Console
    from rich.table import Table

    from scorelab.tables import scan_runs

    base = Path(runs_dir)
    if not base.is_dir():
        fail([f"--runs {runs_dir}: no such folder"])
    found, damaged = scan_runs(base, verify=True)
    for line in damaged:  # (a damaged or unreadable folder, named, with what is wrong)
        typer.echo(f"skipping {line}", err=True)
    if not found:
        fail([f"--runs {runs_dir}: no runs there"])
    con = duckdb.connect(":memory:")
    for view in ("metrics", "people", "groups", "scores"):
        files = [str(Path(m["path"]) / f"{view}.parquet") for m in found if (Path(m["path"]) / f"{view}.parquet").is_file()]
        if files:
            con.execute(f"CREATE VIEW {view} AS SELECT * FROM read_parquet({_sql_list(files)}, union_by_name = true)")
        else:
            con.execute(f"CREATE VIEW {view} AS SELECT NULL::VARCHAR AS run_id WHERE false")
    runs_df = pl.DataFrame([{
        "run_id": m.get("run_id"), "scenario": m.get("scenario"), "seed": m.get("seed"), "days": m.get("days"),
        "people": m.get("people"), "created": m.get("created"), "wall_seconds": m.get("wall_seconds"),
        "agent_days_per_second": m.get("agent_days_per_second"), "scorelab_version": m.get("scorelab_version"),
        "people_state": bool(m.get("people_state")), "path": m["path"],
    } for m in found]).to_arrow()
    con.register("_runs_table", runs_df)
    con.execute("CREATE VIEW runs AS SELECT * FROM _runs_table")
    try:
        cur = con.execute(sql)
        if cur.description is None:
            typer.echo("ok")
            return
        columns = [d[0] for d in cur.description]
        rows = cur.fetchmany(limit + 1)
    except duckdb.Error as e:
        fail([f"query: {str(e).splitlines()[0]}"])
    table = Table()
    for c in columns:
        table.add_column(c)
    for row in rows[:limit]:
        table.add_row(*[_cell(v) for v in row])
    Console(width=max(120, Console().width)).print(table)
    if len(rows) > limit:
        typer.echo(f"(more than {limit} rows; showing the first {limit}; use --limit)", err=True)


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)
