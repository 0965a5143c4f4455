"""Event types and behaviours: each type's rate per step, thinned by the static class of its
actor and by dynamic modifiers; behaviours' kinds, domains and responses (docs/behaviours.md).

Event *types* are the behaviours followed by the consequences (whose events are service
attempts or periodic applications).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scorelab.engine.plan.classes import condition_classes, condition_mask, factor_table, pack_classes, range_of
from scorelab.engine.plan.context import Context
from scorelab.engine.plan.helpers import fail
from scorelab.engine.plan.params import DYNAMIC_CODES, KIND_CODES
from scorelab.engine.plan.rows import ranges_of, rows_view
from scorelab.lazy_pages import lazy_zeros
from scorelab.scenario.model import DYNAMIC_ATTRIBUTES
from scorelab.scenario.system import Behaviour


class _ClassRows:
    """Rows of class codes, one per distinct set of static conditions (behaviours with the same
    conditions share a row), and each row's rate factor per code and which codes occur (those
    of everyone: a part's plan takes them from its agreed facts, ``plan.part``)."""

    def __init__(self, cx: Context) -> None:
        self.cx = cx
        self.rows: list[np.ndarray] = []
        self.tables: list[np.ndarray] = []
        self.present: list[np.ndarray] = []
        self.row_of: dict[str, int] = {}
        self.own_present: dict[str, np.ndarray] = {}  # (the plan's entities' own: ``part.PlanFacts``)

    def row(self, actor: str, conditions: list[tuple[Any, float]]) -> int:
        """The row of these (condition, factor) pairs, made on first use (masks made once per row,
        a range of entities at a time)."""
        cx = self.cx
        factors = [f for _, f in conditions]
        # past 8 conditions the codes depend on the factors too
        key = repr((actor, [c for c, _ in conditions], factors if len(factors) > 8 else None))
        if key not in self.row_of:
            if len(factors) > 8 and cx.part is not None and not cx.part.whole:
                raise fail("behaviours", f"a behaviour of {len(factors)} static conditions (over 8) cannot be "
                           "planned for some regions alone yet: its codes are the products of factors that occur")
            p_ranges, f_ranges = ranges_of(cx)
            person = actor == "person"
            row = lazy_zeros(cx.E, np.uint8) if cx.part is not None else np.zeros(cx.E, dtype=np.uint8)
            present = np.zeros(256, dtype=bool)
            table = factor_table(factors) if len(factors) <= 8 else np.ones(1)
            for lo, hi in (p_ranges if person else f_ranges):
                view = rows_view(cx.pop, (lo, hi) if person else None, None if person else (lo, hi))
                masks = [condition_mask(view, actor, c, int(hi - lo)) for c, _ in conditions]
                codes, table = condition_classes(masks, factors, int(hi - lo))
                at = 0 if person else cx.N
                row[at + lo : at + hi] = codes
                present[np.unique(codes)] = True
            self.row_of[key] = len(self.rows)
            self.rows.append(row)
            self.tables.append(table)
            self.own_present[key] = present
            facts = cx.part.facts if cx.part is not None else None
            self.present.append(present if facts is None else facts.present[key])
        return self.row_of[key]


def _conditions(b: Behaviour) -> tuple[list[tuple[Any, float]], list[tuple[int, float, float, float]]]:
    """A behaviour's static conditions as (condition, factor) pairs (an actor's class code has
    bit i set when it meets condition i, and the class's factor is the product of the met
    factors), and its dynamic modifiers as (attribute code, low, high, factor)."""
    conditions: list[tuple[Any, float]] = []
    dynamic: list[tuple[int, float, float, float]] = []
    if b.actor == "person" and b.min_age > 0:
        conditions.append((("min_age", b.min_age), 0.0))
    for mod in b.modifiers:
        dyn = [a for a in mod.when if a in DYNAMIC_ATTRIBUTES and b.actor == "person"]
        if dyn:  # (check_references allows no other condition beside a dynamic one)
            lo_v, hi_v = range_of(mod.when[dyn[0]])
            dynamic.append((DYNAMIC_CODES[dyn[0]], lo_v, hi_v, float(mod.factor)))
            continue
        conditions.append((("when", mod.when), float(mod.factor)))
    return conditions, dynamic


