"""What is known about a person (the pooled data space): the records held about each person,
the distinct channels and domains holding them, and the per-step data.* series, checked
against the records store itself; none in the twin or with every channel off; per-person
figures that do not depend on --scale (docs/metrics.md#data-held)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

import scorelab
from scorelab import metrics, metrics_data
from scorelab.engine import kernel
from scorelab.engine.simulation import simulate
from scorelab.errors import UsageError
from test_sharded import FOUR_CITIES


@pytest.fixture(scope="module")
def case():
    sc = scorelab.load(copy.deepcopy(FOUR_CITIES))
    pop, contacts = scorelab.build_population(sc)
    return sc, pop, contacts, simulate(sc, pop, contacts)


def _live(out, n):
    """Live records about people in the records handed back: (subject, channel, behaviour)."""
    rec = out.records
    live = (rec["state"] == kernel.ACTIVE) & (rec["subj"] < n)
    return rec["subj"][live].astype(np.int64), rec["chan"][live].astype(np.int64), rec["beh"][live].astype(np.int64)


def test_records_held_are_the_records_stores_live_records(case):
    sc, pop, contacts, out = case
    n = pop.n
    subj, chan, beh = _live(out, n)
    assert len(subj) > 1000 and (out.records["state"] != kernel.ACTIVE).sum() > 100  # (some were removed)
    held = out.people["records_held"]
    assert np.array_equal(held, np.bincount(subj, minlength=n))
    assert held.sum() == len(subj)
    # distinct channels and behaviour domains per person, from unique pairs
    assert np.array_equal(out.people["channels_holding"], np.bincount(np.unique(subj * 256 + chan) // 256, minlength=n))
    dom = out.plan.params.b_domain[beh]
    assert np.array_equal(out.people["domains_holding"], np.bincount(np.unique(subj * 256 + dom) // 256, minlength=n))
    assert out.people["domains_holding"].max() >= 2 and out.people["channels_holding"].max() >= 2
    # the stocks at the end of the last step
    assert out.metrics["data.records_held"][-1] == held.sum()
    assert out.metrics["data.people_with_data"][-1] == (held > 0).sum()


def test_the_series_are_stocks_that_follow_rollout(case):
    *_, out = case
    rec, ppl = out.metrics["data.records_held"], out.metrics["data.people_with_data"]
    assert np.all(ppl <= rec) and np.all(ppl >= 0)
    assert rec[0] > 0  # the burn-in's records are held at the reported start
    assert rec[-1] > rec[0]


@pytest.mark.parametrize("how", ["scoring off (the twin)", "every channel off"])
def test_nothing_is_held_without_the_system(case, how):
    sc = copy.deepcopy(FOUR_CITIES)
    sc["run"]["days"] = 40
    if how.startswith("scoring"):
        sc["scoring"]["enabled"] = False
    else:
        sc["safeguards"]["disabled_channels"] = list(sc["channels"])
    r = scorelab.run(scorelab.load(sc), check_memory=False)
    assert r.people.get_column("records_held").sum() == 0
    assert r.people.get_column("channels_holding").sum() == 0
    assert r.metrics.get_column("data.records_held").abs().sum() == 0
    assert r.summary()["records held about people at end"] == 0.0
    assert r.data_held().get_column("share_with_data").fill_null(0).max() == 0.0


def test_the_api_the_table_and_the_report(tmp_path):
    from test_results import tiny

    r = scorelab.run(scorelab.load(tiny(people=800, days=30)), check_memory=False)
    d = r.data_held("group")
    everyone = d.filter(d.get_column("group").is_null()).row(0, named=True)
    assert everyone["people"] == 800
    assert everyone["records_per_person"] == pytest.approx(r.people.get_column("records_held").mean())
    assert everyone["share_with_data"] == pytest.approx((r.people.get_column("records_held") > 0).mean())
    assert everyone["twin_records_per_person"] == 0.0
    assert r.summary()["people with data held at end"] == everyone["people_with_data"]
    s = r.data_series()
    assert s.height == 30 and s.get_column("records_held")[-1] == r.people.get_column("records_held").sum()
    with pytest.raises(UsageError, match="by must be one of"):
        r.data_held("age")
    from scorelab.report import render

    page = render([r])
    assert "What is known about a person" in page and "data-plot='data_held'" in page


def _per_person(scale: float) -> tuple[float, float, int]:
    sc = scorelab.load("rongcheng-2018", {"run.days": 60, "run.burn_in": 0, "run.seed": 3}, scale=scale)
    r = scorelab.run(sc, check_memory=False, people_state=False)
    held = r.people.get_column("records_held").to_numpy().astype(float)
    return held.mean(), held.var(ddof=1), held.size


def test_records_per_person_do_not_depend_on_scale():
    """Records held per person at two scales agree within 5 standard errors of the difference
    (per-person variance from each run's people)."""
    (m1, v1, n1), (m2, v2, n2) = _per_person(0.01), _per_person(0.05)
    assert n2 > 4 * n1 and m1 > 0
    z = (m1 - m2) / math.sqrt(v1 / n1 + v2 / n2)
    assert abs(z) < 5, (m1, m2, z)
    head = metrics.per_thousand({"people": float(n1), "records held about people at end": m1 * n1})
    assert head["records held about people at end"] == pytest.approx(1000 * m1)


def test_an_older_folder_says_what_it_lacks(tmp_path):
    from test_results import tiny

    r = scorelab.run(scorelab.load(tiny(people=300, days=5)), check_memory=False)
    r.groups = r.groups.drop("records_held")
    with pytest.raises(UsageError, match="results format 3"):
        metrics_data.data_held(r)
