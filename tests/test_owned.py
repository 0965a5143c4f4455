"""A shard holds its own regions' state only (``engine.owned``): the pages of other regions'
entities are never written, so the memory of the shards' states adds up to one state;
day 0 reads other regions' people through the halo only; a shard's checkpoint part holds
its own entities."""

from __future__ import annotations

import copy
import numpy as np
import pytest

import scorelab
from scorelab import lazy_pages
from scorelab.engine import layout, owned
from scorelab.engine.checkpoint import Checkpoint
from scorelab.engine.plan import compile_plan
from scorelab.engine.sharded import ShardWorker, assign_regions, simulate_sharded
from test_sharded import FOUR_CITIES

PAGE = 4096
#: Enough people that each per-entity array spans many pages: a shard's part of an array is
#: then its entities' bytes plus at most a page at each end of each range
PEOPLE = 60_000


@pytest.fixture(scope="module")
def big_four():
    spec = copy.deepcopy(FOUR_CITIES)
    spec["population"]["people"] = PEOPLE
    spec["run"] |= {"days": 12, "burn_in": "4 days"}
    sc = scorelab.load(spec)
    return sc, *scorelab.build_population(sc)


def resident(arr: np.ndarray) -> int:
    """Bytes of ``arr``'s pages that hold memory of this process's own: present and mapped
    exclusively (``/proc/self/pagemap`` bits 63 and 56), which a page only read (the kernel's
    shared zero page) is not. (smaps cannot tell: it counts neighbouring mappings together.)"""
    first = arr.ctypes.data // PAGE
    last = (arr.ctypes.data + arr.nbytes - 1) // PAGE
    with open("/proc/self/pagemap", "rb") as f:
        f.seek(first * 8)
        entries = np.frombuffer(f.read((last - first + 1) * 8), dtype=np.uint64)
    mine = (entries >> np.uint64(63)) & (entries >> np.uint64(56)) & np.uint64(1)
    return int(mine.sum()) * PAGE


