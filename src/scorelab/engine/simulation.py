"""The day loop: the modelled system and its counterfactual twin, step by step.

A step (one day by default, ``run.step``) is **region-phased**: every region (city) does
its own work, effects on other regions travel as messages delivered in a fixed order, and
the national part (the flag queues) runs on what all regions gathered. The order of every
effect is therefore the same however regions are spread over workers, which is what makes a
sharded run (``engine.sharded``) identical to this one.

The order of a step is written once, as data: ``engine.steps.PHASES`` (before the step,
A each region's own work, B the exchange, C the national part, D the stocks), which
``kernel.phases.step`` follows in one process and ``engine.sharded`` over workers
(``tests/test_steps.py``), and from which docs/day-loop.md lists it. Effects on another
region's people (a contact's social or association term, a record misattributed to someone
there, a firm's joint punishment reaching its representative) go to an outbox, delivered
at the exchange in (destination region, source region) order.

A burn-in (``run.burn_in``) is steps like the others, before ``params.report_from``: at that
step counters restart (``start_reporting``) and only the steps from it are reported.

Work per step follows events (candidates, records, reviews, investigations, messages),
never the whole population; histograms and score moments are kept up to date as scores
change. All draws are counter-based (``scorelab.rng``), so a run is a pure function of
its scenario and seed, and a run resumed from a checkpoint (``engine.checkpoint``)
continues exactly where it stopped.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from pathlib import Path

from scorelab.jit_cache import compile_watch, nb
import numpy as np

from scorelab.engine import kernel, layout
from scorelab.engine.checkpoint import Checkpoint, restore_state
from scorelab.engine.owned import entity_ranges, halo, people_span
from scorelab.engine.layout import IDENTITY_COLUMNS, POOL_COLUMNS, RECORD_COLUMNS, metric_layout  # noqa: F401 (re-exported)
from scorelab.engine.prefetch import prefetch
from scorelab.engine.plan import ASSOCIATION_UNIT, Plan, class_codes, compile_plan
from scorelab.errors import UsageError
from scorelab.memory import release
from scorelab.rng import Stream
from scorelab.scenario.model import Scenario
from scorelab.synth.contacts import Contacts
from scorelab.synth.population import Population
from scorelab.codes import NO_GRADE

_STATE_BITS, _ACTIVE = kernel.STATE_BITS, kernel.ACTIVE  # (read by _distinct_sources)
#: Most records one process can hold (record ids are int32).
MAX_RECORDS = 2**31 - 1


@dataclass
class RunOutput:
    """What a run produced: per-step metrics, per-person end state and the records (empty
    when the run was asked not to keep them), as plain arrays."""

    metrics: dict[str, np.ndarray]
    people: dict[str, np.ndarray]
    records: dict[str, np.ndarray]
    plan: Plan
    wall_seconds: float
    n_steps: int  # reported
    first_step: int = 0  # > 0 when resumed from a checkpoint: the steps timed are the ones after it
    burn_in_steps: int = 0  # run before the reported ones (timed, not reported)
    compile_seconds: float = 0.0  # numba compiling the kernels during the run (not in wall_seconds)
    #: a run on Ray actors: each actor's memory (``engine.sharded.ShardWorker.memory``)
    worker_memory: list[dict[str, int]] = field(default_factory=list)

    @property
    def agent_days_per_second(self) -> float:
        steps = self.burn_in_steps + self.n_steps - self.first_step
        return self.plan.params.n_people * steps * self.plan.params.dt / max(self.wall_seconds, 1e-9)

    def total(self, prefix: str, suffix: str = "") -> float:
        """Sum over steps and over every metric named ``prefix...suffix``."""
        return float(sum(v.sum() for k, v in self.metrics.items() if k.startswith(prefix) and k.endswith(suffix)))


def state_sizes(plan: Plan) -> layout.Sizes:
    """What the day-loop state's shapes depend on, for this plan (``engine.layout``)."""
    P = plan.params
    return layout.Sizes(
        people=P.n_people, firms=P.n_firms, views=P.n_views, dims=P.n_dims,
        caps=int(P.cap_row.max(initial=-1) + 1), lists=len(plan.list_names), flags=len(plan.flag_names),
        channels=len(plan.channel_names), grades=len(plan.grade_names), regions=P.city_join.shape[0],
        consequences=P.k_kind.shape[0], behaviours=len(plan.behaviour_names), signatures=P.sig_ok.shape[0],
        member_lists=int(max(P.l_watch_row.max(initial=-1) + 1, 0)), steps=P.n_steps,
        retentions=len(P.ttl_vals), social=P.soc_w > 0, association=bool(P.as_on),
    )


