"""Guilt by association (``scoring.association``): what contacts add to a score is exactly what
their standing gives, it fades as the half-life says, it moves grades and sanctions as its
weight says, and it is off unless asked for."""

from __future__ import annotations

import numpy as np
import pytest

import scorelab
from scorelab.engine import kernel
from scorelab.engine.kernel.association import fading_part
from scorelab.engine.simulation import simulate
from scorelab.errors import ScenarioError

_OFF = {"enabled": False, "degree": {"distribution": "poisson", "mean": 1.0}, "same_city": 0.5, "same_group": 0.5}
POINTS, D_FROM = -10.0, 960.0
WEIGHTS = {"household": 1.0, "friends": 0.5}


def town(half_life: str = "0 days", cap: float | None = None, people: int = 6000, days: int = 200) -> scorelab.Scenario:
    """Debtors go on a court list (and leave it after 40 days); a point rule makes some people
    grade D by their own records; listed and D-graded people count against their household
    (weight 1) and friends (0.5). No consequence or flag acts back on the records, so runs that
    differ only in the association term make the same records and listings."""
    association = {"lists": ["court"], "grades": ["D"], "points": POINTS, "layers": dict(WEIGHTS),
                   "half_life": half_life}
    if cap is not None:
        association["cap"] = cap
    return scorelab.load({
        "population": {"people": people},
        "contacts": {"household": True, "workplace": {"enabled": False}, "school": {"enabled": False},
                     "friends": {"degree": {"distribution": "poisson", "mean": 4.0}, "same_city": 0.8, "same_group": 0.5},
                     "online": dict(_OFF)},
        "behaviours": {"default": {"rate": "1 per year", "min_age": 18}, "theft": {"rate": "2 per year", "min_age": 18}},
        "channels": {"court": {"observes": ["default"]}, "police": {"observes": ["theft"], "detection": 0.5}},
        "scoring": {"base": 1000, "rules": [{"behaviour": "theft", "points": -25}], "association": association},
        "grades": [{"name": "A", "from": D_FROM}, {"name": "D", "below": D_FROM}],
        "lists": {"court": {"entry": {"behaviours": ["default"]}, "exit": {"after": "40 days"}}},
        "responses": {"enabled": False},
        "run": {"days": days, "seed": 11},
    })


def weighted_contacts(contacts, n: int) -> dict[tuple[int, int], float]:
    """(person, contact) -> the largest weight of a layer linking them."""
    w: dict[tuple[int, int], float] = {}
    for layer, weight in WEIGHTS.items():
        ptr, idx = contacts[layer].to_csr()
        for e in range(n):
            for c in idx[ptr[e]:ptr[e + 1]]:
                w[(e, int(c))] = max(w.get((e, int(c)), 0.0), weight)
    return w


@pytest.fixture(scope="module")
def runs():
    out = {}
    for name, sc in {"now": town(), "never": town("100 years"), "fading": town("15 days")}.items():
        pop, contacts = scorelab.build_population(sc)
        out[name] = (sc, pop, contacts, simulate(sc, pop, contacts))
    return out


def test_the_term_is_the_sum_of_what_each_contact_gives(runs):
    """Half-life 0, exact: a person's term is POINTS x the weights of the contacts who count
    against them at the end; a person counts against their contacts exactly when listed or
    graded D by their own records (score less the term); the score is own score plus term."""
    sc, pop, contacts, out = runs["now"]
    p = out.people
    counts = p["counts_against_contacts"]
    own = p["score"] - p["association"]
    scored = pop.age >= 18
    expect_counts = p["listed.court"] | (scored & (own < D_FROM))
    np.testing.assert_array_equal(counts, expect_counts)
    assert 200 < counts.sum() < pop.n // 2, "the check needs people on both sides"
    term = np.zeros(pop.n)
    for (e, c), w in weighted_contacts(contacts, pop.n).items():
        if counts[c]:
            term[e] += POINTS * w
    np.testing.assert_allclose(p["association"], term, rtol=0, atol=1e-9)
    assert (term < 0).sum() > 1000
    # the metrics at the end count the same people and the same mean
    M = out.metrics
    assert M["association.marked_down"][-1] == (scored & (term < 0)).sum()
    assert M["association.points_mean"][-1] == pytest.approx(term[scored].mean(), rel=1e-12)
    assert M["association.marked_up"][-1] == 0


