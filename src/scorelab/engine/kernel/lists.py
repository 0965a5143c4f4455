"""Black-, red- and watchlists: entry (by records, grade, promotion, a flag's investigation, a
firm's representative jointly), exit by the list's rule, reviews that fall due on the
calendar, and appeals of a listing.
"""

from __future__ import annotations

import math

from scorelab.jit_cache import nb
import numpy as np

from scorelab.rng import uniform
from scorelab.engine.kernel.constants import (
    ACTIVE, CAUSE_PROMOTION, C_NLA, EXIT_APPEALED, EXIT_RULE, LC_APPEALED, LC_ENTRIES, LC_EXITS, LC_OVERTURNED,
    LC_WDAYS, LC_WOVERTURNED, LC_WRONGFUL, LC_WSANCTIONS, MSG_JOIN, MSG_JUSTIFY, MSG_LEAVE, RC_LISTINGS,
)
from scorelab.engine.kernel.cells import listing_cell, region_cell
from scorelab.engine.kernel.regions import region_of
from scorelab.engine.kernel.stores import (
    add_member, find_slot, first_id, push_msg, rec_state, release_slot, slot_of, vis_step, widened,
)
from scorelab.engine.kernel.association import restain



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
    enter_one(P, S, Q, l, e, s, wrongful, joint, cause)
    if P.l_joint_row[l] >= 0 and e >= P.n_people:
        rep = P.firm_rep[e - P.n_people]
        if rep >= 0:
            at = region_of(P, rep)  # (a representative may live elsewhere)
            if at == P.ent_city[e]:
                enter_one(P, S, Q, l, rep, s, wrongful, True, cause)
            else:
                push_msg(P, S, MSG_JOIN, rep, l, 1 if wrongful else 0, 0, 0, 0.0, 0.0, at, P.ent_city[e])


@nb.njit(cache=True)
def enter_one(P, S, Q, l, e, s, wrongful, joint, cause):
    if S.on_list[l, e] & 1:
        return
    S.on_list[l, e] = 1 | (2 if wrongful else 0) | (4 if joint else 0)
    i = slot_of(S, l, e)
    S.ls_since[i] = s
    S.ls_cause[i] = cause
    k = 2 if joint else 0  # (a representative's joint listing: people's stock, apart from the firms')
    S.l_stock[k, l] += 1
    Q.M[s, listing_cell(P, Q, l, joint, LC_ENTRIES)] += 1
    if e < P.n_people:  # (the regions' listings are people's)
        Q.M[s, region_cell(Q, P.ent_city[e], RC_LISTINGS)] += 1
    if wrongful:
        Q.M[s, listing_cell(P, Q, l, joint, LC_WRONGFUL)] += 1
        S.l_stock[k + 1, l] += 1
        if not joint and not P.l_red[l] and P.la_p > 0.0 and uniform(P.k_lappeal[0], P.k_lappeal[1], e, s, l, 0) < P.la_p:
            queue_list_appeal(S, l, e, s)  # (a joint listing follows the firm's; nobody appeals a red listing)
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
    leave_one(P, S, Q, l, e, s, how)
    if P.l_joint_row[l] >= 0 and e >= P.n_people:
        rep = P.firm_rep[e - P.n_people]
        if rep >= 0:
            at = region_of(P, rep)
            if at != P.ent_city[e]:
                push_msg(P, S, MSG_LEAVE, rep, l, how, 0, 0, 0.0, 0.0, at, P.ent_city[e])
            elif S.on_list[l, rep] & 4:
                leave_one(P, S, Q, l, rep, s, how)


@nb.njit(cache=True)
def leave_one(P, S, Q, l, e, s, how):
    if (S.on_list[l, e] & 1) == 0:
        return
    wrongful = (S.on_list[l, e] & 2) != 0
    joint = (S.on_list[l, e] & 4) != 0
    k = 2 if joint else 0
    S.on_list[l, e] = 0
    S.l_stock[k, l] -= 1
    Q.M[s, listing_cell(P, Q, l, joint, LC_EXITS)] += 1
    if e < P.n_people:
        Q.M[s, region_cell(Q, P.ent_city[e], RC_LISTINGS)] -= 1
    i = find_slot(S, l, e)
    if wrongful:
        S.l_stock[k + 1, l] -= 1
    if how != EXIT_RULE:  # dated: the step's row; history (entries, sanctions) stays as it was
        Q.M[s, listing_cell(P, Q, l, joint, LC_OVERTURNED)] += 1
        if how == EXIT_APPEALED:
            Q.M[s, listing_cell(P, Q, l, joint, LC_APPEALED)] += 1
        if wrongful:
            Q.M[s, listing_cell(P, Q, l, joint, LC_WOVERTURNED)] += 1
            Q.M[s, listing_cell(P, Q, l, joint, LC_WDAYS)] += (s - S.ls_since[i]) * P.dt
            Q.M[s, listing_cell(P, Q, l, joint, LC_WSANCTIONS)] += S.ls_hits[i]
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
def justified(P, S, l, e):
    """e's wrongful listing on l now stands on true records alone: wrongful no more, and so is
    the joint listing of e's representative if e is a firm (directly, or by a message to the
    representative's region)."""
    justify_one(S, l, e)
    if P.l_joint_row[l] >= 0 and e >= P.n_people:
        rep = P.firm_rep[e - P.n_people]
        if rep >= 0:
            at = region_of(P, rep)
            if at != P.ent_city[e]:
                push_msg(P, S, MSG_JUSTIFY, rep, l, 0, 0, 0, 0.0, 0.0, at, P.ent_city[e])
            elif (S.on_list[l, rep] & 6) == 6:
                justify_one(S, l, rep)


@nb.njit(cache=True, inline="always")
def justify_one(S, l, e):
    """Clear the wrongful bit of e's listing on l (its own or, bit 4, a joint one)."""
    S.l_stock[3 if S.on_list[l, e] & 4 else 1, l] -= 1
    S.on_list[l, e] &= np.uint8(0xFD)
