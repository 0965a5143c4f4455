"""The metric catalogue: what a run did, as polars DataFrames.

Every metric is a pure function of a run's tables (a ``Result``, or any
``tables.RunTables``) or of a results folder (a path is opened with ``RunTables.open``), so
reports can be rebuilt without rerunning. Each reads only the
per-step metrics (``metrics.parquet``), the per-cell sums (``groups.parquet``), the end
score value counts (``scores.parquet``) and the names in the manifest; none needs the
opt-in per-person file. Formulas: docs/metrics.md.

"Twin" is the counterfactual run (same population and random numbers, scoring off);
effects are twin minus factual (acts suppressed) or factual minus twin (income lost).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

from scorelab import classroom as CL, linked_harms as LH
from scorelab.listings import corrections, list_flows, lists, whose
from scorelab import vocabulary as V
from scorelab.errors import UsageError
from scorelab.impact import AXES as IMPACT_AXES
from scorelab.impact import HARMS as IMPACT_HARMS
from scorelab.impact import Worst, describe_worst
from scorelab.impact import worst_hit as impact_worst
from scorelab.scenario.model import observes_firms
from scorelab.tables import RunTables, as_run_tables
from scorelab.tables import metric_last as _last, metric_max as _max, metric_total as _total
from scorelab.vocabulary import FEW_EVENTS, few_events, per_thousand  # noqa: F401 (the headline read per capita)

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
BY = ("group", "province", "city", "urban")


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


# --------------------------------------------------------------------------- scores and grades


def _weighted_quantile(x: np.ndarray, w: np.ndarray, q: float) -> float:
    """Smallest x whose cumulative weight share reaches q (inverse of the empirical CDF)."""
    c = np.cumsum(w)
    i = int(np.searchsorted(c, q * c[-1] - 1e-9 * c[-1], side="left"))
    return float(x[min(i, x.size - 1)])


def gini(x: np.ndarray, w: np.ndarray | None = None) -> float | None:
    """Gini coefficient of values x with weights w: mean absolute difference over twice the mean,
    ``sum_ij w_i w_j |x_i - x_j| / (2 W^2 mean)``; None when the mean is not positive."""
    x = np.asarray(x, dtype=np.float64)
    w = np.ones_like(x) if w is None else np.asarray(w, dtype=np.float64)
    if x.size == 0:
        return None
    order = np.argsort(x, kind="stable")
    x, w = x[order], w[order]
    W = w.sum()
    S = float((w * x).sum())
    if W <= 0 or S <= 0:
        return None
    C = np.cumsum(w)
    return float((w * x * (2 * C - w - W)).sum() / (W * S))


def score_distribution(r: Any) -> pl.DataFrame:
    """End scores of scored people: count, mean, sd, min, quantiles, max, Gini (one row)."""
    r = as_run_tables(r)
    s = r.scores.sort("score")
    x = s.get_column("score").to_numpy().astype(np.float64)
    w = s.get_column("people").to_numpy().astype(np.float64)
    row: dict[str, Any] = {"scored": int(w.sum())}
    if w.sum() > 0:
        mean = float((w * x).sum() / w.sum())
        row |= {"mean": mean, "sd": float(np.sqrt(max(0.0, (w * (x - mean) ** 2).sum() / w.sum()))), "min": float(x[0])}
        for q in QUANTILES:
            row[f"p{round(q * 100):02d}"] = _weighted_quantile(x, w, q)
        row |= {"max": float(x[-1]), "gini": gini(x, w)}
    else:
        row |= {k: None for k in ("mean", "sd", "min", *[f"p{round(q * 100):02d}" for q in QUANTILES], "max", "gini")}
    return pl.DataFrame([row], schema={k: (pl.Int64 if k == "scored" else pl.Float64) for k in row})


def score_series(r: Any) -> pl.DataFrame:
    """Mean and standard deviation of scored people's scores at the end of each step."""
    r = as_run_tables(r)
    return r.metrics.select("day", pl.col("score.mean").alias("mean"), pl.col("score.sd").alias("sd"))


