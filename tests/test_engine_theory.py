"""The day loop against closed-form results (Poisson counts, steady states, binomial
shares, queues, deterrence, step size).

Every test builds a small synthetic population, runs ``simulate`` and compares
what came out with a formula. Tolerances are stated in each docstring; unless
said otherwise they are 4 standard deviations of the estimator (a false alarm
about once in 16,000 checks), and every run has a fixed seed, so the suite is
deterministic.

Unit of time: rates are per year of ``YEAR = 365.25`` days, as in the engine.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import scorelab
from scorelab.engine.simulation import simulate
from scorelab.rng import fixed_uniform

YEAR = 365.25
Z = 4.0  # tolerance in standard deviations


# --------------------------------------------------------------------------- helpers

_OFF_LAYER = {"enabled": False, "degree": {"distribution": "poisson", "mean": 1.0}, "same_city": 0.5, "same_group": 0.5}


def scenario(people: int = 20000, days: int = 365, seed: int = 1, *, household: bool = False,
             workplace: bool = False, regions: list | None = None, **sections) -> scorelab.Scenario:
    """A minimal scenario: no contact layers unless asked, no responses unless given."""
    data = {
        "population": {"people": people},
        "contacts": {"household": household, "workplace": {"enabled": workplace}, "school": {"enabled": False},
                     "friends": dict(_OFF_LAYER), "online": dict(_OFF_LAYER)},
        "responses": {"enabled": False},
        "run": {"days": days, "seed": seed},
    }
    if regions is not None:
        data["population"]["regions"] = regions
    for k, v in sections.items():
        if k == "run":
            data["run"].update(v)
        else:
            data[k] = v
    return scorelab.load(data)


def run(sc: scorelab.Scenario):
    pop, contacts = scorelab.build_population(sc)
    return pop, contacts, simulate(sc, pop, contacts)


def scored(out) -> np.ndarray:
    return out.people["grade"] != 255


def within(observed: float, expected: float, sd: float, what: str, z: float = Z) -> None:
    assert abs(observed - expected) <= z * sd, (
        f"{what}: observed {observed:.6g}, theory {expected:.6g}, |diff| = {abs(observed - expected):.4g} "
        f"> {z} x sd {sd:.4g}"
    )


def poisson_pmf(k: int, lam: float) -> float:
    return math.exp(k * math.log(lam) - lam - math.lgamma(k + 1)) if lam > 0 else float(k == 0)


# The identification setup: everyone scored (adults) starts in grade A (base 1000), and grade A
# is the entry grade of the watchlist, so every scored person is listed from day 0 (never
# delisted in the run) and the watchlist's size W is their number; minors (not scored) are the
# unlisted. Everyone attends gatherings at ``attend`` per year; the cameras capture a face with
# their detection and search it 1:N. A flag on one record of 'gathering' per alert.
def _identification_scenario(people, days, seed, *, attend, hit=1.0, fmr=0.0, detection=1.0, coverage=1.0,
                             capacity, regions=None, channel_regions=None, cooldown=0):
    cameras = {
        "observes": ["gathering"], "coverage": coverage, "detection": detection,
        "identification": {"behaviour": "gathering", "watchlist": "watchlist", "hit_rate": hit,
                           "false_match_rate": fmr},
    }
    if channel_regions is not None:
        cameras["regions"] = channel_regions
    return scenario(
        people, days, seed, regions=regions,
        behaviours={"gathering": {"kind": "neutral", "rate": f"{attend} per year"}},
        channels={"cameras": cameras},
        grades=[{"name": "A", "from": 900}, {"name": "B", "below": 900}],
        lists={"watchlist": {"entry": {"grades": ["A"]}, "exit": {"after": "100 years"}}},
        flags={"suspicious": {"rule": {"behaviours": ["gathering"], "min_records": 1, "within": "30 days"},
                              "capacity": f"{capacity} per day", "cooldown": cooldown}},
    )


def _flag_stream(people, days, seed, lam, capacity):
    """The identification setup as a Poisson stream of flags at ``lam`` per day: every scored
    person is listed and recognised at each attendance (hit rate 1, no false matches), so the
    hits of a day are Poisson(n_w x attend / 365.25), n_w the scored people; ``attend`` is set
    from the population (built from the same seed) so that this is ``lam``."""
    probe = scenario(people, days, seed)
    n_w = int((scorelab.build_population(probe)[0].age >= 18).sum())
    return _identification_scenario(people, days, seed, attend=lam * YEAR / n_w, capacity=capacity), n_w


# --------------------------------------------------------------------------- 1. Poisson score


def test_score_is_base_minus_points_times_poisson_count():
    """One behaviour at rate r, detection p, -d points, no responses, no recovery.

    Each person's acts are a Poisson process (candidates are a Poisson total spread
    uniformly over people, i.e. independent Poisson counts per person) and detection
    thins it independently, so after T days a scored person's score is base - d*N with
    N ~ Poisson(lam), lam = r p T / 365.25. Checks over the n scored people:

    * every score is exactly base - d*k for a whole k;
    * mean of N: sd sqrt(lam / n);
    * variance of N (sample variance): sd sqrt((mu4 - sigma^4) / n) = sqrt((lam + 2 lam^2) / n);
    * grade shares = Poisson probabilities of the bands N = 0, 1, 2, >= 3 (i.e. P(N >= k)),
      binomial sd sqrt(q (1 - q) / n);
    * the daily score.mean series follows base - d r p (t + 1) / 365.25 (4 sd at each of
      four checkpoints), and the score.mean / score.sd metrics equal the end state's moments.
    All at 4 sd of the estimator.
    """
    r, p, d, T, base = 2.0, 0.5, 10.0, 365, 1000.0
    sc = scenario(
        20000, T, seed=11,
        behaviours={"x": {"rate": f"{r} per year"}},
        channels={"c": {"observes": ["x"], "detection": p}},
        scoring={"base": base, "rules": [{"behaviour": "x", "points": -d}]},
        grades=[{"name": "N0", "from": base - d / 2}, {"name": "N1", "from": base - 1.5 * d, "below": base - d / 2},
                {"name": "N2", "from": base - 2.5 * d, "below": base - 1.5 * d}, {"name": "N3+", "below": base - 2.5 * d}],
    )
    pop, _, out = run(sc)
    mask = scored(out)
    n = int(mask.sum())
    assert n == int((pop.age >= 18).sum())
    counts = (base - out.people["score"][mask]) / d
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)
    lam = r * p * T / YEAR
    within(counts.mean(), lam, math.sqrt(lam / n), "mean count")
    within(counts.var(ddof=1), lam, math.sqrt((lam + 2 * lam * lam) / n), "variance of count")
    band_p = [poisson_pmf(0, lam), poisson_pmf(1, lam), poisson_pmf(2, lam)]
    band_p.append(1.0 - sum(band_p))  # P(N >= 3)
    for g, q in zip(["N0", "N1", "N2", "N3+"], band_p):
        share = out.metrics[f"grades.{g}"][-1] / n
        within(share, q, math.sqrt(q * (1 - q) / n), f"share in band {g}")
    tail = 1.0
    for k in range(1, 5):  # P(N >= k) from the end state
        tail -= poisson_pmf(k - 1, lam)
        within(float((counts >= k).mean()), tail, math.sqrt(tail * (1 - tail) / n), f"P(N >= {k})")
    for t in (30, 90, 180, T - 1):
        lam_t = r * p * (t + 1) / YEAR
        within(out.metrics["score.mean"][t], base - d * lam_t, d * math.sqrt(lam_t / n), f"score.mean on day {t}")
    assert out.metrics["score.mean"][-1] == pytest.approx(out.people["score"][mask].mean(), rel=1e-12)
    assert out.metrics["score.sd"][-1] == pytest.approx(out.people["score"][mask].std(), rel=1e-6)


# --------------------------------------------------------------------------- 2. expiry steady state


@pytest.mark.parametrize("mechanism", ["recovery", "expiry"])
def test_expiry_steady_state(mechanism):
    """With points expiring after E days (scoring.recovery) or records deleted after E days
    (safeguards.expiry), the points that count at the end of day s are those of records made
    on days s-E+1..s: after T >> E the active count per person is Poisson(lam) with
    lam = r p E / 365.25 exactly, so mean active points = -d lam and their variance is d^2 lam.

    Tolerances: 4 sd of the sample mean (sqrt(lam/n)) and of the sample variance
    (sqrt((lam + 2 lam^2)/n)). The daily score.mean over the steady state (days E..T-1)
    averages to base - d lam (4 single-day sd, conservative for an average). For expiry the
    deleted records are exactly those made before day T - E (a count, no tolerance).
    """
    r, p, d, E, T, base = 6.0, 0.5, 10.0, 60, 240, 1000.0
    sections = {
        "behaviours": {"x": {"rate": f"{r} per year"}},
        "channels": {"c": {"observes": ["x"], "detection": p}},
        "scoring": {"base": base, "rules": [{"behaviour": "x", "points": -d}]},
    }
    if mechanism == "recovery":
        sections["scoring"]["recovery"] = f"{E} days"
    else:
        sections["safeguards"] = {"expiry": f"{E} days"}
    sc = scenario(20000, T, seed=12, **sections)
    _, _, out = run(sc)
    mask = scored(out)
    n = int(mask.sum())
    active = (base - out.people["score"][mask]) / d
    lam = r * p * E / YEAR
    within(active.mean(), lam, math.sqrt(lam / n), "mean active count")
    within(-d * active.mean(), -d * lam, d * math.sqrt(lam / n), "mean active points")
    within(active.var(ddof=1), lam, math.sqrt((lam + 2 * lam * lam) / n), "variance of active count")
    steady = out.metrics["score.mean"][E:]
    within(steady.mean(), base - d * lam, d * math.sqrt(lam / n), "steady-state score.mean")
    # the steady state does not drift: first and second half of it agree
    half = len(steady) // 2
    within(steady[:half].mean(), steady[half:].mean(), d * math.sqrt(2 * lam / n), "drift of score.mean")
    rec = out.records
    if mechanism == "expiry":
        assert out.metrics["records_removed.deleted"].sum() == np.sum(rec["vis"] <= T - 1 - E)
        assert np.all(rec["state"][rec["vis"] <= T - 1 - E] == 3)
        assert np.all(rec["state"][rec["vis"] > T - 1 - E] == 1)
    else:
        assert out.metrics["records_removed.deleted"].sum() == 0
        assert np.all(rec["state"] == 1)


# --------------------------------------------------------------------------- 3. misattribution


def test_misattribution_share_is_binomial():
    """Each recorded act is misattributed independently with probability m (target: a random
    other person), so the number of erroneous records among n is Binomial(n, m): the share is
    within 4 sqrt(m (1 - m) / n) of m. Structure (exact): a record is erroneous exactly when
    its subject is not its actor; per-person erroneous_records add up to that count."""
    m = 0.1
    sc = scenario(
        20000, 180, seed=13,
        behaviours={"x": {"rate": "4 per year"}},
        channels={"c": {"observes": ["x"], "misattribution": {"probability": m}}},
        scoring={"rules": [{"behaviour": "x", "points": -5}]},
    )
    pop, _, out = run(sc)
    rec = out.records
    n = rec["err"].size
    assert n == out.metrics["events.x"].sum()  # detection 1, coverage 1: one record per act
    err = rec["err"] == 1
    within(err.mean(), m, math.sqrt(m * (1 - m) / n), "share of misattributed records")
    np.testing.assert_array_equal(err, rec["subj"] != rec["actor"])
    assert np.all(rec["actor"] >= 0) and np.all(rec["subj"] < pop.n)
    assert out.people["erroneous_records"].sum() == err.sum()
    assert out.metrics["records.c.misattributed"].sum() == err.sum()


def test_misattribution_to_contacts_lands_on_contacts():
    """With target 'contacts' a misattributed record lands on a contact of the actor, in the
    named layer (or in any layer when none is named) -- checked record by record, no tolerance.
    An actor without contacts in that layer cannot be confused with one, so among the records
    of actors with at least one contact the erroneous share is m (binomial, 4 sd) and among
    the others it is 0."""
    m = 0.2
    sc = scenario(
        20000, 180, seed=14, household=True, workplace=True,
        behaviours={"x": {"rate": "4 per year"}},
        channels={"home": {"observes": ["x"], "misattribution": {"probability": m, "target": "contacts", "layer": "household"}},
                  "any": {"observes": ["x"], "misattribution": {"probability": m, "target": "contacts"}}},
        scoring={"rules": [{"behaviour": "x", "points": -5}]},
    )
    pop, contacts, out = run(sc)
    rec = out.records
    layers = {"home": ["household"], "any": [x for x in contacts.names]}
    assert "workplace" in layers["any"]
    for ci, cname in enumerate(out.plan.channel_names):
        sets: list[set] = [set() for _ in range(pop.n)]
        for layer in layers[cname]:
            ptr, idx = contacts[layer].to_csr()
            for i in range(pop.n):
                sets[i].update(idx[ptr[i]:ptr[i + 1]].tolist())
        sel = rec["chan"] == ci
        subj, actor, err = rec["subj"][sel], rec["actor"][sel], rec["err"][sel]
        bad = [(a, s) for a, s, e in zip(actor, subj, err) if e == 1 and s not in sets[a]]
        assert not bad, f"{cname}: {len(bad)} misattributed records not on a contact, e.g. {bad[:3]}"
        np.testing.assert_array_equal(err == 1, subj != actor)
        has = np.array([len(sets[a]) > 0 for a in actor])
        assert not np.any(err[~has]), f"{cname}: actors without contacts got misattributed records"
        k = int(has.sum())
        within(float(err[has].mean()), m, math.sqrt(m * (1 - m) / k), f"{cname}: erroneous share among actors with contacts")


# --------------------------------------------------------------------------- 4. false flags


def test_face_search_alerts_on_the_scanned_bystander_match_the_closed_form():
    """1:N face search at gatherings (issue 17): attendance is a rate per person, so crowds
    scale with the population; a listed face is recognised with the hit rate h, an unlisted
    one raises a false alert with probability p = 1 - (1 - f)^W, and the alert is about the
    bystander who was scanned.

    Two cities, cameras in A only with coverage k (a fixed draw per person, reproduced here)
    and detection d; everyone attends at r per year; W = the scored people (constant: the
    list stock is checked). Over T days:

    * faces scanned: Poisson(n_cov r d T / 365.25) given the covered people of A (4 sd);
    * hits ~ Binomial(scanned_listed, h) and false alerts ~ Binomial(scanned - scanned_listed, p)
      given the scans (4 sd each);
    * alert precision against the closed form h W_a / (h W_a + (A - W_a) p), A the faces
      scanned and W_a those of listed people; sd by the delta method on the two binomials;
    * exact: every false-alert record is a false match (error 2) about its own actor, an
      unlisted minor of city A; every hit is a true record about a listed adult; the flags
      (one record, cooldown 0, ample capacity) are false on exactly the distinct
      (bystander, day) pairs and true on the (listed person, day) pairs.
    """
    r, k, d, h, f, T = 6.0, 0.8, 0.5, 0.7, 5e-6, 200
    sc = _identification_scenario(
        20000, T, 15, attend=r, hit=h, fmr=f, detection=d, coverage=k, capacity=100000,
        regions=[{"province": "P", "city": "A", "share": 0.5}, {"province": "P", "city": "B", "share": 0.5}],
        channel_regions=["A"],
    )
    pop, _, out = run(sc)
    M = out.metrics
    W = int((pop.age >= 18).sum())
    assert np.all(M["lists.watchlist.stock"] == W) and W > 10000
    p = 1 - (1 - f) ** W
    in_a = pop.city == pop.city_names.index("A")
    covered = in_a & (fixed_uniform(sc.run.seed, "channel.cameras.coverage", np.arange(pop.n)) < k)
    scanned, listed = M["identification.cameras.scanned"].sum(), M["identification.cameras.scanned_listed"].sum()
    hits, false = M["identification.cameras.hits"].sum(), M["identification.cameras.false_alerts"].sum()
    mu = covered.sum() * r * d * T / YEAR
    within(scanned, mu, math.sqrt(mu), "faces scanned")
    within(hits, listed * h, math.sqrt(listed * h * (1 - h)), "listed people recognised")
    n_un = scanned - listed
    within(false, n_un * p, math.sqrt(n_un * p * (1 - p)), "false alerts on unlisted faces")
    eh, ef = listed * h, n_un * p
    theory = eh / (eh + ef)
    var_h, var_f = listed * h * (1 - h), n_un * p * (1 - p)
    sd = math.sqrt(ef ** 2 * var_h + eh ** 2 * var_f) / (eh + ef) ** 2
    within(hits / (hits + false), theory, sd, "alert precision")
    assert false > 100 and hits > 1000
    rec = out.records
    fa = rec["err"] == 2
    assert fa.sum() == false and (rec["err"] == 0).sum() == hits and not np.any(rec["err"] == 1)
    assert np.all(rec["subj"] == rec["actor"]), "an alert is about the face that was scanned"
    assert np.all(pop.age[rec["subj"][fa]] < 18), "false alerts fall on unlisted people (bystanders)"
    assert np.all(pop.age[rec["subj"][~fa]] >= 18), "hits fall on listed people"
    assert np.all(covered[rec["subj"]])
    pairs = lambda m: len(set(zip(rec["subj"][m].tolist(), rec["step"][m].tolist())))  # noqa: E731
    assert M["flags.suspicious.false"].sum() == pairs(fa)
    assert M["flags.suspicious.true"].sum() == pairs(~fa)


def test_rollout_gates_new_channels_not_older_institutions():
    """City B joins the system on day 100, city A on day 0. A channel gated by the rollout (the
    default) records B's acts only from day 100; one that is not (a court that listed debtors
    before the system came) records every act everywhere from day 0. Exact, with coverage and
    detection 1: the ungated channel's records are the behaviour's acts, step by step; the
    gated channel's are its acts less B's before day 100; and B's acts before then are many."""
    sc = scenario(
        4000, 200, 3,
        regions=[{"province": "P", "city": "A", "share": 0.5}, {"province": "P", "city": "B", "share": 0.5}],
        behaviours={"speeding": {"rate": "6 per year"}, "judgment_default": {"rate": "6 per year"}},
        channels={"cameras": {"observes": ["speeding"]},
                  "courts": {"observes": ["judgment_default"], "gated_by_rollout": False}},
        scoring={"scheme": "points", "rules": [{"behaviour": "speeding", "points": -1}]},
        rollout={"default": "2018-01-01", "regions": [{"region": "B", "joins": "2018-04-11"}]},
        run={"start": "2018-01-01"},
    )
    pop, _, out = run(sc)
    rec, beh = out.records, out.plan.behaviour_names
    in_b = pop.city[rec["actor"]] == pop.city_names.index("B")
    court = rec["beh"] == beh.index("judgment_default")
    steps = np.arange(out.n_steps)
    per_step = lambda m: np.bincount(rec["step"][m], minlength=out.n_steps)  # noqa: E731
    np.testing.assert_array_equal(per_step(court), out.metrics["events.judgment_default"])
    assert (court & in_b & (rec["step"] < 100)).sum() > 100, "the court records in B before it joins"
    assert not np.any(~court & in_b & (rec["step"] < 100)), "the gated cameras record nothing in B before it joins"
    cam = per_step(~court)
    events = out.metrics["events.speeding"]
    np.testing.assert_array_equal(cam[steps >= 100], events[steps >= 100])
    assert np.all(cam[steps < 100] < events[steps < 100]) and cam[:100].sum() > 0


