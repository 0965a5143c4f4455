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
   [``contacts.<layer>.partner``, counter (i, 0, stub index, 0)].
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

from collections.abc import Collection
from dataclasses import dataclass

from scorelab.jit_cache import nb
import numpy as np

from scorelab import rng
from scorelab.scenario.population import ContactsSpec, SocialLayerSpec
from scorelab.synth.drawn import DrawnLayer, drawn_layer
from scorelab.synth.population import Population, chunk_bounds
from scorelab.synth.weights import layer_weights, mode_probabilities, partition, participants

INT32_MAX = 2**31 - 1


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


# --------------------------------------------------------------------------- kernels


@nb.njit(cache=True)
def _stub_counts(k0, k1, w, lo, hi, out):
    for i in range(lo, hi):
        if w[i] > 0.0:
            out[i] = rng.poisson_from_uniform(0.5 * w[i], rng.uniform(k0, k1, i, 0, 0, 0))
        else:
            out[i] = 0


@nb.njit(cache=True)
def _alias_tables(order, w, seg, nblocks, prob, alias, small, large):
    """Walker/Vose alias tables per block: position k keeps ``order[k]`` with
    probability ``prob[k]``, else takes person ``alias[k]``."""
    for b in range(nblocks):
        a = seg[b]
        e = seg[b + 1]
        size = e - a
        if size == 0:
            continue
        total = 0.0
        for k in range(a, e):
            total += w[order[k]]
        ns = 0
        nl = 0
        scaled = np.empty(size, dtype=np.float64)
        for k in range(a, e):
            q = w[order[k]] * size / total
            scaled[k - a] = q
            alias[k] = order[k]
            if q < 1.0:
                small[ns] = k
                ns += 1
            else:
                large[nl] = k
                nl += 1
        while ns > 0 and nl > 0:
            ns -= 1
            s = small[ns]
            nl -= 1
            l = large[nl]
            alias[s] = order[l]
            scaled[l - a] = scaled[l - a] + scaled[s - a] - 1.0
            if scaled[l - a] < 1.0:
                small[ns] = l
                ns += 1
            else:
                large[nl] = l
                nl += 1
        while nl > 0:
            nl -= 1
            scaled[large[nl] - a] = 1.0
        while ns > 0:
            ns -= 1
            scaled[small[ns] - a] = 1.0
        for k in range(a, e):
            prob[k] = scaled[k - a]


@nb.njit(cache=True)
def _stub_partners(k0, k1, stub_ptr, lo, hi, mode_cdf, blocks, orders, probs, aliases, segs, dst):
    """Partner of every stub of people lo..hi-1; -1 marks a dropped self-loop."""
    n_modes = mode_cdf.shape[0]
    for i in range(lo, hi):
        s0 = stub_ptr[i]
        for j in range(stub_ptr[i + 1] - s0):
            u_mode, u_pick, u_alias, _ = rng.uniform4(k0, k1, i, 0, j, 0)
            p = 0
            while p < n_modes - 1 and u_mode >= mode_cdf[p]:
                p += 1
            b = blocks[p, i]
            a = segs[p, b]
            size = segs[p, b + 1] - a
            k = a + min(np.int64(u_pick * size), size - 1)
            if u_alias < probs[p, k]:
                partner = orders[p, k]
            else:
                partner = aliases[p, k]
            dst[s0 + j] = partner if partner != i else -1


@nb.njit(cache=True)
def _csr_from_stubs(n, stub_ptr, dst):
    """Symmetric, sorted, deduplicated CSR (int64 indptr) from stubs."""
    deg = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        for s in range(stub_ptr[i], stub_ptr[i + 1]):
            j = dst[s]
            if j >= 0:
                deg[i + 1] += 1
                deg[j + 1] += 1
    for i in range(n):
        deg[i + 1] += deg[i]
    indices = np.empty(deg[n], dtype=np.int32)
    pos = deg[:-1].copy()
    for i in range(n):
        for s in range(stub_ptr[i], stub_ptr[i + 1]):
            j = dst[s]
            if j >= 0:
                indices[pos[i]] = j
                pos[i] += 1
                indices[pos[j]] = i
                pos[j] += 1
    indptr = np.empty(n + 1, dtype=np.int64)
    indptr[0] = 0
    w = 0
    for i in range(n):
        a, b = deg[i], deg[i + 1]
        if b - a > 32:
            indices[a:b].sort()
        else:  # insertion sort: short rows, no allocation
            for x in range(a + 1, b):
                v = indices[x]
                y = x - 1
                while y >= a and indices[y] > v:
                    indices[y + 1] = indices[y]
                    y -= 1
                indices[y + 1] = v
        last = -1
        for x in range(a, b):
            v = indices[x]
            if v != last:
                indices[w] = v
                w += 1
                last = v
        indptr[i + 1] = w
    return indptr, indices[:w].copy()


# --------------------------------------------------------------------------- builder