def grade_shares(r: Any) -> pl.DataFrame:
    """People per grade at the start (before day 0) and at the end of the run, and shares."""
    r = as_run_tables(r)
    grades = r.names["grades"]
    start = r.scores.group_by("start_grade").agg(pl.col("people").sum())
    start_n = dict(zip(start.get_column("start_grade").to_list(), start.get_column("people").to_list()))
    end_n = {g: int(_last(r, f"grades.{g}")) for g in grades}
    s_tot, e_tot = sum(start_n.values()), sum(end_n.values())
    return pl.DataFrame({
        "grade": grades,
        "start_people": [int(start_n.get(g, 0)) for g in grades],
        "start_share": [_ratio(start_n.get(g, 0), s_tot) for g in grades],
        "end_people": [end_n[g] for g in grades],
        "end_share": [_ratio(end_n[g], e_tot) for g in grades],
    }, schema={"grade": pl.String, "start_people": pl.Int64, "start_share": pl.Float64,
               "end_people": pl.Int64, "end_share": pl.Float64})


def grade_shares_over_time(r: Any) -> pl.DataFrame:
    """People per grade at the end of each step, long format (day, grade, people, share)."""
    r = as_run_tables(r)
    grades = r.names["grades"]
    cols = [f"grades.{g}" for g in grades]
    long = r.metrics.select("day", *cols).unpivot(index="day", variable_name="grade", value_name="people")
    long = long.with_columns(pl.col("grade").str.strip_prefix("grades."))
    return long.with_columns((pl.col("people") / pl.col("people").sum().over("day")).fill_nan(None).alias("share"))


def grade_transitions(r: Any) -> pl.DataFrame:
    """Grade transition matrix start -> end: people and share of the start grade's people,
    every (start, end) pair including empty ones, in grade order."""
    r = as_run_tables(r)
    grades = r.names["grades"]
    cells = r.scores.group_by("start_grade", "grade").agg(pl.col("people").sum())
    n = {(a, b): int(c) for a, b, c in cells.iter_rows()}
    rows = []
    for a in grades:
        tot = sum(n.get((a, b), 0) for b in grades)
        for b in grades:
            rows.append((a, b, n.get((a, b), 0), _ratio(n.get((a, b), 0), tot)))
    return pl.DataFrame(rows, schema={"start_grade": pl.String, "end_grade": pl.String, "people": pl.Int64,
                                      "share": pl.Float64}, orient="row")


# --------------------------------------------------------------------------- records


def records(r: Any) -> pl.DataFrame:
    """Records made, by channel and error status (true, misattributed, false_match), with the
    share of the channel's records."""
    r = as_run_tables(r)
    rows = []
    for c in r.names["channels"]:
        counts = {x: _total(r, f"records.{c}.{x}") for x in ("true", "misattributed", "false_match")}
        tot = sum(counts.values())
        rows += [(c, x, int(v), _ratio(v, tot)) for x, v in counts.items()]
    return pl.DataFrame(rows, schema={"channel": pl.String, "status": pl.String, "records": pl.Int64,
                                      "share": pl.Float64}, orient="row")


def records_by_whom(r: Any) -> dict[str, dict[str, float]]:
    """The records made over the run by error status (true, misattributed, false_match), about
    people and about firms apart: {"person": {...}, "firm": {...}} (the channels' columns count
    both; ``records_about_firms.*`` the firms')."""
    r = as_run_tables(r)
    statuses = ("true", "misattributed", "false_match")
    every = {x: sum(_total(r, f"records.{c}.{x}") for c in r.names["channels"]) for x in statuses}
    firms = {x: _total(r, f"records_about_firms.{x}") for x in statuses}
    return {"person": {x: every[x] - firms[x] for x in statuses}, "firm": firms}


def records_removed(r: Any) -> pl.DataFrame:
    """Records removed, by reason (appeal: erroneous records removed on appeal; deleted: past
    retention or expiry)."""
    r = as_run_tables(r)
    return pl.DataFrame({"reason": ["appeal", "deleted"],
                         "records": [int(_total(r, "records_removed.appeal")), int(_total(r, "records_removed.deleted"))]})


