"""The numba kernels of the day loop. ``engine.simulation`` documents the order of a step.

``P`` is the read-only ``plan.Params``; ``S`` is the mutable ``State`` (arrays
only, scalars live in small arrays); ``Q`` holds the per-step metrics matrix ``Q.M`` and its
column offsets ``Q.MO``. Work per step follows events: candidate events, records
becoming visible or expiring, list reviews that fall due, investigations.
"""

from __future__ import annotations

import math
from collections import namedtuple

from scorelab.jit_cache import nb
import numpy as np
from numba.core import types
from numba.experimental import structref
from numba.extending import overload

from scorelab.engine.layout import (
    ASSOCIATION_COLUMNS, BLOCKS, CONSEQUENCE_COLUMNS, ERROR_NAMES, FLAG_COLUMNS, IDENTIFICATION_COLUMNS, LIST_COLUMNS,
    N_COUNTERS, N_CURSORS, N_OUTCOMES, STATE,
)
from scorelab.engine.lending import lend
from scorelab.engine.plan import ASSOCIATION_UNIT, MIS_ANYONE, MIS_HOUSEHOLD, Params
from scorelab.engine.prefetch import prefetch
from scorelab.rng import fixed_unit, philox, poisson_from_uniform, to_unit, uniform
from scorelab.synth import drawn
from scorelab.vocabulary import NO_GRADE

#: The day-loop state: the arrays of engine.layout.STATE, in its order
State = namedtuple("State", [a.name for a in STATE])

#: The per-step metrics matrix (steps x columns) and its column offsets (``MO_*`` indices). One
#: lent handle instead of two arrays: an array argument costs every call a reference count
#: (a function call even when lent) and some dozen words of arguments.
Metrics = namedtuple("Metrics", ["M", "MO"])


@nb.njit(cache=True, inline="always")
def cell(Q, block, i):
    """Metric column i of a block of one column per item (events, grades...)."""
    return Q.MO[block] + i


@nb.njit(cache=True, inline="always")
def list_cell(Q, l, col):
    """List l's metric column ``col`` (LC_*)."""
    return Q.MO[MO_LIST] + L_COLS * l + col


@nb.njit(cache=True, inline="always")
def flag_cell(Q, f, col):
    """Flag f's metric column ``col`` (FC_*)."""
    return Q.MO[MO_FLAG] + F_COLS * f + col


@nb.njit(cache=True, inline="always")
def cons_cell(Q, k, col):
    """Consequence k's metric column ``col`` (CC_*)."""
    return Q.MO[MO_CONS] + K_COLS * k + col


@nb.njit(cache=True, inline="always")
def id_cell(Q, row, col):
    """The metric column ``col`` (IC_*) of the identifying channel of row ``row`` (P.c_id_row)."""
    return Q.MO[MO_ID] + ID_COLS * row + col


@nb.njit(cache=True, inline="always")
def record_cell(Q, c, err):
    """Channel c's records of error ``err`` (an index of ERROR_NAMES)."""
    return Q.MO[MO_REC] + N_ERRORS * c + err

# The kernels receive Params, State and Metrics as numba StructRefs: passed by reference, they compile
# in a fraction of the time a 100-field namedtuple takes (which numba passes by value).
@structref.register
class _ParamsType(types.StructRef):
    def preprocess_fields(self, fields):
        return tuple((n, types.unliteral(t)) for n, t in fields)


@structref.register
class _StateType(types.StructRef):
    def preprocess_fields(self, fields):
        return tuple((n, types.unliteral(t)) for n, t in fields)


@structref.register
class _MetricsType(types.StructRef):
    def preprocess_fields(self, fields):
        return tuple((n, types.unliteral(t)) for n, t in fields)


class ParamsRef(structref.StructRefProxy):
    """Params as seen by the kernels."""


class StateRef(structref.StructRefProxy):
    """State as seen by the kernels."""


class MetricsRef(structref.StructRefProxy):
    """Metrics as seen by the kernels."""


structref.define_proxy(ParamsRef, _ParamsType, list(Params._fields))
structref.define_proxy(StateRef, _StateType, list(State._fields))
structref.define_proxy(MetricsRef, _MetricsType, list(Metrics._fields))


def _to_struct(nt):  # pragma: no cover - replaced by the overload below inside numba
    raise NotImplementedError


@overload(_to_struct)
def _to_struct_overload(nt):
    """Build the StructRef from the namedtuple inside numba, so the constructor is compiled
    once and cached on disk (the proxy's own constructor is recompiled in every process)."""
    if not isinstance(nt, types.NamedTuple):
        return None
    names = nt.instance_class._fields
    cls = {Params: _ParamsType, State: _StateType, Metrics: _MetricsType}[nt.instance_class]
    st = cls([(n, types.unliteral(t)) for n, t in zip(names, nt.types)])
    body = "".join(f"    obj.{n} = nt.{n}\n" for n in names)
    scope = {"structref": structref, "st": st}
    exec(f"def impl(nt):\n    obj = structref.new(st)\n{body}    return obj\n", scope)
    return scope["impl"]


@nb.njit(cache=True)
def make_params(nt):
    """Params namedtuple -> ParamsRef for the kernels."""
    return _to_struct(nt)


@nb.njit(cache=True)
def _grown_arrays(S):
    """Copies of the arrays named in GROWN_IN_KERNEL, as the kernels hold them now (copies:
    a field read in a kernel is a lent view, which must not reach Python)."""
    return (S.mb_i.copy(), S.mb_x.copy(), S.mb_key.copy(), S.pf.copy(), S.ls_list.copy(), S.ls_ent.copy(),
            S.ls_since.copy(), S.ls_next.copy(), S.ls_cal.copy(), S.ls_pend.copy(), S.ls_wpos.copy(),
            S.ls_cause.copy(), S.ls_hits.copy(), S.la_ent.copy(), S.la_list.copy(), S.la_step.copy(),
            S.od_rec.copy(), S.od_val.copy(), S.w_mem.copy(), S.carry.copy(), S.aq.copy())


@nb.njit(cache=True)
def _take_outbox(S):
    """Copies of the outbox's messages (ints, floats, sort keys); empties it."""
    n = S.cnt[C_NMSG]
    S.cnt[C_NMSG] = 0
    return S.mb_i[:n].copy(), S.mb_x[:n].copy(), S.mb_key[:n].copy()


@nb.njit(cache=True)
def _take_pending(S):
    """A copy of the step's pending flags (flag, entity, truth); empties them."""
    n = S.cnt[C_NPEND]
    S.cnt[C_NPEND] = 0
    return S.pf[:n].copy()


@nb.njit(cache=True)
def make_state(nt):
    """State namedtuple -> StateRef for the kernels."""
    return _to_struct(nt)


@nb.njit(cache=True)
def make_metrics(nt):
    """Metrics namedtuple -> MetricsRef for the kernels (holding the caller's arrays)."""
    return _to_struct(nt)

# metric column offsets (MO indices)
MO_EVENTS, MO_TWIN, MO_REC, MO_REMOVED, MO_CONS, MO_LIST, MO_FLAG, MO_GRADE, MO_FGRADE, MO_SCORE, MO_ID, MO_ASSOC = range(
    len(BLOCKS))
#: State arrays the kernels replace when they fill up (read them back with ``grown_arrays``)
GROWN_IN_KERNEL = ("mb_i", "mb_x", "mb_key", "pf", "ls_list", "ls_ent", "ls_since", "ls_next", "ls_cal", "ls_pend",
                   "ls_wpos", "ls_cause", "ls_hits", "la_ent", "la_list", "la_step", "od_rec", "od_val", "w_mem",
                   "carry", "aq")
# cnt slots: records in use, messages in the outbox, pending flags, delayed records waiting in
# the pool, the pool's free list (-1: empty) and slots ever used, the same two of list slots,
# records whose points float32 does not hold exactly, the used length of the member segments,
# the counters' carries, listing appeals waiting, the association term's fading queue (its
# head and length)
N_CNT = N_COUNTERS
C_NREC, C_NMSG, C_NPEND, C_NPOOL, C_PFREE, C_PTOP, C_LFREE, C_LTOP, C_NOD, C_WTOP, C_NCARRY, C_NLA, C_AQH, C_AQN = range(N_CNT)
# per-entity outcome counters: rows of S.out, int8; a count past int8's range wraps there and
# the wrap is booked in S.carry (entity, counter, sign), so counts stay exact
# (engine.simulation.counters) at 1 byte each, since few come near 127 (a carry costs 8 B
# for 256 counts)
N_OUT = N_OUTCOMES
(OUT_SUPP, OUT_REFUSED, OUT_SANCTIONS, OUT_REWARDS, OUT_WRONGFUL, OUT_ASSOC, OUT_FLAGGED, OUT_INVESTIGATED,
 OUT_RECORDS_ERR) = range(N_OUT)
