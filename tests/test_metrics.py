"""The metric catalogue against values worked out by hand on a tiny, deterministic scenario.

The tiny scenario: 200 people, 10 days, no contact layers, no responses, everyone scored
(min_age 0); one behaviour ``x`` (wrongdoing, 0.1 per day) seen by one channel ``police``
with coverage 1 and detection 1 (and, in the 'misattributed' variant, misattribution 1);
-5 points per record from base 1000; grades A [1000, inf), B [990, 1000), C below 990;
a fine of 100 on grade C tried about once a day; a blacklist entered at grade C that
nobody leaves within the run; a flag raised by one record (cooldown longer than the run)
investigated 2 per day. Randomness only decides who acts when, so each expected value
is derived from the run's own records: a person's score is 1000 - 5 x their records,
their grade follows from it, and so on.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import scorelab
from scorelab import metrics
from scorelab.engine.simulation import simulate
from scorelab.results import Result

OFF = {"enabled": False, "degree": {"distribution": "poisson", "mean": 1.0}, "same_city": 0.5, "same_group": 0.5}


def tiny(misattribution: float = 0.0, **over) -> dict:
    data = {
        "name": "tiny",
        "population": {"people": 200},
        "contacts": {"household": False, "workplace": {"enabled": False}, "school": {"enabled": False},
                     "friends": dict(OFF), "online": dict(OFF)},
        "behaviours": {"x": {"rate": "0.1 per day"}},
        "channels": {"police": {"observes": ["x"], "coverage": 1, "detection": 1,
                                "misattribution": {"probability": misattribution}}},
        "scoring": {"min_age": 0, "rules": [{"behaviour": "x", "points": -5}]},
        "grades": [{"name": "A", "from": 1000}, {"name": "B", "from": 990, "below": 1000}, {"name": "C", "below": 990}],
        "lists": {"blacklist": {"entry": {"grades": ["C"]}, "exit": {"after": "100 years"}}},
        "consequences": {"fine": {"kind": "fine", "grades": ["C"], "amount": 100, "every": 1}},
        "flags": {"suspicious": {"rule": {"behaviours": ["x"], "min_records": 1, "within": 30},
                                 "capacity": "2 per day", "cooldown": 1000}},
        "responses": {"enabled": False},
        "run": {"days": 10, "seed": 7},
    }
    data.update(over)
    return data


def execute(data: dict):
    sc = scorelab.load(data)
    pop, contacts = scorelab.build_population(sc)
    out = simulate(sc, pop, contacts)
    return sc, pop, out, Result.from_output(out, sc, pop, run_id="tiny-run")


@pytest.fixture(scope="module")
def run():
    return execute(tiny())


@pytest.fixture(scope="module")
def wrong():
    return execute(tiny(misattribution=1.0))


def per_person_records(out, n: int) -> np.ndarray:
    return np.bincount(out.records["subj"], minlength=n)[:n]


def test_scores_are_base_minus_five_points_per_record(run):
    """Each person's end score is 1000 - 5 x (records about them); score_distribution's mean,
    sd, min, max, quantiles (inverse empirical CDF) and Gini equal numpy's on those scores."""
    sc, pop, out, r = run
    k = per_person_records(out, pop.n)
    assert k.sum() > 50  # about 200 records expected
    expected = 1000.0 - 5.0 * k
    np.testing.assert_array_equal(r.people.get_column("score").to_numpy(), expected)
    d = metrics.score_distribution(r).row(0, named=True)
    assert d["scored"] == 200
    assert d["mean"] == pytest.approx(expected.mean())
    assert d["sd"] == pytest.approx(expected.std())
    assert d["min"] == expected.min() and d["max"] == expected.max()
    for q in (0.1, 0.25, 0.5, 0.75, 0.9):
        assert d[f"p{round(q * 100):02d}"] == np.quantile(expected, q, method="inverted_cdf")
    brute = np.abs(expected[:, None] - expected[None, :]).sum() / (2 * expected.size**2 * expected.mean())
    assert d["gini"] == pytest.approx(brute)
    series = metrics.score_series(r)
    assert series.get_column("mean")[-1] == pytest.approx(expected.mean())
    assert series.get_column("sd")[-1] == pytest.approx(expected.std(), abs=1e-6)


