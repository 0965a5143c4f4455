"""The comparison of several runs in the report: what differs between their scenarios, the
headline side by side with units, and what a reader may and may not conclude from it.

Honesty rules (issue 22): a figure is coloured better or worse only when every run models
what it counts (a run without flags has no "flags, true" to lose); a difference of two event
counts within their Poisson noise (|a - b| < 1.96 sqrt(a + b)), of income lost within the
spread of the people's losses, of a share within its binomial noise, or of days wrongfully
listed or to lift a listing within their noise is shown as such, not coloured; and runs of one seed each carry a warning that differences below the noise between
seeds are not effects.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import polars as pl

from scorelab import listings as LS
from scorelab import metrics as M
from scorelab import plots as P
from scorelab import vocabulary as V
from scorelab.report.page import e
from scorelab.tables import RunTables
from scorelab.vocabulary import format_figure

#: Headline keys where a rise is worse (red) or better (green) in the comparison table.
WORSE_UP = (V.RECORDS_ERRONEOUS, V.SANCTIONS, V.SANCTIONS_WRONGFUL, V.SANCTIONS_BY_ASSOCIATION,
            V.SANCTIONS_WRONGFUL_BEFORE_CORRECTION, V.PEOPLE_SANCTIONED, V.FLAGS_FALSE, V.LAWFUL_ACTS_SUPPRESSED,
            V.INCOME_LOST, V.WRONGFUL_LISTINGS_AT_END, V.PEOPLE_DAYS_WRONGFULLY_LISTED, V.FIRM_DAYS_WRONGFULLY_LISTED,
            V.FINES_ON_PEOPLE,
            V.DAYS_TO_LIFT_WRONGFUL_LISTING, V.BYSTANDERS_STOPPED, V.ALERTS_PER_THOUSAND_FACES, V.REWARDS_WRONGFUL,
            V.AUDIO_RECORDS, V.AUDIO_RECORDS_FALSE, V.AUDIO_FALSE_SHARE, V.RECORDS_HELD, V.PEOPLE_WITH_DATA,
            *V.CLASSROOM_FIGURES, *V.FIRM_FIGURES)
BETTER_UP = (V.WRONGDOING_DETERRED, V.FIRM_WRONGDOING_DETERRED, V.FLAGS_TRUE, V.ALERT_PRECISION)

#: The harm of each worst-hit figure, by the figure's name.
_WORST = {name: harm for harm, name in V.WORST_HIT.items()}
#: At most this many scenario differences are listed per run (the rest counted).
MAX_DIFFERENCES = 40


def models(r: RunTables, figure: str) -> bool:
    """Whether the run's scenario models what ``figure`` counts (``vocabulary.modelled``)."""
    return V.modelled(r.scenario_data or {}, figure)


def per_thousand_readings(rs: Sequence[RunTables]) -> str | None:
    """How the totals of runs of different sizes or lengths are compared: ``None`` when every
    run has as many people over as many days as the first; "per 1,000 people" when only the
    people differ (a total grows with the population: ``--scale``); "apart" when the days
    differ (a count over more days is no more harm per day: such totals are not compared)."""
    heads = [r.manifest for r in rs]
    if len({float(h.get("days", 0)) for h in heads}) > 1:
        return "apart"
    if len({float(h.get("people", 0)) for h in heads}) > 1:
        return "per 1,000 people"
    return None


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: value}


def _show(v: Any) -> str:
    if v is None:
        return "(none)"
    if isinstance(v, bool):
        return "true" if v else "false"
    text = str(v)
    return text if len(text) <= 60 else text[:57] + "..."


def scenario_differences(base: RunTables, other: RunTables) -> list[str]:
    """The scenario settings that differ between two runs, safeguards first, as
    ``key: base value -> other value`` (the seed included; name and description left out)."""
    a, b = _flatten(base.scenario_data or {}), _flatten(other.scenario_data or {})
    keys = [k for k in dict.fromkeys([*a, *b]) if a.get(k) != b.get(k) and k.split(".")[0] not in ("name", "description")]
    keys.sort(key=lambda k: (not k.startswith("safeguards."), not k.startswith("run.seed")))
    return [f"{k}: {_show(a.get(k))} \u2192 {_show(b.get(k))}" for k in keys]


