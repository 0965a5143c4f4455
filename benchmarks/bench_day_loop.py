"""Benchmark the day loop: agent-days per second per core for a Rongcheng-sized year with its twin.

    python benchmarks/bench_day_loop.py [--scenario rongcheng-2018] [--people N] [--days D] [--repeat R]

Prints the time to build the population and contacts, the time of the day
loop (after a warm-up run that compiles the kernels), agent-days per second,
records and events per second, and the ratio to the 1e8 agent-days/s target,
all measured in this run. The kernels are single-threaded, so the figure is
per core.
"""

from __future__ import annotations

import argparse
import resource
import time

TARGET = 1e8


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="rongcheng-2018")
    ap.add_argument("--people", type=int, default=None, help="override population.people")
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()

    import scorelab
    from scorelab.engine.simulation import simulate

    overrides = {"run.burn_in": 0, "run.days": args.days}
    if args.people:
        overrides["population.people"] = args.people
    scenario = scorelab.load(args.scenario, overrides)

    t0 = time.perf_counter()
    pop, contacts = scorelab.build_population(scenario, layers="read")  # as scorelab.run builds them
    t_build = time.perf_counter() - t0

    warm = scorelab.load(args.scenario, {**overrides, "run.days": 2})
    t0 = time.perf_counter()
    simulate(warm, pop, contacts)
    t_compile = time.perf_counter() - t0

    times = []
    out = None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        out = simulate(scenario, pop, contacts)
        times.append(time.perf_counter() - t0)
    best = min(times)
    agent_days = pop.n * args.days
    events = sum(v.sum() for k, v in out.metrics.items() if k.startswith("events."))
    twin_events = sum(v.sum() for k, v in out.metrics.items() if k.startswith("events_twin."))
    records = len(out.records["subj"])
    rate = agent_days / best
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"scenario                 {args.scenario}: {pop.n:,} people, {pop.firms.n:,} firms, {args.days} days")
    print(f"contact edges            {contacts.n_edges:,} (layers the rules read: {', '.join(contacts.names)})")
    print(f"build population         {t_build:8.2f} s")
    print(f"warm-up (compile/load)   {t_compile:8.2f} s")
    print(f"day loop (best of {args.repeat})     {best:8.2f} s   runs: {', '.join(f'{t:.2f}' for t in times)}")
    print(f"events factual / twin    {events:,.0f} / {twin_events:,.0f}   ({(events + twin_events) / best:,.0f} per s)")
    print(f"records                  {records:,}   ({records / best:,.0f} per s)")
    print(f"agent-days per second    {rate:,.0f} per core")
    print(f"ratio to target 1e8      {rate / TARGET:.3f}  ({'met' if rate >= TARGET else 'not met'})")
    print(f"peak RSS                 {rss:,.0f} MiB ({rss * 2**20 / pop.n:,.0f} bytes per person incl. interpreter)")


if __name__ == "__main__":
    main()
