"""Where a cold compile goes: each kernel's own compile time, on an empty cache, in one process.

    python benchmarks/profile_compile.py [--scenario safeguarded] [--top 25]

Runs ``scorelab.run(<scenario>)`` at 2,000 people for 3 days in a fresh process on an empty
numba cache with the compile helpers off, and times every compilation (numba's
``numba:compile`` events): its wall time, which includes the kernels it calls that are
compiled for it, and its own time without those. Also the time spent holding numba's LLVM
lock (optimising and emitting machine code) against the whole compile.

Numba compiles each kernel apart and links the code of the kernels it calls into its own,
so that a kernel's own time grows with the size of its whole call tree: a thin layer near the
top (an entry point calling one function) costs seconds. That is what this lists.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, sys, tempfile, time
from pathlib import Path
from numba.core import event

rows, stack = [], []
locks = {"numba:llvm_lock": 0.0, "numba:compiler_lock": 0.0}


class Compiles(event.Listener):
    def on_start(self, ev):
        stack.append([time.perf_counter(), 0.0])

    def on_end(self, ev):
        t0, inner = stack.pop()
        wall = time.perf_counter() - t0
        if stack:
            stack[-1][1] += wall
        fn = getattr(ev.data.get("dispatcher"), "py_func", None)
        rows.append({"name": f"{fn.__module__}.{fn.__qualname__}" if fn else "?", "wall": wall, "own": wall - inner})


class Held(event.Listener):
    def __init__(self, key):
        self.key = key

    def on_start(self, ev):
        self.t0 = time.perf_counter()

    def on_end(self, ev):
        locks[self.key] += time.perf_counter() - self.t0


event.register("numba:compile", Compiles())
for key in locks:
    event.register(key, Held(key))
import scorelab

t0 = time.perf_counter()
with tempfile.TemporaryDirectory() as tmp:
    scorelab.run(sys.argv[1], {"population.people": 2000, "run.days": 3}, out=Path(tmp) / "r", check_memory=False)
print("RESULT " + json.dumps({"total": time.perf_counter() - t0, "locks": locks, "rows": rows}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="safeguarded")
    ap.add_argument("--top", type=int, default=25, help="kernels listed")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, "SCORELAB_COMPILE_HELPERS": "0"}
        proc = subprocess.run([sys.executable, "-c", CHILD, args.scenario], env=env, capture_output=True, text=True,
                              check=False)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        sys.exit(f"profile_compile: the run failed:\n{proc.stderr[-3000:]}")
    got = json.loads(lines[-1][len("RESULT "):])
    own: dict[str, list[float]] = {}
    for r in got["rows"]:
        entry = own.setdefault(r["name"], [0, 0.0, 0.0])
        entry[0] += 1
        entry[1] += r["own"]
        entry[2] = max(entry[2], r["wall"])
    total_own = sum(v[1] for v in own.values())
    print(f"cold compile of scorelab.run({args.scenario!r}), 2,000 people, 3 days, one process, empty cache:")
    print(f"  {got['total']:.1f} s in all; {len(got['rows'])} compilations of {len(own)} functions, "
          f"{total_own:.1f} s of their own time; numba's LLVM lock held {got['locks']['numba:llvm_lock']:.1f} s, "
          f"its compiler lock {got['locks']['numba:compiler_lock']:.1f} s")
    print(f"  {'own s':>7} {'with callees s':>15} {'times':>6}  kernel")
    for name, (n, t, wall) in sorted(own.items(), key=lambda kv: -kv[1][1])[: args.top]:
        print(f"  {t:7.1f} {wall:15.1f} {n:6d}  {name}")


if __name__ == "__main__":
    main()
