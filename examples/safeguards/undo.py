"""What each safeguard undoes when records are often wrong: `rongcheng-2018` with every channel
misattributing a share of its records, run with no safeguard, with appeals of every erroneous
record, with expiry, and with appeals of wrongful listings only (docs/rollout-and-safeguards.md,
"What a correction undoes").

    python examples/safeguards/undo.py [--scale 0.05] [--misattribution 0.3]

Prints one row per design: wrongful sanctions, those that had happened on listings later
lifted, wrongful listings standing at the end, people-days wrongfully listed, listings lifted,
flags withdrawn and investigations overturned.
"""

from __future__ import annotations

import argparse

import scorelab
from scorelab import metrics

DESIGNS = {
    "no safeguard": {},
    "appeals (all, 7 days)": {"appeals": {"contested": 1.0, "success": 1.0, "delay": "7 days"}},
    "expiry 90 days": {"expiry": "90 days"},
    "listing appeals (all, 30 days)": {"appeals": {"listings": {"contested": 1.0, "success": 1.0, "delay": "30 days"}}},
}


def scenario(scale: float, mis: float, safeguards: dict) -> dict:
    data = scorelab.load("rongcheng-2018").model_dump(mode="json", by_alias=True)
    data["population"]["people"] = max(1, round(data["population"]["people"] * scale))
    for channel in data["channels"].values():
        channel["misattribution"] = {"probability": mis, "target": "random"}
    data["safeguards"] = {**data["safeguards"], **safeguards}
    return data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=0.05)
    ap.add_argument("--misattribution", type=float, default=0.3)
    a = ap.parse_args()
    cols = ("wrongful sanctions", "before a correction", "wrongful listings at end", "people-days wrongfully listed",
            "listings lifted", "flags withdrawn", "investigations overturned")
    print(f"rongcheng-2018 at {a.scale:g}, misattribution {a.misattribution:g} on every channel")
    print(" | ".join(("design", *cols)))
    for name, safeguards in DESIGNS.items():
        r = scorelab.run(scenario(a.scale, a.misattribution, safeguards))
        c = metrics.corrections(r).row(0, named=True)
        w = metrics.wrongful_sanctions(r).row(0, named=True)
        row = (w["wrongful"], c["wrongful_sanctions_before_correction"], c["wrongful_listings_at_end"],
               c["people_days_wrongfully_listed"], c["listings_overturned"], c["flags_withdrawn"],
               c["investigations_overturned"])
        print(" | ".join((name, *(f"{x:,.0f}" for x in row))))


if __name__ == "__main__":
    main()
