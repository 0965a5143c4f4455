"""The state at day 0: starting scores, grades and histograms, and listings by starting grade.
"""

from __future__ import annotations

from scorelab.jit_cache import nb

from scorelab.vocabulary import NO_GRADE
from scorelab.engine.kernel.constants import CAUSE_START, LN_LEVEL
from scorelab.engine.kernel.cells import level_units, loan_cell
from scorelab.engine.kernel.scores import grade_of, own_score, total_score
from scorelab.engine.kernel.association import edge_units, association_marks, tally_association
from scorelab.engine.kernel.lists import enter_list



@nb.njit(cache=True)
def _init_scores(P, S):
    """Starting scores: own scores, contacts' sums, totals, grades and histograms."""
    E = S.total.shape[0]
    S.scored[:] = P.ent_scored  # (from here on the state's: people come of age)
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
                    d0, d1 = edge_units(P, k, m)
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


@nb.njit(cache=True)
def _start_levels(P, S, Q):
    """Day 0's levels of this state's scored people, summed by group into step 0 of the
    lending block (whose later steps add the changes): lending by group's mean level."""
    if P.ln_on == 0 or Q.M.shape[0] == 0:
        return
    for e in range(P.n_people):
        if S.grade[e] != NO_GRADE and S.own[P.ent_city[e]] == 1:
            Q.M[0, loan_cell(Q, P.ent_group[e], LN_LEVEL)] += level_units(S.total[e])
