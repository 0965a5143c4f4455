"""Sanctions for another's rating (issue 20): `through: parents` judges a child (a person under the
scoring age) by the first two scored adults of its household, `through: employer` an employee by
the firm they work for; fines on people take exactly their amount.

Statistical checks use 4 standard deviations of the estimator (a false alarm about once in
16,000 checks); every run has a fixed seed, so the suite is deterministic."""

from __future__ import annotations

import math

import numpy as np
import pytest

import scorelab
from scorelab import linked_harms as LH
from scorelab import vocabulary as V
from scorelab.engine.sharded import simulate_sharded
from scorelab.engine.simulation import simulate
from scorelab.errors import ScenarioError
from scorelab.tables import RunTables
from test_engine_theory import YEAR, scenario, within
from test_sharded import assert_same

PEOPLE = 20000
DAYS = 365
FOUR_CITIES = [{"province": "P", "city": "A", "share": 0.3}, {"province": "P", "city": "B", "share": 0.2},
               {"province": "Q", "city": "C", "share": 0.3}, {"province": "Q", "city": "D", "share": 0.2}]


def _family(through: str = "parents", seed: int = 3, regions: list | None = None) -> scorelab.Scenario:
    """Groups by household; the minority's adults start in grade D (500), the majority's in A
    (1000); nothing moves a score. Children apply to schools twice a year; a school refuses a
    child whose parent (through parents; or the child itself, through self) is in grade D. A
    fine of 1000 each 30 days for grade D (people)."""
    cons = {"school": {"kind": "refusal", "service": "school_admission", "grades": ["D"], "attempts": "2 per year",
                       "through": through},
            "low_fine": {"kind": "fine", "grades": ["D"], "amount": 1000, "every": "30 days"}}
    return scenario(
        PEOPLE, DAYS, seed, regions=regions,
        population={"people": PEOPLE, "group_by_household": True, "groups": {"majority": 0.7, "minority": 0.3},
                    **({"regions": regions} if regions else {})},
        scoring={"start": {"by_group": {"minority": {"values": [500], "shares": [1.0]},
                                        "majority": {"values": [1000], "shares": [1.0]}}}},
        grades=[{"name": "A", "from": 960}, {"name": "D", "below": 960}],
        consequences=cons,
    )


def _employer(seed: int = 4, regions: list | None = None) -> scorelab.Scenario:
    """Firms violate tax rules at 0.5 a year, every violation recorded; one record puts a firm
    on the firm blacklist for longer than the run. Staff of a blacklisted firm are laid off (every
    30 days, 0.2); every firm starts in grade A, and its staff's wages are cut by 1 % every 30
    days with probability 0.5 (through the employer's grade)."""
    return scenario(
        PEOPLE, DAYS, seed, regions=regions,
        behaviours={"tax_violation": {"actor": "firm", "rate": "0.5 per year"}},
        channels={"tax": {"observes": ["tax_violation"], "detection": 1.0}},
        scoring={"rules": [{"behaviour": "tax_violation", "points": 0}]},
        grades=[{"name": "A", "from": 960}, {"name": "D", "below": 960}],
        lists={"firm_blacklist": {"actor": "firm", "entry": {"behaviours": ["tax_violation"]},
                                  "exit": {"after": "100 years"}}},
        consequences={"layoff": {"kind": "dismissal", "through": "employer", "lists": ["firm_blacklist"],
                                 "every": "30 days", "probability": 0.2, "income_change": -0.3},
                      "wage_cut": {"kind": "income", "through": "employer", "grades": ["A"], "every": "30 days",
                                   "probability": 0.5, "income_change": -0.01}},
    )


def _run(sc):
    pop, contacts = scorelab.build_population(sc)
    return sc, pop, contacts, simulate(sc, pop, contacts)


@pytest.fixture(scope="module")
def family():
    return _run(_family())


@pytest.fixture(scope="module")
def employer():
    return _run(_employer())


def _total(out, column: str) -> float:
    return float(np.sum(out.metrics[column]))


def _children(pop) -> np.ndarray:
    return pop.age < 18


