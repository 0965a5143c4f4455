"""Chung-Lu layers with block mixing, built by parts that each hold some cities' people.

The law (``synth.contacts`` has the whole algorithm): participant ``i`` emits
``Poisson(w_i / 2)`` stubs; a stub picks a mixing *mode* (same employer, same city, same
group, anyone...), then a partner ``q`` in ``i``'s block of that mode with probability
``w_q / W_block``. Counter (i, 0, stub, 0) gives the stub four uniforms: the mode, the
position in an alias table, the alias test, and the city.

**Cells.** Blocks of most modes lie within one city (a firm, a school, a city, a city's
group): the partner is drawn from the block's alias table. A block that spans cities (a
group across cities, everyone) is split into *cells*, its part in each city: the stub first
picks a city with probability proportional to the cell's weight sum, then a partner in that
cell by its alias table. The law is the same (``W_cell / W_block * w_q / W_cell``), and an
alias table never spans cities, so the people of some cities can build their rows of the
layer alone:

* a part (``LayerPart``) holds the people of some cities (ranges of ids), their weights and
  the tables of their cells;
* parts agree on the modes (``Facts``: which modes are one block, which are the same
  partition) and on the spanning cells' weight sums (``masses``), a few numbers per city;
* each part draws its own people's stubs; a stub whose partner lies in another part's city
  becomes a *request* to that part, which draws the partner from its cell's table
  (``answer``) and sends it back;
* each part keeps the edges with an end among its people, in both directions, and builds
  their rows: the same rows as a build of everyone, since every draw reads the same
  counters and the same cell tables.

A build of everyone (``chung_lu_rows``) is one part holding every city, with nothing to send.
"""

from __future__ import annotations

from typing import NamedTuple

from scorelab.jit_cache import nb
import numpy as np

from scorelab import rng
from scorelab.synth.population import chunk_bounds
from scorelab.synth.weights import degree_params, partition, weight_of

#: A stub's partner (``dst``): the part's index of one of its people (>= 0), none (-1, a
#: dropped self-loop), PENDING while another part draws it, or FOREIGN - global id.
PENDING = -2
FOREIGN = -3
_NO_LO, _NO_HI = np.iinfo(np.int64).max, np.iinfo(np.int64).min
#: A layer's ids are kept in the array they were sorted in while at least this share of it
#: is kept (``LayerPart.rows``)
VIEW_KEPT = 0.95


class Mode(NamedTuple):
    """A mixing mode: its probability, the block of each of the part's people (None: everyone
    is one block), and whether its blocks may span cities (then picks choose a city first)."""

    prob: float
    block: np.ndarray | None
    crosses: bool


class Facts(NamedTuple):
    """What the parts must agree on before they draw: each mode's least and greatest block
    code, and which modes give every person the same code (the same partition)."""

    lo: np.ndarray  #: int64 per mode
    hi: np.ndarray  #: int64 per mode
    equal: np.ndarray  #: bool [modes, modes]

    @classmethod
    def combine(cls, parts: list["Facts"]) -> "Facts":
        return cls(np.min([f.lo for f in parts], axis=0), np.max([f.hi for f in parts], axis=0),
                   np.logical_and.reduce([f.equal for f in parts]))


class Requests(NamedTuple):
    """Stubs whose partner another part draws, in stub order: the stub's person (global id),
    its number among that person's stubs, and its block; the part answering draws the stub's
    uniforms again from them (10 bytes a request)."""

    src: np.ndarray  #: int32
    stub: np.ndarray  #: int32
    block: np.ndarray  #: int16


# --------------------------------------------------------------------------- kernels


@nb.njit(cache=True, inline="always")
def _global_id(rlo, starts, l):
    """The global id of the part's person l."""
    if rlo.shape[0] == 1:  # (one range: a build of everyone, or neighbouring cities)
        return rlo[0] + l
    lo, hi = 0, rlo.shape[0] - 1
    while lo < hi:  # the last range starting at or before l
        mid = (lo + hi + 1) >> 1
        if starts[mid] <= l:
            lo = mid
        else:
            hi = mid - 1
    return rlo[lo] + (l - starts[lo])


@nb.njit(cache=True)
def range_weights(k0, k1, active, kind, mean, param, rlo, starts, w):
    """Weights of the part's people (``weights.weight_of`` at their global ids)."""
    for l in range(w.shape[0]):
        w[l] = weight_of(k0, k1, kind, mean, param, _global_id(rlo, starts, l)) if active[l] else 0.0


