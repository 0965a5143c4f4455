"""The population of some cities alone: the rows ``build_population`` gives them, built
without the other cities' people.

A worker of a sharded run simulates a few cities. Building the whole population to keep
them costs every worker the whole population's memory and time. ``build_cities`` draws the
households' sizes and cities for everyone, a chunk at a time (never held at once), and the
attributes, employers, schools and legal representatives of the chosen cities' people only.

The other cities enter through four counts each (``Census``): households, people, employed
and students. People, households, firms and schools are numbered across cities in city
order, so a city's ids start after those of the cities before it; the employed and students
of a city fix how many firms and schools it has. ``census`` counts them for every city (one
pass over everyone's attributes, chunk by chunk); a worker that builds its own cities counts
its own (``build_cities(...).census``), and ``Census.combine`` puts such parts together.

The result is a ``Population`` of full size whose arrays are mapped lazily
(``lazy_pages.lazy_zeros``): the chosen cities' people, households, firms and schools have
their ids and the values of the whole build (``tests/test_cities.py``), and the other
entries are zeros that hold no memory. Every entity of a city lives in that city, except
through contacts, which are not built here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from scorelab.lazy_pages import lazy_zeros
from scorelab.rng import Stream
from scorelab.scenario.population import PopulationSpec
from scorelab.synth.attributes import (STUDENT, PersonDraws, cdf, household_regions, household_size_chunks, ids,
                                       inverse_cdf)
from scorelab.synth.population import FIXED_OCCUPATIONS, Firms, Population, Schools, _sized_entities

#: Households drawn at a time when streaming over everyone's (a few MB of arrays)
CHUNK = 1 << 18


@dataclass(frozen=True)
class Census:
    """What numbering a city's entities needs to know of every city: int64 counts per city."""

    households: np.ndarray
    people: np.ndarray
    employed: np.ndarray  #: -1 where not counted (a part, before ``combine``)
    students: np.ndarray  #: -1 where not counted

    @staticmethod
    def starts(counts: np.ndarray) -> np.ndarray:
        """Each city's first id (and the total, last) for counts per city in city order."""
        out = np.zeros(counts.shape[0] + 1, dtype=np.int64)
        np.cumsum(counts, out=out[1:])
        return out

    @classmethod
    def combine(cls, parts: Sequence[Census]) -> Census:
        """One census from parts that each counted the employed and students of some cities
        (each city counted by exactly one part); their household and people counts agree."""
        first = parts[0]
        for p in parts[1:]:
            if not (np.array_equal(p.households, first.households) and np.array_equal(p.people, first.people)):
                raise ValueError("census parts disagree on households or people: built from different specs or seeds")
        counted = np.stack([p.employed >= 0 for p in parts])
        if not np.all(counted.sum(axis=0) == 1):
            raise ValueError("every city must be counted by exactly one census part")
        pick = counted.argmax(axis=0)
        cities = np.arange(first.people.shape[0])
        employed = np.stack([p.employed for p in parts])[pick, cities]
        students = np.stack([p.students for p in parts])[pick, cities]
        return cls(first.households, first.people, employed, students)


def _households(spec: PopulationSpec, seed: int, chunk: int) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Every household in generation order, a chunk at a time: (ids uint64, first person id
    int64, sizes int64, city uint16)."""
    first = 0
    for lo, sizes in household_size_chunks(spec, seed, chunk):
        hids = ids(lo, lo + sizes.shape[0])
        starts = np.zeros(sizes.shape[0], dtype=np.int64)
        np.cumsum(sizes[:-1], out=starts[1:])
        yield hids, starts + first, sizes, household_regions(spec, seed, hids)
        first += int(sizes.sum())


def _status(spec: PopulationSpec, occupation: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(employed, student) per person from occupation codes."""
    has_employer = np.array([False] * len(FIXED_OCCUPATIONS) + [o.employed for o in spec.occupations], dtype=bool)
    return has_employer[occupation], occupation == STUDENT


def census(spec: PopulationSpec, seed: int, chunk: int = CHUNK, cities: Iterable[int] | None = None) -> Census:
    """Every city's households, people, employed and students, from one pass over everyone
    (memory: one chunk of households and their people). With ``cities``, a census part: the
    employed and students of those cities only (the others' -1, their people's attributes not
    drawn), to be put together with the other parts' (``Census.combine``)."""
    n_cities = len(spec.regions)
    own = np.ones(n_cities, dtype=bool)
    if cities is not None:
        own[:] = False
        own[[int(c) for c in cities]] = True
    draws = PersonDraws(spec, seed)
    counts = np.zeros((4, n_cities), dtype=np.int64)
    for hids, first, sizes, region in _households(spec, seed, chunk):
        counts[0] += np.bincount(region, minlength=n_cities)
        counts[1] += np.bincount(region, weights=sizes, minlength=n_cities).astype(np.int64)
        keep = own[region]
        cols = draws.of(hids[keep], first[keep], sizes[keep], region=region[keep])
        employed, student = _status(spec, cols["occupation"])
        counts[2] += np.bincount(cols["city"][employed], minlength=n_cities)
        counts[3] += np.bincount(cols["city"][student], minlength=n_cities)
    counts[2:, ~own] = -1
    return Census(*counts)


