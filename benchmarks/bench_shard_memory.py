"""Memory of a sharded run's Ray actors against their number: does each actor's own memory
fall as 1/N plus a constant?

    pip install -e '.[ray]'
    python benchmarks/bench_shard_memory.py [--scenario rongcheng-2018] [--people 4000000]
                                            [--scale S] [--days 60] [--shards 1,2,4,8]
                                            [--divide shared|plan|cities]

The driver builds the population once (by default ``rongcheng-2018`` with 4 million people
in its 22 regions; ``--scenario national-2027 --scale 0.003`` is 4.23 million in 35); the run
then goes on 1, 2, 4 and 8 local Ray actors, each a process of its own, one count after the
other, after a small run on one actor that fills the kernel cache (an actor that compiles
keeps the compiler's memory as its own). For each count it prints, over the actors, the
largest and the mean of:

* **own**: the most resident memory of the actor's own (``RssAnon``) seen after a step's local
  work or at the end: the interpreter, the kernels, the plan and its regions' state and records;
* **peak**: the actor's peak resident memory (``VmHWM``), which also counts the pages of the
  driver's population and contacts it read from Ray's object store (shared by all actors).

``--divide`` says what the actors hold (``simulate_sharded``): ``shared`` (the default on one
machine) reads the driver's population, contacts and plan from the object store; ``plan``
compiles the plan of the actor's own regions (``engine.plan.part``), which is then part of
its own memory; ``cities`` builds its own cities' people and contacts too, with the other
actors (``engine.shard_build``), as actors on a Ray cluster do: nothing of the driver's is
read, and "shared" is then 0.

It then fits own = c + s / N by least squares over the counts and prints c (what every
actor holds whatever N: interpreter, kernels, the plan of the whole population) and s (what
the actors divide: the day loop's state, records, list slots, end state), each in bytes and
bytes a person, with the largest gap between the fit and a measured mean. Every count's
metrics and per-person end state are checked equal to the first's.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="rongcheng-2018")
    ap.add_argument("--people", type=int, default=4_000_000, help="population.people (unless --scale)")
    ap.add_argument("--scale", type=float, default=None, help="multiply the scenario's population instead")
    ap.add_argument("--days", type=int, default=60)
    ap.add_argument("--shards", default="1,2,4,8", help="comma-separated actor counts")
    ap.add_argument("--divide", default="shared", choices=("shared", "plan", "cities"),
                    help="what each actor holds: the driver's world, its own plan, or its own cities built")
    args = ap.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")

    import numpy as np
    import ray
    from per_actor_fit import report_fit

    import scorelab
    from scorelab.engine.sharded import simulate_sharded
    from scorelab.synth.world import build_world
    from scorelab.memory import process_memory

    overrides = {"run.burn_in": 0, "run.days": args.days}
    if args.scale is None:
        overrides["population.people"] = args.people
    sc = scorelab.load(args.scenario, overrides, scale=args.scale)
    t = time.perf_counter()
    # (as ``scorelab run`` builds them: the layers the day loop reads, none for actors that build their own)
    layers = "none" if args.divide == "cities" else "read"
    pop, contacts = build_world(sc, layers=layers)
    n = pop.n
    print(f"{args.scenario}: {n:,} people, {len(pop.city_names)} regions, {args.days} days "
          f"(built in {time.perf_counter() - t:.0f} s); the actors hold: {args.divide}")
    ray.init(num_cpus=max(os.cpu_count() or 1, 8), _temp_dir=tempfile.mkdtemp(prefix="ray", dir="/tmp"),
             include_dashboard=False, log_to_driver=False)
    # (a small run first, so that no counted actor compiles kernels: an actor that compiles keeps
    # the compiler's memory, hundreds of MiB, as its own)
    small = scorelab.load(args.scenario, {"run.burn_in": 0, "run.days": 5, "population.people": 20_000})
    simulate_sharded(small, *build_world(small, layers=layers), 1,
                     backend="ray", keep_records=False, divide=args.divide)
    counts, means, first = [], [], None
    mib = 2**20
    print(f"{'actors':>6}  {'own: largest':>13}  {'mean':>9}  {'B/person':>8}  {'peak: largest':>14}  "
          f"{'shared':>9}  {'wall':>7}  identical")
    for k in (int(x) for x in args.shards.split(",")):
        t = time.perf_counter()
        out = simulate_sharded(sc, pop, contacts, k, backend="ray", keep_records=False, divide=args.divide)
        wall = time.perf_counter() - t
        own = np.array([m["own_peak"] for m in out.worker_memory], dtype=float)
        peak = np.array([m["peak"] for m in out.worker_memory], dtype=float)
        shared = max(m["shared"] for m in out.worker_memory)
        if first is None:
            first, same = out, True
        else:
            same = all(np.array_equal(first.metrics[c], out.metrics[c], equal_nan=True) for c in first.metrics) and all(
                np.array_equal(first.people[c], out.people[c], equal_nan=True) for c in first.people)
        counts.append(k)
        means.append(own.mean())
        print(f"{k:>6}  {own.max() / mib:>9.0f} MiB  {own.mean() / mib:>5.0f} MiB  {own.mean() / n:>8.0f}  "
              f"{peak.max() / mib:>10.0f} MiB  {shared / mib:>5.0f} MiB  {wall:>5.0f} s  {'yes' if same else 'NO'}")
    ray.shutdown()
    driver = process_memory().get("VmHWM", 0)
    print(f"driver peak (building the population, the plan, the merged end state): {driver / mib:.0f} MiB "
          f"({driver / n:.0f} B/person)")
    report_fit(counts, means, n)


if __name__ == "__main__":
    main()
