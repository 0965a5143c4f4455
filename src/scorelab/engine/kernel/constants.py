"""What the kernels' small integers mean: metric blocks and columns, counter and cursor
slots, a record's flag bits, list causes and exits, message kinds. The numbers follow the
names in ``engine.layout``.
"""

from __future__ import annotations

from scorelab.engine.layout import (
    AGEING_COLUMNS, ASSOCIATION_COLUMNS, AUDIO_COLUMNS, BLOCKS, CLASSROOM_COLUMNS, CONSEQUENCE_COLUMNS, DATA_COLUMNS, ERROR_NAMES,
    FLAG_COLUMNS, IDENTIFICATION_COLUMNS, LENDING_COLUMNS, LEVEL_UNITS, LIST_COLUMNS, N_COUNTERS, N_CURSORS, N_OUTCOMES,
    REGION_COLUMNS, TRAJECTORY_COLUMNS,
)

# metric column offsets (MO indices)
(MO_EVENTS, MO_TWIN, MO_REC, MO_REMOVED, MO_CONS, MO_LIST, MO_FLAG, MO_GRADE, MO_FGRADE, MO_SCORE, MO_ID, MO_ASSOC,
 MO_AUDIO, MO_CLASS, MO_DATA, MO_REGION, MO_TRAJ, MO_LEND, MO_AGE, MO_FIRMREC, MO_JOINT) = range(len(BLOCKS))
#: State arrays the kernels replace when they fill up (read them back with ``grown_arrays``)
GROWN_IN_KERNEL = ("mb_i", "mb_x", "mb_key", "pf", "ls_list", "ls_ent", "ls_since", "ls_next", "ls_cal", "ls_pend",
                   "ls_wpos", "ls_cause", "ls_hits", "la_ent", "la_list", "la_step", "od_rec", "od_val", "w_mem",
                   "carry", "aq")
# cnt slots: records in use, messages in the outbox, pending flags, delayed records waiting in
# the pool, the pool's free list (-1: empty) and slots ever used, the same two of list slots,
# records whose points float32 does not hold exactly, the used length of the member segments,
# the counters' carries, listing appeals waiting, the association term's fading queue (its
# head and length)
N_CNT = N_COUNTERS
C_NREC, C_NMSG, C_NPEND, C_NPOOL, C_PFREE, C_PTOP, C_LFREE, C_LTOP, C_NOD, C_WTOP, C_NCARRY, C_NLA, C_AQH, C_AQN = range(N_CNT)
# per-entity outcome counters: rows of S.out, int8; a count past int8's range wraps there and
# the wrap is booked in S.carry (entity, counter, sign), so counts stay exact
# (engine.simulation.counters) at 1 byte each, since few come near 127 (a carry costs 8 B
# for 256 counts)
N_OUT = N_OUTCOMES
(OUT_SUPP, OUT_REFUSED, OUT_SANCTIONS, OUT_REWARDS, OUT_WRONGFUL, OUT_ASSOC, OUT_FLAGGED, OUT_INVESTIGATED,
 OUT_RECORDS_ERR, OUT_LINKED, OUT_FALSE_FLAGGED, OUT_CHILD_RECORDS) = range(N_OUT)
# cur slots: the next record (id) the recovery and appeal walks look at, the next listing appeal;
# the expiry walk of the channels whose records are kept P.ttl_vals[g] steps is at
# cur[CUR_TTL + g] (one walk per distinct retention, not per channel). Record ids follow
# visibility, so each walk is a cursor.
CUR_RECOVERY, CUR_APPEAL, CUR_LAPPEAL = range(N_CURSORS)
CUR_TTL = N_CURSORS
# Why an entity is on a list (list slot's ls_cause): its records, its grade, a promotion from
# the feeding list, its grade on day 0; a value f >= 0 is the investigation of flag f. A joint
# listing (a firm's representative) is bit 4 of on_list. What a removed record caused is
# re-examined by the cause (``reexamine``).
CAUSE_RECORDS, CAUSE_GRADE, CAUSE_PROMOTION, CAUSE_START = -1, -2, -3, -4
# metric columns per list, flag, consequence, identifying and audio channel, numbered from the names
# in engine.layout (written through list_cell, flag_cell, cons_cell, id_cell, audio_cell)
L_COLS, F_COLS, K_COLS, ID_COLS = len(LIST_COLUMNS), len(FLAG_COLUMNS), len(CONSEQUENCE_COLUMNS), len(IDENTIFICATION_COLUMNS)
(LC_STOCK, LC_ENTRIES, LC_EXITS, LC_WRONGFUL, LC_WSTOCK, LC_OVERTURNED, LC_APPEALED, LC_WOVERTURNED, LC_WDAYS,
 LC_WSANCTIONS) = range(L_COLS)