@dataclass(frozen=True)
class CityBuild:
    """``build_cities``'s result: the population, the cities built, their counts as a census
    part (the employed and students of other cities -1), their id ranges (``[lo, hi)``
    per built city, in city order) of people and firms, and every city's first person, firm
    and household id (and the totals, last)."""

    population: Population
    cities: np.ndarray
    census: Census
    people: np.ndarray
    firms: np.ndarray
    person_starts: np.ndarray
    firm_starts: np.ndarray
    household_starts: np.ndarray


@dataclass(frozen=True)
class _Entities:
    """Firms or schools of every city, numbered across cities: each city's first id (and the
    total, last), the sum of target sizes before each city, and the built cities' targets."""

    ptr: np.ndarray
    before: np.ndarray
    targets: dict[int, np.ndarray]

    @property
    def n(self) -> int:
        return int(self.ptr[-1])


def _entities(seed: int, stream_name: str, needed: np.ndarray, own: np.ndarray, mean: float,
              sigma: float) -> _Entities:
    stream = Stream(seed, stream_name)
    counts, sums, targets = np.zeros(needed.shape[0], dtype=np.int64), np.zeros(needed.shape[0], dtype=np.int64), {}
    for c in range(needed.shape[0]):  # (each city's sizes come from its own slot of the stream)
        sizes = _sized_entities(stream, c, int(needed[c]), mean, sigma)
        counts[c], sums[c] = sizes.shape[0], int(sizes.sum(dtype=np.int64))
        if own[c]:
            targets[c] = sizes
    return _Entities(Census.starts(counts), Census.starts(sums)[:-1], targets)


def _members_of(seed: int, stream_name: str, pid: np.ndarray, city: np.ndarray, member: np.ndarray,
                ent: _Entities) -> tuple[np.ndarray, np.ndarray]:
    """Each member's entity (-1 for the others) as ``build_population`` picks it: within the
    city, in proportion to target size, from the cumulative target sizes across cities (so
    each city's sums start at the sizes of the cities before it). And the entities' target
    sizes as a full-size lazy array."""
    target = lazy_zeros(ent.n, np.int32)
    out = np.full(pid.shape[0], -1, dtype=np.int32)
    stream = Stream(seed, stream_name)
    for c, sizes in ent.targets.items():
        lo, hi = int(ent.ptr[c]), int(ent.ptr[c + 1])
        target[lo:hi] = sizes
        idx = np.flatnonzero(member & (city == c))
        if idx.size == 0:
            continue
        cum = int(ent.before[c]) + np.cumsum(sizes, dtype=np.int64)
        base, top = np.float64(ent.before[c]), np.float64(cum[-1])
        t = base + stream.uniform(pid[idx]) * (top - base)
        out[idx] = lo + np.minimum(np.searchsorted(cum, t, side="right"), hi - lo - 1)
    return out, target


def _representatives(spec: PopulationSpec, seed: int, cols: dict[str, np.ndarray], employer: np.ndarray,
                     firms: _Entities) -> np.ndarray:
    """The built cities' firms' legal representatives (generation-order person ids, in a
    full-size lazy array), as ``build_population`` picks them: the adult employee with the
    highest draw (the first in id order on a tie), else a random adult of the city."""
    rep = lazy_zeros(firms.n, np.int32)
    own_firms = np.concatenate([ids(int(firms.ptr[c]), int(firms.ptr[c + 1])) for c in firms.targets]
                               + [np.zeros(0, np.uint64)]).astype(np.int64)
    rep[own_firms] = -1
    pid, age = cols["pid"], cols["age"]
    worker = np.flatnonzero((employer >= 0) & (age >= spec.adult_age))
    u = Stream(seed, "population.representative").uniform(pid[worker])
    order = np.lexsort((pid[worker], -u, employer[worker]))
    f = employer[worker][order]
    first = np.ones(f.shape[0], dtype=bool)
    first[1:] = f[1:] != f[:-1]
    rep[f[first]] = pid[worker][order][first].astype(np.int32)
    missing = own_firms[rep[own_firms] < 0]
    if missing.size:
        adults = np.flatnonzero(age >= spec.adult_age)  # (people are in generation order)
        adults = adults[np.argsort(cols["city"][adults], kind="stable")]
        a_ptr = Census.starts(np.bincount(cols["city"][adults], minlength=len(spec.regions)))
        fc = np.searchsorted(firms.ptr, missing, side="right") - 1
        cnt = a_ptr[fc + 1] - a_ptr[fc]
        if np.any(cnt == 0):  # unreachable: a city with employees has households, which have adult heads
            raise RuntimeError("a city with firms has no adults")
        u = Stream(seed, "population.representative_fallback").uniform(missing.astype(np.uint64))
        rep[missing] = pid[adults[a_ptr[fc] + np.minimum((u * cnt).astype(np.int64), cnt - 1)]].astype(np.int32)
    return rep


