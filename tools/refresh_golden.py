"""Regenerate tests/golden/<preset>.json: each preset's summary from a small, fixed run,
and tests/golden/plan/<preset>.json: the plan of that run (every field the kernels read).

    /tmp/venv/bin/python tools/refresh_golden.py                    # every preset
    /tmp/venv/bin/python tools/refresh_golden.py corporate          # some
    /tmp/venv/bin/python tools/refresh_golden.py --plans corporate  # plans only (no run)

Each golden file holds the overrides of its small run and the run's ``Result.summary()``;
``tests/test_presets.py`` reruns with those overrides and compares (counts exactly,
floats to 1e-9 relative). ``tests/test_plan.py`` compiles each plan again and compares its
digest (``plan_digest``). Refresh after a deliberate change to a preset or the engine,
and say why in the commit.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
PLANS = GOLDEN / "plan"

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


def _values(a: np.ndarray) -> dict[str, Any]:
    """An array's values: integers and booleans as a hash of their bytes; floats as counts of
    NaNs and infinities and the finite ones' min, max, sum, absolute sum and position-weighted
    sum (compared to 1e-9: the population's floats may differ in the last bit between
    platforms' maths libraries)."""
    if a.dtype.kind != "f":
        return {"sha256": hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()}
    flat = a.reshape(-1).astype(np.float64)
    finite = np.isfinite(flat)
    x = flat[finite]
    pos = (np.flatnonzero(finite) + 1.0) / max(len(flat), 1)
    return {"nan": int(np.isnan(flat).sum()), "inf": int(np.isposinf(flat).sum()), "-inf": int(np.isneginf(flat).sum()),
            "min": float(x.min()) if len(x) else None, "max": float(x.max()) if len(x) else None,
            "sum": float(x.sum()), "abs_sum": float(np.abs(x).sum()), "weighted_sum": float((x * pos).sum())}


def _digest(path: str, v: Any, out: dict[str, Any]) -> None:
    if isinstance(v, np.ndarray):
        out[path] = {"shape": list(v.shape), **_values(v)}
    elif isinstance(v, tuple):  # tuples of arrays (contact graphs) and of drawn layers' tables
        for i, x in enumerate(v):
            _digest(f"{path}/{i}", x, out)
    else:  # a number (its type is in the plan's types)
        v = v.item() if isinstance(v, np.generic) else v
        out[path] = {"value": v if not isinstance(v, float) or np.isfinite(v) else repr(v)}


def plan_digest(name: str, overrides: dict) -> dict[str, Any]:
    """A preset's plan at its golden size: the names that label its output, and per Params
    field, in order, numba's type of it (dtypes, dimensions, layout and tuple shapes) and its
    values (arrays: shape and ``_values``; tuples: per element)."""
    import numba

    import scorelab
    from scorelab.engine.plan import compile_plan

    s = scorelab.load(name, overrides)
    plan = compile_plan(s, *scorelab.build_population(s, layers="read"))
    names = {k: getattr(plan, k) for k in ("behaviour_names", "channel_names", "grade_names", "list_names",
                                           "consequence_names", "flag_names", "consequence_sanction",
                                           "identifying_names")}
    types: dict[str, str] = {}
    values: dict[str, Any] = {}
    for field, v in plan.params._asdict().items():
        types[field] = str(numba.typeof(v))
        _digest(field, v, values)
    return {"names": names, "types": types, "values": values}


def main(args: list[str]) -> int:
    from scorelab.scenario.loader import preset_names

    plans_only = "--plans" in args
    names = [a for a in args if a != "--plans"]
    PLANS.mkdir(parents=True, exist_ok=True)
    for name in names or preset_names():
        over = small_overrides(name)
        path = PLANS / f"{name}.json"
        path.write_text(json.dumps({"preset": name, "overrides": over, **plan_digest(name, over)}, indent=1) + "\n")
        print(f"{path.relative_to(ROOT)}: plan")
        if plans_only:
            continue
        summary = golden_run(name, over)
        path = GOLDEN / f"{name}.json"
        path.write_text(json.dumps({"preset": name, "overrides": over, "summary": summary}, indent=2) + "\n")
        print(f"{path.relative_to(ROOT)}: {len(summary)} figures")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
