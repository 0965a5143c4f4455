"""Consequences by grade or list: attempts per region (a loan, a flight, a job...), who is
eligible, the sanction or reward applied, wrongful ones counted, and the money it moves.
"""

from __future__ import annotations

from scorelab.jit_cache import nb
import numpy as np

from scorelab.codes import NO_GRADE
from scorelab.engine.kernel.constants import (
    CC_APPLIED, CC_ASSOC, CC_SUCCESSES, CC_WRONGFUL, LN_APPLIED, LN_DUE, LN_REFUSED, LN_REPAID, OUT_ASSOC,
    OUT_CHILD_RECORDS, OUT_LINKED, OUT_REFUSED, OUT_REWARDS, OUT_SANCTIONS, OUT_WRONGFUL, RC_REWARDS, RC_RWRONGFUL,
    RC_SANCTIONS, RC_SWRONGFUL,
)
from scorelab.engine.kernel.cells import classroom_cell, cons_cell, loan_cell, region_cell
from scorelab.engine.kernel.regions import household_of
from scorelab.engine.kernel.stores import bump, change_income, count_of, find_slot
from scorelab.engine.kernel.draws import (
    attempt, attempt_count, candidate, other_applicant, other_applicants, region_actors,
)
from scorelab.engine.kernel.scores import grade_of, own_score, total_score
from scorelab.engine.kernel.score_changes import add_points



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
            if P.k_bucket[k] or P.k_lbucket[k]:
                if P.k_bucket[k]:
                    attempts_in_grades(P, S, Q, k, t, s, reg)
                else:
                    attempts_on_lists(P, S, Q, k, t, s, reg)
                if P.k_loan[k]:
                    loans_outside(P, S, Q, k, t, s, reg)
                continue
            lo, n_ent = region_actors(P, t, reg)
            for j in range(counts[t, reg]):
                e, u, u2 = candidate(P, t, s, reg, lo, n_ent, j)
                done = apply_consequence(P, S, Q, k, e, s, u, u2)
                if P.k_loan[k]:
                    count_loan(P, S, Q, k, e, s, done)


@nb.njit(cache=True)
def count_loan(P, S, Q, k, e, s, done):
    """A scored person's application for loan k, by group: refused (a refusal that applied, or
    a loan not granted) or granted; a granted loan with an outcome falls due (repaid or not)."""
    if e >= P.n_people or S.grade[e] == NO_GRADE:
        return
    g = P.ent_group[e]
    Q.M[s, loan_cell(Q, g, LN_APPLIED)] += 1
    if (P.k_kind[k] == 0) == done:
        Q.M[s, loan_cell(Q, g, LN_REFUSED)] += 1
    elif P.k_out_on[k] and P.scheme == 0:
        Q.M[s, loan_cell(Q, g, LN_DUE)] += 1


@nb.njit(cache=True, inline="always")
def in_bucket(P, S, k, e):
    """Whether e is among those a bucketed consequence k draws its attempts from (its grades, or
    its lists)."""
    if P.k_bucket[k]:
        return S.grade[e] != NO_GRADE and P.k_grades[k, S.grade[e]] == 1
    for l in range(P.k_lists.shape[1]):
        if P.k_lists[k, l] and (S.on_list[l, e] & 1):
            return True
    return False


@nb.njit(cache=True)
def loans_outside(P, S, Q, k, t, s, reg):
    """The applications for loan k of the region's scored people outside its grades or lists,
    which its bucketed draws leave out (nothing happens to them): drawn among all the region's
    people at the loan's rate, those inside skipped, so that each applicant counts once. Such an
    applicant is granted a refusal's service and refused another kind's loan."""
    lo, n = region_actors(P, t, reg)
    for j in range(other_applicants(P, t, s, reg, n)):
        e = other_applicant(P, t, s, reg, lo, n, j)
        if S.grade[e] == NO_GRADE or in_bucket(P, S, k, e):
            continue
        g = P.ent_group[e]
        Q.M[s, loan_cell(Q, g, LN_APPLIED)] += 1
        if P.k_kind[k] != 0:
            Q.M[s, loan_cell(Q, g, LN_REFUSED)] += 1


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
        done = apply_consequence(P, S, Q, k, e, s, u1, u2)
        if P.k_loan[k]:
            count_loan(P, S, Q, k, e, s, done)


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
        done = apply_consequence(P, S, Q, k, e, s, u1, u2)
        if P.k_loan[k]:
            count_loan(P, S, Q, k, e, s, done)


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


