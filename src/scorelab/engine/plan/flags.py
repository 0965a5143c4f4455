"""Flags: "suspicious" rules over recent records, served by a limited investigation capacity
(docs/flags.md)."""

from __future__ import annotations

from typing import Any

import numpy as np

from scorelab.engine.plan.context import Context

#: Most investigations one step's capacity may hold: more than any queue of entities, and
#: exact as a float.
MAX_SERVED = 2.0**53


def plan_flags(cx: Context) -> dict[str, Any]:
    """Per flag: the behaviours whose records count and the lists on which a hit counts, the
    records needed and within how many steps, investigations per step, what an investigation costs in income and points, the list
    it adds to (-1: none), and the steps before the same entity is flagged again."""
    s, dt, FL = cx.s, cx.dt, cx.FL
    f_beh = np.zeros((FL, cx.B), dtype=np.uint8); f_lists = np.zeros((FL, cx.L), dtype=np.uint8)
    f_min = np.zeros(FL, dtype=np.int64); f_within = np.zeros(FL, dtype=np.int64)
    f_cap = np.zeros(FL); f_income = np.zeros(FL); f_points = np.zeros(FL)
    f_list = np.full(FL, -1, dtype=np.int64); f_cooldown = np.zeros(FL, dtype=np.int64)
    for fi, name in enumerate(cx.flags):
        f = s.flags[name]
        for b in f.rule.behaviours:
            f_beh[fi, cx.bidx[b]] = 1
        for x in f.rule.lists:
            f_lists[fi, cx.lidx[x]] = 1
        f_min[fi] = max(1, f.rule.min_records)
        f_within[fi] = max(1, cx.steps(f.rule.within))
        # (a capacity is for the described population unless fixed: docs/scale.md; past
        # MAX_SERVED a step serves its whole queue all the same, and the kernels' count of
        # investigations stays a 64-bit integer)
        f_cap[fi] = min(f.capacity * dt * (1.0 if f.fixed_capacity else s.population.scale), MAX_SERVED)
        f_income[fi], f_points[fi] = f.investigation_income, f.investigation_points
        f_list[fi] = -1 if f.add_to_list is None else cx.lidx[f.add_to_list]
        f_cooldown[fi] = cx.steps(f.cooldown)
    return dict(f_beh=f_beh, f_min=f_min, f_within=f_within, f_lists=f_lists, f_cap=f_cap, f_income=f_income,
                f_points=f_points, f_list=f_list, f_cooldown=f_cooldown)
