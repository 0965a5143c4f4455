"""Where a kernel writes a metric: named cells of the per-step metrics matrix ``Q.M``, one per
block of ``engine.layout`` (a list's column, a flag's, a consequence's...), so that no kernel
does arithmetic on offsets.
"""

from __future__ import annotations

import math

from scorelab.jit_cache import nb

from scorelab.engine.kernel.constants import (
    AU_COLS, CR_COLS, F_COLS, ID_COLS, K_COLS, L_COLS, LN_COLS, LN_UNITS, MO_AUDIO, MO_CLASS, MO_CONS, MO_FLAG, MO_ID,
    MO_FIRMREC, MO_JOINT, MO_LEND, MO_LIST, MO_REC, MO_REGION, MO_TRAJ, N_ERRORS, R_COLS, T_COLS,
)



@nb.njit(cache=True, inline="always")
def cell(Q, block, i):
    """Metric column i of a block of one column per item (events, grades...)."""
    return Q.MO[block] + i


@nb.njit(cache=True, inline="always")
def list_cell(Q, l, col):
    """List l's metric column ``col`` (LC_*)."""
    return Q.MO[MO_LIST] + L_COLS * l + col


@nb.njit(cache=True, inline="always")
def listing_cell(P, Q, l, joint, col):
    """List l's metric column ``col`` (LC_*) for a listing of the list's own entities, or, for a
    firm's representative listed jointly (``joint``), the column of l's joint listings: people,
    counted apart from the firms."""
    if joint:
        return Q.MO[MO_JOINT] + L_COLS * P.l_joint_row[l] + col
    return Q.MO[MO_LIST] + L_COLS * l + col


@nb.njit(cache=True, inline="always")
def flag_cell(Q, f, col):
    """Flag f's metric column ``col`` (FC_*)."""
    return Q.MO[MO_FLAG] + F_COLS * f + col


@nb.njit(cache=True, inline="always")
def cons_cell(Q, k, col):
    """Consequence k's metric column ``col`` (CC_*)."""
    return Q.MO[MO_CONS] + K_COLS * k + col


@nb.njit(cache=True, inline="always")
def id_cell(Q, row, col):
    """The metric column ``col`` (IC_*) of the identifying channel of row ``row`` (P.c_id_row)."""
    return Q.MO[MO_ID] + ID_COLS * row + col


@nb.njit(cache=True, inline="always")
def audio_cell(Q, row, col):
    """The metric column ``col`` (AU_*) of the audio channel of row ``row`` (P.c_au_row)."""
    return Q.MO[MO_AUDIO] + AU_COLS * row + col


@nb.njit(cache=True, inline="always")
def classroom_cell(Q, row, col):
    """The metric column ``col`` (CR_*) of the classroom channel of row ``row`` (P.c_cr_row); row
    P.n_cr, column 0: the sanctions of people with a pupil's record made against them."""
    return Q.MO[MO_CLASS] + CR_COLS * row + col


@nb.njit(cache=True, inline="always")
def record_cell(Q, c, err):
    """Channel c's records of error ``err`` (an index of ERROR_NAMES)."""
    return Q.MO[MO_REC] + N_ERRORS * c + err


@nb.njit(cache=True, inline="always")
def firm_record_cell(Q, err):
    """Records about firms of error ``err``, over all channels (``records_about_firms.*``)."""
    return Q.MO[MO_FIRMREC] + err


@nb.njit(cache=True, inline="always")
def region_cell(Q, r, col):
    """Region r's metric column ``col`` (RC_*)."""
    return Q.MO[MO_REGION] + R_COLS * r + col


@nb.njit(cache=True, inline="always")
def trajectory_cell(Q, i, col):
    """The metric column ``col`` (TC_*) of the i-th sampled person (P.tr_ids[i])."""
    return Q.MO[MO_TRAJ] + T_COLS * i + col


@nb.njit(cache=True, inline="always")
def loan_cell(Q, g, col):
    """Group g's lending column ``col`` (LN_*; only when plan.Params.ln_on)."""
    return Q.MO[MO_LEND] + LN_COLS * g + col


@nb.njit(cache=True, inline="always")
def level_units(x):
    """A level in the lending block's whole units (LN_UNITS a point, rounded): sums of whole
    numbers do not depend on their order, so shards add up to the single-process run."""
    return math.floor(x * LN_UNITS + 0.5)
