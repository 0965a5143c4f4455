"""Sharded runs: one run's regions (cities) split across workers, which exchange each step
what crosses regions. The result is byte-identical to the single-process run.

Why it is identical. A step is region-phased, in the order of ``engine.steps.PHASES``
(checked for both loops by ``tests/test_steps.py``): before the local work every worker is
given the national list stocks as the previous step left them (the watchlists' sizes fix
the false-alert chance of face identification); every region does its own work, effects on
another region's people going to an outbox; outboxes are delivered in (destination region,
source region) order, in rounds, until no more messages arise; the national part runs on
the flags gathered from every region, its messages delivered the same way; the stocks are
summed with float sums added region by region in region order.

A region's state is touched only by its own work and by its messages, in an order that
does not depend on which worker holds which region. The single-process run does exactly
these steps with every region in one state. ``tests/test_sharded.py`` checks 1, 2 and 3
workers, in process and on Ray, and 1 to 4 threads.

Threads (backend "threads", ``scorelab run --threads N``) are the same workers in one process,
each called on a thread of its own: the kernels they call release the GIL (``kernel.entry``),
so the regions' work of a step runs on as many cores, and the driver's part (the exchange, the
national queues, the stocks) runs between, on one.

Memory. A worker's state holds its own regions' entities only (``engine.owned``): the
per-entity arrays are indexed by global id, so the kernels translate nothing, but only the
worker's ranges of them are ever written, and the other pages hold no memory. Its records,
list slots and end state are its regions' too, and its checkpoint part holds its entities'
part of each array. What else a worker holds (``divide``): threads and the actors of a local
Ray read the driver's population, contacts and plan (the plan's arrays are read-only, so
Ray's shared copies need none of their own); on a cluster each actor builds its own cities'
people and contacts with the others and compiles the plan of its own regions
(``shard_build``, ``plan.part``), or, where the day loop reads a drawn layer, builds everyone
and compiles its own regions' plan. The driver still holds everyone: docs/distributed.md.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np

from scorelab.engine import kernel
from scorelab.engine.checkpoint import Checkpoint, restore_state, saved_from_arrays, state_arrays
from scorelab.engine.simulation import (
    RECORD_COLUMNS, RunOutput, _grow_records, check_identities, data_held, end_state, initial_state, setup,
    metrics_columns, start_reporting, state_sizes, sync, without_records,
)
from scorelab.engine.layout import STATE, lazy_zeros
from scorelab.engine.owned import compact, expand, people_span, region_sizes
from scorelab.engine.plan import compile_plan
from scorelab.engine.shard_build import BY_CITIES, CityBuilt, build_by_cities, can_build_by_cities
from scorelab.errors import UsageError
from scorelab.jit_cache import compile_watch
from scorelab.memory import process_memory, release


#: By default (``threads_for``) a run of fewer people runs on one thread: a small run's steps
#: are short beside the driver's exchange (an assumption:
#: measured only at 670,000 and 1,000,000 people, 1.04-1.11x on 2 threads, docs/performance.md)
AUTO_THREADS_PEOPLE = 200_000


def available_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def threads_for(scenario: Any, requested: int | None) -> int:
    """The threads a run uses: ``requested`` (None: every core the process may use, for a run
    of ``AUTO_THREADS_PEOPLE`` people or more), at most one per region; 1 is the single-process
    loop."""
    if requested is None:
        requested = available_cores() if scenario.population.people >= AUTO_THREADS_PEOPLE else 1
    if requested < 1:
        raise UsageError(f"--threads: must be at least 1, got {requested}")
    return max(1, min(int(requested), len(scenario.population.regions)))


def check_shards(scenario: Any, shards: int) -> None:
    """UsageError (one line) unless the scenario's regions can be split over ``shards`` workers."""
    regions = len(scenario.population.regions)
    if shards < 1:
        raise UsageError(f"--shards: must be at least 1, got {shards}")
    if shards > regions:
        raise UsageError(f"--shards: the population has {regions} region(s) (cities), so at most {regions} "
                         f"shard(s); got {shards}")


def assign_regions(entities_per_region: np.ndarray, shards: int) -> np.ndarray:
    """Owner shard of each region: contiguous runs of regions with about equal entity counts."""
    total = float(entities_per_region.sum())
    cum = np.cumsum(entities_per_region) - entities_per_region / 2.0
    owner = np.floor(cum / max(total, 1.0) * shards).astype(np.int64)
    return np.clip(owner, 0, shards - 1)