FC_RAISED, FC_TRUE, FC_FALSE, FC_INVESTIGATED, FC_BACKLOG, FC_WITHDRAWN, FC_INV_OVERTURNED = range(F_COLS)
CC_APPLIED, CC_WRONGFUL, CC_ASSOC, CC_MONEY, CC_SUCCESSES = range(K_COLS)
IC_SCANNED, IC_LISTED, IC_HITS, IC_FALSE = range(ID_COLS)
AC_DOWN, AC_UP, AC_MEAN = range(len(ASSOCIATION_COLUMNS))
AU_COLS = len(AUDIO_COLUMNS)
AU_TRIPS, AU_TALK, AU_HITS, AU_FALSE, AU_PASSENGERS = range(AU_COLS)
CR_COLS = len(CLASSROOM_COLUMNS)
CR_DAYS, CR_ACTS, CR_HITS, CR_FALSE, CR_PUPIL, CR_PUPIL_FALSE, CR_PARENT, CR_PARENT_FALSE = range(CR_COLS)
# whom a classroom channel's records about pupils count against (P.c_cr_par): nobody, the parents
# now, the pupil from the scoring age
CR_NONE, CR_PARENTS, CR_LATER = 0, 1, 2
AG_CAME, AG_RECORDS = range(len(AGEING_COLUMNS))
DC_RECORDS, DC_PEOPLE = range(len(DATA_COLUMNS))
R_COLS, T_COLS = len(REGION_COLUMNS), len(TRAJECTORY_COLUMNS)
(RC_TRUE, RC_ERRONEOUS, RC_SANCTIONS, RC_SWRONGFUL, RC_REWARDS, RC_RWRONGFUL, RC_LISTINGS, RC_HELD,
 RC_PEOPLE) = range(R_COLS)
LN_COLS = len(LENDING_COLUMNS)
LN_APPLIED, LN_REFUSED, LN_DUE, LN_REPAID, LN_LEVEL = range(LN_COLS)
LN_UNITS = float(LEVEL_UNITS)
TC_SCORE, TC_GRADE, TC_LISTS, TC_FLAGS, TC_SANCTIONS, TC_HELD, TC_INCOME, TC_INCOME_TWIN = range(T_COLS)
N_ERRORS = len(ERROR_NAMES)
# S.queued bits per (flag, entity): waiting in the national queue; the last flag was
# investigated; the last flag was true (what a withdrawal or an overturned investigation reads)
Q_WAITING, Q_INVESTIGATED, Q_TRUE = 1, 2, 4
# a pending flag row (flag, entity, truth) whose truth is WITHDRAW takes the entity's flag out of
# the national queue instead of adding one
WITHDRAW = 2
# how an entity leaves a list: by the list's exit rule; overturned because what listed it was
# removed (an appeal, expiry, retention); overturned on an appeal of the listing itself
EXIT_RULE, EXIT_OVERTURNED, EXIT_APPEALED = 0, 1, 2
# messages between regions (delivered at the step's exchange): social-term change, a record about
# someone in another region, a joint listing and its end, an investigation, an association-term
# change (every one of them, also within a region: see ``restain``), a joint listing found
# justified with its firm's
MSG_SOC, MSG_REC, MSG_JOIN, MSG_LEAVE, MSG_INV, MSG_ASC, MSG_JUSTIFY = range(7)
ACTIVE, REMOVED_APPEAL, DELETED = 1, 2, 3
# what a contact gave by the association term fades in this many halvings when it stops counting
FADE_STAGES = 5
# A record's flags, one byte (r_flags): bits 0-1 its error (0 true, 1 misattributed, 2 false
# match), bits 2-3 its state (0 pending, then ACTIVE, REMOVED_APPEAL or DELETED), bit 4 its
# points applied, bit 5 contested on appeal, bits 6-7 its points as applied are none or kept
# apart (neither: its rule's points; rec_delta). One byte read where four were (the walks
# through a person's records read state and error of each).
ERR_BITS, STATE_BITS, APPLIED_BIT, APPEAL_BIT, DELTA_ZERO, DELTA_APART = 3, 12, 16, 32, 64, 128
ACTIVE_BITS = ACTIVE << 2
YEAR = 365.25
#: A person's income never exceeds this (in the population's currency a year): the bounds a
#: scenario may set (an income change of +100 % at up to 1,000 acts a day) could otherwise
#: double it past float64's range, and income lost vs twin would be inf - inf = NaN
INCOME_CAP = 1e15
#: candidate events handled per batch (draw and prefetch, then act): enough loads in flight to
#: hide memory latency, few enough that the batch's data stays in the first cache levels
BATCH = 64