def _own_households(spec: PopulationSpec, seed: int, own: np.ndarray, chunk: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The built cities' households in generation order (ids, first person, sizes, cities),
    and every city's household and people counts."""
    n_cities = own.shape[0]
    parts: list[tuple[np.ndarray, ...]] = []
    households, people = np.zeros(n_cities, dtype=np.int64), np.zeros(n_cities, dtype=np.int64)
    for hids, first, sizes, region in _households(spec, seed, chunk):
        households += np.bincount(region, minlength=n_cities)
        people += np.bincount(region, weights=sizes, minlength=n_cities).astype(np.int64)
        keep = own[region]
        parts.append((hids[keep], first[keep], sizes[keep], region[keep]))
    hids, first, sizes, region = (np.concatenate([p[k] for p in parts]) for k in range(4))
    return hids, first, sizes, region, households, people


def _new_ids(h_city: np.ndarray, sizes: np.ndarray, h_start: np.ndarray, p_start: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """City-order ids of the built households (in generation order) and of their first
    person: households are put in city order, stably, and people follow them."""
    order = np.argsort(h_city, kind="stable")
    city = h_city[order].astype(np.int64)
    block = np.searchsorted(city, city, side="left")  # each household's city block in ``order``
    rank = np.arange(order.shape[0], dtype=np.int64) - block
    cum = np.zeros(order.shape[0] + 1, dtype=np.int64)
    np.cumsum(sizes[order], out=cum[1:])
    new_h, new_first = np.empty_like(rank), np.empty_like(rank)
    new_h[order] = h_start[city] + rank
    new_first[order] = p_start[city] + cum[:-1] - cum[block]
    return new_h, new_first


def build_cities(spec: PopulationSpec, seed: int, cities: Iterable[int], census_of_all: Census | None = None,
                 chunk: int = CHUNK) -> CityBuild:
    """The people, households, firms and schools of ``cities`` (indices into
    ``spec.regions``) with the ids and values ``build_population(spec, seed)`` gives them.
    ``census_of_all``: every city's counts (``census``, or parts put together with
    ``Census.combine``); without it they are counted here, one pass over everyone."""
    seed = int(seed)
    n_cities = len(spec.regions)
    own = np.zeros(n_cities, dtype=bool)
    chosen = sorted({int(c) for c in cities})
    if any(c < 0 or c >= n_cities for c in chosen):
        raise ValueError(f"cities must be in 0..{n_cities - 1}, got {chosen}")
    own[chosen] = True
    hids, first, sizes, h_city, households, people = _own_households(spec, seed, own, chunk)
    cols = PersonDraws(spec, seed).of(hids, first, sizes, region=h_city)
    employed, student = _status(spec, cols["occupation"])
    city = cols["city"]
    mine = Census(households, people, np.where(own, np.bincount(city[employed], minlength=n_cities), -1),
                  np.where(own, np.bincount(city[student], minlength=n_cities), -1))
    full = census(spec, seed, chunk) if census_of_all is None else census_of_all
    for name in ("households", "people", "employed", "students"):
        if not np.array_equal(getattr(mine, name)[own], getattr(full, name)[own]):
            raise ValueError(f"the census given does not match these cities' {name}: another spec or seed")

    f, sch = spec.firms, spec.schools
    firms = _entities(seed, "population.firm_size", full.employed, own, f.mean_size, f.size_sigma)
    schools = _entities(seed, "population.school_size", full.students, own, sch.mean_size, sch.size_sigma)
    employer, f_target = _members_of(seed, "population.employer", cols["pid"], city, employed, firms)
    school, s_target = _members_of(seed, "population.school", cols["pid"], city, student, schools)
    rep_old = _representatives(spec, seed, cols, employer, firms)

    new_h, new_first = _new_ids(h_city, sizes, Census.starts(full.households), Census.starts(full.people))
    new_pid = np.repeat(new_first - np.concatenate(([0], np.cumsum(sizes)[:-1])), sizes) + np.arange(
        int(sizes.sum()), dtype=np.int64)
    return _assemble(spec, seed, own, full, cols, employer, school, new_pid, new_h, new_first, sizes,
                     (firms, f_target, rep_old), (schools, s_target), mine)


def _full(n: int, at: np.ndarray, values: np.ndarray) -> np.ndarray:
    """A full-size lazy array with ``values`` at the ids ``at``."""
    out = lazy_zeros(n, values.dtype)
    out[at] = values
    return out


def _assemble(spec: PopulationSpec, seed: int, own: np.ndarray, full: Census, cols: dict[str, np.ndarray],
              employer: np.ndarray, school: np.ndarray, new_pid: np.ndarray, new_h: np.ndarray,
              new_first: np.ndarray, sizes: np.ndarray, firm_parts: tuple, school_parts: tuple,
              mine: Census) -> CityBuild:
    """The built cities' rows placed at their city-order ids in full-size lazy arrays."""
    (firms, f_target, rep_old), (schools, s_target) = firm_parts, school_parts
    regions = spec.regions
    province_names = tuple(dict.fromkeys(r.province for r in regions))
    city_province = np.array([province_names.index(r.province) for r in regions], dtype=np.uint8)
    n, n_h = int(full.people.sum()), int(full.households.sum())
    h_start, p_start = Census.starts(full.households), Census.starts(full.people)
    chosen = np.flatnonzero(own)

    household_start = lazy_zeros(n_h + 1, np.int32)
    household_start[new_h] = new_first
    household_start[h_start[chosen + 1]] = p_start[chosen + 1]
    columns = {k: cols[k] for k in ("age", "sex", "city", "urban", "income", "occupation", "internet",
                                    "online_shopper", "car", "group")}
    columns.update(employer=employer, school=school, household=np.repeat(new_h, sizes).astype(np.int32))
    columns["province"] = city_province[cols["city"]]
    people = {k: _full(n, new_pid, v) for k, v in columns.items()}

    pid_order = cols["pid"].astype(np.int64)  # (ascending: people in generation order)
    own_f = np.concatenate([np.arange(firms.ptr[c], firms.ptr[c + 1]) for c in chosen] + [np.zeros(0, np.int64)])
    rep = lazy_zeros(firms.n, np.int32)
    rep[own_f] = new_pid[np.searchsorted(pid_order, rep_old[own_f])]
    sector_cdf = cdf(list(spec.firms.sectors.values()))
    s_sector = Stream(seed, "population.firm_sector")
    f_sector, f_city, s_city = lazy_zeros(firms.n, np.uint8), lazy_zeros(firms.n, np.uint16), lazy_zeros(schools.n, np.uint16)
    for c in chosen:
        lo, hi = int(firms.ptr[c]), int(firms.ptr[c + 1])
        f_sector[lo:hi] = inverse_cdf(sector_cdf, s_sector.uniform(ids(0, hi - lo), slot=int(c)))
        f_city[lo:hi] = c
        s_city[schools.ptr[c] : schools.ptr[c + 1]] = c
    firm_table = Firms(size=_sizes(employer, firms.n), size_target=f_target, sector=f_sector,
                       province=_provinces(f_city, city_province, firms.ptr, chosen), city=f_city, representative=rep)
    school_table = Schools(size=_sizes(school, schools.n), size_target=s_target,
                           province=_provinces(s_city, city_province, schools.ptr, chosen), city=s_city)
    pop = Population(
        **people, household_start=household_start, firms=firm_table, schools=school_table,
        province_names=province_names, city_names=tuple(r.city for r in regions), city_province=city_province,
        occupation_names=FIXED_OCCUPATIONS + tuple(o.name for o in spec.occupations),
        occupation_employed=np.array([False] * len(FIXED_OCCUPATIONS) + [o.employed for o in spec.occupations],
                                     dtype=bool),
        group_names=tuple(spec.groups), sector_names=tuple(spec.firms.sectors), adult_age=spec.adult_age, seed=seed,
    )
    return CityBuild(pop, chosen, mine, np.stack([p_start[chosen], p_start[chosen + 1]], axis=1),
                     np.stack([firms.ptr[chosen], firms.ptr[chosen + 1]], axis=1), p_start, firms.ptr.astype(np.int64),
                     h_start)


def _sizes(member: np.ndarray, n_entities: int) -> np.ndarray:
    """Members per entity, as a full-size lazy array (only the built cities' entities have any)."""
    out = lazy_zeros(n_entities, np.int32)
    at = member[member >= 0]
    if at.size:
        lo, hi = int(at.min()), int(at.max()) + 1
        out[lo:hi] = np.bincount(at - lo, minlength=hi - lo)
    return out


def _provinces(entity_city: np.ndarray, city_province: np.ndarray, ptr: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    out = lazy_zeros(entity_city.shape[0], np.uint8)
    for c in chosen:
        out[ptr[c] : ptr[c + 1]] = city_province[c]
    return out