def test_grades_shares_and_transitions(run):
    """Everyone starts in A (score 1000); at the end 0 records -> A, 1-2 -> B, 3+ -> C. Grade
    shares and the start -> end transition matrix follow, and the per-step grade counts sum
    to 200 every day."""
    sc, pop, out, r = run
    k = per_person_records(out, pop.n)
    n = {"A": int((k == 0).sum()), "B": int(((k >= 1) & (k <= 2)).sum()), "C": int((k >= 3).sum())}
    assert n["C"] > 0
    g = metrics.grade_shares(r)
    assert g.get_column("start_people").to_list() == [200, 0, 0]
    assert g.get_column("end_people").to_list() == [n["A"], n["B"], n["C"]]
    assert g.get_column("end_share").to_list() == pytest.approx([n[x] / 200 for x in "ABC"])
    t = metrics.grade_transitions(r)
    from_a = t.filter(pl.col("start_grade") == "A")
    assert from_a.get_column("people").to_list() == [n["A"], n["B"], n["C"]]
    assert from_a.get_column("share").to_list() == pytest.approx([n[x] / 200 for x in "ABC"])
    assert t.filter(pl.col("start_grade") != "A").get_column("people").sum() == 0
    assert t.filter(pl.col("start_grade") != "A").get_column("share").null_count() == 6
    over = metrics.grade_shares_over_time(r)
    assert over.group_by("day").agg(pl.col("people").sum()).get_column("people").to_list() == [200] * 10
    assert r.people.get_column("start_grade").to_list() == ["A"] * 200
    assert r.people.get_column("grade").to_list() == ["A" if x == 0 else "B" if x <= 2 else "C" for x in k]


def test_records_by_channel_and_error_status(run, wrong):
    """With detection 1 and coverage 1 every act is a record: true records = events of x; with
    misattribution 1 every record is misattributed and none true. Nothing is removed."""
    sc, pop, out, r = run
    events = int(out.metrics["events.x"].sum())
    rec = metrics.records(r)
    assert rec.get_column("records").to_list() == [events, 0, 0]
    assert rec.get_column("share").to_list() == [1.0, 0.0, 0.0]
    assert len(out.records["subj"]) == events
    assert metrics.records_removed(r).get_column("records").to_list() == [0, 0]
    _, _, out2, r2 = wrong
    events2 = int(out2.metrics["events.x"].sum())
    assert metrics.records(r2).get_column("records").to_list() == [0, events2, 0]


def test_fines_money_and_wrongful_sanctions(run, wrong):
    """The fine applies only in grade C: each application is one sanction of the person fined
    and moves -100. Correct records make no fine wrongful; misattributed records make every
    fine wrongful. Totals agree with the per-person counters."""
    sc, pop, out, r = run
    c = metrics.consequences(r).row(0, named=True)
    applied = int(out.metrics["consequences.fine.applied"].sum())
    assert applied > 0
    assert c["applied"] == applied == r.people.get_column("sanctions").sum()
    assert c["money"] == -100 * applied and c["wrongful"] == 0 and c["association"] == 0
    assert c["kind"] == "fine" and c["sanction"] is True
    fined = r.people.filter(pl.col("sanctions") > 0)
    assert set(fined.get_column("grade").to_list()) == {"C"}  # nobody leaves C in this scenario
    ws = metrics.wrongful_sanctions(r).row(0, named=True)
    assert ws == {"sanctions": applied, "wrongful": 0, "association": 0, "wrongful_share": 0.0,
                  "people_sanctioned": fined.height, "people_wrongfully_sanctioned": 0, "firm_sanctions": 0,
                  "firm_wrongful": 0}
    k = metrics.sanctions_by_kind(r).row(0, named=True)
    assert (k["kind"], k["applied"], k["money"]) == ("fine", applied, -100 * applied)
    e = metrics.economic_losses(r).row(0, named=True)
    assert e["fines"] == 100 * applied and e["money_net_people"] == -100 * applied
    assert e["income_lost"] == 0.0 and e["discounts_and_bonuses"] == 0.0
    assert metrics.service_refusals(r).height == 0
    assert metrics.association(r).get_column("association").to_list() == [0]
    _, _, out2, r2 = wrong
    c2 = metrics.consequences(r2).row(0, named=True)
    assert c2["applied"] > 0 and c2["wrongful"] == c2["applied"] and c2["wrongful_share"] == 1.0