def test_camera_false_matches_on_ordinary_behaviours():
    """A camera that sees an ordinary act (jaywalking) with its own detection and false-match
    rate: of n acts, Binomial(n, d) are recorded; each record is misattributed with
    probability m (to a random other person), else put on a falsely matched other person with
    probability fm (error 'false_match'), else about the actor. Checked within 4 sd; the
    channel's other behaviour keeps the channel's own detection (Binomial, 4 sd), and exact:
    a false match is never about its actor, a true record always is."""
    m, d, fm, d_other, T = 0.05, 0.5, 0.1, 0.9, 200
    sc = scenario(
        20000, T, seed=19,
        behaviours={"jaywalk": {"rate": "4 per year"}, "speeding": {"rate": "2 per year"}},
        channels={"cameras": {"observes": ["jaywalk", "speeding"], "detection": d_other,
                              "misattribution": {"probability": m},
                              "by_behaviour": {"jaywalk": {"detection": d, "false_match_rate": fm}}}},
    )
    _, _, out = run(sc)
    rec = out.records
    jay = rec["beh"] == 0
    acts = out.metrics["events.jaywalk"].sum()
    n = int(jay.sum())
    within(n, acts * d, math.sqrt(acts * d * (1 - d)), "jaywalking acts recorded")
    acts_s = out.metrics["events.speeding"].sum()
    within(int((~jay).sum()), acts_s * d_other, math.sqrt(acts_s * d_other * (1 - d_other)), "speeding recorded")
    e1, e2 = (rec["err"][jay] == 1).sum(), (rec["err"][jay] == 2).sum()
    within(e1, n * m, math.sqrt(n * m * (1 - m)), "misattributed")
    q = (1 - m) * fm
    within(e2, n * q, math.sqrt(n * q * (1 - q)), "false matches")
    assert not np.any(rec["err"][~jay] == 2), "speeding keeps the channel's false-match rate, 0"
    assert np.all(rec["subj"][rec["err"] > 0] != rec["actor"][rec["err"] > 0])
    assert np.all(rec["subj"][rec["err"] == 0] == rec["actor"][rec["err"] == 0])


