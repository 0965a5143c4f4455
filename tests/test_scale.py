"""Per-capita results do not depend on ``--scale`` (docs/scale.md).

Each built-in scenario runs at two scales (a small one with many replicates, one five
times larger with fewer), seeds ``1..R`` of the same family. Every extensive headline
figure read per 1,000 people, and every grade share, must agree between the scales within
5 standard errors of the difference. The variance per person is pooled from the replicates
of both scales (rates of a population of N vary as sigma^2 / N) and floored by the Poisson
variance of a count (1,000 x the rate per 1,000) or the binomial one of a share
(p (1 - p)). With 16 + 4 replicates (18 degrees of freedom) a |t| above 5 happens by chance
about once in 10,000 comparisons; the test makes about 100.

A preset that only changes values of another (``SAME_PARTS``) is checked through it.
The steady state after a burn-in is checked on rongcheng-2018 (where a scale bug was once
found); the other scenarios start their window from an empty state (``run.burn_in: 0``), which
exercises the same scaled capacities and watchlists at a third (national) to a quarter
(city presets) of the cost. Before absolute counts were scaled (flag capacities, the watchlist
a face is searched against) the Rongcheng runs failed this by far more (income lost,
flags served).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import scorelab
from scorelab import metrics, vocabulary
from scorelab.scenario.loader import preset_names

#: the small scale of each preset (the large one is FACTOR times it)
SCALES = {
    "rongcheng-2018": 0.02, "safeguarded": 0.02, "national-2027": 1e-5,
    "corporate": 0.02, "zhima-index": 0.02, "lending-feedback": 0.2, "lending-feedback-all": 0.2,
}
#: presets that are another with values changed (no part added or removed): they scale as it does
SAME_PARTS = {"national-2027-ihs": ("national-2027", {"channels.cameras.coverage"})}
R_SMALL, R_LARGE, FACTOR, Z = 16, 4, 5, 5.0
#: the presets checked after their burn-in; the others run with none
WITH_BURN_IN = {"rongcheng-2018"}


def _rates(name: str, scale: float, seed: int) -> tuple[int, dict[str, float]]:
    sets = {"run.seed": seed} if name in WITH_BURN_IN else {"run.seed": seed, "run.burn_in": 0}
    sc = scorelab.load(name, sets, scale=scale)
    head = metrics.headline(scorelab.run(sc, check_memory=False))
    out = metrics.per_thousand(head)
    out.update({k: float(v) for k, v in head.items() if k.startswith("grade ") and k.endswith(" share")})
    return sc.population.people, out


def compare(name: str, small: float) -> list[tuple[str, float, float, float]]:
    """(figure, rate at the small scale, rate at 5x, z) for every figure not zero at both."""
    runs_a = [_rates(name, small, seed) for seed in range(1, R_SMALL + 1)]
    runs_b = [_rates(name, small * FACTOR, seed) for seed in range(1, R_LARGE + 1)]
    n_a, n_b = runs_a[0][0], runs_b[0][0]
    rows = []
    for key in runs_a[0][1]:
        a = np.array([r[key] for _, r in runs_a])
        b = np.array([r[key] for _, r in runs_b])
        if not a.any() and not b.any():
            continue
        # variance per person, pooled over both scales' replicates (a rate over N people varies as s2 / N)
        s2 = (n_a * a.var(ddof=1) * (len(a) - 1) + n_b * b.var(ddof=1) * (len(b) - 1)) / (len(a) + len(b) - 2)
        pooled = (a.sum() * n_a + b.sum() * n_b) / (len(a) * n_a + len(b) * n_b)
        share = key.endswith(" share")
        floor = pooled * (1 - pooled) if share else 1000.0 * abs(pooled)
        if key not in vocabulary.EVENT_COUNTS and not share:
            floor = 0.0  # (money and people-days: no count to floor them with)
        s2 = max(s2, floor, 1e-12)
        se = math.sqrt(s2 / (n_a * len(a)) + s2 / (n_b * len(b)))
        rows.append((key, float(a.mean()), float(b.mean()), abs(a.mean() - b.mean()) / se))
    return rows


def test_every_preset_has_scales():
    assert sorted([*SCALES, *SAME_PARTS]) == preset_names()


def _flat(d: object, prefix: str = "") -> dict[str, object]:
    if isinstance(d, dict):
        return {k: v for key, sub in d.items() for k, v in _flat(sub, f"{prefix}{key}.").items()}
    return {prefix[:-1]: d}


@pytest.mark.parametrize("name", sorted(SAME_PARTS))
def test_a_preset_checked_through_another_differs_from_it_in_the_named_values_only(name):
    base, values = SAME_PARTS[name]
    a = _flat(scorelab.load(name).model_dump(mode="json"))
    b = _flat(scorelab.load(base).model_dump(mode="json"))
    differ = {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)} - {"name", "description"}
    assert differ == values, f"{name} differs from {base} in {sorted(differ)}: give it scales of its own"


@pytest.mark.parametrize("name", sorted(SCALES))
def test_per_capita_rates_do_not_depend_on_scale(name):
    rows = compare(name, SCALES[name])
    assert rows, "no figure to compare"
    bad = [f"{k}: {a:.4g} at {SCALES[name]:g} vs {b:.4g} at {SCALES[name] * FACTOR:g} per 1,000 (z = {z:.1f})"
           for k, a, b, z in rows if z > Z]
    assert not bad, f"{name}: per-capita figures change with --scale:\n" + "\n".join(bad)


def test_scale_keeps_the_described_population_and_scales_its_counts():
    whole = scorelab.load("rongcheng-2018")
    s = scorelab.load("rongcheng-2018", scale=0.05)
    assert (s.population.people, s.population.represents) == (33_500, 670_000)
    assert s.population.scale == pytest.approx(0.05)
    from scorelab.engine.plan import compile_plan

    small = {"population.people": 2000, "run.days": 1}
    pop, contacts = scorelab.build_population(scorelab.load("rongcheng-2018", small), layers="read")
    plan = compile_plan(scorelab.load("rongcheng-2018", small), pop, contacts)
    fixed = compile_plan(scorelab.load("rongcheng-2018", {**small, "flags.suspicious.fixed_capacity": True}),
                         pop, contacts)
    cap = whole.flags["suspicious"].capacity
    assert plan.params.f_cap[0] == pytest.approx(cap * 2000 / 670_000)
    assert fixed.params.f_cap[0] == pytest.approx(cap)
    assert plan.params.c_id_wfac.max() == pytest.approx(670_000 / 2000)
    # a scenario with no 'represents' describes the people it simulates, unless scaled
    mine = {"extends": "zhima-index", "population": {"represents": None}}
    assert scorelab.load(mine).population.scale == 1.0
    assert scorelab.load(mine, scale=0.1).population.represents == 200_000


def test_a_bad_scale_is_one_clear_error():
    with pytest.raises(scorelab.ScenarioError, match="scale must be > 0"):
        scorelab.load("zhima-index", scale=0)


if __name__ == "__main__":  # the table of docs/scale.md: python tests/test_scale.py
    for preset in sorted(SCALES):
        found = compare(preset, SCALES[preset])
        print(f"## {preset} ({SCALES[preset]:g} x{R_SMALL} vs {SCALES[preset] * FACTOR:g} x{R_LARGE}); "
              f"largest z {max(z for *_, z in found):.2f}")
        for key, a, b, z in found:
            print(f"  {key}: {a:.4g} | {b:.4g} | z {z:.2f}")
