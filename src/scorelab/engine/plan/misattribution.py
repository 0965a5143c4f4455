"""Misattribution: with a channel's probability a record lands on someone else, anyone, a
member of the household, or a contact on the channel's layers (docs/channels.md,
docs/contacts.md)."""

from __future__ import annotations

from typing import Any

import numpy as np

from scorelab.engine.plan.context import Context
from scorelab.engine.plan.helpers import csr_union, frozen
from scorelab.engine.plan.params import MIS_ANYONE, MIS_HOUSEHOLD, MIS_SLOTS
from scorelab.engine.plan.rows import own_rows
from scorelab.scenario.model import LAYERS
from scorelab.synth.drawn import DRAWN_LAYERS, DrawnLayer, empty_tables


def plan_misattribution(cx: Context) -> dict[str, Any]:
    """Per channel the probability and where a misattributed record lands (``c_mis_graph``:
    MIS_ANYONE, MIS_HOUSEHOLD or a contact graph), the contact graphs, the drawn layers' tables
    and the households' id ranges."""
    s, pop, contacts, C, N = cx.s, cx.pop, cx.contacts, cx.C, cx.N
    c_mis_p = np.zeros(C)
    c_mis_graph = np.full(C, MIS_ANYONE, dtype=np.int64)
    mis_graphs: list[tuple[str, ...]] = []  # the distinct layer sets misattribution draws from
    for ci, name in enumerate(cx.chans):
        mis = s.channels[name].misattribution
        c_mis_p[ci] = mis.probability
        if mis.target == "contacts" and mis.probability > 0:
            layers = (mis.layer,) if mis.layer else tuple(sorted(LAYERS))
            if layers == ("household",) and "household" in contacts:
                c_mis_graph[ci] = MIS_HOUSEHOLD
            else:
                if layers not in mis_graphs:
                    mis_graphs.append(layers)
                c_mis_graph[ci] = mis_graphs.index(layers)
    # one contact graph per distinct layer set: graph g's neighbours of e are
    # mis_idx[g][mis_ptr[g][e]:mis_ptr[g][e + 1]]; a single layer's are the layer's own arrays
    # (not copied; row starts int32 unless a graph has 2^31 entries or more, then all int64)
    # (a drawn layer's contacts are drawn in the kernels: graph g draws from the drawn layers
    # of bits mis_drawn[g], numbered as DRAWN_LAYERS, besides its stored part)
    is_drawn = {name for name in contacts if isinstance(contacts[name], DrawnLayer)}
    graphs = [csr_union(contacts, [x for x in layers if x not in is_drawn], N, own_rows(cx)) for layers in mis_graphs]
    mis_drawn = np.array([sum(1 << DRAWN_LAYERS.index(x) for x in layers if x in is_drawn) for layers in mis_graphs]
                         + [0] * (MIS_SLOTS - len(mis_graphs)), dtype=np.int64)
    # (read-only, as every array of the plan: helpers.frozen)
    drawn = tuple(type(t)(*(frozen(a, a.dtype) for a in t))
                  for t in (contacts[x].tables if x in is_drawn else empty_tables(pop) for x in DRAWN_LAYERS))
    assert len(graphs) <= MIS_SLOTS  # distinct layer sets: single layers, or all of them
    wide = any(ptr.dtype == np.int64 and idx.shape[0] > np.iinfo(np.int32).max for ptr, idx in graphs)
    ptr_type = np.int64 if wide else np.int32
    pad = MIS_SLOTS - len(graphs)
    return dict(
        c_mis_p=c_mis_p, c_mis_graph=c_mis_graph,
        mis_ptr=tuple(frozen(ptr, ptr_type) for ptr, _ in graphs) + tuple(np.zeros(1, ptr_type) for _ in range(pad)),
        mis_idx=tuple(idx for _, idx in graphs) + tuple(np.zeros(0, np.int32) for _ in range(pad)),
        mis_drawn=mis_drawn, drawn=drawn, hh_start=frozen(pop.household_start, np.int32),
    )