# --------------------------------------------------------------------------- consequences


def consequences(r: Any) -> pl.DataFrame:
    """Each consequence: kind, whether a sanction, times applied, wrongful (would not apply on
    true records alone), by association (only the social or association term put the grade there), money
    moved (negative: fines), and the wrongful share."""
    r = as_run_tables(r)
    rows = []
    for k, info in r.names["consequences"].items():
        applied = _total(r, f"consequences.{k}.applied")
        wrongful = _total(r, f"consequences.{k}.wrongful")
        rows.append((k, info["kind"], info["actor"], bool(info["sanction"]), int(applied), int(wrongful),
                     int(_total(r, f"consequences.{k}.association")), _total(r, f"consequences.{k}.money"),
                     _ratio(wrongful, applied)))
    return pl.DataFrame(rows, schema={"consequence": pl.String, "kind": pl.String, "actor": pl.String,
                                      "sanction": pl.Boolean, "applied": pl.Int64, "wrongful": pl.Int64,
                                      "association": pl.Int64, "money": pl.Float64, "wrongful_share": pl.Float64},
                        orient="row")


def sanctions_by_kind(r: Any) -> pl.DataFrame:
    """Sanctions and rewards summed by consequence kind (refusal, fine, discount, ...)."""
    c = consequences(r)
    return (c.group_by("kind", "sanction")
            .agg(pl.col("applied", "wrongful", "association", "money").sum())
            .with_columns((pl.col("wrongful") / pl.col("applied")).fill_nan(None).alias("wrongful_share"))
            .sort("sanction", "kind", descending=[True, False]))


def wrongful_sanctions(r: Any) -> pl.DataFrame:
    """The sanctions of people together: applied, wrongful, by association, wrongful share, and
    the people sanctioned at least once / wrongfully at least once; the sanctions of firms apart
    (applied, wrongful), so that no per-person rate counts a firm's (one row)."""
    r = as_run_tables(r)
    c = consequences(r).filter(pl.col("sanction"))
    firms = c.filter(pl.col("actor") == "firm")
    c = c.filter(pl.col("actor") != "firm")
    applied, wrongful = int(c.get_column("applied").sum()), int(c.get_column("wrongful").sum())
    g = r.groups
    return pl.DataFrame([{
        "sanctions": applied, "wrongful": wrongful, "association": int(c.get_column("association").sum()),
        "wrongful_share": _ratio(wrongful, applied),
        "people_sanctioned": int(g.get_column("sanctioned_people").sum()),
        "people_wrongfully_sanctioned": int(g.get_column("wrongfully_sanctioned_people").sum()),
        "firm_sanctions": int(firms.get_column("applied").sum()), "firm_wrongful": int(firms.get_column("wrongful").sum()),
    }], schema={"sanctions": pl.Int64, "wrongful": pl.Int64, "association": pl.Int64, "wrongful_share": pl.Float64,
                "people_sanctioned": pl.Int64, "people_wrongfully_sanctioned": pl.Int64, "firm_sanctions": pl.Int64,
                "firm_wrongful": pl.Int64})


