"""The contact layers of some cities alone: each part (a set of cities, as a worker of a
sharded run holds) builds its people's rows of every layer, the same rows as a build of
everyone (``synth.contacts.build_contacts``).

Household, workplace and school contacts never leave a city. Friends, online contacts and a
workplace's business contacts do: the parts exchange a few numbers per city and the stubs
that fall in another part's cities (``synth.chung_lu``). ``contacts_by_parts`` runs that
exchange in one process; a distributed build would send the same messages between workers.

```python
from scorelab.synth.city_contacts import contacts_by_parts
parts = contacts_by_parts(scenario.population, scenario.contacts, seed, [[0, 1], [2, 3]])
parts[0].contacts["friends"].neighbors(i)     # for a person i of cities 0 and 1
```
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from scorelab.lazy_pages import lazy_zeros
from scorelab.memory import process_memory, release
from scorelab.scenario.population import ContactsSpec, PopulationSpec
from scorelab.synth.chung_lu import Facts, LayerPart, Requests, part_weights
from scorelab.synth.cities import CHUNK, CityBuild, Census, build_cities, census
from scorelab.synth.contacts import (MODE_COLUMNS, STORED, Contacts, CSRLayer, HouseholdLayer, _household_fill,
                                    layer_modes)


@dataclass(frozen=True)
class CityContacts:
    """A part's population (``synth.cities.CityBuild``) and its contact layers: full size,
    global ids, with the rows of the part's people only."""

    build: CityBuild
    contacts: Contacts


