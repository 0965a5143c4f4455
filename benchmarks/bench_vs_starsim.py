"""Benchmark: scorelab against Starsim 3 on the same reduced scenario as the Mesa baseline.

    python benchmarks/bench_vs_starsim.py [--people 10000,100000,1000000] [--days 365] [--seed 1]

Needs Starsim 3 (``pip install "starsim>=3"``, or the ``bench`` extra). The scenario, its
closed form, the checks and the scorelab side are shared with ``bench_vs_mesa.py``
(``reduced.py``).

Starsim is the vectorised, numpy engine of current population agent-based models: state
is per-agent arrays (``ss.FloatArr``, ...), a module's ``step`` is numpy on them, and each
``ss.Dist`` draws one value per agent per step from common random numbers (a hash of the
distribution's seed, the step and the agent's slot), so that two scenarios differ only
where they act. The reduced scenario is written here as one custom ``ss.Module`` in a
daily ``ss.Sim``: each step, for the scored people, ``ss.poisson`` event counts of each
behaviour, a binomial detection of each count (each event kept with probability p), the
points booked, the people whose score moved re-graded, then ``ss.poisson`` service
attempts for the people in grade D and a binomial refusal of each; results (people in
each grade, mean score, refusals) each day, and the friends network as an ``ss.Network``.

Three versions on the peer side, all measured in the same run:

* ``starsim``: as above, with Starsim's defaults (common random numbers, the People
  results each step). This is the peer of the issue's target.
* ``starsim-lean``: ``ss.options.crn = False`` (one plain uniform per draw),
  ``people_results=False`` and no daily results of the module: the machinery scorelab
  has no counterpart of, or does not need, taken out.
* ``numpy``: the same vectorised step on plain numpy arrays with a numpy ``Generator``,
  no Starsim at all: the floor of a per-agent, per-step vectorised model.

and two on scorelab's: its default (the counterfactual twin run alongside, records kept,
and, the refused service being loans, every scored person's loan applications counted by
group, 12 a year each) and ``scorelab-lean``: no records, a service that is not a loan (the
same draws). Both run the twin: its acts are drawn in the same pass as the system's, and a run
without it is refused (``run.counterfactual``), so scorelab does more than its peers here.

``--rates`` multiplies the behaviours' rates (in every model and the closed form), to see
how the ratio moves with the density of events; the target is judged at 1.

Checks (different random streams, so statistical, 4 standard deviations): the mean score,
the share in each grade after T days and the refusals per scored person agree between
scorelab and each peer and with the closed form. Then it prints agent-days per second of
each and the speed ratios, all measured in this run, with the machine's load.
"""

from __future__ import annotations

import argparse
import os
import time

for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")
os.environ.setdefault("STARSIM_INSTALL_FONTS", "0")

import numpy as np  # noqa: E402
from reduced import (ATTEMPTS, BASE, BEHAVIOURS, DETECTION, GRADES, REFUSE_P, YEAR, agreement,  # noqa: E402
                     grades_of, run_scorelab, summarise, theory)

TARGET = 30.0
PEERS = ("starsim", "starsim-lean", "numpy")


# --------------------------------------------------------------------------- Starsim


