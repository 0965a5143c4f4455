"""Benchmark sharded runs: one process against 1..K Ray actors on the same scenario, with the
outputs checked equal.

    pip install -e '.[ray]'
    python benchmarks/bench_sharded.py [--scenario rongcheng-2018] [--people N] [--days D] [--shards 1,2]

Prints the single-process day loop and, for each shard count, the wall time of
``simulate_sharded`` on a local Ray (each actor builds its population, so that is
included) and whether every metric and per-person column equals the single-process run;
ratios are against the single-process time of the same run.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="rongcheng-2018")
    ap.add_argument("--people", type=int, default=None, help="override population.people")
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--shards", default="1,2", help="comma-separated shard counts")
    args = ap.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")

    import numpy as np
    import ray

    import scorelab
    from scorelab.engine.sharded import simulate_sharded
    from scorelab.engine.simulation import simulate

    overrides = {"run.burn_in": 0, "run.days": args.days}
    if args.people:
        overrides["population.people"] = args.people
    sc = scorelab.load(args.scenario, overrides)
    pop, contacts = scorelab.build_population(sc)
    small = scorelab.load(args.scenario, {"run.burn_in": 0, "run.days": 2, "population.people": 2000})
    simulate(small, *scorelab.build_population(small))  # load the kernels
    t = time.perf_counter()
    whole = simulate(sc, pop, contacts)
    single = time.perf_counter() - t
    print(f"{args.scenario}: {pop.n:,} people, {len(pop.city_names)} regions, {args.days} days")
    print(f"one process            {single:8.2f} s")
    ray.init(num_cpus=os.cpu_count(), _temp_dir=tempfile.mkdtemp(prefix="ray", dir="/tmp"),
             include_dashboard=False, log_to_driver=False)
    for k in (int(x) for x in args.shards.split(",")):
        t = time.perf_counter()
        part = simulate_sharded(sc, pop, contacts, k, backend="ray")
        wall = time.perf_counter() - t
        same = all(np.array_equal(whole.metrics[n], part.metrics[n], equal_nan=True) for n in whole.metrics) and all(
            np.array_equal(whole.people[n], part.people[n], equal_nan=True) for n in whole.people)
        print(f"{k} Ray actor(s)        {wall:8.2f} s   {wall / single:5.2f}x the single process   "
              f"identical: {'yes' if same else 'NO'}")
    ray.shutdown()


if __name__ == "__main__":
    main()