def rewards(r: Any) -> pl.DataFrame:
    """People's rewards together (discounts, bonuses, priority, promotions, gains of income or
    points; by grade or by list) and those of red lists: applied, wrongful (to someone graded or
    listed wrongly: on true records alone it would not apply), the people rewarded, and the
    red-listed people at the end (a firm's representative listed jointly included); firms'
    rewards and red listings apart (``firm_rewards``, ``firms_red_listed_at_end``) (one row)."""
    r = as_run_tables(r)
    c = consequences(r).filter(~pl.col("sanction"))
    firms = c.filter(pl.col("actor") == "firm")
    c = c.filter(pl.col("actor") != "firm")
    via_red = [k for k, info in r.names["consequences"].items() if info.get("red_list")]
    cr = c.filter(pl.col("consequence").is_in(via_red))
    g = r.groups
    return pl.DataFrame([{
        "rewards": int(c.get_column("applied").sum()), "wrongful": int(c.get_column("wrongful").sum()),
        "red_list_rewards": int(cr.get_column("applied").sum()),
        "red_list_rewards_wrongful": int(cr.get_column("wrongful").sum()),
        "people_rewarded": int(g.get_column("rewarded_people").sum()) if "rewarded_people" in g.columns else 0,
        "red_listed_at_end": int(sum(_last(r, f"{p}.stock") for p in whose(r, "person", True))),
        "red_listed_wrongfully_at_end": int(sum(_last(r, f"{p}.wrongful_stock") for p in whose(r, "person", True))),
        "firm_rewards": int(firms.get_column("applied").sum()),
        "firms_red_listed_at_end": int(sum(_last(r, f"{p}.stock") for p in whose(r, "firm", True))),
    }], schema={"rewards": pl.Int64, "wrongful": pl.Int64, "red_list_rewards": pl.Int64,
                "red_list_rewards_wrongful": pl.Int64, "people_rewarded": pl.Int64, "red_listed_at_end": pl.Int64,
                "red_listed_wrongfully_at_end": pl.Int64, "firm_rewards": pl.Int64, "firms_red_listed_at_end": pl.Int64})


def rewards_by(r: Any, by: str = "group") -> pl.DataFrame:
    """Rewards by ``by`` (group, province, city or urban): people, rewards, people rewarded,
    rewards per 1,000 people and the ratio to the overall rate (null when nobody was rewarded):
    the distribution of rewards beside that of sanctions (``disparate_impact``)."""
    if by not in BY:
        raise UsageError(f"rewards_by: by must be one of {', '.join(BY)}, got {by!r}")
    g = as_run_tables(r).groups
    cells = g.group_by(by).agg(pl.col("people", "rewards", "rewarded_people").sum()).sort(by)
    people, total = float(g.get_column("people").sum()), float(g.get_column("rewards").sum())
    overall = total / people if people else 0.0
    return cells.with_columns(
        (1000.0 * pl.col("rewards") / pl.col("people")).alias("rewards_per_1000"),
        ((pl.col("rewards") / pl.col("people")) / overall if overall else pl.lit(None, dtype=pl.Float64))
        .alias("rewards_ratio"))


def association(r: Any) -> pl.DataFrame:
    """Guilt by association: per consequence, applications that only the social or association term caused,
    and their share of all applications."""
    c = consequences(r)
    return c.select("consequence", "kind", "sanction", "applied", "association",
                    (pl.col("association") / pl.col("applied")).fill_nan(None).alias("association_share"))


def service_refusals(r: Any) -> pl.DataFrame:
    """Refusal consequences (services, travel, loans, schools, jobs): refusals, wrongful refusals,
    by association."""
    c = consequences(r)
    return c.filter(pl.col("kind") == "refusal").select("consequence", "actor", "applied", "wrongful", "association",
                                                         "wrongful_share")


# --------------------------------------------------------------------------- flags and lists


def flags(r: Any) -> pl.DataFrame:
    """Each flag: raised, true and false positives, precision = true / (true + false),
    investigated, backlog at the end and its maximum, withdrawn from the queue and
    investigations overturned (what raised them was removed)."""
    r = as_run_tables(r)
    rows = []
    for f in r.names["flags"]:
        t, fa = _total(r, f"flags.{f}.true"), _total(r, f"flags.{f}.false")
        rows.append((f, int(_total(r, f"flags.{f}.raised")), int(t), int(fa), _ratio(t, t + fa),
                     int(_total(r, f"flags.{f}.investigated")), int(_last(r, f"flags.{f}.backlog")),
                     int(_max(r, f"flags.{f}.backlog")), int(_total(r, f"flags.{f}.withdrawn")),
                     int(_total(r, f"flags.{f}.investigations_overturned"))))
    return pl.DataFrame(rows, schema={"flag": pl.String, "raised": pl.Int64, "true": pl.Int64, "false": pl.Int64,
                                      "precision": pl.Float64, "investigated": pl.Int64, "backlog_end": pl.Int64,
                                      "backlog_max": pl.Int64, "withdrawn": pl.Int64,
                                      "investigations_overturned": pl.Int64}, orient="row")


