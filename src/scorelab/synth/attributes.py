"""Households' sizes and regions, and people's own attributes, drawn from the seed by id.

Every draw here is a counter-based function of ``(seed, stream, id)`` with ids in generation
order (before people are put in city order), so the attributes of any set of households can
be drawn without the others: ``build_population`` draws them range by range for everyone,
``synth.cities`` for one city's households only. Both give the same values to the same ids.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from scorelab.rng import Stream
from scorelab.scenario.population import PopulationSpec

#: Fixed occupation codes before the scenario's own occupations.
CHILD, STUDENT, RETIRED = 0, 1, 2
MAX_AGE = 120


def ids(lo: int, hi: int) -> np.ndarray:
    return np.arange(lo, hi, dtype=np.uint64)


def cdf(p) -> np.ndarray:
    c = np.cumsum(np.asarray(p, dtype=np.float64))
    return c / c[-1]


def inverse_cdf(c: np.ndarray, u: np.ndarray) -> np.ndarray:
    return np.minimum(np.searchsorted(c, u, side="right"), len(c) - 1)


def household_size_chunks(spec: PopulationSpec, seed: int, chunk: int) -> Iterator[tuple[int, np.ndarray]]:
    """The households' sizes in generation order, ``chunk`` households at a time: ``(first
    household id, sizes int64)``. Sizes are drawn by household id until they cover
    ``spec.people``; the last household is cut to fit."""
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    c = cdf(spec.household_sizes)
    stream = Stream(seed, "population.household_size")
    need, lo = int(spec.people), 0
    while need > 0:
        sizes = (inverse_cdf(c, stream.uniform(ids(lo, lo + chunk))) + 1).astype(np.int64)
        cum = np.cumsum(sizes)
        if cum[-1] >= need:
            k = int(np.searchsorted(cum, need, side="left")) + 1
            sizes = sizes[:k]
            sizes[-1] -= int(cum[k - 1]) - need
        yield lo, sizes
        need -= int(sizes.sum())
        lo += sizes.shape[0]


def household_starts(spec: PopulationSpec, seed: int) -> np.ndarray:
    """Person id ranges of households (int32, households + 1), in generation order."""
    mean = float(np.dot(np.arange(1, len(spec.household_sizes) + 1), np.diff(np.concatenate(
        ([0.0], cdf(spec.household_sizes))))))
    chunk = int(math.ceil(spec.people / mean * 1.02)) + 64
    sizes = np.concatenate([s for _, s in household_size_chunks(spec, seed, chunk)])
    starts = np.zeros(sizes.shape[0] + 1, dtype=np.int32)
    np.cumsum(sizes, out=starts[1:])
    return starts


def household_regions(spec: PopulationSpec, seed: int, hids: np.ndarray) -> np.ndarray:
    """Each household's city (uint16)."""
    region_cdf = cdf([r.share for r in spec.regions])
    return inverse_cdf(region_cdf, Stream(seed, "population.region").uniform(hids)).astype(np.uint16)


def _age_pmfs(spec: PopulationSpec) -> tuple[np.ndarray, np.ndarray]:
    """Per-year age pmfs for household heads (adults only) and for other members,
    mixed so that the overall marginal equals the spec's age bands."""
    pmf = np.zeros(MAX_AGE + 1)
    for b in spec.age_bands:
        pmf[b.min : b.max + 1] += b.share / (b.max - b.min + 1)
    pmf /= pmf.sum()
    head = pmf * (np.arange(MAX_AGE + 1) >= spec.adult_age)
    head /= head.sum()
    sizes = np.asarray(spec.household_sizes)
    mean_size = float(np.dot(np.arange(1, len(sizes) + 1), sizes) / sizes.sum())
    f = 1.0 / mean_size  # share of people who are household heads
    if f >= 1.0 - 1e-12:
        return head, head
    other = np.clip((pmf - f * head) / (1.0 - f), 0.0, None)
    if other.sum() <= 0:
        other = pmf.copy()
    return head, other / other.sum()


