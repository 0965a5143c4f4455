"""The state's stores and their bookkeeping, with no rule of the system in them: per-entity
outcome counters and their carries, the records (ids, flags, points as applied), the delayed
records' queues, list slots and per-region member segments, the outbox of messages between
regions, the pending flags, the association term's fading queue, and incomes.
"""

from __future__ import annotations

from scorelab.jit_cache import nb
import numpy as np

from scorelab.engine.prefetch import prefetch
from scorelab.engine.kernel.constants import (
    C_AQH, C_AQN, C_LFREE, C_LTOP, C_NCARRY, C_NMSG, C_NOD, C_NPEND, C_NPOOL, C_NREC, C_PFREE, C_WTOP, DC_PEOPLE,
    DC_RECORDS, DELTA_APART, DELTA_ZERO, ERR_BITS, INCOME_CAP, MO_DATA, N_OUT, RC_HELD, RC_PEOPLE, STATE_BITS, YEAR,
)
from scorelab.engine.kernel.cells import cell, region_cell



@nb.njit(cache=True, inline="always")
def bump(S, k, e, d):
    """Add d (+1 or -1) to outcome counter k of entity e."""
    v = S.out[k, e] + d
    if v > 127 or v < -128:
        book_carry(S, k, e, d)
        v -= d * 256
    S.out[k, e] = v


@nb.njit(cache=True)
def book_carry(S, k, e, d):
    n = S.cnt[C_NCARRY]
    if n == S.carry.shape[0]:
        S.carry = widened(S.carry, max(64, 2 * n), n)
    S.carry[n] = (e * N_OUT + k) * 2 + (1 if d > 0 else 0)
    S.cnt[C_NCARRY] = n + 1


@nb.njit(cache=True, inline="always")
def hold(P, S, Q, e, d, s):
    """A record about e became live (d = 1) or was removed (d = -1): the data held about e,
    and (for a person) the step's changes of the records held and of the people with any,
    nationally and in e's region (stocks as running sums: ``layout.accumulated``)."""
    n = S.held[e] + d
    S.held[e] = n
    if e >= P.n_people:
        return
    r = P.ent_city[e]
    Q.M[s, cell(Q, MO_DATA, DC_RECORDS)] += d
    Q.M[s, region_cell(Q, r, RC_HELD)] += d
    if (d > 0 and n == 1) or (d < 0 and n == 0):
        Q.M[s, cell(Q, MO_DATA, DC_PEOPLE)] += d
        Q.M[s, region_cell(Q, r, RC_PEOPLE)] += d


@nb.njit(cache=True)
def count_of(S, k, e):
    """Entity e's outcome counter k with its wraps added back (``engine.simulation.counters``
    does the same for everyone at the end)."""
    v = np.int64(S.out[k, e])
    for i in range(S.cnt[C_NCARRY]):
        code = S.carry[i]
        if (code >> 1) == e * N_OUT + k:
            v += 256 if code & 1 else -256
    return v


@nb.njit(cache=True, inline="always")
def first_id(S, t, s):
    """The first record id made visible at step t or later, during step s (t may be past s)."""
    if t <= 0:
        return 0
    if t > s:
        return S.cnt[C_NREC]
    return S.vis_start[t]


@nb.njit(cache=True)
def vis_step(S, r, s):
    """The step record r became visible (at step s or before): the steps 1..s whose first id
    is r or below."""
    return np.searchsorted(S.vis_start[1: s + 1], r, side="right")


@nb.njit(cache=True, inline="always")
def rec_err(S, r):
    return S.r_flags[r] & ERR_BITS


@nb.njit(cache=True, inline="always")
def rec_state(S, r):
    return (S.r_flags[r] & STATE_BITS) >> 2


@nb.njit(cache=True, inline="always")
def set_state(S, r, state):
    S.r_flags[r] = (S.r_flags[r] & ~STATE_BITS) | (state << 2)


@nb.njit(cache=True)
def push_fading(S, due, e, bits, stage):
    """Queue a fading stage (due steps are pushed in order: every stage is one half-life on)."""
    head = S.cnt[C_AQH]
    n = S.cnt[C_AQN]
    if head + n == S.aq.shape[0]:
        if head > 0:  # move to the front
            S.aq[:n] = S.aq[head:head + n].copy()
        else:
            aq = np.zeros((max(64, 2 * n), 4), dtype=np.int64)
            aq[:n] = S.aq[:n]
            S.aq = aq
        head = 0
        S.cnt[C_AQH] = 0
    i = head + n
    S.aq[i, 0] = due
    S.aq[i, 1] = e
    S.aq[i, 2] = bits
    S.aq[i, 3] = stage
    S.cnt[C_AQN] = n + 1


