"""Behaviours and the twin: candidate acts drawn per region, thinned by class, income and
deterrence in each world on the same uniform (the factual world and its counterfactual
twin differ only here: ``behaviour_candidate``), and the channels that observe a factual
act (coverage, misattribution, face search, in-car audio, classroom cameras).
"""

from __future__ import annotations

import math

from scorelab.jit_cache import nb
import numpy as np

from scorelab.engine.plan import KIND_CODES
from scorelab.engine.prefetch import prefetch
from scorelab.rng import fixed_unit, philox, to_unit
from scorelab.engine.kernel.constants import (
    AU_FALSE, AU_HITS, AU_PASSENGERS, AU_TALK, AU_TRIPS, BATCH, CR_ACTS, CR_DAYS, CR_FALSE, CR_HITS, CR_PARENT,
    CR_PARENT_FALSE, CR_PARENTS, CR_PUPIL, CR_PUPIL_FALSE, OUT_CHILD_RECORDS, IC_FALSE, IC_HITS, IC_LISTED, IC_SCANNED,
    MO_EVENTS, MO_TWIN, MSG_REC, OUT_SUPP,
)
from scorelab.engine.kernel.cells import audio_cell, cell, classroom_cell, id_cell
from scorelab.engine.kernel.stores import bump, change_income, push_msg
from scorelab.engine.kernel.draws import (
    candidate, class_factor, dyn_factor, mistaken_subject, other_in_range, region_actors,
)
from scorelab.engine.kernel.records import new_record
from scorelab.engine.kernel.regions import household_of, region_of

#: The code of a lawful but disfavoured behaviour: the acts the per-person count of acts suppressed counts
KIND_DISFAVOURED = KIND_CODES["disfavoured"]


@nb.njit(cache=True, inline="always")
def record_act(P, S, Q, e, b, s, j, c, city):
    """Channel c, which sees e, detects e's act with its detection probability for b and records
    it: about e; misattributed to someone else; or, of the rest, falsely matched to anyone
    (share cb_fm). Acts a channel identifies 1:N are searched instead (``search_face``)."""
    w0, w1, w2, w3 = philox(P.c_keys[c, 0], P.c_keys[c, 1], e, s, b, j)
    if b == P.c_au_trip[c] or b == P.c_au_talk[c]:
        hear_trip(P, S, Q, e, b, s, j, c, city, to_unit(w0), to_unit(w3))
        return
    if b == P.c_cr_day[c] or b == P.c_cr_act[c]:
        watch_class(P, S, Q, e, b, s, c, city, to_unit(w0), to_unit(w3))
        return
    if to_unit(w0) >= P.cb_det[c, b]:
        return
    if b == P.c_id_beh[c]:
        search_face(P, S, Q, e, b, s, c, to_unit(w1), to_unit(w3))
        return
    subj = e
    err = 0
    u1 = to_unit(w1)
    m = P.c_mis_p[c]
    if u1 < m:
        subj = mistaken_subject(P, c, e, to_unit(w2))
        err = 1 if subj != e else 0
    elif u1 < m + (1.0 - m) * P.cb_fm[c, b]:  # (a false match: the matched one is someone else)
        lo = 0 if e < P.n_people else P.n_people
        subj = other_in_range(e, lo, P.n_people if e < P.n_people else P.n_firms, to_unit(w2))
        err = 2 if subj != e else 0
    appeal = 1 if (err and to_unit(w3) < P.appeal_p * P.appeal_success) else 0
    put_record(P, S, Q, subj, e, b, c, s, city, err, appeal)


@nb.njit(cache=True, inline="always")
def put_record(P, S, Q, subj, e, b, c, s, city, err, appeal):
    """A record of channel c about subj of e's act b, made in region ``city``."""
    at = city if subj == e else region_of(P, subj)  # (the subject may live elsewhere)
    if at == city:
        new_record(P, S, Q, subj, e, b, c, s, err, appeal)
    else:  # a record about someone in another region reaches them at the exchange
        push_msg(P, S, MSG_REC, subj, e, b, c, 2 * err + appeal, 0.0, 0.0, at, city)


