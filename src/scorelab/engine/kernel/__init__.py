"""The numba kernels of the day loop, one module per concept; ``engine.steps`` gives the order of
a step.

``P`` is the read-only ``plan.Params``; ``S`` is the mutable ``State`` (arrays only, scalars
live in small arrays); ``Q`` holds the per-step metrics matrix ``Q.M`` and its column offsets
``Q.MO``. Work per step follows events: candidate events, records becoming visible or
expiring, list reviews that fall due, investigations.

The modules, each importing only those above it (docs/architecture.md):

- ``constants``, ``structs``, ``cells``: what the small integers mean, the handles the kernels
  receive, where a metric is written;
- ``stores``, ``draws``: the state's stores (records, list slots, the outbox, pending flags,
  the fading queue, counters) and the step's random draws;
- ``scores``, ``association``, ``lists``, ``score_changes``, ``flags``, ``records``,
  ``corrections``, ``behaviours``, ``consequences``: the event cascade, a module per concept
  of the system (the twin is decided in ``behaviours.behaviour_candidate``);
- ``start``, ``phases``, ``entry``: day 0, the step's phases and the step, and the entry
  points called from Python.

This package re-exports what Python code outside it uses: the handles, the constants and the
entry points.
"""

from __future__ import annotations

from scorelab.engine.kernel.constants import (
    MO_EVENTS, MO_TWIN, MO_REC, MO_REMOVED, MO_CONS, MO_LIST, MO_FLAG, MO_GRADE, MO_FGRADE, MO_SCORE, MO_ID,
    MO_ASSOC, MO_AUDIO, MO_CLASS, MO_DATA, MO_REGION, MO_TRAJ, GROWN_IN_KERNEL, N_CNT, C_NREC, C_NMSG, C_NPEND, C_NPOOL, C_PFREE, C_PTOP, C_LFREE, C_LTOP, C_NOD,
    C_WTOP, C_NCARRY, C_NLA, C_AQH, C_AQN, N_OUT, OUT_SUPP, OUT_REFUSED, OUT_SANCTIONS, OUT_REWARDS, OUT_WRONGFUL,
    OUT_ASSOC, OUT_FLAGGED, OUT_INVESTIGATED, OUT_RECORDS_ERR, OUT_LINKED, OUT_FALSE_FLAGGED, OUT_CHILD_RECORDS, CUR_RECOVERY, CUR_APPEAL, CUR_LAPPEAL, CUR_TTL,
    CAUSE_RECORDS, CAUSE_GRADE, CAUSE_PROMOTION, CAUSE_START, L_COLS, F_COLS, K_COLS, ID_COLS, LC_STOCK,
    LC_ENTRIES, LC_EXITS, LC_WRONGFUL, LC_WSTOCK, LC_OVERTURNED, LC_APPEALED, LC_WOVERTURNED, LC_WDAYS,
    LC_WSANCTIONS, FC_RAISED, FC_TRUE, FC_FALSE, FC_INVESTIGATED, FC_BACKLOG, FC_WITHDRAWN, FC_INV_OVERTURNED,
    CC_APPLIED, CC_WRONGFUL, CC_ASSOC, CC_MONEY, CC_SUCCESSES, IC_SCANNED, IC_LISTED, IC_HITS, IC_FALSE, AC_DOWN,
    AC_UP, AC_MEAN, N_ERRORS, Q_WAITING, Q_INVESTIGATED, Q_TRUE, WITHDRAW, EXIT_RULE, EXIT_OVERTURNED,
    EXIT_APPEALED, MSG_SOC, MSG_REC, MSG_JOIN, MSG_LEAVE, MSG_INV, MSG_ASC, MSG_JUSTIFY, ACTIVE, REMOVED_APPEAL, DELETED,
    FADE_STAGES, ERR_BITS, STATE_BITS, APPLIED_BIT, APPEAL_BIT, DELTA_ZERO, DELTA_APART, ACTIVE_BITS, YEAR, BATCH,
)
from scorelab.engine.kernel.structs import (
    State, Metrics, ParamsRef, StateRef, MetricsRef, make_params, make_state, make_metrics,
)
from scorelab.engine.kernel.entry import (
    grown_arrays, take_outbox, take_pending, init_scores, init_buckets, init_lists, draw_counts, run_steps,
    local_phase, exchange, deliver, start_reporting, search_odds, serve_flags, stocks, trajectories,
)

