"""Benchmark the whole command: ``scorelab run rongcheng-2018`` end to end, CPU seconds on one core.

    python benchmarks/bench_end_to_end.py [--scenario rongcheng-2018] [--repeat R] [--burn-in-too]

Each run is a fresh ``scorelab run ... --out <temporary folder>`` process pinned to one
core (``NUMBA_NUM_THREADS=1``), timed by its CPU (user + system, from the operating system:
the machine's other work does not count, though it still slows the memory-bound loop) and
its wall time. The kernels are loaded from numba's cache and the modules from their bytecode
(an untimed run first compiles them if they are stale). Measured, with a population cache of its own in a temporary folder:

* no cache (``--no-cache``): the population and contact layers built, as before the cache;
* cold cache: built, then stored in the cache (the first run of a population);
* warm cache, ``--repeat`` times: loaded from the cache (every later run and sweep task).

The target is the year with its twin (``--set run.burn_in=0``; the preset's three-year
burn-in makes the loop four years long): the whole command under 5 s of CPU on one core,
judged on the best warm run. With ``--burn-in-too`` the preset as it is (burn-in included)
is measured as well. Each run's build (as the command prints it) and day loop (its manifest's
``loop_seconds``) are shown in wall seconds beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TARGET = 5.0
SCORELAB = [sys.executable, "-m", "scorelab"]


def one_run(args: list[str], env: dict[str, str], out: Path) -> dict[str, float]:
    """One ``scorelab run`` in its own process on one core: its CPU and wall seconds, the build's
    wall seconds (as the command prints them) and the day loop's (from the manifest)."""
    import re
    import time

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()

    def one_core() -> None:
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    proc = subprocess.run([*SCORELAB, "run", *args, "--out", str(out)], env=env, capture_output=True, text=True,
                          preexec_fn=one_core, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"bench_end_to_end: scorelab run {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    built = re.search(r"built in ([\d.]+) s", proc.stderr)
    return {"cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), "wall": wall,
            "build": float(built.group(1)) if built else float("nan"), "loop": float(m.get("loop_seconds", "nan"))}


def series(label: str, args: list[str], env: dict[str, str], tmp: Path, repeat: int) -> dict[str, float]:
    """No cache, cold cache, then ``repeat`` warm runs of ``args``; prints each; returns the best warm CPU."""
    cache = tmp / f"cache-{label}"
    env = {**env, "SCORELAB_CACHE_DIR": str(cache)}
    runs: list[tuple[str, dict[str, float]]] = []
    runs.append(("no cache", one_run([*args, "--no-cache"], env, tmp / f"{label}-none")))
    runs.append(("cold cache", one_run(args, env, tmp / f"{label}-cold")))
    warm = [one_run(args, env, tmp / f"{label}-warm{i}") for i in range(repeat)]
    runs += [(f"warm cache #{i + 1}", r) for i, r in enumerate(warm)]
    print(f"\n{label}: scorelab run {' '.join(args)} --out DIR")
    print(f"  {'run':<16} {'CPU s':>7} {'wall s':>7} {'build s':>8} {'loop s':>7}  (build and loop: wall)")
    for name, r in runs:
        print(f"  {name:<16} {r['cpu']:7.2f} {r['wall']:7.2f} {r['build']:8.2f} {r['loop']:7.2f}")
    cpus = [r["cpu"] for r in warm]
    print(f"  warm cache: best {min(cpus):.2f} s CPU, median {statistics.median(cpus):.2f} s")
    return {"none": runs[0][1]["cpu"], "cold": runs[1][1]["cpu"], "best": min(cpus),
            "median": statistics.median(cpus)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="rongcheng-2018")
    ap.add_argument("--repeat", type=int, default=3, help="warm-cache runs")
    ap.add_argument("--burn-in-too", action="store_true", help="also the preset as it is, burn-in included")
    args = ap.parse_args()

    env = {**os.environ, "NUMBA_NUM_THREADS": "1", "COLUMNS": "120"}
    env.pop("SCORELAB_NO_CACHE", None)
    # as an installed package is: its modules' bytecode cached (the warm-up run writes it; a
    # shell that forbids it would time Python compiling ninety modules from source, 0.13 s a run)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory(prefix="scorelab-e2e-") as t:
        tmp = Path(t)
        # kernels compiled if stale (untimed): a short run, no population cache
        one_run([args.scenario, "--days", "2", "--set", "run.burn_in=0", "--scale", "0.01", "--no-cache"], env,
                tmp / "warm-up")
        year = series("year", [args.scenario, "--set", "run.burn_in=0"], env, tmp, args.repeat)
        if args.burn_in_too:
            series("preset", [args.scenario], env, tmp, args.repeat)
    print(f"\nend to end, the year with its twin: {year['best']:.2f} s CPU (warm cache, best of {args.repeat}), "
          f"{year['cold']:.2f} s cold, {year['none']:.2f} s without the cache")
    verdict = "met" if year["best"] < TARGET else "not met"
    print(f"target < {TARGET:g} s on one core: {verdict}")


if __name__ == "__main__":
    main()
