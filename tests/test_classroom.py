"""Classroom monitoring of pupils (docs/classroom.md): records against their closed form
(coverage x school days x rate), records against parents only for pupils' acts and only about
the pupils' parents, counts_against none moves no score, a pupil's record corrected on appeal
takes the parents' points back, off = the other results unchanged, the chilling of the watched
conduct against the twin, sharding invariance, one-line errors.

Tolerances: Z = 4 standard deviations of the estimator (test_engine_theory), every run seeded.
Cost: five runs of 3,000 people (two regions) for 60 days, on the kernels the suite compiles anyway.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import scorelab
from scorelab import classroom as CL
from scorelab import metrics as M
from scorelab.report.findings import findings
from scorelab import vocabulary as V
from scorelab.cli import app
from scorelab.engine.sharded import simulate_sharded
from scorelab.engine.simulation import simulate
from scorelab.rng import fixed_uniform
from scorelab.tables import RunTables
from test_cli import one_line_error
from test_engine_theory import scenario, within

N, T, SEED = 3000, 60, 5
DAYS, MOODS = 0.7, 0.1                # per student and day
COVERAGE, DETECTION, FP, POINTS = 0.6, 0.5, 0.03, -20
REGIONS = [{"province": "P", "city": "A", "share": 0.5}, {"province": "Q", "city": "B", "share": 0.5}]
ACTIVE, REMOVED_APPEAL = 1, 2         # a record's state (kernel.constants)


def _sections(classroom: bool = True, **fields) -> dict:
    cams = {"observes": ["school_day", "moods"], "coverage": COVERAGE, "detection": DETECTION,
            "classroom": {"school_days": "school_day", "watched": "moods", "false_positive": FP,
                          "counts_against": "parents", **fields}}
    channels = {"police": {"observes": ["speeding"], "coverage": 0.8, "detection": 0.5}}
    if classroom:
        channels["cams"] = cams
    # pupils only: students under the scoring age (a scored student's records are their own)
    student = [{"when": {"student": False}, "factor": 0.0}, {"when": {"age": [18, 120]}, "factor": 0.0}]
    return dict(
        behaviours={"school_day": {"kind": "neutral", "rate": f"{DAYS} per day", "deterrability": 0.0,
                                   "modifiers": student},
                    "moods": {"kind": "disfavoured", "rate": f"{MOODS} per day", "modifiers": student},
                    "speeding": {"rate": "2 per year", "min_age": 18}},
        channels=channels,
        scoring={"rules": [{"behaviour": "speeding", "points": -5}, {"behaviour": "moods", "points": POINTS}]},
        grades=[{"name": "A", "from": 960}, {"name": "D", "below": 960}],
        consequences={"refused": {"kind": "refusal", "service": "loan", "grades": ["D"], "attempts": "12 per year"}},
        safeguards={"appeals": {"contested": 0.5, "success": 1.0, "delay": "20 days"}},
    )


def _scenario(classroom: bool = True, seed: int = SEED, **kw) -> scorelab.Scenario:
    extra = kw.pop("sections", {})
    return scenario(N, T, seed, household=True, regions=REGIONS, **{**_sections(classroom, **kw), **extra})


def _run(sc, shards: int = 0):
    pop, contacts = scorelab.build_population(sc)
    out = simulate_sharded(sc, pop, contacts, shards, backend="local") if shards else simulate(sc, pop, contacts)
    return pop, out


@pytest.fixture(scope="module")
def runs():
    """The same world with parents, with none, and without the classroom cameras."""
    sc = _scenario()
    pop, parents = _run(sc)
    _, none = _run(_scenario(counts_against="none"))
    _, off = _run(_scenario(classroom=False))
    return sc, pop, parents, none, off


def _cams(sc, out):
    rec = out.records
    mine = rec["chan"] == list(sc.channels).index("cams")
    return {k: np.asarray(v)[mine] for k, v in rec.items()}


def test_records_match_coverage_times_school_days_times_rate(runs):
    """Covered students are those whose fixed coverage draw is below the coverage; their
    covered school days and acts are Poisson (students x rate x days); false positives binomial
    on the covered days (FP), conduct seen binomial on the covered acts (DETECTION). Records about
    pupils are those about unscored students; each adds one record against each of the first two
    scored members of the household (exact, from the records table)."""
    sc, pop, out, _, _ = runs
    m = out.metrics
    student = (np.asarray(pop.school) >= 0) & (np.asarray(pop.age) < 18)
    covered = student & (fixed_uniform(sc.run.seed, "channel.cams.coverage", np.arange(pop.n)) < COVERAGE)
    n = int(covered.sum())
    days, acts = m["classroom.cams.school_days"].sum(), m["classroom.cams.acts"].sum()
    hits, fp = m["classroom.cams.hits"].sum(), m["classroom.cams.false_positives"].sum()
    within(days, n * DAYS * T, math.sqrt(n * DAYS * T), "covered school days")
    within(acts, n * MOODS * T, math.sqrt(n * MOODS * T), "covered acts")
    within(fp, n * DAYS * T * FP, math.sqrt(n * DAYS * T * FP), "coverage x school days x rate")
    within(fp, days * FP, math.sqrt(days * FP * (1 - FP)), "false positives on the covered days")
    within(hits, acts * DETECTION, math.sqrt(acts * DETECTION * (1 - DETECTION)), "conduct seen")
    assert fp > 50 and hits > 500
    r = _cams(sc, out)
    own = r["subj"] == r["actor"]
    scored = out.people["grade"] != 255
    pupil = own & ~scored[r["actor"]]
    assert int(pupil.sum()) == m["classroom.cams.pupil_records"].sum() > 0
    assert int((pupil & (r["err"] == 2)).sum()) == m["classroom.cams.pupil_records_false"].sum() > 0
    assert int((~own).sum()) == m["classroom.cams.parent_records"].sum() > 0
    assert int((~own & (r["err"] == 2)).sum()) == m["classroom.cams.parent_records_false"].sum()
    assert np.all(covered[r["actor"]]), "every record comes from a covered student"
    # each pupil's record is made against its first two scored household members, and nobody else
    hh = np.asarray(pop.household_start)
    home = np.searchsorted(hh, r["actor"], side="right") - 1
    assert np.all(home[~own] == np.searchsorted(hh, r["subj"][~own], side="right") - 1)
    assert np.all(scored[r["subj"][~own]]) and not np.any(scored[r["actor"][~own]])
    parents = [sum(1 for x in range(hh[h], hh[h + 1]) if scored[x]) for h in home[pupil]]
    assert int((~own).sum()) == sum(min(p, 2) for p in parents)
    # the per-person counter: records made against each person for a pupil's act
    counts = np.bincount(r["subj"][~own].astype(np.int64), minlength=pop.n)
    assert np.array_equal(out.people["records_for_child"][: pop.n], counts[: pop.n])


def test_none_moves_no_score_and_off_changes_nothing_else(runs):
    """counts_against none: pupils' records are held by the school and move nobody's score; with
    responses off and no other change, every other metric is the same as without the cameras."""
    _, _, _, none, off = runs
    assert np.array_equal(none.people["score"], off.people["score"], equal_nan=True)
    assert none.metrics["classroom.cams.parent_records"].sum() == 0 and none.metrics["classroom.parent_sanctions"].sum() == 0
    for k, v in off.metrics.items():
        if k.startswith(("data.", "regions.", "records_removed.")) or k.endswith(".records_held"):
            continue  # (the cameras' records: data held about pupils, in their regions, some removed on appeal)
        assert np.array_equal(v, none.metrics[k], equal_nan=True), k
    assert none.metrics["data.records_held"][-1] > off.metrics["data.records_held"][-1]
    assert set(none.metrics) - set(off.metrics) == {k for k in none.metrics if k.startswith(("classroom.", "records.cams."))}
    assert off.metrics["records_removed.appeal"].sum() == 0 < none.metrics["records_removed.appeal"].sum()


def test_parents_only_parents_of_observed_pupils_move_and_corrections_reverse(runs):
    """With parents, a scored person's end score differs from the world without cameras by
    exactly the points of the live records against them for a pupil's act: those corrected on
    appeal (false positives contested, 20 days on) took their points back, so nobody else moves."""
    sc, pop, out, _, off = runs
    r = _cams(sc, out)
    against = (r["subj"] != r["actor"])
    scored = out.people["grade"] != 255
    live = np.bincount(r["subj"][against & (r["state"] == ACTIVE)].astype(np.int64), minlength=pop.n)[: pop.n]
    diff = out.people["score"][: pop.n] - off.people["score"][: pop.n]
    assert np.array_equal(diff[scored[: pop.n]], POINTS * live[scored[: pop.n]])
    moved = np.flatnonzero(scored[: pop.n] & (diff != 0))
    assert moved.size > 0 and np.all(out.people["records_for_child"][moved] > 0), "a score moved without a pupil's record"
    removed = against & (r["state"] == REMOVED_APPEAL)
    assert removed.sum() > 0 and np.all(r["err"][removed] == 2), "only erroneous records are corrected on appeal"
    # sanctions after a record against the parent: some, and only of people with one
    sanctions = out.metrics["classroom.parent_sanctions"].sum()
    assert 0 < sanctions <= out.people["sanctions"][out.people["records_for_child"] > 0].sum()


def test_headline_table_and_two_shards(runs):
    """The headline figures and the metric table say what the per-step block says; two shards
    give the single process's metrics exactly."""
    sc, pop, out, _, _ = runs
    r = RunTables.from_output(out, sc, pop)
    head, m = M.headline(r), out.metrics
    assert head[V.PUPIL_RECORDS] == m["classroom.cams.pupil_records"].sum()
    assert head[V.PUPIL_RECORDS_ERRONEOUS] == m["classroom.cams.pupil_records_false"].sum()
    assert head[V.PARENT_RECORDS_FOR_PUPILS] == m["classroom.cams.parent_records"].sum()
    assert head[V.PARENT_SANCTIONS_FOR_PUPILS] == m["classroom.parent_sanctions"].sum() > 0
    row = CL.classroom(r).row(0, named=True)
    assert (row["channel"], row["hits"]) == ("cams", m["classroom.cams.hits"].sum())
    assert r.people.get_column("records_for_child").sum() == row["parent_records"]
    _, two = _run(sc, shards=2)
    for k in out.metrics:
        assert np.array_equal(out.metrics[k], two.metrics[k], equal_nan=True), k


