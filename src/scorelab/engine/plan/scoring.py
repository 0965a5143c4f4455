"""Scoring: points or index dimensions, caps and forced grades, bounds and recovery, grades,
the social and association terms over contacts, and the views a score is kept in
(docs/scoring.md)."""

from __future__ import annotations

from typing import Any

import numpy as np

from scorelab.engine.plan.context import Context
from scorelab.engine.plan.helpers import csr_union, fail, frozen, weighted_union
from scorelab.engine.plan.params import ASSOCIATION_UNIT
from scorelab.engine.plan.rows import own_rows


def plan_social(cx: Context) -> dict[str, Any]:
    """The social term (docs/scoring.md#the-social-term-a-blend): its weight and the union of
    its contact layers as one graph (not read when the weight is 0)."""
    social = cx.s.scoring.social
    if social is not None and social.weight > 0:
        soc_ptr, soc_idx = csr_union(cx.contacts, list(social.layers), cx.N, own_rows(cx))
        soc_w = float(social.weight)
    else:
        soc_ptr, soc_idx, soc_w = np.zeros(1, np.int64), np.zeros(0, np.int32), 0.0  # never read
    return dict(soc_ptr=frozen(soc_ptr, np.int64), soc_idx=frozen(soc_idx, np.int32), soc_w=soc_w)


def plan_association(cx: Context) -> dict[str, Any]:
    """The association term (docs/scoring.md#the-association-term): per edge of the weighted
    contact graph, what a contact that counts against (or for) a person gives them, in whole
    ASSOCIATION_UNITs (exact sums, so what a contact gave is taken back exactly); the lists and
    grades that count against, the grades that count for, the cap and the half-life."""
    asc = cx.s.scoring.association
    as_lists = np.zeros(cx.L, dtype=np.uint8); as_pgr = np.zeros(cx.G, dtype=np.uint8); as_rgr = np.zeros(cx.G, dtype=np.uint8)
    if asc is not None:
        as_ptr, as_idx, as_wt = weighted_union(cx.contacts, dict(asc.layers), cx.N, own_rows(cx))
        as_pen = np.rint(as_wt * asc.points / ASSOCIATION_UNIT).astype(np.int64)
        as_rew = np.rint(as_wt * (asc.rewards.points if asc.rewards else 0.0) / ASSOCIATION_UNIT).astype(np.int64)
        for x in asc.lists:
            as_lists[cx.lidx[x]] = 1
        for g in asc.grades:
            as_pgr[cx.gidx[g]] = 1
        for g in (asc.rewards.grades if asc.rewards else []):
            as_rgr[cx.gidx[g]] = 1
    else:
        as_ptr, as_idx, as_pen, as_rew = np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int64), np.zeros(0, np.int64)
    return dict(
        as_on=0 if asc is None else 1, as_ptr=as_ptr, as_idx=as_idx, as_pen=as_pen, as_rew=as_rew,
        as_lists=as_lists, as_pgr=as_pgr, as_rgr=as_rgr,
        as_cap=np.inf if asc is None or asc.cap is None else float(asc.cap),
        as_half=0 if asc is None else cx.steps(asc.half_life),
    )


def plan_scoring(cx: Context) -> dict[str, Any]:
    """The scheme (0 points, 1 index), base, range and bounds, recovery, each grade's lower
    bound, and per behaviour and dimension what a record adds: a points scheme is one dimension
    whose rules may cap a behaviour's points a year or force a grade; an index scheme weighs
    its dimensions (docs/scoring.md)."""
    s, B = cx.s, cx.B
    sc = s.scoring
    scheme = 0 if sc.scheme == "points" else 1
    n_dims = 1 if scheme == 0 else len(sc.dimensions)
    dim_w = np.ones(n_dims); dim_start = np.zeros(n_dims); dim_inc = np.zeros(n_dims)
    dim_rec = np.zeros((B, n_dims))
    pts = np.zeros(B); cap = np.full(B, np.inf); cap_row = np.full(B, -1, dtype=np.int64); set_cap = np.full(B, np.nan)
    if scheme == 0:
        n_caps = 0
        for rule in sc.rules:
            bi = cx.bidx[rule.behaviour]
            pts[bi] += rule.points
            dim_rec[bi, 0] += rule.points
            if rule.cap_per_year is not None:
                cap[bi] = rule.cap_per_year
                cap_row[bi] = n_caps
                n_caps += 1
            if rule.set_grade is not None:
                below = s.grades[cx.gidx[rule.set_grade]].below
                ceiling = np.inf if below is None else below - 1e-6
                set_cap[bi] = ceiling if np.isnan(set_cap[bi]) else min(set_cap[bi], ceiling)
    else:
        for di, dname in enumerate(sc.dimensions):
            d = sc.dimensions[dname]
            dim_w[di], dim_start[di], dim_inc[di] = d.weight, d.start, d.income
            for b, v in d.records.items():
                dim_rec[cx.bidx[b], di] = v
        if dim_w.sum() <= 0:
            raise fail("scoring.dimensions", "the dimension weights must not all be 0")
    clip_lo, clip_hi = (sc.bounds if sc.bounds is not None else (-np.inf, np.inf))
    return dict(
        scheme=scheme, base=float(sc.base), lo=float(sc.range[0]), hi=float(sc.range[1]),
        clip_lo=float(clip_lo), clip_hi=float(clip_hi), n_dims=n_dims, dim_w=dim_w, dim_start=dim_start,
        dim_rec=dim_rec, dim_inc=dim_inc, pts=pts, cap_row=cap_row, cap=cap, set_cap=set_cap,
        recovery=cx.steps(sc.recovery),
        g_from=np.array([(-np.inf if g.from_ is None else g.from_) for g in s.grades], dtype=np.float64),
    )


def plan_views(cx: Context) -> dict[str, Any]:
    """Views (docs/scoring.md#views): 0 all records, 1 true records only, 2.. purpose-limited
    domain sets (docs/rollout-and-safeguards.md), each followed by its true-records-only twin,
    used to judge wrongfulness; ``k_view``, the view each consequence reads."""
    s, domains = cx.s, cx.domains
    view_dom = [np.ones(len(domains), dtype=np.uint8), np.ones(len(domains), dtype=np.uint8)]
    view_true = [0, 1]
    k_view = np.zeros(cx.K, dtype=np.int64)
    if s.safeguards.purpose_limitation:
        for ki, name in enumerate(cx.cons):
            ds = s.consequences[name].domains
            if ds is None:
                continue
            mask = np.array([1 if d in ds else 0 for d in domains], dtype=np.uint8)
            for vi in range(2, len(view_dom), 2):
                if np.array_equal(view_dom[vi], mask):
                    k_view[ki] = vi
                    break
            else:
                view_dom += [mask, mask]
                view_true += [0, 1]
                k_view[ki] = len(view_dom) - 2
    return dict(
        n_views=len(view_dom), view_dom=np.stack(view_dom) if domains else np.ones((len(view_dom), 1), np.uint8),
        view_true=np.array(view_true, dtype=np.uint8), k_view=k_view,
    )