class Reply(NamedTuple):
    """A shard's answer to every call (see ``ShardWorker._reply``)."""

    mi: np.ndarray
    mx: np.ndarray
    key: np.ndarray
    pending: np.ndarray
    ghist: np.ndarray
    l_stock: np.ndarray
    ssum: np.ndarray
    money: np.ndarray


class ShardWorker(CityBuilt):
    """The regions of one shard: their state, and the kernels run on it. Used directly
    (in-process backend) or as a Ray actor."""

    def __init__(self, scenario_data: dict[str, Any], own_regions: list[int], built: Any = None,
                 keep_records: bool = True, plan: Any = None) -> None:
        """``built``: the (population, contacts) the driver built, shared instead of built again
        (through Ray's object store, read-only); None builds them from the scenario's seed;
        ``BY_CITIES`` builds the worker's regions alone, with the other workers, in the steps
        of ``shard_build.build_by_cities``.
        ``keep_records``: whether the records will be handed back (and so keep their identities).
        ``plan``: the driver's (plan, ParamsRef), shared by the workers in its process, or its
        plan alone (a Ray actor on the driver's machine reads it from the object store: its
        arrays are read-only, as the kernels take every plan's), or a ``PlanPart`` of every
        region (the facts the parts agree on): the worker compiles the plan of its own regions'
        entities alone (``plan.part``)."""
        from scorelab.engine.plan import PlanPart
        from scorelab.scenario.loader import load
        from scorelab.synth.cache import cached_world

        self.scenario = load(scenario_data)
        self.own_regions = sorted(int(r) for r in own_regions)
        self.keep_records = keep_records
        self.peak_own = 0  # the most resident memory of this process's own seen (``memory``)
        if isinstance(built, str) and built == BY_CITIES:
            return  # (built with the other workers, step by step: ``shard_build.build_by_cities``)
        pop, contacts = built if built is not None else cached_world(self.scenario, layers="read")
        if isinstance(plan, PlanPart):
            own_plan = compile_plan(self.scenario, pop, contacts,
                                    replace(plan, regions=np.array(self.own_regions, dtype=np.int64)))
            plan = (own_plan, kernel.make_params(own_plan.params))
        elif plan is not None and not isinstance(plan, tuple):
            plan = (plan, kernel.make_params(plan.params))
        self._start(pop, contacts, plan)

    def _start(self, pop: Any, contacts: Any, plan: Any, halo_told: Any = None) -> None:
        """The worker's plan and its state at day 0 (the halo's starting points read from
        ``pop``, or ``halo_told`` by their workers)."""
        self.plan, self.PR, self.M, _, self.QR = setup(self.scenario, pop, contacts, plan)  # (QR holds M itself)
        P = self.plan.params
        own = np.zeros(P.city_join.shape[0], dtype=np.uint8)
        own[self.own_regions] = 1
        self.S, self.start_grade, self.start_score = initial_state(self.scenario, pop, self.plan, self.PR, own,
                                                                   self.keep_records, halo_told)
        self.SR = kernel.make_state(self.S)
        self.counts = np.zeros((P.t_lam.shape[0], P.city_join.shape[0]), dtype=np.int64)
        release()  # (what the plan and the start left in the heap: about 20 B a person)

    def start(self) -> Reply:
        """Day-0 listings of the starting grades."""
        P = self.plan.params
        if P.enabled and P.n_steps > 0:
            kernel.init_lists(self.PR, self.SR, self.QR)
        return self._reply()

    def local(self, s: int, l_stock: np.ndarray) -> Reply:
        """The regions' own work in step s (room for the step's records made first), with the
        national list stocks ``l_stock`` as the step starts."""
        self.S.money_r[:, :] = 0.0  # money is summed per step
        bound = int(kernel.draw_counts(self.PR, s, self.counts))
        delayed = bound if self.plan.delays else 0
        # (the records' room and counters are current in S; the arrays the kernels grow are
        # copied out of them only when the records must grow: a copy each step cost more than
        # the step in a threaded run)
        if _grow_records(self.S, bound, self.keep_records, delayed) is not self.S:
            self.S = _grow_records(sync(self.S, self.SR), bound, self.keep_records, delayed)
            self.SR = kernel.make_state(self.S)
        kernel.search_odds(self.PR, self.SR, np.ascontiguousarray(l_stock, dtype=np.int64))
        kernel.local_phase(self.PR, self.SR, self.QR, s, self.counts)
        self.peak_own = max(self.peak_own, process_memory().get("RssAnon", 0))
        return self._reply()

    def deliver(self, s: int, mi: np.ndarray, mx: np.ndarray) -> Reply:
        """Apply messages to the regions' entities in the given order."""
        if len(mi):
            kernel.deliver(self.PR, self.SR, self.QR, s, mi, mx)
        return self._reply()

    def _reply(self) -> Reply:
        """What the driver needs after every call, so that a step takes as few round trips as
        there are exchange rounds: the outbox and the flags raised since the last reply (both
        emptied), and this shard's stocks as they are now."""
        S = self.S
        mi, mx, key = kernel.take_outbox(self.SR)
        return Reply(mi, mx, key, kernel.take_pending(self.SR), S.ghist.copy(), S.l_stock.copy(),
                     S.ssum.copy(), S.money_r.copy())

    def trajectories(self, s: int) -> None:
        """The sampled people of this shard's regions at the end of step s."""
        kernel.trajectories(self.PR, self.SR, self.QR, s)

    def snapshot(self, steps_done: int) -> dict[str, np.ndarray]:
        """This shard's state after ``steps_done`` steps, for a checkpoint: its own entities'
        part of the per-entity arrays (``owned.compact``)."""
        self.S = sync(self.S, self.SR)
        arrays = state_arrays(self.S, self.M[:steps_done], self.start_grade, self.start_score)
        return compact(arrays, region_sizes(self.plan.params), self.S.own)

    def restore(self, step: int, arrays: dict[str, np.ndarray]) -> Reply:
        """Continue from a checkpoint's state of this shard (saved after ``step`` steps)."""
        shapes = {f"S.{a.name}": a.shape(state_sizes(self.plan)) for a in STATE}
        # (new arrays: those that came through Ray's object store are read-only)
        saved = saved_from_arrays(step, expand(arrays, shapes, region_sizes(self.plan.params), self.S.own))
        self.S = restore_state(saved, RECORD_COLUMNS)
        check_identities(self.S, self.keep_records)
        self.SR = kernel.make_state(self.S)
        self.M[:step] = saved.metrics
        self.start_grade, self.start_score = saved.start_grade, saved.start_score
        return self._reply()

    def start_reporting(self) -> None:
        """The burn-in is over: counters start again, start grades and scores are taken now."""
        self.S, self.start_grade, self.start_score = start_reporting(self.plan, self.PR, self.S, self.SR)

    def finish(self) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray], tuple[int, int]]:
        """Metrics counted here, the end state of this shard's people, records (if kept), and
        those people's ids ``[lo, hi)``."""
        self.S = sync(self.S, self.SR)  # (the counters' carries are grown by the kernels)
        held = data_held(self.plan, self.S)
        if not self.keep_records:  # the records freed before the end state derives its columns
            self.SR = None
            self.S = without_records(self.S)
        people, records = end_state(self.plan, self.S, self.start_grade, self.start_score, self.keep_records)
        people |= held
        return self.M, people, records, people_span(self.plan.params, self.S.own)

    def memory(self) -> dict[str, int]:
        """This worker's process: peak resident memory (``VmHWM``) and the most resident memory
        of its own seen after a step's local work (``RssAnon``; ``own_peak``); a local Ray's
        actors also map the driver's population from the object store (``RssShmem``)."""
        now = process_memory()
        return {"peak": now.get("VmHWM", 0), "own_peak": max(self.peak_own, now.get("RssAnon", 0)),
                "shared": now.get("RssShmem", 0)}