def test_flags_queue_worked_by_hand(run, wrong):
    """A flag is raised on a person's first record (later ones fall in the cooldown), all true;
    two investigations a day, first come first served: backlog_s = backlog_{s-1} + new_s -
    min(2, backlog_{s-1} + new_s). With misattributed records every flag is false."""
    sc, pop, out, r = run
    subj, step = out.records["subj"], out.records["step"]
    first = {}
    for e, s in zip(subj.tolist(), step.tolist()):
        first.setdefault(e, s)
    new = np.bincount(list(first.values()), minlength=10)
    backlog, investigated, q = [], 0, 0
    for s in range(10):
        q += new[s]
        served = min(2, q)
        investigated += served
        q -= served
        backlog.append(q)
    f = metrics.flags(r).row(0, named=True)
    assert f == {"flag": "suspicious", "raised": len(first), "true": len(first), "false": 0, "precision": 1.0,
                 "investigated": investigated, "backlog_end": backlog[-1], "backlog_max": max(backlog),
                 "withdrawn": 0, "investigations_overturned": 0}
    assert r.metrics.get_column("flags.suspicious.backlog").to_list() == backlog
    f2 = metrics.flags(wrong[3]).row(0, named=True)
    assert f2["true"] == 0 and f2["false"] == f2["raised"] > 0 and f2["precision"] == 0.0


def test_blacklist_stock_and_flows(run):
    """The blacklist's entry is grade C and nobody leaves within 100 years: entries = people
    who reached 3 records, stock at day s = people with 3+ records by then, no exits, none
    wrongful."""
    sc, pop, out, r = run
    subj, step = out.records["subj"], out.records["step"]
    by_day = []
    for s in range(10):
        k = np.bincount(subj[step <= s], minlength=pop.n)
        by_day.append(int((k >= 3).sum()))
    li = metrics.lists(r).row(0, named=True)
    assert li == {"list": "blacklist", "actor": "person", "joint": False, "entries": by_day[-1], "exits": 0, "overturned": 0,
                  "wrongful_entries": 0, "stock_first": by_day[0], "stock_end": by_day[-1], "stock_max": by_day[-1],
                  "wrongful_stock_end": 0, "wrongful_days": 0.0}
    flows = metrics.list_flows(r)
    assert flows.get_column("stock").to_list() == by_day
    assert flows.get_column("entries").to_list() == [by_day[0]] + list(np.diff(by_day))
    assert r.people.get_column("listed.blacklist").sum() == by_day[-1]