def identification(r: Any) -> pl.DataFrame:
    """Each channel that searches faces 1:N against a watchlist: faces captured and searched,
    those of listed people, listed people recognised, false alerts (unlisted people matched:
    bystanders stopped and recorded), alerts per 1,000 faces, and alert precision =
    hits / (hits + false alerts); its expected value is in docs/channels.md."""
    r = as_run_tables(r)
    rows = []
    for c in r.names.get("identification", []):
        scanned, listed = _total(r, f"identification.{c}.scanned"), _total(r, f"identification.{c}.scanned_listed")
        hits, false = _total(r, f"identification.{c}.hits"), _total(r, f"identification.{c}.false_alerts")
        per_1000 = _ratio(1000.0 * (hits + false), scanned)
        rows.append((c, int(scanned), int(listed), int(hits), int(false), per_1000, _ratio(hits, hits + false)))
    return pl.DataFrame(rows, schema={"channel": pl.String, "scanned": pl.Int64, "scanned_listed": pl.Int64,
                                      "hits": pl.Int64, "false_alerts": pl.Int64, "alerts_per_1000": pl.Float64,
                                      "precision": pl.Float64}, orient="row")


def audio(r: Any) -> pl.DataFrame:
    """Each in-car audio channel: covered trips and acts of the watched talk, talk heard (true
    records about drivers), false positives (false records about drivers), records about
    passengers, and the share of its records about someone who did not say anything watched
    (false positives and passengers); expected values in docs/channels.md#in-car-audio."""
    r = as_run_tables(r)
    rows = []
    for c in r.names.get("audio", []):
        trips, talk, hits, fp, pas = (_total(r, f"audio.{c}.{x}") for x in
                                      ("trips", "talk", "hits", "false_positives", "passenger_records"))
        rows.append((c, int(trips), int(talk), int(hits), int(fp), int(pas), _ratio(fp + pas, hits + fp + pas)))
    return pl.DataFrame(rows, schema={"channel": pl.String, "trips": pl.Int64, "talk": pl.Int64, "hits": pl.Int64,
                                      "false_positives": pl.Int64, "passenger_records": pl.Int64,
                                      "false_share": pl.Float64}, orient="row")


# --------------------------------------------------------------------------- behaviour and economy


def chilling(r: Any) -> pl.DataFrame:
    """Acts per behaviour in the twin and in the factual world, with whose acts they are
    (``actor``: person or firm); suppressed = twin - factual, suppressed_share = suppressed /
    twin. For 'disfavoured' (lawful) behaviours this is the chilling effect; for 'wrongdoing' it
    is deterrence. The headline's figures are people's; firms' deterred wrongdoing is apart."""
    r = as_run_tables(r)
    behaviours = (r.scenario_data or {}).get("behaviours") or {}
    rows = []
    for b, kind in r.names["behaviours"].items():
        fact, twin = _total(r, f"events.{b}"), _total(r, f"events_twin.{b}")
        actor = str((behaviours.get(b) or {}).get("actor", "person"))
        rows.append((b, kind, actor, int(twin), int(fact), int(twin - fact), _ratio(twin - fact, twin)))
    return pl.DataFrame(rows, schema={"behaviour": pl.String, "kind": pl.String, "actor": pl.String,
                                      "events_twin": pl.Int64, "events": pl.Int64, "suppressed": pl.Int64,
                                      "suppressed_share": pl.Float64}, orient="row")


