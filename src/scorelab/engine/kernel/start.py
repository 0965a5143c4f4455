"""The state at day 0: starting scores, grades and histograms, and listings by starting grade.
"""

from __future__ import annotations

from scorelab.jit_cache import nb
import numpy as np

from scorelab.codes import NO_GRADE
from scorelab.engine.kernel.constants import CAUSE_START, LN_LEVEL
from scorelab.engine.kernel.cells import level_units, loan_cell
from scorelab.engine.kernel.scores import grade_of, own_score, score_of_raw, total_score
from scorelab.engine.kernel.association import edge_units, association_marks, grade_marks, tally_association
from scorelab.engine.kernel.lists import enter_list
from scorelab.engine.kernel.regions import own_spans, owns



@nb.njit(cache=True, inline="always")  # (a layer: kernel.phases' docstring)
def _init_scores(P, S, H_ids, H_raw, H_scored):
    """Starting scores of the entities of this state's regions: own scores, contacts' sums,
    totals, grades and histograms. A contact in another region counts with its starting
    points, ``H_raw[:, h]`` for ``H_ids[h]`` (the halo: ``engine.owned.halo``; ``H_scored[h]``
    whether it is scored), so that a state reads and writes its own entities only."""
    people = own_spans(P, S, True)
    spans = own_spans(P, S, False)
    for x in range(spans.shape[0]):
        for e in range(spans[x, 0], spans[x, 1]):
            S.scored[e] = P.ent_scored[e]  # (from here on the state's: people come of age)
    for v in range(min(2, P.n_views)):
        if P.soc_w > 0.0:
            for x in range(people.shape[0]):
                for i in range(people[x, 0], people[x, 1]):
                    acc = 0.0
                    for k in range(P.soc_ptr[i], P.soc_ptr[i + 1]):
                        acc += _start_own_score(P, S, H_ids, H_raw, v, P.soc_idx[k])
                    S.soc[v, i] = acc
    if P.as_on:  # how everyone counts for their contacts at the start (by grade: lists are empty)
        for x in range(people.shape[0]):
            for i in range(people[x, 0], people[x, 1]):
                S.amark[i] = association_marks(P, S, i)
        # (what each contact gives a person, read along the person's own row: the layers are
        # undirected, so edge k from i to c weighs what c's marks pass to i)
        for x in range(people.shape[0]):
            for i in range(people[x, 0], people[x, 1]):
                for k in range(P.as_ptr[i], P.as_ptr[i + 1]):
                    m = _start_marks(P, S, H_ids, H_raw, H_scored, P.as_idx[k])
                    if m:
                        d0, d1 = edge_units(P, k, m)
                        S.asc[0, i] += d0
                        S.asc[1, i] += d1
    for x in range(spans.shape[0]):
        for e in range(spans[x, 0], spans[x, 1]):
            r = P.ent_city[e]
            if P.ent_scored[e] == 0:
                S.grade[e] = NO_GRADE
                continue
            xs = total_score(P, S, 0, e)
            S.total[e] = xs
            g = grade_of(P, xs)
            S.grade[e] = g
            if e < P.n_people:
                S.ghist[0, g] += 1
                S.ssum[r, 0] += xs
                S.ssum[r, 1] += xs * xs
                if P.as_on:
                    tally_association(P, S, e, 1.0)
            else:
                S.ghist[1, g] += 1


@nb.njit(cache=True, inline="always")
def _start_marks(P, S, H_ids, H_raw, H_scored, c):
    """How contact c counts for their contacts at day 0: the state's marks if c is its own,
    else those of c's starting points in the halo (none if c is not scored)."""
    if owns(P, S, c):
        return np.int64(S.amark[c])
    h = _in_halo(H_ids, c)
    if h < 0 or H_scored[h] == 0:
        return np.int64(0)
    return grade_marks(P, score_of_raw(P, H_raw, 0, h, c), score_of_raw(P, H_raw, 1, h, c))


@nb.njit(cache=True, inline="always")
def _in_halo(H_ids, e):
    """e's row in the halo, -1 if not there."""
    h = np.searchsorted(H_ids, e)
    return h if h < H_ids.shape[0] and H_ids[h] == e else -1


@nb.njit(cache=True, inline="always")
def _start_own_score(P, S, H_ids, H_raw, v, e):
    """e's own score at day 0 in view v: the state's if e is in its regions, else the halo's."""
    if owns(P, S, e):
        return own_score(P, S, v, e)
    return score_of_raw(P, H_raw, v, _in_halo(H_ids, e), e)


@nb.njit(cache=True, inline="always")  # (a layer: kernel.phases' docstring)
def _init_lists(P, S, Q):
    """Entities whose starting grade is an entry grade of a list are listed on day 0."""
    spans = own_spans(P, S, False)  # (another state's entities: not even read)
    for x in range(spans.shape[0]):
        for e in range(spans[x, 0], spans[x, 1]):
            g = S.grade[e]
            if g == NO_GRADE:
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
    people = own_spans(P, S, True)
    for x in range(people.shape[0]):
        for e in range(people[x, 0], people[x, 1]):
            if S.grade[e] != NO_GRADE:
                Q.M[0, loan_cell(Q, P.ent_group[e], LN_LEVEL)] += level_units(S.total[e])
