"""Who lives in the scenario and how they are connected: ``PopulationSpec`` and
``ContactsSpec``.

Every field has a default, so ``PopulationSpec()`` describes a plausible
synthetic Chinese city of 670,000 people (the Rongcheng pilot size, docs/sources.md).
Defaults taken from docs/sources.md say so in their description; every other default
is marked "assumption". See docs/population.md and docs/contacts.md.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, Union

from pydantic import Field, field_validator, model_validator

from scorelab.scenario.base import Age, Count, Name, NonNegative, Positive, Probability, StrictModel, count, number

_SUM_TOL = 1e-6
MAX_PEOPLE = 2**31 - 1  # person ids are int32
MAX_REPRESENTS = 10**12
#: Mean target size of a firm or school (people): entity sizes are drawn lognormal around it
#: and stored in 32 bits, with room for the tail.
EntitySize = number(1.0, 1e4)
#: Standard deviation of a log size or log income (dimensionless): the draws' tail stays finite.
LogSigma = number(0.0, 2.5)
IncomeSigma = number(0.0, 5.0)
#: Mean contacts per participant of a layer.
MeanDegree = number(0.0, 1e4)


def _check_sum(values, what: str) -> None:
    total = math.fsum(values)
    if abs(total - 1.0) > _SUM_TOL:
        raise ValueError(f"{what} must sum to 1, got {total:.6g}")


# --------------------------------------------------------------------------- people


class AgeBand(StrictModel):
    """A band of ages (inclusive) and the share of people in it; ages are uniform inside a band."""

    min: Age = Field(description="youngest age in the band (years)")
    max: Age = Field(description="oldest age in the band, inclusive (years, at most 120)")
    share: Probability = Field(description="share of all people in this band (dimensionless)")

    @model_validator(mode="after")
    def _order(self) -> "AgeBand":
        if self.max < self.min:
            raise ValueError(f"max must be >= min, got min={self.min} max={self.max}")
        if self.max > 120:
            raise ValueError(f"max must be at most 120, got {self.max}")
        return self


def _default_age_bands() -> list[AgeBand]:
    rows = [(0, 4, 0.055), (5, 14, 0.125), (15, 24, 0.11), (25, 34, 0.16), (35, 44, 0.14),
            (45, 54, 0.165), (55, 64, 0.125), (65, 74, 0.08), (75, 89, 0.04)]
    return [AgeBand(min=a, max=b, share=s) for a, b, s in rows]


class RegionSpec(StrictModel):
    """One city (with its province): share of households living there and its urban registration share."""

    province: Name = Field(description="province name (label only)")
    city: Name = Field(description="city name (label only; unique within the province)")
    share: Probability = Field(description="share of households in this city (dimensionless; all regions sum to 1)")
    urban_share: Probability = Field(
        0.5,
        description="share of households with urban (non-agricultural) hukou registration (dimensionless); "
        "assumption, between the national hukou urbanisation rate (~0.44) and residence rate (~0.60)",
    )
    group_shares: dict[Name, Probability] | None = Field(
        None,
        description="shares of the group attribute in this city (dimensionless, same names as "
        "population.groups); null means use population.groups",
    )

    @field_validator("group_shares")
    @classmethod
    def _groups_sum(cls, v):
        if v is not None:
            _check_sum(v.values(), "group_shares")
        return v


def _default_regions() -> list[RegionSpec]:
    return [RegionSpec(province="Shandong", city="Rongcheng", share=1.0, urban_share=0.5)]


class OccupationSpec(StrictModel):
    """A working-age occupation: who has it (by registration) and what it pays."""

    name: Name = Field(description="occupation name (label)")
    share_urban: Probability = Field(description="share among working-age urban-registered non-students (dimensionless)")
    share_rural: Probability = Field(description="share among working-age rural-registered non-students (dimensionless)")
    income_factor: NonNegative = Field(description="multiplier of the registration's median income (dimensionless)")
    employed: bool = Field(description="whether people in it work for a firm (get an employer id)")


def _default_occupations() -> list[OccupationSpec]:
    rows = [  # name, urban, rural, income factor, has employer -- all assumptions
        ("farmer", 0.03, 0.45, 0.5, False),
        ("worker", 0.28, 0.22, 0.9, True),
        ("service", 0.28, 0.15, 0.85, True),
        ("professional", 0.18, 0.04, 1.6, True),
        ("civil_servant", 0.07, 0.03, 1.3, True),
        ("self_employed", 0.08, 0.06, 1.3, False),
        ("unemployed", 0.08, 0.05, 0.2, False),
    ]
    return [OccupationSpec(name=n, share_urban=u, share_rural=r, income_factor=f, employed=e) for n, u, r, f, e in rows]


class IncomeSpec(StrictModel):
    """Annual personal income: lognormal around a median set by registration and occupation."""

    median_urban: Positive = Field(
        60000.0, description="median annual income of an urban-registered earner with factor 1 (CNY per year); assumption"
    )
    median_rural: Positive = Field(
        25000.0, description="median annual income of a rural-registered earner with factor 1 (CNY per year); assumption"
    )
    sigma: IncomeSigma = Field(0.6, description="standard deviation of log income (dimensionless); assumption")
    pension_factor: NonNegative = Field(
        0.5, description="retired people's income as a multiple of their registration's median (dimensionless); assumption"
    )


class AgeShare(StrictModel):
    """A share that holds from ``min_age`` up to the next entry's ``min_age``."""

    min_age: Age = Field(description="age from which the share applies (years)")
    share: Probability = Field(description="probability (dimensionless)")


