"""Peak memory of a run, phase by phase, and what it means for 100 million people.

    python benchmarks/bench_memory.py [--scenario rongcheng-2018] [--people 670000 3000000] [--days 365]
        [--set contacts.friends.storage=drawn ...] [--drawn]

Each size runs in a fresh process (so one size's memory does not hide another's): build
the population, build the contact layers the run reads, run the day loop with its twin,
free what the result tables do not need, build them; after each phase read the peak
resident memory during that phase (VmHWM, reset when the phase starts through
/proc/self/clear_refs; where that cannot be written, the peak so far) and the resident
memory now (VmRSS). The marginal bytes per person between the smallest and the largest
size (which cancels the interpreter, libraries and kernels) of each phase's peak are
extrapolated to 100 million people and the highest set against the 24 GB target and the
estimate of ``scorelab.memory.estimate``, all in this run. ``--set`` overrides scenario fields
as ``scorelab run --set`` does (values parsed as YAML); ``--drawn`` draws the friends and online
layers instead of storing them (docs/contacts.md), as a population of 100 million needs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

TARGET_PEOPLE = 100_000_000
TARGET_BYTES = 24 * 10**9

CHILD = r"""
import json, sys, tempfile
from pathlib import Path
import scorelab
from scorelab import memory
from scorelab.results import Result, people_frame
from scorelab.scenario.model import layers_read
from scorelab.engine.simulation import simulate
from scorelab.synth.contacts import build_contacts
from scorelab.synth.population import build_population

def status():
    d = {}
    for line in open("/proc/self/status"):
        if line.startswith(("VmHWM", "VmRSS")):
            k, v = line.split(":")
            d[k] = int(v.split()[0]) * 1024
    try:  # the next phase's peak is its own (a lower phase would otherwise show the peak before it)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        d["reset"] = True
    except OSError:
        d["reset"] = False
    return d

name, people, days, sets = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
sc = scorelab.load(name, {"population.people": people, "run.burn_in": 0, "run.days": days, **sets})
phases = {"start": status()}
pop = build_population(sc.population, sc.run.seed)
phases["population"] = status()
contacts = build_contacts(pop, sc.contacts, sc.run.seed, only=layers_read(sc))
memory.release()  # as scorelab.runner.execute
phases["contacts"] = status()
park = Path(tempfile.mkdtemp()) / "population"  # as scorelab.run: what the loop does not read waits on disk
out = simulate(sc, pop, contacts, keep_records=False, park=park)  # as scorelab.run: results hold no records
phases["day loop"] = status()
edges, layers = contacts.n_edges, list(contacts.names)
out.plan = out.plan.without_tables()  # as scorelab.runner.execute: the tables need no plan arrays nor contacts
del contacts
memory.release()
phases["released"] = status()  # the result tables' own phase starts here
people = people_frame(out, pop)
del pop
out.people = {}
memory.release()
Result.from_people(out, sc, people)
phases["results"] = status()
print("RESULT " + json.dumps({"phases": phases, "edges": edges, "layers": layers}))
"""


def measure(scenario: str, people: int, days: int, sets: dict) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, scenario, str(people), str(days), json.dumps(sets)],
                          capture_output=True, text=True)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        sys.exit(f"run of {people:,} people failed:\n{proc.stderr[-3000:]}")
    return json.loads(line[len("RESULT "):])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="rongcheng-2018")
    ap.add_argument("--people", type=int, nargs="+", default=[670_000, 3_000_000])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                    help="override a scenario field (repeatable)")
    ap.add_argument("--drawn", action="store_true", help="draw the friends and online layers instead of storing them")
    args = ap.parse_args()
    import yaml

    sets = {}
    for item in args.sets + (["contacts.friends.storage=drawn", "contacts.online.storage=drawn"] if args.drawn else []):
        key, sep, value = item.partition("=")
        if not sep:
            sys.exit(f"--set {item!r}: expected KEY=VALUE")
        sets[key] = yaml.safe_load(value)

    import scorelab
    from scorelab import memory

    sizes = sorted(set(args.people))
    runs = {n: measure(args.scenario, n, args.days, sets) for n in sizes}
    mib = 2**20
    print(f"scenario {args.scenario}, {args.days} days; contact layers built: {', '.join(runs[sizes[0]]['layers'])}"
          + "".join(f"; {k}={v}" for k, v in sets.items()))
    own = all(st["reset"] for r in runs.values() for st in r["phases"].values())
    print("peak: the highest resident memory during each phase" if own else
          "peak: the highest resident memory so far (the peak could not be reset between phases here)")
    print(f"{'people':>12} {'phase':<12} {'peak MiB':>9} {'now MiB':>9} {'estimate MiB':>13}")
    for n in sizes:
        est = memory.estimate(scorelab.load(args.scenario, {"population.people": n, "run.burn_in": 0, "run.days": args.days, **sets})).total
        for phase, st in runs[n]["phases"].items():
            last = phase == "results"
            print(f"{n:>12,} {phase:<12} {st['VmHWM'] / mib:>9,.0f} {st['VmRSS'] / mib:>9,.0f} "
                  f"{(f'{est / mib:,.0f}' if last else ''):>13}")
    if len(sizes) < 2:
        return
    lo, hi = sizes[0], sizes[-1]
    print(f"\nmarginal bytes per person ({lo:,} -> {hi:,} people), peak {'of' if own else 'after'} each phase:")
    per = {}
    for phase in runs[hi]["phases"]:
        a, b = runs[lo]["phases"][phase]["VmHWM"], runs[hi]["phases"][phase]["VmHWM"]
        per[phase] = (b - a) / (hi - lo)
        print(f"  {phase:<12} {per[phase]:8.0f}")
    # each phase's peak, extrapolated on its own line; the run's peak is the highest of them
    at_target = max(runs[lo]["phases"][p]["VmHWM"] + per[p] * (TARGET_PEOPLE - lo) for p in per)
    est = memory.estimate(scorelab.load(args.scenario, {"population.people": TARGET_PEOPLE, "run.burn_in": 0, "run.days": args.days,
                                                         **sets}))
    print(f"\n{TARGET_PEOPLE:,} people, extrapolated from the measured peak: {at_target / 1e9:,.1f} GB "
          f"({at_target / TARGET_BYTES:.2f}x the 24 GB target: {'met' if at_target <= TARGET_BYTES else 'not met'})")
    print(f"{TARGET_PEOPLE:,} people, scorelab.memory.estimate:         {est.total / 1e9:,.1f} GB ({est.describe()})")


if __name__ == "__main__":
    main()
