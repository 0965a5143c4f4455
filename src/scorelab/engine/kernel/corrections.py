"""Corrections: records removed by expiry, retention or appeal, and the re-examination of what
they caused (points reverted, listings overturned, flags judged again). History stays; the
future follows the corrected state.
"""

from __future__ import annotations

from scorelab.jit_cache import nb
import numpy as np

from scorelab.codes import NO_GRADE
from scorelab.engine.kernel.constants import (
    ACTIVE, APPLIED_BIT, CAUSE_GRADE, CAUSE_PROMOTION, CAUSE_RECORDS, CUR_LAPPEAL, CUR_TTL, C_NLA, DELETED,
    EXIT_APPEALED, EXIT_OVERTURNED, MO_REMOVED, REMOVED_APPEAL,
)
from scorelab.engine.kernel.cells import cell
from scorelab.engine.kernel.stores import find_slot, first_id, hold, rec_delta, rec_state, set_state, vis_step
from scorelab.engine.kernel.scores import grade_of, total_score
from scorelab.engine.kernel.lists import justified, leave_list
from scorelab.engine.kernel.score_changes import apply_record
from scorelab.engine.kernel.flags import holds_since, judge_flag



@nb.njit(cache=True)
def expire(P, S, Q, n_rec, s):
    """Delete the records past their channel's retention: one walk per distinct retention,
    then channel by channel, each in visibility order (the order of a queue per channel)."""
    T = P.ttl_vals.shape[0]
    if T == 0:
        return
    ends = np.empty(T, dtype=np.int64)
    k = 0
    for g in range(T):
        ttl = P.ttl_vals[g]
        end = min(n_rec, first_id(S, s - ttl + 1, s))  # visible at s - ttl or before
        for r in range(S.cur[CUR_TTL + g], end):
            if P.c_ttl[S.r_chan[r]] == ttl:
                k += 1
        ends[g] = max(end, S.cur[CUR_TTL + g])
    keys = np.empty(k, dtype=np.int64)  # channel, then record id
    k = 0
    for g in range(T):
        for r in range(S.cur[CUR_TTL + g], ends[g]):
            if P.c_ttl[S.r_chan[r]] == P.ttl_vals[g]:
                keys[k] = (np.int64(S.r_chan[r]) << 32) | r
                k += 1
        S.cur[CUR_TTL + g] = ends[g]
    keys.sort()
    for key in keys:
        remove_record(P, S, Q, key & 0xFFFFFFFF, DELETED, s)


@nb.njit(cache=True, inline="always")
def revert(P, S, Q, r, s):
    """Take record r's points back if they are applied."""
    if S.r_flags[r] & APPLIED_BIT:
        apply_record(P, S, Q, r, -1.0, s)
        S.r_flags[r] &= ~APPLIED_BIT


@nb.njit(cache=True)
def remove_record(P, S, Q, r, state, s):
    """Take an active record out (appeal or deletion): its points are reverted if still
    applied, and what it caused that still stands is re-examined on the remaining records."""
    if rec_state(S, r) != ACTIVE:
        return
    set_state(S, r, state)
    hold(P, S, Q, S.r_subj[r], -1, s)
    revert(P, S, Q, r, s)
    Q.M[s, cell(Q, MO_REMOVED, 0 if state == REMOVED_APPEAL else 1)] += 1
    reexamine(P, S, Q, r, s)


