"""The verdict: three plain sentences on what the system did to people against the twin, which
the command line prints and the report opens with (issue 22), and a fourth where there are loans.

1. who was sanctioned, and how many of them wrongly;
2. what lawful behaviour fell;
3. which group lost most, on which harms, with counts (by the impact table's rules: no group is
   ranked on too few events, nor named without another ranked group to compare it with);
4. with loans: the applications refused, each group's share refused and its credit level.

Every number carries its unit. Given replicates (runs of one scenario with different seeds), a
number is the replicates' mean with its 95 % interval (``sweep.statistics.describe``: counts by
Student t joined with Poisson, shares kept in [0, 1]); given one run, a count carries no
interval and the caller shows the single-seed warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from scorelab import metrics as M
from scorelab.impact import MIN_EVENTS, MIN_PEOPLE, MONEY
from scorelab.tables import RunTables, as_run_tables

#: Harms the third sentence compares across groups: (column of the groups table, what it is).
HARMS = (("sanctions", "sanctions"), ("wrongful_sanctions", "wrongful sanctions"), ("flags", "police flags"),
         ("income_lost", "income lost"))


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
    people = [float(r.manifest.get("people") or 0) for r in rs]
    days = float(rs[0].manifest.get("days") or 0)
    hit = [float(w["people_sanctioned"]) for w in ws]
    if not any(hit):
        return f"Nobody was sanctioned in {days:g} days (the twin sanctions nobody either)."
    wrong = [float(w["people_wrongfully_sanctioned"]) for w in ws]
    per = [1000.0 * h / p for h, p in zip(hit, people)]
    head = (f"In {days:g} days the system sanctioned {_number(hit)} {_plural(hit[0], 'person', 'people')} "
            f"({_number(per, 'nonnegative', 1)} per 1,000) at least once, where the twin sanctions nobody; ")
    if not any(wrong):
        return head + "none of them wrongfully (no sanction followed an erroneous record)."
    share = [w / h if h else 0.0 for w, h in zip(wrong, hit)]
    return (head + f"{_number(wrong)} of them ({_number(share, 'share', 1)}) wrongfully: erroneous records put them "
            "there, and on true records alone they would not have been sanctioned.")


def lawful_behaviour(rs: Sequence[RunTables]) -> str:
    """What lawful behaviour fell against the twin."""
    chill = [M.chilling(r).filter((pl.col("kind") == "disfavoured") & (pl.col("actor") == "person")) for r in rs]
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


#: A worst-hit group whose rate is below this multiple of the overall rate is not called "hit
#: hardest": the groups were hit alike.
ALIKE = 1.1


def _harm_phrase(ws: list[Any], what: str) -> str:
    """One harm's line for the worst-hit group (means over replicates)."""
    ratio = sum(float(w.ratio or 0.0) for w in ws) / len(ws)
    if ws[0].harm == MONEY:
        affected = sum(float(w.affected or 0) for w in ws) / len(ws)
        people = sum(float(w.people) for w in ws) / len(ws)
        if not affected:  # (a folder written before the people who lost income were counted)
            return f"{ratio:.2f} times the overall {what} per person ({sum(float(w.count) for w in ws) / len(ws):,.0f} CNY)"
        return f"{ratio:.2f} times the overall {what} per person ({affected:,.0f} of {people:,.0f} people lost income)"
    count = sum(float(w.count) for w in ws) / len(ws)
    return f"{ratio:.2f} times the overall rate of {what} ({count:,.0f})"