def _default_internet_by_age() -> list[AgeShare]:
    rows = [(0, 0.05), (6, 0.5), (10, 0.85), (15, 0.95), (30, 0.92), (40, 0.83), (50, 0.62), (60, 0.38), (70, 0.15)]
    return [AgeShare(min_age=a, share=s) for a, s in rows]


class InternetSpec(StrictModel):
    """Internet use by age and registration, and online shopping among users."""

    by_age: list[AgeShare] = Field(
        default_factory=_default_internet_by_age,
        description="probability of being an internet user by age for urban-registered people (dimensionless); "
        "with the defaults about 61% of all people are users, matching CNNIC's 854 M users in June 2019 (docs/sources.md)",
    )
    rural_factor: NonNegative = Field(
        0.85, description="multiplier of the by-age probability for rural-registered people (dimensionless); assumption"
    )
    shopper_share: Probability = Field(
        0.75,
        description="share of internet users who shop online (dimensionless); CNNIC June 2019: 639 M of 854 M (docs/sources.md)",
    )

    @field_validator("by_age")
    @classmethod
    def _ascending(cls, v):
        if not v or v[0].min_age != 0:
            raise ValueError("by_age must start at min_age 0")
        ages = [a.min_age for a in v]
        if any(b <= a for a, b in zip(ages, ages[1:])):
            raise ValueError(f"by_age min_age values must increase, got {ages}")
        return v


class CarSpec(StrictModel):
    """Car ownership rising with income: p = min(max_share, share_at_median * (income / median_urban) ** elasticity)."""

    min_age: Age = Field(18, description="youngest car owner (years); assumption")
    share_at_median: Probability = Field(
        0.25, description="ownership probability at the urban median income (dimensionless); assumption"
    )
    income_elasticity: NonNegative = Field(1.0, description="elasticity of ownership in income (dimensionless); assumption")
    max_share: Probability = Field(0.9, description="cap on the ownership probability (dimensionless); assumption")


class FirmSpec(StrictModel):
    """Legal entities (firms, government bodies) that employ the employed people of each city."""

    mean_size: EntitySize = Field(15.0, description="mean target employee count per firm (people); assumption")
    size_sigma: LogSigma = Field(
        1.2, description="standard deviation of log firm size (dimensionless); heavy tail, assumption"
    )
    sectors: dict[Name, Probability] = Field(
        default_factory=lambda: {
            "manufacturing": 0.2, "construction": 0.08, "wholesale_retail": 0.3, "hospitality": 0.07,
            "services": 0.2, "it_finance": 0.05, "public": 0.05, "agriculture": 0.05,
        },
        description="share of firms in each sector (dimensionless); assumption",
    )

    @field_validator("sectors")
    @classmethod
    def _sectors(cls, v):
        if not v:
            raise ValueError("sectors must name at least one sector")
        if len(v) > 255:
            raise ValueError(f"at most 255 sectors, got {len(v)}")
        _check_sum(v.values(), "sector shares")
        return v


