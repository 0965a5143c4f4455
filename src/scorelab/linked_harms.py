"""Harms that reach a person for someone else's rating, and fines on people: pure functions of a
run's tables, as ``metrics`` (which lists them in its catalogue and headline).

A consequence with ``through: parents`` applies to a child (a person under the scoring age) for
the grade or listing of a parent, the first two scored adults of the child's household (a
sanction that crosses generations: a school admission refused...); one with ``through:
employer`` applies to an employee for the grade or listing of the firm they work for (a layoff
or a wage cut at a blacklisted firm). Each application counts in its consequence's columns of
``metrics.parquet`` (``consequences.<name>.applied``...), as any; the person's ``linked_sanctions``
counter (``people.parquet``, summed in ``groups.parquet`` with ``linked_sanctioned_people``)
counts the sanctions a person got for another's rating. Formulas: docs/metrics.md.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from scorelab import vocabulary as V
from scorelab.tables import RunTables, as_run_tables

__all__ = ["fines", "has_fines", "has_links", "headline_figures", "linked_by_year", "linked_harms", "linked_summary"]

THROUGH = ("parents", "employer")


def _through(info: dict[str, Any]) -> str:
    return str(info.get("through", "self"))  # (runs written before the field: their own rating)


def _sum(r: RunTables, column: str) -> float:
    return float(r.metrics.get_column(column).sum()) if column in r.metrics.columns else 0.0


def has_links(r: Any) -> bool:
    """Whether the run has a consequence through parents or employer."""
    return any(_through(i) != "self" for i in as_run_tables(r).names["consequences"].values())


def has_fines(r: Any) -> bool:
    """Whether the run fines people (a fine whose actor is a person)."""
    return any(i["kind"] == "fine" and i["actor"] == "person" for i in as_run_tables(r).names["consequences"].values())


def linked_harms(r: Any) -> pl.DataFrame:
    """Each consequence through parents or employer: whose rating it reads, its kind, whether a
    sanction, times applied, wrongful (the parent's or employer's grade or listing would not hold
    on true records alone), money moved, the relative income change per application, and its
    harm in words: a child refused / sanctioned, an employee laid off / with a wage cut."""
    r = as_run_tables(r)
    rows = []
    for k, info in r.names["consequences"].items():
        through = _through(info)
        if through == "self":
            continue
        change = float(info.get("income_change", 0.0))
        rows.append((k, through, info["kind"], bool(info["sanction"]), int(_sum(r, f"consequences.{k}.applied")),
                     int(_sum(r, f"consequences.{k}.wrongful")), _sum(r, f"consequences.{k}.money"), change,
                     _harm(through, info["kind"], change, bool(info["sanction"]))))
    return pl.DataFrame(rows, schema={"consequence": pl.String, "through": pl.String, "kind": pl.String,
                                      "sanction": pl.Boolean, "applied": pl.Int64, "wrongful": pl.Int64,
                                      "money": pl.Float64, "income_change": pl.Float64, "harm": pl.String},
                        orient="row")


def _harm(through: str, kind: str, change: float, sanction: bool) -> str:
    who = "child" if through == "parents" else "employee"
    if not sanction:
        return f"{who} rewarded"
    if kind == "refusal":
        return f"{who} refused"
    if kind == "dismissal":
        return f"{who} laid off"
    if kind == "income" and change < 0:
        return f"{who} wage cut"
    return f"{who} sanctioned"


def linked_summary(r: Any) -> pl.DataFrame:
    """One row: sanctions of children for their parents' rating (refusals among them), of
    employees for their employer's (dismissals, wage cuts), the wrongful ones of each, and the
    people sanctioned at least once for another's rating."""
    r = as_run_tables(r)
    lh = linked_harms(r).filter(pl.col("sanction"))

    def total(through: str, col: str = "applied", harm: str | None = None) -> int:
        x = lh.filter(pl.col("through") == through)
        if harm is not None:
            x = x.filter(pl.col("harm") == harm)
        return int(x.get_column(col).sum())

    g = r.groups
    people = int(g.get_column("linked_sanctioned_people").sum()) if "linked_sanctioned_people" in g.columns else 0
    row = {
        "children_sanctioned": total("parents"), "children_refused": total("parents", harm="child refused"),
        "children_sanctioned_wrongfully": total("parents", "wrongful"),
        "employee_sanctions": total("employer"), "employees_laid_off": total("employer", harm="employee laid off"),
        "wage_cuts": total("employer", harm="employee wage cut"),
        "employee_sanctions_wrongful": total("employer", "wrongful"),
        "people_sanctioned_for_others": people,
    }
    return pl.DataFrame([row], schema={k: pl.Int64 for k in row})


