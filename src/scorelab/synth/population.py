"""Synthetic people, households, firms and schools as columns of small-dtype arrays.

``build_population(spec, seed, chunks)`` generates households in contiguous id
ranges; every draw is a counter-based function of ``(seed, stream, id)``
(``scorelab.rng``), so building in 1 chunk or 8 gives byte-identical arrays.
The only global steps are O(n) prefix sums and counts: household sizes ->
person id ranges, employed and students per city -> firm and school tables.

Order of generation (stream names in brackets; see docs/population.md):

1. household sizes, by household id, until the sizes cover ``spec.people``
   (the last household is cut) [population.household_size]
2. per household: city [population.region], urban hukou [population.hukou],
   group if shared [population.group]
3. per person: age (the first member of each household is an adult, the
   others follow a compensating distribution so the marginal matches the
   spec) [population.age], sex [population.sex], group if not shared
   [population.group], school enrolment [population.enrolment],
   occupation [population.occupation], income [population.income], internet
   use [population.internet], online shopping [population.online_shopper],
   car [population.car]
4. per city: firm sizes [population.firm_size] and sectors
   [population.firm_sector], school sizes [population.school_size]
5. per person: employer [population.employer], school [population.school]
6. per firm: the legal representative, the adult employee with the highest
   draw [population.representative], else a random adult of the city
   [population.representative_fallback]
7. households are put in city order (stable) and people renumbered, so that each
   city's people are one contiguous id range, as its firms already are: the day
   loop draws each region's events over that range, and a worker holding some
   regions holds whole ranges
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

from scorelab.jit_cache import nb
import numpy as np

from scorelab import rng
from scorelab.rng import Stream
from scorelab.scenario.population import PopulationSpec
from scorelab.synth.attributes import CHILD, MAX_AGE, RETIRED, STUDENT, PersonDraws, household_starts
from scorelab.synth.attributes import cdf as _cdf
from scorelab.synth.attributes import ids as _ids
from scorelab.synth.attributes import inverse_cdf as _inverse_cdf

FIXED_OCCUPATIONS = ("child", "student", "retired")
SEX_NAMES = ("female", "male")
__all__ = ["CHILD", "FIXED_OCCUPATIONS", "MAX_AGE", "PARKABLE", "RETIRED", "SEX_NAMES", "STUDENT", "Firms",
           "Population", "Schools", "build_population", "chunk_bounds"]


def _arrays_nbytes(obj) -> int:
    return sum(getattr(obj, f.name).nbytes for f in fields(obj) if isinstance(getattr(obj, f.name), np.ndarray))


@dataclass(frozen=True, eq=False)
class Firms:
    """Legal entities, one row per firm (id = row). Firms are sorted by city."""

    size: np.ndarray  #: int32, actual number of employees
    size_target: np.ndarray  #: int32, drawn target size (employees pick firms in proportion to it)
    sector: np.ndarray  #: uint8, index into ``Population.sector_names``
    province: np.ndarray  #: uint8, index into ``Population.province_names``
    city: np.ndarray  #: uint16, index into ``Population.city_names``
    representative: np.ndarray  #: int32 person id of the legal representative (an adult)

    @property
    def n(self) -> int:
        return int(self.size.shape[0])

    def credit_codes(self, ids: np.ndarray | None = None) -> list[str]:
        """Synthetic unified social credit codes (GB 32100-2015 format) of the firms
        (all, or the given ids); see ``scorelab.synth.credit_code``."""
        from scorelab.synth.credit_code import credit_codes

        return credit_codes(np.arange(self.n) if ids is None else ids)

    def nbytes(self) -> int:
        return _arrays_nbytes(self)


@dataclass(frozen=True, eq=False)
class Schools:
    """Schools (including universities), one row per school (id = row), sorted by city."""

    size: np.ndarray  #: int32, actual number of students
    size_target: np.ndarray  #: int32
    province: np.ndarray  #: uint8
    city: np.ndarray  #: uint16

    @property
    def n(self) -> int:
        return int(self.size.shape[0])

    def nbytes(self) -> int:
        return _arrays_nbytes(self)


@dataclass(frozen=True, eq=False)
class Population:
    """People as columns (index = person id, 0..n-1). Households are contiguous id ranges:
    household ``h`` holds people ``household_start[h]:household_start[h+1]``."""

    age: np.ndarray  #: uint8, years
    sex: np.ndarray  #: uint8, index into SEX_NAMES (0 female, 1 male)
    province: np.ndarray  #: uint8, index into province_names
    city: np.ndarray  #: uint16, index into city_names
    urban: np.ndarray  #: bool, urban (non-agricultural) hukou registration
    income: np.ndarray  #: float32, CNY per year
    occupation: np.ndarray  #: uint8, index into occupation_names
    employer: np.ndarray  #: int32 firm id, -1 none
    school: np.ndarray  #: int32 school id, -1 none
    internet: np.ndarray  #: bool, internet user
    online_shopper: np.ndarray  #: bool
    car: np.ndarray  #: bool, car owner
    group: np.ndarray  #: uint8, index into group_names
    household: np.ndarray  #: int32 household id
    household_start: np.ndarray  #: int32 (households + 1), person id ranges
    firms: Firms
    schools: Schools
    province_names: tuple[str, ...]
    city_names: tuple[str, ...]
    city_province: np.ndarray  #: uint8 per city
    occupation_names: tuple[str, ...]
    occupation_employed: np.ndarray  #: bool per occupation: has an employer
    group_names: tuple[str, ...]
    sector_names: tuple[str, ...]
    adult_age: int
    seed: int

    @property
    def n(self) -> int:
        """Number of people."""
        return int(self.age.shape[0])

    @property
    def n_households(self) -> int:
        return int(self.household_start.shape[0] - 1)

    def nbytes(self) -> int:
        """Bytes held by the people, household, firm and school arrays."""
        return _arrays_nbytes(self) + self.firms.nbytes() + self.schools.nbytes()

    def person_columns(self) -> dict[str, np.ndarray]:
        """The per-person columns by name."""
        n = self.n
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if isinstance(getattr(self, f.name), np.ndarray) and getattr(self, f.name).shape == (n,)
            and f.name not in ("city_province", "occupation_employed", "household_start")
        }

    @contextmanager
    def parked(self, folder: Path, names: tuple[str, ...] = ()) -> Iterator[None]:
        """Within the block, the named per-person columns wait in ``folder`` (one .npy file
        each) and their memory is freed; they are read back, byte for byte, when it ends (also
        on an error), and the files removed. The day loop reads none of PARKABLE once its plan
        and state are made, so a run can park them (``results.execute`` does, 20 bytes a person
        in Rongcheng). The only change to a population after it is built."""
        names = names or PARKABLE
        folder.mkdir(parents=True, exist_ok=True)
        paths = {name: folder / f"{name}.npy" for name in names}
        try:
            for name, path in paths.items():
                np.save(path, getattr(self, name))
                object.__setattr__(self, name, None)  # (frozen: this method alone writes fields)
            yield
        finally:
            for name, path in paths.items():
                if getattr(self, name) is None:
                    object.__setattr__(self, name, np.load(path))
                path.unlink(missing_ok=True)
            folder.rmdir()


#: Per-person columns the day loop does not read once its plan and state are made (the plan
#: keeps what it needs of them; city and group are read by drawn contact layers, household by
#: the household layer, household_start by the plan).
PARKABLE = ("age", "sex", "province", "urban", "income", "occupation", "employer", "school", "internet",
            "online_shopper", "car")


# --------------------------------------------------------------------------- helpers


def chunk_bounds(total: int, chunks: int) -> list[tuple[int, int]]:
    """``chunks`` consecutive ranges (lo, hi) covering 0 .. total (a build in chunks gives the
    same result as one pass)."""
    if chunks < 1:
        raise ValueError(f"chunks must be >= 1, got {chunks}")
    edges = [total * k // chunks for k in range(chunks + 1)]
    return [(a, b) for a, b in zip(edges, edges[1:])]


@functools.lru_cache(maxsize=64)
def realised_mean_size(mean: float, sigma: float) -> float:
    """The mean of an entity's target size as ``_sized_entities`` draws it, max(1, rint(mean x
    exp(sigma z - sigma^2 / 2))) with z standard normal: a little above ``mean`` (sizes below 0.5
    become 1). By quadrature on a fine grid of z (the rounding's steps make it exact to about
    1e-6 of the mean)."""
    z = np.linspace(-9.0, 9.0, 360_001)
    weight = np.exp(-0.5 * z * z)
    size = np.maximum(1.0, np.rint(mean * np.exp(sigma * z - 0.5 * sigma * sigma)))
    return float((size * weight).sum() / weight.sum())


def _sized_entities(stream: Stream, slot: int, needed: int, mean: float, sigma: float) -> np.ndarray:
    """Target sizes (int32) of one city's entities 0, 1, ...: as many as ``needed`` people make at
    the sizes' mean (at least one), so that a city of any size has as many per person. (Drawing
    them until their sizes covered ``needed`` added, on average, about two entities a city
    whatever its size: the last one drawn, and the sizes' spread; at 400 people a city that
    made 14 % more firms per person.) People join them in proportion to the target sizes."""
    if needed <= 0:
        return np.zeros(0, dtype=np.int32)
    n = max(1, int(round(needed / realised_mean_size(float(mean), float(sigma)))))
    z = stream.normal(_ids(0, n), slot=slot)
    return np.maximum(1, np.rint(mean * np.exp(sigma * z - 0.5 * sigma * sigma))).astype(np.int32)


def _pick_within_city(u: np.ndarray, city: np.ndarray, cum_target: np.ndarray, city_ptr: np.ndarray) -> np.ndarray:
    """Entity id for each person: within the person's city, in proportion to target size."""
    lo = city_ptr[city]
    hi = city_ptr[city.astype(np.int64) + 1]
    base = np.where(lo > 0, cum_target[np.maximum(lo - 1, 0)], 0).astype(np.float64)
    top = cum_target[np.maximum(hi - 1, 0)].astype(np.float64)
    t = base + u * (top - base)
    idx = np.searchsorted(cum_target, t, side="right")
    return np.clip(idx, lo, hi - 1).astype(np.int32)


