"""Safeguards undo what a removed record caused (issue 17): listings entered because of it are
lifted, flags it raised are withdrawn or their investigations overturned, grades recomputed;
history stays, the future follows the corrected state.

Each case is built so that the timing is exact: a record made visible at step v and removed on
appeal after d days is removed in step v + d (before that step's behaviours and consequences),
so a listing that rests on it stands for exactly the d steps v .. v + d - 1. Statistical checks
use 4 standard deviations."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import scorelab
from scorelab.engine.simulation import simulate
from test_engine_theory import YEAR, scenario, within

D = 10  # appeal delay (days = steps)
PEOPLE = 20000
DAYS = 200
REFUSALS_PER_YEAR = 12.0


def _case(*, mis: float = 0.5, appeals: dict | None = None, expiry: str | None = None, grade_path: bool = False,
          seed: int = 3) -> scorelab.Scenario:
    """Debt defaults seen by a court channel that puts a share ``mis`` of its records on a random
    other person. A default lists the person on the court blacklist (by the record itself, or,
    with ``grade_path``, by dropping the score into grade D, the blacklist's entry grade); the
    listing lasts far longer than the run, and a listed person is refused flights 12 times a
    year."""
    entry = {"grades": ["D"]} if grade_path else {"behaviours": ["default"]}
    safeguards: dict = {"appeals": appeals or {}}
    if expiry is not None:
        safeguards["expiry"] = expiry
    return scenario(
        PEOPLE, DAYS, seed,
        behaviours={"default": {"rate": "0.1 per year"}},
        channels={"court": {"observes": ["default"], "misattribution": {"probability": mis}}},
        scoring={"rules": [{"behaviour": "default", "points": -100}]},
        grades=[{"name": "A", "from": 960}, {"name": "D", "below": 960}],
        lists={"blacklist": {"entry": entry, "exit": {"after": "3 years"}}},
        consequences={"flight_ban": {"kind": "refusal", "service": "flights", "lists": ["blacklist"],
                                     "attempts": f"{REFUSALS_PER_YEAR} per year"}},
        safeguards=safeguards,
    )


def _run(sc):
    pop, contacts = scorelab.build_population(sc)
    return simulate(sc, pop, contacts)


def _window_sum(x: np.ndarray, d: int) -> np.ndarray:
    """x[t - d + 1] + ... + x[t] for each t."""
    c = np.concatenate([[0.0], np.cumsum(x)])
    t = np.arange(len(x))
    return c[t + 1] - c[np.maximum(t + 1 - d, 0)]


def _recently_wronged(out) -> np.ndarray:
    """For each step t, the people with an erroneous record made visible in steps t - D + 1 .. t:
    with every erroneous record removed D steps after, they are the only ones anything wrongful
    can still rest on."""
    rec = out.records
    err = rec["err"] != 0
    return np.array([np.unique(rec["subj"][err & (rec["vis"] > t - D) & (rec["vis"] <= t)]).size
                     for t in range(DAYS)])


ALL_APPEALED = {"contested": 1.0, "success": 1.0, "delay": f"{D} days"}


@pytest.fixture(scope="module")
def appealed():
    return _run(_case(appeals=ALL_APPEALED))


@pytest.fixture(scope="module")
def unappealed():
    return _run(_case())


@pytest.mark.parametrize("grade_path", [False, True], ids=["listed-by-records", "listed-by-grade"])
def test_no_wrongful_listing_stands_longer_than_the_appeal_delay(grade_path, appealed):
    """With every erroneous record removed d days after it became visible, a wrongful listing
    stands at most d steps after its subject's last erroneous record: at the end of step t the
    wrongful stock is at most the number of people with an erroneous record made visible in
    steps t - d + 1 .. t. Nearly always it is the wrongful entries of those steps exactly (the
    exceptions: a second erroneous record on the same person within d days, and a person who
    then defaults too, whose listing then stands on a true record and is wrongful no more)."""
    out = appealed if not grade_path else _run(_case(appeals=ALL_APPEALED, grade_path=True))
    m = out.metrics
    entries, stock = m["lists.blacklist.wrongful_entries"], m["lists.blacklist.wrongful_stock"]
    assert entries.sum() > 100
    bound = _recently_wronged(out)
    assert np.all(stock <= bound), np.flatnonzero(stock > bound)[:5]
    recent = _window_sum(entries, D)
    assert np.mean(stock == recent) > 0.9
    lifted = m["lists.blacklist.wrongful_overturned"].sum()
    assert lifted == pytest.approx(entries[: DAYS - D].sum(), abs=5)
    assert m["lists.blacklist.wrongful_days_overturned"].sum() == pytest.approx(D * lifted, rel=0.02)
    # the listings that the true records made stand for the whole run
    assert m["lists.blacklist.overturned"].sum() == lifted


def test_wrongful_refusals_follow_the_appeal_delay_closed_form(appealed, unappealed):
    """Each wrongful listing stands exactly D steps, and a listed person is refused at 12 a year,
    so wrongful refusals are Poisson with mean (wrongful listings) x 12 / 365.25 x D (for the
    listings entered early enough to have stood all D steps; those of the last D steps add a
    part). Without appeals they stand to the end of the run: many more."""
    m = appealed.metrics
    entries = m["lists.blacklist.wrongful_entries"]
    t = np.arange(DAYS)
    steps_stood = np.minimum(D, DAYS - t)
    rate = REFUSALS_PER_YEAR / YEAR
    expected = float((entries * steps_stood).sum()) * rate
    observed = m["consequences.flight_ban.wrongful"].sum()
    within(observed, expected, np.sqrt(expected), "wrongful refusals with appeals")
    # the sanctions the lifted listings had driven are those counted when each was lifted
    assert m["lists.blacklist.wrongful_sanctions_overturned"].sum() <= observed
    assert m["lists.blacklist.wrongful_sanctions_overturned"].sum() >= 0.8 * observed
    u = unappealed.metrics
    expected_off = float((u["lists.blacklist.wrongful_entries"] * (DAYS - t)).sum()) * rate
    within(u["consequences.flight_ban.wrongful"].sum(), expected_off, np.sqrt(expected_off),
           "wrongful refusals without appeals")
    assert u["lists.blacklist.overturned"].sum() == 0


def test_with_expiry_nobody_stays_listed_on_records_older_than_it():
    """Expiry E deletes every record E days after it became visible; a listing resting on records
    must then be lifted. At the end exactly the people with a default record visible within the
    last E days are listed (true records only here: nothing wrongful)."""
    E = 30
    sc = _case(mis=0.0, expiry=f"{E} days")
    out = _run(sc)
    rec = out.records
    active = rec["state"] == 1
    assert np.all(rec["vis"][active] >= DAYS - E)  # (the expiry itself)
    listed = np.flatnonzero(out.people["listed.blacklist"])
    recent = np.unique(rec["subj"][active])
    assert listed.size > 20
    assert np.array_equal(listed, recent)
    m = out.metrics
    assert m["lists.blacklist.overturned"].sum() == m["lists.blacklist.entries"].sum() - listed.size


def test_without_errors_appeals_change_nothing_in_the_factual_world():
    """Appeals (of records and of listings) act on erroneous records and wrongful listings only:
    with no errors the run is byte-identical with them on and off."""
    on = _run(_case(mis=0.0, appeals={**ALL_APPEALED, "listings": {"contested": 1.0, "success": 1.0}}))
    off = _run(_case(mis=0.0))
    assert on.metrics.keys() == off.metrics.keys()
    for k in on.metrics:
        assert np.array_equal(on.metrics[k], off.metrics[k]), k
    for k in on.people:
        assert np.array_equal(on.people[k], off.people[k], equal_nan=True), k


def test_the_twin_is_untouched_by_corrections(appealed, unappealed):
    for k in appealed.metrics:
        if k.startswith("events_twin."):
            assert np.array_equal(appealed.metrics[k], unappealed.metrics[k]), k
    assert np.array_equal(appealed.people["income_twin"], unappealed.people["income_twin"])


def test_an_appeal_of_the_listing_itself_lifts_it_after_its_delay():
    """No appeals of records; every wrongful listing is appealed and lifted 30 days after it was
    made, and only wrongful ones: the wrongful stock is the wrongful entries of the last 30 steps
    exactly."""
    L = 30
    out = _run(_case(appeals={"listings": {"contested": 1.0, "success": 1.0, "delay": f"{L} days"}}))
    m = out.metrics
    entries = m["lists.blacklist.wrongful_entries"]
    assert np.array_equal(m["lists.blacklist.wrongful_stock"], _window_sum(entries, L))
    assert m["lists.blacklist.appealed"].sum() == entries[: DAYS - L].sum()
    assert m["lists.blacklist.appealed"].sum() == m["lists.blacklist.overturned"].sum()
    assert m["records_removed.appeal"].sum() == 0


def test_a_share_of_listing_appeals_succeeds_at_its_rate():
    """contested x success = 0.3 of wrongful listings are lifted (binomial, 4 sigma)."""
    out = _run(_case(appeals={"listings": {"contested": 0.5, "success": 0.6, "delay": "5 days"}}))
    m = out.metrics
    n = m["lists.blacklist.wrongful_entries"][: DAYS - 5].sum()
    within(m["lists.blacklist.appealed"].sum(), 0.3 * n, np.sqrt(n * 0.3 * 0.7), "listing appeals upheld")


def _flag_case(capacity: str, *, appeals: dict | None = None, add_to_list: bool = False):
    """Protests all seen, every record on a random other person (so every flag is false), a
    flag on one protest record, once per person (the cooldown outlasts the run, so each flag and
    investigation rests on one record); investigations cost 20 points and (``add_to_list``)
    list the person."""
    flag = {"rule": {"behaviours": ["protest"], "min_records": 1, "within": "30 days"}, "capacity": capacity,
            "investigation_points": -20, "cooldown": "1000 days"}
    lists = {}
    if add_to_list:
        flag["add_to_list"] = "suspects"
        lists = {"suspects": {"entry": {"behaviours": []}, "exit": {"after": "3 years"}}}
    return scenario(
        PEOPLE, DAYS, 5,
        behaviours={"protest": {"kind": "disfavoured", "rate": "0.05 per year"}},
        channels={"social": {"observes": ["protest"], "misattribution": {"probability": 1.0}}},
        lists=lists,
        flags={"suspicious": flag},
        safeguards={"appeals": appeals or {}},
    )


def test_a_waiting_flag_is_withdrawn_when_its_record_is_removed():
    """Investigations are too few to matter (0.01 a day) and every record is erroneous and
    appealed after D days: a flag leaves the queue D steps after the last record it rests on, so
    the backlog is at most the people with an erroneous record of the last D steps, and nearly
    always the flags raised in the last D steps (less the few investigated; the exception is a
    second erroneous record on the same person within the flag's window, which keeps it up)."""
    out = _run(_flag_case("0.01 per day", appeals=ALL_APPEALED))
    m = out.metrics
    raised, backlog = m["flags.suspicious.raised"], m["flags.suspicious.backlog"]
    assert raised.sum() > 100
    recent = _window_sum(raised, D)
    investigated = m["flags.suspicious.investigated"].sum()
    assert np.all(backlog <= _recently_wronged(out))
    assert np.all(backlog >= recent - investigated)
    assert np.mean(backlog <= recent) > 0.9
    assert m["flags.suspicious.withdrawn"].sum() >= raised[: DAYS - D].sum() - investigated
    off = _run(_flag_case("0.01 per day")).metrics
    assert off["flags.suspicious.backlog"][-1] > 5 * backlog[-1]


def test_an_investigation_on_a_removed_record_is_overturned():
    """Every flag is investigated the day it is raised, costs 20 points and lists the person;
    when the (erroneous) record under it is removed the investigation is overturned: the points
    come back and the listing is lifted, D steps after the record."""
    out = _run(_flag_case("1000 per day", appeals=ALL_APPEALED, add_to_list=True))
    m = out.metrics
    inv = m["flags.suspicious.investigated"]
    assert inv.sum() > 100
    assert m["flags.suspicious.investigations_overturned"].sum() == pytest.approx(inv[: DAYS - D].sum(), abs=3)
    stock = m["lists.suspects.wrongful_stock"]
    assert np.all(stock <= _recently_wronged(out))
    assert np.mean(stock == _window_sum(m["lists.suspects.wrongful_entries"], D)) > 0.9
    # everyone investigated more than D days before the end has their points back
    people = out.people
    scored = people["grade"] != 255
    assert np.all(people["score"][scored & (people["investigations"] == 0)] == 1000.0)
    back = out.records["vis"][out.records["state"] == 2]  # removed on appeal
    assert back.size > 0
    assert (people["score"][scored] < 1000.0).sum() <= _recently_wronged(out)[-1]


def test_the_rich_case_corrects_across_regions_in_every_way():
    """The invariants' rich case (every mechanism, two cities) with listing appeals: records
    removed on appeal and by retention lift listings, withdraw flags and overturn
    investigations; the stock-flow identity of each list holds."""
    from test_engine_invariants import RICH

    data = copy.deepcopy(RICH)
    data["safeguards"]["appeals"]["listings"] = {"contested": 0.5, "success": 1.0, "delay": "15 days"}
    out = _run(scorelab.load(data))
    m = out.metrics
    assert out.total("lists.", ".overturned") > 10
    assert out.total("lists.", ".appealed") > 0
    for name in ("black", "court", "serious", "watch", "firm_black"):
        stock = m[f"lists.{name}.stock"]
        flow = np.cumsum(m[f"lists.{name}.entries"] - m[f"lists.{name}.exits"])
        assert np.array_equal(stock, flow), name
        assert np.all(m[f"lists.{name}.wrongful_stock"] <= stock), name
        assert np.all(m[f"lists.{name}.wrongful_stock"] >= 0), name
