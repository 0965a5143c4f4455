"""Where the day loop's time goes, by kernel: Linux ``perf`` sampling one year, with names.

    python benchmarks/profile_day_loop.py [--scenario rongcheng-2018] [--days 365] [--top 25]
                                          [--freq 5000] [--keep FOLDER]

perf cannot name numba's compiled functions by itself (they live in memory LLVM wrote at
run time), so this run compiles the kernels afresh in a temporary cache, writes perf's map
of their addresses (``/tmp/perf-PID.map``), then samples its own timed run of the day loop
and prints the share of samples per function. A function numba inlined is counted in its
caller (most small helpers are ``inline="always"``); ``NRT_incref``/``NRT_decref`` are
numba's reference counts, ``clear_page_erms`` the kernel zeroing fresh pages.

With ``--keep`` the samples (``perf.data``), the map and each function's machine code
(``code_ADDR.bin``, for ``objdump -D -b binary -mi386:x86-64 --adjust-vma=ADDR``) stay in
FOLDER, for a look at single instructions (``perf script -F ip``).

Needs ``perf`` (linux-tools) and permission to sample one's own processes
(``kernel.perf_event_paranoid`` at most 2).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import ctypes, json, os, signal, subprocess, sys, time
import numba
import scorelab
from scorelab.engine.simulation import simulate
import importlib, pkgutil
from scorelab.engine import kernel, plan
kernel_modules = [importlib.import_module(f"scorelab.engine.kernel.{m.name}") for m in pkgutil.iter_modules(kernel.__path__)]
from scorelab import rng
from scorelab.synth import drawn

name, days, freq, folder = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
sc = scorelab.load(name, {"run.burn_in": 0, "run.days": days})
pop, con = scorelab.build_population(sc)
simulate(scorelab.load(name, {"run.burn_in": 0, "run.days": 2}), pop, con)  # compiles every kernel the year runs

# every compiled function of every dispatcher: start address, numba's (mangled) name
starts = {}
for mod in (*kernel_modules, plan, rng, drawn):
    for attr in dir(mod):
        d = getattr(mod, attr)
        if not isinstance(d, numba.core.registry.CPUDispatcher):
            continue
        for cres in d.overloads.values():
            lib = cres.library
            for f in lib._final_module.functions:
                if f.is_declaration:
                    continue
                address = lib.get_pointer_to_function(f.name)
                if address:
                    starts[address] = f.name
items = sorted(starts.items())
code = {}
with open(f"/tmp/perf-{os.getpid()}.map", "w") as fh:
    for i, (address, fname) in enumerate(items):
        # (sizes are unknown: each function runs to the next one, 1 MiB at most)
        size = min(items[i + 1][0] - address if i + 1 < len(items) else 4096, 1 << 20)
        fh.write(f"{address:x} {size:x} {fname}\n")
        with open(os.path.join(folder, f"code_{address:x}.bin"), "wb") as out:
            out.write(ctypes.string_at(address, size))
        code[f"{address:x}"] = [size, fname]
with open(os.path.join(folder, "code.json"), "w") as fh:
    json.dump(code, fh)
perf = subprocess.Popen(["perf", "record", "-F", freq, "-o", os.path.join(folder, "perf.data"), "-p",
                         str(os.getpid())], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(1.0)  # (perf attaches)
t0 = time.perf_counter()
simulate(sc, pop, con)
print("RESULT", time.perf_counter() - t0, os.getpid(), flush=True)
perf.send_signal(signal.SIGINT)
perf.wait()
"""


def demangled(name: str) -> str:
    """numba's mangled name -> module.function (``_ZN8scorelab6engine6kernel7observeB4v...``)."""
    if not name.startswith("_ZN"):
        return name
    parts, i = [], 3
    while i < len(name) and name[i].isdigit():
        j = i
        while name[j].isdigit():
            j += 1
        n = int(name[i:j])
        parts.append(name[j: j + n])
        i = j + n
    return ".".join(parts) or name


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="rongcheng-2018")
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--freq", type=int, default=5000, help="samples per second")
    ap.add_argument("--keep", type=Path, help="folder to keep the samples, map and machine code in")
    args = ap.parse_args()
    if shutil.which("perf") is None:
        sys.exit("profile_day_loop: needs Linux perf on the PATH (linux-tools)")
    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="scorelab-profile-") as tmp:
        folder = args.keep or Path(tmp) / "out"
        folder.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, PYTHONPATH=str(root / "src"), NUMBA_CACHE_DIR=str(Path(tmp) / "cache"),
                   NUMBA_NUM_THREADS="1")
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", CHILD, args.scenario, str(args.days), str(args.freq),
                               str(folder)], env=env, capture_output=True, text=True, check=False)
        line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
        if proc.returncode != 0 or line is None:
            sys.exit(f"profile_day_loop: the profiled run failed:\n{proc.stderr[-3000:]}")
        _, wall, pid = line.split()
        report = subprocess.run(["perf", "report", "-i", str(folder / "perf.data"), "--stdio", "--sort", "sym"],
                                capture_output=True, text=True, check=False)
        shutil.move(f"/tmp/perf-{pid}.map", folder / "perf.map")
        rows = [x.split(None, 2) for x in report.stdout.splitlines() if x.strip() and not x.startswith("#")]
        print(f"{args.scenario}, {args.days} days: day loop {float(wall):.2f} s under perf "
              f"(whole run with compiling {time.perf_counter() - t0:.0f} s)")
        for share, _, sym in rows[: args.top]:
            print(f"{share:>8}  {demangled(sym.removeprefix('[.] ').removeprefix('[k] '))}")
        if args.keep:
            print(f"samples, map and machine code kept in {folder}")


if __name__ == "__main__":
    main()
