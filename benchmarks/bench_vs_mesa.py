"""Benchmark: scorelab against a Mesa 3 baseline on the same reduced scenario.

    python benchmarks/bench_vs_mesa.py [--people 10000] [--days 60] [--big 1000000] [--seed 1]

Needs Mesa 3 (``pip install "mesa>=3"``, or the ``bench`` extra). The scenario, its closed
form, the checks and the scorelab side are in ``reduced.py``, shared with
``bench_vs_starsim.py``.

The reduced scenario: three behaviours (a minor offence, a major offence, a civic
act) observed by one channel with detection p, a points scheme (base 100, -5 /
-30 / +5 points per record, no recovery), four grade bands, one refusal
consequence (attempts at rate a, refused with probability q, for people in the
lowest grade D) and a friends network (present in both models, not used by any
rule: no social term, no misattribution, so both sides stay equal). Responses
(awareness, deterrence) are off.

The Mesa baseline is written here as a plain Mesa 3 model: one ``Agent`` per
person (age and friends taken from scorelab's synthetic population, so both
score the same adults), a numpy ``Generator`` per model, and each day every
agent draws its Poisson(rate x 1 day) event counts for the behaviours, keeps
each event with probability p, books the points, re-grades, and, when in the
lowest grade, draws Poisson(a x 1 day) service attempts, each refused with
probability q. Mesa does not run the counterfactual twin nor store records;
scorelab does both, so the ratio below understates scorelab's advantage on
equal work.

Checks (different random streams, so statistical, 4 standard deviations):
the mean score, the share in each grade after T days and the refusals per
scored person agree between the two models and with the closed form
(score = base + sum_b d_b N_b with N_b ~ Poisson(r_b p T / 365.25); refusals
= sum over days of P(grade D that day) x a q / 365.25). Then it prints
agent-days per second of each and the speed ratio scorelab / Mesa, all
measured in this run.
"""

from __future__ import annotations

import argparse
import os
import time

for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import numpy as np  # noqa: E402
from reduced import (ATTEMPTS, BASE, BEHAVIOURS, DETECTION, GRADES, REFUSE_P, YEAR, agreement,  # noqa: E402
                     grade_of, run_scorelab, scenario_dict, summarise, theory)

# --------------------------------------------------------------------------- the Mesa baseline


