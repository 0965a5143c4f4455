"""The verdict: three plain sentences on what the system did to people against the twin, which
the command line prints and the report opens with (issue 22).

1. who was sanctioned, and how many of them wrongly;
2. what lawful behaviour fell;
3. which group lost most, on which harms, with counts (no group is named on too few events).

Every number carries its unit. Given replicates (runs of one scenario with different seeds), a
number is the replicates' mean with its 95 % interval (``sweep.statistics.describe``: counts by
Student t joined with Poisson, shares kept in [0, 1]); given one run, a count carries no
interval and the caller shows the single-seed warning.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import polars as pl

from scorelab import metrics as M
from scorelab.tables import RunTables, as_run_tables

#: Below this many events in the whole population no group is named as worst hit on a harm:
#: its relative sampling error (1 / sqrt(n)) would be over 22 % (``metrics.FEW_EVENTS``).
MIN_EVENTS = M.FEW_EVENTS
#: Harms the third sentence compares across groups: (column of the groups table, what it is).
HARMS = (("sanctions", "sanctions"), ("wrongful_sanctions", "wrongful sanctions"), ("flags", "police flags"),
         ("income_lost", "income lost"))


def _values(rs: Sequence[RunTables], f: Callable[[RunTables], float]) -> list[float]:
    return [float(f(r)) for r in rs]


def _number(values: list[float], kind: str = "count", digits: int = 0) -> str:
    """The mean of the replicates' values, with its interval when there are several."""
    from scorelab.intervals import describe

    d = describe(values, kind=kind)  # type: ignore[arg-type]
    fmt = (lambda x: f"{100 * x:.{digits}f} %") if kind == "share" else (lambda x: f"{x:,.{digits}f}")
    text = fmt(float(d["mean"] or 0.0))
    if len(values) > 1 and d["ci_lo"] is not None and d["ci_hi"] is not None:
        text += f" [{fmt(float(d['ci_lo']))}, {fmt(float(d['ci_hi']))}]"
    return text


def _plural(n: float, one: str, many: str) -> str:
    return one if round(n) == 1 else many


def sanctioned(rs: Sequence[RunTables]) -> str:
    """Who was sanctioned and how many wrongly."""
    ws = [M.wrongful_sanctions(r).row(0, named=True) for r in rs]
    people = _values(rs, lambda r: r.manifest.get("people") or 0)
    days = float(rs[0].manifest.get("days") or 0)
    hit = [float(w["people_sanctioned"]) for w in ws]
    if not any(hit):
        return f"Nobody was sanctioned in {days:g} days (the twin sanctions nobody either)."
    wrong = [float(w["people_wrongfully_sanctioned"]) for w in ws]
    per = [1000.0 * h / p for h, p in zip(hit, people)]
    if not any(wrong):
        return (f"In {days:g} days the system sanctioned {_number(hit)} {_plural(hit[0], 'person', 'people')} "
                f"({_number(per, 'nonnegative', 1)} per 1,000) at least once, where the twin sanctions nobody; none of "
                "them wrongfully (no sanction followed an erroneous record).")
    share = [w / h if h else 0.0 for w, h in zip(wrong, hit)]
    return (f"In {days:g} days the system sanctioned {_number(hit)} {_plural(hit[0], 'person', 'people')} "
            f"({_number(per, 'nonnegative', 1)} per 1,000) at least once, where the twin sanctions nobody; "
            f"{_number(wrong)} of them ({_number(share, 'share')}) wrongfully: erroneous records put them there, "
            "and on true records alone they would not have been sanctioned.")


def lawful_behaviour(rs: Sequence[RunTables]) -> str:
    """What lawful behaviour fell against the twin."""
    chill = [M.chilling(r).filter(pl.col("kind") == "disfavoured") for r in rs]
    if chill[0].height == 0:
        return "The scenario watches no lawful behaviour, so none can fall."
    sup = [float(c.get_column("suppressed").sum()) for c in chill]
    twin = [float(c.get_column("events_twin").sum()) for c in chill]
    if not any(sup):
        return "No lawful behaviour fell: people acted as they do in the twin."
    share = [s / t if t else 0.0 for s, t in zip(sup, twin)]
    top = chill[0].filter(pl.col("suppressed") > 0).sort("suppressed", descending=True).head(3)
    acts = ", ".join(f"{b.replace('_', ' ')} ({100 * (s or 0.0):.1f} % fewer)"
                     for b, s in zip(top.get_column("behaviour").to_list(), top.get_column("suppressed_share").to_list()))
    return (f"Lawful behaviour fell: {_number(sup)} lawful acts ({_number(share, 'share', 1)} of the twin's) did not "
            f"happen that would have without the system; the largest falls: {acts}.")


def _group_cells(r: RunTables) -> pl.DataFrame:
    return M.disparate_impact(r, "group")


def groups_hit(rs: Sequence[RunTables]) -> str:
    """Which group lost most, on which harms, against the overall rate (counts given)."""
    cells = [_group_cells(r) for r in rs]
    if cells[0].height < 2:
        return "The population is one group, so no group can lose more than another (see impact by region)."
    worst: dict[str, list[str]] = {}
    too_few = []
    sanctions = sum(float(c.get_column("sanctions").sum()) for c in cells) / len(cells)
    for col, what in HARMS:
        total = sum(float(c.get_column(col).sum()) for c in cells) / len(cells)
        if col == "income_lost" and sanctions < MIN_EVENTS:
            continue  # (income is lost mostly through sanctions: too few of them to rank it either)
        if col != "income_lost" and total < MIN_EVENTS:
            if total > 0:
                too_few.append(f"{what} ({total:,.0f})")
            continue
        if total <= 0:
            continue
        mean = cells[0].select("group").with_columns(
            pl.Series("ratio", [sum(float(c.get_column(f"{col}_ratio")[i] or 0.0) for c in cells) / len(cells)
                                for i in range(cells[0].height)]),
            pl.Series("count", [sum(float(c.get_column(col)[i]) for c in cells) / len(cells)
                                for i in range(cells[0].height)]))
        row = mean.sort("ratio", descending=True).row(0, named=True)
        count = f"{row['count']:,.0f} CNY" if col == "income_lost" else f"{row['count']:,.0f}"
        worst.setdefault(str(row["group"]), []).append(f"{row['ratio']:.2f} times the overall rate of {what} ({count})")
    if not worst:
        few = f": too few {', '.join(too_few)}" if too_few else ""
        return f"No group can be named as hit hardest{few}; run more people (--scale) or replicates."
    name, harms = max(worst.items(), key=lambda kv: len(kv[1]))
    text = f"The group hit hardest was {name}: " + "; ".join(harms) + "."
    others = [f"{g} on {len(h)} harm{'s' if len(h) > 1 else ''}" for g, h in worst.items() if g != name]
    if others:
        text += " Worst on other harms: " + ", ".join(others) + "."
    if too_few:
        text += f" Too few events to rank groups on {', '.join(too_few)}."
    return text


def verdict(results: Sequence[Any] | Any) -> list[str]:
    """The three sentences for one run, or for replicates of one scenario (means with intervals)."""
    rs = [as_run_tables(r) for r in (results if isinstance(results, (list, tuple)) else [results])]
    return [sanctioned(rs), lawful_behaviour(rs), groups_hit(rs)]