def groups_hit(rs: Sequence[RunTables]) -> str:
    """Which group lost most, on which harms, against the overall rate (counts given), by the
    impact table's rules (``scorelab.impact``: a group is ranked on a harm only with at least
    ``MIN_EVENTS`` events among ``MIN_PEOPLE`` people, and named only against another ranked
    group); over replicates, only a group every seed names."""
    worst: dict[str, list[str]] = {}
    unranked, varies, alike, absent = [], [], [], []
    for harm, what in HARMS:
        ws = [M.worst_hit(r, harm, "group") for r in rs]
        cells = {w.cell for w in ws}
        if len(cells) > 1 and None not in cells:
            varies.append(what)
        elif len(cells) > 1 or ws[0].cell is None:
            if "one group only" in ws[0].reason:
                return "The population is one group, so no group can lose more than another (see impact by region)."
            if not ws[0].reason.startswith("none (no "):
                unranked.append(what)
            else:
                absent.append(what)
        elif sum(float(w.ratio or 0.0) for w in ws) / len(ws) < ALIKE:
            alike.append(what)
        else:
            worst.setdefault(str(ws[0].cell), []).append(_harm_phrase(ws, what))
    tail = ""
    if alike:
        tail += (f" Groups were hit alike (the worst within {ALIKE - 1:.0%} of the overall rate) on "
                 f"{', '.join(alike)}.")
    if varies:
        tail += f" The group hit hardest differs between seeds on {', '.join(varies)}."
    if unranked:
        tail += (f" Too few events to rank groups on {', '.join(unranked)} (at least {MIN_EVENTS} in each of two "
                 f"groups of {MIN_PEOPLE} people or more).")
    if not worst and alike and not unranked and not varies:
        return "No group was hit clearly harder than the others." + tail
    if len(absent) == len(HARMS):  # (more people would not help: nothing of the kind happened)
        return f"There were no {', '.join(absent[:-1])} or {absent[-1]} to compare across groups."
    if not worst:
        return "No group can be named as hit hardest." + tail + " Run more people (--scale) or replicates."
    name, harms = max(worst.items(), key=lambda kv: len(kv[1]))
    text = f"The group hit hardest was {name}: " + "; ".join(harms) + "."
    others = [f"{g} on {len(h)} harm{'s' if len(h) > 1 else ''}" for g, h in worst.items() if g != name]
    if others:
        text += " Worst on other harms: " + ", ".join(others) + "."
    return text + tail


#: At most this many groups are named in the lending sentence (the most and least refused).
LENDING_GROUPS = 4


def lending(rs: Sequence[RunTables]) -> str | None:
    """With loans, the applications the system refused (the twin lends by no grade, so refuses
    none), each group's share refused and its mean score (the credit level), first day to end,
    against the twin's; None for runs without loans. A refused loan is a sanction only where
    the loan is a refusal by grade or list: where the system grants loans by grade, a loan not
    granted is counted here alone, so without this sentence the verdict said nothing happened."""
    if not all(r.has_lending for r in rs):
        return None
    from scorelab.metrics_data import lending_summary

    sums = [lending_summary(r) for r in rs]
    fact = [s.filter(pl.col("world") == "factual") for s in sums]
    applied = [float(f.get_column("loans_applied").sum()) for f in fact]
    refused = [float(f.get_column("loans_refused").sum()) for f in fact]
    if not any(applied):
        return "Nobody applied for a loan."
    share = [x / a if a else 0.0 for x, a in zip(refused, applied)]
    text = (f"Loans: the system refused {_number(refused)} of {_number(applied)} applications "
            f"({_number(share, 'share', 1)}), where the twin refuses none")
    groups = fact[0].filter(pl.col("loans_applied") > 0).get_column("group").to_list()
    if len(groups) < 2:
        return text + "."

    def group_share(g: str) -> list[float]:
        return [float(f.filter(pl.col("group") == g).get_column("refused_share").sum()) for f in fact]

    order = sorted(groups, key=lambda g: -sum(group_share(g)))
    if len(order) > LENDING_GROUPS:
        order = order[: LENDING_GROUPS - 1] + order[-1:]
    parts = []
    for g in order:
        row = [s.filter(pl.col("group") == g) for s in sums]
        level = [float(x.filter(pl.col("world") == "factual").get_column("mean_level_end").sum()) for x in row]
        twin = [float(x.filter(pl.col("world") == "twin").get_column("mean_level_end").sum()) for x in row]
        start = [float(x.filter(pl.col("world") == "factual").get_column("mean_level_start").sum()) for x in row]
        parts.append(f"{g} {_number(group_share(g), 'share', 1)} refused, mean score {_number(start, 'any', 2)} -> "
                     f"{_number(level, 'any', 2)} (twin {_number(twin, 'any', 2)})")
    return text + "; by group: " + "; ".join(parts) + "."


def verdict(results: Sequence[Any] | Any) -> list[str]:
    """The three sentences for one run, or for replicates of one scenario (means with intervals),
    and a fourth on loans for runs with lending (``lending``)."""
    rs = [as_run_tables(r) for r in (results if isinstance(results, (list, tuple)) else [results])]
    said = [sanctioned(rs), lawful_behaviour(rs), groups_hit(rs)]
    loans = lending(rs)
    return said + [loans] if loans is not None else said
