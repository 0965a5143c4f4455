"""The entry points: the kernels called from Python. Each lends its StructRefs and arrays once
(``engine.lending``), so that the functions it calls count no references; the Python caller
holds them for the whole call. A function whose name starts with an underscore elsewhere in
this package is a kernel that takes lent handles; its entry point here is its public face.

The entry points a shard worker calls release the GIL (``nogil``), so that the workers of a
threaded run (``engine.sharded``, backend "threads") run their regions on cores of their own.
"""

from __future__ import annotations

from scorelab.jit_cache import nb

from scorelab.engine.lending import lend
from scorelab.engine.kernel.structs import _grown_arrays, _take_outbox, _take_pending
from scorelab.engine.kernel.draws import _draw_counts
from scorelab.engine.kernel.scores import _init_buckets
from scorelab.engine.kernel.flags import _serve_flags
from scorelab.engine.kernel.behaviours import _search_odds
from scorelab.engine.kernel.start import _init_lists, _init_scores, _start_levels
from scorelab.engine.kernel.phases import (
    _deliver, _exchange, _local_phase, _run_steps, _start_reporting, _stocks, _trajectories,
)



@nb.njit(cache=True)
def grown_arrays(SR):
    """Copies of the arrays named in GROWN_IN_KERNEL, as the kernels hold them now."""
    return _grown_arrays(lend(SR))


@nb.njit(cache=True, nogil=True)
def take_outbox(SR):
    """Copies of the outbox's messages (ints, floats, sort keys); empties it."""
    return _take_outbox(lend(SR))


@nb.njit(cache=True, nogil=True)
def take_pending(SR):
    """A copy of the step's pending flags (flag, entity, truth); empties them."""
    return _take_pending(lend(SR))


@nb.njit(cache=True)
def init_scores(PR, SR, H_ids, H_raw, H_scored):
    """Starting scores: own scores, contacts' sums, totals, grades and histograms; the halo's
    starting points and whether each is scored (see ``_init_scores``)."""
    _init_scores(lend(PR), lend(SR), lend(H_ids), lend(H_raw), lend(H_scored))


@nb.njit(cache=True)
def init_buckets(PR, SR):
    """Each region's entities ordered by (kind, grade) (see ``_init_buckets``)."""
    _init_buckets(lend(PR), lend(SR))


@nb.njit(cache=True, nogil=True)
def init_lists(PR, SR, QR):
    """Entities whose starting grade is an entry grade of a list are listed on day 0; the
    groups' day-0 levels (lending by group)."""
    _start_levels(lend(PR), lend(SR), lend(QR))  # (before a listing could move a level)
    _init_lists(lend(PR), lend(SR), lend(QR))


@nb.njit(cache=True, nogil=True)
def draw_counts(PR, s, counts):
    """Candidate events per type and region for step s; returns a
    bound on the records the step can create (see ``_draw_counts``)."""
    return _draw_counts(lend(PR), s, lend(counts))


@nb.njit(cache=True)
def run_steps(PR, SR, QR, first, last, counts):
    """Steps ``first`` .. ``last - 1`` in one call; returns the first step not run (see
    ``_run_steps``)."""
    return _run_steps(lend(PR), lend(SR), lend(QR), first, last, lend(counts))


@nb.njit(cache=True, nogil=True)
def local_phase(PR, SR, QR, s, counts):
    """A sharded worker's own regions' part of step s."""
    _local_phase(lend(PR), lend(SR), lend(QR), s, lend(counts))


@nb.njit(cache=True)
def exchange(PR, SR, QR, s):
    """Deliver the outbox, in rounds, in (destination region, source region) order."""
    _exchange(lend(PR), lend(SR), lend(QR), s)


@nb.njit(cache=True, nogil=True)
def deliver(PR, SR, QR, s, mi, mx):
    """Apply the given messages to this worker's entities, in order."""
    _deliver(lend(PR), lend(SR), lend(QR), s, lend(mi), lend(mx))


@nb.njit(cache=True, nogil=True)
def start_reporting(PR, SR):
    """The burn-in is over (see ``_start_reporting``); calling it again at once changes nothing."""
    _start_reporting(lend(PR), lend(SR))


@nb.njit(cache=True, nogil=True)
def search_odds(PR, SR, l_stock):
    """The identifying channels' false-alert chance for the step about to run, from the
    national stocks ``l_stock`` (see ``_search_odds``)."""
    _search_odds(lend(PR), lend(SR), lend(l_stock))


@nb.njit(cache=True)
def serve_flags(PR, pf, q_ent, q_truth, q_head, q_len, f_budget):
    """The national part, the flag queues (see ``_serve_flags``)."""
    return _serve_flags(lend(PR), lend(pf), lend(q_ent), lend(q_truth), lend(q_head), lend(q_len), lend(f_budget))


@nb.njit(cache=True)
def stocks(PR, QR, s, ghist, l_stock, q_len, ssum, money_r):
    """End-of-step stocks (see ``_stocks``)."""
    _stocks(lend(PR), lend(QR), s, lend(ghist), lend(l_stock), lend(q_len), lend(ssum), lend(money_r))


@nb.njit(cache=True, nogil=True)
def trajectories(PR, SR, QR, s):
    """The sampled people's state at the end of step s (see ``_trajectories``)."""
    _trajectories(lend(PR), lend(SR), lend(QR), s)