def chung_lu(
    w: np.ndarray,
    modes: list[tuple[float, np.ndarray | None]],
    seed: int,
    layer: str,
    chunks: int = 1,
) -> CSRLayer:
    """Build a Chung-Lu layer with block mixing.

    ``w``: weights (expected degrees; 0 = not in the layer). ``modes``: list of
    ``(probability, block ids)``; block ids are non-negative ints per person
    (``None`` = everyone in one block); probabilities must sum to 1. Modes with
    probability 0 are skipped; modes whose blocks equal another's are merged.
    """
    n = w.shape[0]
    merged: list[tuple[float, np.ndarray | None]] = []
    for prob, blocks in modes:
        if prob <= 0.0:
            continue
        if blocks is not None and (blocks.size == 0 or blocks.max(initial=0) == blocks.min(initial=0)):
            blocks = None  # one block: same as mixing globally
        for k, (p2, b2) in enumerate(merged):
            if (b2 is None and blocks is None) or (
                b2 is not None and blocks is not None and np.array_equal(b2, blocks)
            ):
                merged[k] = (p2 + prob, b2)
                break
        else:
            merged.append((prob, blocks))
    if not merged:
        merged = [(1.0, None)]
    n_modes = len(merged)
    probs = np.array([p for p, _ in merged])
    mode_cdf = np.cumsum(probs) / probs.sum()
    mode_cdf[-1] = 1.0
    m = int(np.count_nonzero(w > 0.0))
    max_blocks = max(int(b.max(initial=0)) + 1 if b is not None else 1 for _, b in merged)
    blocks2 = np.zeros((n_modes, n), dtype=np.int32)
    orders = np.zeros((n_modes, max(m, 1)), dtype=np.int32)
    probs = np.ones((n_modes, max(m, 1)), dtype=np.float32)
    aliases = np.zeros((n_modes, max(m, 1)), dtype=np.int32)
    segs = np.zeros((n_modes, max_blocks + 1), dtype=np.int64)
    small = np.empty(max(m, 1), dtype=np.int64)
    large = np.empty(max(m, 1), dtype=np.int64)
    for p, (_, b) in enumerate(merged):
        if b is not None:
            blocks2[p] = b
        nb_ = int(b.max(initial=0)) + 1 if b is not None else 1
        seg = np.zeros(nb_ + 1, dtype=np.int64)
        partition(blocks2[p], w, nb_, orders[p], seg)
        _alias_tables(orders[p], w, seg, nb_, probs[p], aliases[p], small, large)
        segs[p, : nb_ + 1] = seg
        segs[p, nb_ + 1 :] = seg[-1]
    del small, large

    k0, k1 = rng.key(seed, f"contacts.{layer}.stubs")
    counts = np.empty(n, dtype=np.int64)
    for lo, hi in chunk_bounds(n, chunks):
        _stub_counts(k0, k1, w, lo, hi, counts)
    stub_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=stub_ptr[1:])
    del counts
    dst = np.empty(int(stub_ptr[-1]), dtype=np.int32)
    k0, k1 = rng.key(seed, f"contacts.{layer}.partner")
    for lo, hi in chunk_bounds(n, chunks):
        _stub_partners(k0, k1, stub_ptr, lo, hi, mode_cdf, blocks2, orders, probs, aliases, segs, dst)
    del blocks2, orders, probs, aliases, segs
    indptr, indices = _csr_from_stubs(n, stub_ptr, dst)
    return CSRLayer(layer, _shrink_indptr(indptr), indices)


def _dense_codes(*keys: np.ndarray) -> np.ndarray:
    """Combine small non-negative integer keys into one int32 block id (mixed radix)."""
    code = np.zeros(keys[0].shape[0], dtype=np.int64)
    for k in keys:
        k = k.astype(np.int64)
        code = code * (int(k.max(initial=0)) + 1) + k
    return code.astype(np.int32) if code.max(initial=0) <= INT32_MAX else code


def _social_modes(pop: Population, spec: SocialLayerSpec) -> list[tuple[float, np.ndarray | None]]:
    blocks = (_dense_codes(pop.city, pop.group), pop.city.astype(np.int32), pop.group.astype(np.int32), None)
    return list(zip(mode_probabilities(spec), blocks))


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
    if spec.workplace.enabled and wanted("workplace"):
        active = pop.employer >= 0
        w = layer_weights(n, active, spec.workplace.degree, seed, "workplace", chunks)
        emp = np.where(active, pop.employer, 0).astype(np.int32)
        a = spec.workplace.same_employer
        layers["workplace"] = chung_lu(w, [(a, emp), (1 - a, None)], seed, "workplace", chunks)
        del w, emp
    if spec.school.enabled and wanted("school"):
        active = pop.school >= 0
        w = layer_weights(n, active, spec.school.degree, seed, "school", chunks)
        school = np.where(active, pop.school, 0).astype(np.int32)
        age_rel = np.where(active, pop.age, 0).astype(np.int32)
        age_rel -= int(age_rel[active].min(initial=0)) if active.any() else 0
        age_rel = np.where(active, age_rel, 0)
        a = spec.school.same_class
        layers["school"] = chung_lu(w, [(a, _dense_codes(school, age_rel)), (1 - a, school)], seed, "school", chunks)
        del w, school, age_rel
    for name in ("friends", "online"):
        s: SocialLayerSpec = getattr(spec, name)
        if not s.enabled or not wanted(name):
            continue
        if s.storage == "drawn":
            layers[name] = drawn_layer(pop, name, s, seed, chunks)
            continue
        w = layer_weights(n, participants(pop, name, s), s.degree, seed, name, chunks)
        layers[name] = chung_lu(w, _social_modes(pop, s), seed, name, chunks)
        del w
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
