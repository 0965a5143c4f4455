"""The random draws of a step, from counter-based streams (``scorelab.rng``): how many
candidate events each behaviour and consequence has per region, who they are, coverage of a
channel now, a person's class codes and income factor, and the wrong person a
misattributed record names.
"""

from __future__ import annotations

from scorelab.jit_cache import nb
import numpy as np

from scorelab.engine.kernel.regions import household_of
from scorelab.engine.plan import MIS_ANYONE, MIS_HOUSEHOLD
from scorelab.rng import philox, poisson_from_uniform, to_unit, uniform
from scorelab.synth import drawn



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
        h = household_of(P, e)  # (rare: no column of households)
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
                bound += counts[t, r] * (P.bsc_ptr[row + 1] - P.bsc_ptr[row] + P.b_au_extra[t])  # (+ passengers)
    return bound


@nb.njit(cache=True)
def delays(P):
    """Whether any channel delays its records (they wait in the pool)."""
    for c in range(P.c_delay.shape[0]):
        if P.c_delay[c] > 0:
            return True
    return False


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
def other_applicants(P, t, s, reg, n):
    """How many attempts of loan type t region reg's ``n`` people make at step s, drawn among
    them all (Poisson, one uniform): those outside the loan's grades or lists are the ones its
    bucketed draws leave out (lending by group). A stream of its own: no other draw moves."""
    if n == 0:
        return 0
    return poisson_from_uniform(P.t_lam[t] * n, uniform(P.k_events[0], P.k_events[1], t, s, 2 * reg + 2, 2))


@nb.njit(cache=True, inline="always")
def other_applicant(P, t, s, reg, lo, n, j):
    """The person of attempt j of ``other_applicants`` (uniform over the region's ``n`` people
    from ``lo``), on counters past those of ``candidate`` and ``attempt`` (2 R + 2 + reg)."""
    w0, _, _, _ = philox(P.k_events[0], P.k_events[1], t, s, 2 * P.city_join.shape[0] + 2 + reg, j)
    return lo + min(n - 1, int(to_unit(w0) * n))