class PersonDraws:
    """The attribute tables of one population spec and its streams: ``of`` draws the
    attributes of any households and their people."""

    def __init__(self, spec: PopulationSpec, seed: int) -> None:
        self.spec = spec
        self.seed = int(seed)
        regions = spec.regions
        self.group_names = tuple(spec.groups)
        self.urban_share = np.array([r.urban_share for r in regions])
        self.group_cdf = np.array(
            [cdf([(r.group_shares or spec.groups)[g] for g in self.group_names]) for r in regions]
        )  # regions x groups
        self.head_cdf, self.other_cdf = (cdf(p) for p in _age_pmfs(spec))
        self.occ_cdf = (cdf([o.share_rural for o in spec.occupations]),
                        cdf([o.share_urban for o in spec.occupations]))
        self.income_factor = np.array([0.0, 0.0, spec.income.pension_factor]
                                      + [o.income_factor for o in spec.occupations])
        self.median = np.array([spec.income.median_rural, spec.income.median_urban])
        self.inet = np.zeros(MAX_AGE + 1)
        for a in spec.internet.by_age:
            self.inet[min(a.min_age, MAX_AGE) :] = a.share
        self.streams = {name: Stream(seed, f"population.{name}") for name in (
            "hukou", "group", "age", "sex", "enrolment", "occupation", "income", "internet", "online_shopper", "car")}

    def _group(self, entities: np.ndarray, region: np.ndarray) -> np.ndarray:
        u = self.streams["group"].uniform(entities)
        rows = self.group_cdf[region]
        return np.minimum((u[:, None] >= rows).sum(axis=1), len(self.group_names) - 1).astype(np.uint8)

    def of(self, hids: np.ndarray, first: np.ndarray, sizes: np.ndarray,
           region: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """The attributes of households ``hids`` (uint64, ascending) whose people are the ids
        ``first[k] .. first[k] + sizes[k] - 1``, and of those people, in that order: age, sex,
        city, urban, income, occupation, internet, online_shopper, car, group, household
        (int32, the generation-order id) and pid (uint64, the generation-order person id).
        ``region``: the households' cities if already drawn."""
        spec, st, sch = self.spec, self.streams, self.spec.schools
        sizes = np.asarray(sizes, dtype=np.int64)
        h_region = household_regions(spec, self.seed, hids) if region is None else region
        h_urban = st["hukou"].uniform(hids) < self.urban_share[h_region]
        offsets = np.zeros(sizes.shape[0], dtype=np.int64)
        np.cumsum(sizes[:-1], out=offsets[1:])
        total = int(sizes.sum())
        pids = (np.repeat(np.asarray(first, dtype=np.int64) - offsets, sizes)
                + np.arange(total, dtype=np.int64)).astype(np.uint64)
        household = np.repeat(hids.astype(np.int32), sizes)
        city = np.repeat(h_region, sizes)
        urban = np.repeat(h_urban, sizes)
        group = (np.repeat(self._group(hids, h_region), sizes) if spec.group_by_household
                 else self._group(pids, city))
        is_head = np.zeros(total, dtype=bool)
        is_head[offsets[sizes > 0]] = True
        u_age = st["age"].uniform(pids)
        age = np.where(is_head, inverse_cdf(self.head_cdf, u_age), inverse_cdf(self.other_cdf, u_age)).astype(np.uint8)
        sex = (st["sex"].uniform(pids) < spec.male_share).astype(np.uint8)

        u_enrol = st["enrolment"].uniform(pids)
        in_school = ((age >= sch.start_age) & (age < sch.end_age) & (u_enrol < sch.enrolment)) | (
            (age >= sch.end_age) & (age < sch.tertiary_end_age) & (u_enrol < sch.tertiary_enrolment)
        )
        u_occ = st["occupation"].uniform(pids)
        work = np.where(urban, inverse_cdf(self.occ_cdf[1], u_occ), inverse_cdf(self.occ_cdf[0], u_occ)) + 3
        occupation = np.where(
            in_school, STUDENT, np.where(age < spec.working_age, CHILD, np.where(age >= spec.retirement_age, RETIRED, work))
        ).astype(np.uint8)
        z = st["income"].normal(pids)
        income = (self.median[urban.astype(np.intp)] * self.income_factor[occupation]
                  * np.exp(spec.income.sigma * z)).astype(np.float32)
        p_inet = np.minimum(1.0, self.inet[age] * np.where(urban, 1.0, spec.internet.rural_factor))
        internet = st["internet"].uniform(pids) < p_inet
        shopper = internet & (st["online_shopper"].uniform(pids) < spec.internet.shopper_share)
        c = spec.car
        rel = income.astype(np.float64) / spec.income.median_urban
        p_car = np.minimum(c.max_share, c.share_at_median * np.power(rel, c.income_elasticity))
        car = (age >= c.min_age) & (st["car"].uniform(pids) < p_car)
        return dict(age=age, sex=sex, city=city, urban=urban, income=income, occupation=occupation, internet=internet,
                    online_shopper=shopper, car=car, group=group, household=household, pid=pids)
