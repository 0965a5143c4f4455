"""What one state owns: its regions' entities, as id ranges, and the halo, the people of
other regions whose starting scores its day 0 reads.

A shard's state (``engine.sharded``) keeps full-size per-entity arrays indexed by global id,
so that the kernels need no translation of ids, but writes only its own regions' entries
(``layout.allocate``): the others' pages are never touched and hold no memory. People and
firms are stored in city order, so a state's entities are a few contiguous ranges.

Day 0 is the one moment a state reads another region's people: a contact's starting score
for the social term's sums, and its starting marks for the association term. Those are
pure functions of the seed, so the state computes them for the contacts concerned (the
halo) apart, instead of holding their regions.
"""

from __future__ import annotations

import numpy as np

from scorelab.engine.layout import STATE, lazy_zeros
from scorelab.jit_cache import nb


def entity_ranges(params: object, own: np.ndarray | None) -> np.ndarray:
    """The ``[lo, hi)`` entity id ranges of the regions marked in ``own`` (None: all), one a
    row: each region's people, then each region's firms (ids from ``n_people`` on),
    neighbouring ranges merged."""
    P = params
    N = int(P.n_people)
    regions = range(len(P.reg_p0) - 1) if own is None else np.flatnonzero(own)
    rows = [(int(P.reg_p0[r]), int(P.reg_p0[r + 1])) for r in regions]
    rows += [(N + int(P.reg_f0[r]), N + int(P.reg_f0[r + 1])) for r in regions]
    merged: list[list[int]] = []
    for lo, hi in sorted(r for r in rows if r[1] > r[0]):
        if merged and merged[-1][1] == lo:
            merged[-1][1] = hi
        else:
            merged.append([lo, hi])
    return np.array(merged, dtype=np.int64).reshape(-1, 2)


def people_span(params: object, own: np.ndarray | None) -> tuple[int, int]:
    """The ``[lo, hi)`` ids of the people of the regions marked in ``own`` (None or all: every
    person), which must be neighbours (``engine.sharded.assign_regions`` gives runs of
    regions): a shard's per-person results are that range."""
    N = int(params.n_people)
    if own is None or np.all(own):
        return 0, N
    rows = [(lo, min(hi, N)) for lo, hi in entity_ranges(params, own) if lo < N]  # (a range may run on into firms)
    if len(rows) > 1:
        raise ValueError("a state's regions must be neighbours in the stored order")
    return (int(rows[0][0]), int(rows[0][1])) if rows else (0, 0)


def halo(params: object, own: np.ndarray) -> np.ndarray:
    """The people outside the regions marked in ``own`` whose starting own score a person of
    those regions reads at day 0: its people's social-term contacts and association-term
    contacts in other regions (both read along its own people's rows: the layers are
    undirected, so a person elsewhere who links to them is one of their contacts). Sorted ids
    (int64)."""
    P = params
    region_owned = np.ascontiguousarray(own, dtype=np.uint8)
    parts = []
    if P.soc_w > 0:
        parts.append(_outside_contacts(P.soc_ptr, P.soc_idx, P.reg_p0, region_owned))
    if P.as_on:
        parts.append(_outside_contacts(P.as_ptr, P.as_idx, P.reg_p0, region_owned))
    if not parts:
        return np.zeros(0, dtype=np.int64)
    return np.unique(np.concatenate(parts))


@nb.njit(cache=True)
def _outside_contacts(ptr, idx, reg_p0, owned):
    """Contacts in other regions of the owned regions' people (with repeats); a contact's
    region from the regions' first people (``reg_p0``), not from a per-person table."""
    count = 0
    for r in range(owned.shape[0]):
        if owned[r]:
            for i in range(reg_p0[r], reg_p0[r + 1]):
                for k in range(ptr[i], ptr[i + 1]):
                    count += owned[np.searchsorted(reg_p0, idx[k], side="right") - 1] == 0
    out = np.empty(count, dtype=np.int64)
    m = 0
    for r in range(owned.shape[0]):
        if owned[r]:
            for i in range(reg_p0[r], reg_p0[r + 1]):
                for k in range(ptr[i], ptr[i + 1]):
                    if owned[np.searchsorted(reg_p0, idx[k], side="right") - 1] == 0:
                        out[m] = idx[k]
                        m += 1
    return out


# ---- a shard's part of a checkpoint: the per-entity arrays cut to its own entities

#: State arrays that a shard's checkpoint keeps in another cut than its entities: the grade
#: buckets' members are kept by position, each region's a range of them (``reg_base``); the
#: national flag queues, kept by the driver, not at all.
_BY_POSITION = ("gb_mem",)
_NATIONAL = ("q_ent", "q_truth")


