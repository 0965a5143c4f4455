"""A/B timing of the day loop: this working tree against a git revision, runs alternated.

    python benchmarks/bench_ab.py --base HEAD~1 [--rounds 4] [--scenario rongcheng-2018] [--days 365]
                                  [--people N]

On a shared machine the speed of one run moves by 10-30 % with the load, so a change
is judged by runs of both versions alternated in one session: each round runs the base
revision and then this tree, each in a fresh process (its own numba cache), times the
best of two day loops after a warm-up, and checks that both made the same number of
records. Prints every run, then the best and median of each side and their ratios.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import sys, time, scorelab
from scorelab.engine.simulation import simulate
try:
    from scorelab.scenario.run import Run
except ImportError:  # (revisions before scenario.run)
    from scorelab.scenario.system import Run
name, days, people = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
plain = {"run.burn_in": 0} if "burn_in" in Run.model_fields else {}  # (revisions before burn-ins had none)
if people:
    plain["population.people"] = people
sc = scorelab.load(name, {**plain, "run.days": days})
pop, con = scorelab.build_population(sc)
simulate(scorelab.load(name, {**plain, "run.days": 2}), pop, con)
times = []
for _ in range(2):
    t0 = time.perf_counter()
    out = simulate(sc, pop, con)
    times.append(time.perf_counter() - t0)
print("RESULT", min(times), len(out.records["subj"]))
"""


def run_once(src: Path, cache: Path, scenario: str, days: int, people: int) -> tuple[float, int]:
    env = dict(os.environ, PYTHONPATH=str(src), NUMBA_CACHE_DIR=str(cache), NUMBA_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", CHILD, scenario, str(days), str(people)], env=env,
                          capture_output=True, text=True)
    m = re.search(r"RESULT ([\d.]+) (\d+)", proc.stdout)
    if proc.returncode != 0 or m is None:
        sys.exit(f"run of {src} failed:\n{proc.stderr[-3000:]}")
    return float(m.group(1)), int(m.group(2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="git revision to compare against (e.g. HEAD~1)")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--scenario", default="rongcheng-2018")
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--people", type=int, default=0, help="population.people (0: the scenario's)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="scorelab-ab-") as tmp:
        base = Path(tmp) / "base"
        base.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.base, "src"], capture_output=True)
        if archive.returncode != 0:
            sys.exit(f"git archive {args.base}: {archive.stderr.decode().strip()}")
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive.stdout, check=True)
        sides = {f"base {args.base}": (base / "src", Path(tmp) / "cache-base"),
                 "this tree": (ROOT / "src", Path(tmp) / "cache-tree")}
        times: dict[str, list[float]] = {k: [] for k in sides}
        records: dict[str, set[int]] = {k: set() for k in sides}
        for r in range(args.rounds):
            for label, (src, cache) in sides.items():
                t, n = run_once(src, cache, args.scenario, args.days, args.people)
                times[label].append(t)
                records[label].add(n)
                print(f"round {r + 1}  {label:24s} {t:8.3f} s   records {n:,}", flush=True)
        print()
        for label, ts in times.items():
            print(f"{label:24s} best {min(ts):8.3f} s   median {statistics.median(ts):8.3f} s")
        (b_label, b), (t_label, t) = times.items()
        print(f"this tree / base: best {min(t) / min(b):.3f}   median {statistics.median(t) / statistics.median(b):.3f}")
        if records[b_label] != records[t_label]:
            print(f"records differ: base {sorted(records[b_label])}, this tree {sorted(records[t_label])} "
                  "(expected when the change alters draws)")


if __name__ == "__main__":
    main()
