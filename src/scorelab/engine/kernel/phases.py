"""The step, in the order of ``engine.steps.PHASES``: rollout, delayed records, expiry and
appeals, fading, list reviews, behaviours, consequences (a region's local phase), then the
exchange of messages between regions, the national flag queues and the stocks.

``_run_steps`` is inlined into its entry point: numba compiles each kernel it calls apart and
links its code into the caller's, so that a layer of its own emits the machine code of its
whole call tree again (5 s of a cold compile). The layers inside a step (``step``,
``_local_phase``, ``_exchange``, ``_deliver``) stay kernels of their own: inlined too, they
made the day loop 2-5 % slower (docs/performance.md, "What limits it").
"""

from __future__ import annotations

import math

from scorelab.jit_cache import nb
import numpy as np

from scorelab.engine.kernel.constants import (
    ACTIVE, AC_DOWN, AC_MEAN, AC_UP, APPEAL_BIT, BATCH, CAUSE_RECORDS, CC_MONEY, CUR_APPEAL, CUR_RECOVERY, C_NCARRY,
    C_NMSG, C_NPEND, C_NPOOL, C_NREC, FC_BACKLOG, LC_STOCK, LC_WSTOCK, MO_ASSOC, MO_FGRADE, MO_GRADE, MO_SCORE,
    MSG_ASC, MSG_INV, MSG_JOIN, MSG_JUSTIFY, MSG_LEAVE, MSG_REC, MSG_SOC, OUT_FLAGGED, OUT_SANCTIONS, Q_INVESTIGATED, Q_TRUE,
    REMOVED_APPEAL, TC_FLAGS, TC_GRADE, TC_HELD, TC_INCOME, TC_INCOME_TWIN, TC_LISTS, TC_SANCTIONS, TC_SCORE, YEAR,
)
from scorelab.codes import NO_GRADE
from scorelab.engine.kernel.cells import cell, cons_cell, flag_cell, list_cell, listing_cell, trajectory_cell
from scorelab.engine.kernel.regions import own_spans, owns
from scorelab.engine.kernel.stores import (
    count_of, falls_due, fifo_pop, first_id, prefetch_subject, push_msg, rec_state, release_delayed,
)
from scorelab.engine.kernel.draws import _draw_counts, coverage_now, delays
from scorelab.engine.kernel.association import fade_due
from scorelab.engine.kernel.lists import enter_one, justify_one, leave_one, review_node
from scorelab.engine.kernel.score_changes import add_association, come_of_age, refresh
from scorelab.engine.kernel.flags import _serve_flags, investigate
from scorelab.engine.kernel.records import make_visible, new_record
from scorelab.engine.kernel.corrections import appeal_listings, expire, remove_record, revert
from scorelab.engine.kernel.behaviours import _search_odds, behaviours
from scorelab.engine.kernel.consequences import consequences



@nb.njit(cache=True, inline="always")  # (a layer: module docstring)
def _run_steps(P, S, Q, first, last, counts):
    """Steps ``first`` .. ``last - 1`` in one call (no Python between steps); returns the
    first step not run, which is below ``last`` when that step could create more records than
    the record arrays have room for (the caller grows them and calls again)."""
    for s in range(first, last):
        bound = _draw_counts(P, s, counts)
        # visible this step at most: the step's new records and those waiting in the pool
        if S.cnt[C_NREC] + S.cnt[C_NPOOL] + bound > S.r_subj.shape[0]:
            return s
        if S.cnt[C_NPOOL] + bound > S.p_subj.shape[0] and delays(P):
            return s
        step(P, S, Q, s, counts)
    return last


@nb.njit(cache=True)
def step(P, S, Q, s, counts):
    """One step of the day loop, in the order of engine.steps.PHASES: the watchlists'
    sizes as the step starts, every region's own work, the exchange between regions, the
    national queues, the exchange of their results, the stocks. A sharded run does the same
    parts on several workers."""
    _search_odds(P, S, S.l_stock)
    _local_phase(P, S, Q, s, counts)
    _exchange(P, S, Q, s)
    if P.enabled == 1:
        post_national(P, S, _serve_flags(P, S.pf[: S.cnt[C_NPEND]], S.q_ent, S.q_truth, S.q_head, S.q_len,
                                        S.f_budget))
        S.cnt[C_NPEND] = 0
        _exchange(P, S, Q, s)
    _stocks(P, Q, s, S.ghist, S.l_stock, S.q_len, S.ssum, S.money_r)
    S.money_r[:, :] = 0.0
    _trajectories(P, S, Q, s)