def _pagemap_tells() -> bool:
    """Whether this system's pagemap tells a process's own pages (Linux since 4.2; not every
    sandbox): an array just written must show as resident."""
    try:
        probe = np.ones(64 * PAGE // 8)
        return resident(probe) >= 32 * PAGE
    except OSError:
        return False


def _worker(sc, pop, contacts, regions: list[int]) -> ShardWorker:
    """A shard worker of ``regions`` that ran the scenario's steps on its own (no messages
    from other regions: only what it writes is looked at)."""
    w = ShardWorker(sc.model_dump(mode="json", by_alias=True), regions, (pop, contacts), keep_records=False)
    reply = w.start()
    for s in range(w.plan.params.n_steps):
        if s == w.plan.params.report_from:
            w.start_reporting()
        reply = w.local(s, reply.l_stock)
    return w


def _per_entity(w: ShardWorker) -> dict[str, np.ndarray]:
    """The worker's per-entity arrays that are their own mappings, big enough to measure."""
    return {a.name: getattr(w.S, a.name) for a in layout.STATE
            if a.entity_axis is not None and getattr(w.S, a.name).nbytes >= 64 * PAGE}


@pytest.mark.skipif(not _pagemap_tells(), reason="needs Linux's pagemap, with the bit of pages mapped once")
def test_a_shard_holds_memory_for_its_own_entities_only(big_four, monkeypatch):
    """Every per-entity array of a shard owning one city (of four) holds at most its
    entities' bytes plus a page at each end of each range, and nothing is written outside
    them; the four cities' shards hold together what one state of every city holds, to a few
    pages an array."""
    sc, pop, contacts = big_four
    monkeypatch.setattr(lazy_pages, "_LAZY_BYTES", 0)  # (every array its own mapping)
    whole = _worker(sc, pop, contacts, [0, 1, 2, 3])
    held_whole = {name: resident(arr) for name, arr in _per_entity(whole).items()}
    assert len(held_whole) >= 10 and all(held_whole[n] > 0.5 * whole.S._asdict()[n].nbytes for n in ("total", "income_f"))
    P = whole.plan.params
    held_parts = dict.fromkeys(held_whole, 0)
    slack: dict[str, int] = {}
    for r in range(4):
        w = _worker(sc, pop, contacts, [r])
        ranges = owned.entity_ranges(P, w.S.own)
        for name, arr in _per_entity(w).items():
            axis = next(a.entity_axis for a in layout.STATE if a.name == name)
            length = arr.shape[axis]
            mine = np.zeros(length, dtype=bool)
            for lo, hi in ranges:
                mine[lo:min(hi, length)] = True
            outside = np.moveaxis(arr, axis, 0)[~mine]
            assert not outside.any(), f"{name}: written outside the shard's entities"
            edges = 2 * PAGE * len(ranges) * (arr.size // length)  # (a page at each end of a range, in each row)
            assert resident(arr) <= int(mine.sum()) * (arr.nbytes // length) + edges, name
            held_parts[name] += resident(arr)
            slack[name] = slack.get(name, 0) + edges
    for name, held in held_whole.items():
        assert held_parts[name] <= held + slack[name], name


def test_the_halo_is_the_people_elsewhere_a_shard_reads_at_day_0(big_four):
    """``owned.halo``: people of other regions who are social-term contacts of the shard's
    people, or whose association layer links to them; checked against the edges."""
    sc, pop, contacts = big_four
    w = ShardWorker(sc.model_dump(mode="json", by_alias=True), [1, 2], (pop, contacts), keep_records=False)
    P = w.plan.params
    assert P.soc_w > 0 and P.as_on
    mine = w.S.own[P.ent_city[: P.n_people]].astype(bool)
    src = np.repeat(np.arange(P.n_people), np.diff(P.soc_ptr))
    soc = P.soc_idx[mine[src] & ~mine[P.soc_idx]]
    src = np.repeat(np.arange(P.n_people), np.diff(P.as_ptr))
    senders = src[~mine[src] & mine[P.as_idx]]
    expected = np.unique(np.concatenate([soc, senders]))
    assert 100 < len(expected) < (~mine).sum()
    assert np.array_equal(owned.halo(P, w.S.own), expected)


def test_entity_ranges_and_the_people_span():
    """People and firms are stored by city: a run of regions is one range of people and one
    of firms; neighbouring ranges merge; regions that are not neighbours have no span."""

    class P:
        n_people = 10
        reg_p0 = np.array([0, 3, 3, 7, 10])
        reg_f0 = np.array([0, 1, 2, 2, 4])

    assert owned.entity_ranges(P, None).tolist() == [[0, 14]]
    P.reg_f0 = np.array([0, 0, 0, 1, 4])  # (the first two cities without firms)
    assert owned.entity_ranges(P, np.array([0, 0, 1, 1])).tolist() == [[3, 14]]  # (the last people, then all firms)
    assert owned.people_span(P, np.array([0, 0, 1, 1])) == (3, 10)
    P.reg_f0 = np.array([0, 1, 2, 2, 4])
    assert owned.entity_ranges(P, np.array([0, 1, 1, 0])).tolist() == [[3, 7], [11, 12]]
    assert owned.people_span(P, np.array([0, 1, 1, 0])) == (3, 7)
    assert owned.people_span(P, np.array([1, 1, 1, 1])) == (0, 10)
    with pytest.raises(ValueError):
        owned.people_span(P, np.array([1, 0, 0, 1]))


def test_a_shard_saves_its_own_entities(big_four, tmp_path):
    """A checkpoint's part of a shard holds the per-entity arrays cut to its entities, and its
    people's start grades; the national queues stay with the driver."""
    sc, pop, contacts = big_four
    ck = Checkpoint.create(tmp_path / "ck", 5, sc.model_dump(mode="json", by_alias=True), {"shards": 2})
    simulate_sharded(sc, pop, contacts, 2, backend="local", checkpoint=ck, keep_records=False)
    step, parts = ck.load_parts()
    P = compile_plan(sc, pop, contacts).params
    owner = assign_regions(np.diff(P.reg_base), 2)
    for k in range(2):
        part = parts[f"state-{k}"]
        ranges = owned.entity_ranges(P, (owner == k).astype(np.uint8))
        entities = int((ranges[:, 1] - ranges[:, 0]).sum())
        lo, hi = owned.people_span(P, owner == k)
        assert part["S.total"].shape == (entities,) and part["S.out"].shape[1] == entities
        assert part["start_grade"].shape == (hi - lo,) and part["S.q_ent"].shape[1] == 0


def test_the_plan_is_read_only_and_reads_read_only_layers_in_place(big_four):
    """Every array of the plan is read-only (one numba type, whoever made its inputs), and a
    plan built on read-only layers (as Ray hands its actors) reads them in place: no copy."""
    from scorelab.synth.contacts import Contacts, CSRLayer

    sc, pop, contacts = big_four

    def arrays(value):
        if isinstance(value, np.ndarray):
            yield value
        elif isinstance(value, tuple):
            for v in value:
                yield from arrays(v)

    frozen_layers = {}
    for name in contacts:
        layer = contacts[name]
        if isinstance(layer, CSRLayer):
            ptr, idx = layer.indptr.view(), layer.indices.view()
            ptr.flags.writeable = idx.flags.writeable = False
            layer = CSRLayer(name, ptr, idx)
        frozen_layers[name] = layer
    read_only = Contacts(frozen_layers)
    for inputs in (contacts, read_only):
        P = compile_plan(sc, pop, inputs).params
        found = [a for v in P for a in arrays(v)]
        assert found and not any(a.flags.writeable for a in found)
        friends = inputs["friends"].indices
        assert any(np.shares_memory(a, friends) for a in arrays(P.mis_idx) if a.size), "the layer was copied"


def test_ray_actors_report_their_memory_and_give_the_single_process_run(ray_session):
    """Two Ray actors (reading the driver's population and plan from the object store) give
    the in-process run, and report each its peak and own memory (``RunOutput.worker_memory``)."""
    from test_sharded import assert_same

    sc = scorelab.load(copy.deepcopy(FOUR_CITIES), {"run.days": 20, "population.people": 4000})
    pop, contacts = scorelab.build_population(sc)
    local = simulate_sharded(sc, pop, contacts, 2, backend="local")
    on_ray = simulate_sharded(sc, pop, contacts, 2, backend="ray")
    assert_same(local, on_ray)
    assert local.worker_memory == [] and len(on_ray.worker_memory) == 2
    for m in on_ray.worker_memory:
        assert 0 < m["own_peak"] <= m["peak"] and m["shared"] > 0
