"""All the issue's benchmarks in one run, then the targets they measure.

    pip install -e '.[bench]' && python benchmarks/run_all.py [--quick] [--memory]

Runs, one after another, each in its own process (one core each; the machine's load
moves single runs by 10-30 %, so judge a change with ``bench_ab.py`` instead):

* ``bench_day_loop.py --repeat 5``: agent-days per second per core, Rongcheng year with
  its twin;
* ``bench_end_to_end.py``: the whole ``scorelab run`` command (build or population cache,
  the Rongcheng year with its twin, results written), CPU seconds on one core, without the
  population cache, with it cold and warm;
* ``bench_vs_mesa.py``: the reduced scenario in scorelab and in Mesa 3, outputs checked
  against each other and against theory, the speed ratio in the same run (needs the
  ``bench`` extra; skipped with a note without Mesa);
* ``bench_vs_starsim.py``: the same reduced scenario in Starsim 3 (idiomatic, lean, and
  plain numpy), a year at 1e4, 1e5 and 1e6 people, the same checks, the speed ratios in
  the same run (needs the ``bench`` extra; skipped with a note without Starsim; best of 3
  below 1e8 agent-days, one run with ``--quick``);
* ``bench_threads.py --threads 1,2``: a million-person national-2027 year on one and two
  threads against the single-process loop, outputs checked equal, and the 16-core
  efficiency Amdahl's law predicts from the measured serial fraction;
* ``bench_shard_memory.py``: each Ray actor's own memory for 1, 2, 4 and 8 local actors on
  4 million people (1 million with ``--quick``), fitted as a constant plus a part divided by
  the actors (needs the ``ray`` extra; skipped with a note without Ray);
* ``bench_shard_memory.py --divide cities``: the same on national-2027 (4.23 million people;
  423,000 with ``--quick``) with each actor building its own cities' people, contacts and
  plan, as on a Ray cluster, and the driver's peak (needs ``ray``);
* ``bench_city_build.py``: the build of a cluster, each Ray actor building its own cities'
  people and contact layers alone (4.23 million people; 423,000 with ``--quick``), each
  actor's own memory for 1, 2, 4 and 8 actors, fitted the same way (needs ``ray``);
* ``bench_cold_compile.py``: a first run on an empty kernel cache, one process compiling
  and with compile helpers on the other cores (minutes);
* ``bench_population.py``: bytes per person and per edge of the built population;
* ``bench_scaling.py --big``: cost as people (1e5, 1e6, 1e7; no 1e7 with ``--quick``) and
  days grow;
* with ``--memory``, ``bench_memory.py --drawn``: peak memory of a run, extrapolated to
  100 million people (several minutes).

Prints every benchmark's own report, then one table of the issue's targets as measured
here. Exits non-zero if a benchmark fails.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(script: str, *args: str) -> str:
    """Run one benchmark, echoing its report; returns the report (exits if it fails)."""
    print(f"\n=== {script} {' '.join(args)}".rstrip(), flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(HERE / script), *args], capture_output=True, text=True, check=False)
    print(proc.stdout, end="", flush=True)
    if proc.returncode != 0:
        sys.exit(f"run_all: {script} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    print(f"({script}: {time.perf_counter() - t0:.0f} s)", flush=True)
    return proc.stdout


def found(pattern: str, text: str) -> str | None:
    m = re.search(pattern, text)
    return m.group(1) if m else None


def fit_row(target: str, out: str, extra: str = "") -> tuple[str, str, str]:
    """A target row from a per-actor memory report (``per_actor_fit.report_fit``'s lines):
    the fit, its largest gap, ``extra``, and the verdict."""
    fit = found(r"fit own = c \+ s / N: (c = .*?); largest", out)
    gap = found(r"largest gap to a measured mean ([\d.]+ %)", out)
    return (target, f"{fit}, fit within {gap}{extra}" if fit else "?",
            found(r"fit within 10 %\): (met|not met)", out) or "?")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="no 1e7 people in the scaling series, one run of each version against Starsim")
    ap.add_argument("--memory", action="store_true", help="also the peak memory of runs (bench_memory.py --drawn)")
    args = ap.parse_args()

    rows: list[tuple[str, str, str]] = []
    out = run("bench_day_loop.py", "--repeat", "5")
    rate = found(r"agent-days per second\s+([\d,]+) per core", out)
    rows.append((">= 1e8 agent-days/s/core (Rongcheng year, twin)", f"{rate} (best of 5)" if rate else "?",
                 found(r"ratio to target 1e8\s+\S+\s+\((met|not met)\)", out) or "?"))

    out = run("bench_end_to_end.py")
    best = found(r"the year with its twin: ([\d.]+) s CPU", out)
    cold = found(r"best of \d+\), ([\d.]+) s cold", out)
    rows.append(("< 5 s CPU end to end (scorelab run, Rongcheng year, twin, results; 1 core)",
                 f"{best} s warm population cache, {cold} s cold" if best else "?",
                 found(r"target < 5 s on one core: (met|not met)", out) or "?"))

    if importlib.util.find_spec("mesa") is None:
        print("\n=== bench_vs_mesa.py: skipped, Mesa is not installed (pip install -e '.[bench]')")
        rows.append((">= 1000x the Mesa 3 baseline", "not run (no Mesa)", "?"))
    else:
        out = run("bench_vs_mesa.py")
        ratio = found(r"speed ratio scorelab / mesa at [^:]*: ([\d,]+)x", out)
        agree = "agree" if "all checks: agree" in out else "DISAGREE"
        rows.append((">= 1000x the Mesa 3 baseline", f"{ratio}x (outputs {agree})" if ratio else "?",
                     found(r"target >= 1000x: (met|not met)", out) or "?"))

    if importlib.util.find_spec("starsim") is None:
        print("\n=== bench_vs_starsim.py: skipped, Starsim is not installed (pip install -e '.[bench]')")
        rows.append((">= 30x Starsim 3 (1e6 people, a year)", "not run (no Starsim)", "?"))
    else:
        out = run("bench_vs_starsim.py", *(["--repeat", "1"] if args.quick else []))
        ratio = found(r"speed ratio scorelab / starsim at [^:]*: ([\d,.]+)x", out)
        agree = "agree" if "all checks: agree" in out else "DISAGREE"
        rows.append((">= 30x Starsim 3 (1e6 people, a year)", f"{ratio}x (outputs {agree})" if ratio else "?",
                     found(r"outputs agreeing: (met|not met)\)", out) or "?"))

    out = run("bench_threads.py", "--threads", "1,2", *(["--repeat", "1"] if args.quick else []))
    rows.append((">= 1.6x on 2 cores (threads, 1e6 people, a year)",
                 (found(r"target: at least 1.6x on 2 cores: ([\d.]+x)", out) or "?"),
                 found(r"target: at least 1.6x on 2 cores: [\d.]+x \((met|not met)\)", out) or "?"))
    rows.append((">= 70 % efficiency on 16 cores (on paper, Amdahl)",
                 (found(r"(16 cores would give [\d.]+x, efficiency \d+ ?%)", out) or "?"),
                 found(r"\(target 70 %: (met|not met), on paper\)", out) or "?"))

    if importlib.util.find_spec("ray") is None:
        rows.append(("per-actor memory falls as 1/N + a constant (Ray, 4e6 people)", "not run (no Ray)", "?"))
    else:
        out = run("bench_shard_memory.py", *(["--people", "1000000"] if args.quick else []))
        rows.append(fit_row("per-actor memory falls as 1/N + a constant (Ray, 4e6 people)", out))

    if importlib.util.find_spec("ray") is not None:
        out = run("bench_shard_memory.py", "--scenario", "national-2027", "--divide", "cities",
                  "--scale", "0.0003" if args.quick else "0.003")
        driver = found(r"driver peak \(building the population, the plan, the merged end state\): ([^\n]*)", out)
        rows.append(fit_row("a cluster's run (own cities' people, contacts, plan, state) per actor: 1/N + a constant",
                            out, f"; driver peak {driver}"))

    if importlib.util.find_spec("ray") is not None:
        out = run("bench_city_build.py", *(["--scale", "0.0003"] if args.quick else []))
        same = found(r"every part's rows equal to the build of everyone \([^)]*\): (yes|NO)", out)
        rows.append(fit_row("a cluster's build (own cities' people and contacts) per actor: 1/N + a constant",
                            out, f"; rows equal: {same}"))

    out = run("bench_cold_compile.py")
    ratio = found(r"with helpers / one process: ([\d.]+x)", out)
    rows.append(("cold compile < 60 s on 2 cores (first run, empty cache)",
                 (found(r"cold first run with helpers: ([\d.]+ s on \d+ cores)", out) or "?")
                 + (f", {ratio} the time of one process compiling" if ratio else ""),
                 found(r"target < 60 s on 2 cores: (met|not met)\)", out) or "?"))

    out = run("bench_population.py")
    per_person = found(r"bytes per person \(excluding edge indices\) ([\d.]+)", out)
    per_edge = found(r"bytes per stored undirected edge ([\d.]+)", out)
    rows.append(("<= 64 B/person + 8 B/edge", f"{per_person} B/person, {per_edge} B/edge",
                 found(r"budget 64 B/person \+ 8 B/edge = [\d.]+ MiB: (met|NOT met)", out) or "?"))

    out = run("bench_scaling.py", *([] if args.quick else ["--big"]))
    # each series' cost per unit of work against its first row (1.0 throughout is linear)
    for title in ("people series", "days series"):
        block = out.split(title, 1)[1].split("\n\n", 1)[0] if title in out else ""
        cells = [line.split() for line in block.splitlines() if line.strip()[:1].isdigit()]
        steps = ", ".join(f"{c[9]} at {c[7]}x" for c in cells)
        rows.append((f"cost / work ({title})", steps or "?", "(1.0 is linear in the work)"))

    if args.memory:
        out = run("bench_memory.py", "--drawn")
        gb = found(r"extrapolated from the measured peak: ([\d.,]+) GB", out)
        rows.append(("100 million people in 24 GB (drawn layers)", f"{gb} GB extrapolated" if gb else "?",
                     found(r"x the 24 GB target: (met|not met)", out) or "?"))

    print("\n=== targets of the issue, as measured in this run")
    width = max(len(r[0]) for r in rows)
    for target, measured, verdict in rows:
        print(f"{target:<{width}}  {measured}  {verdict}")


if __name__ == "__main__":
    main()
