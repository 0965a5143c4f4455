""""Suspicious" flags sent to police: raising them from recent records, the national queue of
flags waiting for investigation, investigations and their outcome, withdrawal of a flag
whose grounds went away.
"""

from __future__ import annotations

from scorelab.jit_cache import nb
import numpy as np

from scorelab.engine.kernel.constants import (
    ACTIVE_BITS, ERR_BITS, FC_FALSE, FC_INVESTIGATED, FC_INV_OVERTURNED, FC_RAISED, FC_TRUE, FC_WITHDRAWN, MSG_INV,
    OUT_FALSE_FLAGGED, OUT_FLAGGED, OUT_INVESTIGATED, Q_INVESTIGATED, Q_TRUE, Q_WAITING, STATE_BITS, WITHDRAW,
)
from scorelab.engine.kernel.cells import flag_cell
from scorelab.engine.kernel.regions import region_of
from scorelab.engine.kernel.stores import bump, change_income, find_slot, first_id, push_pending, rec_err, vis_step
from scorelab.engine.kernel.lists import enter_list
from scorelab.engine.kernel.score_changes import add_points



@nb.njit(cache=True)
def count_recent(P, S, e, of_flag, i, within, s):
    """Active records of e of the behaviours of list i (of flag i if ``of_flag``) made visible
    within the last `within` steps (all kept records if within < 0); returns (all, true only).
    (The behaviours' row is read here, not passed: an array argument costs every call.)"""
    mask = P.f_beh if of_flag else P.l_beh
    n = 0
    n_true = 0
    r = S.subj_head[e]
    while r >= 0:
        if within >= 0 and r < first_id(S, s - within, s):
            break
        f = S.r_flags[r]
        if (f & STATE_BITS) == ACTIVE_BITS and mask[i, S.r_beh[r]]:
            n += 1
            if (f & ERR_BITS) == 0:
                n_true += 1
        r = S.r_prev[r]
    return n, n_true


@nb.njit(cache=True)
def raise_flags(P, S, Q, r, s):
    """Check the 'suspicious' rules against a record that just became visible."""
    e = S.r_subj[r]
    b = S.r_beh[r]
    for f in range(P.f_beh.shape[0]):
        if P.f_beh[f, b] == 0:
            continue
        last = S.last_flag[f, e]  # the step flagged last plus one, 0 if never
        if (S.queued[f, e] & Q_WAITING) or (last != 0 and s + 1 - last < P.f_cooldown[f]):
            continue
        hit = False
        truth = False
        for l in range(P.f_lists.shape[1]):
            if P.f_lists[f, l] and (S.on_list[l, e] & 1):
                hit = True
                truth = rec_err(S, r) == 0 and (S.on_list[l, e] & 2) == 0
                break
        if not hit:
            n, n_true = count_recent(P, S, e, True, f, P.f_within[f], s)
            if n >= P.f_min[f]:
                hit = True
                truth = n_true >= P.f_min[f]
        if not hit:
            continue
        S.last_flag[f, e] = s + 1
        S.queued[f, e] = Q_WAITING
        push_pending(S, f, e, 1 if truth else 0)
        Q.M[s, flag_cell(Q, f, FC_RAISED)] += 1
        Q.M[s, flag_cell(Q, f, FC_TRUE if truth else FC_FALSE)] += 1
        bump(S, OUT_FLAGGED, e, 1)
        if not truth:  # (per person, for the disparate impact of false flags: scorelab.impact)
            bump(S, OUT_FALSE_FLAGGED, e, 1)


@nb.njit(cache=True)
def holds_since(P, S, e, of_flag, i, k_min, within, t0, s, true_only):
    """Whether the rule "k_min active records of the behaviours of list i (flag i if ``of_flag``)
    made visible within ``within`` steps" held at some step from t0 to s on e's records as they
    are now (within < 0: all kept records; ``true_only``: on its true records alone). For k_min
    records made visible at steps v_new >= v_old that is max(t0, v_new) <= v_old + within; e's
    records are walked newest first, down to those visible at t0 - within."""
    if k_min <= 0:
        return True
    mask = P.f_beh if of_flag else P.l_beh
    bits = STATE_BITS | ERR_BITS if true_only else STATE_BITS  # a counted record's bits are ACTIVE_BITS
    stop = first_id(S, t0 - within, s) if within >= 0 else 0
    n = 0
    newest = -1  # the newest of the last k_min matching records (a lagging pointer)
    r = S.subj_head[e]
    while r >= stop:
        f = S.r_flags[r]
        if (f & bits) == ACTIVE_BITS and mask[i, S.r_beh[r]]:
            n += 1
            if within < 0:
                if n >= k_min:
                    return True
            else:
                if n == 1:
                    newest = r
                elif n > k_min:
                    newest = S.r_prev[newest]
                    while not ((S.r_flags[newest] & bits) == ACTIVE_BITS and mask[i, S.r_beh[newest]]):
                        newest = S.r_prev[newest]
                if n >= k_min and max(t0, vis_step(S, newest, s)) <= vis_step(S, r, s) + within:
                    return True
        r = S.r_prev[r]
    return False


@nb.njit(cache=True)
def flag_stands(P, S, f, e, t0, s):
    """Whether e's flag f raised at step t0 still holds on e's records and lists as they are
    now: a record of its behaviours made visible since t0 while e is on one of its lists, or its
    count rule at some step since t0."""
    for l in range(P.f_lists.shape[1]):
        if P.f_lists[f, l] and (S.on_list[l, e] & 1):
            if holds_since(P, S, e, True, f, 1, 0, t0, s, False):
                return True
            break
    return holds_since(P, S, e, True, f, P.f_min[f], P.f_within[f], t0, s, False)


