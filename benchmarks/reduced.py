"""The reduced scenario that the peer benchmarks (Mesa, Starsim) write again in their peer.

Shared by ``bench_vs_mesa.py`` and ``bench_vs_starsim.py``: the scenario's parameters and
its scorelab scenario dict, the closed form its outputs must match, the summary statistics
compared, the comparison at 4 standard deviations, and the timed scorelab side.

The scenario: three behaviours (a minor offence, a major offence, a civic act) observed by
one channel with detection p, a points scheme (base 100, -5 / -30 / +5 points per record,
no recovery), four grade bands, one refusal consequence (attempts at rate a, refused with
probability q, for people in the lowest grade D) and a friends network (present in every
model, read by no rule). Responses (awareness, deterrence) are off.

Closed form: score = base + sum_b d_b N_b with N_b ~ Poisson(r_b p T / 365.25); refusals
per scored person = sum over days of P(grade D that day) x a q / 365.25.
"""

from __future__ import annotations

import math
import time

import numpy as np

YEAR = 365.25
Z = 4.0
BASE = 100.0
DETECTION = 0.5
# name: (rate per year, points per record)
BEHAVIOURS = {"minor_offence": (6.0, -5.0), "major_offence": (1.0, -30.0), "civic_act": (2.0, 5.0)}
# name, from (inclusive), below (exclusive); the last is the lowest
GRADES = [("A", BASE, None), ("B", 90.0, BASE), ("C", 70.0, 90.0), ("D", None, 70.0)]
ATTEMPTS = 12.0  # per year, people in grade D
REFUSE_P = 0.8
_OFF = {"enabled": False, "degree": {"distribution": "poisson", "mean": 1.0}, "same_city": 0.5, "same_group": 0.5}


def scenario_dict(people: int, days: int, seed: int, service: str = "loans") -> dict:
    """The scenario; a ``service`` other than loans drops the applications by group that scorelab
    counts for a loan (every scored person's, not only the refused), with the same draws."""
    grades = []
    for name, lo, hi in GRADES:
        g = {"name": name}
        if lo is not None:
            g["from"] = lo
        if hi is not None:
            g["below"] = hi
        grades.append(g)
    return {
        "name": "reduced-vs-mesa",  # the name the figures in docs/performance.md were run under
        "population": {"people": people},
        "contacts": {"household": False, "workplace": {"enabled": False}, "school": {"enabled": False},
                     "online": dict(_OFF)},  # friends: the default layer (mean degree 10)
        "behaviours": {b: {"rate": f"{r} per year"} for b, (r, _) in BEHAVIOURS.items()},
        "channels": {"registry": {"observes": list(BEHAVIOURS), "detection": DETECTION}},
        "scoring": {"scheme": "points", "base": BASE,
                    "rules": [{"behaviour": b, "points": d} for b, (_, d) in BEHAVIOURS.items()]},
        "grades": grades,
        "consequences": {"refusal": {"kind": "refusal", "service": service, "grades": [GRADES[-1][0]],
                                     "attempts": f"{ATTEMPTS} per year", "probability": REFUSE_P}},
        "responses": {"enabled": False},
        "run": {"days": days, "seed": seed},
    }


def grade_of(score: float) -> int:
    for i, (_, lo, hi) in enumerate(GRADES):
        if (lo is None or score >= lo) and (hi is None or score < hi):
            return i
    raise ValueError(score)


def grades_of(score: np.ndarray) -> np.ndarray:
    """Vectorised ``grade_of``: the number of band floors (70, 90, 100) above the score."""
    floors = np.array(sorted(lo for _, lo, _ in GRADES if lo is not None))
    return len(floors) - np.searchsorted(floors, score, side="right")


# --------------------------------------------------------------------------- closed form


def theory_grade_probs(days: float, kmax: int = 60) -> np.ndarray:
    """P(grade) of a scored person after `days` days: score = BASE + sum d_b N_b, N_b ~ Poisson."""
    lams = [r * DETECTION * days / YEAR for r, _ in BEHAVIOURS.values()]
    pts = [d for _, d in BEHAVIOURS.values()]
    ks = np.arange(kmax)
    pmfs = [np.exp(ks * math.log(lam) - lam - np.array([math.lgamma(k + 1) for k in ks])) for lam in lams]
    probs = np.zeros(len(GRADES))
    grid = np.meshgrid(*[ks] * len(lams), indexing="ij")
    weight = np.ones_like(grid[0], dtype=float)
    score = np.full(grid[0].shape, BASE)
    for g, pmf, d in zip(grid, pmfs, pts):
        weight = weight * pmf[g]
        score = score + d * g
    for i, (_, lo, hi) in enumerate(GRADES):
        m = np.ones_like(score, dtype=bool)
        if lo is not None:
            m &= score >= lo
        if hi is not None:
            m &= score < hi
        probs[i] = weight[m].sum()
    return probs


