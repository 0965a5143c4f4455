"""A sharded run's workers building their own regions' world with each other, as on a Ray
cluster: each builds its cities' people, contacts and plan alone, and nobody builds everyone.

``build_by_cities`` (the driver) runs the steps, each a call to every worker at once
(``CityBuilt``, the worker's side):

1. each worker counts its own cities' employed and students (``synth.cities.census``, a
   part), and the driver puts the parts together: every city's four counts;
2. each builds its cities' people, firms and households (``synth.cities.build_cities``), then
   its rows of every stored layer the day loop reads, the stubs that fall in another worker's
   city sent to it as requests (``synth.city_contacts.build_parts``);
3. each tells the facts of its entities that every plan must agree on and its candidates for
   the trajectories' sample (``engine.plan.part``); the driver puts them together, and each
   compiles the plan of its own regions;
4. each names its halo (``engine.owned.halo``: people elsewhere its people read at day 0), the
   driver asks their workers for their starting points and whether they are scored, and each
   worker starts its state with the answers.

The result is the run of one process, byte for byte (``tests/test_sharded.py``). Drawn
layers (``storage: drawn``) are not built by cities yet: a run that reads one builds the
whole population in each worker (``can_build_by_cities``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from scorelab.scenario.model import Scenario, layers_read
from scorelab.synth.city_contacts import Calls, CityBuilder, build_parts, part_contacts
from scorelab.synth.cities import Census, census

#: ``ShardWorker``'s ``built`` for a worker that builds its regions with the others
BY_CITIES = "cities"


def can_build_by_cities(scenario: Scenario) -> bool:
    """Whether the layers the day loop reads can be built by cities (no drawn layer)."""
    try:
        part_contacts(scenario.contacts, layers_read(scenario))
    except ValueError:
        return False
    return True


class CityBuilt:
    """A shard worker's steps of ``build_by_cities``; the worker has ``scenario``,
    ``own_regions`` and ``_start`` (its state from its world and plan)."""

    scenario: Scenario
    own_regions: list[int]

    def census_part(self) -> Census:
        s = self.scenario
        return census(s.population, s.run.seed, cities=self.own_regions)

    def build(self, census_of_all: Census) -> None:
        s = self.scenario
        spec, _ = part_contacts(s.contacts, layers_read(s))
        self.builder = CityBuilder(s.population, spec, s.run.seed, self.own_regions, census_of_all)

    def builder_call(self, method: str, *args: Any) -> Any:
        """A step of the contact layers' exchange (``build_parts``) on this worker's part."""
        return getattr(self.builder, method)(*args)

    def plan_facts(self, n_sample: int) -> tuple[Any, tuple[np.ndarray, np.ndarray]]:
        """The facts of this worker's entities every plan agrees on, and its candidates for
        the trajectories' sample of ``n_sample`` people."""
        from scorelab.engine.plan import PlanPart, plan_facts
        from scorelab.engine.plan.part import trajectory_candidates

        built = self.builder.result()
        self.builder = None
        self.world = (built.build.population, built.contacts)
        self.part = PlanPart.of_build(built.build, np.zeros(0, dtype=np.int64))
        return (plan_facts(self.scenario, *self.world, self.part),
                trajectory_candidates(self.scenario.run.seed, n_sample, self.part.people()))

    def halo_ids(self, facts: Any, sample: np.ndarray) -> np.ndarray:
        """Compiles the plan of this worker's regions; returns its halo."""
        from scorelab.engine import kernel
        from scorelab.engine.owned import halo
        from scorelab.engine.plan import compile_plan

        plan = compile_plan(self.scenario, *self.world, replace(self.part, trajectories=sample, facts=facts))
        self.compiled = (plan, kernel.make_params(plan.params))
        own = np.zeros(plan.params.city_join.shape[0], dtype=np.uint8)
        own[self.own_regions] = 1
        return halo(plan.params, own) if not own.all() else np.zeros(0, dtype=np.int64)

    def halo_answer(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Starting points and whether scored, of people ``ids`` of this worker's regions."""
        from scorelab.engine.simulation import halo_start

        return halo_start(self.scenario, self.world[0], ids)

    def begin(self, ids: np.ndarray, points: np.ndarray, scored: np.ndarray) -> None:
        """The state at day 0, with the halo's starting points as their workers told them."""
        world, compiled = self.world, self.compiled
        del self.world, self.compiled, self.part
        self._start(*world, compiled, (ids, points, scored))


class _WorkerCalls(Calls):
    """``build_parts``'s calls on the pool's workers (``CityBuilt.builder_call``)."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    def submit(self, k: int, method: str, *args: Any) -> Any:
        worker = self.pool.workers[k]
        if self.pool.ray is not None:  # (requests and answers pass from actor to actor by reference)
            return worker.builder_call.remote(method, *args)
        return worker.builder_call(method, *args)

    def wait(self, handles: list) -> list:
        return self.pool.ray.get(handles) if self.pool.ray is not None else handles


def build_by_cities(pool: Any, scenario: Scenario, owner: np.ndarray) -> None:
    """The pool's workers (built with ``BY_CITIES``) build their regions' world with each
    other and start their states; ``owner``: each region's worker."""
    from scorelab.engine.plan import PlanFacts
    from scorelab.engine.plan.part import trajectory_merge

    n = len(pool.workers)
    everyone = [()] * n
    census_of_all = Census.combine(pool.call("census_part", everyone))
    pool.call("build", [(census_of_all,)] * n)
    _, names = part_contacts(scenario.contacts, layers_read(scenario))
    build_parts(_WorkerCalls(pool), n, owner, names)
    n_sample = min(int(scenario.run.trajectories), int(census_of_all.people.sum()))
    told = pool.call("plan_facts", [(n_sample,)] * n)
    facts = PlanFacts.combine([t[0] for t in told])
    sample = trajectory_merge([t[1] for t in told], n_sample)
    halos = pool.call("halo_ids", [(facts, sample)] * n)
    starts = Census.starts(census_of_all.people)
    dest = [owner[np.searchsorted(starts, ids, side="right") - 1] for ids in halos]
    answers = pool.call("halo_answer", [(np.concatenate([halos[k][dest[k] == j] for k in range(n)]),)
                                        for j in range(n)])
    points = [np.zeros(ids.shape[0]) for ids in halos]
    scored = [np.zeros(ids.shape[0], dtype=np.uint8) for ids in halos]
    for j, (pts, sc) in enumerate(answers):  # (worker j answered every worker's asks, in worker order)
        at = 0
        for k in range(n):
            mine = dest[k] == j
            count = int(mine.sum())
            points[k][mine], scored[k][mine] = pts[at : at + count], sc[at : at + count]
            at += count
    pool.call("begin", [(halos[k], points[k], scored[k]) for k in range(n)])
