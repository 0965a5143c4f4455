"""Static classes of actors: which of a behaviour's static conditions each actor meets, as a
class code per actor, and the rate factor of each code (docs/behaviours.md)."""

from __future__ import annotations

from typing import Any

import numpy as np

from scorelab.engine.plan.params import Params
from scorelab.errors import Problem, ScenarioError
from scorelab.lazy_pages import lazy_zeros
from scorelab.synth.population import SEX_NAMES, Population


def pack_classes(rows: list[np.ndarray], shift: int, ranges: tuple[np.ndarray, np.ndarray] | None = None,
                 n_people: int = 0) -> np.ndarray:
    """Rows of class codes (an entry per entity each) as the kernels read them: two a byte
    with ``shift`` 1, where every code fits in 4 bits (Rongcheng's 11 rows: 5.5 bytes a person
    instead of 11), entity e's code the low half of byte e >> 1 for even e, the high half for
    odd e; a byte each with ``shift`` 0. With ``ranges`` (a part's people and firm ranges, the
    firms numbered after ``n_people``), only their codes are placed, in a table mapped lazily."""
    if not rows:
        return np.zeros((1, 1), dtype=np.uint8)
    E = rows[0].shape[0]
    if ranges is None:
        cls = np.stack(rows)
        if not shift:
            return cls
        if E % 2:
            cls = np.concatenate([cls, np.zeros((cls.shape[0], 1), dtype=cls.dtype)], axis=1)
        return np.ascontiguousarray(cls[:, 0::2] | (cls[:, 1::2] << 4))
    out = lazy_zeros((len(rows), (E + 1) // 2 if shift else E), np.uint8)
    spans = [(int(lo), int(hi)) for lo, hi in ranges[0]] + [(n_people + int(lo), n_people + int(hi))
                                                            for lo, hi in ranges[1]]
    for r, row in enumerate(rows):
        for lo, hi in spans:
            if shift:
                _place_halves(out[r], row[lo:hi], lo)
            else:
                out[r, lo:hi] = row[lo:hi]
    return out


def _place_halves(dst: np.ndarray, codes: np.ndarray, lo: int) -> None:
    """Codes of entities ``lo..`` into their half-bytes of a packed row (a range may start or
    end in the middle of a byte, whose other half belongs to a neighbouring range)."""
    if codes.size and lo & 1:
        dst[lo >> 1] |= codes[0] << 4
        codes, lo = codes[1:], lo + 1
    m = codes.size & ~1
    dst[lo >> 1 : (lo + m) >> 1] = codes[0:m:2] | (codes[1:m:2] << 4)
    if codes.size > m:
        dst[(lo + m) >> 1] |= codes[m]


def class_codes(P: Params, row: int, lo: int = 0, hi: int | None = None) -> np.ndarray:
    """The class codes in row ``row`` (unpacked) of entities ``[lo, hi)`` (by default every
    entity)."""
    hi = P.n_people + P.n_firms if hi is None else hi
    if P.cls_shift == 0:
        return P.cls[row, lo:hi]
    packed = P.cls[row, lo >> 1 : (hi + 1) >> 1]
    out = np.empty(2 * packed.shape[0], dtype=np.uint8)
    out[0::2], out[1::2] = packed & 15, packed >> 4
    first = lo & 1
    return out[first : first + hi - lo]


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
