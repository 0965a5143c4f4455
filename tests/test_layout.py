"""The day-loop state and the per-step metrics are laid out once (scorelab.engine.layout): the
kernels' State has its arrays, a run allocates them, and the memory estimate counts them."""

from __future__ import annotations

import numpy as np
import pytest

import scorelab
from scorelab import memory
from scorelab.engine import kernel, layout
from scorelab.engine.plan import compile_plan
from scorelab.engine.simulation import _alloc_state, state_sizes


def test_the_state_is_the_layout():
    assert kernel.State._fields == tuple(a.name for a in layout.STATE)
    grown = {a.name for a in layout.STATE if a.grown}
    assert set(kernel.GROWN_IN_KERNEL) <= grown
    assert grown - set(kernel.GROWN_IN_KERNEL) == set(layout.RECORD_COLUMNS) | set(layout.POOL_COLUMNS)


@pytest.mark.parametrize("name", ["rongcheng-2018", "safeguarded", "zhima-index", "corporate"])
def test_the_estimate_counts_the_state_a_run_allocates(name):
    """The estimate's day-loop state is the layout's fixed arrays at the scenario's sizes; a
    run allocates those arrays at the plan's sizes. The two agree within 1 % (the estimate
    guesses the number of firms and of region signatures) and exactly in the per-entity part."""
    sc = scorelab.load(name, {"population.people": 3000})
    pop, contacts = scorelab.build_population(sc, layers="read")
    plan = compile_plan(sc, pop, contacts)
    S = _alloc_state(plan, pop)
    allocated = sum(getattr(S, a.name).nbytes for a in layout.STATE if not a.grown)
    assert allocated == layout.fixed_bytes(state_sizes(plan))
    est = memory.estimate(scorelab.load(name, {"population.people": 3000})).parts["day-loop state"]
    sizes = state_sizes(plan)
    per_entity = (layout.fixed_bytes(sizes._replace(people=sizes.people + 1000)) - layout.fixed_bytes(sizes)) / 1000
    firms_guess = max(1, 3000 // 15)
    assert abs(est - allocated) <= 0.01 * allocated + abs(firms_guess - sizes.firms) * per_entity + 4096, (est, allocated)


def test_score_views_are_counted_only_under_purpose_limitation():
    """A consequence that names domains adds a pair of score views only when purpose limitation
    is on (the estimate once counted them regardless)."""
    over = {"population.people": 2000, "consequences.loan_refusal.domains": ["finances"]}
    for on in (False, True):
        sc = scorelab.load("rongcheng-2018", {**over, "safeguards.purpose_limitation": on})
        pop, contacts = scorelab.build_population(sc, layers="read")
        plan = compile_plan(sc, pop, contacts)
        views = 4 if on else 2
        assert plan.params.n_views == views
        est_off = memory.estimate(sc).parts["day-loop state"]
        assert est_off >= layout.fixed_bytes(state_sizes(plan)) * 0.99


def test_metric_names_follow_the_blocks():
    sc = scorelab.load("rongcheng-2018", {"population.people": 500, "run.days": 2, "run.burn_in": 0})
    pop, contacts = scorelab.build_population(sc, layers="read")
    plan = compile_plan(sc, pop, contacts)
    offsets, names = layout.metric_layout(plan)
    assert len(offsets) == len(layout.BLOCKS) and np.all(np.diff(offsets) >= 0)
    k = plan.consequence_names.index("loan_refusal")
    assert names[offsets[kernel.MO_CONS] + kernel.K_COLS * k + kernel.CC_MONEY] == "consequences.loan_refusal.money"
    l = plan.list_names.index("watchlist")
    assert names[offsets[kernel.MO_LIST] + kernel.L_COLS * l + kernel.LC_WSTOCK] == "lists.watchlist.wrongful_stock"
