"""What follows a change of score: a new total and grade, list entry or exit by grade, the
association marks it moves, and the points of a record, an association change or a
sanction reaching the score.
"""

from __future__ import annotations

from scorelab.jit_cache import nb

from scorelab.codes import NO_GRADE
from scorelab.engine.kernel.constants import AG_CAME, AG_RECORDS, CAUSE_GRADE, LN_LEVEL, MO_AGE
from scorelab.engine.kernel.cells import cell, level_units, loan_cell
from scorelab.engine.kernel.regions import region_of
from scorelab.engine.kernel.stores import rec_delta, rec_err
from scorelab.engine.kernel.scores import add_to_view, grade_of, move_bucket, spread, total_score
from scorelab.engine.kernel.association import restain, tally_association
from scorelab.engine.kernel.lists import enter_list



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
        if P.ln_on and P.ent_scored[e]:  # (the group's sum of levels of those scored from day 0, as its changes)
            Q.M[s, loan_cell(Q, P.ent_group[e], LN_LEVEL)] += level_units(new) - level_units(old)
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
    _enter_lists_of_grade(P, S, Q, e, g, kind, s)


@nb.njit(cache=True, inline="always")
def _enter_lists_of_grade(P, S, Q, e, g, kind, s):
    """e (of kind 0 person, 1 firm) has reached grade g: the lists g is an entry grade of take e
    (wrongfully if e's grade on true records alone is not one)."""
    for l in range(P.l_grades.shape[0]):
        if P.l_grades[l, g] and P.l_actor[l] == kind and (S.on_list[l, e] & 1) == 0:
            g_true = grade_of(P, total_score(P, S, 1, e))
            enter_list(P, S, Q, l, e, s, P.l_grades[l, g_true] == 0, False, CAUSE_GRADE)


@nb.njit(cache=True)
def come_of_age(P, S, Q, e, s):
    """Person e reaches the scoring age at step s and is scored from now on: e's score is what
    the live records about e make it (a school's records among them only with counts_against:
    pupil_later; the others carry no points), with its grade in the histogram, the sums, the
    grade buckets and the lists by grade, and how e counts for contacts by association. (Not
    in the lending block's levels: their mean is that of the people scored from day 0.)"""
    S.scored[e] = 1
    x = total_score(P, S, 0, e)
    g = grade_of(P, x)
    S.total[e] = x
    S.grade[e] = g
    r = P.ent_city[e]
    S.ghist[0, g] += 1
    S.ssum[r, 0] += x
    S.ssum[r, 1] += x * x
    if P.as_on:
        tally_association(P, S, e, 1.0)
    G1 = P.g_from.shape[0] + 1
    move_bucket(P, S, e, G1 - 1, g)  # (from the unscored, last of the people's buckets)
    Q.M[s, cell(Q, MO_AGE, AG_CAME)] += 1
    Q.M[s, cell(Q, MO_AGE, AG_RECORDS)] += S.held[e]
    restain(P, S, e, s)
    _enter_lists_of_grade(P, S, Q, e, g, 0, s)


@nb.njit(cache=True)
def settle(P, S, Q, e, s, moved):
    """After a change to e's views: refresh the grades of e's contacts in e's region (if e's own
    score moved in view 0, through the social term; contacts elsewhere are refreshed when the
    message reaches them) and of e."""
    if moved:
        r = P.ent_city[e]
        for k in range(P.soc_ptr[e], P.soc_ptr[e + 1]):
            c = P.soc_idx[k]
            if region_of(P, c) == r:
                refresh(P, S, Q, c, s)
    refresh(P, S, Q, e, s)


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