class _Pool:
    """The shard workers, in process or as Ray actors, called all at once."""

    def __init__(self, scenario_data: dict[str, Any], owner: np.ndarray, shards: int, backend: str,
                 address: str | None, built: Any, keep_records: bool = True, plan: Any = None) -> None:
        self.ray = None
        self.started = False
        self.threads: ThreadPoolExecutor | None = None
        regions = [np.flatnonzero(owner == k).tolist() for k in range(shards)]
        if backend == "ray":
            from scorelab.engine.ray_start import start_ray

            # (a local Ray gets a CPU for each actor, however many cores: an actor waiting for a
            # CPU would leave the run waiting for ever)
            ray, self.started = start_ray("--shards", address, log_to_driver=False,
                                          num_cpus=max(available_cores(), shards))
            self.ray = ray
            cpus = int(ray.cluster_resources().get("CPU", 0))
            if cpus < shards:
                self.close()
                raise UsageError(f"--shards: {shards} actors need a CPU each, and the Ray "
                                 f"{'cluster at ' + address if address else 'instance'} has {cpus}; "
                                 f"ask for at most {cpus} shards or add machines")
            actor = ray.remote(num_cpus=1)(ShardWorker)
            # on one machine the actors read the driver's population and plan from shared memory;
            # on a cluster each builds its own cities with the others (``built`` BY_CITIES), or the
            # whole population from the seed, and compiles the plan of its own regions
            local_ray = address is None
            shared = built if isinstance(built, str) else (ray.put(built) if local_ray else None)
            # (the driver's plan shared on one machine; on a cluster a PlanPart, or None: compiled there)
            shared_plan = (ray.put(plan[0]) if local_ray else None) if isinstance(plan, tuple) else plan
            self.workers = [actor.remote(scenario_data, r, shared, keep_records, shared_plan) for r in regions]
        elif backend in ("local", "threads"):
            self.workers = [ShardWorker(scenario_data, r, built, keep_records, plan) for r in regions]
            if backend == "threads":
                self.threads = ThreadPoolExecutor(max_workers=shards, thread_name_prefix="scorelab-shard")
        else:
            raise UsageError(f"unknown backend {backend!r} (choose ray, local or threads)")

    def call(self, method: str, args: list[tuple]) -> list[Any]:
        if self.ray is not None:
            return self.ray.get([getattr(w, method).remote(*a) for w, a in zip(self.workers, args)])
        if self.threads is not None:  # (in worker order, whichever finishes first)
            return list(self.threads.map(lambda wa: getattr(wa[0], method)(*wa[1]), zip(self.workers, args)))
        return [getattr(w, method)(*a) for w, a in zip(self.workers, args)]

    def close(self) -> None:
        """End the actors or threads, and the Ray instance if this run started it."""
        if self.threads is not None:
            self.threads.shutdown()
        if self.ray is not None:
            for w in getattr(self, "workers", []):
                self.ray.kill(w)
            if self.started:
                self.ray.shutdown()


