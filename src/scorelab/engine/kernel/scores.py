"""Scores and grades: an entity's own score per view, the total with the social and
association terms, the grade of a score, the per-region (kind, grade) buckets, and how a
record's points reach a view and the contacts' sums.
"""

from __future__ import annotations

import math

from scorelab.jit_cache import nb
import numpy as np

from scorelab.engine.plan import ASSOCIATION_UNIT
from scorelab.codes import NO_GRADE
from scorelab.engine.kernel.constants import MSG_SOC, YEAR
from scorelab.engine.kernel.regions import own_spans, region_of
from scorelab.engine.kernel.stores import push_msg



@nb.njit(cache=True, inline="always")
def own_score(P, S, v, e):
    """Score of entity e from its own records in view v (no social term)."""
    return score_of_raw(P, S.raw, v, e, e)


@nb.njit(cache=True, inline="always")
def score_of_raw(P, raw, v, row, e):
    """Own score of entity e in view v from its points or dimension values ``raw[v, row]``
    (the state's, or a copy of another region's at day 0: ``kernel.start``)."""
    if P.scheme == 0:
        x = P.base + raw[v, row, 0]
    else:
        acc = 0.0
        wsum = 0.0
        for d in range(P.n_dims):
            inc = P.dim_inc[d] * (P.income_pct[e] - 0.5) if P.dim_inc[d] != 0.0 else 0.0  # (kept only then)
            val = P.dim_start[d] + raw[v, row, d] + inc
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


@nb.njit(cache=True, inline="always")
def grade_of(P, x):
    for g in range(P.g_from.shape[0]):
        if x >= P.g_from[g]:
            return g
    return P.g_from.shape[0] - 1


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
    attempts restricted to some grades are drawn among the people in those grades (the
    regions this state owns: the others' entries are never written)."""
    G1 = P.g_from.shape[0] + 1
    R = P.city_join.shape[0]
    spans = own_spans(P, S, False)
    n = np.zeros((R, 2 * G1), dtype=np.int64)
    for x in range(spans.shape[0]):
        for e in range(spans[x, 0], spans[x, 1]):
            n[P.ent_city[e], _bucket(P, S, e, G1)] += 1
    fill = np.empty((R, 2 * G1), dtype=np.int64)
    for r in range(R):
        pos = P.reg_base[r]
        for q in range(2 * G1):
            S.gb_lo[r, q] = pos
            fill[r, q] = pos
            pos += n[r, q]
        S.gb_lo[r, 2 * G1] = pos
    for x in range(spans.shape[0]):
        for e in range(spans[x, 0], spans[x, 1]):
            r = P.ent_city[e]
            q = _bucket(P, S, e, G1)
            i = fill[r, q]
            S.gb_mem[i] = e
            S.gb_pos[e] = i
            fill[r, q] += 1


@nb.njit(cache=True, inline="always")
def _bucket(P, S, e, G1):
    """e's (kind, grade) bucket: people's grades, then firms'; the unscored last of their kind."""
    g = S.grade[e]
    return (0 if e < P.n_people else G1) + (G1 - 1 if g == NO_GRADE else g)


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
        rc = region_of(P, c)  # (a contact may live elsewhere)
        if rc == r:
            if d0 != 0.0:
                S.soc[0, c] += d0
            if d1 != 0.0:
                S.soc[1, c] += d1
        else:
            push_msg(P, S, MSG_SOC, c, 0, 0, 0, 0, d0, d1, rc, r)


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
