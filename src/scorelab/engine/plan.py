"""From a validated Scenario and its population to flat numeric tables for the kernels.

Everything named in the scenario (behaviours, channels, grades, lists,
consequences, flags, domains) becomes an integer index here, and every rate
becomes a per-step quantity here (via ``units.step_probability`` or rate x dt),
so the kernels never see names or units.

Entities: people are ids ``0..N-1``, firms ``N..N+F-1``. Event *types* are the
behaviours followed by the consequences (whose events are service attempts or
periodic applications).
"""

from __future__ import annotations

import dataclasses
import math
from collections import namedtuple
from dataclasses import dataclass
from typing import Any

from scorelab.jit_cache import nb
import numpy as np

from scorelab import rng
from scorelab.errors import Problem, ScenarioError
from scorelab.scenario.model import DYNAMIC_ATTRIBUTES, LAYERS, Scenario, check_references
from scorelab.synth.contacts import Contacts
from scorelab.synth.drawn import DRAWN_LAYERS, DrawnLayer, empty_tables
from scorelab.synth.population import SEX_NAMES, Population

KIND_CODES = {"wrongdoing": 0, "civic": 1, "disfavoured": 2, "neutral": 3}
CONSEQUENCE_CODES = {"refusal": 0, "fine": 1, "discount": 2, "bonus": 3, "income": 4, "dismissal": 5, "score": 6}
DYNAMIC_CODES = {name: i for i, name in enumerate(DYNAMIC_ATTRIBUTES)}  # income 0, employed 1
#: ``c_mis_graph`` of a channel whose misattribution lands on a uniformly drawn other person.
MIS_ANYONE = -1
#: ``c_mis_graph`` of a channel whose misattribution lands on another member of the household
#: (an id range of the population: no graph is stored).
MIS_HOUSEHOLD = -2
#: Contact graphs misattribution can draw from (``mis_idx`` is a tuple of this many, a fixed
#: type for the kernels): at most one per layer and one for all layers together.
MIS_SLOTS = len(LAYERS) + 1

Params = namedtuple(
    "Params",
    [
        # sizes and time
        "n_people", "n_firms", "n_steps", "report_from", "dt", "horizon_days", "enabled", "seed_keys",
        # entities
        "ent_city", "ent_group", "ent_scored", "firm_rep", "income_pct", "city_join", "city_sig", "reg_base", "reg_p0", "reg_f0",
        # event types
        "t_firm", "t_lam", "t_cls_row", "t_fac", "t_dyn_max", "cls", "cls_shift",
        "dm_ptr", "dm_attr", "dm_lo", "dm_hi", "dm_factor",
        # behaviours
        "b_kind", "b_domain", "b_deter", "b_income", "bc_ptr", "bc_idx",
        # channels
        "c_cov", "cb_det", "cb_fm", "c_mis_p", "c_mis_graph", "c_delay", "c_ttl", "ttl_vals", "c_start", "c_ramp",
        "c_enabled", "c_gated", "b_ungated", "c_keys", "c_cov_seed", "sig_ok", "bsc_ptr", "bsc_idx",
        "c_id_beh", "c_id_list", "c_id_hit", "c_id_fmr", "c_id_row", "c_id_wfac",
        # contacts for misattribution and the social term
        "mis_ptr", "mis_idx", "mis_drawn", "drawn", "hh_start", "soc_ptr", "soc_idx", "soc_w",
        # the association term (guilt by association)
        "as_on", "as_ptr", "as_idx", "as_pen", "as_rew", "as_lists", "as_pgr", "as_rgr", "as_cap", "as_half",
        # scoring
        "scheme", "base", "lo", "hi", "clip_lo", "clip_hi", "n_dims", "dim_w", "dim_start", "dim_rec", "dim_inc",
        "pts", "cap_row", "cap", "set_cap", "recovery", "g_from",
        "n_views", "view_dom", "view_true",
        # lists
        "l_actor", "l_beh", "l_min", "l_within", "l_grades", "l_from", "l_after_listed", "l_after",
        "l_clean", "l_exit_rate", "l_joint", "l_watch_row",
        # consequences
        "k_kind", "k_grades", "k_lists", "k_prob", "k_amount", "k_income", "k_points", "k_view", "k_sanction", "k_bucket", "k_lbucket",
        "k_out_on", "k_out_p", "k_out_succ", "k_out_fail",
        # flags
        "f_beh", "f_min", "f_within", "f_lists", "f_cap", "f_income", "f_points", "f_list", "f_cooldown",
        # responses and safeguards
        "resp_on", "aware0", "aware_growth", "aware_max", "deterrence", "group_sens",
        "appeal_p", "appeal_success", "appeal_delay", "la_p", "la_delay",
        # streams
        "k_events", "aware_seed", "k_appeal", "k_exit", "k_mis", "k_lappeal",
    ],
)


#: Most channels, behaviours and lists in a scenario (a record's channel and behaviour, and a
#: list slot's list, are 8, 16 and 16 bits).
MAX_CHANNELS = 2**8 - 1
MAX_BEHAVIOURS = MAX_LISTS = 2**15 - 1


@dataclass
class Plan:
    """Numeric tables for a run plus the names needed to label its output."""

    params: Params
    behaviour_names: list[str]
    channel_names: list[str]
    grade_names: list[str]
    list_names: list[str]
    consequence_names: list[str]
    flag_names: list[str]
    consequence_sanction: list[bool]
    #: the channels that search faces 1:N, in the order of their metric rows (params.c_id_row)
    identifying_names: list[str]

    @property
    def delays(self) -> bool:
        """Whether a channel delays its records (they wait in the pool of delayed records)."""
        return bool((self.params.c_delay > 0).any())

    def without_tables(self) -> "Plan":
        """The same names and sizes (what labels a run's output) without the arrays the day
        loop reads: per-entity tables and contact graphs, some of them the layers' own arrays."""
        P = self.params
        return dataclasses.replace(self, params=P._replace(
            **{k: None for k, v in P._asdict().items() if isinstance(v, (np.ndarray, tuple))}))


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