def differences_html(rs: Sequence[RunTables]) -> str:
    """Per run after the first: the list of its scenario's differences from the first's."""
    parts = []
    for r in rs[1:]:
        diffs = scenario_differences(rs[0], r)
        head = f"{P.run_label(r)} against {P.run_label(rs[0])}"
        if not diffs:
            parts.append(f"<p>{e(head)}: the same scenario (only the run differs).</p>")
            continue
        more = len(diffs) - MAX_DIFFERENCES
        items = "".join(f"<li><code>{e(d)}</code></li>" for d in diffs[:MAX_DIFFERENCES])
        if more > 0:
            items += f"<li>... and {more} more (scorelab show each run's scenario.yaml)</li>"
        parts.append(f"<p>{e(head)}: {len(diffs)} setting(s) differ</p><ul class='diffs'>{items}</ul>")
    return "<h3>What differs</h3>" + "".join(parts)


def within_noise(figure: str, a: float, b: float, na: float = 1.0, nb: float = 1.0) -> bool:
    """Whether two event counts differ by less than their Poisson noise at 95 %; with the
    populations ``na`` and ``nb``, whether their rates a / na and b / nb do."""
    if figure not in V.EVENT_COUNTS or a < 0 or b < 0:
        return False
    return abs(a / na - b / nb) < 1.96 * math.sqrt(a / na ** 2 + b / nb ** 2)


def income_within_noise(a: RunTables, b: RunTables) -> bool:
    """Whether two runs' income lost per 1,000 people differs by less than its noise at 95 %: each
    run's standard error from the spread of its people's losses (the impact table's interval of
    the rate, ``impact``), the two combined. A few people losing much made "+70 %" of one run
    against another look like an effect. False when a run has no such interval (a folder
    written before it was kept)."""
    rows = [M.impact(r, "all", "income_lost").row(0, named=True) for r in (a, b)]
    if any(x["per_1000_lo"] is None or x["per_1000_hi"] is None or x["per_1000"] is None for x in rows):
        return False
    se = [(x["per_1000_hi"] - x["per_1000_lo"]) / (2 * 1.96) for x in rows]
    return abs(rows[0]["per_1000"] - rows[1]["per_1000"]) < 1.96 * math.hypot(*se)


def _share_counts(r: RunTables, k: str) -> tuple[float, float] | None:
    """(x, n) of a share figure x / n: alert precision (hits among alerts), alerts among faces
    scanned, the false share of in-car audio records, a grade's share of the scored people at the
    end; None for another figure or a run without it."""
    grade = V.share_grade(k)
    if grade is not None:
        t = M.grade_shares(r)
        row = t.filter(pl.col("grade") == grade)
        return (float(row.item(0, "end_people")), float(t.get_column("end_people").sum())) if row.height else None
    if k in (V.ALERT_PRECISION, V.ALERTS_PER_THOUSAND_FACES):
        t = M.identification(r)
        if not t.height:
            return None
        hits, false, scanned = (float(t.get_column(c).sum()) for c in ("hits", "false_alerts", "scanned"))
        return (hits, hits + false) if k == V.ALERT_PRECISION else (hits + false, scanned)
    if k == V.AUDIO_FALSE_SHARE:
        t = M.audio(r)
        if not t.height:
            return None
        hits, false = (float(t.get_column("hits").sum()),
                       float(t.get_column("false_positives").sum() + t.get_column("passenger_records").sum()))
        return false, hits + false
    return None


#: The share figures ``share_within_noise`` tests
SHARES = (V.ALERT_PRECISION, V.ALERTS_PER_THOUSAND_FACES, V.AUDIO_FALSE_SHARE)


def is_share(k: str) -> bool:
    """Whether ``k`` is a share ``share_within_noise`` tests (``SHARES``, a grade's share)."""
    return k in SHARES or V.share_grade(k) is not None