def plan_event_types(cx: Context) -> dict[str, Any]:
    """Per event type: whether firms do it, its candidate rate per step (the largest its actors
    reach), its row of class codes and the share of that rate each code keeps, and its dynamic
    modifiers (rows ``dm_ptr[t]:dm_ptr[t + 1]``) (docs/behaviours.md)."""
    s, B, T = cx.s, cx.B, cx.T
    t_firm = np.zeros(T, dtype=np.uint8)
    t_lam = np.zeros(T, dtype=np.float64)
    t_cls_row = np.full(T, -1, dtype=np.int64)
    t_fac = np.ones((T, 256), dtype=np.float64)
    t_fmax = np.ones(T, dtype=np.float64)
    t_dyn_max = np.ones(T, dtype=np.float64)
    classes = _ClassRows(cx)
    dm: list[list[tuple[int, float, float, float]]] = [[] for _ in range(T)]
    for bi, name in enumerate(cx.beh):
        b = s.behaviours[name]
        t_firm[bi] = b.actor != "person"
        conditions, dm[bi] = _conditions(b)
        if conditions:
            factors = [f for _, f in conditions]
            t_cls_row[bi] = classes.row(b.actor, conditions)
            # (up to 8 conditions a shared row's codes are bits of the conditions: this
            # behaviour's own factors give their rates)
            table = factor_table(factors) if len(factors) <= 8 else classes.tables[t_cls_row[bi]]
            present = classes.present[t_cls_row[bi]][: len(table)]
            t_fmax[bi] = table[present].max() if present.any() else 0.0
            # kept as shares of the largest (the kernels' thinning), divided once here
            t_fac[bi, : len(table)] = table / t_fmax[bi] if t_fmax[bi] > 0.0 else 0.0
        dyn_max = 1.0
        for _, _, _, f in dm[bi]:
            dyn_max *= max(1.0, f)
        t_dyn_max[bi] = dyn_max
        t_lam[bi] = b.rate * cx.dt * t_fmax[bi] * dyn_max
    for ki, name in enumerate(cx.cons):
        k = s.consequences[name]
        ti = B + ki
        t_firm[ti] = k.actor != "person"
        rate = k.attempts if k.attempts is not None else 1.0 / max(k.every, 1e-9)
        t_lam[ti] = rate * cx.dt
    # (codes two a byte where every code that occurs fits in 4 bits)
    shift = int(max((int(np.flatnonzero(p).max(initial=0)) for p in classes.present), default=0) < 16)
    cls = pack_classes(classes.rows, shift, ranges_of(cx) if cx.part is not None else None, cx.N)
    del classes
    dm_ptr = np.zeros(T + 1, dtype=np.int64)
    for ti in range(T):
        dm_ptr[ti + 1] = dm_ptr[ti] + len(dm[ti])
    flat = [x for row in dm for x in row]
    return dict(
        t_firm=t_firm, t_lam=t_lam, t_cls_row=t_cls_row, t_fac=t_fac, t_dyn_max=t_dyn_max, cls=cls, cls_shift=shift,
        dm_ptr=dm_ptr,
        dm_attr=np.array([x[0] for x in flat], dtype=np.int64),
        dm_lo=np.array([x[1] for x in flat], dtype=np.float64),
        dm_hi=np.array([x[2] for x in flat], dtype=np.float64),
        dm_factor=np.array([x[3] for x in flat], dtype=np.float64),
    )


def plan_behaviours(cx: Context) -> dict[str, Any]:
    """Each behaviour's kind, domain (an index into the sorted domains), deterrability and
    effect on income (docs/behaviours.md, docs/responses.md)."""
    bs = [cx.s.behaviours[b] for b in cx.beh]
    return dict(
        b_kind=np.array([KIND_CODES[b.kind] for b in bs], dtype=np.int64),
        b_domain=np.array([cx.didx[b.domain] for b in bs], dtype=np.int64),
        b_deter=np.array([b.deterrability for b in bs], dtype=np.float64),
        b_income=np.array([b.income_effect for b in bs], dtype=np.float64),
    )


def class_facts(cx: Context) -> dict[str, np.ndarray]:
    """Which class codes occur among the plan's own entities, per row of class codes (what
    parts agree on: ``part.PlanFacts``)."""
    classes = _ClassRows(cx)
    for name in cx.beh:
        b = cx.s.behaviours[name]
        conditions, _ = _conditions(b)
        if conditions:
            classes.row(b.actor, conditions)
    return classes.own_present