def test_parquet_query_and_report(runs, tmp_path):
    """A saved run: the block in metrics.parquet, the per-person counter in people.parquet,
    `scorelab query` reads them, the report's findings name them."""
    sc, _, out, _, _ = runs
    scorelab.run(sc, out=tmp_path / "run", people_state=True)
    back = scorelab.Result.open(tmp_path / "run")
    fp = out.metrics["classroom.cams.false_positives"].sum()
    assert back.metrics.get_column("classroom.cams.false_positives").sum() == fp
    assert back.people.get_column("records_for_child").sum() == out.metrics["classroom.cams.parent_records"].sum()
    q = CliRunner().invoke(app, ["query", 'SELECT sum("classroom.cams.false_positives") AS fp FROM metrics',
                                 "--runs", str(tmp_path), "--format", "csv"])
    assert q.exit_code == 0 and q.output.strip().splitlines()[-1].split(",")[-1].strip() in (str(fp), f"{fp}.0"), q.output
    lines = findings(back)  # (the report's key findings; its headline table is metrics.headline, checked above)
    assert any(x.startswith("Classroom cameras (cams) made") for x in lines)
    assert any("sanctions fell on parents after a pupil's record" in x for x in lines)


def test_the_watched_conduct_is_chilled_against_the_twin():
    """Everyone aware, deterrence k: the conduct is kept with probability exp(-k d r), r = coverage
    x detection, in the factual world only; school days (deterrability 0) do not change."""
    k = 1.5
    sc = _scenario(sections={"responses": {"awareness": {"initial": 1.0}, "deterrence": k}})
    _, out = _run(sc)
    m = out.metrics
    f, t = m["events.moods"].sum(), m["events_twin.moods"].sum()
    p = math.exp(-k * COVERAGE * DETECTION)
    within(f, t * p, math.sqrt(t * p * (1 - p)), "conduct kept under deterrence")
    assert m["events.school_day"].sum() == m["events_twin.school_day"].sum()


@pytest.mark.parametrize("change,needle", [
    ({"false_positive": 1.5}, "false_positive"),
    ({"school_days": "walk"}, "walk"),
    ({"watched": "school_day"}, "different behaviours"),
    ({"counts_against": "pupil_later"}, "counts_against"),
])
def test_bad_classroom_blocks_fail_with_one_line(tmp_path, change, needle):
    data = {"population": {"people": 200}, "run": {"days": 5}, **_sections(**change)}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    one_line_error(CliRunner().invoke(app, ["validate", str(path)]), needle)


def test_parents_need_children(tmp_path):
    data = {"population": {"people": 200}, "run": {"days": 5}, **_sections()}
    data["scoring"]["min_age"] = 0
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    one_line_error(CliRunner().invoke(app, ["validate", str(path)]), "nobody is a pupil")
