"""Classroom monitoring of pupils: pure functions of a run's tables, as ``metrics`` (which lists
them in its catalogue and headline). Expected values: docs/classroom.md.

Each classroom channel counts covered school days and acts of the watched conduct, the records
it made (conduct seen; false positives on school days without it), those about pupils (people
under the scoring age: data the school holds about minors) and the records made against their
parents (``counts_against: parents``). The sanctions of people after a pupil's record was made
against them are one column of the block; per person, ``records_for_child`` in ``people.parquet``.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from scorelab import vocabulary as V
from scorelab.tables import RunTables, as_run_tables

__all__ = ["COLUMNS", "classroom", "headline_figures", "parent_sanctions"]

#: The per-channel columns (``engine.layout.CLASSROOM_COLUMNS``; not imported: reading results
#: does not import the engine)
COLUMNS = ("school_days", "acts", "hits", "false_positives", "pupil_records", "pupil_records_false",
           "parent_records", "parent_records_false")


def _sum(r: RunTables, column: str) -> int:
    return int(r.metrics.get_column(column).sum()) if column in r.metrics.columns else 0


def classroom(r: Any) -> pl.DataFrame:
    """Each classroom channel: covered school days and acts of the watched conduct, records of
    conduct seen (true) and false positives, of them the records about pupils and the false
    ones, the records against parents and the false ones, and the false share of the pupils'."""
    r = as_run_tables(r)
    rows = []
    for c in r.names.get("classroom", []):
        v = [_sum(r, f"classroom.{c}.{x}") for x in COLUMNS]
        rows.append((c, *v, v[5] / v[4] if v[4] else None))
    return pl.DataFrame(rows, schema={"channel": pl.String, **{x: pl.Int64 for x in COLUMNS},
                                      "pupil_false_share": pl.Float64}, orient="row")


def parent_sanctions(r: Any) -> int:
    """Sanctions of people after a record was made against them for a pupil's act."""
    return _sum(as_run_tables(r), "classroom.parent_sanctions")


def headline_figures(r: Any) -> dict[str, float]:
    """The headline's classroom figures (``vocabulary.CLASSROOM_FIGURES``); empty for runs without."""
    t = classroom(r)
    if not t.height:
        return {}
    return {V.PUPIL_RECORDS: float(t.get_column("pupil_records").sum()),
            V.PUPIL_RECORDS_ERRONEOUS: float(t.get_column("pupil_records_false").sum()),
            V.PARENT_RECORDS_FOR_PUPILS: float(t.get_column("parent_records").sum()),
            V.PARENT_SANCTIONS_FOR_PUPILS: float(parent_sanctions(r))}
