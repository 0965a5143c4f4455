"""Coming of age (``scoring.coming_of_age``, docs/scoring.md#coming-of-age) and a school's records
that count against the pupil later (``counts_against: pupil_later``, docs/classroom.md).

People come of age at the rate their ages give; the grade histograms grow by exactly those who
did; a pupil's live classroom records count once the pupil is scored with pupil_later and never
with none (records removed on appeal before never count); two shards give the single process's
results; the one-line errors.

Tolerances: Z = 4 standard deviations of the estimator (test_engine_theory), every run seeded.
Cost: three runs of 3,000 people (two regions) for 200 days, on the kernels the suite compiles.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from scorelab.cli import app
from test_classroom import N, POINTS, SEED, _run, _sections
from test_cli import one_line_error
from test_engine_theory import scenario, within

T = 200
MIN_AGE = 18
BASE = 1000.0


def _scenario(counts_against: str = "pupil_later", coming_of_age: bool = True):
    sections = _sections(counts_against=counts_against)
    sections["scoring"] = {**sections["scoring"], "coming_of_age": coming_of_age, "min_age": MIN_AGE}
    regions = [{"province": "P", "city": "A", "share": 0.5}, {"province": "Q", "city": "B", "share": 0.5}]
    return scenario(N, T, SEED, household=True, regions=regions, **sections)


@pytest.fixture(scope="module")
def runs():
    """The same world with a pupil's records counting later, and never."""
    sc = _scenario()
    pop, later = _run(sc)
    _, none = _run(_scenario("none"))
    return sc, pop, later, none


def _came_of_age(out) -> tuple[np.ndarray, np.ndarray]:
    """Who came of age in the reported run, and at which step (the plan's schedule)."""
    P = out.plan.params
    return P.coa_ent.astype(np.int64), P.coa_step.astype(np.int64)


def test_people_come_of_age_at_the_rate_their_ages_give(runs):
    """A person of whole age a at day 0 is a + u years old, u uniform; within T < 365.25 days
    only those of age 17 reach 18, each with probability T / 365.25 (binomial). Exactly those
    are scored at the end among the people under 18 at the start, each from the step the
    schedule gives, and every step's ``ageing.came_of_age`` counts the schedule's."""
    sc, pop, out, _ = runs
    age = np.asarray(pop.age)
    n17 = int((age == MIN_AGE - 1).sum())
    p = T / 365.25
    came = out.metrics["ageing.came_of_age"]
    within(came.sum(), n17 * p, math.sqrt(n17 * p * (1 - p)), "people coming of age")
    ent, step = _came_of_age(out)
    assert came.sum() == ent.size > 0 and np.all(age[ent] == MIN_AGE - 1)
    assert np.array_equal(came, np.bincount(step, minlength=came.size))
    scored = out.people["grade"][: pop.n] != 255
    assert set(np.flatnonzero(scored & (age < MIN_AGE))) == set(ent.tolist())
    assert np.all(scored[age >= MIN_AGE])


def test_the_grade_histogram_grows_by_those_who_came_of_age(runs):
    """Conservation: at every step's end the people in grades are those scored at the start
    plus those who came of age so far (nobody leaves scoring)."""
    sc, pop, out, _ = runs
    graded = sum(out.metrics[f"grades.{g.name}"] for g in sc.grades)
    start = int((np.asarray(pop.age) >= MIN_AGE).sum())
    assert np.array_equal(graded, start + np.cumsum(out.metrics["ageing.came_of_age"]))


def test_a_pupils_live_records_count_later_only_with_pupil_later(runs):
    """No social or association term, no bounds: a scored person's score is the base plus the
    points of the live records about them. With pupil_later, everyone who came of age ends at
    base + POINTS x their live classroom records (those removed on appeal took nothing along);
    with none, only the records made once they were scored count. ``ageing.records_carried``
    counts the live records each had when they came of age."""
    sc, pop, later, none = runs
    ent, step = _came_of_age(later)
    cams = list(sc.channels).index("cams")
    for out, counted_from in ((later, None), (none, step)):
        r = out.records
        own = (r["chan"] == cams) & (r["subj"] == r["actor"]) & (r["state"] == 1)
        subj, made = r["subj"][own].astype(np.int64), r["step"][own].astype(np.int64)
        at = np.full(pop.n, -1, dtype=np.int64)
        at[ent] = step
        if counted_from is not None:  # (only records made from the step the subject came of age)
            keep = made >= at[subj]
            subj = subj[keep]
        live = np.bincount(subj, minlength=pop.n)[ent]
        assert np.array_equal(out.people["score"][ent], BASE + POINTS * live)
    assert later.metrics["ageing.records_carried"].sum() > 0
    assert later.people["score"][ent].sum() < none.people["score"][ent].sum()
    # the records removed on appeal before coming of age are not among those that count
    r = later.records
    gone = (r["chan"] == cams) & (r["state"] == 2) & np.isin(r["subj"], ent)
    assert gone.sum() > 0


def test_two_shards_give_the_single_process(runs):
    """Coming of age is done by the region's worker: two shards, the same metrics and people."""
    sc, _, out, _ = runs
    _, two = _run(sc, shards=2)
    for k in out.metrics:
        assert np.array_equal(out.metrics[k], two.metrics[k], equal_nan=True), k
    assert np.array_equal(out.people["score"], two.people["score"], equal_nan=True)


@pytest.mark.parametrize("scoring, needle", [
    ({"min_age": 18}, "counts_against: pupil_later needs scoring.coming_of_age: true"),
    ({"min_age": 0, "coming_of_age": True}, "counts_against: pupil_later reaches pupils"),
])
def test_pupil_later_without_anyone_to_come_of_age_is_one_line(tmp_path, scoring, needle):
    data = {"extends": "rongcheng-2018",
            "behaviours": {"school_day": {"kind": "neutral", "rate": "0.5 per day"},
                           "moods": {"kind": "disfavoured", "rate": "2 per month"}},
            "channels": {"cams": {"observes": ["school_day", "moods"], "coverage": 0.3, "detection": 0.5,
                                  "classroom": {"school_days": "school_day", "watched": "moods",
                                                "false_positive": 0.02, "counts_against": "pupil_later"}}},
            "scoring": scoring}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    for cmd in (["validate", str(path)], ["run", str(path), "--out", str(tmp_path / "o")]):
        one_line_error(CliRunner().invoke(app, cmd), "channels.cams.classroom.counts_against", needle)
    assert not (tmp_path / "o").exists()