@nb.njit(cache=True)  # (not inlined: one channel's behaviours, kept out of the hot observe loop)
def hear_trip(P, S, Q, e, b, s, j, c, city, u, u_appeal):
    """In-car audio channel c hears e's covered trip or covered act of the watched talk. Talk is
    heard with the channel's detection: a true record of it about e, the driver. A trip raises a
    false positive with its "detection", the false-positive chance (plan_channels): a false
    record of the talk about e, who said nothing watched.
    Either way each other member of e's household rode along with P.c_au_pass and is recorded
    too (an erroneous record: the act was e's, or nobody's)."""
    row = P.c_au_row[c]
    talk = P.c_au_talk[c]
    talked = b == talk
    Q.M[s, audio_cell(Q, row, AU_TALK if talked else AU_TRIPS)] += 1
    if u >= P.cb_det[c, b]:
        return
    if talked:
        Q.M[s, audio_cell(Q, row, AU_HITS)] += 1
        put_record(P, S, Q, e, e, talk, c, s, city, 0, 0)
        err = 1
    else:
        Q.M[s, audio_cell(Q, row, AU_FALSE)] += 1
        put_record(P, S, Q, e, e, talk, c, s, city, 2, 1 if u_appeal < P.appeal_p * P.appeal_success else 0)
        err = 2
    if P.c_au_pass[c] <= 0.0 or e >= P.n_people:
        return
    h = household_of(P, e)  # (the household's members are an id range)
    for m in range(P.hh_start[h], P.hh_start[h + 1]):
        if m == e:
            continue
        w0, w1, _, _ = philox(P.c_au_key[c, 0], P.c_au_key[c, 1], m, s, b, j)  # (one draw per member and act)
        if to_unit(w0) < P.c_au_pass[c]:
            Q.M[s, audio_cell(Q, row, AU_PASSENGERS)] += 1
            put_record(P, S, Q, m, e, talk, c, s, city, err, 1 if to_unit(w1) < P.appeal_p * P.appeal_success else 0)


@nb.njit(cache=True)  # (not inlined: one channel's behaviours, kept out of the hot observe loop)
def watch_class(P, S, Q, e, b, s, c, city, u, u_appeal):
    """Classroom channel c sees e's covered school day or covered act of the watched conduct.
    The conduct is recorded with the channel's detection (a true record about e); a school day
    raises a false positive with its "detection", the false-positive chance (plan_channels): a
    false record of the conduct about e. A record about a pupil (unscored: under the scoring
    age) is held by the school; with counts_against parents it is also a record against each of
    the pupil's parents (the first two scored members of the household, as ``linked``), with the
    pupil's error and appeal, so a correction removes them together and reverts what they caused."""
    row = P.c_cr_row[c]
    act = P.c_cr_act[c]
    acted = b == act
    Q.M[s, classroom_cell(Q, row, CR_ACTS if acted else CR_DAYS)] += 1
    if u >= P.cb_det[c, b]:
        return
    err = 0 if acted else 2
    appeal = 0 if acted else (1 if u_appeal < P.appeal_p * P.appeal_success else 0)
    Q.M[s, classroom_cell(Q, row, CR_HITS if acted else CR_FALSE)] += 1
    put_record(P, S, Q, e, e, act, c, s, city, err, appeal)
    if e >= P.n_people or S.scored[e] == 1:
        return  # (a scored student's record is their own)
    Q.M[s, classroom_cell(Q, row, CR_PUPIL)] += 1
    if err:
        Q.M[s, classroom_cell(Q, row, CR_PUPIL_FALSE)] += 1
    if P.c_cr_par[c] != CR_PARENTS:
        return
    h = household_of(P, e)
    seen = 0
    for x in range(P.hh_start[h], P.hh_start[h + 1]):
        if S.scored[x] == 1:
            Q.M[s, classroom_cell(Q, row, CR_PARENT)] += 1
            if err:
                Q.M[s, classroom_cell(Q, row, CR_PARENT_FALSE)] += 1
            bump(S, OUT_CHILD_RECORDS, x, 1)
            put_record(P, S, Q, x, e, act, c, s, city, err, appeal)
            seen += 1
            if seen > 1:
                break