def economic_losses(r: Any) -> pl.DataFrame:
    """People's income lost against the twin (total and per person), fines they paid, discounts
    and bonuses they received, and the net money consequences moved for them; firms' fines and
    discounts and bonuses apart (``firm_*``) (one row)."""
    r = as_run_tables(r)
    g = r.groups
    people = int(g.get_column("people").sum())
    lost = float(g.get_column("income_lost").sum())
    c = consequences(r)

    def money(kinds: list[str], firm: bool) -> float:
        return float(c.filter(pl.col("kind").is_in(kinds) & ((pl.col("actor") == "firm") == firm))
                     .get_column("money").sum()) + 0.0

    return pl.DataFrame([{
        "people": people, "income_lost": lost, "income_lost_per_person": _ratio(lost, people),
        "fines": -money(["fine"], False) + 0.0, "discounts_and_bonuses": money(["discount", "bonus"], False),
        "money_net_people": float(g.get_column("money").sum()),
        "firm_fines": -money(["fine"], True) + 0.0, "firm_discounts_and_bonuses": money(["discount", "bonus"], True),
    }], schema={"people": pl.Int64, "income_lost": pl.Float64, "income_lost_per_person": pl.Float64,
                "fines": pl.Float64, "discounts_and_bonuses": pl.Float64, "money_net_people": pl.Float64,
                "firm_fines": pl.Float64, "firm_discounts_and_bonuses": pl.Float64})


# --------------------------------------------------------------------------- disparate impact


def impact(r: Any, axis: str | None = None, harm: str | None = None) -> pl.DataFrame:
    """Each harm per 1,000 people by axis (``scorelab.impact.AXES``: group, income decile, age
    band, urban or rural, occupation, province, city; ``all`` for everyone), with counts, 95 %
    intervals, the ratio to the overall rate and a rank among cells with at least
    ``impact.MIN_EVENTS`` events and ``impact.MIN_PEOPLE`` people; optionally one axis or harm."""
    r = as_run_tables(r)
    d = r.impact()
    for key, value, known in (("axis", axis, ("all", *IMPACT_AXES)), ("harm", harm, IMPACT_HARMS)):
        if value is None:
            continue
        if value not in known:
            raise UsageError(f"impact: {key} must be one of {', '.join(known)}, got {value!r}")
        d = d.filter(pl.col(key) == value)
    return d


def disparate_impact(r: Any, by: str = "group") -> pl.DataFrame:
    """The impact table of one axis, wide: one row per cell (the column ``by``, in name order)
    with its people and, per harm, its count (``<harm>``), rate per 1,000
    (``<harm>_per_1000``) and ratio to the overall rate (``<harm>_ratio``, null when that is 0)."""
    d = impact(r, by)
    out = d.select(pl.col("cell").alias(by), "people").unique(by, keep="first", maintain_order=True)
    for h in dict.fromkeys(d.get_column("harm").to_list()):
        rows = d.filter(pl.col("harm") == h).select(pl.col("cell").alias(by), pl.col("count").alias(h),
                                                    pl.col("per_1000").alias(f"{h}_per_1000"),
                                                    pl.col("ratio").alias(f"{h}_ratio"))
        out = out.join(rows, on=by, how="left")
    return out.sort(by)


def worst_hit(r: Any, harm: str = "sanctions", axis: str = "group") -> Worst:
    """The worst-hit cell of ``axis`` for ``harm`` among the ranked ones (``impact.worst_hit``):
    ``cell`` None, and ``reason`` why, when no cell has enough events to be ranked."""
    return impact_worst(impact(r, axis, harm), harm, axis)


def worst_over_runs(runs: Any, figure: str) -> str:
    """A worst-hit figure (``vocabulary.WORST_HIT``) over replicates: the group each names, with
    the range of its ratio to the overall rate when every run names the same ("minority in
    every run (1.32x to 1.48x the overall rate)"), else how often each is named (the texts
    themselves differ by their rates even when the group is the same)."""
    harm = next(h for h, name in V.WORST_HIT.items() if name == figure)
    worst = [worst_hit(r, harm) for r in runs]
    cells = [w.cell for w in worst]
    if len(set(cells)) == 1:
        if cells[0] is None:
            return "none ranked in any run"
        ratios = [w.ratio for w in worst if w.ratio is not None]
        spread = f" ({min(ratios):.2f}x to {max(ratios):.2f}x the overall rate)" if ratios else ""
        return f"{cells[0]} in every run{spread}"
    counts = {c: cells.count(c) for c in dict.fromkeys(cells)}
    return "differs by run: " + ", ".join(f"{c or 'none ranked'} in {n} of {len(cells)}" for c, n in counts.items())


