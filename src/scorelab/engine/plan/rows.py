"""The tables of a plan's own entities (every entity's, or a part's: ``plan.part``): the
ranges of people and firms a planner fills, per-entity tables filled a range at a time, a
range of the population seen on its own, and the largest household."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from scorelab.engine.plan.context import Context
from scorelab.lazy_pages import lazy_zeros
from scorelab.synth.population import Population


def ranges_of(cx: Context) -> tuple[np.ndarray, np.ndarray]:
    """The plan's ``[lo, hi)`` ranges of people and of firms (firm numbers): everyone's, one
    range each, or a part's."""
    if cx.part is None:
        return np.array([[0, cx.N]], dtype=np.int64), np.array([[0, cx.F]], dtype=np.int64)
    return cx.part.people(), cx.part.firms()


def own_rows(cx: Context) -> np.ndarray | None:
    """A part's person ranges, the rows of its contact graphs (None: everyone's)."""
    return None if cx.part is None else cx.part.people()


def most_in_household(cx: Context) -> int:
    """The most people in a household: agreed among parts, else of the plan's own households."""
    if cx.part is not None and cx.part.facts is not None:
        return cx.part.facts.most_in_household
    starts = np.asarray(cx.pop.household_start)
    if cx.part is None:
        return int(np.diff(starts).max()) if starts.shape[0] > 1 else 0
    most = 0
    for lo, hi in cx.part.people():  # (a range's households: those of its first to its last person)
        first, last = int(cx.pop.household[lo]), int(cx.pop.household[hi - 1])
        most = max(most, int(np.diff(starts[first : last + 2]).max(initial=0)))
    return most


def entity_column(cx: Context, dtype: Any, people: Callable[[int, int], Any] | None,
                  firms: Callable[[int, int], Any] | None) -> np.ndarray:
    """A per-entity table: every person's entry (if ``people``), then every firm's (if
    ``firms``), ``people(lo, hi)`` and ``firms(lo, hi)`` giving a range's values. A part's
    table is mapped lazily, with its own entities' entries written."""
    at = cx.N if people is not None else 0  # (the firms' first entry)
    n = at + (cx.F if firms is not None else 0)
    out = np.empty(n, dtype=dtype) if cx.part is None else lazy_zeros(n, dtype)
    p_ranges, f_ranges = ranges_of(cx)
    for fill, ranges, offset in ((people, p_ranges, 0), (firms, f_ranges, at)):
        if fill is not None:
            for lo, hi in ranges:
                out[offset + lo : offset + hi] = fill(int(lo), int(hi))
    return out


def rows_view(pop: Population, people: tuple[int, int] | None, firms: tuple[int, int] | None) -> Population:
    """The population's people ``[lo, hi)`` and firms ``[lo, hi)`` as a population of their
    own (views, no copies); what the planners read per range."""
    from dataclasses import replace

    changes: dict[str, Any] = {}
    if people is not None:
        lo, hi = people
        changes.update({name: col[lo:hi] for name, col in pop.person_columns().items()})
    if firms is not None:
        lo, hi = firms
        f = pop.firms
        changes["firms"] = replace(f, **{name: getattr(f, name)[lo:hi] for name in
                                         ("size", "size_target", "sector", "province", "city", "representative")})
    return replace(pop, **changes)