class PartCSRLayer(CSRLayer):
    """A stored layer's rows of a part's people (``people``: their ``[lo, hi)`` id ranges);
    the other rows are not held. ``n_edges`` counts the edges with an end among them."""

    __slots__ = ("people",)

    def __init__(self, name: str, indptr: np.ndarray, indices: np.ndarray, people: np.ndarray) -> None:
        super().__init__(name, indptr, indices)
        self.people = people

    def __repr__(self) -> str:
        return f"PartCSRLayer({self.name!r}, people={_count(self.people)}, n_edges={self.n_edges})"

    @property
    def n_edges(self) -> int:
        ids = np.asarray(self.indices)
        inside = np.zeros(ids.shape[0], dtype=bool)
        for lo, hi in self.people:
            inside |= (ids >= lo) & (ids < hi)
        return int((ids.shape[0] + np.count_nonzero(~inside)) // 2)  # (an edge to another part: one entry)

    def degree(self) -> np.ndarray:
        raise NotImplementedError("a part holds its people's rows only: take np.diff(indptr[lo:hi + 1]) of its ranges")


class PartHouseholdLayer(HouseholdLayer):
    """The household layer of a part's people (``people``: their ``[lo, hi)`` id ranges); the
    other households' starts are not held. ``n_edges`` counts the part's households' edges."""

    __slots__ = ("people",)

    def __init__(self, name: str, household_start: np.ndarray, household: np.ndarray, people: np.ndarray) -> None:
        super().__init__(name, household_start, household)
        self.people = people

    def __repr__(self) -> str:
        return f"PartHouseholdLayer({self.name!r}, people={_count(self.people)}, n_edges={self.n_edges})"

    @property
    def n_edges(self) -> int:
        total = 0
        for lo, hi in self.people:
            s = np.diff(self._starts(lo, hi)).astype(np.int64)
            total += int(np.sum(s * (s - 1) // 2))
        return total

    def degree(self) -> np.ndarray:
        raise NotImplementedError("a part holds its people's households only: see household_start of their households")

    def to_csr(self) -> tuple[np.ndarray, np.ndarray]:
        """The part's people's rows as CSR: full-size row starts mapped lazily, counted from 0 at
        the part's first row (as ``PartCSRLayer``'s)."""
        indptr, at = lazy_zeros(self.n + 1, np.int64), 0
        for lo, hi in self.people:
            sizes = np.diff(self._starts(lo, hi)).astype(np.int64)
            indptr[lo] = at
            np.cumsum(np.repeat(sizes - 1, sizes), out=indptr[lo + 1 : hi + 1])
            indptr[lo + 1 : hi + 1] += at
            at = int(indptr[hi])
        indices = np.empty(at, dtype=np.int32)
        for lo, hi in self.people:
            _household_fill(self._starts(lo, hi), indptr, indices)
        return indptr, indices

    def _starts(self, lo: int, hi: int) -> np.ndarray:
        """The starts of the households of people ``[lo, hi)`` (and the end of the last)."""
        return self.household_start[self.household[lo] : self.household[hi - 1] + 2] if hi > lo else np.zeros(1, np.int32)


def _count(people: np.ndarray) -> int:
    return int(sum(hi - lo for lo, hi in people))


def _own(values: np.ndarray, ranges: np.ndarray) -> np.ndarray:
    return np.concatenate([values[lo:hi] for lo, hi in ranges])


def _placed(n: int, ranges: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Row starts of the part's people at their global ids in a full-size lazy array."""
    out = lazy_zeros(n + 1, np.int64)
    at = 0
    for lo, hi in ranges:
        out[lo : hi + 1] = indptr[at : at + hi - lo + 1]
        at += hi - lo
    return out


class CityBuilder:
    """One part: its cities' people (``build_cities``), then its rows of each layer, step by
    step as ``build_parts`` asks (in one process, or as a Ray actor, one per part)."""

    def __init__(self, population: PopulationSpec, spec: ContactsSpec, seed: int, cities: Collection[int],
                 census_of_all: Census | None = None, chunk: int = CHUNK) -> None:
        self.spec, self.seed = spec, int(seed)
        self.n_cities = len(population.regions)
        self.build = build_cities(population, self.seed, cities, census_of_all=census_of_all, chunk=chunk)
        self.layers: dict[str, object] = {}
        if spec.household:
            pop = self.build.population
            self.layers["household"] = PartHouseholdLayer("household", pop.household_start, pop.household,
                                                          self.build.people)
        self._parts: dict[str, LayerPart] = {}

    def facts(self, name: str) -> Facts:
        pop, ranges = self.build.population, self.build.people
        col = {k: _own(getattr(pop, k), ranges) for k in MODE_COLUMNS}
        active, degree, modes = layer_modes(name, self.spec, col, len(pop.group_names))
        w = part_weights(ranges, active, degree, self.seed, name)
        self._parts[name] = LayerPart(ranges, w, modes, col["city"], self.n_cities, self.seed, name)
        return self._parts[name].facts()

    def prepare(self, name: str, facts: Facts) -> np.ndarray:
        return self._parts[name].prepare(facts)

    def draw(self, name: str, masses: np.ndarray, owner: np.ndarray) -> list[int]:
        """Draws the part's stubs; returns the parts it has requests for."""
        return self._parts[name].draw(masses, owner)

    def requests_for(self, name: str, dest: int) -> Requests:
        return self._parts[name].requests_for(dest)

    def answer(self, name: str, requests: Requests) -> np.ndarray:
        return self._parts[name].answer(requests)

    def take(self, name: str, dest: int, partners: np.ndarray) -> None:
        self._parts[name].take(dest, partners)

    def rows(self, name: str) -> int:
        """The part's rows of the layer, kept; returns their number of entries."""
        indptr, indices = self._parts.pop(name).rows()
        self.layers[name] = PartCSRLayer(name, _placed(self.build.population.n, self.build.people, indptr), indices,
                                         self.build.people)
        return int(indices.shape[0])

    def people(self) -> np.ndarray:
        """The part's people: ``[lo, hi)`` id ranges, one per city."""
        return self.build.people

    def digest(self, name: str) -> str:
        """A digest of the part's rows of a layer (``rows_digest``)."""
        return rows_digest(self.layers[name], self.build.people)

    def result(self) -> CityContacts:
        return CityContacts(self.build, Contacts(dict(self.layers)))

    def memory(self) -> dict[str, int]:
        """This process's memory (``memory.process_memory``), the heap's free memory handed
        back first, so that ``RssAnon`` is what the part holds."""
        release()
        return process_memory()


def rows_digest(layer, ranges: np.ndarray) -> str:
    """SHA-256 of the rows of the people of ``ranges``: each row's length, then its ids; the
    same for a part's layer and for the build of everyone over those people."""
    import hashlib

    h = hashlib.sha256()
    for lo, hi in ranges:
        indptr = np.asarray(layer.indptr[lo : hi + 1], dtype=np.int64)
        h.update(np.diff(indptr).tobytes())
        h.update(np.asarray(layer.indices[indptr[0] : indptr[-1]], dtype=np.int32).tobytes())
    return h.hexdigest()


class Calls:
    """How ``build_parts`` reaches the parts' builders: ``submit`` a method call to part k
    (its arguments may be earlier calls' handles), ``wait`` for handles' values. In one
    process a call runs at once and its handle is its value."""

    def __init__(self, builders: Sequence[CityBuilder]) -> None:
        self.builders = builders

    def submit(self, k: int, method: str, *args):
        return getattr(self.builders[k], method)(*args)

    def wait(self, handles: list) -> list:
        return handles


class RayCalls(Calls):
    """The same on Ray actors (``ray.remote(CityBuilder)``): handles are object references,
    so requests and answers go from actor to actor without passing through the driver."""

    def __init__(self, ray, actors: Sequence) -> None:
        self.ray, self.builders = ray, actors

    def submit(self, k: int, method: str, *args):
        return getattr(self.builders[k], method).remote(*args)

    def wait(self, handles: list) -> list:
        return self.ray.get(handles)


def build_parts(calls: Calls, n_parts: int, owner: np.ndarray, names: Sequence[str]) -> None:
    """Each stored layer named, part by part, with the messages between the parts: the facts
    of the modes, the spanning cells' weight sums, then the requests and their answers, in
    phases (so that no part waits on one that waits on it)."""
    everyone = range(n_parts)
    for name in names:
        facts = Facts.combine(calls.wait([calls.submit(k, "facts", name) for k in everyone]))
        masses = sum(calls.wait([calls.submit(k, "prepare", name, facts) for k in everyone]))
        dests = calls.wait([calls.submit(k, "draw", name, masses, owner) for k in everyone])
        pairs = [(src, dest) for src in everyone for dest in dests[src]]
        answers = [calls.submit(dest, "answer", name, calls.submit(src, "requests_for", name, dest))
                   for src, dest in pairs]
        calls.wait(answers)
        calls.wait([calls.submit(src, "take", name, dest, a) for (src, dest), a in zip(pairs, answers)])
        calls.wait([calls.submit(k, "rows", name) for k in everyone])


def owners(n_cities: int, parts: Sequence[Collection[int]]) -> np.ndarray:
    """Each city's part; every city must be in exactly one part, since a stub may fall in any."""
    owner = np.full(n_cities, -1, dtype=np.int64)
    for k, cities in enumerate(parts):
        for c in cities:
            if not 0 <= int(c) < n_cities or owner[int(c)] >= 0:
                raise ValueError(f"city {c} is outside 0..{n_cities - 1} or in two parts")
            owner[int(c)] = k
    if np.any(owner < 0):
        raise ValueError(f"cities {np.flatnonzero(owner < 0).tolist()} are in no part")
    return owner


def stored_layers(spec: ContactsSpec, only: Collection[str] | None = None) -> list[str]:
    """The enabled stored layers (those named in ``only``); drawn layers are refused."""
    names = [name for name in STORED if getattr(spec, name).enabled and (only is None or name in only)]
    for name in names:
        if getattr(getattr(spec, name), "storage", "stored") == "drawn":
            raise ValueError(f"contacts.{name}.storage: drawn layers cannot be built by cities yet")
    return names


def part_contacts(spec: ContactsSpec, only: Collection[str] | None = None) -> tuple[ContactsSpec, list[str]]:
    """What a part builds: the contacts spec (the household layer off unless named in
    ``only``) and the stored layers to exchange (``stored_layers``; ValueError for a drawn one)."""
    names = stored_layers(spec, only)
    if only is not None and "household" not in only:
        spec = spec.model_copy(update={"household": False})
    return spec, names


def contacts_by_parts(population: PopulationSpec, spec: ContactsSpec, seed: int, parts: Sequence[Collection[int]],
                      only: Collection[str] | None = None, census_of_all: Census | None = None,
                      chunk: int = CHUNK) -> list[CityContacts]:
    """Each part's cities built alone with their contact layers (every enabled layer, or
    those named in ``only``), in this process."""
    owner = owners(len(population.regions), parts)
    spec, names = part_contacts(spec, only)
    full = census(population, seed, chunk) if census_of_all is None else census_of_all
    builders = [CityBuilder(population, spec, seed, cities, full, chunk) for cities in parts]
    build_parts(Calls(builders), len(builders), owner, names)
    return [b.result() for b in builders]
