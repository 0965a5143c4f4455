"""The plan (scorelab.engine.plan): every preset's plan at its golden size is the one recorded
in tests/golden/plan/<preset>.json (regenerate with ``tools/refresh_golden.py --plans`` after
a deliberate change, and say why in the commit)."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from typing import Any

import pytest

from scorelab.engine.plan import Params
from scorelab.scenario.loader import preset_names

ROOT = Path(__file__).resolve().parent.parent
PLANS = ROOT / "tests" / "golden" / "plan"
PRESETS = preset_names()
#: keys of a value's digest that are floats (compared to 1e-9 relative, see refresh_golden._values)
FLOATS = {"min", "max", "sum", "abs_sum", "weighted_sum"}


def _tool():
    spec = importlib.util.spec_from_file_location("refresh_golden", ROOT / "tools" / "refresh_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _same(got: dict[str, Any], golden: dict[str, Any]) -> bool:
    if got.keys() != golden.keys():
        return False
    scale = golden.get("abs_sum") or 0.0
    for k, g in golden.items():
        x = got[k]
        if isinstance(g, float) and isinstance(x, float) and (k in FLOATS or k == "value"):
            if not math.isclose(x, g, rel_tol=1e-9, abs_tol=max(1e-9 * scale, 1e-12)):
                return False
        elif x != g:
            return False
    return True


def test_every_preset_has_a_golden_plan():
    assert sorted(p.stem for p in PLANS.glob("*.json")) == PRESETS


@pytest.mark.parametrize("name", PRESETS)
def test_plan_matches_golden(name):
    """The names that label the output; every Params field in order with numba's type of it
    (dtypes, dimensions and layout: what the kernels are compiled for); and its values,
    integers and booleans byte for byte, floats to 1e-9."""
    golden = json.loads((PLANS / f"{name}.json").read_text())
    got = _tool().plan_digest(name, golden["overrides"])
    assert got["names"] == golden["names"]
    assert list(golden["types"]) == list(Params._fields) == list(got["types"])
    bad = {k: (got["types"][k], v) for k, v in golden["types"].items() if got["types"][k] != v}
    assert not bad, f"{name}: types differ from tests/golden/plan/{name}.json (got, golden): {bad}"
    assert list(got["values"]) == list(golden["values"])
    bad = {k: (got["values"][k], v) for k, v in golden["values"].items() if not _same(got["values"][k], v)}
    assert not bad, f"{name}: values differ from tests/golden/plan/{name}.json (got, golden): {bad}"