def test_disparate_impact_by_hand(run):
    """Sanctions per 1,000 by group, province and urban registration, and their ratios to the
    overall rate, equal the same figures computed with numpy from the per-person table; the
    worst-hit group is the ranked one with the highest rate (tests/test_impact.py has the rest)."""
    sc, pop, out, r = run
    people = r.people
    sanctions = people.get_column("sanctions").to_numpy().astype(float)
    overall = sanctions.mean()
    for by in ("group", "province", "urban"):
        keys = people.get_column(by).to_list()
        if by == "urban":
            keys = ["urban" if k else "rural" for k in keys]
        cells = sorted(set(keys))
        rate = {c: sanctions[np.array([x == c for x in keys])].mean() for c in cells}
        d = metrics.impact(r, by, "sanctions").sort("cell")
        assert d.get_column("cell").to_list() == cells
        assert d.get_column("people").to_list() == [keys.count(c) for c in cells]
        assert d.get_column("per_1000").to_list() == pytest.approx([1000 * rate[c] for c in cells])
        assert d.get_column("ratio").to_list() == pytest.approx([rate[c] / overall for c in cells])
        assert metrics.impact(r, by, "wrongful_sanctions").get_column("ratio").null_count() == len(cells)  # 0 -> null
    w = metrics.worst_hit(r)
    ranked = metrics.impact(r, "group", "sanctions").filter(pl.col("ranked"))
    rates = dict(zip(ranked.get_column("cell").to_list(), ranked.get_column("per_1000").to_list()))
    assert w.cell == (max(rates, key=rates.get) if len(rates) >= 2 else None)  # (one ranked group: no comparison)
    with pytest.raises(scorelab.UsageError):
        metrics.impact(r, "shoe_size")


def test_no_chilling_without_responses(run):
    """With responses disabled the factual and twin worlds act alike: suppressed 0 for x."""
    sc, pop, out, r = run
    ch = metrics.chilling(r).row(0, named=True)
    assert ch["events"] == ch["events_twin"] == int(out.metrics["events.x"].sum())
    assert ch["suppressed"] == 0 and ch["suppressed_share"] == 0.0


def test_deterred_wrongdoing_is_not_a_harm_to_the_person():
    """Deterrence of wrongdoing is the system's aim: it is the headline's 'wrongdoing deterred'
    and chilling's row for the behaviour, but no person's acts_suppressed (a harm of the
    disparate-impact table), which counts lawful acts only."""
    data = tiny(responses={"enabled": True, "awareness": {"initial": 1.0}, "deterrence": 3.0},
                behaviours={"x": {"rate": "0.5 per day", "deterrability": 1.0}})
    sc, pop, out, r = execute(data)
    ch = metrics.chilling(r).row(0, named=True)
    assert ch["kind"] == "wrongdoing" and ch["suppressed"] > 0
    assert r.summary()["wrongdoing deterred"] == ch["suppressed"]
    assert r.summary()["lawful acts suppressed"] == 0
    assert r.people.get_column("acts_suppressed").sum() == 0
    assert r.summary()["worst-hit group (lawful acts suppressed)"].startswith("none")


def test_chilling_counts_acts_suppressed_against_the_twin():
    """With responses on (everyone aware from day 0, strong deterrence) a lawful but
    disfavoured act observed by a channel is suppressed: chilling's suppressed = twin -
    factual acts, which equals the sum of people's acts_suppressed, and the headline's
    'lawful acts suppressed' is that number."""
    data = tiny(behaviours={"post": {"kind": "disfavoured", "rate": "0.5 per day", "deterrability": 1.0}},
                channels={"police": {"observes": ["post"], "coverage": 1, "detection": 1}},
                scoring={"min_age": 0, "rules": [{"behaviour": "post", "points": -5}]},
                flags={"suspicious": {"rule": {"behaviours": ["post"]}, "capacity": "2 per day"}},
                responses={"enabled": True, "awareness": {"initial": 1.0}, "deterrence": 3.0})
    sc, pop, out, r = execute(data)
    ch = metrics.chilling(r).row(0, named=True)
    twin, fact = int(out.metrics["events_twin.post"].sum()), int(out.metrics["events.post"].sum())
    assert ch["kind"] == "disfavoured" and ch["events_twin"] == twin and ch["events"] == fact
    assert ch["suppressed"] == twin - fact > 0
    assert ch["suppressed"] == r.people.get_column("acts_suppressed").sum()
    assert r.summary()["lawful acts suppressed"] == twin - fact


