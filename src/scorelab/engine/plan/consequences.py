"""Consequences: what a grade or a list opens or closes, refusals of a service, fines,
discounts, bonuses, income changes, dismissals, score changes (docs/lists-and-consequences.md)."""

from __future__ import annotations

from typing import Any

import numpy as np

from scorelab.engine.plan.context import Context
from scorelab.engine.plan.params import CONSEQUENCE_CODES
from scorelab.engine.plan.rows import entity_column
from scorelab.scenario.model import is_sanction
from scorelab.scenario.system import Consequence


def plan_consequences(cx: Context, k_view: np.ndarray) -> dict[str, Any]:
    """Per consequence: its kind, the grades and lists it applies to, its probability, amount,
    income change and points, whether it is a sanction, how its events are drawn (``k_bucket``,
    ``k_lbucket``, and ``l_watch_row``: each list's row among the lists kept per region), and
    the outcome of an application; ``k_view`` (plan_views) is the view each one reads."""
    s, G, L, K = cx.s, cx.G, cx.L, cx.K
    ks = [s.consequences[x] for x in cx.cons]
    k_grades = np.zeros((K, G), dtype=np.uint8); k_lists = np.zeros((K, L), dtype=np.uint8)
    for ki, c in enumerate(ks):
        for g in [*c.grades, *c.rates]:  # (a promotion applies in the grades of its rates)
            k_grades[ki, cx.gidx[g]] = 1
        for x in c.lists:
            k_lists[ki, cx.lidx[x]] = 1
    # a consequence through parents or employer is drawn among the people (whose parents or
    # employer are then judged), not among the members of its grades or lists
    own = np.array([c.through == "self" for c in ks], dtype=bool).reshape(K)
    # lists whose members are kept per region: those of consequences that apply by list alone
    # (their events are drawn among them)
    k_lbucket = ((k_grades.sum(axis=1) == 0) & (k_lists.sum(axis=1) > 0) & own).astype(np.uint8) \
        if K else np.zeros(0, np.uint8)
    member_lists: list[int] = []
    for ki in np.flatnonzero(k_lbucket):
        member_lists += [int(li) for li in np.flatnonzero(k_lists[ki]) if int(li) not in member_lists]
    return dict(
        k_kind=np.array([CONSEQUENCE_CODES[c.kind] for c in ks], dtype=np.int64),
        k_grades=k_grades, k_lists=k_lists,
        k_prob=np.array([c.probability for c in ks], dtype=np.float64),
        k_amount=np.array([c.amount for c in ks], dtype=np.float64),
        k_income=np.array([c.income_change for c in ks], dtype=np.float64),
        k_points=np.array([c.points for c in ks], dtype=np.float64),
        k_sanction=np.array([is_sanction(c) for c in ks], dtype=np.uint8).reshape(K),
        # attempts drawn among the actors in the consequence's grades: by grade alone, on the grades as held
        k_bucket=((k_lists.sum(axis=1) == 0) & (k_grades.sum(axis=1) > 0) & (k_view == 0) & own).astype(np.uint8)
        if K else np.zeros(0, dtype=np.uint8),
        k_lbucket=k_lbucket,
        l_watch_row=np.array([member_lists.index(li) if li in member_lists else -1 for li in range(L)], dtype=np.int64),
        **_outcomes(cx, ks),
        **_loans(cx, ks),
        **_employers(cx, ks),
        **_links(cx, ks),
    )


def _loans(cx: Context, ks: list[Consequence]) -> dict[str, Any]:
    """Loans (docs/lists-and-consequences.md#lending-by-group): the people's consequences whose
    service is 'loans', counted by group each step (``k_loan``), and whether the run counts any
    (``ln_on``: a scoring system that runs, and a loan)."""
    k_loan = np.array([c.service == "loans" and c.actor == "person" for c in ks], dtype=np.uint8).reshape(len(ks))
    return dict(k_loan=k_loan, ln_on=int(bool(k_loan.any()) and bool(cx.s.scoring.enabled)))


#: ``k_through``: whose grade or listing a consequence reads (scenario field ``through``)
THROUGH_CODES = {"self": 0, "parents": 1, "employer": 2}


def _links(cx: Context, ks: list[Consequence]) -> dict[str, Any]:
    """Per consequence whose status it reads (``THROUGH_CODES``); and, only when one reads the
    employer's (else empty), per person the employer's entity id (people first, then firms; -1:
    none). Parents need no table: a child's are the first two scored members of its household,
    an id range (``hh_start``) the kernel walks."""
    k_through = np.array([THROUGH_CODES[c.through] for c in ks], dtype=np.int64)
    ent_employer = np.zeros(0, dtype=np.int32)
    if (k_through == THROUGH_CODES["employer"]).any():
        emp = cx.pop.employer
        ent_employer = entity_column(cx, np.int32, lambda lo, hi: np.where(emp[lo:hi] >= 0, emp[lo:hi].astype(np.int64)
                                                                             + cx.N, -1), None)
    return dict(k_through=k_through, ent_employer=ent_employer)


def _employers(cx: Context, ks: list[Consequence]) -> dict[str, Any]:
    """Promotions' employers: per consequence 0 any, 1 public, 2 private; and, only when a
    promotion names one (else empty), per person whether the employer is public (a firm of the
    sector named 'public': the population has no other public-private attribute)."""
    codes = {"any": 0, "public": 1, "private": 2}
    k_employer = np.array([codes[c.employer] for c in ks], dtype=np.int64)
    ent_public = np.zeros(0, dtype=np.uint8)
    if k_employer.any():
        pop = cx.pop
        public = np.array([name == "public" for name in pop.sector_names] + [False], dtype=np.uint8)

        def public_of(lo: int, hi: int) -> np.ndarray:
            emp = pop.employer[lo:hi]
            sector = np.full(hi - lo, len(pop.sector_names))  # (no employer: not public)
            sector[emp >= 0] = pop.firms.sector[emp[emp >= 0]]
            return public[sector]

        ent_public = entity_column(cx, np.uint8, public_of, None)
    return dict(k_employer=k_employer, ent_public=ent_public)


def _outcomes(cx: Context, ks: list[Consequence]) -> dict[str, Any]:
    """Applications with an outcome: whether a consequence has one, the chance of success in
    each grade, and the points of success and of failure."""
    K = len(ks)
    k_out_on = np.zeros(K, dtype=np.uint8); k_out_p = np.zeros((K, cx.G))
    k_out_succ = np.zeros(K); k_out_fail = np.zeros(K)
    for ki, c in enumerate(ks):
        if c.kind == "promotion":  # its rates by grade, as an outcome's chances of success
            for g, p in c.rates.items():
                k_out_p[ki, cx.gidx[g]] = p
        oc = c.outcome
        if oc is not None:
            k_out_on[ki], k_out_succ[ki], k_out_fail[ki] = 1, oc.success_points, oc.failure_points
            for g, p in oc.success_probability.items():
                k_out_p[ki, cx.gidx[g]] = p
    return dict(k_out_on=k_out_on, k_out_p=k_out_p, k_out_succ=k_out_succ, k_out_fail=k_out_fail)
