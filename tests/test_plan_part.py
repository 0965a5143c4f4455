"""A plan of some regions alone (``engine.plan.part``): its per-entity tables, class codes,
contact graphs and coming-of-age lists hold the whole plan's entries for the part's own
entities and nothing else (their pages hold no memory), from a population built whole or
city by city; the parts agree on the facts of everyone and on the trajectories' sample.
(A sharded run whose workers compile their own regions' plans writes the single-process
run's bytes: ``tests/test_sharded.py``.)"""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest

import scorelab
from scorelab import lazy_pages
from scorelab.engine.plan import Params, PlanFacts, PlanPart, class_codes, compile_plan, plan_facts
from scorelab.engine.plan.part import trajectory_candidates, trajectory_merge
from scorelab.errors import ScenarioError
from scorelab.synth.city_contacts import contacts_by_parts
from test_owned import PAGE, _pagemap_tells, resident
from test_sharded import FOUR_CITIES

#: Scattered and neighbouring cities: a part need not be one run of cities
PARTS = [[0, 2], [1], [3]]
#: Per-entity tables and their entities: every entity, the people, the firms
ENTITY_TABLES = {"ent_city": "E", "ent_group": "E", "ent_scored": "E", "income_pct": "E", "firm_rep": "F",
                 "ent_employer": "N", "ent_public": "N"}
#: Contact graphs: (row starts, neighbours, per-edge tables)
GRAPHS = [("soc_ptr", "soc_idx", ()), ("as_ptr", "as_idx", ("as_pen", "as_rew"))]
#: Compared region by region, or row by row, below
APART = {"cls", "coa_ptr", "coa_ent", "coa_step", "hh_start", "mis_ptr", "mis_idx", "drawn"} | {
    name for graph in GRAPHS for name in (graph[0], graph[1], *graph[2])} | set(ENTITY_TABLES)


@pytest.fixture(scope="module")
def four():
    spec = copy.deepcopy(FOUR_CITIES)
    spec["population"]["people"] = 30_000
    spec["scoring"]["coming_of_age"] = True
    spec["run"]["trajectories"] = 40
    sc = scorelab.load(spec)
    pop, contacts = scorelab.build_population(sc)
    return sc, pop, contacts, compile_plan(sc, pop, contacts)


def _parts(sc, pop, contacts, whole, built_by_cities: bool):
    """Each part's (population, contacts, PlanPart) with the facts agreed among the parts."""
    n = min(int(sc.run.trajectories), pop.n)
    everyone = PlanPart.of_population(pop, range(len(pop.city_names)), np.zeros(0))
    if built_by_cities:
        built = contacts_by_parts(sc.population, sc.contacts, sc.run.seed, PARTS, only=list(contacts.names))
        parts = [(b.build.population, b.contacts, PlanPart.of_build(b.build, np.zeros(0))) for b in built]
    else:
        parts = [(pop, contacts, replace(everyone, regions=np.array(r))) for r in PARTS]
    sample = trajectory_merge([trajectory_candidates(sc.run.seed, n, p.people()) for _, _, p in parts], n)
    assert np.array_equal(sample, whole.params.tr_ids)  # (the n smallest uniforms of everyone)
    facts = PlanFacts.combine([plan_facts(sc, p, c, part) for p, c, part in parts])
    of_everyone = plan_facts(sc, pop, contacts, everyone)
    assert facts.most_in_household == of_everyone.most_in_household
    assert facts.present.keys() == of_everyone.present.keys()
    assert all(np.array_equal(facts.present[k], of_everyone.present[k]) for k in facts.present)
    return [(p, c, replace(part, trajectories=sample, facts=facts)) for p, c, part in parts]


def _owned(P: Params, part: PlanPart) -> np.ndarray:
    own = np.zeros(P.n_people + P.n_firms, dtype=bool)
    for lo, hi in part.people():
        own[lo:hi] = True
    for lo, hi in part.firms():
        own[P.n_people + lo : P.n_people + hi] = True
    return own


def _same_rows(W_ptr, W_idx, P_ptr, P_idx, part: PlanPart, extra=()) -> None:
    for lo, hi in part.people():
        w = W_idx[W_ptr[lo] : W_ptr[hi]]
        p = P_idx[P_ptr[lo] : P_ptr[hi]]
        np.testing.assert_array_equal(w, p)
        np.testing.assert_array_equal(np.diff(W_ptr[lo : hi + 1]), np.diff(P_ptr[lo : hi + 1]))
        for a, b in extra:
            np.testing.assert_array_equal(a[W_ptr[lo] : W_ptr[hi]], b[P_ptr[lo] : P_ptr[hi]])
    assert P_idx.shape[0] == sum(int(P_ptr[hi] - P_ptr[lo]) for lo, hi in part.people())  # (its rows alone)


