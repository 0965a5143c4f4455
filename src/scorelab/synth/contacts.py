"""Contact layers as undirected CSR graphs (both directions stored, sorted,
deduplicated, no self-loops), built in O(people + edges); friends and online can instead be
drawn when needed (``synth.drawn``).

Algorithm (Chung-Lu with blocks), the same for workplace, school, friends and
online:

1. Each participant ``i`` gets a weight ``w_i`` from the layer's degree
   distribution (Poisson: ``w = mean``; negative binomial: gamma weights;
   lognormal: lognormal weights) [``contacts.<layer>.weight``]. Non-participants
   have weight 0.
2. ``i`` emits ``Poisson(w_i / 2)`` stubs [``contacts.<layer>.stubs``].
3. Each stub picks a *mode* (a partition of the participants into blocks, e.g.
   "same city", "same employer", or the whole layer) with the layer's mode
   probabilities, then a partner ``j`` in ``i``'s block of that partition with
   probability ``w_j / W_block`` (an alias table per block, O(1) per stub)
   [``contacts.<layer>.partner``, counter (i, 0, stub index, 0)]. A block that
   spans cities (same group, anyone) is split by city: the stub picks a city by
   the weight sums of the block's people there, then a partner there
   (``synth.chung_lu``), so that some cities' rows can be built alone
   (``synth.city_contacts``).
4. Self-loops are dropped; every stub is stored in both directions; rows are
   sorted and duplicates removed.

Every participant receives ``w_i / 2`` stubs in expectation from each mode in
proportion to the mode's probability, so its expected degree is ``w_i``
(before the small loss to duplicates and self-loops), and the degree is a mixed
Poisson with variance ``E[w] + Var[w]``. For a single partition with
probability ``a`` and global mixing otherwise, the share of edges inside a
block is ``a + (1 - a) * sum_b (W_b / W) ** 2``.

Stub ``k`` of person ``i`` depends only on ``(seed, layer, i, k)``, so chunks of
person ids give the same graph as one pass.

The household layer is implicit: households are contiguous id ranges, so it
stores only the population's ``household_start`` array.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from scorelab.jit_cache import nb
import numpy as np

from scorelab.scenario.population import ContactsSpec, SocialLayerSpec
from scorelab.synth.chung_lu import Mode, chung_lu_rows
from scorelab.synth.drawn import DrawnLayer, drawn_layer
from scorelab.synth.population import Population
from scorelab.synth.weights import layer_weights, mode_probabilities, participants

INT32_MAX = 2**31 - 1
#: The layers built as graphs (or drawn), in build order; the household layer is implicit.
#: (The population cache stores these when they are graphs.)
STORED = ("workplace", "school", "friends", "online")


# --------------------------------------------------------------------------- layers


class CSRLayer:
    """An undirected layer stored as CSR: the neighbours of ``i`` are
    ``indices[indptr[i]:indptr[i+1]]``, sorted, each undirected edge stored twice."""

    __slots__ = ("name", "indptr", "indices")

    def __init__(self, name: str, indptr: np.ndarray, indices: np.ndarray) -> None:
        self.name = name
        self.indptr = indptr
        self.indices = indices

    def __repr__(self) -> str:
        return f"CSRLayer({self.name!r}, n={self.n}, n_edges={self.n_edges})"

    @property
    def n(self) -> int:
        return int(self.indptr.shape[0] - 1)

    @property
    def n_edges(self) -> int:
        """Number of undirected edges."""
        return int(self.indices.shape[0] // 2)

    def neighbors(self, i: int) -> np.ndarray:
        return self.indices[self.indptr[i] : self.indptr[i + 1]]

    def degree(self) -> np.ndarray:
        return np.diff(self.indptr).astype(np.int32)

    def to_csr(self) -> tuple[np.ndarray, np.ndarray]:
        return self.indptr, self.indices

    def nbytes(self) -> int:
        return int(self.indptr.nbytes + self.indices.nbytes)


class HouseholdLayer:
    """Complete graphs on households, stored implicitly as the household id ranges."""

    __slots__ = ("name", "household_start", "household")

    def __init__(self, name: str, household_start: np.ndarray, household: np.ndarray) -> None:
        self.name = name
        self.household_start = household_start
        self.household = household  # shared with the population: not counted in nbytes

    def __repr__(self) -> str:
        return f"HouseholdLayer({self.name!r}, n={self.n}, n_edges={self.n_edges})"

    @property
    def n(self) -> int:
        return int(self.household.shape[0])

    @property
    def n_edges(self) -> int:
        s = np.diff(self.household_start).astype(np.int64)
        return int(np.sum(s * (s - 1) // 2))

    def neighbors(self, i: int) -> np.ndarray:
        h = self.household[i]
        r = np.arange(self.household_start[h], self.household_start[h + 1], dtype=np.int32)
        return r[r != i]

    def degree(self) -> np.ndarray:
        s = np.diff(self.household_start).astype(np.int32)
        return np.repeat(s - 1, s)

    def to_csr(self) -> tuple[np.ndarray, np.ndarray]:
        """Materialise as CSR (allocates ``sum(size * (size - 1))`` int32)."""
        s = np.diff(self.household_start).astype(np.int64)
        deg = np.repeat(s - 1, s)
        indptr = np.zeros(self.n + 1, dtype=np.int64)
        np.cumsum(deg, out=indptr[1:])
        indices = np.empty(int(indptr[-1]), dtype=np.int32)
        _household_fill(self.household_start, indptr, indices)
        return _shrink_indptr(indptr), indices

    def nbytes(self) -> int:
        return int(self.household_start.nbytes)


@nb.njit(cache=True)
def _household_fill(starts, indptr, indices):
    for h in range(starts.shape[0] - 1):
        a, b = starts[h], starts[h + 1]
        for i in range(a, b):
            p = indptr[i]
            for j in range(a, b):
                if j != i:
                    indices[p] = j
                    p += 1


def _shrink_indptr(indptr: np.ndarray) -> np.ndarray:
    return indptr.astype(np.int32) if indptr[-1] <= INT32_MAX else indptr.astype(np.int64)


@dataclass(frozen=True, eq=False)
class Contacts:
    """Named contact layers over the same people."""

    layers: dict[str, "CSRLayer | HouseholdLayer | DrawnLayer"]

    def __getitem__(self, name: str):
        return self.layers[name]

    def __contains__(self, name: str) -> bool:
        return name in self.layers

    def __iter__(self):
        return iter(self.layers)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.layers)

    @property
    def n_edges(self) -> int:
        return sum(layer.n_edges for layer in self.layers.values())

    def nbytes(self) -> int:
        return sum(layer.nbytes() for layer in self.layers.values())


# --------------------------------------------------------------------------- builder


def chung_lu(w: np.ndarray, modes: list[tuple[float, np.ndarray | None]], seed: int, layer: str,
             chunks: int = 1) -> CSRLayer:
    """Build a Chung-Lu layer with block mixing over people of one city.

    ``w``: weights (expected degrees; 0 = not in the layer). ``modes``: list of
    ``(probability, block ids)``; block ids are non-negative ints per person
    (``None`` = everyone in one block); probabilities must sum to 1. Modes with
    probability 0 are skipped; modes whose blocks equal another's are merged.
    """
    indptr, indices = chung_lu_rows(w, [Mode(p, b, b is None) for p, b in modes], None, 1, seed, layer, chunks)
    return CSRLayer(layer, _shrink_indptr(indptr), indices)


def layer_modes(name: str, spec: ContactsSpec, col: Mapping[str, np.ndarray], n_groups: int
                ) -> tuple[np.ndarray, object, list[Mode]]:
    """A stored layer's participants, degree distribution and mixing modes, from the people's
    columns (everyone's, or some cities' people's: the same codes either way)."""
    if name == "workplace":
        active = col["employer"] >= 0
        a = spec.workplace.same_employer
        emp = np.where(active, col["employer"], 0)
        return active, spec.workplace.degree, [Mode(a, emp, False), Mode(1 - a, None, True)]
    if name == "school":
        active = col["school"] >= 0
        a = spec.school.same_class
        school = np.where(active, col["school"], 0).astype(np.int64)
        klass = np.where(active, school * 256 + col["age"], 0)  # (a class: a school's pupils of one age)
        if klass.max(initial=0) <= INT32_MAX:
            klass = klass.astype(np.int32)
        school = school.astype(np.int32)
        return active, spec.school.degree, [Mode(a, klass, False), Mode(1 - a, school, False)]
    s: SocialLayerSpec = getattr(spec, name)
    city, group = col["city"], col["group"]
    city_group = city.astype(np.int32) * n_groups + group  # (int32: cities x groups is small)
    blocks = ((city_group, False), (city, False), (group, True), (None, True))
    return participants(col, name, s), s.degree, [Mode(p, b, c) for p, (b, c) in zip(mode_probabilities(s), blocks)]


#: The columns ``layer_modes`` reads
MODE_COLUMNS = ("employer", "school", "age", "city", "group", "internet")


def build_contacts(pop: Population, spec: ContactsSpec, seed: int, chunks: int = 1,
                   only: Collection[str] | None = None) -> Contacts:
    """Build every enabled layer of ``spec`` for ``pop`` (with ``only``, just the enabled ones
    named there). Each layer has its own random streams, so a layer is the same whichever
    others are built with it, and does not depend on ``chunks``."""
    seed = int(seed)
    n = pop.n

    def wanted(name: str) -> bool:
        return only is None or name in only

    layers: dict[str, "CSRLayer | HouseholdLayer | DrawnLayer"] = {}
    if spec.household and wanted("household"):
        layers["household"] = HouseholdLayer("household", pop.household_start, pop.household)
    col = {k: getattr(pop, k) for k in MODE_COLUMNS}
    for name in STORED:
        s = getattr(spec, name)
        if not s.enabled or not wanted(name):
            continue
        if getattr(s, "storage", "stored") == "drawn":
            layers[name] = drawn_layer(pop, name, s, seed, chunks)
            continue
        active, degree, modes = layer_modes(name, spec, col, len(pop.group_names))
        w = layer_weights(n, active, degree, seed, name, chunks)
        del active
        indptr, indices = chung_lu_rows(w, modes, pop.city, len(pop.city_names), seed, name, chunks)
        layers[name] = CSRLayer(name, _shrink_indptr(indptr), indices)
        del w, modes
    return Contacts(layers)


def within_block_share(layer: CSRLayer, block: np.ndarray) -> float:
    """Share of a layer's edges whose two ends are in the same block."""
    src = np.repeat(np.arange(layer.n), np.diff(layer.indptr))
    return float(np.mean(block[src] == block[layer.indices])) if layer.indices.size else float("nan")


def expected_within_block_share(w: np.ndarray, block: np.ndarray, a: float) -> float:
    """Closed form ``a + (1 - a) * sum_b (W_b / W) ** 2`` for one partition mixed with global choice."""
    wb = np.bincount(block, weights=w)
    W = wb.sum()
    return float(a + (1 - a) * np.sum((wb / W) ** 2))