def linked_by_year(r: Any) -> pl.DataFrame:
    """The flow of harms through parents and employer: per year of the run (from its first
    reported day) and link, the applications of the linked sanctions."""
    r = as_run_tables(r)
    lh = linked_harms(r).filter(pl.col("sanction"))
    m = r.metrics
    year = (m.get_column("day") // 365.25).cast(pl.Int64) if m.height else pl.Series([], dtype=pl.Int64)
    frames = []
    for through in THROUGH:
        cols = [f"consequences.{k}.applied" for k in lh.filter(pl.col("through") == through).get_column("consequence")]
        cols = [c for c in cols if c in m.columns]
        if not cols:
            continue
        applied = m.select(pl.sum_horizontal(*cols).alias("applied")).get_column("applied")
        frames.append(pl.DataFrame({"through": [through] * m.height, "year": year, "applied": applied})
                      .group_by("through", "year").agg(pl.col("applied").sum().cast(pl.Int64)))
    if not frames:
        return pl.DataFrame(schema={"through": pl.String, "year": pl.Int64, "applied": pl.Int64})
    return pl.concat(frames).sort("through", "year")


def fines(r: Any) -> pl.DataFrame:
    """Each fine on people: its amount, fines applied, the money paid (positive) and the wrongful
    fines (on a grade or listing that true records alone would not give)."""
    r = as_run_tables(r)
    rows = []
    for k, info in r.names["consequences"].items():
        if info["kind"] != "fine" or info["actor"] != "person":
            continue
        rows.append((k, _through(info), float(info.get("amount", 0.0)), int(_sum(r, f"consequences.{k}.applied")),
                     0.0 - _sum(r, f"consequences.{k}.money") + 0.0, int(_sum(r, f"consequences.{k}.wrongful"))))
    return pl.DataFrame(rows, schema={"consequence": pl.String, "through": pl.String, "amount": pl.Float64,
                                      "applied": pl.Int64, "paid": pl.Float64, "wrongful": pl.Int64}, orient="row")


def headline_figures(r: Any) -> dict[str, float]:
    """The headline's linked figures (runs with a consequence through parents or employer) and
    fine figures (runs that fine people), in ``vocabulary`` order; empty for other runs."""
    r = as_run_tables(r)
    out: dict[str, float] = {}
    if has_links(r):
        s = linked_summary(r).row(0, named=True)
        out.update({
            V.CHILDREN_SANCTIONED_FOR_PARENTS: float(s["children_sanctioned"]),
            V.CHILDREN_REFUSED_FOR_PARENTS: float(s["children_refused"]),
            V.SANCTIONS_FOR_EMPLOYER: float(s["employee_sanctions"]),
            V.EMPLOYEES_LAID_OFF_FOR_EMPLOYER: float(s["employees_laid_off"]),
            V.WAGE_CUTS_FOR_EMPLOYER: float(s["wage_cuts"]),
            V.PEOPLE_SANCTIONED_FOR_OTHERS: float(s["people_sanctioned_for_others"]),
        })
    if has_fines(r):
        f = fines(r)
        out[V.FINES_ON_PEOPLE_COUNT] = float(f.get_column("applied").sum())
        out[V.FINES_ON_PEOPLE] = float(f.get_column("paid").sum())
    return out
