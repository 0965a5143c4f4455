"""Drawn social layers: friends or online contacts that are not stored, drawn when needed.

A stored layer costs 8 bytes an edge (friends and online: about 95 bytes a person in
Rongcheng, a quarter of a run's memory), while the day loop reads it only to pick whom a
misattributed record lands on. A drawn layer (``contacts.<layer>.storage: drawn``) keeps
only what drawing needs, about 5 bytes a participant, and makes a person's contacts from
counter-based draws whenever they are needed:

* participant ``e`` has ``d_e ~ Poisson(w_e)`` contacts, with the stored layer's weight
  ``w_e`` (the same stream, so the same sociability), ``contacts.<layer>.drawn`` at
  counter (e, 0, 0, 0);
* contact ``k < d_e`` picks a mixing mode as the stored layer does (same city and group,
  same city, same group, anyone), then a partner ``p`` in e's block of that mode with
  probability ``w_p / W_block``: the law of a stored layer's stub partner. A draw that
  falls on ``e`` is no contact (a stored layer drops self-loops). Counters (e, 1, k, 0)
  and (e, 2, k, t).

So e's contacts are fixed for the run (the same e always blames the same few people) and
distributed as in the stored layer: expected degree ``w_e`` in and out, the same mixing.
What differs: the graph is directed (p among e's contacts does not make e one of p's), a
contact may repeat, and the degree is Poisson(w) without the stored layer's small loss to
duplicates. Misattribution reads one direction only; the social term, which needs whose
contacts a person is, requires stored layers (the scenario is refused otherwise).

Drawing ``p`` with probability proportional to ``w_p`` in a block without per-person
tables: participants are sorted by cell (city x group); a block of any mode is a set of
cells, picked with probability proportional to its mass (cumulative sums per cell), and
within a cell ``w_p = min(w_p, cap) + excess_p`` with ``cap`` = KAPPA x the cell's mean
weight. The capped part is drawn by rejection (a uniform participant, kept with
probability ``min(w_p, cap) / cap``: KAPPA tries on average), the excess from the few
participants above the cap by bisection of their cumulative excess. Exact, O(1) memory
beyond the order of participants.
"""

from __future__ import annotations

from typing import NamedTuple

from scorelab.jit_cache import nb
import numpy as np

from scorelab import rng
from scorelab.scenario.population import SocialLayerSpec
from scorelab.synth.population import Population
from scorelab.synth.weights import degree_params, layer_weights, mode_probabilities, partition, participants, weight_of

#: A cell's cap on the capped part of a weight, in multiples of its mean participant weight:
#: rejection takes about KAPPA tries; participants above it (in Rongcheng 5 in a million for
#: friends, 0.5 % for online contacts) are kept apart.
KAPPA = 8.0
#: Rejection tries before giving up (never reached: a try succeeds with probability about
#: 1 / KAPPA; a run stays deterministic either way, the contact is then none).
MAX_TRIES = 1 << 20
#: The modes of a social layer, in order: same city and group, same city, same group, anyone.
N_MODES = 4


#: The layers that can be drawn (the kernels number them in this order).
DRAWN_LAYERS = ("friends", "online")


class DrawnTables(NamedTuple):
    """What drawing a layer's contacts needs (arguments of the numba functions)."""

    keys: np.ndarray  #: uint64[4]: the weight stream's key, then the drawn stream's
    spec: np.ndarray  #: float64[3]: weight kind (weights.KIND), mean, parameter
    mode_cdf: np.ndarray  #: float64[4]: cumulative mode probabilities (N_MODES order)
    active: np.ndarray  #: uint8, participants as bits (np.packbits order)
    city: np.ndarray  #: per person (the population's column, shared)
    group: np.ndarray  #: per person (the population's column, shared)
    order: np.ndarray  #: int32, participants sorted by cell, by id within a cell
    seg: np.ndarray  #: int64[cells + 1], each cell's range in order
    cap: np.ndarray  #: float64 per cell
    light: np.ndarray  #: float64 per cell, sum of min(w, cap)
    excess: np.ndarray  #: float64 per cell, sum of max(w - cap, 0)
    hptr: np.ndarray  #: int64[cells + 1], each cell's range in hid and hcum
    hid: np.ndarray  #: int32, participants above their cell's cap, by cell then id
    hcum: np.ndarray  #: float64, cumulative excess within each cell
    gcum: np.ndarray  #: float64[groups, cities], cumulative mass over the cities, per group
    ccum: np.ndarray  #: float64[cells], cumulative mass over all cells


@nb.njit(cache=True, inline="always")
def _active(T, i):
    return (T.active[i >> 3] >> (7 - (i & 7))) & 1


@nb.njit(cache=True)
def person_weight(T, i):
    """Person i's weight in the layer (0 for a non-participant), as the stored layer has it."""
    if not _active(T, i):
        return 0.0
    return weight_of(T.keys[0], T.keys[1], int(T.spec[0]), T.spec[1], T.spec[2], i)