def test_only_children_of_graded_parents_are_refused(family):
    """Exact: every refused person is a child (unscored) of a minority household (the only
    households with an adult in grade D); every refusal is a sanction for another's rating;
    adults are never refused (their own grade does not count through parents)."""
    _, pop, _, out = family
    p = out.people
    refused = p["refusals"] > 0
    minority = np.array(pop.group_names)[pop.group] == "minority"
    assert refused.sum() > 500
    assert not np.any(refused & ~(_children(pop) & minority))
    assert p["refusals"].sum() == _total(out, "consequences.school.applied")
    assert p["linked_sanctions"].sum() == p["refusals"].sum()


def test_refusals_match_the_closed_form(family):
    """Attempts come at 2 a year per person; a child of a household whose adults are in grade D
    is refused at each, so refusals are Poisson with mean (such children) x 2 x DAYS / YEAR: 4 sd."""
    _, pop, _, out = family
    minority = np.array(pop.group_names)[pop.group] == "minority"
    expected = float((_children(pop) & minority).sum()) * 2.0 * DAYS / YEAR
    within(_total(out, "consequences.school.applied"), expected, math.sqrt(expected), "children refused")


def test_without_family_linkage_no_child_is_refused_for_a_parent():
    """through: self judges everyone by their own grade, and children are not scored: no child
    is refused (grade-D adults are), nobody is sanctioned for another's rating, and the linked
    figures are absent from the headline."""
    sc, pop, contacts, out = _run(_family(through="self"))
    refusals = out.people["refusals"]
    assert refusals[_children(pop)].sum() == 0 and refusals.sum() > 1000
    assert out.people["linked_sanctions"].sum() == 0
    r = RunTables.from_output(out, sc, pop)
    assert not LH.has_links(r) and V.CHILDREN_REFUSED_FOR_PARENTS not in LH.headline_figures(r)


def test_fines_take_exactly_their_amount(family):
    """Exact: each fine takes 1000 from the person's money, nothing else moves it; the headline's
    fines paid are 1000 x the fines applied; only grade-D adults are fined."""
    sc, pop, _, out = family
    p = out.people
    assert np.array_equal(p["money"], -1000.0 * (p["sanctions"] - p["refusals"]))
    n = _total(out, "consequences.low_fine.applied")
    assert n > 1000
    head = LH.headline_figures(RunTables.from_output(out, sc, pop))
    assert head[V.FINES_ON_PEOPLE_COUNT] == n and head[V.FINES_ON_PEOPLE] == 1000.0 * n
    fined = (p["sanctions"] - p["refusals"]) > 0
    assert not np.any(fined & (p["start_grade"] != 1))


def test_linked_figures_in_the_headline_and_the_manifest(family):
    """The manifest records each consequence's `through`; the headline's figures equal the
    consequence's columns and the per-person counter."""
    sc, pop, _, out = family
    r = RunTables.from_output(out, sc, pop)
    assert r.names["consequences"]["school"]["through"] == "parents"
    head = LH.headline_figures(r)
    assert head[V.CHILDREN_REFUSED_FOR_PARENTS] == _total(out, "consequences.school.applied")
    assert head[V.CHILDREN_SANCTIONED_FOR_PARENTS] == head[V.CHILDREN_REFUSED_FOR_PARENTS]
    assert head[V.PEOPLE_SANCTIONED_FOR_OTHERS] == float((out.people["linked_sanctions"] > 0).sum())
    assert head[V.SANCTIONS_FOR_EMPLOYER] == 0.0
    by_year = LH.linked_by_year(r)
    assert by_year.get_column("applied").sum() == head[V.CHILDREN_REFUSED_FOR_PARENTS]


def test_only_employees_of_listed_firms_are_laid_off(employer):
    """Exact: everyone laid off worked for a firm with a recorded violation (on the list from it,
    never off it in the run), is unemployed at the end, and was laid off once; nobody without an
    employer is harmed."""
    sc, pop, _, out = employer
    p = out.people
    N = pop.n
    subj = out.records["subj"]
    listed = np.zeros(pop.firms.n, dtype=bool)
    listed[subj[subj >= N] - N] = True
    laid_off = _total(out, "consequences.layoff.applied")
    assert laid_off > 100
    was_laid_off = (pop.employer >= 0) & ~p["employed"]
    assert was_laid_off.sum() == laid_off
    assert np.all(listed[pop.employer[was_laid_off]])
    assert p["sanctions"][pop.employer < 0].sum() == 0


