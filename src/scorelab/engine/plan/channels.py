"""Channels: the regions each covers, the behaviours each observes, coverage, detection,
delays and retention, start and ramp, gating by rollout, 1:N identification, in-car audio
(docs/channels.md) and classroom monitoring (docs/classroom.md)."""

from __future__ import annotations

from typing import Any

import numpy as np

from scorelab.engine.plan.context import Context
from scorelab.engine.plan.helpers import stream_keys
from scorelab.engine.plan.rows import most_in_household


def plan_channel_regions(cx: Context) -> dict[str, Any]:
    """Cities with the same set of covering channels share a region signature: ``city_sig`` is
    each city's, ``sig_ok[g, c]`` whether channel c covers the cities of signature g."""
    s, pop, C = cx.s, cx.pop, cx.C
    n_cities = len(pop.city_names)
    city_ok = np.ones((C, n_cities), dtype=np.uint8)
    for ci, name in enumerate(cx.chans):
        regions = s.channels[name].regions
        if regions is not None:
            city_ok[ci] = 0
            for r in regions:
                if r in pop.city_names:
                    city_ok[ci, pop.city_names.index(r)] = 1
                if r in pop.province_names:
                    city_ok[ci, np.asarray(pop.city_province) == pop.province_names.index(r)] = 1
    if C:
        sigs, city_sig = np.unique(city_ok.T, axis=0, return_inverse=True)
        sig_ok = np.ascontiguousarray(sigs, dtype=np.uint8)
    else:
        sig_ok = np.ones((1, 0), dtype=np.uint8)
        city_sig = np.zeros(n_cities, dtype=np.int64)
    return dict(city_sig=city_sig.reshape(-1).astype(np.int32), sig_ok=sig_ok)


def plan_observers(cx: Context, sig_ok: np.ndarray) -> dict[str, Any]:
    """The channels that observe each behaviour, ``bc_idx[bc_ptr[b]:bc_ptr[b + 1]]``, and the
    same per region signature, ``bsc_idx[bsc_ptr[b * signatures + g]:...]``."""
    B = cx.B
    per_b: list[list[int]] = [[] for _ in range(B)]
    for ci, name in enumerate(cx.chans):
        for b in cx.s.channels[name].observes:
            per_b[cx.bidx[b]].append(ci)
    bc_ptr = np.zeros(B + 1, dtype=np.int64)
    for bi in range(B):
        bc_ptr[bi + 1] = bc_ptr[bi] + len(per_b[bi])
    bc_idx = np.array([c for row in per_b for c in row], dtype=np.int64)
    # the same lists per region signature (row b * signatures + g): the channels that can see
    # behaviour b in a region of signature g, in the same order, so an act is offered only to
    # those (with a channel per district, most of a behaviour's channels see none of its acts)
    n_sig = sig_ok.shape[0]
    bsc = [[c for c in per_b[bi] if sig_ok[g, c]] for bi in range(B) for g in range(n_sig)]
    bsc_ptr = np.zeros(B * n_sig + 1, dtype=np.int64)
    bsc_ptr[1:] = np.cumsum([len(row) for row in bsc], dtype=np.int64)
    bsc_idx = np.array([c for row in bsc for c in row], dtype=np.int64)
    return dict(bc_ptr=bc_ptr, bc_idx=bc_idx, bsc_ptr=bsc_ptr, bsc_idx=bsc_idx)


def plan_channels(cx: Context) -> dict[str, Any]:
    """Per channel: coverage, detection and false-match rate per behaviour, delay, time to live
    (retention or the safeguards' expiry, the shorter), start and ramp in steps, whether
    enabled (data minimisation disables channels) and whether gated by rollout."""
    s, B, C = cx.s, cx.B, cx.C
    expiry = s.safeguards.expiry
    disabled = set(s.safeguards.disabled_channels)
    c_cov = np.zeros(C)
    # detection and false-match rate per (channel, behaviour): the channel's, or its by_behaviour's
    cb_det = np.zeros((C, B)); cb_fm = np.zeros((C, B))
    c_delay = np.zeros(C, dtype=np.int64)
    c_ttl = np.full(C, -1, dtype=np.int64); c_start = np.zeros(C, dtype=np.int64); c_ramp = np.zeros(C, dtype=np.int64)
    c_enabled = np.zeros(C, dtype=np.uint8)
    # rollout gates a channel's records by region (1), or the channel records everywhere from
    # its start, an institution older than the system (0); b_ungated: b has such a channel
    c_gated = np.ones(C, dtype=np.uint8); b_ungated = np.zeros(B, dtype=np.uint8)
    for ci, name in enumerate(cx.chans):
        ch = s.channels[name]
        c_cov[ci] = ch.coverage
        cb_det[ci, :], cb_fm[ci, :] = ch.detection, ch.false_match_rate
        for bname, how in ch.by_behaviour.items():
            if how.detection is not None:
                cb_det[ci, cx.bidx[bname]] = how.detection
            if how.false_match_rate is not None:
                cb_fm[ci, cx.bidx[bname]] = how.false_match_rate
        if ch.audio is not None:  # a trip's chance of a record (and its perceived risk) is a false positive's
            cb_det[ci, cx.bidx[ch.audio.trips]] = ch.audio.false_positive
        if ch.classroom is not None:  # (so is a school day's)
            cb_det[ci, cx.bidx[ch.classroom.school_days]] = ch.classroom.false_positive
        c_delay[ci] = cx.steps(ch.delay)
        ttls = [x for x in (ch.retention, expiry) if x is not None]
        c_ttl[ci] = cx.steps(min(ttls)) if ttls else -1
        c_start[ci] = cx.step_of(ch.start, before=True)
        c_ramp[ci] = cx.steps(ch.ramp)
        c_enabled[ci] = 0 if name in disabled else 1
        if not ch.gated_by_rollout:
            c_gated[ci] = 0
            for bname in ch.observes:
                b_ungated[cx.bidx[bname]] = 1
    return dict(
        c_cov=c_cov, cb_det=cb_det, cb_fm=cb_fm, c_delay=c_delay, c_ttl=c_ttl,
        ttl_vals=np.unique(c_ttl[c_ttl >= 0]).astype(np.int64),
        c_start=c_start, c_ramp=c_ramp, c_enabled=c_enabled, c_gated=c_gated, b_ungated=b_ungated,
    )


