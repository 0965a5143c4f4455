"""Static classes of actors: which of a behaviour's static conditions each actor meets, as a
class code per actor, and the rate factor of each code (docs/behaviours.md)."""

from __future__ import annotations

from typing import Any

import numpy as np

from scorelab.engine.plan.params import Params
from scorelab.errors import Problem, ScenarioError
from scorelab.synth.population import SEX_NAMES, Population


def pack_classes(cls: np.ndarray) -> tuple[np.ndarray, int]:
    """Class codes two a byte where every code fits in 4 bits (Rongcheng's 11 rows: 5.5 bytes
    a person instead of 11): entity e's code is the low half of byte e >> 1 for even e, the
    high half for odd e (shift 1); otherwise the codes as they are (shift 0)."""
    if cls.max(initial=0) >= 16:
        return cls, 0
    if cls.shape[1] % 2:
        cls = np.concatenate([cls, np.zeros((cls.shape[0], 1), dtype=cls.dtype)], axis=1)
    return np.ascontiguousarray(cls[:, 0::2] | (cls[:, 1::2] << 4)), 1


def class_codes(P: Params, row: int) -> np.ndarray:
    """Every entity's class code in row ``row`` (unpacked)."""
    E = P.n_people + P.n_firms
    if P.cls_shift == 0:
        return P.cls[row, :E]
    packed = P.cls[row]
    out = np.empty(2 * packed.shape[0], dtype=np.uint8)
    out[0::2], out[1::2] = packed & 15, packed >> 4
    return out[:E]


def attribute(pop: Population, actor: str, name: str) -> tuple[np.ndarray, tuple[str, ...] | None]:
    """A static attribute column and, for categorical ones, its names."""
    if actor == "firm":
        f = pop.firms
        return {
            "size": (f.size, None),
            "sector": (f.sector, pop.sector_names),
            "province": (f.province, pop.province_names),
            "city": (f.city, pop.city_names),
        }[name]
    table = {
        "age": (pop.age, None),
        "sex": (pop.sex, SEX_NAMES),
        "province": (pop.province, pop.province_names),
        "city": (pop.city, pop.city_names),
        "urban": (pop.urban, None),
        "income": (pop.income, None),
        "occupation": (pop.occupation, pop.occupation_names),
        "employed": (pop.employer >= 0, None),
        "student": (pop.school >= 0, None),
        "internet_user": (pop.internet, None),
        "online_shopper": (pop.online_shopper, None),
        "car_owner": (pop.car, None),
        "group": (pop.group, pop.group_names),
    }
    return table[name]


def match(col: np.ndarray, names: tuple[str, ...] | None, value) -> np.ndarray:
    """Which actors satisfy one condition of a modifier (values were checked by check_references)."""
    values = value if isinstance(value, list) else [value]
    if names is not None:
        return any_equal(col, [names.index(str(v)) for v in values])
    if col.dtype == np.bool_:
        return any_equal(col, [bool(v) for v in values])
    if isinstance(value, list):
        return (col >= value[0]) & (col <= value[1])
    return col == value


def any_equal(col: np.ndarray, values: list) -> np.ndarray:
    """col == any of a few values (np.isin sorts; a handful of comparisons is faster)."""
    mask = np.zeros(col.shape[0], dtype=bool)
    for v in values:
        mask |= col == v
    return mask


def range_of(value) -> tuple[float, float]:
    """A dynamic attribute's condition as an inclusive range."""
    if isinstance(value, list):
        return float(value[0]), float(value[1])
    return float(value), float(value)


def condition_mask(pop: Population, actor: str, condition: tuple[str, Any], n: int) -> np.ndarray:
    """Which actors meet a static condition: ``("min_age", age)`` (under the age) or
    ``("when", {attribute: value})``."""
    kind, value = condition
    if kind == "min_age":
        return pop.age < value
    mask = np.ones(n, dtype=bool)
    for attr, v in value.items():
        col, names = attribute(pop, actor, attr)
        mask &= match(np.asarray(col), names, v)
    return mask


def condition_classes(masks: list[np.ndarray], factors: list[float], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Class code per actor (uint8) and the rate factor of each code, in O(n x conditions).
    Up to 8 conditions, bit i of the code says whether condition i holds (so the codes do not
    depend on the factors); beyond, each distinct product of factors is a code."""
    if len(masks) <= 8:
        codes = np.zeros(n, dtype=np.uint8)
        for i, mask in enumerate(masks):
            codes |= mask.astype(np.uint8) << np.uint8(i)
        return codes, factor_table(factors)
    factor = np.ones(n)
    for mask, f in zip(masks, factors):
        factor[mask] *= f
    values, inverse = np.unique(factor, return_inverse=True)
    if len(values) > 256:
        raise ScenarioError([Problem("<scenario>", None, None, "behaviours", f"too many distinct rate combinations ({len(values)} > 256)")])
    return inverse.astype(np.uint8), values


def factor_table(factors: list[float]) -> np.ndarray:
    """Rate factor of each bit code: the product of the factors of the conditions it holds."""
    table = np.ones(1 << len(factors))
    for code in range(len(table)):
        for i, f in enumerate(factors):
            if code >> i & 1:
                table[code] *= f
    return table