def region_sizes(params: object) -> np.ndarray:
    """Each region's people and firms (rows: regions; columns: people, firms)."""
    P = params
    return np.stack([np.diff(P.reg_p0), np.diff(P.reg_f0)], axis=1).astype(np.int64)


def _cuts(sizes: np.ndarray, own: np.ndarray) -> dict[str, np.ndarray]:
    """The ranges a shard's part keeps: of people, of entities, and of bucket positions."""
    people = np.concatenate([[0], np.cumsum(sizes[:, 0])])
    firms = np.concatenate([[0], np.cumsum(sizes[:, 1])])
    positions = np.concatenate([[0], np.cumsum(sizes.sum(axis=1))])
    N = int(people[-1])
    regions = np.flatnonzero(own)
    p_rows = [(people[r], people[r + 1]) for r in regions]
    return {"people": np.array(p_rows, dtype=np.int64).reshape(-1, 2),
            "entities": np.array(p_rows + [(N + firms[r], N + firms[r + 1]) for r in regions],
                                 dtype=np.int64).reshape(-1, 2),
            "positions": np.array([(positions[r], positions[r + 1]) for r in regions], dtype=np.int64).reshape(-1, 2)}


def _cut_of(name: str, axis_length: int, n_people: int, cuts: dict[str, np.ndarray]) -> np.ndarray | None:
    """The ranges an array of ``axis_length`` along its cut axis keeps (None: kept whole)."""
    array = next(a for a in STATE if a.name == name)
    if name in _NATIONAL:
        return np.zeros((0, 2), dtype=np.int64)
    if name in _BY_POSITION:
        return cuts["positions"]
    if array.entity_axis is None or axis_length == 0:
        return None
    return cuts["people"] if axis_length == n_people else cuts["entities"]


def cut_axis(name: str) -> int:
    """The axis along which a shard's part cuts state array ``name``."""
    axis = next(a for a in STATE if a.name == name).entity_axis
    return 1 if name in _NATIONAL else (axis or 0)


def cut_length(name: str, full_length: int, n_people: int, sizes: np.ndarray, own: np.ndarray) -> int:
    """The length along its cut axis of state array ``name`` in the part of the shard owning
    the regions ``own`` (its full length if the part keeps it whole)."""
    ranges = _cut_of(name, full_length, n_people, _cuts(sizes, own))
    return full_length if ranges is None else int((ranges[:, 1] - ranges[:, 0]).sum())


def compact(arrays: dict[str, np.ndarray], sizes: np.ndarray, own: np.ndarray) -> dict[str, np.ndarray]:
    """A shard's checkpoint arrays (``S.<name>``, ...) with its own entities' part only."""
    n_people = int(sizes[:, 0].sum())
    cuts = _cuts(sizes, own)
    out = {}
    for key, arr in arrays.items():
        name = key[2:] if key.startswith("S.") else None
        ranges = None if name is None else _cut_of(name, arr.shape[cut_axis(name)], n_people, cuts)
        if ranges is None:
            out[key] = arr
            continue
        axis = cut_axis(name)
        pieces = [arr[(slice(None),) * axis + (slice(int(lo), int(hi)),)] for lo, hi in ranges]
        out[key] = (np.concatenate(pieces, axis=axis) if pieces
                    else np.zeros(arr.shape[:axis] + (0,) + arr.shape[axis + 1:], dtype=arr.dtype))
    return out


def expand(arrays: dict[str, np.ndarray], full_shapes: dict[str, tuple[int, ...]], sizes: np.ndarray,
           own: np.ndarray) -> dict[str, np.ndarray]:
    """The inverse of ``compact``: full-size arrays (``layout.lazy_zeros``, the other entities'
    pages never written) with the shard's part in place; the arrays kept whole are copied."""
    n_people = int(sizes[:, 0].sum())
    cuts = _cuts(sizes, own)
    out = {}
    for key, arr in arrays.items():
        name = key[2:] if key.startswith("S.") else None
        shape = full_shapes.get(key)
        ranges = None if name is None or shape is None else _cut_of(name, shape[cut_axis(name)], n_people, cuts)
        if ranges is None:
            out[key] = np.array(arr)  # (arrays from Ray's object store are read-only)
            continue
        axis = cut_axis(name)
        full = lazy_zeros(shape, arr.dtype)
        at = 0
        for lo, hi in ranges:
            n = int(hi - lo)
            index = (slice(None),) * axis
            full[index + (slice(int(lo), int(hi)),)] = arr[index + (slice(at, at + n),)]
            at += n
        out[key] = full
    return out
