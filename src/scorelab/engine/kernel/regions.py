"""Where an entity lives, read from the regions' id ranges: its region, its household, and
the entities a state owns.

A worker's plan holds per-entity tables for its own regions' entities only
(``engine.plan.part``): another region's entity reads zero there. An entity that may live
elsewhere (a contact, a misattributed record's subject, a firm's representative, a sampled
person, a flag's entity at the national queues) has its region found from the regions' ranges of people and firms
(``reg_p0``, ``reg_f0``: people and firms are stored in city order), a binary search over a
few dozen numbers, never from ``ent_city``.
"""

from __future__ import annotations

from scorelab.jit_cache import nb
import numpy as np


@nb.njit(cache=True, inline="always")
def region_of(P, e):
    """Entity e's region, for an entity of any region."""
    if e < P.n_people:
        return np.searchsorted(P.reg_p0, e, side="right") - 1
    return np.searchsorted(P.reg_f0, e - P.n_people, side="right") - 1


@nb.njit(cache=True, inline="always")
def owns(P, S, e):
    """Whether e is an entity of this state's regions."""
    return S.own[region_of(P, e)] == 1


@nb.njit(cache=True, inline="always")
def household_of(P, e):
    """Person e's household (its members are ``hh_start[h]:hh_start[h + 1]``), searched among
    its region's households: a worker's plan holds its own regions' starts only."""
    r = P.ent_city[e]
    lo = P.reg_h0[r]
    return lo + np.searchsorted(P.hh_start[lo : P.reg_h0[r + 1] + 1], e, side="right") - 1


@nb.njit(cache=True)
def own_spans(P, S, people_only):
    """The state's entities as ``[lo, hi)`` spans in id order: its regions' people, then (unless
    ``people_only``) their firms; loops over them never read another region's entries."""
    R = S.own.shape[0]
    n = 0
    for r in range(R):
        n += S.own[r]
    out = np.empty((n if people_only else 2 * n, 2), dtype=np.int64)
    m = 0
    for r in range(R):
        if S.own[r]:
            out[m, 0], out[m, 1] = P.reg_p0[r], P.reg_p0[r + 1]
            m += 1
    if not people_only:
        for r in range(R):
            if S.own[r]:
                out[m, 0], out[m, 1] = P.n_people + P.reg_f0[r], P.n_people + P.reg_f0[r + 1]
                m += 1
    return out