def _alloc_state(plan: Plan, pop: Population, own: np.ndarray | None = None) -> kernel.State:
    """The day-loop state at its start (``engine.layout.STATE``): incomes and employment from
    the population; ``own`` marks the regions this state runs (default: all), whose entities
    are the only ones it writes (``engine.owned``)."""
    P = plan.params
    arrays = layout.allocate(state_sizes(plan), None if own is None else entity_ranges(P, own))
    lo, hi = people_span(P, own)
    arrays["income_f"][lo:hi] = arrays["income_t"][lo:hi] = pop.income[lo:hi]
    arrays["employed"][lo:hi] = (pop.employer[lo:hi] >= 0).astype(np.uint8) * 3
    arrays["cnt"][kernel.C_PFREE] = arrays["cnt"][kernel.C_LFREE] = -1  # the free lists are empty
    if own is not None:
        arrays["own"][:] = own.astype(np.uint8)
    return kernel.State(**arrays)


def start_points(scenario: Scenario, pop: Population, ids: np.ndarray) -> np.ndarray | None:
    """The starting points above the base of the people ``ids``, each drawn from their group's
    distribution (``scoring.start``) with one counter-based uniform (stream ``scoring.start``);
    None without a start distribution."""
    start = scenario.scoring.start
    if start is None:
        return None
    u = Stream(scenario.run.seed, "scoring.start").uniform(ids)
    value = np.full(len(ids), scenario.scoring.base)
    group = pop.group[ids]
    for gi, gname in enumerate(pop.group_names):
        dist = start.by_group.get(gname, start.default)
        if dist is None:
            continue
        members = group == gi
        cdf = np.cumsum(dist.shares)
        idx = np.minimum(np.searchsorted(cdf / cdf[-1], u[members], side="right"), len(dist.values) - 1)
        value[members] = np.asarray(dist.values, dtype=np.float64)[idx]
    return value - scenario.scoring.base


