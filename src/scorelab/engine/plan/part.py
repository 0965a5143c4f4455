"""A plan of some regions' entities alone: what a worker of a sharded run compiles for the
regions it holds (``compile_plan(..., part=PlanPart)``).

Every per-entity table of such a plan has full size and global ids, so that the kernels
translate nothing, but it is mapped lazily (``lazy_pages.lazy_zeros``) and only the part's
entities' entries are written (``plan.rows``): the others hold no memory and read zero, and
a worker never reads them: an entity that may live in another region has its region found
from the regions' ranges (``kernel.regions``). ``tests/test_plan_part.py`` compares part
plans with the whole plan, and ``tests/test_sharded.py`` runs sharded runs on them against
one process. A contact graph of the plan (the association and social terms,
misattribution) holds the part's rows, their starts counted from 0 at the part's first row.

A few things the plan reads are facts of everyone, which the parts agree on
(``PlanFacts``, put together with ``PlanFacts.combine``) instead of reading everyone:

- which class codes occur at all, per row of class codes: a behaviour's candidate rate is its
  largest factor among the codes that occur, so every part must use the same;
- the largest household, which bounds the passengers an in-car recording adds;
- the trajectories' sample (the smallest uniforms of everyone: ``trajectory_candidates``
  per part, ``trajectory_merge``);
- and the people and firms of each city, for the regions' ranges (``synth.cities.Census``).

Not divided yet (refused with a one-line error): an index scheme's income term, which ranks
everyone's incomes, and behaviours with more than 8 static conditions, whose codes are the
distinct products of their factors that occur.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from scorelab.rng import Stream

if TYPE_CHECKING:
    from scorelab.synth.cities import CityBuild
    from scorelab.synth.population import Population


@dataclass(frozen=True)
class PlanFacts:
    """What a plan reads of everyone beyond its own entities: per row of class codes (keyed as
    the plan keys them) which of the 256 codes occur, and the most people in a household."""

    present: dict[str, np.ndarray]  #: bool (256,) per class row key
    most_in_household: int

    @classmethod
    def combine(cls, parts: Sequence[PlanFacts]) -> PlanFacts:
        """The facts of everyone from those of parts that together hold everyone once."""
        keys = set().union(*(p.present for p in parts))
        present = {k: np.logical_or.reduce([p.present.get(k, np.zeros(256, dtype=bool)) for p in parts]) for k in keys}
        return cls(present, max(p.most_in_household for p in parts))


@dataclass(frozen=True)
class PlanPart:
    """The regions (cities) a plan is compiled for, with what it needs of the others: each
    city's first person, firm and household (and the totals, last), the trajectories' sample,
    and the agreed facts (None: read from the part's own entities, right only for a part of
    everyone)."""

    regions: np.ndarray  #: int64, sorted city indices
    person_starts: np.ndarray  #: int64 (cities + 1)
    firm_starts: np.ndarray  #: int64 (cities + 1)
    household_starts: np.ndarray  #: int64 (cities + 1)
    trajectories: np.ndarray  #: int64 person ids, sorted
    facts: PlanFacts | None = None

    def people(self) -> np.ndarray:
        """The part's ``[lo, hi)`` person id ranges (the regions', those that touch joined)."""
        return merged(np.stack([self.person_starts[self.regions], self.person_starts[self.regions + 1]], axis=1))

    def firms(self) -> np.ndarray:
        """The part's ``[lo, hi)`` firm ranges (firm numbers, without the people before them)."""
        return merged(np.stack([self.firm_starts[self.regions], self.firm_starts[self.regions + 1]], axis=1))

    @property
    def whole(self) -> bool:
        """Whether the part holds every region."""
        return self.regions.shape[0] == self.person_starts.shape[0] - 1

    @classmethod
    def of_population(cls, pop: Population, regions: Sequence[int], trajectories: np.ndarray,
                      facts: PlanFacts | None = None) -> PlanPart:
        """A part of a population built whole (its people and firms stored in city order)."""
        n_cities = len(pop.city_names)
        starts = [np.zeros(n_cities + 1, dtype=np.int64) for _ in range(3)]
        np.cumsum(np.bincount(pop.city, minlength=n_cities), out=starts[0][1:])
        np.cumsum(np.bincount(pop.firms.city, minlength=n_cities), out=starts[1][1:])
        np.cumsum(np.bincount(pop.city[pop.household_start[:-1]], minlength=n_cities), out=starts[2][1:])
        return cls(np.array(sorted({int(r) for r in regions}), dtype=np.int64), *starts,
                   np.asarray(trajectories, dtype=np.int64), facts)

    @classmethod
    def of_build(cls, build: CityBuild, trajectories: np.ndarray, facts: PlanFacts | None = None) -> PlanPart:
        """The part of a population built by cities (``synth.cities.build_cities``)."""
        return cls(np.asarray(build.cities, dtype=np.int64), build.person_starts, build.firm_starts,
                   build.household_starts, np.asarray(trajectories, dtype=np.int64), facts)


def merged(ranges: np.ndarray) -> np.ndarray:
    """Sorted ``[lo, hi)`` ranges with those that touch joined and the empty ones left out."""
    out: list[list[int]] = []
    for lo, hi in sorted((int(a), int(b)) for a, b in np.asarray(ranges).reshape(-1, 2) if b > a):
        if out and out[-1][1] == lo:
            out[-1][1] = hi
        else:
            out.append([lo, hi])
    return np.array(out, dtype=np.int64).reshape(-1, 2)


def trajectory_candidates(seed: int, n: int, people: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` people of the ranges ``people`` with the smallest uniforms of stream
    ``trajectories`` (fewer if the ranges hold fewer), as (uniforms, ids): every part's
    candidates together hold the sample of everyone (``trajectory_merge``)."""
    stream = Stream(seed, "trajectories")
    u_all, id_all = [np.zeros(0)], [np.zeros(0, dtype=np.int64)]
    for lo, hi in people:
        ids = np.arange(int(lo), int(hi), dtype=np.int64)
        u = stream.uniform(ids)
        if 0 < n < ids.shape[0]:  # (those up to the n-th smallest, found in linear time, and ties)
            keep = u <= np.partition(u, n - 1)[n - 1]
            ids, u = ids[keep], u[keep]
        elif n == 0:
            ids, u = ids[:0], u[:0]
        u_all.append(u)
        id_all.append(ids)
    return _smallest(np.concatenate(u_all), np.concatenate(id_all), n)


def trajectory_merge(candidates: Sequence[tuple[np.ndarray, np.ndarray]], n: int) -> np.ndarray:
    """The sample of everyone (``plan.entities.trajectory_sample``) from every part's
    ``trajectory_candidates``: the ``n`` smallest uniforms, ties to the smaller ids, in id order."""
    u, ids = _smallest(np.concatenate([c[0] for c in candidates]), np.concatenate([c[1] for c in candidates]), n)
    return np.sort(ids)


def _smallest(u: np.ndarray, ids: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    keep = np.lexsort((ids, u))[:n]
    return u[keep], ids[keep]
