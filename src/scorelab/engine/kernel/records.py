"""Records: a new record about an act (delayed or visible at once), and what a record does
when it becomes visible (points, list entry, flags).
"""

from __future__ import annotations

from scorelab.jit_cache import nb

from scorelab.engine.kernel.constants import (
    ACTIVE, APPEAL_BIT, APPLIED_BIT, CAUSE_RECORDS, C_NPOOL, C_PFREE, C_PTOP, CR_LATER, OUT_RECORDS_ERR, RC_ERRONEOUS,
    RC_TRUE,
)
from scorelab.engine.kernel.cells import firm_record_cell, record_cell, region_cell
from scorelab.engine.kernel.stores import add_record, bump, fifo_push, hold, rec_err, set_delta, set_state
from scorelab.engine.kernel.scores import record_points
from scorelab.engine.kernel.lists import enter_list
from scorelab.engine.kernel.score_changes import apply_record
from scorelab.engine.kernel.flags import count_recent, raise_flags



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
    if e >= P.n_people:  # (about a firm: apart, so that the headline's and the regions' records are people's)
        Q.M[s, firm_record_cell(Q, err)] += 1
    else:
        Q.M[s, region_cell(Q, P.ent_city[e], RC_ERRONEOUS if err else RC_TRUE)] += 1
    hold(P, S, Q, e, 1, s)
    if err:
        bump(S, OUT_RECORDS_ERR, e, 1)
    # a school's record about a pupil counts against the pupil (once scored) only with
    # counts_against: pupil_later; otherwise it carries no points, now or later
    school_only = P.c_cr_row[c] >= 0 and S.scored[e] == 0 and P.c_cr_par[c] != CR_LATER
    if P.scheme == 0:
        pts = 0.0 if school_only else record_points(P, S, r, s)
        set_delta(P, S, r, pts)
        touches = pts != 0.0
    else:
        touches = False
        for d in range(P.n_dims):
            if P.dim_rec[b, d] != 0.0 and not school_only:
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