def _fail(path: str, message: str) -> ScenarioError:
    return ScenarioError([Problem("<scenario>", None, None, path, message)])


def _attribute(pop: Population, actor: str, name: str) -> tuple[np.ndarray, tuple[str, ...] | None]:
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


def _match(col: np.ndarray, names: tuple[str, ...] | None, value) -> np.ndarray:
    """Which actors satisfy one condition of a modifier (values were checked by check_references)."""
    values = value if isinstance(value, list) else [value]
    if names is not None:
        return _any_equal(col, [names.index(str(v)) for v in values])
    if col.dtype == np.bool_:
        return _any_equal(col, [bool(v) for v in values])
    if isinstance(value, list):
        return (col >= value[0]) & (col <= value[1])
    return col == value


def _any_equal(col: np.ndarray, values: list) -> np.ndarray:
    """col == any of a few values (np.isin sorts; a handful of comparisons is faster)."""
    mask = np.zeros(col.shape[0], dtype=bool)
    for v in values:
        mask |= col == v
    return mask


def _range_of(value) -> tuple[float, float]:
    """A dynamic attribute's condition as an inclusive range."""
    if isinstance(value, list):
        return float(value[0]), float(value[1])
    return float(value), float(value)


def _writable(a: np.ndarray, dtype) -> np.ndarray:
    """``a`` as ``dtype``, copied only when the type differs or ``a`` is read-only (as arrays
    shared through Ray's object store are): the kernels are compiled for writable arrays."""
    a = a.astype(dtype, copy=False)
    return a if a.flags.writeable else a.copy()


def _csr_union(contacts: Contacts, names: list[str], n: int) -> tuple[np.ndarray, np.ndarray]:
    """One CSR graph that is the union of the named layers (duplicates removed), in O(edges);
    a single layer is the layer's own arrays (row starts int32 or int64, as the layer has them)."""
    parts = [contacts[name].to_csr() for name in names if name in contacts]
    if not parts:  # no stored layer: row starts of one entry, read as no neighbours
        return np.zeros(1, dtype=np.int32), np.zeros(0, dtype=np.int32)
    if len(parts) == 1:  # one layer is already sorted and free of duplicates
        ptr = parts[0][0]
        return _writable(ptr, ptr.dtype if ptr.dtype == np.int64 else np.int32), _writable(parts[0][1], np.int32)
    ptrs = [_writable(p, np.int64) for p, _ in parts]
    idxs = [_writable(i, np.int32) for _, i in parts]
    bound = sum(int(p[-1]) for p in ptrs)
    out_ptr = np.zeros(n + 1, dtype=np.int64)
    out_idx = np.empty(bound, dtype=np.int32)
    m = _merge_rows(n, tuple(ptrs), tuple(idxs), out_ptr, out_idx)
    return out_ptr, out_idx[:m].copy()


#: The association term's sums are kept in whole units of this many points (see kernel.restain)
ASSOCIATION_UNIT = 1e-6