class SchoolSpec(StrictModel):
    """Enrolment by age and the schools (and universities) of each city."""

    start_age: Age = Field(6, description="age at which school starts (years); China's school entry age")
    end_age: Age = Field(18, description="age at which school ends, exclusive (years); assumption")
    enrolment: Probability = Field(
        0.95, description="share of children aged start_age..end_age-1 in school (dimensionless); assumption"
    )
    tertiary_end_age: Age = Field(22, description="age at which tertiary study ends, exclusive (years); assumption")
    tertiary_enrolment: Probability = Field(
        0.5, description="share of people aged end_age..tertiary_end_age-1 studying (dimensionless); assumption"
    )
    mean_size: EntitySize = Field(800.0, description="mean target student count per school (people); assumption")
    size_sigma: LogSigma = Field(0.5, description="standard deviation of log school size (dimensionless); assumption")

    @model_validator(mode="after")
    def _ages(self) -> "SchoolSpec":
        if not self.start_age <= self.end_age <= self.tertiary_end_age <= 120:
            raise ValueError(
                f"ages must satisfy start_age <= end_age <= tertiary_end_age <= 120, got "
                f"{self.start_age}, {self.end_age}, {self.tertiary_end_age}"
            )
        return self


class PopulationSpec(StrictModel):
    """A synthetic population: people in households in cities, with firms and schools."""

    people: Count = Field(670_000, description="number of people (persons); Rongcheng pilot, 670,000 (docs/sources.md)")
    represents: count(MAX_REPRESENTS) | None = Field(
        None, description="people the scenario describes when it simulates fewer or more of them (`--scale`): "
        "absolute counts (flag capacities, the watchlists a face is searched against) are for this population "
        "and are scaled by people / represents (default: people, no scaling); see docs/scale.md")
    regions: list[RegionSpec] = Field(default_factory=_default_regions, description="cities and their shares")
    age_bands: list[AgeBand] = Field(
        default_factory=_default_age_bands,
        description="age distribution (years, shares); assumption, close to China's 2020 census",
    )
    male_share: Probability = Field(0.512, description="share of men (dimensionless); assumption, 2020 census ~51.2%")
    household_sizes: list[Probability] = Field(
        default_factory=lambda: [0.25, 0.30, 0.21, 0.13, 0.07, 0.04],
        description="share of households with 1, 2, 3, ... members (dimensionless); assumption, mean 2.59 "
        "(2020 census mean ~2.62)",
    )
    adult_age: Age = Field(
        18, description="age of majority (years); Rongcheng scores everyone aged 18+ (docs/sources.md). "
        "Every household has at least one adult"
    )
    working_age: Age = Field(16, description="youngest age with an occupation (years); assumption")
    retirement_age: Age = Field(60, description="age from which people are retired (years); assumption")
    groups: dict[Name, Probability] = Field(
        default_factory=lambda: {"majority": 0.91, "minority": 0.09},
        description="the categorical group attribute used for disparate-impact analysis and its shares "
        "(dimensionless); assumption, ~national ethnic-minority share",
    )
    group_by_household: bool = Field(
        True, description="whether household members share their group (true) or draw it each (false); assumption"
    )
    occupations: list[OccupationSpec] = Field(default_factory=_default_occupations, description="working-age occupations")
    income: IncomeSpec = Field(default_factory=IncomeSpec, description="income model")
    internet: InternetSpec = Field(default_factory=InternetSpec, description="internet use and online shopping")
    car: CarSpec = Field(default_factory=CarSpec, description="car ownership")
    firms: FirmSpec = Field(default_factory=FirmSpec, description="legal entities")
    schools: SchoolSpec = Field(default_factory=SchoolSpec, description="schools and enrolment")

    @field_validator("people")
    @classmethod
    def _people(cls, v):
        if not 1 <= v <= MAX_PEOPLE:
            raise ValueError(f"must be between 1 and {MAX_PEOPLE}, got {v}")
        return v

    @field_validator("represents")
    @classmethod
    def _represents(cls, v):
        if v is not None and not 1 <= v <= MAX_REPRESENTS:
            raise ValueError(f"must be between 1 and 10^12 people, got {v}")
        return v

    @property
    def scale(self) -> float:
        """people / represents: the share of the described population that is simulated."""
        return self.people / self.represents if self.represents else 1.0

    @field_validator("regions")
    @classmethod
    def _regions(cls, v):
        if not v:
            raise ValueError("at least one region is needed")
        if len(v) > 65535:
            raise ValueError(f"at most 65535 regions, got {len(v)}")
        names = [(r.province, r.city) for r in v]
        if len(set(names)) != len(names):
            raise ValueError("each (province, city) pair must appear once")
        if len({r.province for r in v}) > 255:
            raise ValueError("at most 255 provinces")
        _check_sum([r.share for r in v], "region shares")
        return v

    @field_validator("age_bands")
    @classmethod
    def _ages(cls, v):
        if not v:
            raise ValueError("at least one age band is needed")
        bands = sorted(v, key=lambda b: b.min)
        if any(b.min <= a.max for a, b in zip(bands, bands[1:])):
            raise ValueError("age bands must not overlap")
        _check_sum([b.share for b in v], "age band shares")
        return v

    @field_validator("household_sizes")
    @classmethod
    def _households(cls, v):
        if not v:
            raise ValueError("at least one household size share is needed")
        if len(v) > 64:
            raise ValueError(f"at most 64 household sizes, got {len(v)}")
        _check_sum(v, "household size shares")
        return v

    @field_validator("groups")
    @classmethod
    def _groups(cls, v):
        if not v:
            raise ValueError("at least one group is needed")
        if len(v) > 255:
            raise ValueError(f"at most 255 groups, got {len(v)}")
        _check_sum(v.values(), "group shares")
        return v

    @field_validator("occupations")
    @classmethod
    def _occupations(cls, v):
        if not v:
            raise ValueError("at least one occupation is needed")
        names = [o.name for o in v]
        if len(set(names)) != len(names):
            raise ValueError("occupation names must be unique")
        reserved = {"child", "student", "retired"} & set(names)
        if reserved:
            raise ValueError(f"occupation names {sorted(reserved)} are reserved")
        if len(v) > 250:
            raise ValueError(f"at most 250 occupations, got {len(v)}")
        _check_sum([o.share_urban for o in v], "occupation share_urban")
        _check_sum([o.share_rural for o in v], "occupation share_rural")
        return v

    @model_validator(mode="after")
    def _cross(self) -> "PopulationSpec":
        for r in self.regions:
            if r.group_shares is not None and set(r.group_shares) != set(self.groups):
                raise ValueError(
                    f"region {r.city}: group_shares must name the groups {sorted(self.groups)}, got {sorted(r.group_shares)}"
                )
        adult_share = math.fsum(b.share * _share_at_least(b, self.adult_age) for b in self.age_bands)
        if adult_share <= 0:
            raise ValueError(f"age bands give no one aged {self.adult_age} or more; every household needs an adult")
        if not self.working_age <= self.retirement_age:
            raise ValueError(f"working_age must be <= retirement_age, got {self.working_age} > {self.retirement_age}")
        return self