# cur slots: the next record (id) the recovery and appeal walks look at, the next listing appeal;
# the expiry walk of the channels whose records are kept P.ttl_vals[g] steps is at
# cur[CUR_TTL + g] (one walk per distinct retention, not per channel). Record ids follow
# visibility, so each walk is a cursor.
CUR_RECOVERY, CUR_APPEAL, CUR_LAPPEAL = range(N_CURSORS)
CUR_TTL = N_CURSORS
# Why an entity is on a list (list slot's ls_cause): its records, its grade, a promotion from
# the feeding list, its grade on day 0; a value f >= 0 is the investigation of flag f. A joint
# listing (a firm's representative) is bit 4 of on_list. What a removed record caused is
# re-examined by the cause (``reexamine``).
CAUSE_RECORDS, CAUSE_GRADE, CAUSE_PROMOTION, CAUSE_START = -1, -2, -3, -4
# metric columns per list, flag, consequence and identifying channel, numbered from the names
# in engine.layout (written through list_cell, flag_cell, cons_cell, id_cell)
L_COLS, F_COLS, K_COLS, ID_COLS = len(LIST_COLUMNS), len(FLAG_COLUMNS), len(CONSEQUENCE_COLUMNS), len(IDENTIFICATION_COLUMNS)
(LC_STOCK, LC_ENTRIES, LC_EXITS, LC_WRONGFUL, LC_WSTOCK, LC_OVERTURNED, LC_APPEALED, LC_WOVERTURNED, LC_WDAYS,
 LC_WSANCTIONS) = range(L_COLS)
FC_RAISED, FC_TRUE, FC_FALSE, FC_INVESTIGATED, FC_BACKLOG, FC_WITHDRAWN, FC_INV_OVERTURNED = range(F_COLS)
CC_APPLIED, CC_WRONGFUL, CC_ASSOC, CC_MONEY, CC_SUCCESSES = range(K_COLS)
IC_SCANNED, IC_LISTED, IC_HITS, IC_FALSE = range(ID_COLS)
AC_DOWN, AC_UP, AC_MEAN = range(len(ASSOCIATION_COLUMNS))
N_ERRORS = len(ERROR_NAMES)
# S.queued bits per (flag, entity): waiting in the national queue; the last flag was
# investigated; the last flag was true (what a withdrawal or an overturned investigation reads)
Q_WAITING, Q_INVESTIGATED, Q_TRUE = 1, 2, 4
# a pending flag row (flag, entity, truth) whose truth is WITHDRAW takes the entity's flag out of
# the national queue instead of adding one
WITHDRAW = 2
# how an entity leaves a list: by the list's exit rule; overturned because what listed it was
# removed (an appeal, expiry, retention); overturned on an appeal of the listing itself
EXIT_RULE, EXIT_OVERTURNED, EXIT_APPEALED = 0, 1, 2
# messages between regions (delivered at the step's exchange): social-term change, a record about
# someone in another region, a joint listing and its end, an investigation, an association-term
# change (every one of them, also within a region: see ``restain``)
MSG_SOC, MSG_REC, MSG_JOIN, MSG_LEAVE, MSG_INV, MSG_ASC = range(6)
ACTIVE, REMOVED_APPEAL, DELETED = 1, 2, 3
# what a contact gave by the association term fades in this many halvings when it stops counting
FADE_STAGES = 5
# A record's flags, one byte (r_flags): bits 0-1 its error (0 true, 1 misattributed, 2 false
# match), bits 2-3 its state (0 pending, then ACTIVE, REMOVED_APPEAL or DELETED), bit 4 its
# points applied, bit 5 contested on appeal, bits 6-7 its points as applied are none or kept
# apart (neither: its rule's points; rec_delta). One byte read where four were (the walks
# through a person's records read state and error of each).
ERR_BITS, STATE_BITS, APPLIED_BIT, APPEAL_BIT, DELTA_ZERO, DELTA_APART = 3, 12, 16, 32, 64, 128
ACTIVE_BITS = ACTIVE << 2
YEAR = 365.25
#: candidate events handled per batch (draw and prefetch, then act): enough loads in flight to
#: hide memory latency, few enough that the batch's data stays in the first cache levels
BATCH = 64


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


# A record's visibility step has no column either: ids follow visibility, so the records made
# visible at step t are ids vis_start[t] .. vis_start[t + 1] - 1 (vis_start[0] is 0).


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


@nb.njit(cache=True, inline="always")
def own_score(P, S, v, e):
    """Score of entity e from its own records in view v (no social term)."""
    if P.scheme == 0:
        x = P.base + S.raw[v, e, 0]
    else:
        acc = 0.0
        wsum = 0.0
        for d in range(P.n_dims):
            inc = P.dim_inc[d] * (P.income_pct[e] - 0.5) if P.dim_inc[d] != 0.0 else 0.0  # (kept only then)
            val = P.dim_start[d] + S.raw[v, e, d] + inc
            val = min(1.0, max(0.0, val))
            acc += P.dim_w[d] * val
            wsum += P.dim_w[d]
        x = P.lo + (P.hi - P.lo) * acc / wsum
    return min(P.clip_hi, max(P.clip_lo, x))


@nb.njit(cache=True, inline="always")
def total_score(P, S, v, e):
    """Own score blended with the mean of contacts' own scores, plus the association term
    (views 0 and 1 only)."""
    x = own_score(P, S, v, e)
    if e >= P.n_people or v >= 2:
        return x
    if P.soc_w > 0.0:
        deg = P.soc_ptr[e + 1] - P.soc_ptr[e]
        if deg > 0:
            x = (1.0 - P.soc_w) * x + P.soc_w * S.soc[v, e] / deg
    if P.as_on:
        x += association_term(P, S, v, e)
        if P.scheme == 1:
            x = min(P.hi, max(P.lo, x))
        x = min(P.clip_hi, max(P.clip_lo, x))
    return x


@nb.njit(cache=True, inline="always")
def association_term(P, S, v, e):
    """What e's contacts add to e's score in view v (0: judged on all records, 1: on true
    records only), within the cap."""
    return min(P.as_cap, max(-P.as_cap, S.asc[v, e] * ASSOCIATION_UNIT))


@nb.njit(cache=True)
def association_marks(P, S, e):
    """How person e counts for their contacts: bit 0 against them, bit 1 for them, judged on
    all records and lists; bits 2 and 3 the same on true records and rightful listings only.
    Judged on e's own records (not on what e's contacts give e), so nothing passes along a chain."""
    m = 0
    for l in range(P.as_lists.shape[0]):
        if P.as_lists[l] and (S.on_list[l, e] & 1):
            m |= 1
            if (S.on_list[l, e] & 2) == 0:
                m |= 4
    if P.ent_scored[e]:
        g0 = grade_of(P, own_score(P, S, 0, e))
        g1 = grade_of(P, own_score(P, S, 1, e))
        m |= P.as_pgr[g0] | (P.as_rgr[g0] << 1) | (P.as_pgr[g1] << 2) | (P.as_rgr[g1] << 3)
    return m


@nb.njit(cache=True, inline="always")
def _edge_units(P, k, bits):
    """What edge k passes on for the marks ``bits``: (view 0, view 1), in association units."""
    d0 = 0
    d1 = 0
    if bits & 1:
        d0 += P.as_pen[k]
    if bits & 2:
        d0 += P.as_rew[k]
    if bits & 4:
        d1 += P.as_pen[k]
    if bits & 8:
        d1 += P.as_rew[k]
    return d0, d1


@nb.njit(cache=True, inline="always")
def _fading_part(d, stage):
    """The part of d taken back at a fading stage (1 .. FADE_STAGES): half of what is left at
    each stage, the rest at the last; the parts add up to d exactly."""
    left = d
    for _ in range(stage - 1):
        left -= _half(left)
    return left if stage == FADE_STAGES else _half(left)


@nb.njit(cache=True, inline="always")
def _half(x):
    return x // 2 if x >= 0 else -((-x) // 2)


@nb.njit(cache=True)
def send_association(P, S, e, bits, sign, stage):
    """Tell each contact of e what e's marks ``bits`` give them (sign +1) or no longer give
    them (-1; at a fading stage, that stage's part)."""
    r = P.ent_city[e]
    for k in range(P.as_ptr[e], P.as_ptr[e + 1]):
        d0, d1 = _edge_units(P, k, bits)
        if stage > 0:
            d0 = _fading_part(d0, stage)
            d1 = _fading_part(d1, stage)
        if d0 != 0 or d1 != 0:
            c = P.as_idx[k]
            push_msg(P, S, MSG_ASC, c, sign * d0, sign * d1, 0, 0, 0.0, 0.0, P.ent_city[c], r)


@nb.njit(cache=True)
def restain(P, S, e, s):
    """After a change to e's records, grade or lists: if how e counts for their contacts
    changed, tell them. What e now gives, they get at the step's exchange (a message also
    within e's region: applying it here would refresh a contact's grade from inside a refresh);
    what e no longer gives is taken back then too, or, with a half-life, in halvings."""
    if P.as_on == 0 or e >= P.n_people:
        return
    new = association_marks(P, S, e)
    old = np.int64(S.amark[e])
    if new == old:
        return
    S.amark[e] = new
    gained = new & ~old
    lost = old & ~new
    if gained:
        send_association(P, S, e, gained, 1, 0)
    if lost:
        if P.as_half > 0:
            push_fading(S, s + P.as_half, e, lost, 1)
        else:
            send_association(P, S, e, lost, -1, 0)


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
def fade_due(P, S, s):
    """Take back the fading stages due at step s, queueing the next stage of each."""
    while S.cnt[C_AQN] > 0 and S.aq[S.cnt[C_AQH], 0] <= s:
        i = S.cnt[C_AQH]
        e = S.aq[i, 1]
        bits = S.aq[i, 2]
        stage = S.aq[i, 3]
        S.cnt[C_AQH] = i + 1
        S.cnt[C_AQN] -= 1
        send_association(P, S, e, bits, -1, stage)
        if stage < FADE_STAGES:
            push_fading(S, s + P.as_half, e, bits, stage + 1)


