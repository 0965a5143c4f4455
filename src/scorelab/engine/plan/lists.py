"""Lists: entry by records, grades or time on another list; exit after a time, when clean or
at a rate; joint punishment of a firm's representative (docs/lists-and-consequences.md)."""

from __future__ import annotations

from typing import Any

import numpy as np

from scorelab.engine.plan.context import Context


def plan_lists(cx: Context) -> dict[str, Any]:
    """Per list: whose it is (0 people, 1 firms), the behaviours and grades that enter it, the
    records needed and within how many steps, the list it promotes from and after how long, the
    steps until exit and clean steps that exit, the exit rate per step, joint punishment (the
    row of its representatives' joint listings in the metrics, -1: none), and
    whether it is a red list (rewards; a wrongful red listing is not appealed).
    (``l_watch_row`` is the consequences': plan_consequences.)"""
    s, B, G, L = cx.s, cx.B, cx.G, cx.L
    l_actor = np.array([0 if s.lists[x].actor == "person" else 1 for x in cx.lists], dtype=np.int64)
    l_beh = np.zeros((L, B), dtype=np.uint8); l_grades = np.zeros((L, G), dtype=np.uint8)
    l_min = np.zeros(L, dtype=np.int64); l_within = np.full(L, -1, dtype=np.int64)
    l_from = np.full(L, -1, dtype=np.int64); l_after_listed = np.zeros(L, dtype=np.int64)
    l_after = np.zeros(L, dtype=np.int64); l_clean = np.full(L, -1, dtype=np.int64)
    l_exit_rate = np.zeros(L); l_joint_row = np.full(L, -1, dtype=np.int64)
    for li, name in enumerate(cx.lists):
        lst = s.lists[name]
        for b in lst.entry.behaviours:
            l_beh[li, cx.bidx[b]] = 1
        for g in lst.entry.grades:
            l_grades[li, cx.gidx[g]] = 1
        l_min[li] = max(1, lst.entry.min_records)
        l_within[li] = cx.steps(lst.entry.within)
        l_from[li] = -1 if lst.entry.from_list is None else cx.lidx[lst.entry.from_list]
        l_after_listed[li] = cx.steps(lst.entry.after_listed)
        l_after[li] = max(1, cx.steps(lst.exit.after))
        l_clean[li] = cx.steps(lst.exit.clean)
        l_exit_rate[li] = 0.0 if lst.exit.probability is None else lst.exit.probability * cx.dt
        if lst.joint_punishment:  # (its representatives' joint listings: a metric block of their own)
            l_joint_row[li] = int((l_joint_row >= 0).sum())
    return dict(l_actor=l_actor, l_beh=l_beh, l_min=l_min, l_within=l_within, l_grades=l_grades, l_from=l_from,
                l_after_listed=l_after_listed, l_after=l_after, l_clean=l_clean, l_exit_rate=l_exit_rate,
                l_joint_row=l_joint_row,
                l_red=np.array([s.lists[x].kind == "red" for x in cx.lists], dtype=np.uint8).reshape(L))