def share_within_noise(k: str, a: RunTables, b: RunTables) -> bool:
    """Whether two runs' share ``k`` (``is_share``) differs by less than its binomial noise at 95 %:
    |xa / na - xb / nb| < 1.96 sqrt(p (1 - p) (1 / na + 1 / nb)), p the pooled share. Five hits
    among 40 alerts against three among 40 is 12.5 % against 7.5 %, not a fall of precision."""
    ca, cb = _share_counts(a, k), _share_counts(b, k)
    if ca is None or cb is None or not ca[1] or not cb[1]:
        return False
    p = (ca[0] + cb[0]) / (ca[1] + cb[1])
    return abs(ca[0] / ca[1] - cb[0] / cb[1]) < 1.96 * math.sqrt(p * (1 - p) * (1 / ca[1] + 1 / cb[1]))


def days_to_lift_within_noise(a: RunTables, b: RunTables) -> bool:
    """Whether two runs' mean days to lift a wrongful listing differ by less than their noise at
    95 %: |ma - mb| < 1.96 sqrt(ma^2 / na + mb^2 / nb), n the listings lifted. The runs keep the
    sum of the days, not their spread, so each listing's days are taken to vary as much as
    their mean (waiting times at a constant rate do; fixed delays vary less, so the test errs
    towards "within noise"): 12 days against 18, over three listings each, is no effect."""
    rows = [M.corrections(r).row(0, named=True) for r in (a, b)]
    if any(not x["wrongful_listings_overturned"] or x["days_to_correction_mean"] is None for x in rows):
        return False
    (ma, na), (mb, nb) = ((x["days_to_correction_mean"], x["wrongful_listings_overturned"]) for x in rows)
    return abs(ma - mb) < 1.96 * math.sqrt(ma ** 2 / na + mb ** 2 / nb)


#: The days wrongfully listed: (figure, column of ``metrics.corrections``, whose listings)
_LISTED_DAYS = {V.PEOPLE_DAYS_WRONGFULLY_LISTED: ("people_days_wrongfully_listed", "person"),
                V.FIRM_DAYS_WRONGFULLY_LISTED: ("firm_days_wrongfully_listed", "firm")}
#: The figures that are a sum over a number of items (``sum_within_noise``)
SUMS = (*_LISTED_DAYS, V.FINES_ON_PEOPLE)


def _sum_and_items(r: RunTables, k: str) -> tuple[float, int]:
    """(S, N) of a figure that is a sum S over N items: days wrongfully listed over the wrongful
    listings that stood in the run (``listings.wrongful_listings_held``), the fines people paid
    over the fines."""
    if k == V.FINES_ON_PEOPLE:
        h = M.headline(r)
        return float(h.get(V.FINES_ON_PEOPLE, 0.0) or 0.0), int(h.get(V.FINES_ON_PEOPLE_COUNT, 0) or 0)
    column, actor = _LISTED_DAYS[k]
    return float(M.corrections(r).item(0, column)), LS.wrongful_listings_held(r, actor)


def sum_within_noise(k: str, a: RunTables, b: RunTables) -> bool:
    """Whether two runs' figure ``k`` (``SUMS``), a sum S over N items, per person simulated,
    differs by less than its noise at 95 %: N taken as a Poisson count and each item's amount
    (days, yuan) as varying as much as their mean, S varies as 2 S^2 / N (a compound Poisson
    sum; days cut short by the run's end, or fines of one size, vary less, so the test errs
    towards "within noise"). Two seeds of one Rongcheng scenario at 0.05 read 6,677 against
    8,222 person-days wrongfully listed, +23 % in red, from 84 and 106 wrongful listings:
    within noise."""
    rates, var = [], 0.0
    for r in (a, b):
        s, n = _sum_and_items(r, k)
        if not n:
            return False
        rate = s / max(1.0, float(M.headline(r)[V.PEOPLE]))
        rates.append(rate)
        var += 2.0 * rate ** 2 / n
    return abs(rates[0] - rates[1]) < 1.96 * math.sqrt(var)


def uncounted_within_noise(k: str, a: RunTables, b: RunTables) -> bool:
    """Whether a figure that is no count of events (income lost, a share, days listed or to
    lift a listing, fines) differs between two runs by less than its own noise
    (``income_within_noise``, ``share_within_noise``, ``sum_within_noise``,
    ``days_to_lift_within_noise``)."""
    if k == V.INCOME_LOST:
        return income_within_noise(a, b)
    if k == V.DAYS_TO_LIFT_WRONGFUL_LISTING:
        return days_to_lift_within_noise(a, b)
    if k in SUMS:
        return sum_within_noise(k, a, b)
    return is_share(k) and share_within_noise(k, a, b)