def make_starsim_module():
    import scipy.stats as sps
    import starsim as ss

    class Scoring(ss.Module):
        """The reduced scenario as one Starsim module: per-agent arrays, one vectorised step a day."""

        def __init__(self, scored: np.ndarray, daily_results: bool = True, **kwargs) -> None:
            super().__init__(name="scoring")
            self.define_pars(detection=DETECTION, refuse_p=REFUSE_P)
            self.update_pars(**kwargs)
            self.define_states(
                ss.BoolArr("scored", label="Scored (adult)"),
                ss.FloatArr("score", default=BASE, label="Score"),
                ss.IntArr("grade", default=0, label="Grade (0 = A ... 3 = D)"),
                ss.FloatArr("refusals", default=0.0, label="Refusals"),
            )
            self.scored_in = scored
            self.daily_results = daily_results
            self.refused = 0.0  # refusals of the current step, for its result
            # one distribution per decision, as Starsim wants (each draws once per agent per step)
            self.acts = [ss.poisson(lam=r / YEAR, name=f"acts_{b}") for b, (r, _) in BEHAVIOURS.items()]
            self.points = [d for _, d in BEHAVIOURS.values()]
            self.detect = [ss.Dist(dist=sps.binom, n=1, p=self.pars.detection, name=f"detect_{b}") for b in BEHAVIOURS]
            self.attempts = ss.poisson(lam=ATTEMPTS / YEAR, name="attempts")
            self.refuse = ss.Dist(dist=sps.binom, n=1, p=self.pars.refuse_p, name="refuse")

        def init_post(self) -> None:
            super().init_post()
            self.scored[:] = self.scored_in

        def init_results(self) -> None:
            super().init_results()
            if self.daily_results:
                self.define_results(*(ss.Result(f"n_{g}", dtype=int, label=f"In grade {g}") for g, _, _ in GRADES),
                                    ss.Result("mean_score", dtype=float, scale=False, label="Mean score"),
                                    ss.Result("new_refusals", dtype=float, label="Refusals"))

        def step(self) -> None:
            uids = self.scored.uids
            moved = []
            for acts, detect, d in zip(self.acts, self.detect, self.points):
                n = acts.rvs(uids)
                who = uids[n > 0]
                if len(who):
                    detect.set(n=n[n > 0])
                    self.score[who] = self.score[who] + d * detect.rvs(who)
                    moved.append(who)
            if moved:
                who = np.unique(np.concatenate(moved))
                self.grade[who] = grades_of(self.score[who])
            low = (self.scored & (self.grade == len(GRADES) - 1)).uids
            a = self.attempts.rvs(low)
            who = low[a > 0]
            self.refused = 0.0
            if len(who):
                self.refuse.set(n=a[a > 0])
                k = self.refuse.rvs(who)
                self.refusals[who] = self.refusals[who] + k
                self.refused = float(k.sum())

        def update_results(self) -> None:
            super().update_results()
            if self.daily_results:
                scored = self.scored.uids
                counts = np.bincount(self.grade[scored], minlength=len(GRADES))
                for (g, _, _), c in zip(GRADES, counts):
                    self.results[f"n_{g}"][self.ti] = c
                self.results.mean_score[self.ti] = self.score[scored].mean()
                self.results.new_refusals[self.ti] = self.refused

    class Friends(ss.Network):
        """The friends network, fixed for the run (no rule reads it: present, as in the other models)."""

        def step(self) -> None:
            pass

    return Scoring, Friends


def run_starsim(scored: np.ndarray, friends, days: int, seed: int, lean: bool) -> tuple[float, float, dict]:
    """(set-up s, run s, summary) of the Starsim model; lean: no CRN, no People or daily results."""
    import starsim as ss

    Scoring, Friends = make_starsim_module()
    rows = np.repeat(np.arange(scored.shape[0]), np.diff(friends.indptr))
    half = rows < friends.indices  # each undirected edge once
    t0 = time.perf_counter()
    with ss.options.context(crn=not lean):
        net = Friends(p1=rows[half], p2=friends.indices[half], beta=np.ones(int(half.sum())), name="friends")
        sim = ss.Sim(n_agents=scored.shape[0], start=ss.days(0), dur=ss.days(days - 1), dt=ss.days(1),
                     rand_seed=seed, verbose=0, people_results=not lean, networks=net,
                     custom=Scoring(scored, daily_results=not lean))
        sim.init()
        t_init = time.perf_counter() - t0
        t0 = time.perf_counter()
        sim.run()
        t_run = time.perf_counter() - t0
    m = sim.custom["scoring"]
    assert len(sim.timevec) == days, "one Starsim step per day"
    s = m.scored.uids
    return t_init, t_run, summarise(np.asarray(m.score[s]), np.asarray(m.grade[s]), np.asarray(m.refusals[s]))