@nb.njit(cache=True)
def _stub_counts(k0, k1, w, rlo, starts, lo, hi, out):
    for l in range(lo, hi):
        if w[l] > 0.0:
            i = _global_id(rlo, starts, l)
            out[l] = rng.poisson_from_uniform(0.5 * w[l], rng.uniform(k0, k1, i, 0, 0, 0))
        else:
            out[l] = 0


@nb.njit(cache=True)
def _alias_tables(order, w, seg, prob, alias, small, large):
    """Walker/Vose alias tables per cell: position k keeps ``order[k]`` with probability
    ``prob[k]``, else takes ``alias[k]``; returns each cell's weight sum (in id order)."""
    mass = np.zeros(seg.shape[0] - 1)
    for b in range(seg.shape[0] - 1):
        a = seg[b]
        e = seg[b + 1]
        size = e - a
        if size == 0:
            continue
        total = 0.0
        for k in range(a, e):
            total += w[order[k]]
        mass[b] = total
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
            g = large[nl]
            alias[s] = order[g]
            scaled[g - a] = scaled[g - a] + scaled[s - a] - 1.0
            if scaled[g - a] < 1.0:
                small[ns] = g
                ns += 1
            else:
                large[nl] = g
                nl += 1
        while nl > 0:
            nl -= 1
            scaled[large[nl] - a] = 1.0
        while ns > 0:
            ns -= 1
            scaled[small[ns] - a] = 1.0
        for k in range(a, e):
            prob[k] = scaled[k - a]
    return mass


@nb.njit(cache=True, inline="always")
def _pick(segs, orders, probs, aliases, p, cell, u_pick, u_alias):
    """A participant of mode p's cell (the part's index), with probability proportional to weight."""
    a = segs[p, cell]
    size = segs[p, cell + 1] - a
    k = a + min(np.int64(u_pick * size), size - 1)
    return orders[p, k] if u_alias < probs[p, k] else aliases[p, k]


@nb.njit(cache=True, inline="always")
def _pick_city(cprob, calias, p, b, u):
    """A city with probability proportional to the weight of mode p's block b there: an alias
    table over the cities read with one uniform (its integer part picks a column, its
    fraction the alias test), without a branch that stalls the draws' memory reads."""
    n = cprob.shape[2]
    x = u * n
    c = min(np.int64(x), n - 1)
    return c if x - c < cprob[p, b, c] else calias[p, b, c]


@nb.njit(cache=True)
def _mode_of(mode_cdf, u):
    p = 0
    while p < mode_cdf.shape[0] - 1 and u >= mode_cdf[p]:
        p += 1
    return p


@nb.njit(cache=True)
def _draw(k0, k1, rlo, starts, lo, hi, stub_ptr, mode_cdf, crosses, cells, cell_block, city_cell, cprob, calias,
          segs, orders, probs, aliases, dst):
    """Partners of the stubs of the part's people lo..hi-1 (``dst``, as PENDING says); returns
    how many pend: those whose partner is in another part's cell."""
    pending = 0
    for l in range(lo, hi):
        i = _global_id(rlo, starts, l)
        s0 = stub_ptr[l]
        for j in range(stub_ptr[l + 1] - s0):
            u_mode, u_pick, u_alias, u_city = rng.uniform4(k0, k1, i, 0, j, 0)
            p = _mode_of(mode_cdf, u_mode)
            own = cells[p, l]
            b = cell_block[p, own]  # (0 in a mode within cities, whose tables lead to city 0)
            there = city_cell[p, b, _pick_city(cprob, calias, p, b, u_city)]
            cell = there if crosses[p] else own  # (a select, not a branch: 10 % faster at 4 million)
            if cell < 0:
                dst[s0 + j] = PENDING
                pending += 1
                continue
            q = _pick(segs, orders, probs, aliases, p, cell, u_pick, u_alias)
            dst[s0 + j] = q if q != l else -1
    return pending