@nb.njit(cache=True)
def push_msg(P, S, kind, dst, a, b, c, d, x0, x1, dst_region, src_region):
    """Append a message to the outbox (grown inside the kernel when full). Its sort key
    (destination region, source region) fixes the order of delivery, whichever worker runs
    which region; the national source is region R."""
    n = S.cnt[C_NMSG]
    if n == S.mb_key.shape[0]:
        cap = max(64, 2 * n)
        mi = np.zeros((cap, 6), dtype=np.int64)
        mi[:n] = S.mb_i[:n]
        S.mb_i = mi
        mx = np.zeros((cap, 2))
        mx[:n] = S.mb_x[:n]
        S.mb_x = mx
        mk = np.zeros(cap, dtype=np.int64)
        mk[:n] = S.mb_key[:n]
        S.mb_key = mk
    S.mb_i[n, 0] = kind
    S.mb_i[n, 1] = dst
    S.mb_i[n, 2] = a
    S.mb_i[n, 3] = b
    S.mb_i[n, 4] = c
    S.mb_i[n, 5] = d
    S.mb_x[n, 0] = x0
    S.mb_x[n, 1] = x1
    S.mb_key[n] = dst_region * (P.city_join.shape[0] + 1) + src_region
    S.cnt[C_NMSG] = n + 1


@nb.njit(cache=True)
def push_pending(S, f, e, truth):
    """A flag raised this step waits for the national queue (joined region by region)."""
    n = S.cnt[C_NPEND]
    if n == S.pf.shape[0]:
        grown = np.zeros((max(64, 2 * n), 3), dtype=np.int64)
        grown[:n] = S.pf[:n]
        S.pf = grown
    S.pf[n, 0] = f
    S.pf[n, 1] = e
    S.pf[n, 2] = truth
    S.cnt[C_NPEND] = n + 1


@nb.njit(cache=True, inline="always")
def find_slot(S, l, e):
    """The list slot of (list l, entity e), or -1."""
    i = S.ls_head[e]
    while i >= 0 and S.ls_list[i] != l:
        i = S.ls_next[i]
    return i


@nb.njit(cache=True)
def widened(a, cap, n):
    """A copy of a with room for cap entries, the first n kept (arrays the kernels grow)."""
    b = np.zeros(cap, dtype=a.dtype)
    b[:n] = a[:n]
    return b


@nb.njit(cache=True)
def _grow_slots(S):
    """Twice the room for list slots (the kernels grow them; Python reads them back with
    ``grown_arrays``)."""
    n = S.ls_ent.shape[0]
    cap = max(1024, 2 * n)
    S.ls_list = widened(S.ls_list, cap, n)
    S.ls_ent = widened(S.ls_ent, cap, n)
    S.ls_since = widened(S.ls_since, cap, n)
    S.ls_next = widened(S.ls_next, cap, n)
    S.ls_cal = widened(S.ls_cal, cap, n)
    S.ls_pend = widened(S.ls_pend, cap, n)
    S.ls_wpos = widened(S.ls_wpos, cap, n)
    S.ls_cause = widened(S.ls_cause, cap, n)
    S.ls_hits = widened(S.ls_hits, cap, n)


@nb.njit(cache=True)
def slot_of(S, l, e):
    """The list slot of (l, e), made if it has none."""
    i = find_slot(S, l, e)
    if i >= 0:
        return i
    i = S.cnt[C_LFREE]
    if i >= 0:
        S.cnt[C_LFREE] = S.ls_next[i]
    else:
        i = S.cnt[C_LTOP]
        if i == S.ls_ent.shape[0]:
            _grow_slots(S)
        S.cnt[C_LTOP] = i + 1
    S.ls_list[i] = l
    S.ls_ent[i] = e
    S.ls_pend[i] = 0
    S.ls_hits[i] = 0
    S.ls_next[i] = S.ls_head[e]
    S.ls_head[e] = i
    return i


@nb.njit(cache=True)
def release_slot(S, i):
    """Free list slot i once its entity is neither on its list nor waiting for a review
    (a slot already free has entity -1)."""
    l = S.ls_list[i]
    e = S.ls_ent[i]
    if e < 0 or S.ls_pend[i] or (S.on_list[l, e] & 1):
        return
    if S.ls_head[e] == i:
        S.ls_head[e] = S.ls_next[i]
    else:
        j = S.ls_head[e]
        while S.ls_next[j] != i:
            j = S.ls_next[j]
        S.ls_next[j] = S.ls_next[i]
    S.ls_ent[i] = -1
    S.ls_next[i] = S.cnt[C_LFREE]
    S.cnt[C_LFREE] = i