def test_false_flags_from_misattribution_onto_people_who_never_act():
    """Only people aged 40+ act; each recorded act is misattributed with probability m to a
    uniformly drawn other person. A flag on one record (cooldown 0, ample capacity) is false
    exactly when it is raised on someone with no true record, i.e. on a person under 40 here.
    Given the n recorded acts, the misattributed ones landing on the n0 people under 40 are
    Binomial(n, m n0 / (N - 1)) (the actor is never under 40, so all n0 are 'others'); the
    false flags equal their distinct (person, day) pairs (exact), and the expected loss to
    repeats is ~ n^2 m^2 / (2 T n0) < 0.1, inside the tolerance (4 sd of the binomial)."""
    m, T = 0.05, 200
    sc = scenario(
        20000, T, seed=16,
        behaviours={"x": {"rate": "3 per year", "modifiers": [{"when": {"age": [0, 39]}, "factor": 0.0}]}},
        channels={"c": {"observes": ["x"], "misattribution": {"probability": m}}},
        flags={"f": {"rule": {"behaviours": ["x"], "min_records": 1, "within": "30 days"}, "capacity": "10000 per day",
                     "cooldown": 0}},
    )
    pop, _, out = run(sc)
    rec = out.records
    young = pop.age < 40
    assert not np.any(young[rec["actor"]])
    n, N, n0 = rec["subj"].size, pop.n, int(young.sum())
    q = m * n0 / (N - 1)
    on_young = (rec["err"] == 1) & young[rec["subj"]]
    within(on_young.sum(), n * q, math.sqrt(n * q * (1 - q)), "misattributed records on people who never act")
    pairs = set(zip(rec["subj"][on_young].tolist(), rec["step"][on_young].tolist()))
    false_flags = out.metrics["flags.f.false"].sum()
    # false flags can also come from misattributed records on older people with no true record in the
    # window; those on the young are exactly the distinct pairs
    assert out.people["flags"][young].sum() == len(pairs)
    assert false_flags >= len(pairs)
    within(out.people["flags"][young].sum(), n * q, math.sqrt(n * q * (1 - q)), "false flags on people who never act")


