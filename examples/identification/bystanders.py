"""Who a 1:N face search stops: a preset's camera alerts, their precision, and how the false
alerts spread over people (docs/channels.md, "Face identification").

    python examples/identification/bystanders.py [--preset rongcheng-2018] [--scale 0.05]
                                                 [--fmr 1e-7 1e-6 1e-5]

For each false-match rate per comparison: faces scanned, the watchlist's size at the end,
hits, false alerts (bystanders stopped), alert precision, alerts per 1,000 faces, and the
erroneous camera records: how many, on how many people, and the most on any one person.
A scaled run searches against the whole population's watchlist (docs/scale.md), so its
false alerts per face are those of the full system.
(A saved run has the same counts in ``scorelab.metrics.identification(result)``; the
records, which results do not keep, come from the engine's own output here.)
"""

from __future__ import annotations

import argparse

import numpy as np

import scorelab
from scorelab.engine.simulation import simulate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="rongcheng-2018")
    ap.add_argument("--scale", type=float, default=0.05)
    ap.add_argument("--fmr", type=float, nargs="+", default=[1e-7, 1e-6, 1e-5])
    a = ap.parse_args()
    base = scorelab.load(a.preset)
    people = max(1, round(base.population.people * a.scale))
    cams = [c for c, ch in base.channels.items() if ch.identification is not None]
    print(f"{a.preset} at {a.scale:g} ({people:,} people), face search on {', '.join(cams)}")
    cols = ("f per comparison", "faces scanned", "watchlist at end", "hits", "false alerts", "precision",
            "alerts per 1,000", "erroneous camera records", "on people", "most on one person")
    print(" | ".join(cols))
    for f in a.fmr:
        sc = scorelab.load(a.preset, {f"channels.{c}.identification.false_match_rate": f for c in cams},
                           scale=a.scale)
        pop, contacts = scorelab.build_population(sc, layers="read")
        out = simulate(sc, pop, contacts)
        M = out.metrics
        scanned = sum(M[f"identification.{c}.scanned"].sum() for c in cams)
        hits = sum(M[f"identification.{c}.hits"].sum() for c in cams)
        false = sum(M[f"identification.{c}.false_alerts"].sum() for c in cams)
        lists = {sc.channels[c].identification.watchlist for c in cams}
        w_end = sum(int(M[f"lists.{w}.stock"][-1]) for w in lists)
        rec = out.records
        ids = [i for i, c in enumerate(out.plan.channel_names) if c in cams]
        bad = np.isin(rec["chan"], ids) & (rec["err"] != 0)
        per = np.bincount(rec["subj"][bad], minlength=1)
        row = (f"{f:g}", f"{scanned:,.0f}", f"{w_end:,}", f"{hits:,.0f}", f"{false:,.0f}",
               f"{hits / (hits + false):.1%}" if hits + false else "-",
               f"{1000 * (hits + false) / scanned:.1f}" if scanned else "-",
               f"{int(bad.sum()):,}", f"{int((per > 0).sum()):,}", f"{int(per.max()):,}")
        print(" | ".join(row))


if __name__ == "__main__":
    main()