@nb.njit(cache=True)
def add_member(S, row, r, e):
    """Append e to region r's members of `row`; returns its place among them."""
    n = S.w_n[row, r]
    if n == S.w_cap[row, r]:
        cap = max(16, 2 * n)
        top = S.cnt[C_WTOP]
        if top + cap > S.w_mem.shape[0]:
            S.w_mem = widened(S.w_mem, max(1024, 2 * S.w_mem.shape[0], top + cap), top)
        old = S.w_base[row, r]
        S.w_mem[top:top + n] = S.w_mem[old:old + n]
        S.w_base[row, r] = top
        S.w_cap[row, r] = cap
        S.cnt[C_WTOP] = top + cap
    S.w_mem[S.w_base[row, r] + n] = e
    S.w_n[row, r] = n + 1
    return n


@nb.njit(cache=True, inline="always")
def prefetch_subject(P, S, e, b):
    """Prefetch what making a record of behaviour b about e visible reads: e's record list,
    score, grade and view-0 points, and e's state on the lists and flags that b feeds."""
    prefetch(S.subj_head, e)
    prefetch(S.total, e)
    prefetch(S.grade, e)
    prefetch(S.raw[0, :, 0], e)
    for l in range(P.l_beh.shape[0]):
        if P.l_beh[l, b]:
            prefetch(S.on_list[l], e)
    for f in range(P.f_beh.shape[0]):
        if P.f_beh[f, b]:
            prefetch(S.queued[f], e)
            prefetch(S.last_flag[f], e)


@nb.njit(cache=True, inline="always")
def falls_due(S, c, s):
    """Whether the next record waiting on channel c becomes visible at step s."""
    return S.ch_pend[c, 0] >= 0 and S.p_vis[S.ch_pend[c, 0]] <= s


@nb.njit(cache=True, inline="always")
def fifo_push(q, nxt, i, r):
    """Append r to FIFO i (q[i, 0] head, q[i, 1] tail) linked through `nxt`."""
    nxt[r] = -1
    if q[i, 1] < 0:
        q[i, 0] = r
    else:
        nxt[q[i, 1]] = r
    q[i, 1] = r


@nb.njit(cache=True, inline="always")
def fifo_pop(q, nxt, i):
    r = q[i, 0]
    q[i, 0] = nxt[r]
    if q[i, 0] < 0:
        q[i, 1] = -1
    return r


@nb.njit(cache=True, inline="always")
def add_record(S, subj, actor, b, c, step, flags):
    """The next record id, for a record becoming visible now. Ids follow visibility, so the
    recovery, appeal and expiry queues are cursors over ids (no links per record)."""
    r = S.cnt[C_NREC]
    S.cnt[C_NREC] += 1
    S.r_subj[r] = subj
    if r < S.r_actor.shape[0]:  # who acted, and when: kept only when the run hands records back
        S.r_actor[r] = actor
        S.r_step[r] = step
    S.r_beh[r] = b
    S.r_chan[r] = c
    S.r_flags[r] = flags | DELTA_ZERO
    return r


@nb.njit(cache=True, inline="always")
def rec_delta(P, S, r):
    """Record r's points as applied."""
    f = S.r_flags[r]
    if f & DELTA_ZERO:
        return 0.0
    if (f & DELTA_APART) == 0:
        return P.pts[S.r_beh[r]]
    n = S.cnt[C_NOD]
    return S.od_val[np.searchsorted(S.od_rec[:n], r)]


@nb.njit(cache=True)
def set_delta(P, S, r, pts):
    f = S.r_flags[r] & ~(DELTA_ZERO | DELTA_APART)
    if pts == 0.0:
        S.r_flags[r] = f | DELTA_ZERO
        return
    if pts == P.pts[S.r_beh[r]]:
        S.r_flags[r] = f
        return
    S.r_flags[r] = f | DELTA_APART
    n = S.cnt[C_NOD]
    if n == S.od_rec.shape[0]:
        S.od_rec = widened(S.od_rec, max(64, 2 * n), n)
        S.od_val = widened(S.od_val, max(64, 2 * n), n)
    S.od_rec[n] = r
    S.od_val[n] = pts
    S.cnt[C_NOD] = n + 1


@nb.njit(cache=True, inline="always")
def release_delayed(S, i, c):
    """Record id for the delayed record in pool slot i (channel c); the slot is freed."""
    r = add_record(S, S.p_subj[i], S.p_actor[i], S.p_beh[i], c, S.p_step[i], S.p_flags[i])
    S.p_next[i] = S.cnt[C_PFREE]
    S.cnt[C_PFREE] = i
    S.cnt[C_NPOOL] -= 1
    return r


@nb.njit(cache=True, inline="always")
def change_income(P, income, loss, e, frac, s):
    """Relative income change; the income lost until the horizon is booked at once."""
    if frac == 0.0:
        return
    old = income[e]
    new = min(max(0.0, old * (1.0 + frac)), INCOME_CAP)
    income[e] = new
    loss[e] += (old - new) * (P.horizon_days - s * P.dt) / YEAR