@nb.njit(cache=True, inline="always")
def linked(P, S, k, e, i):
    """The i-th entity (0, 1) whose status consequence k judges person e by, -1 for none: a
    child's parents, the first two scored members of its household (a scored person is no child;
    the population has no other parent link), or a current employee's employer."""
    if P.k_through[k] == 2:
        return P.ent_employer[e] if i == 0 and (S.employed[e] & 1) == 1 else -1
    if S.scored[e] == 1:
        return -1
    h = household_of(P, e)
    seen = 0
    for x in range(P.hh_start[h], P.hh_start[h + 1]):
        if S.scored[x] == 1:
            if seen == i:
                return x
            seen += 1
            if seen > 1:
                break
    return -1


@nb.njit(cache=True)
def in_linked_set(P, S, k, e):
    """Whether consequence k applies to person e through their parents or employer (one of them
    in its grades or lists), whether wrongfully (none of them would be on true records alone),
    and whose wrongful listing it rests on (-1: none, or it applies rightly)."""
    hit = False
    rightly = False
    blame = -1
    for i in range(2):
        x = linked(P, S, k, e, i)
        if x < 0:
            break
        h, w, _ = in_set(P, S, k, x, P.k_view[k])
        if h:
            hit = True
            if w:
                if blame < 0:
                    blame = x
            else:
                rightly = True
    return hit, hit and not rightly, -1 if rightly else blame


@nb.njit(cache=True, inline="always")
def promoted(P, S, k, e, u2):
    """Whether employee e is promoted by promotion k: an employer of its kind (public, private or
    any) and a success at the rate of e's grade."""
    if P.k_employer[k] != 0 and (P.ent_public[e] == 1) != (P.k_employer[k] == 1):
        return False
    g = S.grade[e]
    return g != NO_GRADE and u2 < P.k_out_p[k, g]


@nb.njit(cache=True)
def apply_consequence(P, S, Q, k, e, s, u, u2):
    """Consequence k's attempt on e; whether it applied."""
    blame = e  # (whose wrongful listing a wrongful sanction rests on)
    if P.k_through[k] == 0:
        hit, wrongful, assoc = in_set(P, S, k, e, P.k_view[k])
    else:
        if e >= P.n_people:
            return False
        hit, wrongful, blame = in_linked_set(P, S, k, e)
        assoc = False
    if not hit or u >= P.k_prob[k]:
        return False
    kind = P.k_kind[k]
    if (kind == 5 or kind == 8) and (S.employed[e] & 1) == 0:
        return False  # nobody to dismiss or promote
    if kind == 8 and not promoted(P, S, k, e, u2):
        return False
    Q.M[s, cons_cell(Q, k, CC_APPLIED)] += 1
    if wrongful:  # (a reward to someone graded or listed wrongly: counted, but no wrongful sanction)
        Q.M[s, cons_cell(Q, k, CC_WRONGFUL)] += 1
        if P.k_sanction[k]:
            bump(S, OUT_WRONGFUL, e, 1)
            for l in range(P.k_lists.shape[1]):  # the wrongful listing it rests on, if any (counted if lifted)
                if blame >= 0 and P.k_lists[k, l] and (S.on_list[l, blame] & 3) == 3:
                    S.ls_hits[find_slot(S, l, blame)] += 1
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
                if P.k_loan[k]:
                    Q.M[s, loan_cell(Q, P.ent_group[e], LN_REPAID)] += 1
            else:
                pts = P.k_out_fail[k]
        add_points(P, S, Q, e, pts, not wrongful, s)
    change_income(P, S.income_f, S.loss_f, e, P.k_income[k], s)
    r = P.ent_city[e]
    person = e < P.n_people  # (a region's sanctions and rewards are its people's, read per 1,000 people)
    if P.k_sanction[k]:
        bump(S, OUT_SANCTIONS, e, 1)
        if person:
            Q.M[s, region_cell(Q, r, RC_SANCTIONS)] += 1
            if wrongful:
                Q.M[s, region_cell(Q, r, RC_SWRONGFUL)] += 1
        if P.k_through[k] != 0:
            bump(S, OUT_LINKED, e, 1)
        if P.n_cr > 0 and count_of(S, OUT_CHILD_RECORDS, e) > 0:  # (a parent with a pupil's record against them)
            Q.M[s, classroom_cell(Q, P.n_cr, 0)] += 1
    else:
        bump(S, OUT_REWARDS, e, 1)
        if person:
            Q.M[s, region_cell(Q, r, RC_REWARDS)] += 1
            if wrongful:
                Q.M[s, region_cell(Q, r, RC_RWRONGFUL)] += 1
    return True