# --------------------------------------------------------------------------- catalogue


CATALOGUE: dict[str, Callable[[Any], pl.DataFrame]] = {
    "score_distribution": score_distribution,
    "score_series": score_series,
    "grade_shares": grade_shares,
    "grade_shares_over_time": grade_shares_over_time,
    "grade_transitions": grade_transitions,
    "records": records,
    "records_removed": records_removed,
    "corrections": corrections,
    "consequences": consequences,
    "sanctions_by_kind": sanctions_by_kind,
    "wrongful_sanctions": wrongful_sanctions,
    "rewards": rewards,
    "rewards_by_group": lambda r: rewards_by(r, "group"),
    "association": association,
    "linked_harms": LH.linked_harms,
    "linked_summary": LH.linked_summary,
    "linked_by_year": LH.linked_by_year,
    "fines": LH.fines,
    "service_refusals": service_refusals,
    "flags": flags,
    "identification": identification,
    "audio": audio, "classroom": CL.classroom,
    "lists": lists,
    "list_flows": list_flows,
    "chilling": chilling,
    "economic_losses": economic_losses,
    "impact": impact,
    "disparate_impact_group": disparate_impact,
}


def compute_all(r: Any) -> dict[str, pl.DataFrame]:
    """Every metric of the catalogue, by name."""
    r = as_run_tables(r)
    return {name: f(r) for name, f in CATALOGUE.items()}