@nb.njit(cache=True)  # (not inlined: one channel's behaviour, kept out of the hot observe loop)
def search_face(P, S, Q, e, b, s, c, u, u_appeal):
    """Channel c captured e's face during act b and searches it against its watchlist: if e is
    listed, e is recognised with the hit rate (a true record); otherwise e, the bystander who
    was scanned, raises a false alert with probability 1 - (1 - f)^W (S.id_p), and the record
    (a false match, erroneous) is about e. A face that matches nobody leaves no record."""
    row = P.c_id_row[c]
    Q.M[s, id_cell(Q, row, IC_SCANNED)] += 1
    if S.on_list[P.c_id_list[c], e] & 1:
        Q.M[s, id_cell(Q, row, IC_LISTED)] += 1
        if u < P.c_id_hit[c]:
            Q.M[s, id_cell(Q, row, IC_HITS)] += 1
            new_record(P, S, Q, e, e, b, c, s, 0, 0)
    elif u < S.id_p[c]:
        Q.M[s, id_cell(Q, row, IC_FALSE)] += 1
        new_record(P, S, Q, e, e, b, c, s, 2, 1 if u_appeal < P.appeal_p * P.appeal_success else 0)


@nb.njit(cache=True)
def _search_odds(P, S, l_stock):
    """For each identifying channel, the chance this step that an unlisted face falsely matches
    one of the watchlist's W members (W its national stock at the start of the step, from
    ``l_stock``, in the described population: a scaled run's stock / scale): 1 - (1 - f)^W."""
    for c in range(P.c_id_beh.shape[0]):
        if P.c_id_beh[c] >= 0:
            l = P.c_id_list[c]  # (its members: its own and any joint ones)
            W = float(l_stock[0, l] + l_stock[2, l]) * P.c_id_wfac[c]
            f = P.c_id_fmr[c]
            S.id_p[c] = -math.expm1(W * math.log1p(-f)) if f < 1.0 else (1.0 if W > 0.0 else 0.0)


@nb.njit(cache=True)
def observe(P, S, Q, e, b, s, j):
    """Channels observing behaviour b turn an act of e into records (maybe about someone else)."""
    city = P.ent_city[e]
    before = s < P.city_join[city]  # e's region has not joined: only ungated channels record
    if before and P.b_ungated[b] == 0:
        return
    cov = S.cov
    row = b * P.sig_ok.shape[0] + P.city_sig[city]  # the channels that can see b in e's region
    end = P.bsc_ptr[row + 1]
    for k0 in range(P.bsc_ptr[row], end, 64):
        k1 = min(k0 + 64, end)
        # which channels see e (bit k - k0), for up to 64 channels at a time: the coverage
        # draws do not depend on each other, so computed without a branch (a draw even where
        # coverage is full: a uniform is always below 1) they overlap. (Gathered bit by bit
        # from the last: a loop LLVM leaves scalar, since most behaviours have one or two
        # channels, for which vector registers cost more to set up than they save.)
        seen = np.uint64(0)
        for k in range(k1 - 1, k0 - 1, -1):
            c = P.bsc_idx[k]
            ok = (cov[c] > 0.0) & (fixed_unit(P.c_cov_seed[c], e) < cov[c]) & ((not before) or P.c_gated[c] == 0)
            seen = (seen << np.uint64(1)) | np.uint64(ok)
        for k in range(k0, k1):
            if (seen >> np.uint64(k - k0)) & np.uint64(1):
                record_act(P, S, Q, e, b, s, j, P.bsc_idx[k], city)


@nb.njit(cache=True, inline="always")
def knows(P, e, b, risk, aware, s):
    """Whether e is deterred from behaviour b now: responses on, b deterrable, a perceived risk
    in e's region, and e aware of the system (a fixed draw per person against the share
    aware now, so awareness only grows)."""
    if not P.resp_on or P.b_deter[b] <= 0.0:
        return False
    city = P.ent_city[e]
    if s < P.city_join[city] or risk[b, P.city_sig[city]] <= 0.0:
        return False
    return aware >= 1.0 or fixed_unit(P.aware_seed, e) < aware