def test_wage_cuts_match_the_closed_form(employer):
    """Every firm stays in grade A: an employee gets a wage cut at 1 / 30 days x 0.5 while employed.
    Those never laid off are employed all run, so their cuts are Poisson with mean (such employees)
    x DAYS / 30 x 0.5: 4 sd. Every wage cut and layoff is a sanction for another's rating."""
    _, pop, _, out = employer
    p = out.people
    stayed = (pop.employer >= 0) & p["employed"]
    cuts = p["sanctions"][stayed].sum()  # (only wage cuts: they were never laid off)
    expected = float(stayed.sum()) * DAYS / 30.0 * 0.5
    within(float(cuts), expected, math.sqrt(expected), "wage cuts")
    assert np.array_equal(p["linked_sanctions"], p["sanctions"])
    cut = stayed & (p["sanctions"] > 0)
    assert np.all(p["income"][cut] < p["income_twin"][cut])


def test_runs_are_deterministic(employer):
    a = employer[3]
    b = _run(_employer())[3]
    for k, v in a.metrics.items():
        assert np.array_equal(v, b.metrics[k], equal_nan=True), k
    assert np.array_equal(a.people["linked_sanctions"], b.people["linked_sanctions"])


@pytest.mark.parametrize("make", [_family, _employer])
def test_any_number_of_shards_gives_the_single_process_run(make):
    """Over four cities (a parent and an employer live in the child's or employee's city), 3
    in-process shards give the single-process run byte for byte."""
    sc = make(regions=FOUR_CITIES)
    pop, contacts = scorelab.build_population(sc)
    assert_same(simulate(sc, pop, contacts), simulate_sharded(sc, pop, contacts, 3, backend="local"))


@pytest.mark.parametrize("change, message", [
    ({"consequences": {"x": {"kind": "fine", "actor": "firm", "lists": ["firms"], "amount": 1, "through": "employer"}}},
     "consequences.x.through: through: employer judges a person by their employer: the consequence needs actor 'person'"),
    ({"consequences": {"x": {"kind": "fine", "lists": ["people"], "amount": 1, "through": "employer"}}},
     "consequences.x.lists.0: list 'people' holds people; through: employer reads lists of firms"),
    ({"consequences": {"x": {"kind": "fine", "lists": ["firms"], "amount": 1, "through": "parents"}}},
     "consequences.x.lists.0: list 'firms' holds firms; through: parents reads lists of people"),
    ({"population": {"people": 100, "household_sizes": [1.0]},
      "consequences": {"x": {"kind": "fine", "grades": ["D"], "amount": 1, "through": "parents"}}},
     "consequences.x.through: through: parents needs households of two or more people"),
    ({"consequences": {"x": {"kind": "promotion", "rates": {"A": 0.1}, "income_change": 0.1, "through": "employer"}}},
     "consequences.x.through: a promotion is judged on the employee's own grade"),
    ({"consequences": {"x": {"kind": "fine", "grades": ["D"], "amount": 1, "through": "cousins"}}},
     "consequences.x.through"),
])
def test_linkage_mistakes_are_one_line_errors(change, message):
    data = {"population": {"people": 100}, "grades": [{"name": "A", "from": 960}, {"name": "D", "below": 960}],
            "lists": {"people": {"entry": {"grades": ["D"]}}, "firms": {"actor": "firm", "entry": {"grades": ["D"]}}},
            **change}
    with pytest.raises(ScenarioError, match=message.replace(".", r"\.").replace("(", r"\(").replace(")", r"\)")) as info:
        scorelab.load(data)
    assert "\n" not in str(info.value).strip()


def test_a_saved_run_keeps_the_linked_figures(family, tmp_path):
    """Parquet and manifest: groups.parquet holds linked_sanctions and linked_sanctioned_people
    (what `scorelab query` reads), the manifest each consequence's `through`, and the folder
    read back gives the same linked figures and tables."""
    import polars as pl

    sc, pop, _, out = family
    r = RunTables.from_output(out, sc, pop)
    path = r.save(tmp_path / "run")
    back = RunTables.open(path)
    groups = pl.read_parquet(path / "groups.parquet")
    assert groups.get_column("linked_sanctions").sum() == out.people["linked_sanctions"].sum()
    assert groups.get_column("linked_sanctioned_people").sum() == (out.people["linked_sanctions"] > 0).sum()
    assert back.names["consequences"]["school"]["through"] == "parents"
    assert LH.headline_figures(back) == LH.headline_figures(r)
    assert LH.linked_harms(back).equals(LH.linked_harms(r))