def single_seed_warning(rs: Sequence[RunTables]) -> str:
    """The warning a comparison of single runs needs."""
    seeds = {r.manifest.get("seed") for r in rs}
    same = " (the same seed for all)" if len(seeds) == 1 else ""
    return (f"Each run here is a single seed{same}: a difference smaller than the noise between seeds is not an "
            "effect. A difference within its own noise (Poisson for counts, binomial for shares, the table's note "
            "says each test) is marked \"within noise\"; for "
            "intervals, compare with replicates: scorelab sweep ... --replicates 5 (docs/sweeps.md).")


def _worst_delta(k: str, r: RunTables, base: RunTables) -> str:
    """A worst-hit figure's change: whether the same group is named (its rate may differ)."""
    a, b = M.worst_hit(base, _WORST[k]), M.worst_hit(r, _WORST[k])
    if a.cell == b.cell:
        return "same group" if a.cell is not None else "none ranked in either"
    return f"{a.cell or 'none ranked'} \u2192 {b.cell or 'none ranked'}"


def _delta(k: str, v: Any, base: Any) -> str:
    if not (isinstance(v, float) and isinstance(base, float)):
        return "=" if v == base else "differs"
    d = v - base
    if not d:
        return "="
    if "share" in k or "precision" in k:
        return f"{100 * d:+.1f} pp"
    rel = f" ({d / abs(base):+.0%})" if base else ""
    return ("+" if d > 0 else "") + format_figure(k, d) + rel


def _cls(k: str, v: Any, base: Any, modelled: bool, sizes: tuple[float, float] = (1.0, 1.0)) -> str:
    """The colour of a run's figure ``v`` against the first run's ``base``; with ``sizes``, the
    two runs' people in thousands, counts are compared as rates per 1,000 people."""
    if not modelled:
        return ""
    if not (isinstance(v, float) and isinstance(base, float)):
        return "" if v == base else "changed"
    rv, rb = v / sizes[1], base / sizes[0]
    if rv == rb:
        return ""
    if within_noise(k, base, v, *sizes):
        return "noise"
    if k in WORSE_UP:
        return "worse" if rv > rb else "better"
    if k in BETTER_UP:
        return "better" if rv > rb else "worse"
    return "changed"