@nb.njit(cache=True)
def _requests(k0, k1, rlo, starts, stub_ptr, mode_cdf, cells, cell_block, cprob, calias, owner, dst, at, slot, src,
              stub, block):
    """The pending stubs as requests grouped by the part they go to (from ``at``, each
    part's first position), in stub order within a part; with ``slot`` None, only counts
    them into ``at`` (shifted by one)."""
    for l in range(stub_ptr.shape[0] - 1):
        i = _global_id(rlo, starts, l)
        for s in range(stub_ptr[l], stub_ptr[l + 1]):
            if dst[s] != PENDING:
                continue
            j = s - stub_ptr[l]
            u_mode, _, _, u_city = rng.uniform4(k0, k1, i, 0, j, 0)
            p = _mode_of(mode_cdf, u_mode)
            b = cell_block[p, cells[p, l]]
            d = owner[_pick_city(cprob, calias, p, b, u_city)]
            if slot is None:
                at[d + 1] += 1
                continue
            m = at[d]
            slot[m], src[m], stub[m], block[m] = s, i, j, b
            at[d] = m + 1


@nb.njit(cache=True)
def _answer(k0, k1, rlo, starts, mode_cdf, cprob, calias, src, stub, block, city_cell, segs, orders, probs, aliases,
            partner, row):
    """Partners of another part's requests, and the rows (the part's index) they join: each
    stub's uniforms drawn again from its person and number."""
    for k in range(src.shape[0]):
        u_mode, u_pick, u_alias, u_city = rng.uniform4(k0, k1, src[k], 0, stub[k], 0)
        p = _mode_of(mode_cdf, u_mode)
        b = block[k]
        cell = city_cell[p, b, _pick_city(cprob, calias, p, b, u_city)]
        if cell < 0:
            raise ValueError("a request for a cell this part does not hold")
        q = _pick(segs, orders, probs, aliases, p, cell, u_pick, u_alias)
        row[k] = q
        partner[k] = _global_id(rlo, starts, q)


@nb.njit(cache=True)
def _rows(rlo, starts, stub_ptr, dst, in_row, in_src):
    """The part's rows: sorted, deduplicated partners (global ids), from its stubs in both
    directions and from other parts' stubs that fell on its people; int64 row starts, and the
    ids with the number of them kept (the rest: duplicates and self-loops removed)."""
    n = stub_ptr.shape[0] - 1
    deg = np.zeros(n + 1, dtype=np.int64)
    for l in range(n):
        for s in range(stub_ptr[l], stub_ptr[l + 1]):
            q = dst[s]
            if q >= 0:
                deg[l + 1] += 1
                deg[q + 1] += 1
            elif q <= FOREIGN:
                deg[l + 1] += 1
    for k in range(in_row.shape[0]):
        deg[in_row[k] + 1] += 1
    for l in range(n):
        deg[l + 1] += deg[l]
    indices = np.empty(deg[n], dtype=np.int32)
    pos = deg[:-1].copy()
    for l in range(n):
        i = _global_id(rlo, starts, l)
        for s in range(stub_ptr[l], stub_ptr[l + 1]):
            q = dst[s]
            if q >= 0:
                indices[pos[l]] = _global_id(rlo, starts, q)
                pos[l] += 1
                indices[pos[q]] = i
                pos[q] += 1
            elif q <= FOREIGN:
                indices[pos[l]] = FOREIGN - q
                pos[l] += 1
    for k in range(in_row.shape[0]):
        indices[pos[in_row[k]]] = in_src[k]
        pos[in_row[k]] += 1
    indptr = np.empty(n + 1, dtype=np.int64)
    indptr[0] = 0
    w = 0
    for l in range(n):
        a, b = deg[l], deg[l + 1]
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
        indptr[l + 1] = w
    return indptr, indices, w


# --------------------------------------------------------------------------- a part


def _dense(codes: np.ndarray) -> tuple[np.ndarray, int]:
    """Block codes renumbered 0..k-1 within the part (only the partition matters)."""
    if codes.size == 0:
        return np.zeros(0, dtype=np.int32), 1
    lo, hi = int(codes.min()), int(codes.max())
    if hi - lo < 2 * codes.size + 1024:
        return (codes - lo).astype(np.int32), hi - lo + 1
    uniq, inverse = np.unique(codes, return_inverse=True)
    return inverse.astype(np.int32), int(uniq.size)


