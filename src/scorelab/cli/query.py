"""The ``scorelab query`` command: read-only SQL (DuckDB) over the run folders.

DuckDB is opened so that a query reads the run folders and nothing else: extensions are
neither installed nor loaded on demand, external access (files, URLs, ``COPY ... TO``,
``ATTACH``) is off except for the runs folder, and the configuration is locked so that SQL
cannot turn any of it back on. Only reading statements run (``SELECT``, ``WITH``, ``FROM``,
``DESCRIBE``, ``SHOW``, ``SUMMARIZE``): ``COPY``, ``INSTALL``, ``CREATE`` and the like are
refused with one line. A run folder whose Parquet files cannot be read is skipped with one
warning line naming it, and the other runs still answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from scorelab.cli.common import fail, print_table, say, table
from scorelab.errors import UsageError, require_extra

VIEWS = ("metrics", "people", "groups", "scores", "impact", "regions", "trajectories", "lending")
#: Views made only when a run holds their file (lending by group: runs with loans)
OPTIONAL_VIEWS = ("lending",)
FORMATS = ("table", "csv", "json")
#: The statement types a query may hold (DuckDB parses DESCRIBE, SHOW and SUMMARIZE as SELECT).
READING = ("SELECT",)


def _sql_list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def _first(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def query(
    sql: Annotated[str, typer.Argument(help="SQL over the views metrics, people, groups, scores, impact, regions, "
                                            "trajectories, lending, runs")],
    runs_dir: Annotated[str, typer.Option("--runs", help="folder holding run folders")] = "runs",
    limit: Annotated[int, typer.Option(help="most rows to print")] = 200,
    format_: Annotated[str, typer.Option("--format", help="table (default), csv or json (one object per row)")] = "table",
) -> None:
    """Run read-only SQL (DuckDB) over every run's Parquet files and print the result.

    Views: metrics (one row per run and step), people (runs saved with --people-state),
    groups (end state summed by group, province, city, urban), scores (end-score value counts),
    impact (each harm per 1,000 people by axis and cell, with intervals and ranks), regions (one
    row per run, region and step), trajectories (one row per run, sampled person and step), lending
    (one row per run, world, group and step: runs with loans only), runs (one row per run). Metric names hold dots: quote them, e.g. "score.mean".
    Only reading statements run; files outside the runs folder, URLs and extensions are out
    of reach.
    """
    try:
        duckdb = require_extra("duckdb", "sql", "scorelab query")
    except UsageError as e:
        fail([str(e)])

    if limit < 1:
        fail([f"--limit: must be at least 1, got {limit}"])
    if format_ not in FORMATS:
        fail([f"--format {format_}: expected one of {', '.join(FORMATS)}"])
    base = Path(runs_dir)
    if not base.is_dir():
        fail([f"--runs {runs_dir}: no such folder"])
    found = _readable_runs(base)
    if not found:
        fail([f"--runs {runs_dir}: no runs there"])
    _refuse_copies(runs_dir, found)
    con = _connect(base, found)
    _check_statements(con, sql)
    while True:
        try:
            cur = con.execute(sql)
            columns = [d[0] for d in cur.description] if cur.description is not None else []
            rows = cur.fetchmany(limit + 1) if columns else []
            break
        except duckdb.Error as e:
            damaged = _damaged_runs(con, found, base.resolve()) if _may_be_damage(e) else []
            if not damaged:
                fail([f"query: {_first(e)}{_hint(e, sql)}"])
            for m, why in damaged:
                say(f"skipping {m['path']}: damaged results folder: {why}", err=True)
            found = [m for m in found if all(m is not d for d, _ in damaged)]
            if not found:
                fail([f"--runs {runs_dir}: no readable runs there"])
            con = _connect(base, found)
    if not columns:
        say("ok")
        return
    if format_ == "table":
        out = table()
        for c in columns:
            out.add_column(c, overflow="fold")
        for row in rows[:limit]:
            out.add_row(*[_cell(v) for v in row])
        print_table(out)
    else:
        _write_rows(format_, columns, rows[:limit])
    if len(rows) > limit:
        say(f"(more than {limit} rows; showing the first {limit}; use --limit)", err=True)


def _write_rows(format_: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """Rows as CSV (a header line, then one line a row) or JSON Lines on standard output."""
    import csv
    import json
    import math
    import sys

    if format_ == "csv":
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(columns)
        w.writerows([["" if v is None else v for v in row] for row in rows])
    else:
        for row in rows:
            # NaN and infinities are not JSON: null, as a missing value
            clean = [None if isinstance(v, float) and not math.isfinite(v) else v for v in row]
            sys.stdout.write(json.dumps(dict(zip(columns, clean)), default=str) + "\n")


def _hint(e: BaseException, sql: str) -> str:
    """A hint for the commonest mistake: a metric name with dots left unquoted (DuckDB reads
    ``score.mean`` as the column ``mean`` of a table ``score``)."""
    import re

    for view in OPTIONAL_VIEWS:
        if f"Table with name {view} does not exist" in str(e):
            return f"; no run here has the {view} view (lending by group: a run whose people's consequence is a loan, " \
                   "service: loans)"
    m = re.search(r'Referenced (?:table|column) "([^"]+)" not found', str(e))
    if m is None:
        return ""
    dotted = re.search(r'(?<!")\b' + re.escape(m.group(1)) + r'(?:\.\w+)+', sql)
    if dotted is None:
        return ""
    return f'; metric names hold dots: quote them, e.g. "{dotted.group(0)}"'


def _files(m: dict[str, Any], root: Path | None = None) -> dict[str, Path]:
    """The view files a run folder holds, by view (under ``root``, the runs folder resolved,
    if given: the form in which DuckDB may read them)."""
    folder = Path(m["path"])
    where = folder if root is None else root / folder.name
    return {v: where / f"{v}.parquet" for v in VIEWS if (folder / f"{v}.parquet").is_file()}


def _readable_runs(base: Path) -> list[dict[str, Any]]:
    """The manifests of the runs under ``base`` that this scorelab reads and whose files are
    whole (``tables.scan_runs``: manifest, digests, footers, columns); one line for each
    skipped folder. (Damage a digest does not catch, in a folder written before digests, is
    found when a query reads it: ``_damaged_runs``.)"""
    from scorelab.tables import scan_runs

    found, damaged = scan_runs(base, verify=True)
    for line in damaged:  # (each names its folder and what is wrong)
        say(f"skipping {line}", err=True)
    return found


def _refuse_copies(runs_dir: str, found: list[dict[str, Any]]) -> None:
    """One-line refusal when two folders hold one run_id (a copied or renamed results folder):
    the views join runs by run_id, so their rows would be added together."""
    seen: dict[Any, str] = {}
    for m in found:
        rid = m.get("run_id")
        if rid in seen:
            fail([f"--runs {runs_dir}: run_id {rid!r} is in two folders, {seen[rid]} and {m['path']} (a copy of one "
                  f"run?): their rows would be added together; query them apart or move one away"])
        seen[rid] = str(m["path"])


def _connect(base: Path, found: list[dict[str, Any]]) -> Any:
    """An in-memory DuckDB with the views over ``found``, locked down: no extension installed
    or loaded on demand, no external access but to the runs folder, configuration locked."""
    import duckdb
    import polars as pl

    con = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False,
                                             "autoload_known_extensions": False,
                                             "allow_community_extensions": False})
    root = base.resolve()
    for view in VIEWS:
        files = [str(f) for m in found for v, f in _files(m, root).items() if v == view]
        if files:
            con.execute(f"CREATE VIEW {view} AS SELECT * FROM read_parquet({_sql_list(files)}, union_by_name = true)")
        elif view not in OPTIONAL_VIEWS:
            con.execute(f"CREATE VIEW {view} AS SELECT NULL::VARCHAR AS run_id WHERE false")
    runs_df = pl.DataFrame([{
        "run_id": m.get("run_id"), "scenario": m.get("scenario"), "seed": m.get("seed"), "days": m.get("days"),
        "people": m.get("people"), "created": m.get("created"), "wall_seconds": m.get("wall_seconds"),
        "agent_days_per_second": m.get("agent_days_per_second"), "scorelab_version": m.get("scorelab_version"),
        "people_state": bool(m.get("people_state")), "path": m["path"],
    } for m in found]).to_arrow()
    con.register("_runs_table", runs_df)
    con.execute("CREATE VIEW runs AS SELECT * FROM _runs_table")
    con.execute("SET allowed_directories = ?", [[str(root).rstrip("/") + "/"]])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def _check_statements(con: Any, sql: str) -> None:
    """One-line refusal of SQL that is empty, does not parse, or holds a statement that
    does not only read."""
    import duckdb

    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as e:
        fail([f"query: {_first(e)}"])
    if not statements:
        fail(["query: no SQL statement given, e.g. scorelab query 'select * from runs'"])
    for st in statements:
        if st.type.name not in READING:
            fail([f"query: {st.type.name} statements are refused: scorelab query only reads "
                  f"(SELECT, WITH, FROM, DESCRIBE, SHOW, SUMMARIZE)"])


def _may_be_damage(e: BaseException) -> bool:
    """Whether a failed query may have met a damaged file (not a mistake in the SQL)."""
    import duckdb

    mistakes = (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException, duckdb.PermissionException,
                duckdb.ConversionException, duckdb.OutOfRangeException, duckdb.InvalidInputException)
    return not isinstance(e, mistakes) or "parquet" in str(e).lower()


def _damaged_runs(con: Any, found: list[dict[str, Any]], root: Path) -> list[tuple[dict[str, Any], str]]:
    """The runs one of whose files fails to read in full, each with the first failure."""
    import duckdb

    out = []
    for m in found:
        for f in _files(m, root).values():
            try:
                con.execute("SELECT count(*) FROM read_parquet(?) WHERE hash(COLUMNS(*)) IS NOT NULL",
                            [str(f)]).fetchall()
            except duckdb.Error as e:
                out.append((m, f"{f.name}: {_first(e)}"))
                break
    return out


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)