@nb.njit(cache=True)
def n_contacts(T, e):
    """How many contacts e has in the layer (Poisson of e's weight; 0 for non-participants)."""
    w = person_weight(T, e)
    if w <= 0.0:
        return 0
    return rng.poisson_from_uniform(w, rng.uniform(T.keys[2], T.keys[3], e, 0, 0, 0))


@nb.njit(cache=True)
def _pick_cell(T, e, mode, u):
    """The cell a contact of e is drawn in: e's own (mode 0), or one of e's city, of e's group
    or of all, with probability proportional to its mass."""
    n_groups, n_cities = T.gcum.shape[0], T.gcum.shape[1]
    c, g = np.int64(T.city[e]), np.int64(T.group[e])
    if mode == 0:
        return c * n_groups + g
    if mode == 1:  # a scan of the city's groups (few)
        base = c * n_groups
        total = 0.0
        for h in range(n_groups):
            total += T.light[base + h] + T.excess[base + h]
        x = u * total
        for h in range(n_groups):
            m = T.light[base + h] + T.excess[base + h]
            if x < m or (h == n_groups - 1 and m > 0.0):  # (rounding past the end: the last with mass)
                return base + h
            x -= m
        return base + g  # (e's own cell has mass)
    if mode == 2:
        row = T.gcum[g]
        return _first_above_cum(row, u * row[n_cities - 1]) * n_groups + g
    return _first_above_cum(T.ccum, u * T.ccum[T.ccum.shape[0] - 1])


@nb.njit(cache=True, inline="always")
def _first_above_cum(cum, x):
    """The first index whose cumulative value exceeds x (the last if rounding leaves none)."""
    lo, hi = 0, cum.shape[0] - 1
    while lo < hi:
        mid = (lo + hi) >> 1
        if cum[mid] > x:
            hi = mid
        else:
            lo = mid + 1
    return lo


@nb.njit(cache=True)
def contact(T, e, k):
    """Contact k (0 <= k < n_contacts(T, e)) of e, or -1 where that draw falls on e itself."""
    k2, k3 = T.keys[2], T.keys[3]
    u_mode, u_cell, u_part, _ = rng.uniform4(k2, k3, e, 1, k, 0)
    mode = 0
    while mode < N_MODES - 1 and u_mode >= T.mode_cdf[mode]:
        mode += 1
    cell = _pick_cell(T, e, mode, u_cell)
    light, excess = T.light[cell], T.excess[cell]
    x = u_part * (light + excess)
    p = -1
    if x >= light and excess > 0.0:  # the excess of those above the cap
        a, b = T.hptr[cell], T.hptr[cell + 1]
        p = T.hid[a + _first_above_cum(T.hcum[a:b], x - light)]
    else:  # the capped part, by rejection
        a, n, cap = T.seg[cell], T.seg[cell + 1] - T.seg[cell], T.cap[cell]
        for t in range(MAX_TRIES):
            v0, v1, v2, v3 = rng.uniform4(k2, k3, e, 2, k, t)
            q = T.order[a + min(n - 1, np.int64(v0 * n))]
            if v1 * cap < min(person_weight(T, q), cap):
                p = q
                break
            q = T.order[a + min(n - 1, np.int64(v2 * n))]
            if v3 * cap < min(person_weight(T, q), cap):
                p = q
                break
    return -1 if p == e else p


@nb.njit(cache=True)
def _degrees(T, lo, hi, out):
    for e in range(lo, hi):
        out[e - lo] = n_contacts(T, e)


@nb.njit(cache=True)
def _fill(T, lo, hi, ptr, idx):
    """Contacts of lo..hi-1 into idx (rows from ptr, self draws dropped); returns the row ends."""
    m = 0
    for e in range(lo, hi):
        for k in range(ptr[e - lo + 1] - ptr[e - lo]):
            p = contact(T, e, k)
            if p >= 0:
                idx[m] = p
                m += 1
        ptr[e - lo + 1] = m
    return m


@nb.njit(cache=True)
def _heavy(order, seg, w, cap, hptr, hid, hcum):
    """Participants above their cell's cap, by cell, with their cumulative excess per cell."""
    m = 0
    for c in range(seg.shape[0] - 1):
        hptr[c] = m
        acc = 0.0
        for k in range(seg[c], seg[c + 1]):
            i = order[k]
            if w[i] > cap[c]:
                acc += w[i] - cap[c]
                hid[m] = i
                hcum[m] = acc
                m += 1
    hptr[seg.shape[0] - 1] = m