def test_what_a_contact_gave_fades_by_the_half_life(runs):
    """The same records and listings in every run (nothing acts back on them). With a half-life
    longer than the run nothing is taken back: each term is at most the term without fading
    (more contacts still count), and the mean term never rises; with 15 days it lies between the
    two, person by person; listings, records and who counts are the same in all three."""
    now, never, fading = (runs[k][3].people for k in ("now", "never", "fading"))
    for k in ("listed.court", "counts_against_contacts"):
        np.testing.assert_array_equal(now[k], never[k])
        np.testing.assert_array_equal(now[k], fading[k])
    assert np.all(never["association"] <= now["association"] + 1e-9)
    assert np.all(never["association"] <= fading["association"] + 1e-9)
    assert np.all(fading["association"] <= now["association"] + 1e-9)
    assert (never["association"] < now["association"] - 1e-9).sum() > 100
    assert (fading["association"] < now["association"] - 1e-9).sum() > 10
    mean = runs["never"][3].metrics["association.points_mean"]
    assert np.all(np.diff(mean) <= 1e-12)
    assert np.any(np.diff(runs["now"][3].metrics["association.points_mean"]) > 0), "exits give back"


@pytest.mark.parametrize("d", [1, 2, 3, 31, 32, 33, 1000001, -7, -1000000, 123456789, -987654321])
def test_fading_parts_add_up_to_what_was_given(d):
    parts = [fading_part(d, k) for k in range(1, kernel.FADE_STAGES + 1)]
    assert sum(parts) == d
    assert all(abs(x) <= abs(d) for x in parts) and all(x * d >= 0 for x in parts)
    assert abs(parts[0]) == abs(d) // 2


def test_the_cap_bounds_the_term():
    sc = town(cap=15.0)
    pop, contacts = scorelab.build_population(sc)
    p = simulate(sc, pop, contacts).people
    assert p["association"].min() == -15.0 and (p["association"] == -15.0).sum() > 10


SMALL = {"population.people": 20000, "run.days": 365, "run.burn_in": 0}


def rongcheng(points: float | None) -> dict[str, float]:
    over = dict(SMALL)
    if points is not None:
        over["scoring.association"] = {"lists": ["court_blacklist", "watchlist"], "grades": ["C", "D"],
                                       "points": points, "layers": {"household": 1.0, "friends": 0.5}}
    return scorelab.run("rongcheng-2018", over).summary()


def test_association_sanctions_are_zero_when_off_and_rise_with_the_weight():
    """Rongcheng (20,000 people, a year) without the term, and with -20, -80 and -200 points a
    contact: no sanction by association without it; more with a heavier term (the same draws
    in every run); and some at the heaviest."""
    off = rongcheng(None)
    assert off["sanctions, by association"] == 0
    by = [rongcheng(p)["sanctions, by association"] for p in (-20.0, -80.0, -200.0)]
    assert by == sorted(by) and by[-1] > 100 and by[-1] > 5 * max(by[0], 1), by


@pytest.mark.parametrize(("change", "message"), [
    ({"lists": ["nope"]}, "scoring.association.lists.0: undefined list 'nope'"),
    ({"lists": ["firm_blacklist"]}, "list 'firm_blacklist' holds firms"),
    ({"grades": ["Z"]}, "scoring.association.grades.0: undefined grade 'Z'"),
    ({"layers": {"cousins": 1.0}}, "undefined contact layer 'cousins'"),
    ({"layers": {}}, "layers: name at least one contact layer"),
    ({"lists": [], "grades": []}, "give lists or grades"),
    ({"points": 1e300}, "scoring.association.points"),
    ({"layers": {"friends": -1}}, "scoring.association.layers.friends"),
])
def test_bad_association_terms_are_one_line_errors(change, message):
    term = {"lists": ["court_blacklist"], "points": -10, "layers": {"household": 1.0}} | change
    with pytest.raises(ScenarioError) as info:
        scorelab.load("rongcheng-2018", {"scoring.association": term})
    text = str(info.value)
    assert message in text and "Traceback" not in text, text