def compare_table(rs: Sequence[RunTables]) -> str:
    """The headline side by side, with units and the difference from the first run."""
    heads = [M.headline(r) for r in rs]
    labels = [P.run_label(r) for r in rs]
    reading = per_thousand_readings(rs)
    people = [float(h[V.PEOPLE]) / 1000.0 for h in heads]
    th = "<th>unit</th>" + "".join(f"<th class='n'>{e(l)}</th>" for l in labels)
    th += "".join(f"<th class='n'>\u0394 {e(l)}</th>" for l in labels[1:])
    body = []
    for k in dict.fromkeys(x for h in heads for x in h):
        base = heads[0].get(k)
        # (a figure missing from a run's headline is of a part its scenario does not have)
        modelled = [models(r, k) and k in h for r, h in zip(rs, heads)]
        cells, deltas = [], []
        total = k in V.EXTENSIVE and reading is not None  # (a total of runs of different sizes or lengths)
        for i, h in enumerate(heads):
            v = h.get(k)
            both = modelled[0] and modelled[i]
            rate = total and reading == "per 1,000 people" and isinstance(v, float) and isinstance(base, float)
            if not i or (total and not rate):
                cls = ""
            else:  # (a total of runs of different sizes: their rates per 1,000 people compared)
                cls = _cls(k, v, base, both, (people[0], people[i]) if rate else (1.0, 1.0))
                if cls in ("worse", "better", "changed") and uncounted_within_noise(k, rs[0], rs[i]):
                    cls = "noise"  # (no count: its noise is the spread of the people's losses, or binomial)
            if i and both and k in _WORST:  # (its text holds rates: changed only if another group is named)
                cls = "changed" if "\u2192" in _worst_delta(k, rs[i], rs[0]) else ""
            text = format_figure(k, v) if modelled[i] else "not modelled"
            if total and modelled[i] and isinstance(v, float):
                text += f" ({v / people[i]:,.2f} per 1,000)"
            cells.append(f"<td class='n {cls}'>{e(text)}</td>")
            if i:
                if both and v is None and base is None:
                    txt = "="  # (neither has a value, for the same reason)
                elif not both or v is None or base is None:
                    txt = "not comparable"
                elif total and not rate:
                    txt = "not compared: different lengths"
                elif k in _WORST:
                    txt = _worst_delta(k, rs[i], rs[0])
                else:
                    txt = _delta(k, v / people[i], base / people[0]) if rate else _delta(k, v, base)
                    txt += " per 1,000" if rate and txt != "=" else ""
                    txt += ", within noise" if cls == "noise" else ""
                deltas.append(f"<td class='n {cls}'>{e(txt)}</td>")
        body.append(f"<tr><td>{e(k)}</td><td class='unit'>{e(V.figure_unit(k))}</td>{''.join(cells)}{''.join(deltas)}</tr>")
    return (f"<table class='compare'><tr><th>what</th>{th}</tr>{''.join(body)}</table>"
            "<p class='note'>\u0394: difference from the first run (pp: percentage points). Red: worse, green: better "
            "(more harm, or less deterrence, is worse); yellow: changed; grey: a difference of counts within their "
            "Poisson noise (|a - b| &lt; 1.96 \u221a(a + b)), income lost within the noise of its people's losses, "
            "a share (alert precision, alerts per 1,000 faces, the false share of audio records, a grade's share) "
            "within its "
            "binomial noise, or days wrongfully listed or to lift a listing, or fines, within their noise: "
            "not an effect. A figure a run's scenario does not "
            "model is \"not modelled\" and never coloured."
            + (" The runs differ in size: totals that grow with the population are compared per 1,000 people "
               "(their noise test on the rates), not as totals." if reading == "per 1,000 people" else "")
            + (" The runs differ in length: totals over the run are shown, per 1,000 people, but not compared "
               "(more days hold more events)." if reading == "apart" else "") + "</p>")


def are_replicates(rs: Sequence[RunTables]) -> bool:
    """Whether several runs are replicates: one scenario, run with different seeds."""
    return len(rs) > 1 and len({r.manifest.get("seed") for r in rs}) == len(rs) and all(
        all(d.startswith("run.seed:") for d in scenario_differences(rs[0], r)) for r in rs[1:])


def replicate_table(rs: Sequence[RunTables]) -> str:
    """The headline of replicates: per figure the mean over the seeds and its 95 % interval."""
    from scorelab.intervals import shown_mean

    heads = [M.headline(r) for r in rs]
    body = []
    for k in dict.fromkeys(x for h in heads for x in h):
        values = [h.get(k) for h in heads]
        if all(v is None or isinstance(v, float) for v in values):
            text, ci = shown_mean(k, values)  # type: ignore[arg-type]
        else:
            text = M.worst_over_runs(rs, k) if k in _WORST else \
                " / ".join(f"seed {r.manifest.get('seed')}: {v}" for r, v in zip(rs, values)) \
                if len(set(map(str, values))) > 1 else str(values[0])
            ci = ""
        unit = V.figure_unit(k) if any(v is not None for v in values) else ""
        body.append(f"<tr><td>{e(k)}</td><td class='unit'>{e(unit)}</td><td class='n'>{e(text)}</td>"
                    f"<td class='n'>{e(ci)}</td></tr>")
    seeds = ", ".join(str(r.manifest.get("seed")) for r in rs)
    return (f"<table class='compare'><tr><th>what</th><th>unit</th><th class='n'>mean of {len(rs)} seeds</th>"
            f"<th class='n'>95 % interval</th></tr>{''.join(body)}</table>"
            f"<p class='note'>Seeds {e(seeds)}. Intervals: counts by Student t joined with the exact Poisson interval, "
            "cut at zero; shares kept in [0, 1] (docs/sweeps.md).</p>")
