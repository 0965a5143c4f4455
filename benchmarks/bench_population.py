"""Benchmark: build a population and all contact layers, report time and memory.

    python benchmarks/bench_population.py [--people N] [--seed S] [--chunks C] [--cold]

Targets (issue "Foundation"): the default 670,000-person population with all
layers builds in under 5 s on one core after numba compilation, and the built
arrays take at most 64 bytes per person plus 8 bytes per stored undirected edge.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import tracemalloc

import sys
import tempfile

# --cold: compile into an empty numba cache, so the compile time is the real one
if "--cold" in sys.argv:
    os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="scorelab-numba-")

# one core, as in the target
for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

from scorelab.scenario.population import ContactsSpec, PopulationSpec  # noqa: E402
from scorelab.synth.contacts import CSRLayer, build_contacts  # noqa: E402
from scorelab.synth.population import build_population  # noqa: E402

TIME_TARGET_S = 5.0
BYTES_PER_PERSON = 64
BYTES_PER_EDGE = 8


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=670_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--chunks", type=int, default=1)
    ap.add_argument("--cold", action="store_true", help="compile with an empty numba cache")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    tiny = build_population(PopulationSpec(people=2_000), args.seed)
    build_contacts(tiny, ContactsSpec(), args.seed)
    compile_s = time.perf_counter() - t0

    pop_spec = PopulationSpec(people=args.people)
    rss0 = _rss_mib()
    # timed run (tracemalloc off: it slows allocation)
    t0 = time.perf_counter()
    pop = build_population(pop_spec, args.seed, chunks=args.chunks)
    t1 = time.perf_counter()
    contacts = build_contacts(pop, ContactsSpec(), args.seed, chunks=args.chunks)
    t2 = time.perf_counter()
    rss1 = _rss_mib()
    del pop, contacts
    # memory run
    tracemalloc.start()
    pop = build_population(pop_spec, args.seed, chunks=args.chunks)
    contacts = build_contacts(pop, ContactsSpec(), args.seed, chunks=args.chunks)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    n = pop.n
    stored_edges = sum(layer.n_edges for layer in contacts.layers.values() if isinstance(layer, CSRLayer))
    pop_bytes = pop.nbytes()
    contact_bytes = contacts.nbytes()
    edge_bytes = 8 * stored_edges  # int32 indices, both directions
    per_person = (pop_bytes + contact_bytes - edge_bytes) / n
    total = t2 - t0
    budget = BYTES_PER_PERSON * n + BYTES_PER_EDGE * stored_edges

    print(f"people                     {n:,}  (households {pop.n_households:,}, firms {pop.firms.n:,}, "
          f"schools {pop.schools.n:,})")
    what = "compile, empty cache" if args.cold else "compile or numba cache load"
    print(f"numba first call           {compile_s:.2f} s ({what}; 2,000 people)")
    print(f"build population           {t1 - t0:.2f} s")
    print(f"build contacts             {t2 - t1:.2f} s")
    for name in contacts:
        layer = contacts[name]
        kind = "implicit" if not isinstance(layer, CSRLayer) else f"indptr {layer.indptr.dtype}"
        print(f"  {name:<10} edges {layer.n_edges:>12,}  mean degree {2 * layer.n_edges / n:6.2f}  "
              f"{layer.nbytes() / 2**20:8.1f} MiB  ({kind})")
    print(f"total build                {total:.2f} s   target < {TIME_TARGET_S:.0f} s: "
          f"{'met' if total < TIME_TARGET_S else 'NOT met'}")
    print(f"stored bytes: people+firms+schools {pop_bytes / 2**20:.1f} MiB, contacts {contact_bytes / 2**20:.1f} MiB")
    print(f"bytes per person (excluding edge indices) {per_person:.1f}; "
          f"bytes per stored undirected edge {edge_bytes / max(stored_edges, 1):.1f}")
    print(f"stored total {(pop_bytes + contact_bytes) / 2**20:.1f} MiB vs budget 64 B/person + 8 B/edge = "
          f"{budget / 2**20:.1f} MiB: {'met' if pop_bytes + contact_bytes <= budget else 'NOT met'}")
    print(f"peak traced allocation during build {peak / 2**20:.1f} MiB ({peak / n:.0f} B/person); "
          f"max RSS {rss0:.0f} -> {rss1:.0f} MiB (timed run)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