@nb.njit(cache=True)
def add_association(P, S, Q, e, d0, d1, s):
    """A message of the association term reaches e: add it and refresh e's grade."""
    scored = P.ent_scored[e] == 1
    if scored:
        tally_association(P, S, e, -1.0)
    S.asc[0, e] += d0
    S.asc[1, e] += d1
    if scored:
        tally_association(P, S, e, 1.0)
    if d0 != 0:
        refresh(P, S, Q, e, s)


@nb.njit(cache=True, inline="always")
def tally_association(P, S, e, sign):
    """Add (sign 1) or take out (-1) scored person e's part of the region's association sums:
    people marked down, people marked up, the term's sum (view 0)."""
    x = association_term(P, S, 0, e)
    r = P.ent_city[e]
    if x < 0.0:
        S.ssum[r, 2] += sign
    elif x > 0.0:
        S.ssum[r, 3] += sign
    S.ssum[r, 4] += sign * x


@nb.njit(cache=True, inline="always")
def grade_of(P, x):
    for g in range(P.g_from.shape[0]):
        if x >= P.g_from[g]:
            return g
    return P.g_from.shape[0] - 1


@nb.njit(cache=True)
def refresh(P, S, Q, e, s):
    """Recompute e's total score and grade; keep histograms and grade-based lists up to date;
    tell e's contacts if how e counts for them changed (the association term)."""
    restain(P, S, e, s)
    if S.grade[e] == NO_GRADE:
        return
    new = total_score(P, S, 0, e)
    old = S.total[e]
    person = e < P.n_people
    if person:
        r = P.ent_city[e]
        S.ssum[r, 0] += new - old
        S.ssum[r, 1] += new * new - old * old
    S.total[e] = new
    g = grade_of(P, new)
    g_old = S.grade[e]
    if g == g_old:
        return
    kind = 0 if person else 1
    S.ghist[kind, g_old] -= 1
    S.ghist[kind, g] += 1
    S.grade[e] = g
    G1 = P.g_from.shape[0] + 1
    move_bucket(P, S, e, kind * G1 + g_old, kind * G1 + g)
    for l in range(P.l_grades.shape[0]):
        if P.l_grades[l, g] and P.l_actor[l] == kind and (S.on_list[l, e] & 1) == 0:
            g_true = grade_of(P, total_score(P, S, 1, e))
            enter_list(P, S, Q, l, e, s, P.l_grades[l, g_true] == 0, False, CAUSE_GRADE)


@nb.njit(cache=True, inline="always")
def _swap_slots(S, i, j):
    a = S.gb_mem[i]
    b = S.gb_mem[j]
    S.gb_mem[i] = b
    S.gb_mem[j] = a
    S.gb_pos[b] = i
    S.gb_pos[a] = j


@nb.njit(cache=True)
def move_bucket(P, S, e, q_old, q_new):
    """Move e between grade buckets of its region (entities of a region kept ordered by kind
    and grade, ``gb_lo`` the bucket starts): one swap and one boundary shift per bucket passed."""
    r = P.ent_city[e]
    q = q_old
    while q < q_new:  # to the end of bucket q, which then ends just before it
        end = S.gb_lo[r, q + 1] - 1
        _swap_slots(S, S.gb_pos[e], end)
        S.gb_lo[r, q + 1] -= 1
        q += 1
    while q > q_new:  # to the start of bucket q, which then starts just after it
        start = S.gb_lo[r, q]
        _swap_slots(S, S.gb_pos[e], start)
        S.gb_lo[r, q] += 1
        q -= 1


@nb.njit(cache=True)
def _init_buckets(P, S):
    """Each region's entities ordered by (kind, grade; unscored last of their kind), so that
    attempts restricted to some grades are drawn among the people in those grades."""
    E = S.grade.shape[0]
    G1 = P.g_from.shape[0] + 1
    R = P.city_join.shape[0]
    n = np.zeros((R, 2 * G1), dtype=np.int64)
    q_of = np.empty(E, dtype=np.int64)
    for e in range(E):
        g = S.grade[e]
        q = (0 if e < P.n_people else G1) + (G1 - 1 if g == NO_GRADE else g)
        q_of[e] = q
        n[P.ent_city[e], q] += 1
    fill = np.empty((R, 2 * G1), dtype=np.int64)
    for r in range(R):
        pos = P.reg_base[r]
        for q in range(2 * G1):
            S.gb_lo[r, q] = pos
            fill[r, q] = pos
            pos += n[r, q]
        S.gb_lo[r, 2 * G1] = pos
    for e in range(E):
        r = P.ent_city[e]
        i = fill[r, q_of[e]]
        S.gb_mem[i] = e
        S.gb_pos[e] = i
        fill[r, q_of[e]] += 1


@nb.njit(cache=True)
def add_to_view(P, S, v, e, vec_scale, b, delta_points):
    """Add a record's contribution (scaled by +1 or -1) to view v of entity e. Returns the change
    of e's own score in the view when contacts' social terms read it (views 0 and 1 of a person
    with the social term on), else 0. Grades are not refreshed here: the caller updates every
    view, then ``spread``s the changes and calls ``settle``, so that a grade change judged against
    the true-records view sees that view already up to date."""
    before = 0.0
    social = P.soc_w > 0.0 and v < 2 and e < P.n_people
    if social:
        before = own_score(P, S, v, e)
    if P.scheme == 0:
        S.raw[v, e, 0] += vec_scale * delta_points
    else:
        for d in range(P.n_dims):
            S.raw[v, e, d] += vec_scale * P.dim_rec[b, d]
    if social:
        return own_score(P, S, v, e) - before
    return 0.0


@nb.njit(cache=True)
def spread(P, S, e, d0, d1):
    """Pass e's own-score changes in views 0 and 1 to its contacts' social sums: at once for
    contacts in e's region, as a message for the others (applied at the step's exchange)."""
    if d0 == 0.0 and d1 == 0.0:
        return
    r = P.ent_city[e]
    for k in range(P.soc_ptr[e], P.soc_ptr[e + 1]):
        c = P.soc_idx[k]
        rc = P.ent_city[c]
        if rc == r:
            if d0 != 0.0:
                S.soc[0, c] += d0
            if d1 != 0.0:
                S.soc[1, c] += d1
        else:
            push_msg(P, S, MSG_SOC, c, 0, 0, 0, 0, d0, d1, rc, r)


@nb.njit(cache=True)
def settle(P, S, Q, e, s, moved):
    """After a change to e's views: refresh the grades of e's contacts in e's region (if e's own
    score moved in view 0, through the social term; contacts elsewhere are refreshed when the
    message reaches them) and of e."""
    if moved:
        r = P.ent_city[e]
        for k in range(P.soc_ptr[e], P.soc_ptr[e + 1]):
            c = P.soc_idx[k]
            if P.ent_city[c] == r:
                refresh(P, S, Q, c, s)
    refresh(P, S, Q, e, s)


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


@nb.njit(cache=True)
def apply_record(P, S, Q, r, scale, s):
    """Apply (scale=+1) or revert (scale=-1) record r's points in every view that admits it."""
    e = S.r_subj[r]
    b = S.r_beh[r]
    dom = P.b_domain[b]
    d0 = 0.0
    d1 = 0.0
    for v in range(P.n_views):
        if P.view_true[v] and rec_err(S, r) != 0:
            continue
        if P.view_dom[v, dom] == 0:
            continue
        d = add_to_view(P, S, v, e, scale, b, rec_delta(P, S, r))
        if v == 0:
            d0 = d
        elif v == 1:
            d1 = d
    spread(P, S, e, d0, d1)
    settle(P, S, Q, e, s, d0 != 0.0)