@nb.njit(cache=True)
def _trajectories(P, S, Q, s):
    """The sampled people's state at the end of step s (those of this state's regions): a
    person's row is written by one state only, so a sharded run's rows add up to it."""
    for i in range(P.tr_ids.shape[0]):
        e = P.tr_ids[i]
        if not owns(P, S, e):
            continue
        g = S.grade[e]
        Q.M[s, trajectory_cell(Q, i, TC_SCORE)] = np.nan if g == NO_GRADE else S.total[e]
        Q.M[s, trajectory_cell(Q, i, TC_GRADE)] = np.nan if g == NO_GRADE else g
        n = 0
        for l in range(S.on_list.shape[0]):
            n += S.on_list[l, e] & 1
        Q.M[s, trajectory_cell(Q, i, TC_LISTS)] = n
        Q.M[s, trajectory_cell(Q, i, TC_FLAGS)] = count_of(S, OUT_FLAGGED, e)
        Q.M[s, trajectory_cell(Q, i, TC_SANCTIONS)] = count_of(S, OUT_SANCTIONS, e)
        Q.M[s, trajectory_cell(Q, i, TC_HELD)] = S.held[e]
        Q.M[s, trajectory_cell(Q, i, TC_INCOME)] = S.income_f[e]
        Q.M[s, trajectory_cell(Q, i, TC_INCOME_TWIN)] = S.income_t[e]


