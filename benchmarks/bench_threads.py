"""Benchmark threads: the single-process day loop against 1..K threads of one process on the same
population, outputs checked equal.

    python benchmarks/bench_threads.py [--scenario national-2027] [--people 1000000] [--days 365]
                                       [--threads 1,2] [--repeat 2]

The issue's target is a 10-million-person year (``--people 10000000``: about 4 GB per thread
and a minute to build here); the default is a million people. For each thread count it prints
the day loop's wall time (best of ``--repeat``), the speed-up against the single-process loop
of the same run, the parallel efficiency (speed-up / threads), and whether every metric and
per-person column equals the single-process run. From the largest count K it also gives the
serial fraction f that Amdahl's law reads off the speed-up S (f = (K/S - 1) / (K - 1)) and the
speed-up and efficiency that f predicts for 16 cores: the part a step spends outside the
regions' work (the driver's exchange of messages, the national queues, the stocks, Python
between the calls) does not shrink with threads.

The last line is the target row: at least 1.6x on 2 cores ("met" / "not met" as measured).
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="national-2027")
    ap.add_argument("--people", type=int, default=1_000_000, help="population.people")
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--repeat", type=int, default=2, help="runs per count (the best is kept)")
    args = ap.parse_args()

    import numpy as np

    import scorelab
    from scorelab.engine.sharded import available_cores, simulate_sharded
    from scorelab.engine.simulation import simulate

    overrides = {"run.burn_in": 0, "run.days": args.days, "population.people": args.people}
    sc = scorelab.load(args.scenario, overrides)
    small = scorelab.load(args.scenario, {**overrides, "population.people": 3000, "run.days": 2})
    warm = scorelab.build_population(small)  # load (or compile) the kernels outside the timings
    simulate(small, *warm)
    simulate_sharded(small, *warm, 2, backend="threads")
    t = time.perf_counter()
    pop, contacts = scorelab.build_population(sc)
    print(f"{args.scenario}: {pop.n:,} people, {len(pop.city_names)} regions, {args.days} days "
          f"(built in {time.perf_counter() - t:.1f} s); {available_cores()} cores for this process")

    def best(fn):
        walls, out = [], None
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            out = fn()
            walls.append(time.perf_counter() - t0)
            del out.records
        return min(walls), out

    single, whole = best(lambda: simulate(sc, pop, contacts))
    print(f"one process (simulate)      {single:8.2f} s")
    speedup = {}
    for k in (int(x) for x in args.threads.split(",")):
        wall, part = best(lambda: simulate_sharded(sc, pop, contacts, k, backend="threads"))
        same = all(np.array_equal(whole.metrics[n], part.metrics[n], equal_nan=True) for n in whole.metrics) and all(
            np.array_equal(whole.people[n], part.people[n], equal_nan=True) for n in whole.people)
        speedup[k] = single / wall
        print(f"{k} thread(s)                 {wall:8.2f} s   speed-up {speedup[k]:5.2f}x   efficiency "
              f"{speedup[k] / k:6.1%}   identical: {'yes' if same else 'NO'}")
    K = max(speedup)
    if K > 1:
        f = min(1.0, max(0.0, (K / speedup[K] - 1) / (K - 1)))
        s16 = 1 / (f + (1 - f) / 16)
        print(f"serial fraction (Amdahl, from {K} threads) {f:.3f}: 16 cores would give {s16:.1f}x, efficiency "
              f"{s16 / 16:.0%} (target 70 %: {'met' if s16 / 16 >= 0.7 else 'not met'}, on paper)")
    if 2 in speedup:
        print(f"target: at least 1.6x on 2 cores: {speedup[2]:.2f}x ({'met' if speedup[2] >= 1.6 else 'not met'})")


if __name__ == "__main__":
    main()
