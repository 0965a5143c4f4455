"""Regenerate tests/golden/<preset>.json: each preset's summary from a small, fixed run.

    /tmp/venv/bin/python tools/refresh_golden.py            # every preset
    /tmp/venv/bin/python tools/refresh_golden.py corporate  # some

Each golden file holds the overrides of its small run and the run's ``Result.summary()``;
``tests/test_presets.py`` reruns with those overrides and compares (counts exactly,
floats to 1e-9 relative). Refresh after a deliberate change to a preset or the engine,
and say why in the commit.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"

#: people per small run; national presets use the matching --scale (people x 1e-5)
SMALL_PEOPLE = 10000
SMALL_DAYS = 90
NATIONAL_SCALE = 0.00001
#: presets whose mechanism needs a longer run: corporate's promotion after 3 years abnormal
LONGER_DAYS = {"corporate": 1300}


def small_overrides(name: str) -> dict:
    """The overrides of a preset's golden run."""
    import scorelab

    s = scorelab.load(name)
    people = SMALL_PEOPLE
    if s.population.people > 100_000_000:          # national presets: scale as --scale would
        people = max(1, round(s.population.people * NATIONAL_SCALE))
    return {"population.people": people, "run.days": LONGER_DAYS.get(name, SMALL_DAYS)}


def golden_run(name: str, overrides: dict) -> dict:
    import scorelab

    return scorelab.run(name, overrides).summary()


def main(names: list[str]) -> int:
    from scorelab.scenario.loader import preset_names

    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name in names or preset_names():
        over = small_overrides(name)
        summary = golden_run(name, over)
        path = GOLDEN / f"{name}.json"
        path.write_text(json.dumps({"preset": name, "overrides": over, "summary": summary}, indent=2) + "\n")
        print(f"{path.relative_to(ROOT)}: {len(summary)} figures")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