@nb.njit(cache=True)
def _representatives(employer, age, adult_age, k0, k1, n_firms, rep):
    best = np.full(n_firms, -1.0)
    for i in range(employer.shape[0]):
        f = employer[i]
        if f >= 0 and age[i] >= adult_age:
            u = rng.uniform(k0, k1, i, 0, 0, 0)
            if u > best[f]:
                best[f] = u
                rep[f] = i


# --------------------------------------------------------------------------- build


def build_population(spec: PopulationSpec, seed: int, chunks: int = 1) -> Population:
    """Build the synthetic population for ``spec`` and ``seed``.

    ``chunks`` splits the households into that many contiguous id ranges that
    are generated one after another and concatenated; the result does not
    depend on it.
    """
    seed = int(seed)
    regions = spec.regions
    province_names = tuple(dict.fromkeys(r.province for r in regions))
    city_names = tuple(r.city for r in regions)
    city_province = np.array([province_names.index(r.province) for r in regions], dtype=np.uint8)
    group_names = tuple(spec.groups)
    occupation_names = FIXED_OCCUPATIONS + tuple(o.name for o in spec.occupations)
    occupation_employed = np.array([False] * 3 + [o.employed for o in spec.occupations], dtype=bool)
    sector_names = tuple(spec.firms.sectors)

    starts = household_starts(spec, seed)
    cols = _people_columns(spec, seed, starts, chunks)
    city = cols["city"]
    age = cols["age"]
    employed = occupation_employed[cols["occupation"]]
    student = cols["occupation"] == STUDENT
    n_cities = len(regions)

    # per-city firm and school tables (global, O(cities + entities))
    emp_per_city = np.bincount(city[employed], minlength=n_cities)
    stu_per_city = np.bincount(city[student], minlength=n_cities)
    f = spec.firms
    sch = spec.schools
    f_target, f_city, f_ptr = _entity_table(seed, "population.firm_size", emp_per_city, f.mean_size, f.size_sigma)
    s_target, s_city, s_ptr = _entity_table(seed, "population.school_size", stu_per_city, sch.mean_size, sch.size_sigma)
    f_sector = _firm_sectors(spec, seed, f_target, f_ptr)
    employer, school = _members(seed, starts, chunks, city, employed, student, (f_target, f_ptr), (s_target, s_ptr))
    del employed, student

    n_firms = f_target.shape[0]
    f_size = np.bincount(employer[employer >= 0], minlength=n_firms).astype(np.int32)
    s_size = np.bincount(school[school >= 0], minlength=s_target.shape[0]).astype(np.int32)
    rep = _representatives_of(spec, seed, employer, age, city, f_city)

    firms = Firms(
        size=f_size, size_target=f_target, sector=f_sector, province=city_province[f_city], city=f_city,
        representative=rep,
    )
    schools = Schools(size=s_size, size_target=s_target, province=city_province[s_city], city=s_city)
    people = dict(age=age, sex=cols["sex"], city=city, urban=cols["urban"], income=cols["income"],
                  occupation=cols["occupation"], employer=employer, school=school, internet=cols["internet"],
                  online_shopper=cols["online_shopper"], car=cols["car"], group=cols["group"])
    people, household, starts, firms = _in_city_order(people, starts, firms)
    return Population(
        **people, province=city_province[people["city"]], household=household, household_start=starts,
        firms=firms, schools=schools, province_names=province_names, city_names=city_names,
        city_province=city_province, occupation_names=occupation_names, occupation_employed=occupation_employed,
        group_names=group_names, sector_names=sector_names, adult_age=spec.adult_age, seed=seed,
    )


