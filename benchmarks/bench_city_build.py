"""Memory of a cluster's build: each Ray actor builds its own cities' people and contact
layers alone (``synth.city_contacts``), with the stubs that cross cities sent between actors.
Does each actor's memory fall as 1/N plus a constant, and does the driver hold nobody?

    pip install -e '.[ray]'
    python benchmarks/bench_city_build.py [--scenario national-2027] [--scale 0.003]
                                          [--people N] [--actors 1,2,4,8]

The driver counts every city's people once (the census: four numbers a city, one pass over
everyone a chunk at a time), splits the cities into N contiguous runs of about equal people
(``engine.sharded.assign_regions``), starts N local Ray actors, each of which builds its
cities (``CityBuilder``), then drives the layers' exchange (``build_parts``). For each count
it prints, over the actors, the largest and the mean of:

* **own**: the actor's own resident memory (``RssAnon``) once its layers are built: the
  interpreter, the kernels, its people and firms and their rows of every contact layer;
* **peak**: the actor's peak resident memory (``VmHWM``) during the build.

It fits own = c + s / N by least squares and prints c and s. It checks the parts' rows
against the build of everyone in this process (a SHA-256 of each part's rows of each layer,
``rows_digest``), and prints the driver's own memory, which holds no person's row.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="national-2027")
    ap.add_argument("--scale", type=float, default=0.003, help="multiply the scenario's population")
    ap.add_argument("--people", type=int, default=None, help="population.people instead of --scale")
    ap.add_argument("--actors", default="1,2,4,8", help="comma-separated actor counts")
    ap.add_argument("--no-check", action="store_true", help="skip the build of everyone and the digests")
    args = ap.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")

    import numpy as np
    import ray
    from per_actor_fit import report_fit

    import scorelab
    from scorelab.engine.sharded import assign_regions
    from scorelab.memory import process_memory
    from scorelab.synth.cities import census
    from scorelab.synth.city_contacts import CityBuilder, RayCalls, build_parts, owners, rows_digest, stored_layers

    mib = 2**20
    sc = scorelab.load(args.scenario, {} if args.people is None else {"population.people": args.people},
                       scale=None if args.people is not None else args.scale)
    spec, seed, cspec = sc.population, sc.run.seed, sc.contacts
    names = stored_layers(cspec)
    t = time.perf_counter()
    full = census(spec, seed)
    n = int(full.people.sum())
    print(f"{args.scenario}: {n:,} people in {len(spec.regions)} cities; layers {', '.join(['household'] + names)}; "
          f"census in {time.perf_counter() - t:.1f} s")
    driver_before = process_memory().get("RssAnon", 0)
    ray.init(num_cpus=max(os.cpu_count() or 1, 8), _temp_dir=tempfile.mkdtemp(prefix="ray", dir="/tmp"),
             include_dashboard=False, log_to_driver=False)
    actor = ray.remote(num_cpus=1)(CityBuilder)
    print(f"{'actors':>6}  {'own: largest':>13}  {'mean':>9}  {'B/person':>8}  {'peak: largest':>14}  {'wall':>6}")
    counts, means, digests = [], [], {}
    for k in (int(x) for x in args.actors.split(",")):
        owner = assign_regions(full.people.astype(float), k)
        parts = [np.flatnonzero(owner == a).tolist() for a in range(k)]
        t = time.perf_counter()
        actors = [actor.remote(spec, cspec, seed, cities, full) for cities in parts]
        build_parts(RayCalls(ray, actors), k, owners(len(spec.regions), parts), names)
        mem = ray.get([a.memory.remote() for a in actors])
        wall = time.perf_counter() - t
        if not args.no_check:
            digests[k] = (ray.get([a.digest.remote(name) for a in actors for name in names]),
                          ray.get([a.people.remote() for a in actors]))
        for a in actors:
            ray.kill(a)
        own = np.array([m["RssAnon"] for m in mem], dtype=float)
        peak = np.array([m["VmHWM"] for m in mem], dtype=float)
        counts.append(k)
        means.append(own.mean())
        print(f"{k:>6}  {own.max() / mib:>9.0f} MiB  {own.mean() / mib:>5.0f} MiB  {own.mean() / n:>8.0f}  "
              f"{peak.max() / mib:>10.0f} MiB  {wall:>4.0f} s")
    ray.shutdown()
    driver = process_memory().get("RssAnon", 0) - driver_before
    print(f"driver's own memory grew by {driver / mib:.0f} MiB during the builds ({driver / n:.1f} B/person)")
    report_fit(counts, means, n)
    if not args.no_check:
        t = time.perf_counter()
        _, contacts = scorelab.build_population(sc, layers="all")
        same = all(got == [rows_digest(contacts[name], r) for r in ranges for name in names]
                   for got, ranges in digests.values())
        print(f"every part's rows equal to the build of everyone ({time.perf_counter() - t:.0f} s): "
              f"{'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
