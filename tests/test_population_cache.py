"""The population cache (``scorelab.synth.cache``): a run through it writes the same bytes as
one without it, cold or warm; a warm run builds nothing; the key changes with exactly what
determines the population; a damaged or foreign entry is ignored and rebuilt, never used; the
size cap and the switches hold; ``scorelab cache`` shows and clears it."""

from __future__ import annotations

import copy
import json
import logging
import os
import zipfile
from dataclasses import fields

import numpy as np
import pytest

import scorelab
from scorelab.cli import app
from scorelab.synth import cache as popcache
from scorelab.synth import contacts as contacts_module
from scorelab.synth import world as world_module
from scorelab.synth.world import build_world
from test_engine_invariants import RICH

# every mechanism (RICH), small and short: the workplace and friends layers are stored and read
# (misattribution to contacts, the social term), so the cache holds a population and two layers
SMALL = copy.deepcopy(RICH)
SMALL["population"]["people"] = 3000
SMALL["run"]["days"] = 30
#: the manifest's fields that differ between any two runs (times, the command line)
VARYING = {"created", "wall_seconds", "loop_seconds", "compile_seconds", "agent_days_per_second", "command"}


def small(**overrides) -> scorelab.Scenario:
    return scorelab.load(copy.deepcopy(SMALL), overrides or None)


def arrays_of(pop, contacts) -> dict[str, np.ndarray]:
    """Every array of a world, by name."""
    out = {}
    for f in fields(pop):
        v = getattr(pop, f.name)
        if isinstance(v, np.ndarray):
            out[f.name] = v
        elif hasattr(v, "__dataclass_fields__"):
            out |= {f"{f.name}.{g.name}": getattr(v, g.name) for g in fields(v)}
    for name in contacts:
        layer = contacts[name]
        out |= {f"{name}.{k}": getattr(layer, k) for k in ("indptr", "indices", "household_start") if hasattr(layer, k)}
    return out


