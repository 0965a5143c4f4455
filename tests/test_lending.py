"""The lending-feedback preset (FACTS: ml-fairness-gym lending) against its Markov chain.

Each adult applies at the times of a Poisson process (rate r); an applicant whose level is in
the policy's grades is granted a loan, repays with probability p(level) and moves one level up,
or defaults and moves one level down (bounded at 0 and 6); a refused applicant stays. So each
person's level is a continuous-time Markov chain with generator r (M - I), and the level shares
after T days are  pi0 exp(r T (M - I)) = sum_n Poisson(n; r T) pi0 M^n,  with pi0 the group's
starting shares.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

import scorelab

REPAY = [0.1, 0.2, 0.45, 0.6, 0.65, 0.7, 0.7]  # FACTS
START = {
    "advantaged": [0, 0.1, 0.1, 0.2, 0.3, 0.3, 0],  # FACTS
    "disadvantaged": [0.1, 0.1, 0.2, 0.3, 0.3, 0, 0],
}
DAYS = 365


def expected_shares(pi0: list[float], lend: set[int], rate_per_day: float, days: float) -> np.ndarray:
    """Level shares after `days` from the uniformised chain (Poisson mixture of M^n)."""
    m = np.eye(7)
    for level in lend:
        m[level] = 0.0
        m[level, min(6, level + 1)] += REPAY[level]
        m[level, max(0, level - 1)] += 1 - REPAY[level]
    mean = rate_per_day * days
    n_max = int(mean + 12 * math.sqrt(mean) + 30)
    dist = np.array(pi0, dtype=float)
    out = np.zeros(7)
    log_p = -mean
    for n in range(n_max + 1):
        if n > 0:
            dist = dist @ m
            log_p += math.log(mean) - math.log(n)
        out += math.exp(log_p) * dist
    return out


def run_levels(name: str, days: int = DAYS) -> pl.DataFrame:
    r = scorelab.run(name, {"run.days": days})
    return r.people.filter(pl.col("grade").is_not_null()).select("group", "start_score", "score")


@pytest.mark.parametrize("name, lend", [("lending-feedback", {3, 4, 5, 6}), ("lending-feedback-all", set(range(7)))])
def test_level_shares_follow_the_markov_chain(name: str, lend: set[int]) -> None:
    """Start shares match FACTS, and end shares match pi0 exp(rT(M - I)) for both groups and both
    policies; tolerance 4 binomial standard errors per level (plus 0.002 for the few people whose
    draw was within rounding of a share boundary). Refused applicants never move."""
    people = run_levels(name)
    rate = 12 / 365.25  # one application a month
    for group, pi0 in START.items():
        g = people.filter(pl.col("group") == group)
        n = g.height
        assert n > 3000
        start = np.bincount(g.get_column("start_score").to_numpy().astype(int), minlength=7) / n
        end = np.bincount(g.get_column("score").to_numpy().round().astype(int), minlength=7) / n
        want = expected_shares(pi0, lend, rate, DAYS)
        for level in range(7):
            tol_start = 4 * math.sqrt(pi0[level] * (1 - pi0[level]) / n) + 0.002
            assert abs(start[level] - pi0[level]) <= tol_start, (group, level, start[level], pi0[level])
            tol = 4 * math.sqrt(want[level] * (1 - want[level]) / n) + 0.002
            assert abs(end[level] - want[level]) <= tol, (name, group, level, end[level], want[level])
        # levels stay whole numbers within the bounds
        scores = g.get_column("score").to_numpy()
        assert np.all(scores == np.round(scores)) and scores.min() >= 0 and scores.max() <= 6
    if lend == {3, 4, 5, 6}:
        stuck = people.filter(pl.col("start_score") < 3)
        assert (stuck.get_column("score") == stuck.get_column("start_score")).all()


def test_threshold_policy_widens_the_gap() -> None:
    """Over five years, 'lend at >= 3' leaves the disadvantaged group (more people start below the
    threshold, where they are refused and stay) further behind than 'lend to all' does. Each run's
    gap in mean level is within 0.1 of the chain's (4 standard errors: level sd ~1.5 over ~7,000
    adults per group gives ~0.025 for a difference of two means)."""
    rate = 12 / 365.25
    days = 1826

    def gap(lend: set[int]) -> float:
        lv = np.arange(7)
        return float(expected_shares(START["advantaged"], lend, rate, days) @ lv
                     - expected_shares(START["disadvantaged"], lend, rate, days) @ lv)

    want = {"lending-feedback": gap({3, 4, 5, 6}), "lending-feedback-all": gap(set(range(7)))}
    assert want["lending-feedback"] > want["lending-feedback-all"] + 0.1
    for name, expected in want.items():
        m = run_levels(name, days).group_by("group").agg(pl.col("score").mean()).sort("group")
        a, d = m.get_column("score").to_list()
        assert abs((a - d) - expected) < 0.1, (name, a - d, expected)