def halo_start(scenario: Scenario, pop: Population, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What a worker reads at day 0 of people ``ids`` of its regions whom another worker's
    people know (its halo: ``engine.owned.halo``): their starting points above the base (0
    without a start distribution) and whether each is scored."""
    points = start_points(scenario, pop, ids) if len(ids) else None
    return (np.zeros(len(ids)) if points is None else points,
            (pop.age[ids] >= scenario.scoring.min_age).astype(np.uint8))


def _start_scores(scenario: Scenario, pop: Population, plan: Plan, S: kernel.State,
                  told: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The state's people's starting points (``start_points``) in every view; returns the
    halo (``engine.owned.halo``), its starting points and whether each is scored, as the
    kernels' ``init_scores`` reads them: read from ``pop`` (which then holds everyone), or
    ``told`` by the halo's own workers (ids, points, scored)."""
    P = plan.params
    lo, hi = people_span(P, S.own)
    points = start_points(scenario, pop, np.arange(lo, hi, dtype=np.int64))
    if points is not None:
        S.raw[:, lo:hi, 0] = points[None, :]
    if told is not None:
        ids, points, scored = told
    else:
        ids = halo(P, S.own) if not S.own.all() else np.zeros(0, dtype=np.int64)
        points, scored = halo_start(scenario, pop, ids)
    raw = np.zeros((S.raw.shape[0], len(ids), S.raw.shape[2]))
    raw[:, :, 0] = points[None, :]
    return ids, raw, scored


def sync(S: kernel.State, SR: kernel.StateRef) -> kernel.State:
    """The state with the arrays the kernels grow themselves (outbox, pending flags) taken
    from the kernels' reference: call before building a new reference from ``S``."""
    return S._replace(**dict(zip(kernel.GROWN_IN_KERNEL, kernel.grown_arrays(SR))))


def expected_records(plan: Plan, own: np.ndarray | None = None) -> float:
    """Records the run is expected to make (of the ``own`` regions' actors: by default every
    region's): acts at each behaviour's rate for each actor's fixed attributes (before
    deterrence and income effects), times the channels' coverage and detection (acts searched
    1:N make a record only on an alert, so not counted). A first size for the record arrays,
    so that a run seldom grows them (each growth copies them and touches fresh memory)."""
    P = plan.params
    if own is None:
        own = np.ones(P.city_join.shape[0], dtype=np.uint8)
    regions = np.flatnonzero(own)
    people = [(int(P.reg_p0[r]), int(P.reg_p0[r + 1])) for r in regions]
    n_people = float(sum(hi - lo for lo, hi in people))
    n_firms = float(sum(int(P.reg_f0[r + 1] - P.reg_f0[r]) for r in regions))
    B = P.b_kind.shape[0]
    total = 0.0
    per_code: dict[int, np.ndarray] = {}  # people per class code, by class row (rows are shared)
    for b in range(B):
        seen = sum(P.c_cov[c] * P.cb_det[c, b] for c in P.bc_idx[P.bc_ptr[b]:P.bc_ptr[b + 1]]
                   if P.c_enabled[c] and P.c_id_beh[c] != b)
        if seen == 0.0 or P.t_lam[b] <= 0.0:
            continue
        row = P.t_cls_row[b]
        if P.t_firm[b]:
            actors = n_firms
        elif row < 0:
            actors = n_people
        else:
            if row not in per_code:
                per_code[row] = sum((np.bincount(class_codes(P, row, lo, hi), minlength=P.t_fac.shape[1])
                                     for lo, hi in people), np.zeros(P.t_fac.shape[1], dtype=np.int64))
            actors = float(per_code[row] @ P.t_fac[b])
        total += P.t_lam[b] * actors * P.n_steps * seen
    return total


def _grow_records(S: kernel.State, needed: int, keep: bool, delayed: int = 0) -> kernel.State:
    """Make room for `needed` more records, `delayed` of them maybe waiting in the pool of
    delayed records, besides those waiting there now (amortised doubling); in the identity
    columns only when ``keep`` (the records are handed back)."""
    used, waiting = int(S.cnt[kernel.C_NREC]), int(S.cnt[kernel.C_NPOOL])
    grown = {}
    if used + waiting + needed > S.r_subj.shape[0]:
        if used + waiting + needed > MAX_RECORDS:
            raise UsageError(f"the run makes more than {MAX_RECORDS:,} records in one process; "
                             "split it over more shards (--shards) or shorten it")
        cap = min(max(used + waiting + needed, 2 * S.r_subj.shape[0], 1024), MAX_RECORDS)
        grown |= _grown(S, RECORD_COLUMNS, cap, used, skip=() if keep else IDENTITY_COLUMNS)
    if waiting + delayed > S.p_subj.shape[0]:
        cap = max(waiting + delayed, 2 * S.p_subj.shape[0], 1024)
        grown |= _grown(S, POOL_COLUMNS, cap, int(S.cnt[kernel.C_PTOP]))
    return S._replace(**grown) if grown else S


def _grown(S: kernel.State, columns: dict[str, type], cap: int, used: int,
           skip: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Copies of ``columns`` of S with room for ``cap`` rows (the first ``used`` kept); the room
    holds no memory until written (``layout.lazy_zeros``: a shard's room is sized for every
    region's records, and fills with its own only)."""
    grown = {}
    for name in columns:
        if name in skip:
            continue
        old = getattr(S, name)
        arr = layout.lazy_zeros((cap,), old.dtype)
        arr[:used] = old[:used]
        grown[name] = arr
    return grown


def without_records(S: kernel.State) -> kernel.State:
    """S with empty record and pool columns (theirs are freed once nothing else holds them)."""
    return S._replace(**{k: np.zeros(0, dtype=getattr(S, k).dtype) for k in (*RECORD_COLUMNS, *POOL_COLUMNS)})


def check_identities(S: kernel.State, keep_records: bool) -> None:
    """A run resumed to hand its records back needs the records' identities saved."""
    if keep_records and S.r_actor.shape[0] < S.cnt[kernel.C_NREC]:
        raise UsageError("the checkpoint was saved by a run that kept no records; resume it without them")


def initial_state(scenario: Scenario, pop: Population, plan: Plan, PR: kernel.ParamsRef,
                  own: np.ndarray | None = None, keep_records: bool = True,
                  halo_told: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
                  ) -> tuple[kernel.State, np.ndarray, np.ndarray]:
    """The state before step 0 (start scores, grades, histograms of the ``own`` regions) and
    each person's start grade and score; ``halo_told``: the halo's (ids, starting points,
    scored) from their own workers, where ``pop`` holds the own regions' people only."""
    S = _alloc_state(plan, pop, own)
    if plan.params.enabled:
        # 10 % over the expectation: deterrence only lowers it, and untouched room costs no memory
        S = _grow_records(S, int(1.1 * expected_records(plan, own)), keep_records)
    halo_ids, halo_raw, halo_scored = _start_scores(scenario, pop, plan, S, halo_told)
    SR = kernel.make_state(S)
    kernel.init_scores(PR, SR, halo_ids, halo_raw, halo_scored)
    kernel.init_buckets(PR, SR)
    return (S, *reported_start(plan, S))


def reported_start(plan: Plan, S: kernel.State) -> tuple[np.ndarray, np.ndarray]:
    """Each person's grade and score as the reported period starts (no grade: nan score)."""
    lo, hi = people_span(plan.params, S.own)
    start_grade = S.grade[lo:hi].copy()
    return start_grade, np.where(start_grade == NO_GRADE, np.nan, S.total[lo:hi])


def start_reporting(plan: Plan, PR: kernel.ParamsRef, S: kernel.State, SR: kernel.StateRef
                    ) -> tuple[kernel.State, np.ndarray, np.ndarray]:
    """At the end of a burn-in: outcome counters, money and income lost start from here, and
    the people's start grades and scores are taken now (run.burn_in, docs/day-loop.md)."""
    kernel.start_reporting(PR, SR)
    S = sync(S, SR)
    return (S, *reported_start(plan, S))


def metrics_columns(plan: Plan, M: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    """The metrics matrix as named columns, with ``step`` and ``day``."""
    P = plan.params
    n = P.n_steps - P.report_from  # (the burn-in's steps are not reported)
    metrics = {"step": np.arange(n, dtype=np.int64), "day": np.arange(n) * P.dt}
    for i, name in enumerate(names):
        # (a stock counted as its changes: their running sum from the first step, burn-in included)
        metrics[name] = np.cumsum(M[:, i])[P.report_from:] if layout.accumulated(name) else M[P.report_from:, i]
    return metrics


def data_held(plan: Plan, S: kernel.State) -> dict[str, np.ndarray]:
    """What is held about each person at the end: live records (``State.held``), and the
    distinct channels and behaviour domains those records come from (read from the records
    before they are freed)."""
    P = plan.params
    lo, hi = people_span(P, S.own)
    channels, domains = _distinct_sources(S.subj_head[lo:hi], S.r_prev, S.r_flags, S.r_chan, S.r_beh, P.b_domain,
                                          hi - lo, len(plan.channel_names), int(P.b_domain.max(initial=-1)) + 1)
    return {"records_held": S.held[lo:hi], "channels_holding": channels, "domains_holding": domains}


#: People whose chains of records ``_distinct_sources`` walks at once.
_LANES = 16


@nb.njit(cache=True)
def _distinct_sources(head, prev, flags, chan, beh, b_domain, n, n_chan, n_dom):
    """Per person, the distinct channels and domains of their live records: a walk down each
    person's chain of records, marking what was seen with the person's id (no clearing).
    Each step of a walk waits on a load from a random place, so _LANES people are walked at
    once, in turns, their next records prefetched: the loads overlap (one person at a time
    took 1.5 s of a Rongcheng year). Each lane marks in its own row: the counts are the same."""
    channels = np.zeros(n, dtype=np.int16)
    domains = np.zeros(n, dtype=np.int16)
    seen_c = np.full((_LANES, n_chan), -1, dtype=np.int64)
    seen_d = np.full((_LANES, max(n_dom, 1)), -1, dtype=np.int64)
    who = np.full(_LANES, -1, dtype=np.int64)  # the person each lane walks
    at = np.full(_LANES, -1, dtype=np.int64)  # that person's next record (-1: the walk is done)
    nxt = 0
    idle = 0
    while idle < _LANES:
        idle = 0
        for lane in range(_LANES):
            r = at[lane]
            if r < 0:  # the next person with records (their first record prefetched, read next turn)
                while nxt < n and head[nxt] < 0:
                    nxt += 1
                if nxt >= n:
                    idle += 1
                    continue
                r = head[nxt]
                who[lane] = nxt
                nxt += 1
            else:
                e = who[lane]
                if (flags[r] & _STATE_BITS) >> 2 == _ACTIVE:
                    c = chan[r]
                    if seen_c[lane, c] != e:
                        seen_c[lane, c] = e
                        channels[e] += 1
                    d = b_domain[beh[r]]
                    if seen_d[lane, d] != e:
                        seen_d[lane, d] = e
                        domains[e] += 1
                r = prev[r]
            at[lane] = r
            if r >= 0:
                prefetch(prev, r)
                prefetch(flags, r)
                prefetch(chan, r)
                prefetch(beh, r)
    return channels, domains


def end_state(plan: Plan, S: kernel.State, start_grade: np.ndarray, start_score: np.ndarray,
              keep_records: bool = True) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per-person end state and the records (empty unless ``keep_records``): views of the
    state's arrays where they can be (copying them took fresh memory at the run's peak, and
    0.2 s of a 4.8 s Rongcheng year for the records alone), new arrays for what is derived
    (income lost, counters with their wraps, list membership; records' visibility step,
    error, state, and those still delayed); what the views do not hold is freed with the
    state."""
    lo, hi = people_span(plan.params, S.own)  # (a shard's people: the others' entries are never written)
    people = {
        "start_score": start_score,
        "start_grade": start_grade,
        "score": S.total[lo:hi],
        "grade": S.grade[lo:hi],
        "income": S.income_f[lo:hi],
        "income_twin": S.income_t[lo:hi],
        "income_lost": S.loss_f[lo:hi] - S.loss_t[lo:hi],
        "money": S.money[lo:hi],
        "employed": (S.employed[lo:hi] & 1).astype(bool),
        **counters(S, lo, hi),
    }
    for li, lname in enumerate(plan.list_names):
        people[f"listed.{lname}"] = (S.on_list[li, lo:hi] & 1).astype(bool)
    if plan.params.as_on:  # what contacts add to the score, and how the person counts for theirs
        P = plan.params
        people["association"] = np.clip(S.asc[0, lo:hi] * ASSOCIATION_UNIT, -P.as_cap, P.as_cap)
        people["counts_against_contacts"] = (S.amark[lo:hi] & 1).astype(bool)
        people["counts_for_contacts"] = (S.amark[lo:hi] & 2).astype(bool)
    if not keep_records:
        return people, {}
    n_rec = int(S.cnt[kernel.C_NREC])
    records = {k[2:]: getattr(S, k)[:n_rec] for k in ("r_subj", "r_actor", "r_beh", "r_chan", "r_step")}
    flags = S.r_flags[:n_rec]
    # the step each became visible, from the first id of each step (int32: a record still delayed
    # may be due after the run)
    starts = S.vis_start[1: plan.params.n_steps]
    records["vis"] = np.searchsorted(starts, np.arange(n_rec), side="right").astype(np.int32)
    slots, chan = _waiting(S)
    if slots.size:  # records still delayed at the end: after the others, state pending
        extra = {"subj": S.p_subj[slots], "actor": S.p_actor[slots], "beh": S.p_beh[slots], "chan": chan,
                 "step": S.p_step[slots], "vis": S.p_vis[slots]}
        records = {k: np.concatenate([v, extra[k].astype(v.dtype)]) for k, v in records.items()}
        flags = np.concatenate([flags, S.p_flags[slots]])
    records["err"] = flags & np.uint8(kernel.ERR_BITS)
    records["state"] = (flags & np.uint8(kernel.STATE_BITS)) >> np.uint8(2)
    return people, records


#: The people's outcome counters handed back, by their rows of ``State.out``.
COUNTERS = {
    "acts_suppressed": kernel.OUT_SUPP, "refusals": kernel.OUT_REFUSED, "sanctions": kernel.OUT_SANCTIONS,
    "rewards": kernel.OUT_REWARDS, "wrongful_sanctions": kernel.OUT_WRONGFUL,
    "association_sanctions": kernel.OUT_ASSOC, "flags": kernel.OUT_FLAGGED,
    "investigations": kernel.OUT_INVESTIGATED, "erroneous_records": kernel.OUT_RECORDS_ERR,
    "linked_sanctions": kernel.OUT_LINKED,
    "false_flags": kernel.OUT_FALSE_FLAGGED, "records_for_child": kernel.OUT_CHILD_RECORDS,
}


def counters(S: kernel.State, lo: int, hi: int) -> dict[str, np.ndarray]:
    """The outcome counters of entities lo .. hi - 1 as int32, their int8 wraps added back."""
    code = S.carry[: int(S.cnt[kernel.C_NCARRY])]
    step = np.where(code & 1, 256, -256)
    entity, row = np.divmod(code >> 1, kernel.N_OUT)
    out = {}
    for name, k in COUNTERS.items():
        col = S.out[k, lo:hi].astype(np.int32)
        mine = (row == k) & (entity >= lo) & (entity < hi)
        np.add.at(col, entity[mine] - lo, step[mine])
        out[name] = col
    return out


def _waiting(S: kernel.State) -> tuple[np.ndarray, np.ndarray]:
    """Pool slots of the records the channels still delay (each channel's queue in order),
    and their channels."""
    return _walk_queues(S.ch_pend, S.p_next, int(S.cnt[kernel.C_NPOOL]))


@nb.njit(cache=True)
def _walk_queues(heads, nxt, n):
    slots = np.empty(n, dtype=np.int64)
    chan = np.empty(n, dtype=np.uint8)
    m = 0
    for c in range(heads.shape[0]):
        i = heads[c, 0]
        while i >= 0 and m < n:
            slots[m] = i
            chan[m] = c
            m += 1
            i = nxt[i]
    return slots[:m], chan[:m]


class Setup(NamedTuple):
    """What every run of a scenario starts from: the plan and its kernel handle, and the
    per-step metrics (zeros) with their names and kernel handle (which holds ``M`` itself)."""

    plan: Plan
    PR: Any
    M: np.ndarray
    names: list[str]
    QR: Any


def setup(scenario: Scenario, pop: Population, contacts: Contacts, shared: tuple[Plan, Any] | None = None) -> Setup:
    """The plan and the metrics of a run, as the single-process loop, a shard and the sharded
    driver all start (a shard and the driver each fill the metrics they own). ``shared``: a
    (plan, its ParamsRef) already compiled in this process, which the kernels only read (the
    shard workers of a threaded run share the driver's)."""
    plan = compile_plan(scenario, pop, contacts) if shared is None else shared[0]
    MO, names = metric_layout(plan)
    M = np.zeros((plan.params.n_steps, len(names)))
    PR = kernel.make_params(plan.params) if shared is None else shared[1]
    return Setup(plan, PR, M, names, kernel.make_metrics(kernel.Metrics(M, MO)))


def simulate(
    scenario: Scenario,
    pop: Population,
    contacts: Contacts,
    progress: Callable[[int, int], None] | None = None,
    checkpoint: Checkpoint | None = None,
    keep_records: bool = True,
    park: Path | None = None,
) -> RunOutput:
    """Run the scenario's day loop with its twin; returns metrics and end state.

    With ``checkpoint``, the run continues from the checkpoint's saved state if it has one,
    and saves its state every ``checkpoint.every`` steps. Without ``keep_records`` the
    output has no records, and their memory is freed when the run ends (results folders do
    not hold records). With ``park``, the population's columns the day loop does not read
    wait in that folder while it runs (``Population.parked``)."""
    with compile_watch() as watch:
        t0 = time.perf_counter()
        plan, PR, M, names, QR = setup(scenario, pop, contacts)
        P = plan.params
        saved = checkpoint.load(state_sizes(plan), M.shape[1]) if checkpoint is not None else None
        if saved is not None:
            if saved.metrics.shape[1] != M.shape[1] or not 0 <= saved.step <= P.n_steps:
                raise UsageError(f"{checkpoint.folder}: checkpoint does not fit this run; start the run again")
            S = restore_state(saved, RECORD_COLUMNS)
            check_identities(S, keep_records)
            M[: saved.step] = saved.metrics
            start_grade, start_score = saved.start_grade, saved.start_score
            first = saved.step
        else:
            S, start_grade, start_score = initial_state(scenario, pop, plan, PR, keep_records=keep_records)
            SR = kernel.make_state(S)
            if P.enabled and P.n_steps > 0:
                kernel.init_lists(PR, SR, QR)
                kernel.exchange(PR, SR, QR, 0)  # joint listings of representatives elsewhere
            S = sync(S, SR)
            first = 0
        SR = kernel.make_state(S)
        with contextlib.ExitStack() as parked:
            if park is not None:  # (the plan and the state hold what the loop reads of the population)
                parked.enter_context(pop.parked(park))
                release()  # (columns under glibc's mmap threshold leave their pages in the heap)
            counts = np.zeros((P.t_lam.shape[0], P.city_join.shape[0]), dtype=np.int64)
            n = P.n_steps
            # Steps run in chunks inside numba; a chunk ends at a checkpoint, when the records need
            # more room, and (with a progress callback) every 1 % of the run so progress stays live.
            chunk = max(1, n // 100) if progress is not None else n
            s = first
            while s < n:
                stop = min(n, s + chunk)
                if checkpoint is not None and checkpoint.every > 0:
                    stop = min(stop, (s // checkpoint.every + 1) * checkpoint.every)
                if s < P.report_from:
                    stop = min(stop, P.report_from)
                reached = int(kernel.run_steps(PR, SR, QR, s, stop, counts))
                if progress is not None:
                    for done in range(s + 1, reached + 1):
                        progress(done, n)
                advanced, s = reached > s, reached
                if advanced and s == P.report_from > 0:  # the burn-in is over (before a save at this step)
                    S, start_grade, start_score = start_reporting(plan, PR, S, SR)
                if s < stop:  # step s could overflow the record arrays: grow them (new arrays, new reference)
                    bound = int(kernel.draw_counts(PR, s, counts))
                    S = _grow_records(sync(S, SR), bound, keep_records, bound if plan.delays else 0)
                    SR = kernel.make_state(S)
                elif checkpoint is not None and checkpoint.due(s, n):
                    S = sync(S, SR)
                    checkpoint.save(s, S, M, start_grade, start_score)
            wall = time.perf_counter() - t0 - watch.seconds  # (a first run's compilation is not its speed)
            metrics = metrics_columns(plan, M, names)
            S = sync(S, SR)  # (the counters' carries are grown by the kernels)
            held = data_held(plan, S)
            if not keep_records:  # free the records before the end state derives its columns (the run's peak)
                del SR
                S = without_records(S)
            people, records = end_state(plan, S, start_grade, start_score, keep_records)
            people |= held
        return RunOutput(metrics=metrics, people=people, records=records, plan=plan, wall_seconds=wall,
                         n_steps=P.n_steps - P.report_from, first_step=first, burn_in_steps=P.report_from,
                         compile_seconds=watch.seconds)