def assert_same_world(a, b) -> None:
    x, y = arrays_of(*a), arrays_of(*b)
    assert x.keys() == y.keys()
    for k in x:
        assert x[k].dtype == y[k].dtype and np.array_equal(x[k], y[k]), k
    assert a[0].city_names == b[0].city_names and a[0].seed == b[0].seed and a[1].names == b[1].names


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One scenario run three times, each in a folder named ``run``: a cold cache (built, then
    stored), a warm one (loaded: the builders are counted), no cache."""
    root = tmp_path_factory.mktemp("runs")
    calls = {"population": 0, "chung_lu": 0}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SCORELAB_CACHE_DIR", str(root / "cache"))
        sc = small()
        scorelab.run(sc, out=root / "cold" / "run", people_state=True)
        stored = sorted(p.name for p in (root / "cache" / "populations").iterdir())
        build_population, chung_lu = popcache.build_population, contacts_module.chung_lu_rows
        counted = lambda *a, **k: (calls.__setitem__("population", calls["population"] + 1),  # noqa: E731
                                   build_population(*a, **k))[1]
        mp.setattr(popcache, "build_population", counted)
        mp.setattr(world_module, "build_population", counted)
        mp.setattr(contacts_module, "chung_lu_rows", lambda *a, **k: (calls.__setitem__("chung_lu", calls["chung_lu"] + 1),
                                                                 chung_lu(*a, **k))[1])
        scorelab.run(sc, out=root / "warm" / "run", people_state=True)
        warm_calls = dict(calls)
        scorelab.run(sc, out=root / "none" / "run", people_state=True, cache=False)
    return root, stored, warm_calls, calls


def test_a_run_writes_the_same_bytes_with_the_cache_cold_warm_and_without(runs):
    root, _, _, _ = runs
    names = sorted(p.name for p in (root / "none" / "run").iterdir())
    assert "people.parquet" in names and "metrics.parquet" in names
    for where in ("cold", "warm"):
        assert sorted(p.name for p in (root / where / "run").iterdir()) == names
        for name in names:
            a, b = (root / where / "run" / name).read_bytes(), (root / "none" / "run" / name).read_bytes()
            if name == "manifest.json":
                a, b = ({k: v for k, v in json.loads(t).items() if k not in VARYING} for t in (a, b))
            assert a == b, f"{where}: {name}"


def test_a_warm_run_builds_nothing_and_the_cache_holds_what_it_read(runs):
    _, stored, warm_calls, calls = runs
    # the population and the stored layers the rules read (misattribution to any contact:
    # workplace and friends; school and online are off)
    assert [n.split("-")[0] for n in stored] == ["layer", "layer", "pop"]
    assert warm_calls == {"population": 0, "chung_lu": 0}
    assert calls == {"population": 1, "chung_lu": 2}  # (the run without the cache built them)


def test_the_cached_world_is_the_built_one_for_every_layer(tmp_path, monkeypatch):
    monkeypatch.setenv("SCORELAB_CACHE_DIR", str(tmp_path))
    sc = small(**{"contacts.school.enabled": True, "contacts.online.enabled": True})
    built = build_world(sc, layers="all")
    cold = popcache.cached_world(sc, layers="all")
    assert len(list((tmp_path / "populations").glob("layer-*.npz"))) == 4  # workplace, school, friends, online
    assert_same_world(built, cold)
    assert_same_world(built, popcache.cached_world(sc, layers="all"))
    read = popcache.cached_world(sc, layers="read")  # (a subset of the entries)
    assert read[1].names == build_world(sc, layers="read")[1].names
    for pop, contacts in (popcache.cached_world(sc, layers="none"), build_world(sc, layers="none")):
        assert contacts.names == () and np.array_equal(pop.age, built[0].age)  # (a cluster's driver)


def test_the_key_is_what_determines_the_population():
    sc = small()
    key, layer = popcache.population_key(sc), popcache.layer_key(sc, "friends")
    assert popcache.population_key(small()) == key  # (stable)
    for change in ({"run.seed": 8}, {"population.people": 2999}, {"population.male_share": 0.4}):
        assert popcache.population_key(small(**change)) != key, change
        assert popcache.layer_key(small(**change), "friends") != layer, change
    for same in ({"run.days": 10}, {"channels.police.detection": 0.5}, {"scoring.base": 700}):
        assert popcache.population_key(small(**same)) == key, same
    other = small(**{"contacts.friends.same_city": 0.5})
    assert popcache.population_key(other) == key and popcache.layer_key(other, "friends") != layer
    assert popcache.layer_key(other, "workplace") == popcache.layer_key(sc, "workplace")


def test_the_key_covers_every_source_the_build_imports():
    """``BUILD_SOURCES`` holds ``synth.world`` and every scorelab module it imports, anywhere
    (inside functions too), followed through: a change to any of them changes the key."""
    from test_architecture import ROOT, graph

    g = graph(everywhere=True)
    seen, todo = set(), ["scorelab.synth.world"]
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo += sorted(g.get(m, ()))
    files = {p.resolve() for p in popcache.build_sources()}
    missing = sorted(m for m in seen if not any(
        (ROOT.joinpath(*m.split(".")[1:]).with_suffix(".py")).resolve() == f or
        ROOT.joinpath(*m.split(".")[1:], "__init__.py").resolve() == f for f in files))
    assert "scorelab.rng" in seen and "scorelab.synth.population" in seen and not missing, missing


def _flip(path, at):
    data = bytearray(path.read_bytes())
    data[at] ^= 0x40
    path.write_bytes(bytes(data))


DAMAGE = {
    "a flipped byte in an array": lambda p, other: _flip(p, p.stat().st_size // 2),
    "a flipped byte in a member's name": lambda p, other: _flip(p, 31),
    "truncated": lambda p, other: p.write_bytes(p.read_bytes()[: p.stat().st_size // 3]),
    "empty": lambda p, other: p.write_bytes(b""),
    "another key's entry": lambda p, other: p.write_bytes(other.read_bytes()),
    "not a zip": lambda p, other: p.write_text("hello", encoding="utf-8"),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_entry_is_ignored_and_rebuilt(damage, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("SCORELAB_CACHE_DIR", str(tmp_path))
    sc = small()
    built = build_world(sc, layers="read")
    popcache.cached_world(sc)
    folder = tmp_path / "populations"
    pop_entry, layer_entry = next(folder.glob("pop-*.npz")), next(folder.glob("layer-*.npz"))
    DAMAGE[damage](pop_entry, layer_entry)
    if damage != "another key's entry":
        DAMAGE[damage](layer_entry, pop_entry)
    with caplog.at_level(logging.WARNING, logger="scorelab"):
        assert_same_world(built, popcache.cached_world(sc))
    assert f"{pop_entry.name} is damaged or stale" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="scorelab"):  # rewritten whole
        assert_same_world(built, popcache.cached_world(sc))
    assert caplog.text == ""
    with zipfile.ZipFile(pop_entry) as zf:
        assert zf.testzip() is None


def test_the_size_cap_keeps_the_most_recent_entries(tmp_path, monkeypatch):
    monkeypatch.setenv("SCORELAB_CACHE_DIR", str(tmp_path))
    popcache.cached_world(small())
    first = popcache.entries()
    size = sum(s for _, s, _ in first)
    for path, _, _ in first:
        os.utime(path, (1e9, 1e9))  # (used long ago)
    monkeypatch.setenv("SCORELAB_CACHE_MAX_MB", str(1.5 * size / 2**20))
    popcache.cached_world(small(**{"run.seed": 8}))
    left = {p.name for p, _, _ in popcache.entries()}
    assert sum(s for _, s, _ in popcache.entries()) <= 1.5 * size
    assert {f"pop-{popcache.population_key(small(**{'run.seed': 8}))}.npz"} <= left
    assert not {p.name for p, _, _ in first} <= left


def test_switched_off_it_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("SCORELAB_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("SCORELAB_NO_CACHE", "1")
    assert popcache.cache_folder() is None
    popcache.cached_world(small())
    monkeypatch.delenv("SCORELAB_NO_CACHE")
    popcache.cached_world(small(), use_cache=False)
    assert list(tmp_path.iterdir()) == []


def test_scorelab_cache_shows_and_clears(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("SCORELAB_CACHE_DIR", str(tmp_path))
    popcache.cached_world(small())
    r = runner.invoke(app, ["cache"])
    assert r.exit_code == 0 and "3 entries" in r.output and str(tmp_path) in r.output
    r = runner.invoke(app, ["cache", "--clear"])
    assert r.exit_code == 0 and "removed 3 entries" in r.output
    assert popcache.entries() == []
    monkeypatch.setenv("SCORELAB_NO_CACHE", "1")
    assert "switched off" in runner.invoke(app, ["cache"]).output
