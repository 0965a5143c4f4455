"""Benchmark: the population of some cities alone (``synth.cities``) against the whole build.

    python benchmarks/bench_cities.py [--scenario national-2027] [--people N] [--cities 0,1,2]

A worker of a sharded run on a cluster needs its own cities' people only. Each measurement
runs in a fresh process, one core, and reports its CPU seconds and its peak memory above the
process's own before the build (``ru_maxrss``):

* the whole build (``build_population``), as every worker does it today;
* the census (every city's households, people, employed and students: one pass over
  everyone, a chunk at a time), which the workers of a cluster would share;
* the chosen cities alone (``build_cities`` given the census, which the census's process
  saved), and their share of the people.

Memory of the cities' build should follow their people (plus a constant: the households'
sizes and cities are drawn for everyone a chunk at a time), not the whole population's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

CHILD = r"""
import json, resource, sys, time
import numpy as np
from scorelab.scenario.loader import load
from scorelab.synth.cities import build_cities, census
from scorelab.synth.population import build_population
from scorelab.synth.cities import Census
what, name, people, cities = sys.argv[1], sys.argv[2], int(sys.argv[3]), [int(c) for c in sys.argv[4].split(",")]
saved = sys.argv[5]
sc = load(name, {"population.people": people})
spec, seed = sc.population, sc.run.seed
full = Census(**np.load(saved)) if what == "cities" else None  # (the census child's, so not in this peak)
build_population(spec.model_copy(update={"people": 1000}), seed)  # (the build's numba functions loaded)
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.process_time()
if what == "whole":
    built = build_population(spec, seed).n
elif what == "census":
    counted = census(spec, seed)
    np.savez(saved, households=counted.households, people=counted.people, employed=counted.employed,
             students=counted.students)
    built = int(counted.people.sum())
else:
    b = build_cities(spec, seed, cities, census_of_all=full)
    built = int(sum(hi - lo for lo, hi in b.people))
cpu = time.process_time() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"cpu": cpu, "peak_mib": (peak - rss0) / 1024, "built": built}))
"""


def measure(what: str, scenario: str, people: int, cities: str, saved: str) -> dict[str, float]:
    proc = subprocess.run([sys.executable, "-c", CHILD, what, scenario, str(people), cities, saved],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"bench_cities: {what} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="national-2027")
    ap.add_argument("--people", type=int, default=4_230_000, help="people (default: national-2027 x 0.003)")
    ap.add_argument("--cities", default="0", help="comma-separated city indices built alone")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        saved = str(Path(tmp) / "census.npz")
        rows = {what: measure(what, args.scenario, args.people, args.cities, saved)
                for what in ("whole", "census", "cities")}
    whole = rows["whole"]
    print(f"{args.scenario}, {args.people:,} people; cities {args.cities}")
    print(f"  {'build':<28} {'CPU s':>7} {'peak MiB':>9} {'people built':>13} {'B/person built':>15}")
    for what, label in (("whole", "whole population"), ("census", "census (every city)"),
                        ("cities", f"cities {args.cities} alone")):
        r = rows[what]
        per = r["peak_mib"] * 2**20 / r["built"] if what != "census" and r["built"] else float("nan")
        print(f"  {label:<28} {r['cpu']:7.2f} {r['peak_mib']:9.1f} {r['built']:13,} {per:15.1f}")
    share = rows["cities"]["built"] / whole["built"]
    print(f"the cities hold {share:.1%} of the people; their build takes {rows['cities']['peak_mib'] / whole['peak_mib']:.1%}"
          f" of the whole build's memory and {rows['cities']['cpu'] / whole['cpu']:.1%} of its CPU"
          f" (census {rows['census']['cpu'] / whole['cpu']:.1%} of its CPU, {rows['census']['peak_mib']:.0f} MiB)")


if __name__ == "__main__":
    main()