@nb.njit(cache=True)
def overturn(P, S, Q, l, e, s, how):
    """Lift e's listing on l (``how``: EXIT_OVERTURNED or EXIT_APPEALED), with what it caused,
    lifted as overturned: the joint listing of a firm's representative (``leave_list``),
    promotions from it, flags raised while e was on it that no longer hold, and the listings
    their overturned investigations made. A work list, not recursion."""
    L = P.l_actor.shape[0]
    FL = P.f_beh.shape[0]
    gone = np.zeros(L, dtype=np.bool_)
    todo = np.empty(L * (L + FL) + 1, dtype=np.int64)  # (each list is lifted once, pushing at most L + FL)
    n = 1
    todo[0] = l
    first = True
    while n > 0:
        n -= 1
        l1 = todo[n]
        if gone[l1] or (S.on_list[l1, e] & 5) != 1:
            continue
        gone[l1] = True
        leave_list(P, S, Q, l1, e, s, how if first else EXIT_OVERTURNED)
        first = False
        for l2 in range(L):  # promotions fed by it (chains of lists are short)
            if P.l_from[l2] == l1 and not gone[l2] and (S.on_list[l2, e] & 5) == 1 \
                    and S.ls_cause[find_slot(S, l2, e)] == CAUSE_PROMOTION:
                todo[n] = l2
                n += 1
        for f in range(FL):
            if P.f_lists[f, l1]:
                l3 = judge_flag(P, S, Q, f, e, s)
                if l3 >= 0 and not gone[l3]:
                    todo[n] = l3
                    n += 1


@nb.njit(cache=True)
def reexamine(P, S, Q, r, s):
    """Record r was just removed: each listing of its subject is judged again on the remaining
    records (a record visible after the listing may have been what kept it standing): by
    records, the list's entry rule at some step since the listing; by grade, the grade now, when
    r's points counted at some time while e was listed; then each of e's last flags of r's
    behaviour, by its rule since it was raised. A wrongful listing that stands on true records
    alone now is wrongful no more (its sanctions from now on are not)."""
    e = S.r_subj[r]
    b = S.r_beh[r]
    for l in range(P.l_actor.shape[0]):
        if (S.on_list[l, e] & 5) != 1:  # not listed, or a joint listing (follows the firm)
            continue
        i = find_slot(S, l, e)
        since = S.ls_since[i]
        cause = S.ls_cause[i]
        if cause == CAUSE_RECORDS:
            if P.l_beh[l, b] == 0:
                continue
            if not holds_since(P, S, e, False, l, P.l_min[l], P.l_within[l], since, s, False):
                overturn(P, S, Q, l, e, s, EXIT_OVERTURNED)
            elif (S.on_list[l, e] & 2) and holds_since(P, S, e, False, l, P.l_min[l], P.l_within[l], since, s, True):
                justified(P, S, l, e)
        elif cause == CAUSE_GRADE:
            if not record_moves_score(P, S, r) or S.grade[e] == NO_GRADE:
                continue
            if P.recovery >= 0 and vis_step(S, r, s) + P.recovery <= since:
                continue  # its points had recovered before e was listed
            if P.l_grades[l, S.grade[e]] == 0:
                overturn(P, S, Q, l, e, s, EXIT_OVERTURNED)
            elif (S.on_list[l, e] & 2) and P.l_grades[l, grade_of(P, total_score(P, S, 1, e))]:
                justified(P, S, l, e)
    for f in range(P.f_beh.shape[0]):
        if P.f_beh[f, b] and S.last_flag[f, e] != 0:
            l = judge_flag(P, S, Q, f, e, s)
            if l >= 0:
                overturn(P, S, Q, l, e, s, EXIT_OVERTURNED)


@nb.njit(cache=True, inline="always")
def record_moves_score(P, S, r):
    """Whether record r's points (or index changes) are non-zero."""
    if P.scheme == 0:
        return rec_delta(P, S, r) != 0.0
    for d in range(P.n_dims):
        if P.dim_rec[S.r_beh[r], d] != 0.0:
            return True
    return False


@nb.njit(cache=True)
def appeal_listings(P, S, Q, s):
    """Upheld appeals of wrongful listings fall due (the listing is lifted with what it caused),
    in listing order; a listing that ended meanwhile has nothing left to appeal."""
    k = S.cur[CUR_LAPPEAL]
    n = S.cnt[C_NLA]
    while k < n and S.la_step[k] + P.la_delay <= s:
        e = S.la_ent[k]
        l = S.la_list[k]
        if (S.on_list[l, e] & 5) == 1 and S.ls_since[find_slot(S, l, e)] == S.la_step[k]:
            overturn(P, S, Q, l, e, s, EXIT_APPEALED)
        k += 1
    S.cur[CUR_LAPPEAL] = k