@pytest.mark.parametrize("built_by_cities", [False, True], ids=["whole-population", "built-by-cities"])
def test_a_part_plan_holds_the_whole_plans_entries_of_its_entities(four, built_by_cities):
    sc, pop, contacts, whole = four
    W = whole.params
    assert W.soc_w > 0 and W.as_on and W.coa_on and W.tr_ids.size == 40 and W.t_cls_row.max() >= 0
    for p, c, part in _parts(sc, pop, contacts, whole, built_by_cities):
        P = compile_plan(sc, p, c, part).params
        own = _owned(W, part)
        cut = {"E": own, "N": own[: W.n_people], "F": own[W.n_people :]}
        for name, axis in ENTITY_TABLES.items():
            a, b = getattr(W, name), getattr(P, name)
            assert a.shape == b.shape and a.dtype == b.dtype, name
            if a.size:
                np.testing.assert_array_equal(b[cut[axis]], a[cut[axis]], err_msg=name)
                assert not b[~cut[axis]].any(), f"{name}: entries outside the part"
        for row in range(W.cls.shape[0]):
            codes = class_codes(P, row)
            np.testing.assert_array_equal(codes[own], class_codes(W, row)[own])
            assert not codes[~own].any()
        for ptr, idx, extra in GRAPHS:
            _same_rows(getattr(W, ptr), getattr(W, idx), getattr(P, ptr), getattr(P, idx), part,
                       [(getattr(W, x), getattr(P, x)) for x in extra])
        for g, (w_ptr, p_ptr) in enumerate(zip(W.mis_ptr, P.mis_ptr)):
            if w_ptr.shape[0] > 1:
                _same_rows(w_ptr, W.mis_idx[g], p_ptr, P.mis_idx[g], part)
        for r in part.regions:
            for name in ("coa_ent", "coa_step"):
                np.testing.assert_array_equal(getattr(W, name)[W.coa_ptr[r] : W.coa_ptr[r + 1]],
                                              getattr(P, name)[P.coa_ptr[r] : P.coa_ptr[r + 1]])
            households = slice(W.reg_h0[r], W.reg_h0[r + 1] + 1)
            np.testing.assert_array_equal(W.hh_start[households], P.hh_start[households])
        for name in set(Params._fields) - APART:  # (the rest: sizes, rates, names as indices, regions' ranges)
            a, b = getattr(W, name), getattr(P, name)
            assert np.array_equal(a, b, equal_nan=np.asarray(a).dtype.kind == "f"), name


@pytest.mark.skipif(not _pagemap_tells(), reason="this system's /proc/self/pagemap does not tell a process's own pages")
def test_a_part_plans_tables_hold_memory_for_its_entities_only(four, monkeypatch):
    """Each per-entity table of a part holds its entities' bytes, plus at most a page at each
    end of each range: the others are never written."""
    monkeypatch.setattr(lazy_pages, "_LAZY_BYTES", 0)  # (every array its own mapping)
    sc, pop, contacts, whole = four
    W = whole.params
    for p, c, part in _parts(sc, pop, contacts, whole, built_by_cities=True):
        P = compile_plan(sc, p, c, part).params
        own = _owned(W, part)
        ranges = len(part.people()) + len(part.firms())
        own_people = int(own[: W.n_people].sum())
        for name, entities, per_entity in (("ent_city", own.sum(), 2), ("ent_group", own.sum(), 2),
                                           ("ent_scored", own.sum(), 1), ("as_ptr", own_people, 8),
                                           ("cls", own.sum(), 0.5 if P.cls_shift else 1)):
            arr = getattr(P, name)
            rows = arr.shape[0] if arr.ndim == 2 else 1
            assert resident(arr) <= (int(entities * per_entity) + 2 * PAGE * ranges) * rows, name


def test_what_a_part_cannot_plan_yet_is_refused_in_one_line():
    """An index scheme's income term ranks everyone's incomes: a part of several cities'
    population cannot plan it (a part holding every city can)."""
    sc = scorelab.load("zhima-index", {"population.people": 3000, "population.regions": [
        {"province": "Zhejiang", "city": "Hangzhou", "share": 0.6, "urban_share": 0.7},
        {"province": "Zhejiang", "city": "Ningbo", "share": 0.4, "urban_share": 0.6}]})
    pop, contacts = scorelab.build_population(sc)
    whole = compile_plan(sc, pop, contacts)
    everyone = PlanPart.of_population(pop, [0, 1], whole.params.tr_ids)
    everyone = replace(everyone, facts=plan_facts(sc, pop, contacts, everyone))
    assert np.array_equal(compile_plan(sc, pop, contacts, everyone).params.income_pct, whole.params.income_pct)
    with pytest.raises(ScenarioError) as err:
        compile_plan(sc, pop, contacts, replace(everyone, regions=np.array([1])))
    message = str(err.value)
    assert "\n" not in message.strip() and "income term" in message and "scoring.dimensions" in message