@nb.njit(cache=True)
def record_points(P, S, r, s):
    """Points a new record adds (points scheme): rule points, per-year cap, grade ceiling."""
    e = S.r_subj[r]
    b = S.r_beh[r]
    pts = P.pts[b]
    row = P.cap_row[b]
    if row >= 0:
        year = np.int16(int(s * P.dt // YEAR))  # (runs have at most MAX_STEPS steps)
        if S.cap_year[row, e] != year:
            S.cap_year[row, e] = year
            S.cap_acc[row, e] = 0.0
        room = max(0.0, P.cap[b] - S.cap_acc[row, e])
        mag = min(abs(pts), room)
        pts = mag if pts >= 0 else -mag
        S.cap_acc[row, e] += mag
    if not math.isnan(P.set_cap[b]):
        cur = S.total[e] if S.grade[e] != NO_GRADE else total_score(P, S, 0, e)
        if cur + pts > P.set_cap[b]:
            pts = min(pts, P.set_cap[b] - cur)
    return pts


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


# A (list, entity) pair has a list slot while the entity is on the list or a review of it on
# that list is pending: its listing step, calendar link and (on a list whose members are kept
# per region) its place among the members live there, not in (lists x entities) arrays, since
# few entities are on a list or waiting for a review at a time. An entity's slots are chained
# from ls_head; free slots are chained through ls_next.


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


# The members of a list kept per region (watchlists, lists of consequences by list alone) sit
# in one segment of w_mem per (member row, region): w_mem[w_base[row, r] + k] is the k-th of
# w_n[row, r], with room for w_cap[row, r]. A full segment moves to the end of w_mem with
# twice the room; the space it leaves is not reused (at most what the segments hold now), so
# the members cost memory in proportion to the most listed at a time, not to everyone.


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
def schedule(P, S, i, step):
    """Link list slot i into the calendar bucket of `step`, once."""
    if S.ls_pend[i] or step > P.n_steps:
        return
    S.ls_pend[i] = 1
    S.ls_cal[i] = S.cal_head[step]
    S.cal_head[step] = i


@nb.njit(cache=True)
def exit_step(P, S, l, e):
    """Earliest step at which e may leave list l (minimum stay, plus a random wait at the exit rate)."""
    since = S.ls_since[find_slot(S, l, e)]
    due = since + P.l_after[l]
    if P.l_exit_rate[l] > 0.0:
        u = uniform(P.k_exit[0], P.k_exit[1], e, since, l, 0)
        due += int(-math.log(1.0 - u) / P.l_exit_rate[l])
    return due


@nb.njit(cache=True)
def enter_list(P, S, Q, l, e, s, wrongful, joint, cause):
    """List e on l for ``cause`` (CAUSE_*, or the flag whose investigation listed e); a firm's
    listing on a joint-punishment list also lists its legal representative."""
    _enter_one(P, S, Q, l, e, s, wrongful, joint, cause)
    if P.l_joint[l] and e >= P.n_people:
        rep = P.firm_rep[e - P.n_people]
        if rep >= 0:
            if P.ent_city[rep] == P.ent_city[e]:
                _enter_one(P, S, Q, l, rep, s, wrongful, True, cause)
            else:
                push_msg(P, S, MSG_JOIN, rep, l, 1 if wrongful else 0, 0, 0, 0.0, 0.0, P.ent_city[rep], P.ent_city[e])


@nb.njit(cache=True)
def _enter_one(P, S, Q, l, e, s, wrongful, joint, cause):
    if S.on_list[l, e] & 1:
        return
    S.on_list[l, e] = 1 | (2 if wrongful else 0) | (4 if joint else 0)
    i = slot_of(S, l, e)
    S.ls_since[i] = s
    S.ls_cause[i] = cause
    S.l_stock[0, l] += 1
    Q.M[s, list_cell(Q, l, LC_ENTRIES)] += 1
    if wrongful:
        Q.M[s, list_cell(Q, l, LC_WRONGFUL)] += 1
        S.l_stock[1, l] += 1
        if not joint and P.la_p > 0.0 and uniform(P.k_lappeal[0], P.k_lappeal[1], e, s, l, 0) < P.la_p:
            queue_list_appeal(S, l, e, s)  # (a joint listing follows the firm's)
    row = P.l_watch_row[l]
    if row >= 0:  # members of a watch list are kept per region, in the region's segment
        S.ls_wpos[i] = add_member(S, row, P.ent_city[e], e)
    if not joint:
        schedule(P, S, i, exit_step(P, S, l, e))
    for l2 in range(P.l_from.shape[0]):
        if P.l_from[l2] == l and (S.on_list[l2, e] & 1) == 0 and s + P.l_after_listed[l2] <= P.n_steps:
            schedule(P, S, slot_of(S, l2, e), s + P.l_after_listed[l2])
    if P.as_lists[l]:
        restain(P, S, e, s)


@nb.njit(cache=True)
def queue_list_appeal(S, l, e, s):
    """A wrongful listing that will be contested and upheld: it waits in the appeals queue
    (in listing order, so the queue is a cursor: ``appeal_listings``)."""
    n = S.cnt[C_NLA]
    if n == S.la_ent.shape[0]:
        cap = max(64, 2 * n)
        S.la_ent = widened(S.la_ent, cap, n)
        S.la_list = widened(S.la_list, cap, n)
        S.la_step = widened(S.la_step, cap, n)
    S.la_ent[n] = e
    S.la_list[n] = l
    S.la_step[n] = s
    S.cnt[C_NLA] = n + 1


@nb.njit(cache=True)
def leave_list(P, S, Q, l, e, s, how):
    """Delist e from l (``how``: EXIT_RULE by the list's exit rule, EXIT_OVERTURNED when what
    listed e was removed, EXIT_APPEALED on an upheld appeal of the listing); a firm's exit also
    ends its representative's joint listing, the same way."""
    _leave_one(P, S, Q, l, e, s, how)
    if P.l_joint[l] and e >= P.n_people:
        rep = P.firm_rep[e - P.n_people]
        if rep >= 0:
            if P.ent_city[rep] != P.ent_city[e]:
                push_msg(P, S, MSG_LEAVE, rep, l, how, 0, 0, 0.0, 0.0, P.ent_city[rep], P.ent_city[e])
            elif S.on_list[l, rep] & 4:
                _leave_one(P, S, Q, l, rep, s, how)


@nb.njit(cache=True)
def _leave_one(P, S, Q, l, e, s, how):
    if (S.on_list[l, e] & 1) == 0:
        return
    wrongful = (S.on_list[l, e] & 2) != 0
    S.on_list[l, e] = 0
    S.l_stock[0, l] -= 1
    Q.M[s, list_cell(Q, l, LC_EXITS)] += 1
    i = find_slot(S, l, e)
    if wrongful:
        S.l_stock[1, l] -= 1
    if how != EXIT_RULE:  # dated: the step's row; history (entries, sanctions) stays as it was
        Q.M[s, list_cell(Q, l, LC_OVERTURNED)] += 1
        if how == EXIT_APPEALED:
            Q.M[s, list_cell(Q, l, LC_APPEALED)] += 1
        if wrongful:
            Q.M[s, list_cell(Q, l, LC_WOVERTURNED)] += 1
            Q.M[s, list_cell(Q, l, LC_WDAYS)] += (s - S.ls_since[i]) * P.dt
            Q.M[s, list_cell(Q, l, LC_WSANCTIONS)] += S.ls_hits[i]
    row = P.l_watch_row[l]
    if row >= 0:  # swap-remove from the region's member segment
        r = P.ent_city[e]
        seg = S.w_base[row, r]
        pos = S.ls_wpos[i]
        last = S.w_mem[seg + S.w_n[row, r] - 1]
        S.w_mem[seg + pos] = last
        S.ls_wpos[find_slot(S, l, last)] = pos
        S.w_n[row, r] -= 1
    release_slot(S, i)
    if P.as_lists[l]:
        restain(P, S, e, s)


@nb.njit(cache=True)
def review_node(P, S, Q, node, s):
    """A list slot falls due: exit review if listed, promotion from the feeding list otherwise."""
    _review(P, S, Q, node, s)
    release_slot(S, node)


@nb.njit(cache=True, inline="always")
def _review(P, S, Q, node, s):
    l = S.ls_list[node]
    e = S.ls_ent[node]
    S.ls_pend[node] = 0
    if S.on_list[l, e] & 1:
        if S.on_list[l, e] & 4:
            return  # joint listings follow the firm
        due = exit_step(P, S, l, e)
        if s < due:
            schedule(P, S, node, due)
            return
        if P.l_clean[l] >= 0:
            r = S.subj_head[e]
            while r >= 0:
                if rec_state(S, r) == ACTIVE and P.l_beh[l, S.r_beh[r]]:
                    if r >= first_id(S, s - P.l_clean[l] + 1, s):  # visible within the clean period
                        schedule(P, S, node, vis_step(S, r, s) + P.l_clean[l])
                        return
                    break
                r = S.r_prev[r]
        leave_list(P, S, Q, l, e, s, EXIT_RULE)
        return
    src = P.l_from[l]
    if src >= 0 and (S.on_list[src, e] & 1):
        due = S.ls_since[find_slot(S, src, e)] + P.l_after_listed[l]
        if s < due:
            schedule(P, S, node, due)
            return
        enter_list(P, S, Q, l, e, s, (S.on_list[src, e] & 2) != 0, False, CAUSE_PROMOTION)


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


@nb.njit(cache=True)
def make_visible(P, S, Q, r, s):
    """A record reaches the system: points, lists, flags, expiry queues."""
    e = S.r_subj[r]
    b = S.r_beh[r]
    c = S.r_chan[r]
    set_state(S, r, ACTIVE)
    S.r_prev[r] = S.subj_head[e]
    S.subj_head[e] = r
    err = rec_err(S, r)
    Q.M[s, record_cell(Q, c, err)] += 1
    if err:
        bump(S, OUT_RECORDS_ERR, e, 1)
    if P.scheme == 0:
        pts = record_points(P, S, r, s)
        set_delta(P, S, r, pts)
        touches = pts != 0.0
    else:
        touches = False
        for d in range(P.n_dims):
            if P.dim_rec[b, d] != 0.0:
                touches = True
    if touches:
        apply_record(P, S, Q, r, 1.0, s)
        S.r_flags[r] |= APPLIED_BIT
    for l in range(P.l_beh.shape[0]):
        if P.l_beh[l, b] and (S.on_list[l, e] & 1) == 0 and P.l_actor[l] == (0 if e < P.n_people else 1):
            n, n_true = count_recent(P, S, e, False, l, P.l_within[l], s)
            if n >= P.l_min[l]:
                enter_list(P, S, Q, l, e, s, n_true < P.l_min[l], False, CAUSE_RECORDS)
    raise_flags(P, S, Q, r, s)


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
    revert(P, S, Q, r, s)
    Q.M[s, cell(Q, MO_REMOVED, 0 if state == REMOVED_APPEAL else 1)] += 1
    reexamine(P, S, Q, r, s)


# What a removed record caused. A record can have listed its subject (records or grade), raised
# a flag that still waits in the national queue, or raised a flag whose investigation changed
# the subject's score and listed it; a listing can have led to a promotion, a joint listing of
# a firm's representative and flags raised while listed. Each that still stands is judged again
# on the records that remain: what no longer holds is lifted (dated, "overturned") or withdrawn
# from the queue, and the future follows; what already happened stays in the history.


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
                justified(S, l, e)
        elif cause == CAUSE_GRADE:
            if not record_moves_score(P, S, r) or S.grade[e] == NO_GRADE:
                continue
            if P.recovery >= 0 and vis_step(S, r, s) + P.recovery <= since:
                continue  # its points had recovered before e was listed
            if P.l_grades[l, S.grade[e]] == 0:
                overturn(P, S, Q, l, e, s, EXIT_OVERTURNED)
            elif (S.on_list[l, e] & 2) and P.l_grades[l, grade_of(P, total_score(P, S, 1, e))]:
                justified(S, l, e)
    for f in range(P.f_beh.shape[0]):
        if P.f_beh[f, b] and S.last_flag[f, e] != 0:
            l = judge_flag(P, S, Q, f, e, s)
            if l >= 0:
                overturn(P, S, Q, l, e, s, EXIT_OVERTURNED)


@nb.njit(cache=True, inline="always")
def justified(S, l, e):
    """e's wrongful listing on l now stands on true records alone: wrongful no more."""
    S.on_list[l, e] &= np.uint8(0xFD)
    S.l_stock[1, l] -= 1


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


# A record's points as applied have no column: most records apply their rule's points
# (P.pts of their behaviour) or none, which two bits of their flags tell apart; the few others
# (cut by a per-year cap or a grade ceiling) keep theirs in float64 beside their record id, in
# id order (points are set when a record becomes visible, which is when it gets its id), found
# by bisection. Only applied records' points are read.


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


@nb.njit(cache=True)
def new_record(P, S, Q, subj, actor, b, c, s, err, appeal):
    """A record of channel c made at step s: visible now, or waiting in the pool of delayed
    records (in channel c's queue) until its channel's delay has passed."""
    flags = err | (APPEAL_BIT if appeal else 0)  # pending, nothing applied
    if P.c_delay[c] <= 0:
        make_visible(P, S, Q, add_record(S, subj, actor, b, c, s, flags), s)
        return
    i = S.cnt[C_PFREE]
    if i >= 0:
        S.cnt[C_PFREE] = S.p_next[i]
    else:
        i = S.cnt[C_PTOP]
        S.cnt[C_PTOP] += 1
    S.cnt[C_NPOOL] += 1
    S.p_subj[i] = subj
    S.p_actor[i] = actor
    S.p_beh[i] = b
    S.p_step[i] = s
    S.p_vis[i] = s + P.c_delay[c]
    S.p_flags[i] = flags
    fifo_push(S.ch_pend, S.p_next, c, i)


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
    new = max(0.0, old * (1.0 + frac))
    income[e] = new
    loss[e] += (old - new) * (P.horizon_days - s * P.dt) / YEAR


@nb.njit(cache=True, inline="always")
def coverage_now(P, c, s):
    if P.c_enabled[c] == 0 or s < P.c_start[c]:
        return 0.0
    if P.c_ramp[c] > 0:
        return P.c_cov[c] * min(1.0, (s - P.c_start[c] + 1) / P.c_ramp[c])
    return P.c_cov[c]


@nb.njit(cache=True, inline="always")
def dyn_factor(P, t, income, employed):
    f = 1.0
    for k in range(P.dm_ptr[t], P.dm_ptr[t + 1]):
        x = income if P.dm_attr[k] == 0 else employed
        if P.dm_lo[k] <= x <= P.dm_hi[k]:
            f *= P.dm_factor[k]
    return f / P.t_dyn_max[t]


@nb.njit(cache=True, inline="always")
def other_in_range(e, lo, n, u):
    """One of the n - 1 ids of lo..lo+n-1 other than e, uniformly from u (e itself if alone)."""
    if n < 2:
        return e
    k = lo + min(n - 2, int(u * (n - 1)))
    return k + 1 if k >= e else k


@nb.njit(cache=True)  # not inlined: rare, and kept out of the hot observe loop
def mistaken_subject(P, c, e, u):
    """Whom channel c wrongly records an act of e about, from one uniform u: a contact of e in
    the channel's layers, stored or drawn (synth.drawn: the same u picks among e's stored
    contacts, then its draws; an actor with no contact there cannot be confused with one, so
    the record stays on e), or a uniformly drawn other person (other firm, for firms)."""
    g = P.c_mis_graph[c]
    if g == MIS_ANYONE:
        lo = 0 if e < P.n_people else P.n_people
        n = P.n_people if e < P.n_people else P.n_firms
        return other_in_range(e, lo, n, u)
    if e >= P.n_people:
        return e
    if g == MIS_HOUSEHOLD:  # the household's members are an id range (its sorted neighbours)
        h = np.searchsorted(P.hh_start, e, side="right") - 1  # (rare: no column of households)
        return other_in_range(e, P.hh_start[h], P.hh_start[h + 1] - P.hh_start[h], u)
    ptr = P.mis_ptr[g]
    lo, deg = 0, 0  # (no stored layer: row starts of one entry)
    if ptr.shape[0] > 1:
        lo = ptr[e]
        deg = ptr[e + 1] - lo
    bits = P.mis_drawn[g]
    if bits == 0:
        if deg == 0:
            return e
        return P.mis_idx[g][lo + min(deg - 1, int(u * deg))]
    # drawn layers: e's contacts are the stored ones, then each drawn layer's draws
    n0 = drawn.n_contacts(P.drawn[0], e) if bits & 1 else 0
    n1 = drawn.n_contacts(P.drawn[1], e) if bits & 2 else 0
    total = deg + n0 + n1
    if total == 0:
        return e
    j = min(total - 1, int(u * total))
    if j < deg:
        return P.mis_idx[g][lo + j]
    p = drawn.contact(P.drawn[0], e, j - deg) if j - deg < n0 else drawn.contact(P.drawn[1], e, j - deg - n0)
    return e if p < 0 else p  # (a draw that fell on e is no contact)


@nb.njit(cache=True, inline="always")
def record_act(P, S, Q, e, b, s, j, c, city):
    """Channel c, which sees e, detects e's act with its detection probability for b and records
    it: about e; misattributed to someone else; or, of the rest, falsely matched to anyone
    (share cb_fm). Acts a channel identifies 1:N are searched instead (``search_face``)."""
    w0, w1, w2, w3 = philox(P.c_keys[c, 0], P.c_keys[c, 1], e, s, b, j)
    if to_unit(w0) >= P.cb_det[c, b]:
        return
    if b == P.c_id_beh[c]:
        search_face(P, S, Q, e, b, s, c, to_unit(w1), to_unit(w3))
        return
    subj = e
    err = 0
    u1 = to_unit(w1)
    m = P.c_mis_p[c]
    if u1 < m:
        subj = mistaken_subject(P, c, e, to_unit(w2))
        err = 1 if subj != e else 0
    elif u1 < m + (1.0 - m) * P.cb_fm[c, b]:  # (a false match: the matched one is someone else)
        lo = 0 if e < P.n_people else P.n_people
        subj = other_in_range(e, lo, P.n_people if e < P.n_people else P.n_firms, to_unit(w2))
        err = 2 if subj != e else 0
    appeal = 1 if (err and to_unit(w3) < P.appeal_p * P.appeal_success) else 0
    if P.ent_city[subj] == city:
        new_record(P, S, Q, subj, e, b, c, s, err, appeal)
    else:  # a record about someone in another region reaches them at the exchange
        push_msg(P, S, MSG_REC, subj, e, b, c, 2 * err + appeal, 0.0, 0.0, P.ent_city[subj], city)


@nb.njit(cache=True)  # (not inlined: one channel's behaviour, kept out of the hot observe loop)
def search_face(P, S, Q, e, b, s, c, u, u_appeal):
    """Channel c captured e's face during act b and searches it against its watchlist: if e is
    listed, e is recognised with the hit rate (a true record); otherwise e, the bystander who
    was scanned, raises a false alert with probability 1 - (1 - f)^W (S.id_p), and the record
    (a false match, erroneous) is about e. A face that matches nobody leaves no record."""
    row = P.c_id_row[c]
    Q.M[s, id_cell(Q, row, IC_SCANNED)] += 1
    if S.on_list[P.c_id_list[c], e] & 1:
        Q.M[s, id_cell(Q, row, IC_LISTED)] += 1
        if u < P.c_id_hit[c]:
            Q.M[s, id_cell(Q, row, IC_HITS)] += 1
            new_record(P, S, Q, e, e, b, c, s, 0, 0)
    elif u < S.id_p[c]:
        Q.M[s, id_cell(Q, row, IC_FALSE)] += 1
        new_record(P, S, Q, e, e, b, c, s, 2, 1 if u_appeal < P.appeal_p * P.appeal_success else 0)


@nb.njit(cache=True)
def _search_odds(P, S, l_stock):
    """For each identifying channel, the chance this step that an unlisted face falsely matches
    one of the watchlist's W members (W its national stock at the start of the step, from
    ``l_stock``, in the described population: a scaled run's stock / scale): 1 - (1 - f)^W."""
    for c in range(P.c_id_beh.shape[0]):
        if P.c_id_beh[c] >= 0:
            W = float(l_stock[0, P.c_id_list[c]]) * P.c_id_wfac[c]
            f = P.c_id_fmr[c]
            S.id_p[c] = -math.expm1(W * math.log1p(-f)) if f < 1.0 else (1.0 if W > 0.0 else 0.0)


@nb.njit(cache=True)
def observe(P, S, Q, e, b, s, j):
    """Channels observing behaviour b turn an act of e into records (maybe about someone else)."""
    city = P.ent_city[e]
    before = s < P.city_join[city]  # e's region has not joined: only ungated channels record
    if before and P.b_ungated[b] == 0:
        return
    cov = S.cov
    row = b * P.sig_ok.shape[0] + P.city_sig[city]  # the channels that can see b in e's region
    end = P.bsc_ptr[row + 1]
    for k0 in range(P.bsc_ptr[row], end, 64):
        k1 = min(k0 + 64, end)
        # which channels see e (bit k - k0), for up to 64 channels at a time: the coverage
        # draws do not depend on each other, so computed without a branch (a draw even where
        # coverage is full: a uniform is always below 1) they overlap. (Gathered bit by bit
        # from the last: a loop LLVM leaves scalar, since most behaviours have one or two
        # channels, for which vector registers cost more to set up than they save.)
        seen = np.uint64(0)
        for k in range(k1 - 1, k0 - 1, -1):
            c = P.bsc_idx[k]
            ok = (cov[c] > 0.0) & (fixed_unit(P.c_cov_seed[c], e) < cov[c]) & ((not before) or P.c_gated[c] == 0)
            seen = (seen << np.uint64(1)) | np.uint64(ok)
        for k in range(k0, k1):
            if (seen >> np.uint64(k - k0)) & np.uint64(1):
                record_act(P, S, Q, e, b, s, j, P.bsc_idx[k], city)


@nb.njit(cache=True, inline="always")
def region_actors(P, t, r):
    """The first entity id of region r's possible actors of event type t (its people, or its
    firms: each a contiguous range), and how many there are."""
    if P.t_firm[t]:
        return P.n_people + P.reg_f0[r], P.reg_f0[r + 1] - P.reg_f0[r]
    return P.reg_p0[r], P.reg_p0[r + 1] - P.reg_p0[r]


@nb.njit(cache=True, inline="always")
def candidate(P, t, s, r, lo, n_ent, j):
    """Candidate j of event type t in region r at step s: its actor (uniform over the region's
    ``n_ent`` actors from ``lo``) and two uniforms (acceptance, outcome)."""
    w0, w1, w2, _ = philox(P.k_events[0], P.k_events[1], t, s, 2 * r + 3, j)
    return lo + min(n_ent - 1, int(to_unit(w0) * n_ent)), to_unit(w1), to_unit(w2)


@nb.njit(cache=True)
def _draw_counts(P, s, counts):
    """Candidate events per type and region (Poisson, mean rate x actors of the region) for
    step s; returns a bound on the records the step can create (so the caller can make room
    first)."""
    bound = 0
    R = P.city_join.shape[0]
    for t in range(P.t_lam.shape[0]):
        k = t - P.b_kind.shape[0]
        bucketed = k >= 0 and (P.k_bucket[k] or P.k_lbucket[k])
        for r in range(R):
            n = region_actors(P, t, r)[1]
            if n == 0 or P.t_lam[t] <= 0.0 or bucketed:
                counts[t, r] = 0
                continue
            u = uniform(P.k_events[0], P.k_events[1], t, s, 2 * r + 2, 0)
            counts[t, r] = poisson_from_uniform(P.t_lam[t] * n, u)
            if t < P.b_kind.shape[0]:
                row = t * P.sig_ok.shape[0] + P.city_sig[r]  # (at most one record per channel seeing it)
                bound += counts[t, r] * (P.bsc_ptr[row + 1] - P.bsc_ptr[row])
    return bound


@nb.njit(cache=True)
def delays(P):
    """Whether any channel delays its records (they wait in the pool)."""
    for c in range(P.c_delay.shape[0]):
        if P.c_delay[c] > 0:
            return True
    return False


@nb.njit(cache=True)
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
            _enter_one(P, S, Q, mi[m, 2], e, s, mi[m, 3] == 1, True, CAUSE_RECORDS)
        elif kind == MSG_LEAVE:
            if S.on_list[mi[m, 2], e] & 4:
                _leave_one(P, S, Q, mi[m, 2], e, s, mi[m, 3])
        elif kind == MSG_ASC:
            add_association(P, S, Q, e, mi[m, 2], mi[m, 3], s)
        elif kind == MSG_INV:
            f = mi[m, 2]
            S.queued[f, e] = Q_INVESTIGATED | (Q_TRUE if mi[m, 3] == 1 else 0)
            investigate(P, S, Q, f, e, mi[m, 3] == 1, s)


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
        reg[i] = P.ent_city[pf[i, 1]]
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
            key[m] = P.ent_city[e] * (R + 1) + R
            q_head[f] = (q_head[f] + 1) % cap
            q_len[f] -= 1
            m += 1
    return mi, mx, key


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


@nb.njit(cache=True, inline="always")
def class_factor(P, b, row, e):
    """The share f(e) / f_max of behaviour b's candidates by e kept for e's fixed attributes."""
    if row < 0:
        return 1.0
    return P.t_fac[b, class_code(P, row, e)]


@nb.njit(cache=True, inline="always")
def class_code(P, row, e):
    """e's class code in row `row` (two codes a byte when they fit in 4 bits: plan.pack_classes)."""
    sh = P.cls_shift
    return (np.int64(P.cls[row, e >> sh]) >> ((e & sh) << 2)) & (15 if sh else 255)


@nb.njit(cache=True, inline="always")
def knows(P, e, b, risk, aware, s):
    """Whether e is deterred from behaviour b now: responses on, b deterrable, a perceived risk
    in e's region, and e aware of the system (a fixed draw per person against the share
    aware now, so awareness only grows)."""
    if not P.resp_on or P.b_deter[b] <= 0.0:
        return False
    city = P.ent_city[e]
    if s < P.city_join[city] or risk[b, P.city_sig[city]] <= 0.0:
        return False
    return aware >= 1.0 or fixed_unit(P.aware_seed, e) < aware


@nb.njit(cache=True, inline="always")
def behaviour_candidate(P, S, Q, b, e, s, j, u, fac, has_dyn, risk, deterred, on):
    """A candidate act of behaviour b by e that passed the class factor (u < fac), kept with
    probability f(e, now) / f_max in each world (thinning on the same uniform u): the twin
    without deterrence and with its own income; a factual act is offered to the channels."""
    a_t = fac
    a_f = fac
    if has_dyn:
        # employed: bit 0 in the factual world, bit 1 in the twin (where nobody is dismissed)
        a_t *= dyn_factor(P, b, S.income_t[e], float((S.employed[e] >> 1) & 1))
        a_f *= dyn_factor(P, b, S.income_f[e], float(S.employed[e] & 1))
    if deterred:
        rk = risk[b, P.city_sig[P.ent_city[e]]]
        a_f *= math.exp(-P.deterrence * P.b_deter[b] * P.group_sens[P.ent_group[e]] * rk)
    twin = u < a_t
    fact = u < a_f
    if twin:
        Q.M[s, cell(Q, MO_TWIN, b)] += 1
        change_income(P, S.income_t, S.loss_t, e, P.b_income[b], s)
    if fact:
        Q.M[s, cell(Q, MO_EVENTS, b)] += 1
        change_income(P, S.income_f, S.loss_f, e, P.b_income[b], s)
        if on:
            observe(P, S, Q, e, b, s, j)
    if twin != fact:
        bump(S, OUT_SUPP, e, 1 if twin else -1)


@nb.njit(cache=True)
def behaviours(P, S, Q, s, counts, aware, on):
    """Every region's candidate acts of every behaviour, in both worlds on the same
    draws, in batches (see ``engine.prefetch``): draw the batch's actors and prefetch their
    class codes and region; keep those that pass the class factor and prefetch what their
    acts read; then act on the kept ones in order. Same draws, same order, same result as
    one candidate at a time."""
    B = P.b_kind.shape[0]
    R = P.city_join.shape[0]
    risk = S.risk
    be = np.empty(BATCH, dtype=np.int64)
    bu = np.empty(BATCH)
    ke = np.empty(BATCH, dtype=np.int64)
    kj = np.empty(BATCH, dtype=np.int64)
    ku = np.empty(BATCH)
    kf = np.empty(BATCH)
    kd = np.empty(BATCH, dtype=np.bool_)
    for b in range(B):
        row = P.t_cls_row[b]
        has_dyn = P.dm_ptr[b + 1] > P.dm_ptr[b]
        income = P.b_income[b] != 0.0
        for reg in range(R):
            if S.own[reg] == 0:
                continue
            lo, n_ent = region_actors(P, b, reg)
            n = counts[b, reg]
            for j0 in range(0, n, BATCH):
                m = min(BATCH, n - j0)
                for i in range(m):
                    e, u, _ = candidate(P, b, s, reg, lo, n_ent, j0 + i)
                    be[i] = e
                    bu[i] = u
                    if row >= 0:
                        prefetch(P.cls[row], e >> P.cls_shift)
                    prefetch(P.ent_city, e)
                k = 0
                for i in range(m):
                    e = be[i]
                    fac = class_factor(P, b, row, e)
                    if bu[i] < fac:
                        ke[k] = e
                        kj[k] = j0 + i
                        ku[k] = bu[i]
                        kf[k] = fac
                        kd[k] = knows(P, e, b, risk, aware, s)
                        if has_dyn or income:
                            prefetch(S.income_t, e)
                            prefetch(S.income_f, e)
                            prefetch(S.employed, e)
                        if kd[k]:
                            prefetch(P.ent_group, e)
                        k += 1
                for i in range(k):
                    behaviour_candidate(P, S, Q, b, ke[i], s, kj[i], ku[i], kf[i], has_dyn, risk, kd[i], on)


@nb.njit(cache=True)
def _start_reporting(P, S):
    """The burn-in is over: the people's outcome counters and money start again from zero, and
    the income lost since changes already made counts from now to the end of the run (each
    entity's factual income below the twin's, for the days left), as if made now."""
    S.out[:, :] = 0
    S.cnt[C_NCARRY] = 0
    left = (P.horizon_days - P.report_from * P.dt) / YEAR
    for e in range(S.money.shape[0]):
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


@nb.njit(cache=True)
def consequences(P, S, Q, s, counts):
    """Every region's service attempts and periodic applications of every consequence."""
    B = P.b_kind.shape[0]
    R = P.city_join.shape[0]
    for k in range(P.k_kind.shape[0]):
        t = B + k
        for reg in range(R):
            if S.own[reg] == 0:
                continue
            if P.k_bucket[k]:
                attempts_in_grades(P, S, Q, k, t, s, reg)
                continue
            if P.k_lbucket[k]:
                attempts_on_lists(P, S, Q, k, t, s, reg)
                continue
            lo, n_ent = region_actors(P, t, reg)
            for j in range(counts[t, reg]):
                e, u, u2 = candidate(P, t, s, reg, lo, n_ent, j)
                apply_consequence(P, S, Q, k, e, s, u, u2)


@nb.njit(cache=True, inline="always")
def attempt_count(P, t, s, reg, n_elig):
    """How many attempts of consequence type t region reg makes at step s among its ``n_elig``
    eligible actors (Poisson, one uniform)."""
    if n_elig == 0:
        return 0
    return poisson_from_uniform(P.t_lam[t] * n_elig, uniform(P.k_events[0], P.k_events[1], t, s, 2 * reg + 2, 1))


@nb.njit(cache=True, inline="always")
def attempt(P, t, s, reg, j, total):
    """Attempt j: the index of its actor among the ``total`` eligible now, and three uniforms
    (acceptance, outcome, keeping a member of several lists)."""
    w0, w1, w2, w3 = philox(P.k_events[0], P.k_events[1], t, s, 2 * reg + 3, j)
    return min(total - 1, int(to_unit(w0) * total)), to_unit(w1), to_unit(w2), to_unit(w3)


@nb.njit(cache=True, inline="always")
def eligible(P, S, k, reg):
    """How many of region reg's actors of consequence k are in its grades now."""
    G1 = P.g_from.shape[0] + 1
    base = G1 if P.t_firm[P.b_kind.shape[0] + k] else 0
    n = 0
    for g in range(G1 - 1):
        if P.k_grades[k, g]:
            n += S.gb_lo[reg, base + g + 1] - S.gb_lo[reg, base + g]
    return n


@nb.njit(cache=True)
def attempts_in_grades(P, S, Q, k, t, s, reg):
    """Attempts of a consequence that applies by grade alone, drawn among the region's actors in
    its grades (a Poisson number for the eligible actors now, each on a uniformly drawn one of
    those eligible when it is applied) instead of among everyone: the same process, without
    the candidates that could not apply."""
    n_c = attempt_count(P, t, s, reg, eligible(P, S, k, reg))
    G1 = P.g_from.shape[0] + 1
    base = G1 if P.t_firm[t] else 0
    for j in range(n_c):
        total = eligible(P, S, k, reg)
        if total == 0:
            return
        idx, u1, u2, _ = attempt(P, t, s, reg, j, total)
        e = -1
        for g in range(G1 - 1):
            if P.k_grades[k, g]:
                size = S.gb_lo[reg, base + g + 1] - S.gb_lo[reg, base + g]
                if idx < size:
                    e = S.gb_mem[S.gb_lo[reg, base + g] + idx]
                    break
                idx -= size
        apply_consequence(P, S, Q, k, e, s, u1, u2)


@nb.njit(cache=True, inline="always")
def listed_members(P, S, k, reg):
    """Region reg's members of consequence k's lists, counted once per list."""
    n = 0
    for l in range(P.k_lists.shape[1]):
        if P.k_lists[k, l]:
            n += S.w_n[P.l_watch_row[l], reg]
    return n


@nb.njit(cache=True)
def attempts_on_lists(P, S, Q, k, t, s, reg):
    """Attempts of a consequence that applies by list alone, drawn among the region's members of
    its lists: a Poisson number for the members now (counted once per list), each on a uniformly
    drawn member when it is applied, kept with probability 1 / (the number of the lists the
    member is on) and only for the consequence's kind of actor. The same process as drawing
    among everyone, without the candidates that could not apply."""
    n_c = attempt_count(P, t, s, reg, listed_members(P, S, k, reg))
    firm = P.t_firm[t] == 1
    for j in range(n_c):
        total = listed_members(P, S, k, reg)
        if total == 0:
            return
        idx, u1, u2, u3 = attempt(P, t, s, reg, j, total)
        e = -1
        for l in range(P.k_lists.shape[1]):
            if P.k_lists[k, l]:
                row = P.l_watch_row[l]
                if idx < S.w_n[row, reg]:
                    e = S.w_mem[S.w_base[row, reg] + idx]
                    break
                idx -= S.w_n[row, reg]
        if (e >= P.n_people) != firm:
            continue
        m = 0
        for l in range(P.k_lists.shape[1]):
            if P.k_lists[k, l] and (S.on_list[l, e] & 1):
                m += 1
        if m > 1 and u3 * m >= 1.0:
            continue
        apply_consequence(P, S, Q, k, e, s, u1, u2)


@nb.njit(cache=True, inline="always")
def in_set(P, S, k, e, v):
    """Whether consequence k applies to e judged on view v (v: all records, v+1: true records only),
    and whether only the social or association term put e there (guilt by association)."""
    hit_list = False
    true_list = False
    for l in range(P.k_lists.shape[1]):
        if P.k_lists[k, l] and (S.on_list[l, e] & 1):
            hit_list = True
            if (S.on_list[l, e] & 2) == 0:
                true_list = True
    hit_grade = False
    true_grade = False
    assoc = False
    if S.grade[e] != NO_GRADE:
        g = S.grade[e] if v == 0 else grade_of(P, own_score(P, S, v, e))
        hit_grade = P.k_grades[k, g] == 1
        if hit_grade:  # judged on true records only when it matters (most attempts miss)
            if v == 0:
                g_true = grade_of(P, total_score(P, S, 1, e))
            else:
                g_true = grade_of(P, own_score(P, S, v + 1, e))
            true_grade = P.k_grades[k, g_true] == 1
            if v == 0 and (P.soc_w > 0.0 or P.as_on):
                assoc = P.k_grades[k, grade_of(P, own_score(P, S, 0, e))] == 0
    hit = hit_list or hit_grade
    wrongful = hit and not (true_list or true_grade)
    return hit, wrongful, assoc and not hit_list


@nb.njit(cache=True)
def apply_consequence(P, S, Q, k, e, s, u, u2):
    hit, wrongful, assoc = in_set(P, S, k, e, P.k_view[k])
    if not hit or u >= P.k_prob[k]:
        return
    kind = P.k_kind[k]
    if kind == 5 and (S.employed[e] & 1) == 0:
        return  # nobody to dismiss
    Q.M[s, cons_cell(Q, k, CC_APPLIED)] += 1
    if wrongful:
        Q.M[s, cons_cell(Q, k, CC_WRONGFUL)] += 1
        bump(S, OUT_WRONGFUL, e, 1)
        for l in range(P.k_lists.shape[1]):  # the wrongful listing it rests on, if any (counted if lifted)
            if P.k_lists[k, l] and (S.on_list[l, e] & 3) == 3:
                S.ls_hits[find_slot(S, l, e)] += 1
                break
    if assoc:
        Q.M[s, cons_cell(Q, k, CC_ASSOC)] += 1
        bump(S, OUT_ASSOC, e, 1)
    if kind == 0:
        bump(S, OUT_REFUSED, e, 1)
    if kind == 1:
        S.money[e] -= P.k_amount[k]
        S.money_r[P.ent_city[e], k] -= P.k_amount[k]
    elif kind == 2 or kind == 3:
        S.money[e] += P.k_amount[k]
        S.money_r[P.ent_city[e], k] += P.k_amount[k]
    elif kind == 5:
        S.employed[e] &= np.uint8(0xFE)
    elif kind == 6 and P.scheme == 0:
        pts = P.k_points[k]
        if P.k_out_on[k]:  # a random outcome by grade: success or failure points
            if u2 < P.k_out_p[k, S.grade[e]]:
                pts = P.k_out_succ[k]
                Q.M[s, cons_cell(Q, k, CC_SUCCESSES)] += 1
            else:
                pts = P.k_out_fail[k]
        add_points(P, S, Q, e, pts, not wrongful, s)
    change_income(P, S.income_f, S.loss_f, e, P.k_income[k], s)
    if P.k_sanction[k]:
        bump(S, OUT_SANCTIONS, e, 1)
    else:
        bump(S, OUT_REWARDS, e, 1)


@nb.njit(cache=True)
def add_points(P, S, Q, e, pts, in_true_views, s):
    """Points not tied to a record (consequences, investigations), in every view (the
    true-records views only if ``in_true_views``). With ``scoring.bounds`` the change stops at
    the bounds, so scores walk within them instead of piling up beyond them."""
    d0 = 0.0
    d1 = 0.0
    for v in range(P.n_views):
        if P.view_true[v] and not in_true_views:
            continue
        cur = P.base + S.raw[v, e, 0]
        delta = min(P.clip_hi, max(P.clip_lo, cur + pts)) - min(P.clip_hi, max(P.clip_lo, cur))
        d = add_to_view(P, S, v, e, 1.0, 0, delta)
        if v == 0:
            d0 = d
        elif v == 1:
            d1 = d
    spread(P, S, e, d0, d1)
    settle(P, S, Q, e, s, d0 != 0.0)


@nb.njit(cache=True)
def investigate(P, S, Q, f, e, truth, s):
    Q.M[s, flag_cell(Q, f, FC_INVESTIGATED)] += 1
    bump(S, OUT_INVESTIGATED, e, 1)
    change_income(P, S.income_f, S.loss_f, e, P.f_income[f], s)
    if P.f_points[f] != 0.0 and P.scheme == 0:
        add_points(P, S, Q, e, P.f_points[f], truth, s)
    if P.f_list[f] >= 0:
        enter_list(P, S, Q, P.f_list[f], e, s, not truth, False, f)


@nb.njit(cache=True)
def _init_scores(P, S):
    """Starting scores: own scores, contacts' sums, totals, grades and histograms."""
    E = S.total.shape[0]
    for v in range(min(2, P.n_views)):
        if P.soc_w > 0.0:
            for i in range(P.n_people):
                acc = 0.0
                for k in range(P.soc_ptr[i], P.soc_ptr[i + 1]):
                    acc += own_score(P, S, v, P.soc_idx[k])
                S.soc[v, i] = acc
    if P.as_on:  # how everyone counts for their contacts at the start (by grade: lists are empty)
        for i in range(P.n_people):
            m = association_marks(P, S, i)
            S.amark[i] = m
            if m:
                for k in range(P.as_ptr[i], P.as_ptr[i + 1]):
                    d0, d1 = _edge_units(P, k, m)
                    S.asc[0, P.as_idx[k]] += d0
                    S.asc[1, P.as_idx[k]] += d1
    for e in range(E):
        if P.ent_scored[e] == 0:
            S.grade[e] = NO_GRADE
            continue
        x = total_score(P, S, 0, e)
        S.total[e] = x
        g = grade_of(P, x)
        S.grade[e] = g
        r = P.ent_city[e]
        if S.own[r] == 0:
            continue
        if e < P.n_people:
            S.ghist[0, g] += 1
            S.ssum[r, 0] += x
            S.ssum[r, 1] += x * x
            if P.as_on:
                tally_association(P, S, e, 1.0)
        else:
            S.ghist[1, g] += 1


@nb.njit(cache=True)
def _init_lists(P, S, Q):
    """Entities whose starting grade is an entry grade of a list are listed on day 0."""
    for e in range(S.total.shape[0]):
        g = S.grade[e]
        if g == NO_GRADE or S.own[P.ent_city[e]] == 0:
            continue
        kind = 0 if e < P.n_people else 1
        for l in range(P.l_grades.shape[0]):
            if P.l_grades[l, g] and P.l_actor[l] == kind:
                enter_list(P, S, Q, l, e, 0, False, False, CAUSE_START)


# Entry points: the kernels called from Python. Each lends its StructRefs and arrays once
# (engine.lending), so that the functions it calls count no references; the Python caller
# holds them for the whole call.


@nb.njit(cache=True)
def grown_arrays(SR):
    """Copies of the arrays named in GROWN_IN_KERNEL, as the kernels hold them now."""
    return _grown_arrays(lend(SR))


@nb.njit(cache=True)
def take_outbox(SR):
    """Copies of the outbox's messages (ints, floats, sort keys); empties it."""
    return _take_outbox(lend(SR))


@nb.njit(cache=True)
def take_pending(SR):
    """A copy of the step's pending flags (flag, entity, truth); empties them."""
    return _take_pending(lend(SR))


@nb.njit(cache=True)
def init_scores(PR, SR):
    """Starting scores: own scores, contacts' sums, totals, grades and histograms."""
    _init_scores(lend(PR), lend(SR))


@nb.njit(cache=True)
def init_buckets(PR, SR):
    """Each region's entities ordered by (kind, grade) (see ``_init_buckets``)."""
    _init_buckets(lend(PR), lend(SR))


@nb.njit(cache=True)
def init_lists(PR, SR, QR):
    """Entities whose starting grade is an entry grade of a list are listed on day 0."""
    _init_lists(lend(PR), lend(SR), lend(QR))


@nb.njit(cache=True)
def draw_counts(PR, s, counts):
    """Candidate events per type and region for step s; returns a
    bound on the records the step can create (see ``_draw_counts``)."""
    return _draw_counts(lend(PR), s, lend(counts))


@nb.njit(cache=True)
def run_steps(PR, SR, QR, first, last, counts):
    """Steps ``first`` .. ``last - 1`` in one call; returns the first step not run (see
    ``_run_steps``)."""
    return _run_steps(lend(PR), lend(SR), lend(QR), first, last, lend(counts))


@nb.njit(cache=True)
def local_phase(PR, SR, QR, s, counts):
    """A sharded worker's own regions' part of step s."""
    _local_phase(lend(PR), lend(SR), lend(QR), s, lend(counts))


@nb.njit(cache=True)
def exchange(PR, SR, QR, s):
    """Deliver the outbox, in rounds, in (destination region, source region) order."""
    _exchange(lend(PR), lend(SR), lend(QR), s)


@nb.njit(cache=True)
def deliver(PR, SR, QR, s, mi, mx):
    """Apply the given messages to this worker's entities, in order."""
    _deliver(lend(PR), lend(SR), lend(QR), s, lend(mi), lend(mx))


@nb.njit(cache=True)
def start_reporting(PR, SR):
    """The burn-in is over (see ``_start_reporting``); calling it again at once changes nothing."""
    _start_reporting(lend(PR), lend(SR))


@nb.njit(cache=True)
def search_odds(PR, SR, l_stock):
    """The identifying channels' false-alert chance for the step about to run, from the
    national stocks ``l_stock`` (see ``_search_odds``)."""
    _search_odds(lend(PR), lend(SR), lend(l_stock))


@nb.njit(cache=True)
def serve_flags(PR, pf, q_ent, q_truth, q_head, q_len, f_budget):
    """The national part, the flag queues (see ``_serve_flags``)."""
    return _serve_flags(lend(PR), lend(pf), lend(q_ent), lend(q_truth), lend(q_head), lend(q_len), lend(f_budget))


@nb.njit(cache=True)
def stocks(PR, QR, s, ghist, l_stock, q_len, ssum, money_r):
    """End-of-step stocks (see ``_stocks``)."""
    _stocks(lend(PR), lend(QR), s, lend(ghist), lend(l_stock), lend(q_len), lend(ssum), lend(money_r))