def _people_columns(spec: PopulationSpec, seed: int, starts: np.ndarray, chunks: int) -> dict[str, np.ndarray]:
    """Every person's own attributes (region, hukou, group, age, sex, schooling, occupation,
    income, internet, car; household), households in ``chunks`` ranges, concatenated."""
    draws = PersonDraws(spec, seed)
    parts = []
    for h_lo, h_hi in chunk_bounds(starts.shape[0] - 1, chunks):
        part = draws.of(_ids(h_lo, h_hi), starts[h_lo:h_hi], np.diff(starts[h_lo : h_hi + 1]))
        del part["pid"]
        parts.append(part)
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _entity_table(seed: int, stream_name: str, needed_per_city: np.ndarray, mean: float,
                  sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Firms or schools, city by city, sized to hold ``needed_per_city`` people: (target size,
    city, each city's range of entities)."""
    n_cities = needed_per_city.shape[0]
    stream = Stream(seed, stream_name)
    sizes = [_sized_entities(stream, c, int(needed_per_city[c]), mean, sigma) for c in range(n_cities)]
    ptr = np.zeros(n_cities + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(s) for s in sizes])
    target = np.concatenate(sizes) if sizes else np.zeros(0, np.int32)
    ecity = np.repeat(np.arange(n_cities, dtype=np.uint16), np.diff(ptr))
    return target.astype(np.int32), ecity, ptr


def _firm_sectors(spec: PopulationSpec, seed: int, f_target: np.ndarray, f_ptr: np.ndarray) -> np.ndarray:
    """Sector by (city, rank within city): independent of other cities' firm counts."""
    s_sector = Stream(seed, "population.firm_sector")
    sector_cdf = _cdf(list(spec.firms.sectors.values()))
    f_sector = np.empty(f_target.shape[0], dtype=np.uint8)
    for c in range(f_ptr.shape[0] - 1):
        lo, hi = int(f_ptr[c]), int(f_ptr[c + 1])
        f_sector[lo:hi] = _inverse_cdf(sector_cdf, s_sector.uniform(_ids(0, hi - lo), slot=c))
    return f_sector


def _members(seed: int, starts: np.ndarray, chunks: int, city: np.ndarray, employed: np.ndarray,
             student: np.ndarray, firms: tuple[np.ndarray, np.ndarray],
             schools: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Each employed person's employer and each student's school, in their own city with
    probability proportional to the target sizes (-1 for the others)."""
    (f_target, f_ptr), (s_target, s_ptr) = firms, schools
    f_cum = np.cumsum(f_target, dtype=np.int64)
    s_cum = np.cumsum(s_target, dtype=np.int64)
    s_emp = Stream(seed, "population.employer")
    s_sch = Stream(seed, "population.school")
    n = city.shape[0]
    employer = np.full(n, -1, dtype=np.int32)
    school = np.full(n, -1, dtype=np.int32)
    n_h = starts.shape[0] - 1
    for p_lo, p_hi in (( int(starts[a]), int(starts[b])) for a, b in chunk_bounds(n_h, chunks)):
        sl = slice(p_lo, p_hi)
        e_idx = np.flatnonzero(employed[sl]) + p_lo
        if e_idx.size:
            employer[e_idx] = _pick_within_city(s_emp.uniform(e_idx), city[e_idx], f_cum, f_ptr)
        s_idx = np.flatnonzero(student[sl]) + p_lo
        if s_idx.size:
            school[s_idx] = _pick_within_city(s_sch.uniform(s_idx), city[s_idx], s_cum, s_ptr)
    return employer, school


def _representatives_of(spec: PopulationSpec, seed: int, employer: np.ndarray, age: np.ndarray, city: np.ndarray,
                        f_city: np.ndarray) -> np.ndarray:
    """Each firm's legal representative: one of its adult employees, else an adult of its city."""
    n_firms = f_city.shape[0]
    n_cities = len(spec.regions)
    rep = np.full(n_firms, -1, dtype=np.int32)
    k0, k1 = rng.key(seed, "population.representative")
    _representatives(employer, age, np.int64(spec.adult_age), k0, k1, n_firms, rep)
    missing = np.flatnonzero(rep < 0)
    if missing.size:
        adults = np.flatnonzero(age >= spec.adult_age).astype(np.int32)
        adults = adults[np.argsort(city[adults], kind="stable")]
        a_ptr = np.zeros(n_cities + 1, dtype=np.int64)
        a_ptr[1:] = np.cumsum(np.bincount(city[adults], minlength=n_cities))
        fc = f_city[missing].astype(np.int64)
        cnt = a_ptr[fc + 1] - a_ptr[fc]
        if np.any(cnt == 0):  # unreachable: a city with employees has households, which have adult heads
            raise RuntimeError("a city with firms has no adults")
        u = Stream(seed, "population.representative_fallback").uniform(missing)
        rep[missing] = adults[a_ptr[fc] + np.minimum((u * cnt).astype(np.int64), cnt - 1)]
    return rep


def _in_city_order(people: dict[str, np.ndarray], starts: np.ndarray, firms: Firms
                   ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, Firms]:
    """Households in city order (stable: by id within a city), people renumbered to match,
    representatives' ids mapped. Returns the person columns, household ids, household
    starts and firms. A pure function of the built arrays, so chunking does not matter."""
    city = people["city"]
    sizes = np.diff(starts).astype(np.int64)
    order = np.argsort(city[starts[:-1]].astype(np.uint16), kind="stable")  # radix sort: O(households)
    new_sizes = sizes[order]
    new_starts = np.zeros(starts.shape[0], dtype=np.int64)
    np.cumsum(new_sizes, out=new_starts[1:])
    old_of_new = np.repeat(starts[:-1][order].astype(np.int64) - new_starts[:-1], new_sizes) + np.arange(
        city.shape[0], dtype=np.int64)
    new_of_old = np.empty(city.shape[0], dtype=np.int32)
    new_of_old[old_of_new] = np.arange(city.shape[0], dtype=np.int32)
    out = {k: v[old_of_new] for k, v in people.items()}
    household = np.repeat(np.arange(order.shape[0], dtype=np.int32), new_sizes)
    rep = firms.representative
    rep = np.where(rep >= 0, new_of_old[np.maximum(rep, 0)], -1).astype(np.int32)
    firms = Firms(**{f.name: getattr(firms, f.name) for f in fields(firms) if f.name != "representative"},
                  representative=rep)
    return out, household, new_starts.astype(starts.dtype), firms