@nb.njit(cache=True)
def judge_flag(P, S, Q, f, e, s):
    """e's last flag f lost (part of) what raised it: if it no longer holds, a flag still waiting
    is withdrawn from the national queue, and an investigated one is overturned (its points
    taken back). The flag's cooldown ends with it. Returns the list whose listing the overturned
    investigation made, for the caller to lift, or -1. (Kept free of calls that lift listings:
    functions that call each other in a cycle break numba's on-disk cache.)"""
    q = S.queued[f, e]
    last = S.last_flag[f, e]
    if last == 0 or (q & (Q_WAITING | Q_INVESTIGATED)) == 0 or flag_stands(P, S, f, e, last - 1, s):
        return -1
    S.queued[f, e] = 0
    S.last_flag[f, e] = 0
    if q & Q_WAITING:
        push_pending(S, f, e, WITHDRAW)
        Q.M[s, flag_cell(Q, f, FC_WITHDRAWN)] += 1
        return -1
    Q.M[s, flag_cell(Q, f, FC_INV_OVERTURNED)] += 1
    if P.f_points[f] != 0.0 and P.scheme == 0:
        add_points(P, S, Q, e, -P.f_points[f], (q & Q_TRUE) != 0, s)
    l = P.f_list[f]
    if l >= 0 and (S.on_list[l, e] & 5) == 1 and S.ls_cause[find_slot(S, l, e)] == f:
        return l
    return -1


@nb.njit(cache=True)
def _withdraw(P, pf, q_ent, q_truth, q_head, q_len):
    """Take the flags withdrawn this step (rows of ``pf`` marked WITHDRAW: what raised them was
    removed) out of their queues, keeping the order of the others. Done before the step's new
    flags join, so a person flagged again the same step keeps the new flag. An entity waits at
    most once in a flag's queue."""
    n_w = 0
    for i in range(pf.shape[0]):
        if pf[i, 2] == WITHDRAW:
            n_w += 1
    if n_w == 0:
        return
    E = P.n_people + P.n_firms
    keys = np.empty(n_w, dtype=np.int64)  # flag x E + entity, sorted
    j = 0
    for i in range(pf.shape[0]):
        if pf[i, 2] == WITHDRAW:
            keys[j] = pf[i, 0] * E + pf[i, 1]
            j += 1
    keys.sort()
    cap = q_ent.shape[1]
    for f in range(q_len.shape[0]):
        lo = np.searchsorted(keys, f * E)
        if lo == n_w or keys[lo] >= (f + 1) * E:
            continue
        kept = 0
        for k in range(q_len[f]):
            src = (q_head[f] + k) % cap
            key = f * E + q_ent[f, src]
            j = np.searchsorted(keys, key)
            if j < n_w and keys[j] == key:
                continue
            dst = (q_head[f] + kept) % cap
            q_ent[f, dst] = q_ent[f, src]
            q_truth[f, dst] = q_truth[f, src]
            kept += 1
        q_len[f] = kept


@nb.njit(cache=True)
def _serve_flags(P, pf, q_ent, q_truth, q_head, q_len, f_budget):
    """The national part: the step's new flags ``pf`` (flag, entity, truth) join each flag's
    queue region by region; each queue is served first come first served up to its capacity.
    Returns one investigation message per served flag with its sort key."""
    R = P.city_join.shape[0]
    n_pf = pf.shape[0]
    cap = q_ent.shape[1]
    _withdraw(P, pf, q_ent, q_truth, q_head, q_len)
    reg = np.empty(n_pf, dtype=np.int64)
    for i in range(n_pf):
        reg[i] = region_of(P, pf[i, 1])  # (the driver's plan need hold no entity's region)
    for i in np.argsort(reg, kind="mergesort"):
        if pf[i, 2] == WITHDRAW:
            continue
        f = pf[i, 0]
        pos = (q_head[f] + q_len[f]) % cap
        q_ent[f, pos] = pf[i, 1]
        q_truth[f, pos] = pf[i, 2]
        q_len[f] += 1
    FL = P.f_beh.shape[0]
    served = np.zeros(FL, dtype=np.int64)
    for f in range(FL):
        f_budget[f] += P.f_cap[f]
        n = int(f_budget[f])
        f_budget[f] -= n
        served[f] = min(n, q_len[f])
    n_msg = served.sum()
    mi = np.zeros((n_msg, 6), dtype=np.int64)
    mx = np.zeros((n_msg, 2))
    key = np.zeros(n_msg, dtype=np.int64)
    m = 0
    for f in range(FL):
        for _ in range(served[f]):
            e = q_ent[f, q_head[f]]
            mi[m, 0] = MSG_INV
            mi[m, 1] = e
            mi[m, 2] = f
            mi[m, 3] = q_truth[f, q_head[f]]
            key[m] = region_of(P, e) * (R + 1) + R
            q_head[f] = (q_head[f] + 1) % cap
            q_len[f] -= 1
            m += 1
    return mi, mx, key


@nb.njit(cache=True)
def investigate(P, S, Q, f, e, truth, s):
    Q.M[s, flag_cell(Q, f, FC_INVESTIGATED)] += 1
    bump(S, OUT_INVESTIGATED, e, 1)
    change_income(P, S.income_f, S.loss_f, e, P.f_income[f], s)
    if P.f_points[f] != 0.0 and P.scheme == 0:
        add_points(P, S, Q, e, P.f_points[f], truth, s)
    if P.f_list[f] >= 0:
        enter_list(P, S, Q, P.f_list[f], e, s, not truth, False, f)
