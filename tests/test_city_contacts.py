"""Contact layers built city by city (``synth.city_contacts``): every part's rows are the
rows of the build of everyone, whatever the parts, with the stubs that cross parts sent as
requests."""

from __future__ import annotations

import numpy as np
import pytest

from scorelab.scenario.loader import load
from scorelab.synth.cities import census
from scorelab.synth.city_contacts import contacts_by_parts
from scorelab.synth.contacts import build_contacts
from scorelab.synth.population import build_population

#: business contacts on (workplace contacts that leave the firm, and so the city)
OVERRIDES = {"population.people": 24_000, "contacts.workplace.same_employer": 0.7}


@pytest.fixture(scope="module")
def national():
    sc = load("national-2027", OVERRIDES)
    pop = build_population(sc.population, sc.run.seed)
    return sc, build_contacts(pop, sc.contacts, sc.run.seed), census(sc.population, sc.run.seed)


def _rows(layer, lo, hi):
    return [layer.neighbors(i) for i in range(lo, hi)]


@pytest.mark.parametrize("parts", [
    [[0, 3], [1, 2], list(range(4, 35))],  # scattered and neighbouring cities
    [[c] for c in range(35)],  # a city each
    [list(range(35))],  # one part: the build of everyone
])
def test_every_part_has_the_rows_of_the_whole_build(national, parts):
    sc, whole, full = national
    built = contacts_by_parts(sc.population, sc.contacts, sc.run.seed, parts, census_of_all=full, chunk=5_000)
    assert [sorted(b.build.cities.tolist()) for b in built] == [sorted(p) for p in parts]
    for part in built:
        assert part.contacts.names == whole.names == ("household", "workplace", "school", "friends", "online")
        for name in whole.names:
            held = 0
            for lo, hi in part.build.people:
                mine, theirs = _rows(part.contacts[name], lo, hi), _rows(whole[name], lo, hi)
                for i, (a, b) in enumerate(zip(mine, theirs)):
                    np.testing.assert_array_equal(a, b, err_msg=f"{name}, person {lo + i}")
                held += sum(len(r) for r in mine)
            if name != "household":  # the part keeps its people's rows and nothing else
                assert part.contacts[name].indices.shape[0] == held
    # each part counts the edges with an end among its people: the whole's, once more those between parts
    part_of = np.zeros(sum(hi - lo for b in built for lo, hi in b.build.people), dtype=np.int64)
    for k, b in enumerate(built):
        for lo, hi in b.build.people:
            part_of[lo:hi] = k
    for name in whole.names:
        layer = whole[name]
        if name == "household":
            between = 0  # (households never leave a city)
        else:
            src = np.repeat(np.arange(layer.n), np.diff(layer.indptr))
            between = int(np.count_nonzero(part_of[src] != part_of[layer.indices])) // 2
        assert sum(b.contacts[name].n_edges for b in built) == layer.n_edges + between, name
    assert "people=" in repr(built[0].contacts[whole.names[-1]])


def test_the_crossing_layers_do_cross_parts(national):
    """The test above would be empty if no stub crossed: friends, online and business
    contacts link people of different parts."""
    sc, whole, _ = national
    pop_city = build_population(sc.population, sc.run.seed).city
    for name in ("workplace", "friends", "online"):
        layer = whole[name]
        src = np.repeat(np.arange(layer.n), np.diff(layer.indptr))
        assert np.mean(pop_city[src] != pop_city[layer.indices]) > 0.05, name


def test_parts_must_cover_every_city_once(national):
    sc, _, full = national
    seed = sc.run.seed
    with pytest.raises(ValueError, match=r"cities \[34\] are in no part"):
        contacts_by_parts(sc.population, sc.contacts, seed, [list(range(34))], census_of_all=full)
    with pytest.raises(ValueError, match="city 3 is outside 0..34 or in two parts"):
        contacts_by_parts(sc.population, sc.contacts, seed, [[0, 1, 2, 3], list(range(3, 35))], census_of_all=full)


def test_drawn_layers_are_refused():
    sc = load("national-2027", {**OVERRIDES, "contacts.online.storage": "drawn"})
    with pytest.raises(ValueError, match="contacts.online.storage: drawn layers cannot be built by cities yet"):
        contacts_by_parts(sc.population, sc.contacts, sc.run.seed, [list(range(35))])


def test_ray_actors_build_the_same_rows(national, ray_session):
    """Two Ray actors, each building its cities alone; requests and answers go from actor to
    actor (``RayCalls``)."""
    from scorelab.synth.city_contacts import CityBuilder, RayCalls, build_parts, owners, stored_layers

    sc, whole, full = national
    parts = [list(range(0, 20)), list(range(20, 35))]
    actor = ray_session.remote(num_cpus=0)(CityBuilder)
    actors = [actor.remote(sc.population, sc.contacts, sc.run.seed, cities, full) for cities in parts]
    build_parts(RayCalls(ray_session, actors), 2, owners(35, parts), stored_layers(sc.contacts))
    for part in ray_session.get([a.result.remote() for a in actors]):
        for name in whole.names:
            for lo, hi in part.build.people:
                for i in range(lo, hi):
                    np.testing.assert_array_equal(part.contacts[name].neighbors(i), whole[name].neighbors(i))
    assert all(m.get("VmHWM", 1) > 0 for m in ray_session.get([a.memory.remote() for a in actors]))


@pytest.mark.parametrize("mass", [
    [3.0, 0.0, 1.0, 4.0, 0.0, 2.0],  # cities without weight among others
    [0.0, 0.0, 5.0],  # one city holds the block
    [1e-300, 1.0, 1e300],  # extremes
    list(np.random.default_rng(1).gamma(0.3, size=35)),
])
def test_the_city_alias_table_gives_each_city_its_share_and_none_to_empty_ones(mass):
    """A spanning block picks city c with probability W_c / W (exactly, up to rounding): the
    column's own share plus the columns aliased to it, each 1 / cities."""
    from scorelab.synth.chung_lu import city_tables

    m = np.array(mass, dtype=float)
    prob, alias = city_tables(m.reshape(1, 1, -1))
    prob, alias = prob[0, 0], alias[0, 0]
    n = m.size
    got = prob / n + np.bincount(alias, weights=(1.0 - prob) / n, minlength=n)
    np.testing.assert_allclose(got, m / m.sum(), atol=1e-12)
    assert np.all(prob[m == 0] == 0.0) and np.all(m[alias] > 0)