__all__ = [
    "MO_EVENTS", "MO_TWIN", "MO_REC", "MO_REMOVED", "MO_CONS", "MO_LIST", "MO_FLAG", "MO_GRADE", "MO_FGRADE",
    "MO_SCORE", "MO_ID", "MO_ASSOC", "MO_AUDIO", "MO_CLASS", "MO_DATA", "MO_REGION", "MO_TRAJ", "GROWN_IN_KERNEL", "N_CNT", "C_NREC", "C_NMSG", "C_NPEND", "C_NPOOL",
    "C_PFREE", "C_PTOP", "C_LFREE", "C_LTOP", "C_NOD", "C_WTOP", "C_NCARRY", "C_NLA", "C_AQH", "C_AQN", "N_OUT",
    "OUT_SUPP", "OUT_REFUSED", "OUT_SANCTIONS", "OUT_REWARDS", "OUT_WRONGFUL", "OUT_ASSOC", "OUT_FLAGGED",
    "OUT_INVESTIGATED", "OUT_RECORDS_ERR", "OUT_LINKED", "OUT_FALSE_FLAGGED", "OUT_CHILD_RECORDS", "CUR_RECOVERY", "CUR_APPEAL", "CUR_LAPPEAL", "CUR_TTL",
    "CAUSE_RECORDS", "CAUSE_GRADE", "CAUSE_PROMOTION", "CAUSE_START", "L_COLS", "F_COLS", "K_COLS", "ID_COLS",
    "LC_STOCK", "LC_ENTRIES", "LC_EXITS", "LC_WRONGFUL", "LC_WSTOCK", "LC_OVERTURNED", "LC_APPEALED",
    "LC_WOVERTURNED", "LC_WDAYS", "LC_WSANCTIONS", "FC_RAISED", "FC_TRUE", "FC_FALSE", "FC_INVESTIGATED",
    "FC_BACKLOG", "FC_WITHDRAWN", "FC_INV_OVERTURNED", "CC_APPLIED", "CC_WRONGFUL", "CC_ASSOC", "CC_MONEY",
    "CC_SUCCESSES", "IC_SCANNED", "IC_LISTED", "IC_HITS", "IC_FALSE", "AC_DOWN", "AC_UP", "AC_MEAN", "N_ERRORS",
    "Q_WAITING", "Q_INVESTIGATED", "Q_TRUE", "WITHDRAW", "EXIT_RULE", "EXIT_OVERTURNED", "EXIT_APPEALED",
    "MSG_SOC", "MSG_REC", "MSG_JOIN", "MSG_LEAVE", "MSG_INV", "MSG_ASC", "MSG_JUSTIFY", "ACTIVE", "REMOVED_APPEAL", "DELETED",
    "FADE_STAGES", "ERR_BITS", "STATE_BITS", "APPLIED_BIT", "APPEAL_BIT", "DELTA_ZERO", "DELTA_APART",
    "ACTIVE_BITS", "YEAR", "BATCH", "State", "Metrics", "ParamsRef", "StateRef", "MetricsRef", "make_params",
    "make_state", "make_metrics", "grown_arrays", "take_outbox", "take_pending", "init_scores", "init_buckets",
    "init_lists", "draw_counts", "run_steps", "local_phase", "exchange", "deliver", "start_reporting",
    "search_odds", "serve_flags", "stocks", "trajectories",
]
