"""Guilt by association (``scoring.association``): how a person counts for their contacts
(marks by list and grade), the points sent along contact layers when that changes, and the
fading of what a contact gave when it stops counting.
"""

from __future__ import annotations

from scorelab.jit_cache import nb
import numpy as np

from scorelab.engine.kernel.constants import C_AQH, C_AQN, FADE_STAGES, MSG_ASC
from scorelab.engine.kernel.regions import region_of
from scorelab.engine.kernel.stores import push_fading, push_msg
from scorelab.engine.kernel.scores import association_term, grade_of, own_score



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
    if S.scored[e]:
        m |= grade_marks(P, own_score(P, S, 0, e), own_score(P, S, 1, e))
    return m


@nb.njit(cache=True, inline="always")
def grade_marks(P, x0, x1):
    """The marks of a scored person's own scores on all records (x0) and on true ones (x1)."""
    g0 = grade_of(P, x0)
    g1 = grade_of(P, x1)
    m = 0  # (an int64, as association_marks's: the uint8 table's bits alone type otherwise)
    m |= P.as_pgr[g0] | (P.as_rgr[g0] << 1) | (P.as_pgr[g1] << 2) | (P.as_rgr[g1] << 3)
    return m


@nb.njit(cache=True, inline="always")
def edge_units(P, k, bits):
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
def fading_part(d, stage):
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
        d0, d1 = edge_units(P, k, bits)
        if stage > 0:
            d0 = fading_part(d0, stage)
            d1 = fading_part(d1, stage)
        if d0 != 0 or d1 != 0:
            c = P.as_idx[k]
            push_msg(P, S, MSG_ASC, c, sign * d0, sign * d1, 0, 0, 0.0, 0.0, region_of(P, c), r)


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