def _share_at_least(band: AgeBand, age: int) -> float:
    """Share of a band's (uniform) ages that are >= age."""
    if age <= band.min:
        return 1.0
    if age > band.max:
        return 0.0
    return (band.max - age + 1) / (band.max - band.min + 1)


# --------------------------------------------------------------------------- contacts


class PoissonDegree(StrictModel):
    """Every participant has the same weight: degrees are Poisson(mean)."""

    distribution: Literal["poisson"] = Field("poisson", description="degree distribution family")
    mean: MeanDegree = Field(description="mean degree (contacts per person)")


class NegativeBinomialDegree(StrictModel):
    """Gamma-distributed weights: degrees are negative binomial, variance mean + mean**2 / dispersion."""

    distribution: Literal["negative_binomial"] = Field("negative_binomial", description="degree distribution family")
    mean: MeanDegree = Field(description="mean degree (contacts per person)")
    dispersion: number(0.01, 1e6) = Field(
        2.0, description="gamma shape k of the weights (dimensionless); smaller is more unequal; assumption"
    )


class LognormalDegree(StrictModel):
    """Lognormal weights: degrees are Poisson-lognormal, variance mean + mean**2 * (exp(sigma**2) - 1)."""

    distribution: Literal["lognormal"] = Field("lognormal", description="degree distribution family")
    mean: MeanDegree = Field(description="mean degree (contacts per person)")
    sigma: number(0.0, 5.0) = Field(1.0, description="standard deviation of log weight (dimensionless); assumption")


