"""Entities and regions: people are ids ``0..N-1``, firms ``N..N+F-1``; regions are cities, and
each joins the system on its rollout date."""

from __future__ import annotations

from typing import Any

import numpy as np

from scorelab.engine.plan.context import Context
from scorelab.engine.plan.helpers import fail
from scorelab.engine.plan.part import trajectory_candidates, trajectory_merge
from scorelab.engine.plan.rows import entity_column, ranges_of
from scorelab.rng import Stream


def plan_entities(cx: Context) -> dict[str, Any]:
    """Each entity's city, group and whether it is scored, firms' representatives, the income
    percentile an index dimension reads, and each region's ranges of entity slots, people and
    firms (docs/population.md, docs/day-loop.md)."""
    s, pop, N, F = cx.s, cx.pop, cx.N, cx.F
    # (int16: 2 bytes an entity each; a population has at most 255 groups, and cities beyond
    # int16's range, which no scenario reaches, keep int32)
    city_type = np.int16 if len(pop.city_names) <= np.iinfo(np.int16).max else np.int32
    ent_city = entity_column(cx, city_type, lambda lo, hi: pop.city[lo:hi], lambda lo, hi: pop.firms.city[lo:hi])
    n_groups = len(pop.group_names)
    ent_group = entity_column(cx, np.int16, lambda lo, hi: pop.group[lo:hi], lambda lo, hi: n_groups)
    ent_scored = entity_column(cx, np.uint8, lambda lo, hi: pop.age[lo:hi] >= s.scoring.min_age, lambda lo, hi: 1)
    firm_rep = entity_column(cx, np.int32, None, lambda lo, hi: pop.firms.representative[lo:hi])
    income_pct = np.zeros(0, dtype=np.float32)  # only an index dimension with an income term reads it
    if s.scoring.scheme != "points" and any(d.income != 0 for d in s.scoring.dimensions.values()):
        if cx.part is not None and not cx.part.whole:
            raise fail("scoring.dimensions", "an index dimension's income term ranks everyone's incomes: "
                       "it cannot be planned for some regions alone yet (run without --shards or on one shard)")
        income_pct = np.full(N + F, 0.5, dtype=np.float32)
        order = np.argsort(pop.income, kind="stable")
        income_pct[order] = (np.arange(N, dtype=np.float64) + 0.5) / max(N, 1)

    n_cities = len(pop.city_names)
    # candidate events are drawn per region, over its people [reg_p0[r], reg_p0[r+1]) and its
    # firms N + [reg_f0[r], reg_f0[r+1]): people and firms are stored in city order
    p_ranges, f_ranges = ranges_of(cx)
    for (lo, hi), (flo, fhi) in zip(p_ranges, f_ranges):
        if np.any(np.diff(pop.city[lo:hi].astype(np.int64)) < 0) or np.any(
                np.diff(pop.firms.city[flo:fhi].astype(np.int64)) < 0):
            raise RuntimeError("people and firms must be stored in city order (synth.population)")
    # (and its households: hh_start[reg_h0[r]:reg_h0[r+1] + 1], what a person's household is
    # searched among)
    if cx.part is None:
        reg_p0, reg_f0, reg_h0 = (np.zeros(n_cities + 1, dtype=np.int64) for _ in range(3))
        reg_p0[1:] = np.cumsum(np.bincount(pop.city, minlength=n_cities))
        reg_f0[1:] = np.cumsum(np.bincount(pop.firms.city, minlength=n_cities))
        reg_h0[1:] = np.cumsum(np.bincount(pop.city[pop.household_start[:-1]], minlength=n_cities))
    else:  # (every city's counts, from the census: the part holds only its own cities' people)
        reg_p0, reg_f0 = cx.part.person_starts.copy(), cx.part.firm_starts.copy()
        reg_h0 = cx.part.household_starts.copy()
    # regions are cities: each region's entities own a range of slots in per-region arrays
    reg_base = reg_p0 + reg_f0
    return dict(ent_city=ent_city, ent_group=ent_group, ent_scored=ent_scored, firm_rep=firm_rep,
                income_pct=income_pct, reg_base=reg_base, reg_p0=reg_p0, reg_f0=reg_f0, reg_h0=reg_h0, tr_ids=trajectory_sample(cx))


def plan_coming_of_age(cx: Context) -> dict[str, Any]:
    """With ``scoring.coming_of_age``, the people who reach the scoring age during the reported
    run and the step each does (docs/scoring.md#coming-of-age), by region: region r's are
    ``coa_ent[coa_ptr[r]:coa_ptr[r+1]]``, in step order. A person of whole age a at day 0 is
    a + u years old, u a counter-based uniform (stream ``birthdays``: the same for any shards),
    and reaches ``min_age`` after (min_age - a - u) years, in the step holding that day. The
    burn-in (before day 0) is run at the ages of day 0."""
    s, pop = cx.s, cx.pop
    R = len(pop.city_names)
    ptr = np.zeros(R + 1, dtype=np.int64)
    ent = np.zeros(0, dtype=np.int32)
    step = np.zeros(0, dtype=np.int32)
    if s.scoring.coming_of_age and s.scoring.enabled:
        young = np.concatenate([lo + np.flatnonzero(pop.age[lo:hi] < s.scoring.min_age)
                                for lo, hi in ranges_of(cx)[0]] + [np.zeros(0, dtype=np.int64)]).astype(np.int64)
        u = Stream(cx.seed, "birthdays").uniform(young)
        days = (float(s.scoring.min_age) - pop.age[young].astype(np.float64) - u) * 365.25
        at = cx.report_from + np.floor(days / cx.dt).astype(np.int64)
        keep = at < cx.n_steps
        young, at = young[keep], at[keep]
        order = np.lexsort((young, at, pop.city[young]))  # by region, then step, then id
        ent, step = young[order].astype(np.int32), at[order].astype(np.int32)
        ptr[1:] = np.cumsum(np.bincount(pop.city[ent], minlength=R))
    return dict(coa_on=int(bool(s.scoring.coming_of_age and s.scoring.enabled)), coa_ptr=ptr, coa_ent=ent,
                coa_step=step)


def trajectory_sample(cx: Context) -> np.ndarray:
    """The people whose paths are kept (``run.trajectories``), in id order: those with the
    smallest counter-based uniforms of stream ``trajectories`` (ties to the smaller ids), so the
    same for any split into shards and any rerun with the seed; a part's plan takes the sample
    its parts agreed on (``part.trajectory_merge``)."""
    if cx.part is not None:
        return cx.part.trajectories
    n = min(int(cx.s.run.trajectories), cx.N)
    return trajectory_merge([trajectory_candidates(cx.s.run.seed, n, np.array([[0, cx.N]]))], n)


def plan_rollout(cx: Context) -> dict[str, Any]:
    """The step each city joins (docs/rollout-and-safeguards.md): the default date, a
    province's date for its cities, a city's own date over its province's."""
    s, pop = cx.s, cx.pop
    city_join = np.full(len(pop.city_names), cx.step_of(s.rollout.default), dtype=np.int32)
    for rj in s.rollout.regions:  # provinces first, then cities override
        if rj.region in pop.province_names:
            p = pop.province_names.index(rj.region)
            city_join[np.asarray(pop.city_province) == p] = cx.step_of(rj.joins)
    for rj in s.rollout.regions:
        if rj.region in pop.city_names:
            city_join[pop.city_names.index(rj.region)] = cx.step_of(rj.joins)
    return dict(city_join=city_join)
