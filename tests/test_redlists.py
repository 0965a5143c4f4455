"""Red lists and promotion (issue 20): a red list enters on civic records (or high grades) with
the machinery blacklists use, its rewards go to its members only and count as no sanction; a
promotion is an employee's income gain at a rate by grade, for public, private or any employers.

Statistical checks use 4 standard deviations of the estimator (a false alarm about once in
16,000 checks); every run has a fixed seed, so the suite is deterministic."""

from __future__ import annotations

import math

import numpy as np
import pytest

import scorelab
from scorelab.errors import ScenarioError
from scorelab.engine.simulation import simulate
from test_engine_theory import YEAR, scenario, within

PEOPLE = 20000
DAYS = 365
LAM = 1.0     # civic acts per person-year
DET = 0.5     # the channel's detection
MIS = 0.2     # share of its records put on a random other person


def _case(*, red: bool = True, seed: int = 5) -> scorelab.Scenario:
    """Volunteering (civic) seen by civil affairs, which puts a share MIS of its records on a
    random other person; defaults list people on a blacklist (which refuses flights). With
    ``red``, one record of volunteering puts a person on a red list for longer than the run,
    whose members are served first (priority, 6 attempts a year) and get a bonus every 30 days;
    listing appeals are on for every wrongful listing (a red listing must not be appealed)."""
    lists = {"blacklist": {"entry": {"behaviours": ["default"]}, "exit": {"after": "3 years"}}}
    consequences = {"flight_ban": {"kind": "refusal", "service": "flights", "lists": ["blacklist"],
                                   "attempts": "12 per year"}}
    if red:  # (appended after the others: their draws stay the same)
        lists["trustworthy"] = {"kind": "red", "entry": {"behaviours": ["volunteering"], "min_records": 1},
                                "exit": {"after": "100 years"}}
        consequences["fast_track"] = {"kind": "priority", "service": "public_services", "lists": ["trustworthy"],
                                      "attempts": "6 per year"}
        consequences["red_bonus"] = {"kind": "bonus", "lists": ["trustworthy"], "amount": 100, "every": "30 days"}
    return scenario(
        PEOPLE, DAYS, seed,
        behaviours={"volunteering": {"kind": "civic", "rate": f"{LAM} per year", "deterrability": 0.0},
                    "default": {"rate": "0.1 per year"}},
        channels={"civil_affairs": {"observes": ["volunteering"], "detection": DET,
                                    "misattribution": {"probability": MIS}},
                  "court": {"observes": ["default"], "misattribution": {"probability": 0.3}}},
        scoring={"rules": [{"behaviour": "volunteering", "points": 5}, {"behaviour": "default", "points": -100}]},
        grades=[{"name": "A", "from": 960}, {"name": "D", "below": 960}],
        lists=lists, consequences=consequences,
        safeguards={"appeals": {"listings": {"contested": 1.0, "success": 1.0, "delay": "10 days"}}},
    )


def _run(sc):
    pop, contacts = scorelab.build_population(sc)
    return pop, simulate(sc, pop, contacts)


@pytest.fixture(scope="module")
def red():
    return _run(_case())


@pytest.fixture(scope="module")
def plain():
    return _run(_case(red=False))


def _total(out, column: str) -> float:
    return float(np.sum(out.metrics[column]))


def test_red_list_rewards_go_only_to_listed_people_and_are_no_sanction(red):
    """Exact: with no exit in the run, everyone rewarded is on the red list at the end; every
    reward applied is a person's reward; some rewards went to people listed on a false civic
    record (wrongful) and none of them is a wrongful sanction; no red listing is appealed or
    lifted though every wrongful listing is contested."""
    _, out = red
    p = out.people
    rewarded = p["rewards"] > 0
    assert rewarded.sum() > 1000
    assert not np.any(rewarded & ~p["listed.trustworthy"])
    applied = _total(out, "consequences.fast_track.applied") + _total(out, "consequences.red_bonus.applied")
    assert applied == p["rewards"].sum()
    wrongful = _total(out, "consequences.fast_track.wrongful") + _total(out, "consequences.red_bonus.wrongful")
    assert wrongful > 0 and _total(out, "lists.trustworthy.wrongful_entries") > 0
    assert p["sanctions"].sum() == _total(out, "consequences.flight_ban.applied")
    assert p["wrongful_sanctions"].sum() == _total(out, "consequences.flight_ban.wrongful")
    for x in ("appealed", "overturned", "exits"):
        assert _total(out, f"lists.trustworthy.{x}") == 0, x
    assert _total(out, "lists.blacklist.appealed") > 0  # (blacklist appeals still happen)