def theory(days: int) -> dict:
    mean = BASE + sum(d * r * DETECTION * days / YEAR for r, d in BEHAVIOURS.values())
    var = sum(d * d * r * DETECTION * days / YEAR for r, d in BEHAVIOURS.values())
    # step s (0-based) ends with s + 1 days of acts; the consequence of step s sees that grade
    p_low = sum(theory_grade_probs(s + 1)[-1] for s in range(days))
    return {"mean": mean, "var": var, "grades": theory_grade_probs(days), "refusals": p_low * ATTEMPTS * REFUSE_P / YEAR}


# --------------------------------------------------------------------------- checks


def summarise(score: np.ndarray, grade: np.ndarray, refusals: np.ndarray) -> dict:
    score = np.asarray(score, dtype=np.float64)
    refusals = np.asarray(refusals, dtype=np.float64)
    n = score.shape[0]
    shares = np.array([(grade == i).mean() for i in range(len(GRADES))])
    return {"n": n, "mean": score.mean(), "mean_sd": score.std(ddof=1) / math.sqrt(n), "shares": shares,
            "shares_sd": np.sqrt(shares * (1 - shares) / n), "ref": refusals.mean(),
            "ref_sd": refusals.std(ddof=1) / math.sqrt(n)}


def compare(label: str, a: float, sa: float, b: float, sb: float, t: float, peer: str = "mesa",
            show: bool = True) -> float:
    """One row of the agreement table (scorelab, the peer, theory, pairwise in sd); its worst |diff|/sd."""
    d_ab = abs(a - b) / math.sqrt(sa * sa + sb * sb) if sa + sb > 0 else 0.0
    d_at = abs(a - t) / sa if sa > 0 else 0.0
    d_bt = abs(b - t) / sb if sb > 0 else 0.0
    worst = max(d_ab, d_at, d_bt)
    p = peer[0] if peer[0] != "s" else "p"  # s is scorelab
    if show:
        print(f"  {label:<22} scorelab {a:10.5f}  {peer} {b:10.5f}  theory {t:10.5f}   "
              f"|diff|/sd: s-{p} {d_ab:4.2f}  s-t {d_at:4.2f}  {p}-t {d_bt:4.2f}  {'ok' if worst <= Z else 'FAIL'}")
    return worst


def agreement(sl: dict, peer: dict, th: dict, peer_name: str, show: bool = True) -> bool:
    """All rows (mean score, share in each grade, refusals per person); True if every one is within Z sd.

    With ``show`` False, prints one line: the worst row."""
    rows = [("mean score", "mean", None), *((f"share in grade {g}", "shares", i) for i, (g, _, _) in enumerate(GRADES)),
            ("refusals per person", "ref", None)]
    theo = {"mean": th["mean"], "ref": th["refusals"], "shares": th["grades"]}
    worst = []
    for label, key, i in rows:
        a, sa, b, sb, t = sl[key], sl[key + "_sd"], peer[key], peer[key + "_sd"], theo[key]
        if i is not None:
            a, sa, b, sb, t = a[i], sa[i], b[i], sb[i], t[i]
        worst.append((compare(label, a, sa, b, sb, t, peer_name, show), label))
    ok = max(worst)[0] <= Z
    if not show:
        print(f"  {peer_name:<14} against scorelab and theory: worst {max(worst)[0]:.2f} sd ({max(worst)[1]})  "
              f"{'agree' if ok else 'DISAGREE'}")
    return ok


# --------------------------------------------------------------------------- the scorelab side


def run_scorelab(people: int, days: int, seed: int, repeat: int = 3,
                 keep_records: bool = True, built: tuple | None = None, service: str = "loans") -> dict:
    """Build (or reuse ``built``), warm the kernels on a 2-day run, then ``repeat`` timed runs.

    Returns the population and contacts, the build, warm-up and run times (``t``: the best
    run) and the summary of the scored people at the end of the last run."""
    import scorelab
    from scorelab.engine.simulation import simulate

    sc = scorelab.load(scenario_dict(people, days, seed, service))
    t0 = time.perf_counter()
    pop, contacts = built if built is not None else scorelab.build_population(sc)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    simulate(scorelab.load(scenario_dict(people, 2, seed, service)), pop, contacts, keep_records=keep_records)
    t_warm = time.perf_counter() - t0
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = simulate(sc, pop, contacts, keep_records=keep_records)
        times.append(time.perf_counter() - t0)
    scored = out.people["grade"] != 255
    summary = summarise(out.people["score"][scored], out.people["grade"][scored].astype(np.int64),
                        out.people["refusals"][scored])
    return {"scenario": sc, "pop": pop, "contacts": contacts, "t_build": t_build, "t_warm": t_warm,
            "times": times, "t": min(times), "summary": summary, "scored": pop.age >= sc.scoring.min_age}