def run_numpy(scored: np.ndarray, friends, days: int, seed: int) -> tuple[float, float, dict]:
    """The same per-agent vectorised step on plain numpy arrays (no Starsim)."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    uids = np.flatnonzero(scored)
    n = uids.shape[0]
    score = np.full(n, BASE)
    grade = np.zeros(n, dtype=np.int64)
    refusals = np.zeros(n)
    adjacency = (friends.indptr, friends.indices)  # present, as in the other models; no rule reads it
    lams = [r / YEAR for r, _ in BEHAVIOURS.values()]
    points = [d for _, d in BEHAVIOURS.values()]
    t_init = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(days):
        moved = []
        for lam, d in zip(lams, points):
            k = rng.poisson(lam, n)
            who = np.flatnonzero(k)
            score[who] += d * rng.binomial(k[who], DETECTION)
            moved.append(who)
        who = np.unique(np.concatenate(moved))
        grade[who] = grades_of(score[who])
        low = np.flatnonzero(grade == len(GRADES) - 1)
        a = rng.poisson(ATTEMPTS / YEAR, low.shape[0])
        hit = a > 0
        refusals[low[hit]] += rng.binomial(a[hit], REFUSE_P)
    del adjacency
    return t_init, time.perf_counter() - t0, summarise(score, grade, refusals)


# --------------------------------------------------------------------------- the run


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) {five:.2f} (5 min) on {os.cpu_count()} cores"


def one_size(people: int, days: int, seed: int, th: dict, repeat: int) -> tuple[dict, bool]:
    """Every version at one size; returns (seconds of each version's run, all agree)."""
    sl = run_scorelab(people, days, seed, repeat=repeat)
    lean = run_scorelab(people, days, seed, repeat=repeat, keep_records=False,
                        built=(sl["pop"], sl["contacts"]), service="flights")
    pop, friends, scored = sl["pop"], sl["contacts"]["friends"], sl["scored"]
    print(f"\n--- {pop.n:,} people ({sl['summary']['n']:,} scored), friends {friends.n_edges:,} edges, "
          f"{days} days; {load()}")
    secs = {"scorelab": sl["t"], "scorelab-lean": lean["t"]}
    print(f"  scorelab       build {sl['t_build']:7.2f} s  warm-up {sl['t_warm']:6.2f} s  runs "
          f"{', '.join(f'{t:.3f}' for t in sl['times'])} s (twin and records)")
    print(f"  scorelab-lean  runs {', '.join(f'{t:.3f}' for t in lean['times'])} s "
          "(no records, no loan applications by group; the twin runs)")
    agree = [agreement(sl["summary"], lean["summary"], th, "scorelab-lean", show=False)]
    peer_repeat = repeat if people * days <= 1e8 else 1
    for peer in PEERS:
        runs = []
        for i in range(peer_repeat):
            if peer == "numpy":
                runs.append(run_numpy(scored, friends, days, seed + 1000 + i))
            else:
                runs.append(run_starsim(scored, friends, days, seed + 1000 + i, lean=peer == "starsim-lean"))
        secs[peer] = min(r[1] for r in runs)
        print(f"  {peer:<14} set-up {runs[0][0]:6.2f} s  runs {', '.join(f'{r[1]:.3f}' for r in runs)} s")
        if peer == "starsim":
            print(f"  agreement after {days} days (4 sd; sd of each side from its own sample):")
        agree.append(agreement(sl["summary"], runs[-1][2], th, peer, show=peer == "starsim"))
    ad = pop.n * days
    print("  agent-days/s: " + ", ".join(f"{k} {ad / v:,.0f}" for k, v in secs.items()))
    return secs, all(agree)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", default="10000,100000,1000000", help="sizes, comma-separated")
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each version (best kept); one above 1e8 agent-days")
    ap.add_argument("--rates", type=float, default=1.0,
                    help="the behaviours' rates times this in every model and the closed form (events per agent-day)")
    args = ap.parse_args()
    for b, (r, d) in list(BEHAVIOURS.items()):  # in place: every model and the closed form read this dict
        BEHAVIOURS[b] = (r * args.rates, d)

    import starsim as ss

    sizes = [int(float(x)) for x in args.people.split(",")]
    th = theory(args.days)
    print(f"reduced scenario: {len(BEHAVIOURS)} behaviours (rates x{args.rates:g}), 1 channel (detection {DETECTION}), "
          f"points from {BASE:.0f}, {len(GRADES)} grades, refusal in grade {GRADES[-1][0]} "
          f"({ATTEMPTS:g}/year, p {REFUSE_P}), friends; {args.days} days; Starsim {ss.__version__}, "
          f"numpy {np.__version__}; {load()}")
    table, agree = {}, True
    for n in sizes:
        table[n], ok = one_size(n, args.days, args.seed, th, args.repeat)
        agree &= ok
    print(f"\nall checks: {'agree' if agree else 'DISAGREE'}; {load()}")
    print("speed ratios (day loop, best run of each, same run): scorelab / peer, scorelab-lean / peer")
    for n, secs in table.items():
        print(f"  {n:>10,} x {args.days} days: " + "   ".join(
            f"{p} {secs[p] / secs['scorelab']:,.1f}x / {secs[p] / secs['scorelab-lean']:,.1f}x" for p in PEERS))
    big = max(table)
    ratio = table[big]["starsim"] / table[big]["scorelab"]
    as_set = big >= 1_000_000 and args.days >= 365 and args.rates == 1.0
    verdict = "met" if ratio >= TARGET and agree and as_set else "not met"
    print(f"speed ratio scorelab / starsim at {big:,} x {args.days} days: {ratio:,.1f}x  "
          f"(target >= {TARGET:g}x at 1,000,000 x 365 days, outputs agreeing: {verdict})")
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
