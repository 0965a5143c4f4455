"""A population built for some cities alone (``synth.cities``) has the rows of the whole build."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from scorelab import lazy_pages
from scorelab.scenario.loader import load
from scorelab.synth.cities import Census, build_cities, census
from scorelab.synth.population import build_population
from test_owned import PAGE, _pagemap_tells, resident


def _spec(name: str, people: int):
    sc = load(name, {"population.people": people})
    return sc.population, sc.run.seed


def _same_rows(part, whole, rows: np.ndarray, names: list[str]) -> None:
    for name in names:
        a, b = getattr(part, name), getattr(whole, name)
        assert a.shape == b.shape and a.dtype == b.dtype, name
        for lo, hi in rows:
            np.testing.assert_array_equal(a[lo:hi], b[lo:hi], err_msg=name)


@pytest.mark.parametrize("name,people,cities", [
    ("national-2027", 30_000, [0]),
    ("national-2027", 30_000, [5, 6, 7]),
    ("national-2027", 30_000, [2, 17, 34]),  # not neighbours
    ("national-2027-ihs", 20_000, [10, 11]),  # groups drawn by household
    ("rongcheng-2018", 20_000, [0]),  # one city: the whole population
])
def test_the_cities_rows_are_those_of_the_whole_build(name, people, cities):
    spec, seed = _spec(name, people)
    whole = build_population(spec, seed)
    built = build_cities(spec, seed, cities, chunk=1000)  # (chunks smaller than the population)
    part = built.population
    assert part.n == whole.n and part.n_households == whole.n_households
    assert list(built.cities) == sorted(cities)
    people_rows = built.people
    for (lo, hi), c in zip(people_rows, built.cities):  # each city's ids are its people
        assert np.all(whole.city[lo:hi] == c) and np.count_nonzero(whole.city == c) == hi - lo
    _same_rows(part, whole, people_rows, [f.name for f in fields(whole) if f.name in whole.person_columns()])
    for (lo, hi), c in zip(people_rows, built.cities):
        h0, h1 = whole.household[lo], whole.household[hi - 1] + 1
        np.testing.assert_array_equal(part.household_start[h0 : h1 + 1], whole.household_start[h0 : h1 + 1])
    firm_rows = built.firms
    for (lo, hi), c in zip(firm_rows, built.cities):
        assert np.all(whole.firms.city[lo:hi] == c) and np.count_nonzero(whole.firms.city == c) == hi - lo
    _same_rows(part.firms, whole.firms, firm_rows, [f.name for f in fields(whole.firms)])
    school_rows = [(np.flatnonzero(whole.schools.city == c)[[0, -1]] + [0, 1]) for c in built.cities
                   if np.any(whole.schools.city == c)]
    _same_rows(part.schools, whole.schools, school_rows, [f.name for f in fields(whole.schools)])
    for f in ("province_names", "city_names", "occupation_names", "group_names", "sector_names", "adult_age", "seed"):
        assert getattr(part, f) == getattr(whole, f)


def test_the_census_counts_every_city_and_parts_combine_to_it():
    spec, seed = _spec("national-2027", 20_000)
    whole = build_population(spec, seed)
    full = census(spec, seed, chunk=777)
    n = len(spec.regions)
    np.testing.assert_array_equal(full.people, np.bincount(whole.city, minlength=n))
    np.testing.assert_array_equal(full.households, np.bincount(whole.city[whole.household_start[:-1]], minlength=n))
    np.testing.assert_array_equal(full.employed, np.bincount(whole.city[whole.employer >= 0], minlength=n))
    np.testing.assert_array_equal(full.students, np.bincount(whole.city[whole.school >= 0], minlength=n))
    groups = [range(0, 12), range(12, 20), range(20, n)]
    parts = [build_cities(spec, seed, g, census_of_all=full).census for g in groups]
    combined = Census.combine(parts)
    counted = Census.combine([census(spec, seed, chunk=777, cities=g) for g in groups])  # (each part its own)
    for f in fields(full):
        np.testing.assert_array_equal(getattr(combined, f.name), getattr(full, f.name))
        np.testing.assert_array_equal(getattr(counted, f.name), getattr(full, f.name))
    with pytest.raises(ValueError, match="exactly one census part"):
        Census.combine(parts[:2])
    with pytest.raises(ValueError, match="exactly one census part"):
        Census.combine([parts[0], parts[0], parts[1], parts[2]])


def test_a_census_of_another_population_is_refused():
    spec, seed = _spec("national-2027", 10_000)
    other = census(spec, seed + 1)
    with pytest.raises(ValueError, match="does not match these cities"):
        build_cities(spec, seed, [3], census_of_all=other)
    with pytest.raises(ValueError, match="cities must be in 0..34"):
        build_cities(spec, seed, [35])


@pytest.mark.skipif(not _pagemap_tells(), reason="needs Linux's pagemap, with the bit of pages mapped once")
def test_a_city_built_alone_holds_memory_for_its_rows_only(monkeypatch):
    """Each per-person column of one city's build holds at most that city's bytes plus a page
    at each end; the whole build's columns hold all of theirs."""
    monkeypatch.setattr(lazy_pages, "_LAZY_BYTES", 0)  # (every array its own mapping)
    spec, seed = _spec("national-2027", 200_000)
    built = build_cities(spec, seed, [20])
    (lo, hi), = built.people
    assert 0 < hi - lo < 0.1 * built.population.n
    columns = built.population.person_columns()
    assert len(columns) >= 14
    for name, arr in columns.items():
        own = (hi - lo) * arr.itemsize
        assert resident(arr) <= own + 2 * PAGE, name
        assert resident(arr) >= own - 2 * PAGE, name