# --------------------------------------------------------------------------- 5. investigation queue


def _lindley(arrivals: np.ndarray, c: int) -> tuple[np.ndarray, np.ndarray]:
    """Backlog and services of a slotted FIFO queue serving c per step after the step's arrivals."""
    q = 0
    backlog = np.zeros(arrivals.size, dtype=np.int64)
    served = np.zeros(arrivals.size, dtype=np.int64)
    for s, a in enumerate(arrivals.astype(np.int64)):
        served[s] = min(c, q + a)
        q = q + a - served[s]
        backlog[s] = q
    return backlog, served


def test_backlog_grows_linearly_when_arrivals_exceed_capacity():
    """Flags arrive as a Poisson stream at lam per day (false matches on an innocent watchlist of
    n_w people), c per day are investigated. With lam > c the queue is a reflected random walk
    with drift lam - c that almost never touches 0 after the first days, so the backlog after t
    days is A(t) - c t with A(t) ~ Poisson(lam t) (fluid limit (lam - c) t, sd sqrt(lam t)).
    A hit on someone already queued raises no new flag; that removes on average
    lam * sum_s Q(s) / n_w ~ lam (lam - c) t^2 / (2 n_w) arrivals, which the expectation
    includes (it is < 0.3 sd here). Tolerance: 4 sqrt(lam t) + 3 (a few idle services in the
    first days). Exact: the backlog series equals the slotted-queue recursion applied to the
    flags raised each day, and the daily investigations are min(c, backlog + arrivals).
    """
    lam, c, T = 14, 10, 150
    sc, n_w = _flag_stream(50000, T, 17, lam, c)
    pop, _, out = run(sc)
    raised = out.metrics["flags.suspicious.raised"]
    backlog, served = _lindley(raised, c)
    np.testing.assert_array_equal(out.metrics["flags.suspicious.backlog"], backlog)
    np.testing.assert_array_equal(out.metrics["flags.suspicious.investigated"], served)
    for t in (T // 2, T):
        expected = (lam - c) * t - lam * (lam - c) * t * t / (2 * n_w)
        within(out.metrics["flags.suspicious.backlog"][t - 1], expected, math.sqrt(lam * t) + 3 / Z,
               f"backlog after {t} days")


def _stationary_backlog(lam: float, c: int, kmax: int = 400) -> np.ndarray:
    """Stationary law of Q' = max(0, Q + A - c), A ~ Poisson(lam), by iterating the chain."""
    a = np.array([poisson_pmf(k, lam) for k in range(kmax)])
    dist = np.zeros(kmax)
    dist[0] = 1.0
    for _ in range(5000):
        nxt = np.convolve(dist, a)[:2 * kmax]
        new = np.zeros(kmax)
        new[0] = nxt[: c + 1].sum()
        new[1:] = nxt[c + 1: c + kmax]
        if np.abs(new - dist).sum() < 1e-14:
            return new
        dist = new
    return dist


def test_backlog_stays_bounded_when_capacity_exceeds_arrivals():
    """With lam < c the slotted queue (Poisson(lam) arrivals per day, c services per day after
    them) is a positive recurrent Markov chain whose stationary law is computed exactly by
    iterating Q' = max(0, Q + A - c) (the slotted analogue of M/D/c). The time-average backlog
    over days 100..T-1 is compared with the stationary mean; its sd is estimated by batch means
    (20 batches of ~95 days, far longer than the chain's correlation time) and the tolerance is
    4 of those sd plus 0.05. The backlog never exceeds the stationary 1 - 1e-6 quantile x 2,
    and the second half does not sit above the first (no growth; same tolerance)."""
    lam, c, T = 8, 10, 2000
    sc, _ = _flag_stream(20000, T, 18, lam, c)
    _, _, out = run(sc)
    q = out.metrics["flags.suspicious.backlog"][100:]
    law = _stationary_backlog(lam, c)
    mean = float(np.dot(np.arange(law.size), law))
    batches = q[: q.size // 20 * 20].reshape(20, -1).mean(axis=1)
    se = batches.std(ddof=1) / math.sqrt(20)
    within(q.mean(), mean, se + 0.05 / Z, "mean backlog vs stationary mean")
    q999999 = int(np.searchsorted(np.cumsum(law), 1 - 1e-6))
    assert q.max() <= 2 * q999999, f"backlog reached {q.max()}, stationary 1-1e-6 quantile {q999999}"
    half = q.size // 2
    assert q[half:].mean() <= q[:half].mean() + Z * math.sqrt(2) * se + 0.05


# --------------------------------------------------------------------------- responses


def test_deterrence_for_aware_people_and_twin_keeps_base_rate():
    """Everyone aware (awareness 1): the factual rate of a deterrable behaviour is
    r exp(-D delta risk) with risk = coverage x detection of the one observing channel, so the
    factual count over T days is Poisson(N r T e^(-D delta risk) / 365.25); the twin keeps
    Poisson(N r T / 365.25). Both within 4 sqrt(mean). Common random numbers: on every day the
    factual count is at most the twin's, and acts_suppressed adds up to twin - factual (x is
    lawful but disfavoured: people's acts_suppressed counts those, not deterred wrongdoing)."""
    r, D, delta, cov, det, T, N = 4.0, 2.0, 0.5, 0.6, 0.5, 180, 20000
    sc = scenario(
        N, T, seed=19,
        behaviours={"x": {"kind": "disfavoured", "rate": f"{r} per year", "deterrability": delta}},
        channels={"c": {"observes": ["x"], "coverage": cov, "detection": det}},
        responses={"enabled": True, "deterrence": D, "awareness": {"initial": 1.0, "maximum": 1.0}},
    )
    _, _, out = run(sc)
    base = N * r * T / YEAR
    fact = base * math.exp(-D * delta * cov * det)
    within(out.metrics["events.x"].sum(), fact, math.sqrt(fact), "factual events")
    within(out.metrics["events_twin.x"].sum(), base, math.sqrt(base), "twin events")
    assert np.all(out.metrics["events.x"] <= out.metrics["events_twin.x"])
    assert out.people["acts_suppressed"].sum() == out.metrics["events_twin.x"].sum() - out.metrics["events.x"].sum()


def test_deterrence_applies_only_to_aware_people_with_combined_risk():
    """Half the people aware; two channels observe the act, so the perceived risk is
    1 - (1 - k1 p1)(1 - k2 p2). Who is aware is the engine's own per-person draw (stream
    'responses.awareness'), reproduced here. Unaware people keep the base rate, so none of
    their acts is suppressed (exact). An aware person's twin act is kept in the factual world
    with probability e^(-D risk) (same uniform in both worlds), so the suppressed acts of the
    aware are Poisson(n_a r T (1 - e^(-D risk)) / 365.25), the twin total is Poisson(N r T / 365.25)
    and the factual total Poisson(((N - n_a) + n_a e^(-D risk)) r T / 365.25). Tolerances 4 sd."""
    r, D, a0, T, N = 6.0, 1.5, 0.5, 180, 20000
    k1, p1, k2, p2 = 1.0, 0.3, 0.5, 0.4
    sc = scenario(
        N, T, seed=20,
        behaviours={"x": {"kind": "disfavoured", "rate": f"{r} per year"}},
        channels={"c1": {"observes": ["x"], "coverage": k1, "detection": p1},
                  "c2": {"observes": ["x"], "coverage": k2, "detection": p2}},
        responses={"enabled": True, "deterrence": D, "awareness": {"initial": a0, "maximum": 1.0}},
    )
    _, _, out = run(sc)
    aware = fixed_uniform(sc.run.seed, "responses.awareness", np.arange(N)) < a0
    within(aware.mean(), a0, math.sqrt(a0 * (1 - a0) / N), "share aware")
    supp = out.people["acts_suppressed"]
    assert np.all(supp[~aware] == 0), "unaware people were deterred"
    assert np.all(supp >= 0)
    risk = 1 - (1 - k1 * p1) * (1 - k2 * p2)
    keep = math.exp(-D * risk)
    twin_total = out.metrics["events_twin.x"].sum()
    within(twin_total, N * r * T / YEAR, math.sqrt(N * r * T / YEAR), "twin events")
    # twin acts of the aware ~ Poisson(n_a r T); suppressed among them ~ Binomial(., 1 - keep)
    n_a = int(aware.sum())
    mu_a = n_a * r * T / YEAR
    within(supp.sum(), mu_a * (1 - keep), math.sqrt(mu_a * (1 - keep)), "acts suppressed (aware only)")
    fact_total = out.metrics["events.x"].sum()
    expected_fact = (N - n_a) * r * T / YEAR + mu_a * keep
    within(fact_total, expected_fact, math.sqrt(expected_fact), "factual events")


# --------------------------------------------------------------------------- step size


def test_step_size_does_not_change_event_counts():
    """A rate r per year gives Poisson(N r T / 365.25) events in T days whatever the step: with
    run.step 1 day and 0.5 day both totals are within 4 sd of the mean, and they agree with
    each other within 4 sqrt(2 mean) (independent draws). The mean score after T days (points
    -d per record, detection p) agrees likewise: d r p T / 365.25 points lost on average, sd of
    the difference d sqrt(2 lam / n)."""
    r, p, d, T, N = 3.0, 0.5, 10.0, 200, 20000
    outs = {}
    for dt in (1.0, 0.5):
        sc = scenario(
            N, T, seed=21, run={"step": dt},
            behaviours={"x": {"rate": f"{r} per year"}},
            channels={"c": {"observes": ["x"], "detection": p}},
            scoring={"rules": [{"behaviour": "x", "points": -d}]},
        )
        _, _, out = run(sc)
        assert out.n_steps == int(T / dt)
        outs[dt] = out
    mu = N * r * T / YEAR
    totals = {dt: out.metrics["events.x"].sum() for dt, out in outs.items()}
    for dt, tot in totals.items():
        within(tot, mu, math.sqrt(mu), f"events with step {dt}")
    within(totals[1.0] - totals[0.5], 0.0, math.sqrt(2 * mu), "events, step 1 vs 0.5")
    lam = r * p * T / YEAR
    means = {}
    for dt, out in outs.items():
        mask = scored(out)
        means[dt] = out.people["score"][mask].mean()
        within(means[dt], 1000 - d * lam, d * math.sqrt(lam / mask.sum()), f"mean score with step {dt}")
    within(means[1.0] - means[0.5], 0.0, d * math.sqrt(2 * lam / scored(outs[1.0]).sum()), "mean score, step 1 vs 0.5")
    assert outs[0.5].metrics["day"][-1] == pytest.approx(T - 0.5)