def headline(r: Any) -> dict[str, float | str | None]:
    """The figures the command line prints after a run (names: ``scorelab.vocabulary``).

    A ratio over nothing (no wrongful listing lifted, no alerts, no one scored...) is ``None``,
    never 0: tables show why (``vocabulary.not_defined``); means leave it out (docs/metrics.md)."""
    r = as_run_tables(r)
    m = r.manifest
    rec = records_by_whom(r)
    ws = wrongful_sanctions(r).row(0, named=True)
    cor = corrections(r).row(0, named=True)
    fl = flags(r)
    ch = chilling(r)
    people_acts = ch.filter(pl.col("actor") == "person")  # (firms' acts apart)
    t, f = int(fl.get_column("true").sum()), int(fl.get_column("false").sum())
    people_rec, firm_rec = rec["person"], rec["firm"]  # (the records' figures are people's)
    firm_true, firm_err = firm_rec["true"], firm_rec["misattributed"] + firm_rec["false_match"]
    out: dict[str, float | str | None] = {
        V.PEOPLE: float(m["people"]),
        V.DAYS: float(m["days"]),
        V.RECORDS_TRUE: people_rec["true"],
        V.RECORDS_ERRONEOUS: people_rec["misattributed"] + people_rec["false_match"],
        V.SANCTIONS: float(ws["sanctions"]),
        V.SANCTIONS_WRONGFUL: float(ws["wrongful"]),
        V.SANCTIONS_BY_ASSOCIATION: float(ws["association"]),
        V.SANCTIONS_WRONGFUL_BEFORE_CORRECTION: float(cor["wrongful_sanctions_before_correction"]),
        V.LISTINGS_OVERTURNED: float(cor["listings_overturned"]),
        V.WRONGFUL_LISTINGS_AT_END: float(cor["wrongful_listings_at_end"]),
        V.PEOPLE_DAYS_WRONGFULLY_LISTED: float(cor["people_days_wrongfully_listed"]),
        V.DAYS_TO_LIFT_WRONGFUL_LISTING: cor["days_to_correction_mean"],
        V.FLAGS_WITHDRAWN: float(cor["flags_withdrawn"]),
        V.PEOPLE_SANCTIONED: float(ws["people_sanctioned"]),
        V.FLAGS_TRUE: float(t),
        V.FLAGS_FALSE: float(f),
        V.FLAGS_INVESTIGATED: float(fl.get_column("investigated").sum()),
        V.LAWFUL_ACTS_SUPPRESSED: float(people_acts.filter(pl.col("kind") == "disfavoured").get_column("suppressed").sum()),
        V.WRONGDOING_DETERRED: float(people_acts.filter(pl.col("kind") == "wrongdoing").get_column("suppressed").sum()),
        V.INCOME_LOST: float(economic_losses(r).get_column("income_lost")[0]),
        V.RECORDS_HELD: _last(r, "data.records_held"),
        V.PEOPLE_WITH_DATA: _last(r, "data.people_with_data"),
    }
    if observes_firms(r.scenario_data or {}):
        out[V.FIRM_RECORDS_TRUE], out[V.FIRM_RECORDS_ERRONEOUS] = firm_true, firm_err
    firm_wrongs = ch.filter((pl.col("actor") == "firm") & (pl.col("kind") == "wrongdoing"))
    if firm_wrongs.height:
        out[V.FIRM_WRONGDOING_DETERRED] = float(firm_wrongs.get_column("suppressed").sum())
    firms = [c for c in r.names["consequences"].values() if c["actor"] == "firm"]
    if any(c["sanction"] for c in firms):
        out[V.FIRM_SANCTIONS], out[V.FIRM_SANCTIONS_WRONGFUL] = float(ws["firm_sanctions"]), float(ws["firm_wrongful"])
    if not all(c["sanction"] for c in firms):
        out[V.FIRM_REWARDS] = float(rewards(r).item(0, "firm_rewards"))
    if any(a == "firm" and x not in r.names.get("red_lists", []) for x, a in r.names["lists"].items()):
        out[V.FIRM_LISTINGS_OVERTURNED] = float(cor["firm_listings_overturned"])
        out[V.FIRM_WRONGFUL_LISTINGS_AT_END] = float(cor["firm_wrongful_listings_at_end"])
        out[V.FIRM_DAYS_WRONGFULLY_LISTED] = float(cor["firm_days_wrongfully_listed"])
    idn = identification(r)
    if idn.height:  # (runs with face identification only)
        hits, false = int(idn.get_column("hits").sum()), int(idn.get_column("false_alerts").sum())
        scanned = int(idn.get_column("scanned").sum())
        out[V.BYSTANDERS_STOPPED] = float(false)
        out[V.ALERT_PRECISION] = _ratio(hits, hits + false)
        out[V.ALERTS_PER_THOUSAND_FACES] = _ratio(1000.0 * (hits + false), scanned)
    au = audio(r)
    if au.height:  # (runs with in-car audio only)
        hits, false = float(au.get_column("hits").sum()), float(au.get_column("false_positives").sum()
                                                                 + au.get_column("passenger_records").sum())
        out[V.AUDIO_RECORDS], out[V.AUDIO_RECORDS_FALSE] = hits + false, false
        out[V.AUDIO_FALSE_SHARE] = _ratio(false, hits + false)
    if r.names.get("red_lists"):  # (runs with red lists only)
        rw = rewards(r).row(0, named=True)
        out[V.REWARDS] = float(rw["rewards"])
        out[V.REWARDS_WRONGFUL] = float(rw["wrongful"])
        out[V.RED_LISTED_AT_END] = float(rw["red_listed_at_end"])
        if any(r.names["lists"][x] == "firm" for x in r.names["red_lists"]):
            out[V.RED_LISTED_FIRMS_AT_END] = float(rw["firms_red_listed_at_end"])
    out.update(LH.headline_figures(r) | CL.headline_figures(r))  # (runs with links, fines, classroom monitoring)
    for row in grade_shares(r).iter_rows(named=True):
        out[V.grade_share(row["grade"])] = row["end_share"]
    table = r.impact()
    for harm, name in V.WORST_HIT.items():
        out[name] = describe_worst(impact_worst(table.filter(pl.col("axis") == "group"), harm))
    return out