def plan_identification(cx: Context) -> dict[str, Any]:
    """1:N identification (docs/channels.md#face-identification-1n-search): the behaviour
    whose acts are searched (-1: none), the watchlist, the hit rate, the false-match rate of one
    comparison, the channel's row of metric columns, and the people a simulated watchlist
    member stands for (a face is searched against the whole described population's watchlist:
    W = simulated stock / (people / represents))."""
    C = cx.C
    c_id_beh = np.full(C, -1, dtype=np.int64); c_id_list = np.full(C, -1, dtype=np.int64)
    c_id_hit = np.zeros(C); c_id_fmr = np.zeros(C); c_id_row = np.full(C, -1, dtype=np.int64)
    c_id_wfac = np.full(C, 1.0 / cx.s.population.scale)
    for ci, name in enumerate(cx.chans):
        idn = cx.s.channels[name].identification
        if idn is not None:
            c_id_beh[ci], c_id_list[ci] = cx.bidx[idn.behaviour], cx.lidx[idn.watchlist]
            c_id_hit[ci], c_id_fmr[ci] = idn.hit_rate, idn.false_match_rate
            c_id_row[ci] = int((c_id_row >= 0).sum())
    return dict(c_id_beh=c_id_beh, c_id_list=c_id_list, c_id_hit=c_id_hit, c_id_fmr=c_id_fmr, c_id_row=c_id_row,
                c_id_wfac=c_id_wfac)


def plan_audio(cx: Context) -> dict[str, Any]:
    """In-car audio (docs/channels.md#in-car-audio): per channel the trips and talk behaviours
    (-1: none; a trip's false-positive chance is its detection, ``plan_channels``), the chance each other household
    member rides along, the channel's row of metric columns and its passengers' stream; per
    behaviour, the most extra records (passengers) one act can add, for the step's bound on
    new records."""
    C, B = cx.C, cx.B
    c_au_trip = np.full(C, -1, dtype=np.int64); c_au_talk = np.full(C, -1, dtype=np.int64)
    c_au_pass = np.zeros(C); c_au_row = np.full(C, -1, dtype=np.int64)
    c_au_key = np.zeros((C, 2), dtype=np.uint64); b_au_extra = np.zeros(B, dtype=np.int64)
    most_passengers = max(most_in_household(cx) - 1, 0)
    for ci, name in enumerate(cx.chans):
        au = cx.s.channels[name].audio
        if au is None:
            continue
        c_au_trip[ci], c_au_talk[ci] = cx.bidx[au.trips], cx.bidx[au.talk]
        c_au_pass[ci] = au.passengers.probability
        c_au_row[ci] = int((c_au_row >= 0).sum())
        c_au_key[ci] = stream_keys(cx.seed, f"channel.{name}.passengers")
        if au.passengers.probability > 0.0:
            b_au_extra[c_au_trip[ci]] += most_passengers
            b_au_extra[c_au_talk[ci]] += most_passengers
    for ci, name in enumerate(cx.chans):  # a pupil's record against the parents adds two
        cr = cx.s.channels[name].classroom
        if cr is not None and cr.counts_against == "parents":
            b_au_extra[cx.bidx[cr.school_days]] += 2
            b_au_extra[cx.bidx[cr.watched]] += 2
    return dict(c_au_trip=c_au_trip, c_au_talk=c_au_talk, c_au_pass=c_au_pass, c_au_row=c_au_row,
                c_au_key=c_au_key, b_au_extra=b_au_extra)


def plan_classroom(cx: Context) -> dict[str, Any]:
    """Classroom monitoring (docs/classroom.md): per channel the school-day and watched
    behaviours (-1: none; a school day's false-positive chance is its detection,
    ``plan_channels``), whom a pupil's records count against (kernel CR_NONE, CR_PARENTS,
    CR_LATER: the pupil from the scoring age), and the channel's
    row of metric columns; ``n_cr`` the rows (the block's last column counts sanctions of parents
    with a pupil's record against them)."""
    C = cx.C
    c_cr_day = np.full(C, -1, dtype=np.int64); c_cr_act = np.full(C, -1, dtype=np.int64)
    c_cr_par = np.zeros(C, dtype=np.uint8); c_cr_row = np.full(C, -1, dtype=np.int64)
    for ci, name in enumerate(cx.chans):
        cr = cx.s.channels[name].classroom
        if cr is not None:
            c_cr_day[ci], c_cr_act[ci] = cx.bidx[cr.school_days], cx.bidx[cr.watched]
            c_cr_par[ci] = ("none", "parents", "pupil_later").index(cr.counts_against)  # (kernel CR_NONE...)
            c_cr_row[ci] = int((c_cr_row >= 0).sum())
    return dict(c_cr_day=c_cr_day, c_cr_act=c_cr_act, c_cr_par=c_cr_par, c_cr_row=c_cr_row,
                n_cr=int((c_cr_row >= 0).sum()))
