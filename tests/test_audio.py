"""In-car audio (docs/channels.md#in-car-audio): records against their closed form (coverage x
trips x false-positive rate, coverage x talk x detection, passengers from the household sizes),
passengers only in the driver's household, off = the other results unchanged, the chilling of
the watched talk against the twin, determinism, sharding invariance, one-line errors.

Tolerances: Z = 4 standard deviations of the estimator (test_engine_theory), every run seeded.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import scorelab
from scorelab import metrics as M
from scorelab import report
from scorelab import vocabulary as V
from scorelab.cli import app
from scorelab.engine.sharded import simulate_sharded
from scorelab.engine.simulation import simulate
from scorelab.rng import fixed_uniform
from test_cli import one_line_error
from test_engine_theory import scenario, within

T = 150                              # days
TRIPS, TALK = 1.5, 0.2               # per adult and day
COVERAGE, DETECTION, FP, RIDE = 0.5, 0.6, 0.002, 0.4


def _sections(audio: bool = True, **audio_fields) -> dict:
    mics = {"observes": ["trip", "talk"], "coverage": COVERAGE, "detection": DETECTION,
            "audio": {"trips": "trip", "talk": "talk", "false_positive": FP,
                      "passengers": {"layer": "household", "probability": RIDE}, **audio_fields}}
    channels = {"police": {"observes": ["speeding"], "coverage": 0.8, "detection": 0.5}}
    if audio:
        channels["mics"] = mics
    return dict(
        behaviours={"trip": {"kind": "neutral", "rate": f"{TRIPS} per day", "min_age": 18, "deterrability": 0.0},
                    "talk": {"kind": "disfavoured", "rate": f"{TALK} per day", "min_age": 18},
                    "speeding": {"rate": "2 per year", "min_age": 18}},
        channels=channels,
        scoring={"rules": [{"behaviour": "speeding", "points": -5}]},
    )


def _run(sc, shards: int = 0):
    pop, contacts = scorelab.build_population(sc)
    out = simulate_sharded(sc, pop, contacts, shards, backend="local") if shards else simulate(sc, pop, contacts)
    return pop, out


@pytest.fixture(scope="module")
def heard():
    sc = scenario(6000, T, 7, household=True, **_sections())
    pop, out = _run(sc)
    return sc, pop, out


def test_records_match_coverage_times_trips_times_rate(heard):
    """Covered drivers are the adults whose fixed coverage draw is below the coverage; their
    covered trips and acts of talk are Poisson (mean drivers x rate x days); false positives are
    binomial on the covered trips (rate FP), talk heard binomial on the covered talk (DETECTION);
    records about passengers: each record by driver e adds Binomial(m_e, RIDE), m_e the other
    members of e's household, so K records add K x RIDE x E[m] with variance
    K (RIDE (1 - RIDE) E[m] + RIDE^2 Var(m)) (drivers uniform over covered adults)."""
    sc, pop, out = heard
    m = out.metrics
    covered = (pop.age >= 18) & (fixed_uniform(sc.run.seed, "channel.mics.coverage", np.arange(pop.n)) < COVERAGE)
    n = int(covered.sum())
    trips, talk = m["audio.mics.trips"].sum(), m["audio.mics.talk"].sum()
    hits, fp, pas = m["audio.mics.hits"].sum(), m["audio.mics.false_positives"].sum(), m["audio.mics.passenger_records"].sum()
    within(trips, n * TRIPS * T, math.sqrt(n * TRIPS * T), "covered trips")
    within(talk, n * TALK * T, math.sqrt(n * TALK * T), "covered talk")
    within(fp, trips * FP, math.sqrt(trips * FP * (1 - FP)), "false positives = coverage x trips x rate")
    within(hits, talk * DETECTION, math.sqrt(talk * DETECTION * (1 - DETECTION)), "talk heard = coverage x talk x detection")
    hh = np.asarray(pop.household_start)
    sizes = np.repeat(np.diff(hh), np.diff(hh))          # each person's household size
    others = (sizes - 1)[covered].astype(float)
    k = hits + fp
    within(pas, k * RIDE * others.mean(), math.sqrt(k * (RIDE * (1 - RIDE) * others.mean() + RIDE ** 2 * others.var())),
           "records about passengers")
    assert fp > 500 and hits > 30000 and pas > 10000
    # the records table and the record counts say the same, exactly
    rec = out.records
    mine = rec["chan"] == sc_channel(sc, "mics")
    assert (m["records.mics.true"].sum(), m["records.mics.misattributed"].sum() + m["records.mics.false_match"].sum()) \
        == (hits, fp + pas)
    assert int((rec["err"][mine] == 0).sum()) == hits and int((rec["err"][mine] > 0).sum()) == fp + pas
    assert np.all(rec["beh"][mine] == list(sc.behaviours).index("talk")), "trips leave no record of their own"
    assert np.all(covered[rec["actor"][mine]]), "every record comes from a covered driver's car"


def sc_channel(sc, name: str) -> int:
    """A channel's index in the records (the scenario's order)."""
    return list(sc.channels).index(name)


def test_passengers_are_the_drivers_household(heard):
    sc, pop, out = heard
    rec = out.records
    mine = rec["chan"] == sc_channel(sc, "mics")
    subj, actor = rec["subj"][mine].astype(np.int64), rec["actor"][mine].astype(np.int64)
    hh = np.asarray(pop.household_start)
    home = lambda x: np.searchsorted(hh, x, side="right") - 1  # noqa: E731
    other = subj != actor
    assert other.sum() == out.metrics["audio.mics.passenger_records"].sum() > 0
    assert np.all(home(subj[other]) == home(actor[other])), "a passenger outside the driver's household"
    # a driver's own record is true (talk heard) or a false match (a false positive); a passenger's erroneous
    err = rec["err"][mine]
    assert np.all(np.isin(err[~other], [0, 2])) and np.all(err[other] > 0)


def test_headline_and_metric_table(heard, tmp_path):
    sc, pop, out = heard
    r = scorelab.run(sc, out=tmp_path / "run")
    head = M.headline(r)
    m = out.metrics
    hits, fp, pas = (m[f"audio.mics.{x}"].sum() for x in ("hits", "false_positives", "passenger_records"))
    assert head[V.AUDIO_RECORDS] == hits + fp + pas and head[V.AUDIO_RECORDS_FALSE] == fp + pas
    assert head[V.AUDIO_FALSE_SHARE] == pytest.approx((fp + pas) / (hits + fp + pas))
    table = M.audio(r).row(0, named=True)
    assert (table["channel"], table["hits"], table["false_positives"]) == ("mics", hits, fp)
    assert V.figure_unit(V.AUDIO_RECORDS) == "records"
    # the results folder's Parquet metrics hold the columns, and the folder reads back the same
    back = scorelab.Result.open(tmp_path / "run")
    assert back.metrics.get_column("audio.mics.false_positives").sum() == fp
    assert M.headline(back)[V.AUDIO_RECORDS_FALSE] == fp + pas
    page = report.render([back])
    assert V.AUDIO_RECORDS_FALSE in page and "In-car microphones (mics) made" in page
    q = CliRunner().invoke(app, ["query", 'SELECT sum("audio.mics.false_positives") AS fp FROM metrics',
                                 "--runs", str(tmp_path), "--format", "csv"])
    assert q.exit_code == 0 and q.output.strip().splitlines()[-1].split(",")[-1].strip() in (str(fp), f"{fp}.0"), q.output


def test_off_leaves_every_other_result_unchanged(heard):
    """Without the channel (no other change) nothing else moves: responses are off, so the acts
    are the same draws, and no other channel reads what the microphones record."""
    sc, pop, on = heard
    _, off = _run(scenario(6000, T, 7, household=True, **_sections(audio=False)))
    assert not any(k.startswith("audio.") for k in off.metrics)
    for k, v in off.metrics.items():
        if k.startswith(("data.", "regions.")) or k.endswith(".records_held"):
            continue  # (the microphones' records are data held about people, in their regions)
        assert np.array_equal(v, on.metrics[k], equal_nan=True), k
    assert on.metrics["data.records_held"][-1] > off.metrics["data.records_held"][-1]
    assert set(on.metrics) - set(off.metrics) == {k for k in on.metrics if k.startswith(("audio.", "records.mics."))}


def test_the_watched_talk_is_chilled_against_the_twin():
    """Everyone aware, deterrence k: talk in a car is kept with probability exp(-k d r), r the
    perceived risk = coverage x detection, in the factual world only (the twin talks freely);
    trips (deterrability 0) do not change."""
    k = 1.5
    sc = scenario(4000, 60, 3, household=True, responses={"awareness": {"initial": 1.0}, "deterrence": k},
                  **_sections())
    _, out = _run(sc)
    m = out.metrics
    f, t = m["events.talk"].sum(), m["events_twin.talk"].sum()
    p = math.exp(-k * COVERAGE * DETECTION)
    within(f, t * p, math.sqrt(t * p * (1 - p)), "talk kept under deterrence")
    assert m["events.trip"].sum() == m["events_twin.trip"].sum()


def test_deterministic_and_the_same_for_any_number_of_shards():
    regions = [{"province": "P", "city": "A", "share": 0.5}, {"province": "Q", "city": "B", "share": 0.5}]
    sc = scenario(3000, 40, 11, household=True, regions=regions, **_sections())
    _, a = _run(sc)
    _, b = _run(sc)
    _, c = _run(sc, shards=2)
    for k in a.metrics:
        assert np.array_equal(a.metrics[k], b.metrics[k], equal_nan=True), k
        assert np.array_equal(a.metrics[k], c.metrics[k], equal_nan=True), k
    assert a.metrics["audio.mics.passenger_records"].sum() > 0


@pytest.mark.parametrize("change,needle", [
    ({"false_positive": 1.5}, "false_positive"),
    ({"trips": "walk"}, "walk"),
    ({"talk": "trip"}, "different behaviours"),
    ({"passengers": {"layer": "friends", "probability": 0.2}}, "household"),
    ({"passengers": {"probability": -0.1}}, "probability"),
    ({"volume": 3}, "volume"),
])
def test_bad_audio_blocks_fail_with_one_line(tmp_path, change, needle):
    sections = _sections(**change)
    data = {"population": {"people": 200}, "run": {"days": 5}, **sections}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    one_line_error(CliRunner().invoke(app, ["validate", str(path)]), needle)


def test_unobserved_trips_fail_with_one_line(tmp_path):
    sections = _sections()
    sections["channels"]["mics"]["observes"] = ["talk"]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"population": {"people": 200}, "run": {"days": 5}, **sections}))
    one_line_error(CliRunner().invoke(app, ["validate", str(path)]), "must observe 'trip'")