class _Driver:
    """The latest reply of every shard, the flags raised since the national queues last took
    them, and the exchange of messages."""

    def __init__(self, pool: _Pool, owner: np.ndarray, R: int) -> None:
        self.pool, self.owner, self.R = pool, owner, R
        self.latest: list[Reply] = []
        self.pending: list[list[np.ndarray]] = [[] for _ in pool.workers]

    def _take(self, replies: list[Reply]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        self.latest = replies
        for k, r in enumerate(replies):
            if len(r.pending):
                self.pending[k].append(r.pending)
        return [(r.mi, r.mx, r.key) for r in replies]

    def call(self, method: str, args: list[tuple]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        return self._take(self.pool.call(method, args))

    def exchange(self, s: int, outboxes: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
        """Deliver messages in (destination region, source region) order, round after round."""
        R, n = self.R, len(self.pool.workers)
        while any(len(box[2]) for box in outboxes):
            mi = np.concatenate([box[0] for box in outboxes])
            mx = np.concatenate([box[1] for box in outboxes])
            key = np.concatenate([box[2] for box in outboxes])
            order = np.argsort(key, kind="stable")  # equal keys come from one region, hence one worker
            mi, mx, key = mi[order], mx[order], key[order]
            dest = self.owner[key // (R + 1)]
            outboxes = self.call("deliver", [(s, mi[dest == k], mx[dest == k]) for k in range(n)])

    def take_pending(self) -> np.ndarray:
        """Flags raised since the last call, each shard's in the order raised."""
        parts = [a for lst in self.pending for a in lst]
        self.pending = [[] for _ in self.pool.workers]
        return np.concatenate(parts) if parts else np.zeros((0, 3), dtype=np.int64)


#: What a sharded run's workers hold of the world (``simulate_sharded``'s ``divide``)
DIVIDE = ("shared", "plan", "cities")


def divide_for(scenario: Any, backend: str, address: str | None, divide: str | None) -> str:
    """What the workers hold: ``divide`` if given, else by where they run (``simulate_sharded``;
    on a cluster "shared" means that each actor builds and compiles everything itself)."""
    from scorelab.engine.plan import divides

    if divide is None:
        if backend != "ray" or address is None or not divides(scenario):
            return "shared"
        return "cities" if can_build_by_cities(scenario) else "plan"
    if divide not in DIVIDE:
        raise UsageError(f"divide: one of {', '.join(DIVIDE)}, not {divide!r}")
    if divide != "shared" and not divides(scenario):
        raise UsageError("divide: this scenario's plan cannot be compiled for some regions alone yet (an index "
                         "scheme's income term, or a behaviour of more than 8 static conditions); use 'shared'")
    if divide == "cities" and not can_build_by_cities(scenario):
        raise UsageError("divide: a drawn contact layer (storage: drawn) cannot be built by cities yet; "
                         "use 'plan' or store the layer")
    return divide


def whole_part(scenario: Any, pop: Any, contacts: Any) -> Any:
    """Every region as a ``PlanPart``, with the facts of everyone the parts' plans agree on
    (``plan.plan_facts``) and the trajectories' sample; a worker keeps its own regions of it,
    and the driver none (its plan holds no entity's entries)."""
    from scorelab.engine.plan import Context, PlanPart, plan_facts
    from scorelab.engine.plan.entities import trajectory_sample

    everyone = PlanPart.of_population(pop, range(len(pop.city_names)), np.zeros(0, dtype=np.int64))
    sample = trajectory_sample(Context.of(scenario, pop, contacts))
    return replace(everyone, trajectories=sample, facts=plan_facts(scenario, pop, contacts, everyone))


def simulate_sharded(
    scenario: Any,
    pop: Any,
    contacts: Any,
    shards: int,
    *,
    backend: str = "ray",
    address: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    checkpoint: Checkpoint | None = None,
    keep_records: bool = True,
    divide: str | None = None,
) -> RunOutput:
    """Run the scenario with its regions split over ``shards`` workers (``backend`` "ray",
    "threads" for as many threads of this process, or "local" for the same exchange in this
    process, one worker after the other); same output as ``simulate``. ``divide`` says what
    the workers hold of the world (``DIVIDE``): the driver's population, contacts and plan
    ("shared", on one machine), the driver's population and contacts with the plan of their
    own regions ("plan"), or their own regions' people, contacts and plan alone, built with
    each other ("cities", ``shard_build``); by default "shared", and on a Ray cluster
    (``address``) "cities", or "plan" where the day loop reads a drawn layer, or "shared" (each
    actor building and compiling everything) where the plan cannot be divided
    (``plan.divides``). With
    ``checkpoint`` the run continues from its latest save (made with as many shards) and
    saves every ``checkpoint.every`` steps: each shard's state and the national queues.
    Without ``keep_records`` the workers send back no records. The time numba spends compiling
    in this process (the threads' kernels on a first run) is left out of ``wall_seconds``, as
    ``simulate`` leaves it out; Ray actors compile in their own processes, where it is not seen."""
    with compile_watch() as watch:
        out = _simulate_sharded(scenario, pop, contacts, shards, backend=backend, address=address, progress=progress,
                                checkpoint=checkpoint, keep_records=keep_records, divide=divide)
    out.wall_seconds -= watch.seconds
    out.compile_seconds = watch.seconds
    return out


def _simulate_sharded(
    scenario: Any,
    pop: Any,
    contacts: Any,
    shards: int,
    *,
    backend: str,
    address: str | None,
    progress: Callable[[int, int], None] | None,
    checkpoint: Checkpoint | None,
    keep_records: bool,
    divide: str | None,
) -> RunOutput:
    check_shards(scenario, shards)
    divide = divide_for(scenario, backend, address, divide)
    t0 = time.perf_counter()
    # (workers that compile their own plans leave the driver a plan of no entity: its national
    # queues find an entity's region from the regions' ranges, and the results read those)
    everyone = whole_part(scenario, pop, contacts) if divide != "shared" else None
    driver_plan = None
    if everyone is not None:
        driver_plan = compile_plan(scenario, pop, contacts, replace(everyone, regions=np.zeros(0, dtype=np.int64)))
        driver_plan = (driver_plan, kernel.make_params(driver_plan.params))
    plan, PR, M, names, QR = setup(scenario, pop, contacts, driver_plan)  # M: the stocks here; counts from the workers
    P = plan.params
    R = int(P.city_join.shape[0])
    owner = assign_regions(np.diff(P.reg_base), shards)
    # national state: the flag queues, as in kernel.State
    FL, E = P.f_beh.shape[0], P.n_people + P.n_firms
    # (mapped lazily: a queue takes memory for the flags that wait in it)
    q_ent, q_truth = lazy_zeros((FL, E + 1), np.int32), lazy_zeros((FL, E + 1), np.uint8)
    q_head, q_len, f_budget = np.zeros(FL, dtype=np.int64), np.zeros(FL, dtype=np.int64), np.zeros(FL)
    data = scenario.model_dump(mode="json", by_alias=True)
    found = (checkpoint.load_parts(state_sizes(plan), M.shape[1], shards, region_sizes(P))
             if checkpoint is not None else None)
    if found is not None and found[1].get("national", {}).get("owner", np.zeros(0)).tolist() != owner.tolist():
        raise UsageError(f"{checkpoint.folder}: the checkpoint was made with another split into shards; "
                         f"resume it with the shards it was started with")
    # (in this process the workers read the driver's plan: compiling it is seconds of a million people's run;
    # on a cluster, or asked, each compiles the plan of its own regions, with the facts of everyone agreed)
    world: Any = BY_CITIES if divide == "cities" else (pop, contacts)
    shared_plan: Any = {"shared": (plan, PR), "plan": everyone, "cities": None}[divide]
    pool = _Pool(data, owner, shards, backend, address, world, keep_records, shared_plan)
    first = 0
    try:
        if divide == "cities":
            build_by_cities(pool, scenario, owner)
        drv = _Driver(pool, owner, R)
        if found is None:
            drv.exchange(0, drv.call("start", [()] * shards))
        else:
            first, parts = found
            nat = parts["national"]
            drv.call("restore", [(first, parts[f"state-{k}"]) for k in range(shards)])
            for name, arr in (("q_ent", q_ent), ("q_truth", q_truth), ("q_head", q_head), ("q_len", q_len),
                              ("f_budget", f_budget)):
                arr[...] = nat[name]
            M[:first] = nat["M"]
            drv.pending = [[nat[f"pending_{k}"]] for k in range(shards)]
        for s in range(first, P.n_steps + 1):
            if s == P.report_from > 0:  # the burn-in is over (again after a resume there: no change)
                pool.call("start_reporting", [()] * shards)
            if s == P.n_steps:
                break
            l_stock = sum(r.l_stock for r in drv.latest)  # (the national stocks as the step starts)
            drv.exchange(s, drv.call("local", [(s, l_stock)] * shards))
            if P.enabled:
                pf = drv.take_pending()
                drv.exchange(s, [kernel.serve_flags(PR, pf, q_ent, q_truth, q_head, q_len, f_budget)])
            ssum = np.zeros((R, drv.latest[0].ssum.shape[1]))
            money = np.zeros((R, P.k_kind.shape[0]))
            for k, r in enumerate(drv.latest):  # float sums: each region's own, as its shard has them
                ssum[owner == k] = r.ssum[owner == k]
                money[owner == k] = r.money[owner == k]
            ghist = sum(r.ghist for r in drv.latest)
            l_stock = sum(r.l_stock for r in drv.latest)
            kernel.stocks(PR, QR, s, ghist, l_stock, q_len, ssum, money)
            if P.tr_ids.size:  # (each worker writes its own sampled people)
                pool.call("trajectories", [(s,)] * shards)
            if progress is not None:
                progress(s + 1, P.n_steps)
            if checkpoint is not None and checkpoint.due(s + 1, P.n_steps):
                parts = {f"state-{k}": snap for k, snap in enumerate(pool.call("snapshot", [(s + 1,)] * shards))}
                pending = [np.concatenate(lst) if lst else np.zeros((0, 3), dtype=np.int64) for lst in drv.pending]
                parts["national"] = {"q_ent": q_ent, "q_truth": q_truth, "q_head": q_head, "q_len": q_len,
                                     "f_budget": f_budget, "M": M[: s + 1], "owner": owner,
                                     **{f"pending_{k}": p for k, p in enumerate(pending)}}
                checkpoint.save_parts(s + 1, parts)
        finished = pool.call("finish", [()] * shards)
        memory = pool.call("memory", [()] * shards) if backend == "ray" else []
    finally:
        pool.close()
    people: dict[str, np.ndarray] = {}
    for Mk, pk, _, (lo, hi) in finished:
        M += Mk  # each worker counted only its regions' events; the stocks columns are the driver's
        for name, arr in pk.items():
            if name not in people:
                people[name] = np.zeros(P.n_people, dtype=arr.dtype)
            people[name][lo:hi] = arr
    records = {name: np.concatenate([f[2][name] for f in finished]) for name in finished[0][2]} if keep_records else {}
    return RunOutput(metrics=metrics_columns(plan, M, names), people=people, records=records, plan=plan,
                     wall_seconds=time.perf_counter() - t0, n_steps=P.n_steps - P.report_from, first_step=first,
                     burn_in_steps=P.report_from, worker_memory=memory)
