"""The key findings of a report, as plain sentences computed from ``scorelab.metrics``:
of one run (``findings``), and of what changed from the first run to the others
(``compare_findings``). The page escapes them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from scorelab import classroom as CL
from scorelab import linked_harms as LH
from scorelab import metrics as M
from scorelab import plots as P
from scorelab import vocabulary as V
from scorelab.impact import MIN_EVENTS, MIN_PEOPLE, describe_worst, harm_label
from scorelab.tables import RunTables, as_run_tables
from scorelab.report.compare import models, per_thousand_readings, uncounted_within_noise, within_noise
from scorelab.verdict import lending

#: The headline figures whose change the comparison's findings name, in this order.
COMPARED = (V.SANCTIONS_WRONGFUL, V.SANCTIONS, V.RECORDS_ERRONEOUS, V.LAWFUL_ACTS_SUPPRESSED, V.PEOPLE_SANCTIONED,
            V.PEOPLE_DAYS_WRONGFULLY_LISTED, V.WRONGFUL_LISTINGS_AT_END, V.LISTINGS_OVERTURNED)


def _n(v: float) -> str:
    return f"{v:,.0f}"


def _pct(a: float, b: float) -> str:
    return f"{100 * a / b:.1f}%" if b else "n/a"


def findings(r: Any) -> list[str]:
    """Key findings of one run as plain sentences (text, not yet escaped)."""
    r = as_run_tables(r)
    out: list[str] = []
    people = float(r.manifest.get("people") or 0)
    days = float(r.manifest.get("days") or 0)
    out += _records(r, days)
    for a in M.audio(r).iter_rows(named=True):
        made = a["hits"] + a["false_positives"] + a["passenger_records"]
        out.append(f"In-car microphones ({a['channel']}) made {_n(made)} records, "
                   f"{_n(a['false_positives'] + a['passenger_records'])} ({_pct(made - a['hits'], made)}) of them about "
                   f"someone who said nothing watched: {_n(a['false_positives'])} false positives on "
                   f"{_n(a['trips'])} trips and {_n(a['passenger_records'])} records about passengers.")
    for c in CL.classroom(r).iter_rows(named=True):
        out.append(f"Classroom cameras ({c['channel']}) made {_n(c['pupil_records'])} records about pupils, "
                   f"{_n(c['pupil_records_false'])} ({_pct(c['pupil_records_false'], c['pupil_records'])}) of them false "
                   f"positives" + (f"; {_n(c['parent_records'])} records were made against their parents"
                                   if c["parent_records"] else "") + ".")
    if CL.classroom(r).height and CL.parent_sanctions(r):
        out.append(f"{_n(CL.parent_sanctions(r))} sanctions fell on parents after a pupil's record was made against them.")
    ws = M.wrongful_sanctions(r).row(0, named=True)
    if ws["sanctions"]:
        out.append(f"{_pct(ws['wrongful'], ws['sanctions'])} of the sanctions of people followed erroneous records "
                   f"({_n(ws['wrongful'])} of {_n(ws['sanctions'])}: they would not have applied on true records alone); "
                   f"{_n(ws['association'])} were by association (only what their contacts are put the grade there).")
        out.append(f"{_n(ws['people_sanctioned'])} people ({1000 * ws['people_sanctioned'] / people:,.1f} per 1,000) were "
                   f"sanctioned at least once, {_n(ws['people_wrongfully_sanctioned'])} of them wrongfully.")
    else:
        out.append(f"No sanctions were applied to people in {days:g} days.")
    if ws["firm_sanctions"]:
        out.append(f"Firms were sanctioned {_n(ws['firm_sanctions'])} times ({_n(ws['firm_wrongful'])} wrongfully); "
                   f"the figures on people above leave them out.")
    cor = M.corrections(r).row(0, named=True)
    removed = cor["records_removed_appeal"] + cor["records_deleted"]
    if removed or cor["listings_overturned"] or cor["wrongful_listings_at_end"]:
        lifted = (f"{_n(cor['listings_overturned'])} listings were lifted because what listed the person was removed"
                  + (f" or the listing was appealed ({_n(cor['listings_appealed'])})" if cor["listings_appealed"] else "")
                  + (f", {_n(cor['wrongful_listings_overturned'])} of them wrongful, after "
                     f"{cor['days_to_correction_mean']:,.1f} days on average" if cor["wrongful_listings_overturned"] else ""))
        out.append(f"Safeguards removed {_n(cor['records_removed_appeal'])} records on appeal and deleted "
                   f"{_n(cor['records_deleted'])} on expiry or retention; {lifted}; {_n(cor['flags_withdrawn'])} flags "
                   f"were withdrawn and {_n(cor['investigations_overturned'])} investigations overturned. "
                   f"{_n(cor['wrongful_sanctions_before_correction'])} wrongful sanctions had happened on listings "
                   f"later lifted; {_n(cor['wrongful_listings_at_end'])} wrongful listings still stood at the end, and "
                   f"people spent {_n(cor['people_days_wrongfully_listed'])} days wrongfully listed in all.")
    if cor["firm_listings_overturned"] or cor["firm_wrongful_listings_at_end"] or cor["firm_days_wrongfully_listed"]:
        out.append(f"Of firms' listings (apart from the people's above), {_n(cor['firm_listings_overturned'])} were lifted "
                   f"as overturned, {_n(cor['firm_wrongful_listings_overturned'])} of them wrongful; "
                   f"{_n(cor['firm_wrongful_listings_at_end'])} wrongful ones still stood at the end, and firms spent "
                   f"{_n(cor['firm_days_wrongfully_listed'])} days wrongfully listed in all.")
    ch = M.chilling(r)
    for kind, actor, what, verb in (
            ("disfavoured", "person", "lawful acts", "did not happen that would have without the system"),
            ("wrongdoing", "person", "acts of wrongdoing", "were deterred"),
            ("wrongdoing", "firm", "acts of firms' wrongdoing", "were deterred")):
        sub = ch.filter((pl.col("kind") == kind) & (pl.col("actor") == actor))
        if sub.height == 0:
            continue
        sup, twin = float(sub.get_column("suppressed").sum()), float(sub.get_column("events_twin").sum())
        top = sub.filter(pl.col("suppressed") > 0).sort("suppressed", descending=True).head(3)
        detail = ", ".join(f"{_n(s)} {b.replace('_', ' ')}" for b, s in zip(top.get_column("behaviour").to_list(),
                                                                           top.get_column("suppressed").to_list()))
        out.append(f"{_n(sup)} {what} {verb} ({_pct(sup, twin)} of the twin's {_n(twin)})"
                   + (f": {detail}." if detail else "."))
    fl = M.flags(r)
    if fl.height:
        t, f = float(fl.get_column("true").sum()), float(fl.get_column("false").sum())
        if t + f:
            out.append(f"{_pct(t, t + f)} of judged flags were true ({_n(t)} true, {_n(f)} false); the investigation "
                       f"backlog ended at {_n(fl.get_column('backlog_end').sum())} (at most "
                       f"{_n(fl.get_column('backlog_max').max())}).")
    red = set(r.names.get("red_lists", []))
    for row in M.lists(r).iter_rows(named=True):
        if row["entries"] or row["stock_end"]:
            who = "firms' representatives, listed with their firm," if row["joint"] else \
                "firms" if row["actor"] == "firm" else "people"
            out.append(f"The {row['list'].replace('_', ' ')}{' (a red list)' if row['list'] in red else ''} held {_n(row['stock_end'])} {who} at the end "
                       f"({_n(row['entries'])} entries, {_n(row['exits'])} exits, "
                       f"{_n(row['wrongful_entries'])} wrongful entries).")
    if red:
        out.append(_rewards(r))
    out.extend(_linked(r))
    order = P.grade_order(r)
    rank = {g: i for i, g in enumerate(order)}
    tr = M.grade_transitions(r)
    moved = {"down": 0, "up": 0}
    scored = 0
    for s, en, p, _ in tr.iter_rows():
        scored += p
        if rank.get(en, 0) > rank.get(s, 0):
            moved["down"] += p
        elif rank.get(en, 0) < rank.get(s, 0):
            moved["up"] += p
    if scored:
        out.append(f"{_pct(moved['down'], scored)} of scored people ended in a lower grade than they started, "
                   f"{_pct(moved['up'], scored)} in a higher one.")
    out += _worst_hit(r)
    loans = lending([r])  # (loans granted by grade: a refused one is no sanction, so it is said here)
    if loans:
        out.append(loans)
    lost = M.economic_losses(r).row(0, named=True)
    if lost["income_lost"]:
        out.append(f"Income lost against the twin: {lost['income_lost']:,.0f} in all, "
                   f"{lost['income_lost_per_person']:,.2f} per person.")
    return out


def _worst_hit(r: Any) -> list[str]:
    """The worst-hit group per harm, in one sentence, when the run has more than one group and
    some group is ranked (at least ``impact.MIN_EVENTS`` events among ``impact.MIN_PEOPLE``
    people); a second sentence when the harms name different groups."""
    if M.impact(r, "group", "sanctions").height < 2:
        return []
    worst = {h: M.worst_hit(r, h) for h in V.WORST_HIT}
    named = {h: w for h, w in worst.items() if w.cell is not None}
    if not named:
        return []
    parts = [f"{harm_label(h)}: {describe_worst(w)}" for h, w in named.items()]
    out = [f"Worst-hit group per harm (a group is ranked only with at least {MIN_EVENTS} events among "
           f"{MIN_PEOPLE:,} people): " + "; ".join(parts) + "."]
    cells = {w.cell for w in named.values()}
    if len(cells) > 1:
        out.append("The harms do not fall on one group: " + ", ".join(sorted(str(c) for c in cells))
                   + " are each the worst hit by some harm (scorelab query 'select * from impact').")
    return out


def _worst_changes(base: Any, r: Any) -> list[str]:
    """The harms whose worst-hit group differs between two runs."""
    out = []
    for h in V.WORST_HIT:
        a, b = M.worst_hit(base, h), M.worst_hit(r, h)
        if a.cell != b.cell:
            out.append(f"worst-hit group ({harm_label(h)}) {a.cell or 'none ranked'} \u2192 {b.cell or 'none ranked'}")
    return out


def compare_findings(results: Sequence[Any]) -> list[str]:
    """What changed from the first run to each other one, as sentences."""
    rs = [as_run_tables(r) for r in results]
    base, bh = rs[0], M.headline(rs[0])
    out = []
    for r in rs[1:]:
        h = M.headline(r)
        reading = per_thousand_readings([base, r])
        parts = []
        for k in COMPARED:
            if not (models(base, k) and models(r, k)) or not isinstance(bh.get(k), float) \
                    or not isinstance(h.get(k), float):
                continue  # (what a scenario does not model is not "0": the table says "not modelled")
            a, b = float(bh[k]), float(h[k])  # type: ignore[arg-type]
            sizes, unit = (1.0, 1.0), ""
            if k in V.EXTENSIVE and reading == "apart":
                continue  # (totals over different lengths are not compared)
            if k in V.EXTENSIVE and reading == "per 1,000 people":  # (totals of different populations)
                sizes, unit = (float(bh[V.PEOPLE]) / 1000.0, float(h[V.PEOPLE]) / 1000.0), " per 1,000"
            noise = ", within noise" if within_noise(k, a, b, *sizes) or uncounted_within_noise(k, base, r) else ""
            a, b = a / sizes[0], b / sizes[1]
            if a == b:
                continue
            rel = f" ({(b - a) / abs(a):+.0%}{noise})" if a else (f" ({noise[2:]})" if noise else "")
            shown = (f"{a:,.2f} \u2192 {b:,.2f}" if unit else f"{_n(a)} \u2192 {_n(b)}")
            parts.append(f"{k} {shown}{unit}{rel}")
        parts += _worst_changes(base, r)
        if parts:
            out.append(f"Against {P.run_label(base)}, {P.run_label(r)}: " + "; ".join(parts) + ".")
        else:
            out.append(f"{P.run_label(r)} has the same headline figures as {P.run_label(base)}.")
        if reading is not None:
            how = ("counts are compared per 1,000 people above, not as totals" if reading == "per 1,000 people" else
                   "counts over different lengths are not compared above; compare runs of the same length")
            out.append(f"Note: {P.run_label(r)} has {_n(float(h[V.PEOPLE]))} people over {float(h[V.DAYS]):g} days, "
                       f"{P.run_label(base)} {_n(float(bh[V.PEOPLE]))} over {float(bh[V.DAYS]):g}; {how}.")
    return out


def _records(r: RunTables, days: float) -> list[str]:
    """The records about people, of them erroneous by kind; those about firms apart."""
    whom = M.records_by_whom(r)
    by, firms = whom["person"], whom["firm"]
    total = float(sum(by.values()))
    err = by["misattributed"] + by["false_match"]
    if total:
        out = [f"{_n(err)} of {_n(total)} records about people ({_pct(err, total)}) were erroneous: "
               f"{_n(by['misattributed'])} misattributed to someone else and "
               f"{_n(by['false_match'])} false matches (a face, a plate, a keyword)."]
    else:
        out = [f"No records about people were made in {days:g} days."]
    if sum(firms.values()):
        ferr = firms["misattributed"] + firms["false_match"]
        out.append(f"Records about firms, apart: {_n(sum(firms.values()))}, of them {_n(ferr)} erroneous.")
    return out


def _rewards(r: Any) -> str:
    """Rewards, those of red lists, the wrongful ones, and their spread over groups."""
    rw = M.rewards(r).row(0, named=True)
    by = M.rewards_by(r, "group")
    spread = "; ".join(f"{g}: {x:,.1f} rewards per 1,000" for g, x in zip(by.get_column("group").to_list(),
                                                                         by.get_column("rewards_per_1000").to_list()))
    return (f"{_n(rw['rewards'])} rewards were given to {_n(rw['people_rewarded'])} people "
            f"(by group: {spread}), {_n(rw['red_list_rewards'])} of them for being on a red list; "
            f"{_n(rw['wrongful'])} went to people graded or listed wrongly ({_n(rw['red_list_rewards_wrongful'])} on a "
            f"red list, by false civic records). {_n(rw['red_listed_at_end'])} people were red-listed at the end.")


def _linked(r: Any) -> list[str]:
    """Sanctions for another's rating (a parent's, an employer's) and fines on people."""
    out = []
    if LH.has_links(r):
        s = LH.linked_summary(r).row(0, named=True)
        out.append(f"{_n(s['people_sanctioned_for_others'])} people were sanctioned for another's rating: children "
                   f"{_n(s['children_sanctioned'])} times for a parent's ({_n(s['children_refused'])} refusals, "
                   f"{_n(s['children_sanctioned_wrongfully'])} on a wrongful grade or listing), employees "
                   f"{_n(s['employee_sanctions'])} times for their employer's ({_n(s['employees_laid_off'])} laid off, "
                   f"{_n(s['wage_cuts'])} wage cuts, {_n(s['employee_sanctions_wrongful'])} wrongful).")
    if LH.has_fines(r):
        f = LH.fines(r)
        out.append(f"People paid {_n(f.get_column('paid').sum())} CNY in {_n(f.get_column('applied').sum())} fines "
                   f"({_n(f.get_column('wrongful').sum())} of them on a wrongful grade or listing).")
    return out