@nb.njit(cache=True, inline="always")
def behaviour_candidate(P, S, Q, b, e, s, j, u, fac, has_dyn, risk, deterred, on):
    """A candidate act of behaviour b by e that passed the class factor (u < fac), kept with
    probability f(e, now) / f_max in each world (thinning on the same uniform u): the twin
    without deterrence and with its own income; a factual act is offered to the channels."""
    a_t = fac
    a_f = fac
    if has_dyn:
        # employed: bit 0 in the factual world, bit 1 in the twin (where nobody is dismissed)
        a_t *= dyn_factor(P, b, S.income_t[e], float((S.employed[e] >> 1) & 1))
        a_f *= dyn_factor(P, b, S.income_f[e], float(S.employed[e] & 1))
    if deterred:
        rk = risk[b, P.city_sig[P.ent_city[e]]]
        a_f *= math.exp(-P.deterrence * P.b_deter[b] * P.group_sens[P.ent_group[e]] * rk)
    twin = u < a_t
    fact = u < a_f
    if twin:
        Q.M[s, cell(Q, MO_TWIN, b)] += 1
        change_income(P, S.income_t, S.loss_t, e, P.b_income[b], s)
    if fact:
        Q.M[s, cell(Q, MO_EVENTS, b)] += 1
        change_income(P, S.income_f, S.loss_f, e, P.b_income[b], s)
        if on:
            observe(P, S, Q, e, b, s, j)
    if twin != fact and P.b_kind[b] == KIND_DISFAVOURED:  # (lawful acts only: deterred wrongdoing is no harm)
        bump(S, OUT_SUPP, e, 1 if twin else -1)


@nb.njit(cache=True)
def behaviours(P, S, Q, s, counts, aware, on):
    """Every region's candidate acts of every behaviour, in both worlds on the same
    draws, in batches (see ``engine.prefetch``): draw the batch's actors and prefetch their
    class codes and region; keep those that pass the class factor and prefetch what their
    acts read; then act on the kept ones in order. Same draws, same order, same result as
    one candidate at a time."""
    B = P.b_kind.shape[0]
    R = P.city_join.shape[0]
    risk = S.risk
    be = np.empty(BATCH, dtype=np.int64)
    bu = np.empty(BATCH)
    ke = np.empty(BATCH, dtype=np.int64)
    kj = np.empty(BATCH, dtype=np.int64)
    ku = np.empty(BATCH)
    kf = np.empty(BATCH)
    kd = np.empty(BATCH, dtype=np.bool_)
    for b in range(B):
        row = P.t_cls_row[b]
        has_dyn = P.dm_ptr[b + 1] > P.dm_ptr[b]
        income = P.b_income[b] != 0.0
        for reg in range(R):
            if S.own[reg] == 0:
                continue
            lo, n_ent = region_actors(P, b, reg)
            n = counts[b, reg]
            for j0 in range(0, n, BATCH):
                m = min(BATCH, n - j0)
                for i in range(m):
                    e, u, _ = candidate(P, b, s, reg, lo, n_ent, j0 + i)
                    be[i] = e
                    bu[i] = u
                    if row >= 0:
                        prefetch(P.cls[row], e >> P.cls_shift)
                    prefetch(P.ent_city, e)
                k = 0
                for i in range(m):
                    e = be[i]
                    fac = class_factor(P, b, row, e)
                    if bu[i] < fac:
                        ke[k] = e
                        kj[k] = j0 + i
                        ku[k] = bu[i]
                        kf[k] = fac
                        kd[k] = knows(P, e, b, risk, aware, s)
                        if has_dyn or income:
                            prefetch(S.income_t, e)
                            prefetch(S.income_f, e)
                            prefetch(S.employed, e)
                        if kd[k]:
                            prefetch(P.ent_group, e)
                        k += 1
                for i in range(k):
                    behaviour_candidate(P, S, Q, b, ke[i], s, kj[i], ku[i], kf[i], has_dyn, risk, kd[i], on)