def test_entry_by_civic_records_matches_the_closed_form(red):
    """A person is listed on the first record of volunteering about them: records about a person
    come at LAM x DET a year (their own acts detected, kept with 1 - MIS, plus others' acts put
    on them at LAM x DET x MIS x N / (N - 1)), so the share listed within T days is
    1 - exp(-LAM x DET x T / YEAR); binomial sd sqrt(p (1 - p) / N), 4 sd."""
    _, out = red
    share = float(np.mean(out.people["listed.trustworthy"]))
    rate = LAM * DET * (1.0 - MIS + MIS * PEOPLE / (PEOPLE - 1))
    p = 1.0 - math.exp(-rate * DAYS / YEAR)
    within(share, p, math.sqrt(p * (1 - p) / PEOPLE), "share red-listed within the run")
    # and its wrongful share: the first record about a person is a false one with probability MIS
    wrongful = _total(out, "lists.trustworthy.wrongful_entries") / out.people["listed.trustworthy"].sum()
    n = out.people["listed.trustworthy"].sum()
    within(wrongful, MIS, math.sqrt(MIS * (1 - MIS) / n), "wrongful share of red listings")


def test_without_red_lists_nothing_else_changes(red, plain):
    """Byte for byte: adding a red list and its rewards changes no metric column of the rest of
    the system (records, grades, the blacklist, its refusals, flags) and no person's sanctions,
    refusals or wrongful sanctions; only the red list's and its consequences' columns, and money."""
    _, a = red
    _, b = plain
    for col, v in b.metrics.items():
        if col.startswith("regions.") and col.split(".")[-1].startswith(("rewards", "listings")):
            continue  # (a region's rewards and listings count the red list's: they are what the list adds)
        if col.startswith("trajectories.") and col.split(".")[-1] in ("lists", "income", "income_twin"):
            continue  # (a sampled person's lists and income include the red list and its rewards)
        assert np.array_equal(a.metrics[col], v, equal_nan=True), col  # (unscored: NaN)
    for k in ("sanctions", "refusals", "wrongful_sanctions", "score", "grade", "income"):
        assert np.array_equal(a.people[k], b.people[k]), k


def _promotion_case(employer: str = "any", seed: int = 7) -> scorelab.Scenario:
    """Half the adults start in grade A (1100), half in B (1000); nothing moves scores. Employees
    are promoted every 30 days at 0.3 (A) and 0.1 (B), a 5 % income gain."""
    return scenario(
        PEOPLE, DAYS, seed,
        scoring={"start": {"default": {"values": [1100, 1000], "shares": [0.5, 0.5]}}},
        grades=[{"name": "A", "from": 1050}, {"name": "B", "below": 1050}],
        consequences={"promotion": {"kind": "promotion", "rates": {"A": 0.3, "B": 0.1}, "every": "30 days",
                                    "income_change": 0.05, "employer": employer}},
    )


@pytest.mark.parametrize("employer", ["any", "public"])
def test_promotions_by_grade_match_their_rates(employer):
    """Applications come at 1 / 30 days per person in a promotion's grades; an employee in grade g
    is promoted with the grade's rate, so the promotions of grade g are Poisson with mean
    (employees in g) x DAYS / 30 x rate(g): 4 sd. With employer 'public' only employees of
    firms of the sector 'public' are promoted (exact), at the same rates. No promotion is a
    sanction; the unemployed are never promoted (exact)."""
    pop, out = _run(_promotion_case(employer))
    p = out.people
    emp = pop.employer >= 0
    if employer == "public":
        public = np.array([s == "public" for s in pop.sector_names])
        emp &= public[pop.firms.sector[np.maximum(pop.employer, 0)]]
    assert not np.any((p["rewards"] > 0) & ~emp)
    assert p["sanctions"].sum() == 0
    for g, code, rate in (("A", 0, 0.3), ("B", 1, 0.1)):
        mine = emp & (p["start_grade"] == code)
        expected = mine.sum() * DAYS / 30.0 * rate
        within(float(p["rewards"][mine].sum()), expected, math.sqrt(expected), f"promotions in grade {g}")
    promoted = p["rewards"] > 0
    assert np.all(p["income"][promoted] > p["income_twin"][promoted])


@pytest.mark.parametrize("change, message", [
    ({"consequences": {"x": {"kind": "refusal", "service": "s", "attempts": "1 per year", "lists": ["good"]}}},
     "consequences.x.lists.0: 'good' is a red list"),
    ({"consequences": {"x": {"kind": "promotion", "grades": ["A"], "income_change": 0.1}}},
     "consequences.x.rates: a promotion needs rates by grade"),
    ({"consequences": {"x": {"kind": "bonus", "grades": ["A"], "employer": "public"}}},
     "consequences.x.employer: an employer needs kind 'promotion'"),
    ({"scoring": {"association": {"lists": ["good"], "points": -10, "layers": {"household": 1.0}}}},
     "scoring.association.lists.0: 'good' is a red list"),
])
def test_red_list_and_promotion_mistakes_are_one_line_errors(change, message):
    """A red list's sanction, a promotion without rates, an employer on another kind and a red
    list counted against contacts are each refused with the field's path."""
    data = {"population": {"people": 100}, "grades": [{"name": "A", "from": 960}, {"name": "D", "below": 960}],
            "lists": {"good": {"kind": "red", "entry": {"grades": ["A"]}}}, **change}
    with pytest.raises(ScenarioError, match=message.replace(".", r"\.")) as info:
        scorelab.load(data)
    assert "\n" not in str(info.value).strip()