class DrawnLayer:
    """A social layer whose contacts are drawn when needed (see the module docstring).

    ``neighbors(i)`` are i's contacts in draw order (self draws dropped; a contact may
    repeat); ``degree()`` the number of draws ``d_i``; ``n_edges`` their sum (directed edges);
    ``to_csr()`` materialises them."""

    __slots__ = ("name", "tables", "_n_edges")

    def __init__(self, name: str, tables: DrawnTables) -> None:
        self.name = name
        self.tables = tables
        self._n_edges: int | None = None

    def __repr__(self) -> str:
        return f"DrawnLayer({self.name!r}, n={self.n})"

    @property
    def n(self) -> int:
        return int(self.tables.city.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of drawn (directed) contacts, sum of d_i (computed once, O(people))."""
        if self._n_edges is None:
            self._n_edges = int(self.degree().sum(dtype=np.int64))
        return self._n_edges

    def neighbors(self, i: int) -> np.ndarray:
        d = int(n_contacts(self.tables, int(i)))
        ptr = np.array([0, d], dtype=np.int64)
        idx = np.empty(d, dtype=np.int32)
        m = _fill(self.tables, int(i), int(i) + 1, ptr, idx)
        return idx[:m]

    def degree(self) -> np.ndarray:
        out = np.empty(self.n, dtype=np.int32)
        _degrees(self.tables, 0, self.n, out)
        return out

    def to_csr(self) -> tuple[np.ndarray, np.ndarray]:
        """Materialise as a directed CSR: row i holds i's contacts (int64 row starts)."""
        ptr = np.zeros(self.n + 1, dtype=np.int64)
        np.cumsum(self.degree(), out=ptr[1:])
        idx = np.empty(int(ptr[-1]), dtype=np.int32)
        m = _fill(self.tables, 0, self.n, ptr, idx)
        return ptr, idx[:m].copy()

    def nbytes(self) -> int:
        """Bytes of the layer's own tables (city and group are the population's columns)."""
        return int(sum(a.nbytes for name, a in self.tables._asdict().items() if name not in ("city", "group")))


def empty_tables(pop: Population) -> DrawnTables:
    """Tables of no layer, of the same types (what the kernels get for a layer not drawn)."""
    f, i = np.zeros(0), np.zeros(0, dtype=np.int64)
    return DrawnTables(keys=np.zeros(4, dtype=np.uint64), spec=np.zeros(3), mode_cdf=np.ones(N_MODES),
                       active=np.zeros(0, dtype=np.uint8), city=np.zeros(0, dtype=pop.city.dtype),
                       group=np.zeros(0, dtype=pop.group.dtype),
                       order=np.zeros(0, dtype=np.int32), seg=i, cap=f, light=f, excess=f, hptr=i,
                       hid=np.zeros(0, dtype=np.int32), hcum=f, gcum=np.zeros((0, 0)), ccum=f)


def drawn_layer(pop: Population, name: str, spec: SocialLayerSpec, seed: int, chunks: int = 1) -> DrawnLayer:
    """The tables of a drawn social layer (O(people) time; the weights are transient)."""
    active = participants(pop, name, spec)
    w = layer_weights(pop.n, active, spec.degree, seed, name, chunks)
    n_groups, n_cities = len(pop.group_names), len(pop.city_names)
    n_cells = n_cities * n_groups
    cell = (pop.city.astype(np.int64) * n_groups + pop.group).astype(np.int32)
    order = np.empty(int(np.count_nonzero(w > 0.0)), dtype=np.int32)
    seg = np.zeros(n_cells + 1, dtype=np.int64)
    partition(cell, w, n_cells, order, seg)
    mass = np.bincount(cell, weights=w, minlength=n_cells)
    size = np.diff(seg)
    cap = np.where(size > 0, KAPPA * mass / np.maximum(size, 1), 0.0)
    light = np.bincount(cell, weights=np.minimum(w, cap[cell]), minlength=n_cells)
    over = w > cap[cell]
    excess = np.bincount(cell, weights=np.where(over, w - cap[cell], 0.0), minlength=n_cells)
    del cell
    hptr = np.zeros(n_cells + 1, dtype=np.int64)
    n_heavy = int(np.count_nonzero(over))
    del over
    hid = np.empty(n_heavy, dtype=np.int32)
    hcum = np.empty(n_heavy, dtype=np.float64)
    _heavy(order, seg, w, cap, hptr, hid, hcum)
    del w
    cell_mass = light + excess
    gcum = np.cumsum(cell_mass.reshape(n_cities, n_groups).T, axis=1)
    kind, mean, param = degree_params(spec.degree)
    wk = rng.key(seed, f"contacts.{name}.weight")
    dk = rng.key(seed, f"contacts.{name}.drawn")
    cdf = np.cumsum(mode_probabilities(spec))
    cdf[-1] = 1.0
    tables = DrawnTables(
        keys=np.array([wk[0], wk[1], dk[0], dk[1]], dtype=np.uint64),
        spec=np.array([kind, mean, param], dtype=np.float64), mode_cdf=cdf,
        active=np.packbits(active), city=pop.city, group=pop.group, order=order, seg=seg,
        cap=cap, light=light, excess=excess, hptr=hptr, hid=hid, hcum=hcum,
        gcum=np.ascontiguousarray(gcum), ccum=np.cumsum(cell_mass),
    )
    return DrawnLayer(name, tables)
