"""Benchmark: how the day loop's cost grows with people and with days.

    python benchmarks/bench_scaling.py [--big] [--days 60] [--seed 1] [--scenario reduced|rongcheng-2018]

Scenario: by default the reduced scenario of ``bench_vs_mesa.py`` (three
behaviours, one channel, points, four grades, a refusal consequence, a friends
network); ``--scenario rongcheng-2018`` uses the full preset instead (slower).
Two series, each run after a warm-up that compiles or loads the kernels:

* people 1e5, 1e6 (and 1e7 with ``--big``) at ``--days`` days;
* days 30, 60, 120 at 1e5 people.

For each point it prints the build time (population and contacts, reported
apart), the day-loop time (best of ``--repeat``; the loop runs the twin too),
agent-days per second, events (factual + twin) and records, and the ratio of
the cost (and of the work, agent-days) to the smallest point of its series.
Linear growth shows as a cost ratio close to the work ratio, i.e. a flat
agent-days per second. A run also has a fixed cost proportional to people
(plan, state allocation, initial scores, output copies); the "1-day s" column
times a one-day run at the same size, and "marginal ad/s" is the agent-days
per second of the remaining days, (loop - 1-day) / (days - 1).
Single-threaded: the figures are per core.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--big", action="store_true", help="add 1e7 people to the people series")
    ap.add_argument("--days", type=int, default=60, help="days of the people series")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--scenario", default="reduced", help="'reduced' or a preset name")
    args = ap.parse_args()

    import scorelab
    from scorelab.engine.simulation import simulate

    def load(people: int, days: int):
        if args.scenario == "reduced":
            from bench_vs_mesa import scenario_dict

            return scorelab.load(scenario_dict(people, days, args.seed))
        return scorelab.load(args.scenario, {"population.people": people, "run.burn_in": 0, "run.days": days, "run.seed": args.seed})

    t0 = time.perf_counter()
    wp, wc = scorelab.build_population(load(5_000, 2))
    simulate(load(5_000, 2), wp, wc)
    print(f"scenario {args.scenario}; warm-up (compile or cache load) {time.perf_counter() - t0:.2f} s; one core")

    def point(people: int, days: int, pop_cache: dict) -> tuple:
        sc = load(people, days)
        if people not in pop_cache:
            pop_cache.clear()
            t0 = time.perf_counter()
            pop_cache[people] = (*scorelab.build_population(sc), time.perf_counter() - t0)
        pop, contacts, t_build = pop_cache[people]
        times = []
        for _ in range(args.repeat if people * days <= 2e8 else 1):
            t0 = time.perf_counter()
            out = simulate(sc, pop, contacts)
            times.append(time.perf_counter() - t0)
        events = out.total("events.") + out.total("events_twin.")
        t0 = time.perf_counter()
        simulate(load(people, 1), pop, contacts)  # the fixed cost: plan, state, 1 step, outputs
        t_one = time.perf_counter() - t0
        return pop.n, days, t_build, min(times), events, len(out.records["subj"]), t_one

    def series(title: str, pts: list[tuple[int, int]]) -> None:
        print(f"\n{title}")
        print(f"{'people':>12} {'days':>5} {'build s':>8} {'loop s':>9} {'agent-days/s':>14} {'events':>12} "
              f"{'records':>11} {'work x':>7} {'cost x':>7} {'cost/work':>9} {'1-day s':>8} {'marginal ad/s':>14}")
        cache: dict = {}
        first = None
        for people, days in pts:
            n, d, tb, tl, ev, rec, t1 = point(people, days, cache)
            work = n * d
            if first is None:
                first = (work, tl)
            wx, cx = work / first[0], tl / first[1]
            print(f"{n:>12,} {d:>5} {tb:>8.2f} {tl:>9.3f} {work / tl:>14,.0f} {ev:>12,.0f} {rec:>11,} "
                  f"{wx:>7.1f} {cx:>7.1f} {cx / wx:>9.2f} {t1:>8.3f} {n * (d - 1) / max(tl - t1, 1e-9):>14,.0f}")
        cache.clear()

    people = [100_000, 1_000_000] + ([10_000_000] if args.big else [])
    series(f"people series ({args.days} days)", [(p, args.days) for p in people])
    series("days series (100,000 people)", [(100_000, d) for d in (30, 60, 120)])
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS {rss:,.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