@nb.njit(cache=True)
def post_national(P, S, msgs):
    """Put messages made by the national part into this state's outbox."""
    mi, mx, key = msgs
    R = P.city_join.shape[0]
    for m in range(key.shape[0]):
        push_msg(P, S, mi[m, 0], mi[m, 1], mi[m, 2], mi[m, 3], mi[m, 4], mi[m, 5], mx[m, 0], mx[m, 1],
                 key[m] // (R + 1), R)


@nb.njit(cache=True)
def _exchange(P, S, Q, s):
    """Deliver the outbox in (destination region, source region) order, in rounds until
    deliveries create no more messages."""
    while S.cnt[C_NMSG] > 0:
        n = S.cnt[C_NMSG]
        order = np.argsort(S.mb_key[:n], kind="mergesort")
        mi = S.mb_i[:n][order]
        mx = S.mb_x[:n][order]
        S.cnt[C_NMSG] = 0
        _deliver(P, S, Q, s, mi, mx)


@nb.njit(cache=True)
def _deliver(P, S, Q, s, mi, mx):
    """Apply messages to the entities of this worker's regions, in the given order."""
    for m in range(mi.shape[0]):
        kind = mi[m, 0]
        e = mi[m, 1]
        if kind == MSG_SOC:
            if mx[m, 0] != 0.0:
                S.soc[0, e] += mx[m, 0]
            if mx[m, 1] != 0.0:
                S.soc[1, e] += mx[m, 1]
            if mx[m, 0] != 0.0:
                refresh(P, S, Q, e, s)
        elif kind == MSG_REC:
            new_record(P, S, Q, e, mi[m, 2], mi[m, 3], mi[m, 4], s, mi[m, 5] >> 1, mi[m, 5] & 1)
        elif kind == MSG_JOIN:
            enter_one(P, S, Q, mi[m, 2], e, s, mi[m, 3] == 1, True, CAUSE_RECORDS)
        elif kind == MSG_LEAVE:
            if S.on_list[mi[m, 2], e] & 4:
                leave_one(P, S, Q, mi[m, 2], e, s, mi[m, 3])
        elif kind == MSG_JUSTIFY:
            if (S.on_list[mi[m, 2], e] & 6) == 6:
                justify_one(S, mi[m, 2], e)
        elif kind == MSG_ASC:
            add_association(P, S, Q, e, mi[m, 2], mi[m, 3], s)
        elif kind == MSG_INV:
            f = mi[m, 2]
            S.queued[f, e] = Q_INVESTIGATED | (Q_TRUE if mi[m, 3] == 1 else 0)
            investigate(P, S, Q, f, e, mi[m, 3] == 1, s)


@nb.njit(cache=True)
def _stocks(P, Q, s, ghist, l_stock, q_len, ssum, money_r):
    """End-of-step stocks from counts gathered over all regions; float sums are added region by
    region in region order, so they do not depend on which worker ran which region."""
    G = P.g_from.shape[0]
    for g in range(G):
        Q.M[s, cell(Q, MO_GRADE, g)] = ghist[0, g]
        Q.M[s, cell(Q, MO_FGRADE, g)] = ghist[1, g]
    for l in range(P.l_actor.shape[0]):
        Q.M[s, list_cell(Q, l, LC_STOCK)] = l_stock[0, l]
        Q.M[s, list_cell(Q, l, LC_WSTOCK)] = l_stock[1, l]
        if P.l_joint_row[l] >= 0:  # (its firms' representatives listed jointly)
            Q.M[s, listing_cell(P, Q, l, True, LC_STOCK)] = l_stock[2, l]
            Q.M[s, listing_cell(P, Q, l, True, LC_WSTOCK)] = l_stock[3, l]
    for f in range(P.f_beh.shape[0]):
        Q.M[s, flag_cell(Q, f, FC_BACKLOG)] = q_len[f]
    R = ssum.shape[0]
    for k in range(P.k_kind.shape[0]):
        acc = 0.0
        for r in range(R):
            acc += money_r[r, k]
        Q.M[s, cons_cell(Q, k, CC_MONEY)] = acc
    n_scored = 0
    for g in range(G):
        n_scored += ghist[0, g]
    if n_scored > 0:
        s0 = 0.0
        s1 = 0.0
        for r in range(R):
            s0 += ssum[r, 0]
            s1 += ssum[r, 1]
        mean = s0 / n_scored
        Q.M[s, cell(Q, MO_SCORE, 0)] = mean
        Q.M[s, cell(Q, MO_SCORE, 1)] = math.sqrt(max(0.0, s1 / n_scored - mean * mean))
    if P.as_on:  # people marked down and up by their contacts, and the term's mean, at the step's end
        down = 0.0
        up = 0.0
        acc = 0.0
        for r in range(R):
            down += ssum[r, 2]
            up += ssum[r, 3]
            acc += ssum[r, 4]
        Q.M[s, cell(Q, MO_ASSOC, AC_DOWN)] = down
        Q.M[s, cell(Q, MO_ASSOC, AC_UP)] = up
        Q.M[s, cell(Q, MO_ASSOC, AC_MEAN)] = acc / n_scored if n_scored > 0 else 0.0


@nb.njit(cache=True)
def _start_reporting(P, S):
    """The burn-in is over: the people's outcome counters and money start again from zero, and
    the income lost since changes already made counts from now to the end of the run (each
    entity's factual income below the twin's, for the days left), as if made now."""
    S.cnt[C_NCARRY] = 0
    left = (P.horizon_days - P.report_from * P.dt) / YEAR
    spans = own_spans(P, S, False)  # (another state's entities: never written here)
    for x in range(spans.shape[0]):
        for e in range(spans[x, 0], spans[x, 1]):
            for k in range(S.out.shape[0]):
                S.out[k, e] = 0
            S.money[e] = 0.0
            S.loss_f[e] = (S.income_t[e] - S.income_f[e]) * left
            S.loss_t[e] = 0.0


@nb.njit(cache=True)
def _local_phase(P, S, Q, s, counts):
    """Part A of step s (``engine.steps.PHASES``) for the regions this state owns (``S.own``);
    effects on other regions go to the outbox."""
    on = P.enabled == 1
    if s > 0:  # records made visible from now on are step s's (those before it, at the start: 0's)
        S.vis_start[s] = S.cnt[C_NREC]
    aware = rollout(P, S, s, on)
    if on:
        release_delayed_records(P, S, Q, s)
        expire_and_appeal(P, S, Q, s)
        coming_of_age(P, S, Q, s)
        fade_association(P, S, s)
        review_lists(P, S, Q, s)
    behaviours(P, S, Q, s, counts, aware, on)
    if on:
        consequences(P, S, Q, s, counts)


@nb.njit(cache=True)
def rollout(P, S, s, on):
    """Channel coverage now, the perceived risk of each behaviour in each region signature, and
    the share aware (returned). Kept in the state's scratch arrays: arrays made here would be
    reference-counted in every call that receives them."""
    B = P.b_kind.shape[0]
    C = P.c_cov.shape[0]
    cov = S.cov
    for c in range(C):
        cov[c] = coverage_now(P, c, s) if on else 0.0
    n_sig = P.sig_ok.shape[0]
    risk = S.risk
    risk[:, :] = 0.0
    if P.resp_on:
        for b in range(B):
            for g in range(n_sig):
                miss = 1.0
                for k in range(P.bsc_ptr[b * n_sig + g], P.bsc_ptr[b * n_sig + g + 1]):
                    c = P.bsc_idx[k]
                    miss *= 1.0 - cov[c] * P.cb_det[c, b]
                risk[b, g] = 1.0 - miss
    # (aware0 is the share at day 0, the reported start: a burn-in sees fewer, none long before)
    return max(0.0, min(P.aware_max, 1.0 - (1.0 - P.aware0) * math.exp(-P.aware_growth * (s - P.report_from) * P.dt)))


@nb.njit(cache=True)
def release_delayed_records(P, S, Q, s):
    """Delayed records become visible, in batches: take the due records off the channel's
    queue and prefetch their subjects' columns, then make them visible in queue order (making
    a record visible never queues another, so this is the same order)."""
    due = np.empty(BATCH, dtype=np.int64)
    for c in range(P.c_cov.shape[0]):
        while falls_due(S, c, s):
            m = 0
            while m < BATCH and falls_due(S, c, s):
                i = fifo_pop(S.ch_pend, S.p_next, c)
                due[m] = i
                prefetch_subject(P, S, S.p_subj[i], S.p_beh[i])
                m += 1
            for i in range(m):
                make_visible(P, S, Q, release_delayed(S, due[i], c), s)


@nb.njit(cache=True)
def expire_and_appeal(P, S, Q, s):
    """Points recover, records are deleted (retention, expiry), appeals succeed: walks over
    record ids (visibility order) up to the records old enough; then upheld appeals of
    wrongful listings."""
    n_rec = S.cnt[C_NREC]
    if P.recovery >= 0:
        end = min(n_rec, first_id(S, s - P.recovery + 1, s))  # visible at s - recovery or before
        for r in range(S.cur[CUR_RECOVERY], end):
            if rec_state(S, r) == ACTIVE:
                revert(P, S, Q, r, s)
        S.cur[CUR_RECOVERY] = max(end, S.cur[CUR_RECOVERY])
    expire(P, S, Q, n_rec, s)
    end = min(n_rec, first_id(S, s - P.appeal_delay + 1, s))
    for r in range(S.cur[CUR_APPEAL], end):
        if S.r_flags[r] & APPEAL_BIT:
            remove_record(P, S, Q, r, REMOVED_APPEAL, s)
    S.cur[CUR_APPEAL] = max(end, S.cur[CUR_APPEAL])
    appeal_listings(P, S, Q, s)


@nb.njit(cache=True)
def coming_of_age(P, S, Q, s):
    """The people of this state's regions who reach the scoring age at step s are scored from
    now on (``plan_coming_of_age``: each region's in step order, so a binary search finds the
    step's; no cursor to keep or checkpoint)."""
    if P.coa_on == 0:
        return
    for r in range(P.coa_ptr.shape[0] - 1):
        if S.own[r] == 0:
            continue
        lo, hi = P.coa_ptr[r], P.coa_ptr[r + 1]
        if lo == hi:
            continue
        steps = P.coa_step[lo:hi]
        for i in range(lo + np.searchsorted(steps, s, side="left"), lo + np.searchsorted(steps, s, side="right")):
            come_of_age(P, S, Q, P.coa_ent[i], s)


@nb.njit(cache=True)
def fade_association(P, S, s):
    """What contacts who stopped counting gave by the association term fades (a half-life)."""
    if P.as_half > 0:
        fade_due(P, S, s)


@nb.njit(cache=True)
def review_lists(P, S, Q, s):
    """List reviews that fall due at step s (exits, promotions), from the bucket calendar."""
    node = S.cal_head[s]
    S.cal_head[s] = -1
    while node >= 0:
        nxt = S.ls_cal[node]
        review_node(P, S, Q, node, s)
        node = nxt