def make_mesa_model():
    import mesa

    class Person(mesa.Agent):
        def __init__(self, model, scored: bool, friends: np.ndarray) -> None:
            super().__init__(model)
            self.scored = scored
            self.friends = friends  # the friends network, as in scorelab; no rule reads it
            self.score = BASE
            self.grade = grade_of(BASE)
            self.refusals = 0

        def step(self) -> None:
            m = self.model
            rng = m.gen
            counts = rng.poisson(m.lam)  # events of each behaviour today
            if counts.any():
                for b in np.flatnonzero(counts):
                    for _ in range(counts[b]):
                        if rng.random() < DETECTION and self.scored:  # a record, booked
                            self.score += m.points[b]
                            m.records += 1
                self.grade = grade_of(self.score) if self.scored else -1
            if self.grade == m.lowest:  # the refusal consequence
                for _ in range(rng.poisson(m.att_lam)):
                    if rng.random() < REFUSE_P:
                        self.refusals += 1

    class ScoringModel(mesa.Model):
        def __init__(self, scored: np.ndarray, indptr: np.ndarray, indices: np.ndarray, seed: int) -> None:
            super().__init__(seed=seed)
            self.gen = np.random.default_rng(seed)  # one numpy Generator per model
            self.lam = np.array([r / YEAR for r, _ in BEHAVIOURS.values()])
            self.points = [d for _, d in BEHAVIOURS.values()]
            self.att_lam = ATTEMPTS / YEAR
            self.lowest = len(GRADES) - 1
            self.records = 0
            for i in range(scored.shape[0]):
                Person(self, bool(scored[i]), indices[indptr[i]:indptr[i + 1]])

        def step(self) -> None:
            self.agents.do("step")

    return ScoringModel


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=10_000, help="size of both models")
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--big", type=int, default=1_000_000, help="scorelab alone at this size too (0: skip)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    import mesa

    import scorelab
    from scorelab.engine.simulation import simulate

    T = args.days
    th = theory(T)

    # scorelab: compile/load the kernels on a tiny run, then the timed runs
    run = run_scorelab(args.people, T, args.seed)
    pop, contacts, sc, sl = run["pop"], run["contacts"], run["scenario"], run["summary"]
    t_build, t_warm, times, t_sl = run["t_build"], run["t_warm"], run["times"], run["t"]

    # Mesa: same people (ages decide who is scored), same friends network
    friends = contacts["friends"]
    scored = pop.age >= sc.scoring.min_age
    Model = make_mesa_model()
    t0 = time.perf_counter()
    model = Model(scored, friends.indptr, friends.indices, args.seed + 1000)
    t_mesa_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(T):
        model.step()
    t_mesa = time.perf_counter() - t0
    agents = [a for a in model.agents if a.scored]
    me = summarise(np.array([a.score for a in agents]), np.array([a.grade for a in agents]),
                   np.array([a.refusals for a in agents], dtype=float))

    print(f"reduced scenario: {len(BEHAVIOURS)} behaviours, 1 channel (detection {DETECTION}), points from {BASE:.0f}, "
          f"{len(GRADES)} grades, refusal in grade {GRADES[-1][0]} ({ATTEMPTS:g}/year, p {REFUSE_P}), "
          f"friends {friends.n_edges:,} edges; {T} days; Mesa {mesa.__version__}")
    print(f"people {pop.n:,} ({sl['n']:,} scored in scorelab, {me['n']:,} in Mesa)")
    print(f"agreement after {T} days (4 sd; sd of each side from its own sample):")
    agree = agreement(sl, me, th, "mesa")
    print(f"  all checks: {'agree' if agree else 'DISAGREE'}")

    ad = pop.n * T
    r_sl, r_me = ad / t_sl, ad / t_mesa
    print(f"scorelab  build {t_build:6.2f} s   warm-up {t_warm:6.2f} s   day loop (best of 3, with twin) {t_sl:8.3f} s  "
          f"runs {', '.join(f'{t:.3f}' for t in times)}   {r_sl:14,.0f} agent-days/s")
    print(f"mesa      build {t_mesa_build:6.2f} s                      day loop (no twin)          {t_mesa:8.3f} s"
          f"                          {r_me:14,.0f} agent-days/s")
    print(f"speed ratio scorelab / mesa at {pop.n:,} x {T} days: {r_sl / r_me:,.0f}x  "
          f"(target >= 1000x: {'met' if r_sl / r_me >= 1000 else 'not met'})")

    if args.big:
        big = scorelab.load(scenario_dict(args.big, T, args.seed))
        t0 = time.perf_counter()
        bpop, bcon = scorelab.build_population(big)
        tb = time.perf_counter() - t0
        t0 = time.perf_counter()
        bout = simulate(big, bpop, bcon)
        tl = time.perf_counter() - t0
        r_big = bpop.n * T / tl
        bm = bout.people["grade"] != 255
        bs = summarise(bout.people["score"][bm], bout.people["grade"][bm].astype(np.int64), bout.people["refusals"][bm])
        z = abs(bs["mean"] - th["mean"]) / bs["mean_sd"]
        print(f"scorelab  {bpop.n:,} x {T} days: build {tb:6.2f} s   day loop {tl:8.3f} s   {r_big:14,.0f} agent-days/s"
              f"   ratio to Mesa ({pop.n:,} agents) {r_big / r_me:,.0f}x   mean score {bs['mean']:.4f} "
              f"(theory {th['mean']:.4f}, {z:.2f} sd)")
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