def _weighted_union(contacts: Contacts, weights: dict[str, float], n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One CSR graph of the named layers with a weight per edge: the layer's weight, the
    largest where two people are linked by several layers."""
    rows, cols, ws = [], [], []
    for name, weight in weights.items():
        if name not in contacts or weight <= 0:
            continue
        ptr, idx = contacts[name].to_csr()
        rows.append(np.repeat(np.arange(n, dtype=np.int64), np.diff(ptr.astype(np.int64))))
        cols.append(idx.astype(np.int64))
        ws.append(np.full(len(idx), float(weight)))
    ptr = np.zeros(n + 1, dtype=np.int64)
    if not rows:
        return ptr, np.zeros(0, dtype=np.int32), np.zeros(0)
    r, c, w = np.concatenate(rows), np.concatenate(cols), np.concatenate(ws)
    order = np.lexsort((-w, c, r))  # by person, contact, the largest weight first
    r, c, w = r[order], c[order], w[order]
    first = np.ones(len(r), dtype=bool)
    first[1:] = (r[1:] != r[:-1]) | (c[1:] != c[:-1])
    r, c, w = r[first], c[first], w[first]
    np.cumsum(np.bincount(r, minlength=n), out=ptr[1:])
    return ptr, c.astype(np.int32), w


@nb.njit(cache=True)
def _merge_rows(n, ptrs, idxs, out_ptr, out_idx):
    m = 0
    for i in range(n):
        start = m
        for k in range(len(ptrs)):
            for q in range(ptrs[k][i], ptrs[k][i + 1]):
                out_idx[m] = idxs[k][q]
                m += 1
        if m - start > 1:
            out_idx[start:m] = np.sort(out_idx[start:m])
            w = start + 1
            for q in range(start + 1, m):
                if out_idx[q] != out_idx[w - 1]:
                    out_idx[w] = out_idx[q]
                    w += 1
            m = w
        out_ptr[i + 1] = m
    return m


def _class_codes(masks: list[np.ndarray], factors: list[float], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Class code per actor (uint8) and the rate factor of each code, in O(n x conditions).
    Up to 8 conditions, bit i of the code says whether condition i holds (so the codes do not
    depend on the factors); beyond, each distinct product of factors is a code."""
    if len(masks) <= 8:
        codes = np.zeros(n, dtype=np.uint8)
        for i, mask in enumerate(masks):
            codes |= mask.astype(np.uint8) << np.uint8(i)
        return codes, _factor_table(factors)
    factor = np.ones(n)
    for mask, f in zip(masks, factors):
        factor[mask] *= f
    values, inverse = np.unique(factor, return_inverse=True)
    if len(values) > 256:
        raise ScenarioError([Problem("<scenario>", None, None, "behaviours", f"too many distinct rate combinations ({len(values)} > 256)")])
    return inverse.astype(np.uint8), values


def _factor_table(factors: list[float]) -> np.ndarray:
    """Rate factor of each bit code: the product of the factors of the conditions it holds."""
    table = np.ones(1 << len(factors))
    for code in range(len(table)):
        for i, f in enumerate(factors):
            if code >> i & 1:
                table[code] *= f
    return table


def _condition_mask(pop: Population, actor: str, condition: tuple[str, Any], n: int) -> np.ndarray:
    """Which actors meet a static condition: ``("min_age", age)`` (under the age) or
    ``("when", {attribute: value})``."""
    kind, value = condition
    if kind == "min_age":
        return pop.age < value
    mask = np.ones(n, dtype=bool)
    for attr, v in value.items():
        col, names = _attribute(pop, actor, attr)
        mask &= _match(np.asarray(col), names, v)
    return mask


def _keys(seed: int, name: str) -> np.ndarray:
    k0, k1 = rng.key(seed, name)
    return np.array([k0, k1], dtype=np.uint64)


def compile_plan(s: Scenario, pop: Population, contacts: Contacts) -> Plan:
    """Turn names and units into index tables and per-step quantities.

    Raises ScenarioError if the scenario's cross-references do not hold (a Scenario built
    directly in Python has not been through ``check_references`` yet).
    """
    refs = check_references(s)
    if refs:
        raise ScenarioError([Problem("<scenario>", None, None, ".".join(map(str, p)), m) for p, m, _ in refs])
    dt = float(s.run.step)
    # a burn-in runs first: step 0 is burn_in days before run.start, reporting starts at report_from
    report_from = int(math.ceil(s.run.burn_in / dt))
    n_steps = report_from + int(math.ceil(s.run.days / dt))
    N, F = pop.n, pop.firms.n
    E = N + F
    seed = s.run.seed
    start = s.run.start

    def step_of(date, before: bool = False) -> int:
        """The step of a date (0 for none); a date before step 0 is step 0 unless ``before``
        (a channel that started earlier is part-way up its ramp at step 0)."""
        if date is None:
            return 0
        k = report_from + int(math.floor((date - start).days / dt))
        return k if before else max(0, k)

    beh = list(s.behaviours)
    bidx = {b: i for i, b in enumerate(beh)}
    chans = list(s.channels)
    grades = [g.name for g in s.grades]
    gidx = {g: i for i, g in enumerate(grades)}
    lists = list(s.lists)
    lidx = {name: i for i, name in enumerate(lists)}
    cons = list(s.consequences)
    flags = list(s.flags)
    domains = sorted({b.domain for b in s.behaviours.values()})
    didx = {d: i for i, d in enumerate(domains)}
    B, C, G, L, K, FL = len(beh), len(chans), len(grades), len(lists), len(cons), len(flags)
    T = B + K
    # a record stores its behaviour in 16 bits and its channel in 8
    if C > MAX_CHANNELS:
        raise _fail("channels", f"{C} channels; a scenario has at most {MAX_CHANNELS}")
    if B > MAX_BEHAVIOURS:
        raise _fail("behaviours", f"{B} behaviours; a scenario has at most {MAX_BEHAVIOURS}")
    if L > MAX_LISTS:
        raise _fail("lists", f"{L} lists; a scenario has at most {MAX_LISTS}")

    # ---- entities
    # (int16: 2 bytes an entity each; a population has at most 255 groups, and cities beyond
    # int16's range, which no scenario reaches, keep int32)
    city_type = np.int16 if len(pop.city_names) <= np.iinfo(np.int16).max else np.int32
    ent_city = np.concatenate([pop.city.astype(city_type), pop.firms.city.astype(city_type)])
    n_groups = len(pop.group_names)
    ent_group = np.concatenate([pop.group.astype(np.int16), np.full(F, n_groups, dtype=np.int16)])
    ent_scored = np.concatenate([(pop.age >= s.scoring.min_age), np.ones(F, dtype=bool)]).astype(np.uint8)
    firm_rep = pop.firms.representative.astype(np.int32)
    income_pct = np.zeros(0, dtype=np.float32)  # only an index dimension with an income term reads it
    if s.scoring.scheme != "points" and any(d.income != 0 for d in s.scoring.dimensions.values()):
        income_pct = np.full(N + F, 0.5, dtype=np.float32)
        order = np.argsort(pop.income, kind="stable")
        income_pct[order] = (np.arange(N, dtype=np.float64) + 0.5) / max(N, 1)

    n_cities = len(pop.city_names)
    # regions are cities: each region's entities own a range of slots in per-region arrays
    reg_base = np.zeros(n_cities + 1, dtype=np.int64)
    reg_base[1:] = np.cumsum(np.bincount(ent_city, minlength=n_cities))
    # candidate events are drawn per region, over its people [reg_p0[r], reg_p0[r+1]) and its
    # firms N + [reg_f0[r], reg_f0[r+1]): people and firms are stored in city order
    if np.any(np.diff(pop.city.astype(np.int64)) < 0) or np.any(np.diff(pop.firms.city.astype(np.int64)) < 0):
        raise RuntimeError("people and firms must be stored in city order (synth.population)")
    reg_p0 = np.zeros(n_cities + 1, dtype=np.int64)
    reg_p0[1:] = np.cumsum(np.bincount(pop.city, minlength=n_cities))
    reg_f0 = np.zeros(n_cities + 1, dtype=np.int64)
    reg_f0[1:] = np.cumsum(np.bincount(pop.firms.city, minlength=n_cities))
    city_join = np.full(n_cities, step_of(s.rollout.default), dtype=np.int32)
    for rj in s.rollout.regions:  # provinces first, then cities override
        if rj.region in pop.province_names:
            p = pop.province_names.index(rj.region)
            city_join[np.asarray(pop.city_province) == p] = step_of(rj.joins)
    for rj in s.rollout.regions:
        if rj.region in pop.city_names:
            city_join[pop.city_names.index(rj.region)] = step_of(rj.joins)

    # channel region masks -> signatures (cities with the same set of covering channels)
    city_ok = np.ones((C, n_cities), dtype=np.uint8)
    for ci, name in enumerate(chans):
        regions = s.channels[name].regions
        if regions is not None:
            city_ok[ci] = 0
            for r in regions:
                if r in pop.city_names:
                    city_ok[ci, pop.city_names.index(r)] = 1
                if r in pop.province_names:
                    city_ok[ci, np.asarray(pop.city_province) == pop.province_names.index(r)] = 1
    if C:
        sigs, city_sig = np.unique(city_ok.T, axis=0, return_inverse=True)
        sig_ok = np.ascontiguousarray(sigs, dtype=np.uint8)
    else:
        sig_ok = np.ones((1, 0), dtype=np.uint8)
        city_sig = np.zeros(n_cities, dtype=np.int64)
    city_sig = city_sig.reshape(-1).astype(np.int32)

    # ---- event types: static classes, dynamic modifiers
    t_firm = np.zeros(T, dtype=np.uint8)
    t_lam = np.zeros(T, dtype=np.float64)
    t_cls_row = np.full(T, -1, dtype=np.int64)
    t_fac = np.ones((T, 256), dtype=np.float64)
    t_fmax = np.ones(T, dtype=np.float64)
    t_dyn_max = np.ones(T, dtype=np.float64)
    cls_rows: list[np.ndarray] = []
    cls_row_of: dict[str, int] = {}  # behaviours with the same static conditions share a row
    cls_tables: list[np.ndarray] = []
    dm: list[list[tuple[int, float, float, float]]] = [[] for _ in range(T)]
    for bi, name in enumerate(beh):
        b = s.behaviours[name]
        lo_, n_ = (0, N) if b.actor == "person" else (N, F)
        t_firm[bi] = b.actor != "person"
        # static conditions as (condition, factor) pairs; an actor's class code has bit i set
        # when it meets condition i, and the class's factor is the product of the met factors
        conditions: list[tuple[Any, float]] = []  # (condition, factor); masks made once per row
        if b.actor == "person" and b.min_age > 0:
            conditions.append((("min_age", b.min_age), 0.0))
        for mod in b.modifiers:
            dyn = [a for a in mod.when if a in DYNAMIC_ATTRIBUTES and b.actor == "person"]
            if dyn:  # (check_references allows no other condition beside a dynamic one)
                lo_v, hi_v = _range_of(mod.when[dyn[0]])
                dm[bi].append((DYNAMIC_CODES[dyn[0]], lo_v, hi_v, float(mod.factor)))
                continue
            conditions.append((("when", mod.when), float(mod.factor)))
        if conditions:
            factors = [f for _, f in conditions]
            # past 8 conditions the codes depend on the factors too
            key = repr((b.actor, [c for c, _ in conditions], factors if len(factors) > 8 else None))
            if key not in cls_row_of:
                masks = [_condition_mask(pop, b.actor, c, n_) for c, _ in conditions]
                codes, table = _class_codes(masks, factors, n_)
                row = np.zeros(E, dtype=np.uint8)
                row[lo_: lo_ + n_] = codes
                cls_row_of[key] = len(cls_rows)
                cls_rows.append(row)
                cls_tables.append(table)
            t_cls_row[bi] = cls_row_of[key]
            codes = cls_rows[t_cls_row[bi]][lo_: lo_ + n_]
            table = _factor_table(factors) if len(factors) <= 8 else cls_tables[t_cls_row[bi]]
            present = np.bincount(codes, minlength=len(table)) > 0
            t_fmax[bi] = table[present].max() if present.any() else 0.0
            # kept as shares of the largest (the kernels' thinning), divided once here
            t_fac[bi, : len(table)] = table / t_fmax[bi] if t_fmax[bi] > 0.0 else 0.0
        dyn_max = 1.0
        for _, _, _, f in dm[bi]:
            dyn_max *= max(1.0, f)
        t_dyn_max[bi] = dyn_max
        t_lam[bi] = b.rate * dt * t_fmax[bi] * dyn_max
    for ki, name in enumerate(cons):
        k = s.consequences[name]
        ti = B + ki
        t_firm[ti] = k.actor != "person"
        rate = k.attempts if k.attempts is not None else 1.0 / max(k.every, 1e-9)
        t_lam[ti] = rate * dt
    cls = np.stack(cls_rows) if cls_rows else np.zeros((1, 1), dtype=np.uint8)
    del cls_rows
    cls, cls_shift = pack_classes(cls)
    dm_ptr = np.zeros(T + 1, dtype=np.int64)
    for ti in range(T):
        dm_ptr[ti + 1] = dm_ptr[ti] + len(dm[ti])
    flat = [x for row in dm for x in row]
    dm_attr = np.array([x[0] for x in flat], dtype=np.int64)
    dm_lo = np.array([x[1] for x in flat], dtype=np.float64)
    dm_hi = np.array([x[2] for x in flat], dtype=np.float64)
    dm_factor = np.array([x[3] for x in flat], dtype=np.float64)

    # ---- behaviours and channels
    b_kind = np.array([KIND_CODES[s.behaviours[b].kind] for b in beh], dtype=np.int64)
    b_domain = np.array([didx[s.behaviours[b].domain] for b in beh], dtype=np.int64)
    b_deter = np.array([s.behaviours[b].deterrability for b in beh], dtype=np.float64)
    b_income = np.array([s.behaviours[b].income_effect for b in beh], dtype=np.float64)
    disabled = set(s.safeguards.disabled_channels)
    per_b: list[list[int]] = [[] for _ in range(B)]
    for ci, name in enumerate(chans):
        for b in s.channels[name].observes:
            per_b[bidx[b]].append(ci)
    bc_ptr = np.zeros(B + 1, dtype=np.int64)
    for bi in range(B):
        bc_ptr[bi + 1] = bc_ptr[bi] + len(per_b[bi])
    bc_idx = np.array([c for row in per_b for c in row], dtype=np.int64)
    # the same lists per region signature (row b * signatures + g): the channels that can see
    # behaviour b in a region of signature g, in the same order, so an act is offered only to
    # those (with a channel per district, most of a behaviour's channels see none of its acts)
    n_sig = sig_ok.shape[0]
    bsc = [[c for c in per_b[bi] if sig_ok[g, c]] for bi in range(B) for g in range(n_sig)]
    bsc_ptr = np.zeros(B * n_sig + 1, dtype=np.int64)
    bsc_ptr[1:] = np.cumsum([len(row) for row in bsc], dtype=np.int64)
    bsc_idx = np.array([c for row in bsc for c in row], dtype=np.int64)

    def steps(days: float | None) -> int:
        return -1 if days is None else int(round(days / dt))

    expiry = s.safeguards.expiry
    c_cov = np.zeros(C); c_mis_p = np.zeros(C)
    # detection and false-match rate per (channel, behaviour): the channel's, or its by_behaviour's
    cb_det = np.zeros((C, B)); cb_fm = np.zeros((C, B))
    c_mis_graph = np.full(C, -1, dtype=np.int64); c_delay = np.zeros(C, dtype=np.int64)
    c_ttl = np.full(C, -1, dtype=np.int64); c_start = np.zeros(C, dtype=np.int64); c_ramp = np.zeros(C, dtype=np.int64)
    c_enabled = np.zeros(C, dtype=np.uint8)
    # rollout gates a channel's records by region (1), or the channel records everywhere from
    # its start, an institution older than the system (0); b_ungated: b has such a channel
    c_gated = np.ones(C, dtype=np.uint8); b_ungated = np.zeros(B, dtype=np.uint8)
    c_keys = np.zeros((C, 2), dtype=np.uint64); c_cov_seed = np.zeros(C, dtype=np.uint64)
    # 1:N identification: the behaviour whose acts are searched (-1: none), the watchlist, the
    # hit rate, the false-match rate of one comparison, the channel's row of metric columns, and
    # the people a simulated watchlist member stands for (a face is searched against the whole
    # described population's watchlist: W = simulated stock / (people / represents))
    c_id_beh = np.full(C, -1, dtype=np.int64); c_id_list = np.full(C, -1, dtype=np.int64)
    c_id_hit = np.zeros(C); c_id_fmr = np.zeros(C); c_id_row = np.full(C, -1, dtype=np.int64)
    c_id_wfac = np.full(C, 1.0 / s.population.scale)
    mis_graphs: list[tuple[str, ...]] = []  # the distinct layer sets misattribution draws from
    for ci, name in enumerate(chans):
        ch = s.channels[name]
        c_cov[ci] = ch.coverage
        cb_det[ci, :], cb_fm[ci, :] = ch.detection, ch.false_match_rate
        for bname, how in ch.by_behaviour.items():
            if how.detection is not None:
                cb_det[ci, bidx[bname]] = how.detection
            if how.false_match_rate is not None:
                cb_fm[ci, bidx[bname]] = how.false_match_rate
        c_mis_p[ci] = ch.misattribution.probability
        if ch.misattribution.target == "contacts" and ch.misattribution.probability > 0:
            layers = (ch.misattribution.layer,) if ch.misattribution.layer else tuple(sorted(LAYERS))
            if layers == ("household",) and "household" in contacts:
                c_mis_graph[ci] = MIS_HOUSEHOLD
            else:
                if layers not in mis_graphs:
                    mis_graphs.append(layers)
                c_mis_graph[ci] = mis_graphs.index(layers)
        c_delay[ci] = steps(ch.delay)
        ttls = [x for x in (ch.retention, expiry) if x is not None]
        c_ttl[ci] = steps(min(ttls)) if ttls else -1
        c_start[ci] = step_of(ch.start, before=True)
        c_ramp[ci] = steps(ch.ramp)
        c_enabled[ci] = 0 if name in disabled else 1
        if not ch.gated_by_rollout:
            c_gated[ci] = 0
            for bname in ch.observes:
                b_ungated[bidx[bname]] = 1
        c_keys[ci] = _keys(seed, f"channel.{name}")
        c_cov_seed[ci] = rng.fixed_seed(seed, f"channel.{name}.coverage")
        if ch.identification is not None:
            idn = ch.identification
            c_id_beh[ci], c_id_list[ci] = bidx[idn.behaviour], lidx[idn.watchlist]
            c_id_hit[ci], c_id_fmr[ci] = idn.hit_rate, idn.false_match_rate
            c_id_row[ci] = int((c_id_row >= 0).sum())
    # one contact graph per distinct layer set: graph g's neighbours of e are
    # mis_idx[g][mis_ptr[g][e]:mis_ptr[g][e + 1]]; a single layer's are the layer's own arrays
    # (not copied; row starts int32 unless a graph has 2^31 entries or more, then all int64)
    # (a drawn layer's contacts are drawn in the kernels: graph g draws from the drawn layers
    # of bits mis_drawn[g], numbered as DRAWN_LAYERS, besides its stored part)
    is_drawn = {name for name in contacts if isinstance(contacts[name], DrawnLayer)}
    graphs = [_csr_union(contacts, [x for x in layers if x not in is_drawn], N) for layers in mis_graphs]
    mis_drawn = np.array([sum(1 << DRAWN_LAYERS.index(x) for x in layers if x in is_drawn) for layers in mis_graphs]
                         + [0] * (MIS_SLOTS - len(mis_graphs)), dtype=np.int64)
    # (writable, as every array of the plan: Ray hands its workers read-only population
    # columns, and read-only arrays are another numba type, a second compile of every kernel)
    drawn = tuple(type(t)(*(_writable(a, a.dtype) for a in t))
                  for t in (contacts[x].tables if x in is_drawn else empty_tables(pop) for x in DRAWN_LAYERS))
    assert len(graphs) <= MIS_SLOTS  # distinct layer sets: single layers, or all of them
    wide = any(ptr.dtype == np.int64 and ptr[-1] > np.iinfo(np.int32).max for ptr, _ in graphs)
    ptr_type = np.int64 if wide else np.int32
    pad = MIS_SLOTS - len(graphs)
    mis_ptr = tuple(_writable(ptr, ptr_type) for ptr, _ in graphs) + tuple(np.zeros(1, ptr_type) for _ in range(pad))
    mis_idx = tuple(idx for _, idx in graphs) + tuple(np.zeros(0, np.int32) for _ in range(pad))

    # ---- scoring
    sc = s.scoring
    if sc.social is not None and sc.social.weight > 0:
        soc_ptr, soc_idx = _csr_union(contacts, list(sc.social.layers), N)
        soc_w = float(sc.social.weight)
    else:
        soc_ptr, soc_idx, soc_w = np.zeros(1, np.int64), np.zeros(0, np.int32), 0.0  # never read
    # the association term: per edge of the weighted contact graph, what a contact that counts
    # against (or for) a person gives them, in whole ASSOCIATION_UNITs (exact sums, so what a
    # contact gave is taken back exactly)
    asc = sc.association
    as_lists = np.zeros(L, dtype=np.uint8); as_pgr = np.zeros(G, dtype=np.uint8); as_rgr = np.zeros(G, dtype=np.uint8)
    if asc is not None:
        as_ptr, as_idx, as_wt = _weighted_union(contacts, dict(asc.layers), N)
        as_pen = np.rint(as_wt * asc.points / ASSOCIATION_UNIT).astype(np.int64)
        as_rew = np.rint(as_wt * (asc.rewards.points if asc.rewards else 0.0) / ASSOCIATION_UNIT).astype(np.int64)
        for x in asc.lists:
            as_lists[lidx[x]] = 1
        for g in asc.grades:
            as_pgr[gidx[g]] = 1
        for g in (asc.rewards.grades if asc.rewards else []):
            as_rgr[gidx[g]] = 1
    else:
        as_ptr, as_idx, as_pen, as_rew = np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int64), np.zeros(0, np.int64)
    scheme = 0 if sc.scheme == "points" else 1
    dims = list(sc.dimensions)
    n_dims = 1 if scheme == 0 else len(dims)
    dim_w = np.ones(n_dims); dim_start = np.zeros(n_dims); dim_inc = np.zeros(n_dims)
    dim_rec = np.zeros((B, n_dims))
    pts = np.zeros(B); cap = np.full(B, np.inf); cap_row = np.full(B, -1, dtype=np.int64); set_cap = np.full(B, np.nan)
    g_from = np.array([(-np.inf if g.from_ is None else g.from_) for g in s.grades], dtype=np.float64)
    if scheme == 0:
        n_caps = 0
        for rule in sc.rules:
            bi = bidx[rule.behaviour]
            pts[bi] += rule.points
            dim_rec[bi, 0] += rule.points
            if rule.cap_per_year is not None:
                cap[bi] = rule.cap_per_year
                cap_row[bi] = n_caps
                n_caps += 1
            if rule.set_grade is not None:
                gi = gidx[rule.set_grade]
                below = s.grades[gi].below
                ceiling = np.inf if below is None else below - 1e-6
                set_cap[bi] = ceiling if np.isnan(set_cap[bi]) else min(set_cap[bi], ceiling)
    else:
        for di, dname in enumerate(dims):
            d = sc.dimensions[dname]
            dim_w[di], dim_start[di], dim_inc[di] = d.weight, d.start, d.income
            for b, v in d.records.items():
                dim_rec[bidx[b], di] = v
        if dim_w.sum() <= 0:
            raise _fail("scoring.dimensions", "the dimension weights must not all be 0")
    clip_lo, clip_hi = (sc.bounds if sc.bounds is not None else (-np.inf, np.inf))

    # views: 0 all records, 1 true records only, 2.. purpose-limited domain sets
    # (each purpose-limited view is followed by its true-records-only twin, used to judge wrongfulness)
    view_dom = [np.ones(len(domains), dtype=np.uint8), np.ones(len(domains), dtype=np.uint8)]
    view_true = [0, 1]
    k_view = np.zeros(K, dtype=np.int64)
    if s.safeguards.purpose_limitation:
        for ki, name in enumerate(cons):
            ds = s.consequences[name].domains
            if ds is None:
                continue
            mask = np.array([1 if d in ds else 0 for d in domains], dtype=np.uint8)
            for vi in range(2, len(view_dom), 2):
                if np.array_equal(view_dom[vi], mask):
                    k_view[ki] = vi
                    break
            else:
                view_dom += [mask, mask]
                view_true += [0, 1]
                k_view[ki] = len(view_dom) - 2

    # ---- lists
    l_actor = np.array([0 if s.lists[x].actor == "person" else 1 for x in lists], dtype=np.int64)
    l_beh = np.zeros((L, B), dtype=np.uint8); l_grades = np.zeros((L, G), dtype=np.uint8)
    l_min = np.zeros(L, dtype=np.int64); l_within = np.full(L, -1, dtype=np.int64)
    l_from = np.full(L, -1, dtype=np.int64); l_after_listed = np.zeros(L, dtype=np.int64)
    l_after = np.zeros(L, dtype=np.int64); l_clean = np.full(L, -1, dtype=np.int64)
    l_exit_rate = np.zeros(L); l_joint = np.zeros(L, dtype=np.uint8)
    for li, name in enumerate(lists):
        lst = s.lists[name]
        for b in lst.entry.behaviours:
            l_beh[li, bidx[b]] = 1
        for g in lst.entry.grades:
            l_grades[li, gidx[g]] = 1
        l_min[li] = max(1, lst.entry.min_records)
        l_within[li] = steps(lst.entry.within)
        l_from[li] = -1 if lst.entry.from_list is None else lidx[lst.entry.from_list]
        l_after_listed[li] = steps(lst.entry.after_listed)
        l_after[li] = max(1, steps(lst.exit.after))
        l_clean[li] = steps(lst.exit.clean)
        l_exit_rate[li] = 0.0 if lst.exit.probability is None else lst.exit.probability * dt
        l_joint[li] = 1 if lst.joint_punishment else 0

    # ---- consequences
    k_kind = np.array([CONSEQUENCE_CODES[s.consequences[x].kind] for x in cons], dtype=np.int64)
    k_grades = np.zeros((K, G), dtype=np.uint8); k_lists = np.zeros((K, L), dtype=np.uint8)
    for ki, name in enumerate(cons):
        for g in s.consequences[name].grades:
            k_grades[ki, gidx[g]] = 1
        for x in s.consequences[name].lists:
            k_lists[ki, lidx[x]] = 1
    # lists whose members are kept per region: those of consequences that apply by list alone
    # (their events are drawn among them)
    k_lbucket = ((k_grades.sum(axis=1) == 0) & (k_lists.sum(axis=1) > 0)).astype(np.uint8) if K else np.zeros(0, np.uint8)
    member_lists: list[int] = []
    for ki in np.flatnonzero(k_lbucket):
        member_lists += [int(li) for li in np.flatnonzero(k_lists[ki]) if int(li) not in member_lists]
    l_watch_row = np.array([member_lists.index(li) if li in member_lists else -1 for li in range(L)], dtype=np.int64)
    k_prob = np.array([s.consequences[x].probability for x in cons], dtype=np.float64)
    k_amount = np.array([s.consequences[x].amount for x in cons], dtype=np.float64)
    k_income = np.array([s.consequences[x].income_change for x in cons], dtype=np.float64)
    k_points = np.array([s.consequences[x].points for x in cons], dtype=np.float64)
    k_out_on = np.zeros(K, dtype=np.uint8); k_out_p = np.zeros((K, G))
    k_out_succ = np.zeros(K); k_out_fail = np.zeros(K)
    for ki, name in enumerate(cons):
        oc = s.consequences[name].outcome
        if oc is not None:
            k_out_on[ki], k_out_succ[ki], k_out_fail[ki] = 1, oc.success_points, oc.failure_points
            for g, p in oc.success_probability.items():
                k_out_p[ki, gidx[g]] = p
    sanction = []
    for name in cons:
        c = s.consequences[name]
        sanction.append(c.kind in ("refusal", "fine", "dismissal") or (c.kind == "income" and c.income_change < 0)
                        or (c.kind == "score" and c.points < 0))

    # ---- flags
    f_beh = np.zeros((FL, B), dtype=np.uint8); f_lists = np.zeros((FL, L), dtype=np.uint8)
    f_min = np.zeros(FL, dtype=np.int64); f_within = np.zeros(FL, dtype=np.int64)
    f_cap = np.zeros(FL); f_income = np.zeros(FL); f_points = np.zeros(FL)
    f_list = np.full(FL, -1, dtype=np.int64); f_cooldown = np.zeros(FL, dtype=np.int64)
    for fi, name in enumerate(flags):
        f = s.flags[name]
        for b in f.rule.behaviours:
            f_beh[fi, bidx[b]] = 1
        for x in f.rule.lists:
            f_lists[fi, lidx[x]] = 1
        f_min[fi] = max(1, f.rule.min_records)
        f_within[fi] = max(1, steps(f.rule.within))
        # (a capacity is for the described population unless fixed: docs/scale.md)
        f_cap[fi] = f.capacity * dt * (1.0 if f.fixed_capacity else s.population.scale)
        f_income[fi], f_points[fi] = f.investigation_income, f.investigation_points
        f_list[fi] = -1 if f.add_to_list is None else lidx[f.add_to_list]
        f_cooldown[fi] = steps(f.cooldown)

    # ---- responses and safeguards
    r = s.responses
    a0 = r.awareness.initial
    a0 = a0 + (1.0 - a0) * s.safeguards.transparency.awareness
    group_sens = np.ones(n_groups + 1)
    for g, v in r.risk_sensitivity.items():
        group_sens[pop.group_names.index(g)] = v
    ap = s.safeguards.appeals

    params = Params(
        n_people=N, n_firms=F, n_steps=n_steps, report_from=report_from, dt=dt, horizon_days=float(n_steps * dt),
        enabled=1 if s.scoring.enabled else 0, seed_keys=_keys(seed, "seed"),
        ent_city=ent_city, ent_group=ent_group, ent_scored=ent_scored, firm_rep=firm_rep, income_pct=income_pct,
        city_join=city_join, city_sig=city_sig, reg_base=reg_base, reg_p0=reg_p0, reg_f0=reg_f0,
        t_firm=t_firm, t_lam=t_lam, t_cls_row=t_cls_row, t_fac=t_fac, t_dyn_max=t_dyn_max, cls=cls, cls_shift=cls_shift,
        dm_ptr=dm_ptr, dm_attr=dm_attr, dm_lo=dm_lo, dm_hi=dm_hi, dm_factor=dm_factor,
        b_kind=b_kind, b_domain=b_domain, b_deter=b_deter, b_income=b_income, bc_ptr=bc_ptr, bc_idx=bc_idx,
        c_cov=c_cov, cb_det=cb_det, cb_fm=cb_fm, c_mis_p=c_mis_p, c_mis_graph=c_mis_graph, c_delay=c_delay, c_ttl=c_ttl,
        ttl_vals=np.unique(c_ttl[c_ttl >= 0]).astype(np.int64),
        c_start=c_start, c_ramp=c_ramp, c_enabled=c_enabled, c_gated=c_gated, b_ungated=b_ungated, c_keys=c_keys, c_cov_seed=c_cov_seed, sig_ok=sig_ok,
        bsc_ptr=bsc_ptr, bsc_idx=bsc_idx,
        c_id_beh=c_id_beh, c_id_list=c_id_list, c_id_hit=c_id_hit, c_id_fmr=c_id_fmr, c_id_row=c_id_row,
        c_id_wfac=c_id_wfac,
        mis_ptr=mis_ptr, mis_idx=mis_idx, mis_drawn=mis_drawn, drawn=drawn,
        hh_start=_writable(pop.household_start, np.int32),
        soc_ptr=_writable(soc_ptr, np.int64), soc_idx=_writable(soc_idx, np.int32), soc_w=soc_w,
        as_on=0 if asc is None else 1, as_ptr=as_ptr, as_idx=as_idx, as_pen=as_pen, as_rew=as_rew,
        as_lists=as_lists, as_pgr=as_pgr, as_rgr=as_rgr,
        as_cap=np.inf if asc is None or asc.cap is None else float(asc.cap),
        as_half=0 if asc is None else steps(asc.half_life),
        scheme=scheme, base=float(sc.base), lo=float(sc.range[0]), hi=float(sc.range[1]),
        clip_lo=float(clip_lo), clip_hi=float(clip_hi), n_dims=n_dims, dim_w=dim_w, dim_start=dim_start,
        dim_rec=dim_rec, dim_inc=dim_inc, pts=pts, cap_row=cap_row, cap=cap, set_cap=set_cap,
        recovery=steps(sc.recovery), g_from=g_from,
        n_views=len(view_dom), view_dom=np.stack(view_dom) if domains else np.ones((len(view_dom), 1), np.uint8),
        view_true=np.array(view_true, dtype=np.uint8),
        l_actor=l_actor, l_beh=l_beh, l_min=l_min, l_within=l_within, l_grades=l_grades, l_from=l_from,
        l_after_listed=l_after_listed, l_after=l_after, l_clean=l_clean, l_exit_rate=l_exit_rate, l_joint=l_joint,
        l_watch_row=l_watch_row,
        k_kind=k_kind, k_grades=k_grades, k_lists=k_lists, k_prob=k_prob, k_amount=k_amount, k_income=k_income,
        k_points=k_points, k_view=k_view, k_sanction=np.array(sanction, dtype=np.uint8).reshape(K),
        # attempts drawn among the actors in the consequence's grades: by grade alone, on the grades as held
        k_bucket=((k_lists.sum(axis=1) == 0) & (k_grades.sum(axis=1) > 0) & (k_view == 0)).astype(np.uint8)
        if K else np.zeros(0, dtype=np.uint8),
        k_lbucket=k_lbucket,
        k_out_on=k_out_on, k_out_p=k_out_p, k_out_succ=k_out_succ, k_out_fail=k_out_fail,
        f_beh=f_beh, f_min=f_min, f_within=f_within, f_lists=f_lists, f_cap=f_cap, f_income=f_income,
        f_points=f_points, f_list=f_list, f_cooldown=f_cooldown,
        resp_on=1 if (r.enabled and s.scoring.enabled) else 0, aware0=float(a0),
        aware_growth=float(r.awareness.growth), aware_max=float(r.awareness.maximum),
        deterrence=float(r.deterrence), group_sens=group_sens,
        appeal_p=float(ap.contested), appeal_success=float(ap.success), appeal_delay=max(0, steps(ap.delay)),
        # upheld appeals of wrongful listings themselves (their share, then their delay)
        la_p=float(ap.listings.contested * ap.listings.success), la_delay=max(0, steps(ap.listings.delay)),
        k_events=_keys(seed, "events"), aware_seed=rng.fixed_seed(seed, "responses.awareness"),
        k_appeal=_keys(seed, "safeguards.appeal"), k_exit=_keys(seed, "lists.exit"), k_mis=_keys(seed, "misattribution"),
        k_lappeal=_keys(seed, "safeguards.appeals.listings"),
    )
    return Plan(
        params=params, behaviour_names=beh, channel_names=chans, grade_names=grades, list_names=lists,
        consequence_names=cons, flag_names=flags, consequence_sanction=sanction,
        identifying_names=[c for c in chans if s.channels[c].identification is not None],
    )
