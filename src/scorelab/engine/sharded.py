"""Sharded runs: one run's regions (cities) split across workers, which exchange each step
what crosses regions. The result is byte-identical to the single-process run.

Why it is identical. A step is region-phased (``kernel.step``):

1. every region does its own work (records, reviews, behaviours, consequences); effects on
   another region's people go to an outbox;
2. outboxes are delivered in (destination region, source region) order, in rounds, until
   no more messages arise;
3. the national parts run on counts gathered from every region (crowd-identification hits,
   then the flag queues and investigations), and their messages are delivered the same way;
4. the stocks are summed with float sums added region by region in region order.

A region's state is touched only by its own work and by its messages, in an order that
does not depend on which worker holds which region. The single-process run does exactly
these steps with every region in one state. ``tests/test_sharded.py`` checks 1, 2 and 3
workers, in process and on Ray.

Each worker builds the whole population and plan from the scenario's seed and keeps
full-size arrays, but works only on its regions (``State.own``). Memory per worker is
therefore not divided yet; see docs/distributed.md for what would divide it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from scorelab.engine import kernel
from scorelab.engine.plan import compile_plan
from scorelab.engine.simulation import (
    RunOutput, _grow_records, end_state, initial_state, metric_layout, metrics_columns, sync,
)
from scorelab.errors import UsageError


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


class ShardWorker:
    """The regions of one shard: their state, and the kernels run on it. Used directly
    (in-process backend) or as a Ray actor."""

    def __init__(self, scenario_data: dict[str, Any], own_regions: list[int]) -> None:
        from scorelab import build_population
        from scorelab.scenario.loader import load

        scenario = load(scenario_data)
        pop, contacts = build_population(scenario)
        self.plan = compile_plan(scenario, pop, contacts)
        P = self.plan.params
        self.PR = kernel.make_params(P)
        self.MO, names = metric_layout(self.plan)
        self.M = np.zeros((P.n_steps, len(names)))
        own = np.zeros(P.city_join.shape[0], dtype=np.uint8)
        own[own_regions] = 1
        self.S, self.start_grade, self.start_score = initial_state(scenario, pop, self.plan, self.PR, own)
        self.SR = kernel.make_state(self.S)
        self.counts = np.zeros(P.t_lam.shape[0], dtype=np.int64)
        self.id_counts = np.zeros(P.c_cov.shape[0], dtype=np.int64)

    def start(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Day-0 listings of the starting grades; returns the outbox."""
        P = self.plan.params
        if P.enabled and P.n_steps > 0:
            kernel.init_lists(self.PR, self.SR, self.M, self.MO)
        return kernel.take_outbox(self.SR)

    def local(self, s: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The regions' own work in step s (room for the step's records made first); returns the outbox."""
        bound = int(kernel.draw_counts(self.PR, s, self.counts, self.id_counts))
        grown = _grow_records(sync(self.S, self.SR), bound)
        if grown.r_subj is not self.S.r_subj:
            self.S = grown
            self.SR = kernel.make_state(self.S)
        kernel.local_phase(self.PR, self.SR, self.M, self.MO, s, self.counts)
        return kernel.take_outbox(self.SR)

    def deliver(self, s: int, mi: np.ndarray, mx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Apply messages to the regions' entities in the given order; returns the new outbox."""
        kernel.deliver(self.PR, self.SR, self.M, self.MO, s, mi, mx)
        return kernel.take_outbox(self.SR)

    def watch_counts(self) -> np.ndarray:
        return self.S.w_n.copy()

    def pending(self) -> np.ndarray:
        return kernel.take_pending(self.SR)

    def stocks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Grade histograms, list stocks, score sums and money by region of this shard; the step's
        money is reset."""
        S = self.S
        out = (S.ghist.copy(), S.l_stock.copy(), S.ssum.copy(), S.money_r.copy())
        S.money_r[:, :] = 0.0
        return out

    def finish(self) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
        """Metrics counted here, per-person end state, records, and the regions owned."""
        people, records = end_state(self.plan, self.S, self.start_grade, self.start_score)
        return self.M, people, records, self.S.own.copy()


class _Pool:
    """The shard workers, in process or as Ray actors, called all at once."""

    def __init__(self, scenario_data: dict[str, Any], owner: np.ndarray, shards: int, backend: str,
                 address: str | None) -> None:
        self.ray = None
        regions = [np.flatnonzero(owner == k).tolist() for k in range(shards)]
        if backend == "ray":
            try:
                import ray
            except ImportError:
                raise UsageError("sharded runs on Ray need Ray: pip install 'scorelab[ray]'") from None
            if not ray.is_initialized():
                ray.init(address=address, include_dashboard=False, log_to_driver=False)
            self.ray = ray
            actor = ray.remote(num_cpus=1)(ShardWorker)
            self.workers = [actor.remote(scenario_data, r) for r in regions]
        elif backend == "local":
            self.workers = [ShardWorker(scenario_data, r) for r in regions]
        else:
            raise UsageError(f"unknown backend {backend!r} (choose ray or local)")

    def call(self, method: str, args: list[tuple] | None = None) -> list[Any]:
        args = args if args is not None else [()] * len(self.workers)
        if self.ray is not None:
            return self.ray.get([getattr(w, method).remote(*a) for w, a in zip(self.workers, args)])
        return [getattr(w, method)(*a) for w, a in zip(self.workers, args)]

    def close(self) -> None:
        if self.ray is not None:
            for w in self.workers:
                self.ray.kill(w)


def _exchange(pool: _Pool, s: int, outboxes: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
              owner: np.ndarray, R: int) -> None:
    """Deliver messages in (destination region, source region) order, round after round."""
    while any(len(box[2]) for box in outboxes):
        mi = np.concatenate([box[0] for box in outboxes])
        mx = np.concatenate([box[1] for box in outboxes])
        key = np.concatenate([box[2] for box in outboxes])
        order = np.argsort(key, kind="stable")  # equal keys come from one region, hence one worker
        mi, mx, key = mi[order], mx[order], key[order]
        dest = owner[key // (R + 1)]
        outboxes = pool.call("deliver", [(s, mi[dest == k], mx[dest == k]) for k in range(len(pool.workers))])


def simulate_sharded(
    scenario: Any,
    pop: Any,
    contacts: Any,
    shards: int,
    *,
    backend: str = "ray",
    address: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RunOutput:
    """Run the scenario with its regions split over ``shards`` workers (``backend`` "ray", or
    "local" for the same exchange in this process); same output as ``simulate``."""
    check_shards(scenario, shards)
    t0 = time.perf_counter()
    plan = compile_plan(scenario, pop, contacts)
    P = plan.params
    PR = kernel.make_params(P)
    R = int(P.city_join.shape[0])
    owner = assign_regions(np.diff(P.reg_base), shards)
    MO, names = metric_layout(plan)
    M = np.zeros((P.n_steps, len(names)))  # the national part's columns (stocks); counts come from the workers
    # national state: the flag queues, as in kernel.State
    FL, E = P.f_beh.shape[0], P.n_people + P.n_firms
    q_ent, q_truth = np.zeros((FL, E + 1), dtype=np.int32), np.zeros((FL, E + 1), dtype=np.uint8)
    q_head, q_len, f_budget = np.zeros(FL, dtype=np.int64), np.zeros(FL, dtype=np.int64), np.zeros(FL)
    counts = np.zeros(P.t_lam.shape[0], dtype=np.int64)
    id_counts = np.zeros(P.c_cov.shape[0], dtype=np.int64)
    data = scenario.model_dump(mode="json", by_alias=True)
    pool = _Pool(data, owner, shards, backend, address)
    try:
        _exchange(pool, 0, pool.call("start"), owner, R)
        for s in range(P.n_steps):
            _exchange(pool, s, pool.call("local", [(s,)] * shards), owner, R)
            if P.enabled:
                kernel.draw_counts(PR, s, counts, id_counts)
                w_n = sum(pool.call("watch_counts"))
                msgs = kernel.identify(PR, s, w_n, id_counts)
                _exchange(pool, s, [msgs], owner, R)
                pf = np.concatenate(pool.call("pending"))
                msgs = kernel.serve_flags(PR, pf, q_ent, q_truth, q_head, q_len, f_budget)
                _exchange(pool, s, [msgs], owner, R)
            parts = pool.call("stocks")
            ssum = np.zeros((R, 2))
            money = np.zeros((R, P.k_kind.shape[0]))
            for k, (_, _, ss, mo) in enumerate(parts):
                ssum[owner == k] = ss[owner == k]
                money[owner == k] = mo[owner == k]
            ghist = sum(p[0] for p in parts)
            l_stock = sum(p[1] for p in parts)
            kernel.stocks(PR, M, MO, s, ghist, l_stock, q_len, ssum, money)
            if progress is not None:
                progress(s + 1, P.n_steps)
        finished = pool.call("finish")
    finally:
        pool.close()
    N = P.n_people
    city = P.ent_city[:N]
    people: dict[str, np.ndarray] = {}
    for k, (Mk, pk, _, own) in enumerate(finished):
        M += Mk  # each worker counted only its regions' events; the stocks columns are the driver's
        mask = own[city].astype(bool)
        for name, arr in pk.items():
            if name not in people:
                people[name] = arr.copy()
            else:
                people[name][mask] = arr[mask]
    records = {name: np.concatenate([f[2][name] for f in finished]) for name in finished[0][2]}
    return RunOutput(metrics=metrics_columns(plan, M, names), people=people, records=records, plan=plan,
                     wall_seconds=time.perf_counter() - t0, n_steps=P.n_steps)