class LayerPart:
    """One layer's build in one part: the people of ``ranges`` (``[lo, hi)`` rows of global ids,
    sorted), with their weights ``w``, modes and cities (None: one city) in that order.

    The steps, each after every part has done the one before: ``facts``, then
    ``prepare(Facts.combine(all facts))``, which returns the part's spanning cells' weight
    sums, then ``draw(sum of them, owner)``, which returns the parts it has requests for
    (``requests_for``), then ``answer`` the requests sent to it and ``take`` the answers to its
    own, then ``rows``.
    """

    def __init__(self, ranges: np.ndarray, w: np.ndarray, modes: list[Mode], city: np.ndarray | None,
                 n_cities: int, seed: int, layer: str, chunks: int = 1) -> None:
        self.rlo, self.starts = _range_index(ranges)
        self.w, self.modes, self.n_cities, self.chunks = w, modes, n_cities, chunks
        self.city = np.zeros(w.shape[0], dtype=np.int32) if city is None else city.astype(np.int32)
        self.seed, self.layer = int(seed), layer
        self._incoming: list[tuple[np.ndarray, np.ndarray]] = []

    # -- agreeing on the modes

    def facts(self) -> Facts:
        k = len(self.modes)
        lo, hi = np.full(k, _NO_LO), np.full(k, _NO_HI)
        equal = np.zeros((k, k), dtype=bool)
        for p, m in enumerate(self.modes):
            b = np.zeros(1, np.int64) if m.block is None else m.block
            if b.size:
                lo[p], hi[p] = int(b.min()), int(b.max())
            for q, m2 in enumerate(self.modes):
                equal[p, q] = (m.block is None and m2.block is None) or (
                    m.block is not None and m2.block is not None and np.array_equal(m.block, m2.block))
        return Facts(lo, hi, equal)

    def _merged(self, facts: Facts) -> list[tuple[float, int | None, bool]]:
        """Modes of probability 0 dropped, one-block modes made global, modes of the same
        partition merged: (probability, the mode whose blocks it uses or None, crosses)."""
        merged: list[tuple[float, int | None, bool]] = []
        for p, m in enumerate(self.modes):
            if m.prob <= 0.0:
                continue
            src = None if m.block is None or facts.lo[p] >= facts.hi[p] else p
            for k, (p2, s2, c2) in enumerate(merged):
                if (s2 is None and src is None) or (s2 is not None and src is not None and facts.equal[s2, src]):
                    merged[k] = (p2 + m.prob, s2, c2)
                    break
            else:
                merged.append((m.prob, src, m.crosses or src is None))
        return merged or [(1.0, None, True)]

    def prepare(self, facts: Facts) -> np.ndarray:
        """Cells, their alias tables, and the spanning cells' weight sums held here
        (float64 [modes, blocks, cities], zero where another part holds the cell)."""
        merged = self._merged(facts)
        probs = np.array([p for p, _, _ in merged])
        self.mode_cdf = np.cumsum(probs) / probs.sum()
        self.mode_cdf[-1] = 1.0
        self.crosses = np.array([c for _, _, c in merged], dtype=np.bool_)
        n, w = self.w.shape[0], self.w
        n_blocks = max([int(facts.hi[s]) + 1 if s is not None else 1 for _, s, c in merged if c] + [1])
        if n_blocks > np.iinfo(np.int16).max:  # (requests carry the block as int16)
            raise ValueError(f"{self.layer}: {n_blocks} blocks span cities; at most {np.iinfo(np.int16).max}")
        m = int(np.count_nonzero(w > 0.0))
        k_modes = len(merged)
        self.cells = np.zeros((k_modes, n), dtype=np.int32)
        self.orders = np.zeros((k_modes, max(m, 1)), dtype=np.int32)
        self.probs = np.ones((k_modes, max(m, 1)), dtype=np.float32)
        self.aliases = np.zeros((k_modes, max(m, 1)), dtype=np.int32)
        self.city_cell = np.full((k_modes, n_blocks, self.n_cities), -1, dtype=np.int32)
        cell_blocks, segs, masses = [], [], np.zeros((k_modes, n_blocks, self.n_cities))
        small, large = np.empty(max(m, 1), dtype=np.int64), np.empty(max(m, 1), dtype=np.int64)
        for p, (_, src, crosses) in enumerate(merged):
            block = np.zeros(n, dtype=np.int64) if src is None else self.modes[src].block
            if crosses:  # a cell per (block, city)
                wide = np.int64 if n_blocks * self.n_cities > np.iinfo(np.int32).max else np.int32
                codes = block.astype(wide) * self.n_cities + self.city
                cell, n_cells = _dense(codes)
                code = np.full(n_cells, -1, dtype=np.int64)  # (-1: a number no one here has)
                code[cell] = codes
                held = np.flatnonzero(code >= 0)
                cell_blocks.append(np.maximum(code // self.n_cities, 0).astype(np.int32))
                self.city_cell[p, code[held] // self.n_cities, code[held] % self.n_cities] = held
            else:
                cell, n_cells = _dense(block)
                cell_blocks.append(np.zeros(n_cells, dtype=np.int32))
            self.cells[p] = cell
            seg = np.zeros(n_cells + 1, dtype=np.int64)
            partition(cell, w, n_cells, self.orders[p], seg)
            mass = _alias_tables(self.orders[p], w, seg, self.probs[p], self.aliases[p], small, large)
            if crosses:
                masses[p, code[held] // self.n_cities, code[held] % self.n_cities] = mass[held]
            segs.append(seg)
        self.segs = _stack(segs, np.int64, fill_last=True)
        self.cell_block = _stack(cell_blocks, np.int32)
        return masses

    # -- drawing

    def draw(self, masses: np.ndarray, owner: np.ndarray) -> list[int]:
        """Every stub of the part's people, from the spanning cells' weight sums of all parts
        and each city's part; returns the parts it has requests for (``requests_for``)."""
        self.cprob, self.calias = city_tables(masses)
        k0, k1 = rng.key(self.seed, f"contacts.{self.layer}.stubs")
        n = self.w.shape[0]
        counts = np.empty(n, dtype=np.int64)
        for lo, hi in chunk_bounds(n, self.chunks):
            _stub_counts(k0, k1, self.w, self.rlo, self.starts, lo, hi, counts)
        self.stub_ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(counts, out=self.stub_ptr[1:])
        del counts
        self.dst = np.empty(int(self.stub_ptr[-1]), dtype=np.int32)
        k0, k1 = rng.key(self.seed, f"contacts.{self.layer}.partner")
        pending = 0
        for lo, hi in chunk_bounds(n, self.chunks):
            pending += _draw(k0, k1, self.rlo, self.starts, lo, hi, self.stub_ptr, self.mode_cdf, self.crosses,
                             self.cells, self.cell_block, self.city_cell, self.cprob, self.calias, self.segs, self.orders,
                             self.probs, self.aliases, self.dst)
        del self.w
        self._sent: dict[int, tuple[np.ndarray, Requests]] = {}
        if not pending:
            return []
        at = np.zeros(owner.max() + 2, dtype=np.int64)
        route = (k0, k1, self.rlo, self.starts, self.stub_ptr, self.mode_cdf, self.cells, self.cell_block, self.cprob,
                 self.calias, owner, self.dst)
        _requests(*route, at, None, None, None, None)
        np.cumsum(at, out=at)
        first, ends = at[:-1].copy(), at[1:].copy()
        slot = np.empty(pending, np.int64)
        r = Requests(np.empty(pending, np.int32), np.empty(pending, np.int32), np.empty(pending, np.int16))
        _requests(*route, at, slot, *r)
        self._sent = {int(d): (slot[a:b], Requests(*(x[a:b] for x in r)))
                      for d, (a, b) in enumerate(zip(first, ends)) if b > a}
        return sorted(self._sent)

    def requests_for(self, dest: int) -> Requests:
        """This part's requests to part ``dest``, in stub order."""
        return self._sent[dest][1]

    def answer(self, requests: Requests) -> np.ndarray:
        """Partners (global ids) of another part's requests; their edges join this part's rows."""
        k = requests.src.shape[0]
        partner, row = np.empty(k, dtype=np.int32), np.empty(k, dtype=np.int64)
        k0, k1 = rng.key(self.seed, f"contacts.{self.layer}.partner")
        _answer(k0, k1, self.rlo, self.starts, self.mode_cdf, self.cprob, self.calias, requests.src, requests.stub,
                requests.block, self.city_cell, self.segs, self.orders, self.probs, self.aliases, partner, row)
        self._incoming.append((row, requests.src))
        return partner

    def take(self, dest: int, partners: np.ndarray) -> None:
        """The answers of part ``dest`` to this part's requests, in their order."""
        self.dst[self._sent.pop(dest)[0]] = FOREIGN - partners

    def rows(self) -> tuple[np.ndarray, np.ndarray]:
        """The part's rows, in its order of people: int64 row starts and global ids."""
        if np.any(self.dst == PENDING):
            raise RuntimeError("rows asked for before every request was answered")
        for name in ("cells", "orders", "probs", "aliases", "segs", "cell_block", "city_cell", "cprob", "calias"):
            delattr(self, name)
        in_row = np.concatenate([r for r, _ in self._incoming] + [np.zeros(0, np.int64)])
        in_src = np.concatenate([s for _, s in self._incoming] + [np.zeros(0, np.int32)])
        self._incoming.clear()
        indptr, indices, kept = _rows(self.rlo, self.starts, self.stub_ptr, self.dst, in_row, in_src)
        del self.dst, self.stub_ptr
        # (a copy of the kept ids would double the largest array at the build's peak; a view
        # holds the few removed ones, unless duplicates were many, as in small firms and classes)
        return indptr, indices[:kept] if kept >= VIEW_KEPT * indices.shape[0] else indices[:kept].copy()


def city_tables(masses: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Alias tables over the cities for each spanning block (Walker/Vose, from the weight
    sums ``masses`` [modes, blocks, cities]): column c keeps city c with probability
    ``prob[c]``, else takes ``alias[c]``. A city without weight is never kept (where rounding
    would leave it a column of its own, that column goes to the block's heaviest city). Every
    part computes the same tables from the same sums."""
    prob = np.zeros(masses.shape)
    alias = np.zeros(masses.shape, dtype=np.int32)
    n = masses.shape[2]
    for p, b in np.ndindex(*masses.shape[:2]):
        mass = masses[p, b]
        total = float(mass.sum())
        if total <= 0.0:  # (a block no one of the layer is in: never picked)
            continue
        scaled = mass * n / total
        small = [c for c in range(n) if scaled[c] < 1.0]
        large = [c for c in range(n) if scaled[c] >= 1.0]
        alias[p, b] = np.arange(n)
        while small and large:
            s, g = small.pop(), large.pop()
            prob[p, b, s], alias[p, b, s] = scaled[s], g
            scaled[g] += scaled[s] - 1.0
            (small if scaled[g] < 1.0 else large).append(g)
        for c in small + large:
            prob[p, b, c] = 1.0
        empty = mass <= 0.0
        prob[p, b, empty] = 0.0
        alias[p, b, empty & (mass[alias[p, b]] <= 0.0)] = int(np.argmax(mass))
    return prob, alias


def part_weights(ranges: np.ndarray, active: np.ndarray, degree, seed: int, layer: str) -> np.ndarray:
    """The weights of the people of ``ranges`` (``active`` in their order), as a build of
    everyone gives them (``weights.layer_weights``)."""
    rlo, starts = _range_index(ranges)
    kind, mean, param = degree_params(degree)
    k0, k1 = rng.key(seed, f"contacts.{layer}.weight")
    w = np.empty(int(starts[-1]), dtype=np.float64)
    range_weights(k0, k1, active, kind, float(mean), float(param), rlo, starts, w)
    return w


def _range_index(ranges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each range's first global id, and its first index among the part's people (then their
    number): what ``_global_id`` reads."""
    ranges = np.asarray(ranges, dtype=np.int64).reshape(-1, 2)
    return ranges[:, 0].copy(), np.concatenate(([0], np.cumsum(ranges[:, 1] - ranges[:, 0]))).astype(np.int64)


def _stack(rows: list[np.ndarray], dtype, fill_last: bool = False) -> np.ndarray:
    """Rows of different lengths as one 2-d array (padded with the row's last value or 0)."""
    width = max(r.shape[0] for r in rows)
    out = np.zeros((len(rows), width), dtype=dtype)
    for k, r in enumerate(rows):
        out[k, : r.shape[0]] = r
        if fill_last and r.shape[0]:
            out[k, r.shape[0] :] = r[-1]
    return out


def chung_lu_rows(w: np.ndarray, modes: list[Mode], city: np.ndarray | None, n_cities: int, seed: int,
                  layer: str, chunks: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A layer of everyone: one part holding every city (int64 row starts, global ids)."""
    part = LayerPart(np.array([[0, w.shape[0]]]), w, modes, city, n_cities, seed, layer, chunks)
    masses = part.prepare(part.facts())
    if part.draw(masses, np.zeros(n_cities, dtype=np.int64)):
        raise RuntimeError("a part holding every city sent requests")
    return part.rows()