DegreeSpec = Annotated[
    Union[PoissonDegree, NegativeBinomialDegree, LognormalDegree], Field(discriminator="distribution")
]


class WorkplaceSpec(StrictModel):
    """Coworker contacts among the employees of each firm."""

    enabled: bool = Field(True, description="whether the layer is built")
    degree: DegreeSpec = Field(
        default_factory=lambda: PoissonDegree(mean=8.0),
        description="coworker degree distribution (contacts per employee); assumption; small firms cap it at size - 1",
    )
    same_employer: Probability = Field(
        1.0,
        description="probability a contact is drawn within the employee's own firm (dimensionless); the rest are "
        "drawn among all employees (business contacts); assumption",
    )


class SchoolContactsSpec(StrictModel):
    """Classmate and schoolmate contacts among students."""

    enabled: bool = Field(True, description="whether the layer is built")
    degree: DegreeSpec = Field(
        default_factory=lambda: PoissonDegree(mean=12.0),
        description="school degree distribution (contacts per student); assumption",
    )
    same_class: Probability = Field(
        0.8,
        description="probability a contact is drawn within the same school and age (class); the rest within the "
        "same school (dimensionless); assumption",
    )


class SocialLayerSpec(StrictModel):
    """A Chung-Lu layer with homophily by city and by group (friends, online)."""

    enabled: bool = Field(True, description="whether the layer is built")
    degree: DegreeSpec = Field(description="degree distribution (contacts per participant)")
    same_city: Probability = Field(
        description="probability a contact is drawn within the participant's city (dimensionless); otherwise from "
        "anywhere (which may also be the same city)"
    )
    same_group: Probability = Field(
        description="probability, independent of same_city, that a contact is drawn within the participant's group "
        "(dimensionless)"
    )
    min_age: Age = Field(0, description="youngest participant (years)")
    storage: Literal["stored", "drawn"] = Field(
        "stored",
        description="stored: the layer is built and kept as a graph (8 B an edge); drawn: not stored, each "
        "person's contacts are drawn when needed with the same degree and mixing laws (directed; for "
        "populations whose stored layers do not fit in memory; see docs/contacts.md)",
    )


def _default_friends() -> SocialLayerSpec:
    return SocialLayerSpec(
        degree=NegativeBinomialDegree(mean=10.0, dispersion=2.0), same_city=0.9, same_group=0.5, min_age=6
    )


def _default_online() -> SocialLayerSpec:
    return SocialLayerSpec(degree=LognormalDegree(mean=20.0, sigma=1.0), same_city=0.3, same_group=0.3, min_age=6)


class ContactsSpec(StrictModel):
    """The contact layers: household (from the population), workplace, school, friends, online."""

    household: bool = Field(True, description="whether household members are contacts (complete graph per household)")
    workplace: WorkplaceSpec = Field(default_factory=WorkplaceSpec, description="coworkers")
    school: SchoolContactsSpec = Field(default_factory=SchoolContactsSpec, description="classmates and schoolmates")
    friends: SocialLayerSpec = Field(
        default_factory=_default_friends,
        description="friends: mean 10, negative binomial (dispersion 2), 90% within city, 50% within group, "
        "aged 6+; assumption",
    )
    online: SocialLayerSpec = Field(
        default_factory=_default_online,
        description="online contacts among internet users: mean 20, lognormal (sigma 1), 30% within city, "
        "30% within group, aged 6+; assumption",
    )