def test_start_scores_match_the_engine_initial_state():
    """The engine's start scores (index scheme, income term, social term over friends,
    clipping) reach the results frame: a 0-day run ends where it starts, unscored people
    have no start score, and start grades equal end grades."""
    data = tiny(
        population={"people": 2000},
        contacts={"household": True, "workplace": {"enabled": False}, "school": {"enabled": False},
                  "friends": {"degree": {"distribution": "poisson", "mean": 4.0}, "same_city": 0.5, "same_group": 0.5},
                  "online": dict(OFF)},
        scoring={"scheme": "index", "min_age": 18, "social": {"weight": 0.3, "layers": ["friends", "household"]},
                 "dimensions": {"finance": {"weight": 2, "start": 0.6, "income": 0.8, "records": {"x": -0.1}},
                                "conduct": {"weight": 1, "start": 0.9}}},
        grades=[{"name": "A", "from": 800}, {"name": "B", "from": 650, "below": 800}, {"name": "C", "below": 650}],
        run={"days": 0, "seed": 3},
    )
    sc, pop, out, r = execute(data)
    scored = out.people["grade"] != 255
    mine = out.people["start_score"]
    assert np.isnan(mine[~scored]).all() and (~scored).any()
    np.testing.assert_allclose(mine[scored], out.people["score"][scored], rtol=0, atol=1e-9)
    assert r.people.get_column("start_grade").to_list() == r.people.get_column("grade").to_list()
    assert len(set(r.people.get_column("grade").drop_nulls().to_list())) >= 2


def test_gini_formula_edge_cases():
    """Gini: 0 for equal values, (n-1)/n for one holder of everything, weights act as
    repetitions, None for an empty or non-positive total."""
    assert metrics.gini(np.array([5.0, 5.0, 5.0])) == pytest.approx(0.0)
    assert metrics.gini(np.array([0.0, 0.0, 0.0, 8.0])) == pytest.approx(0.75)
    assert metrics.gini(np.array([1.0, 3.0]), np.array([3.0, 1.0])) == pytest.approx(
        metrics.gini(np.array([1.0, 1.0, 1.0, 3.0])))
    assert metrics.gini(np.array([])) is None
    assert metrics.gini(np.array([0.0, 0.0])) is None


def test_every_metric_is_a_polars_frame_and_rebuilds_from_a_folder(run, tmp_path):
    """compute_all returns a polars DataFrame per catalogue entry, and every metric computed
    from the saved folder (without people.parquet) equals the one from the in-memory Result."""
    sc, pop, out, r = run
    r.save(tmp_path / "tiny")
    live, saved = metrics.compute_all(r), metrics.compute_all(tmp_path / "tiny")
    assert set(live) == set(metrics.CATALOGUE)
    for name in live:
        assert isinstance(live[name], pl.DataFrame), name
        assert live[name].equals(saved[name]), name
    assert metrics.headline(r) == metrics.headline(tmp_path / "tiny")


def test_outcome_counters_stay_exact_past_the_int8_range():
    """Outcome counters are int8 in the day loop, with each wrap booked apart: a daily bonus
    over 40,000 days counts 40,000 rewards a person (312 wraps of int8, past int16 too), and
    the people's counts add up to the metrics' count of bonuses paid."""
    data = tiny(population={"people": 5}, behaviours={"x": {"rate": "0.00001 per day"}},
                consequences={"bonus": {"kind": "bonus", "grades": ["A"], "amount": 1, "every": 1}},
                lists={}, flags={}, run={"days": 40_000, "seed": 7})
    sc, pop, out, _ = execute(data)
    rewards = out.people["rewards"]
    assert rewards.dtype == np.int32 and rewards.max() > 32_767
    assert rewards.sum() == out.total("consequences.bonus.", ".applied")
