"""The reduced scenario the peer benchmarks share (benchmarks/reduced.py): its closed form and
the vectorised grading that the Starsim and numpy versions use, checked against each other and
against the numpy version of the model (benchmarks/bench_vs_starsim.py), without Mesa or
Starsim and without compiling a kernel. A wrong closed form would make every benchmark's
agreement check meaningless."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
_env = dict(os.environ)
import bench_vs_starsim  # noqa: E402
import reduced  # noqa: E402

# the benchmark pins its threads to one when imported; the rest of this test process keeps its own
os.environ.clear()
os.environ.update(_env)

DAYS = 30


@pytest.fixture(scope="module")
def theory() -> dict:
    return reduced.theory(DAYS)


def test_vectorised_grades_match_the_bands() -> None:
    scores = np.array([-50.0, 69.0, 69.999, 70.0, 89.5, 90.0, 99.0, 100.0, 100.5, 300.0])
    assert reduced.grades_of(scores).tolist() == [reduced.grade_of(s) for s in scores] == [3, 3, 3, 2, 2, 1, 1, 0, 0, 0]


def test_closed_form_is_a_distribution_with_its_mean(theory: dict) -> None:
    """The grade probabilities sum to 1; the score's pmf, summed on its grid, has the stated mean."""
    assert theory["grades"].sum() == pytest.approx(1.0, abs=1e-12)
    assert reduced.theory_grade_probs(0.0001)[0] == pytest.approx(1.0, abs=1e-6)  # no records yet: all in A
    lams = [r * reduced.DETECTION * DAYS / reduced.YEAR for r, _ in reduced.BEHAVIOURS.values()]
    mean = reduced.BASE + sum(d * lam for lam, (_, d) in zip(lams, reduced.BEHAVIOURS.values()))
    assert theory["mean"] == pytest.approx(mean, rel=1e-12)


def test_numpy_model_agrees_with_the_closed_form(theory: dict) -> None:
    """20,000 people for 30 days of the vectorised model: every statistic within 4 sd of theory."""
    n = 20_000
    friends = SimpleNamespace(indptr=np.zeros(n + 1, dtype=np.int64), indices=np.zeros(0, dtype=np.int64))
    _, _, out = bench_vs_starsim.run_numpy(np.ones(n, dtype=bool), friends, DAYS, seed=7)
    assert out["n"] == n
    assert abs(out["mean"] - theory["mean"]) <= reduced.Z * out["mean_sd"]
    assert np.all(np.abs(out["shares"] - theory["grades"]) <= reduced.Z * out["shares_sd"])
    assert abs(out["ref"] - theory["refusals"]) <= reduced.Z * out["ref_sd"]
    assert reduced.agreement(out, out, theory, "numpy", show=False)
