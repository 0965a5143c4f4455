"""What several planners use: errors, read-only arrays, stream keys and unions of contact layers."""

from __future__ import annotations

from typing import Any

from scorelab.jit_cache import nb
import numpy as np

from scorelab import rng
from scorelab.engine.plan.part import merged
from scorelab.errors import Problem, ScenarioError
from scorelab.lazy_pages import lazy_zeros
from scorelab.synth.contacts import Contacts


def fail(path: str, message: str) -> ScenarioError:
    return ScenarioError([Problem("<scenario>", None, None, path, message)])


def frozen(a: np.ndarray, dtype) -> np.ndarray:
    """``a`` as ``dtype`` (copied only when the type differs), seen read-only. Every array of
    the plan is read-only (``read_only``), so that the kernels have one type for it whether
    the plan's inputs are this process's own or shared read-only: Ray's object store hands its
    actors read-only arrays, which were copied into writable ones (every contact layer the plan
    reads, again in every actor), read-only arrays being another numba type."""
    v = a.astype(dtype, copy=False).view()
    v.flags.writeable = False
    return v


def read_only(value: Any) -> Any:
    """A plan field with its arrays seen read-only (tuples, named ones too, followed)."""
    if isinstance(value, np.ndarray):
        return frozen(value, value.dtype)
    if isinstance(value, tuple):
        items = [read_only(v) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    return value


def stream_keys(seed: int, name: str) -> np.ndarray:
    """The two key words of a named stream (docs/randomness.md)."""
    k0, k1 = rng.key(seed, name)
    return np.array([k0, k1], dtype=np.uint64)


def _rows(n: int, rows: np.ndarray | None) -> np.ndarray:
    return np.array([[0, n]], dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)


def _entries(ptr: np.ndarray, rows: np.ndarray) -> int:
    """The entries of a CSR graph's rows ``[lo, hi)`` in ``rows``."""
    return int(sum(int(ptr[hi]) - int(ptr[lo]) for lo, hi in rows))


def row_starts(n: int, rows: np.ndarray | None) -> np.ndarray:
    """Zeroed row starts of a graph of ``n`` rows: every row's, or, for a part's ``rows``,
    mapped lazily (only its rows' starts are written)."""
    return np.zeros(n + 1, dtype=np.int64) if rows is None else lazy_zeros(n + 1, np.int64)


def csr_union(contacts: Contacts, names: list[str], n: int,
              rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One CSR graph that is the union of the named layers (duplicates removed), in O(edges);
    a single layer is the layer's own arrays (row starts int32 or int64, as the layer has them).
    With ``rows`` (a part's ``[lo, hi)`` ranges) only those rows, their starts counted from 0."""
    if rows is not None and len(rows) == 0:  # (a plan of no entity: the driver's of a sharded run)
        return row_starts(n, rows), np.zeros(0, dtype=np.int32)
    parts = [contacts[name].to_csr() for name in names if name in contacts]
    if not parts:  # no stored layer: row starts of one entry, read as no neighbours
        return np.zeros(1, dtype=np.int32), np.zeros(0, dtype=np.int32)
    present = [name for name in names if name in contacts]
    if len(parts) == 1 and (rows is None or _is_part(contacts[present[0]], rows)):
        ptr = parts[0][0]  # (one layer is already sorted and free of duplicates)
        return frozen(ptr, ptr.dtype if ptr.dtype == np.int64 else np.int32), frozen(parts[0][1], np.int32)
    ptrs = tuple(frozen(p, np.int64) for p, _ in parts)
    idxs = tuple(frozen(i, np.int32) for _, i in parts)
    rows_ = _rows(n, rows)
    bound = sum(_entries(p, rows_) for p in ptrs)
    out_ptr = row_starts(n, rows)
    out_idx = np.empty(bound, dtype=np.int32)
    m = merge_weighted_rows(rows_, ptrs, idxs, np.zeros(len(parts)), out_ptr, out_idx, np.empty(bound))
    return out_ptr, out_idx[:m].copy()


def _is_part(layer: object, rows: np.ndarray) -> bool:
    """Whether a layer holds exactly these rows, their starts from 0 (a part's own layer)."""
    people = getattr(layer, "people", None)
    return people is not None and np.array_equal(merged(people), merged(rows))


def weighted_union(contacts: Contacts, weights: dict[str, float], n: int,
                   rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One CSR graph of the named layers with a weight per edge: the layer's weight, the
    largest where two people are linked by several layers; rows sorted, in O(edges) (a global
    sort of every edge took 3.7 s of a million people's plan). With ``rows``, those rows only,
    as ``csr_union``."""
    layers = sorted(((name, float(w)) for name, w in weights.items() if name in contacts and w > 0),
                    key=lambda x: -x[1])  # (the largest weight first: the first copy of an edge is kept)
    ptr = row_starts(n, rows)
    if not layers or (rows is not None and len(rows) == 0):
        return ptr, np.zeros(0, dtype=np.int32), np.zeros(0)
    csrs = [contacts[name].to_csr() for name, _ in layers]
    ptrs = tuple(frozen(p, np.int64) for p, _ in csrs)
    idxs = tuple(frozen(i, np.int32) for _, i in csrs)
    rows_ = _rows(n, rows)
    bound = sum(_entries(p, rows_) for p in ptrs)
    out_idx, out_w = np.empty(bound, dtype=np.int32), np.empty(bound)
    m = merge_weighted_rows(rows_, ptrs, idxs, np.array([w for _, w in layers]), ptr, out_idx, out_w)
    return ptr, out_idx[:m].copy(), out_w[:m].copy()


@nb.njit(cache=True)
def merge_weighted_rows(rows, ptrs, idxs, weights, out_ptr, out_idx, out_w):
    """Row by row over the ranges ``rows`` (``[lo, hi)`` each), the sorted union of the rows of
    several CSR graphs given in decreasing weight, each entry with the weight of the first
    graph that has it; the number of entries. (``csr_union`` passes no weights worth keeping:
    the plain union.)"""
    m = 0
    for r in range(rows.shape[0]):
        out_ptr[rows[r, 0]] = m
        for i in range(rows[r, 0], rows[r, 1]):
            start = m
            for k in range(len(ptrs)):
                for q in range(ptrs[k][i], ptrs[k][i + 1]):
                    out_idx[m] = idxs[k][q]
                    out_w[m] = weights[k]
                    m += 1
            if m - start > 1:
                order = np.argsort(out_idx[start:m], kind="mergesort")  # (stable: the first copy first)
                c = out_idx[start:m][order]
                w = out_w[start:m][order]
                m = start
                for q in range(c.shape[0]):
                    if q == 0 or c[q] != c[q - 1]:
                        out_idx[m] = c[q]
                        out_w[m] = w[q]
                        m += 1
            out_ptr[i + 1] = m
    return m
