"""Hypothesis strategies for whole scenarios: built-in scenarios mutated value by value.

``mutated_scenario()`` starts from a built-in scenario's resolved data (``scorelab.load`` of a
preset, as plain data) and applies a few mutations:

* a number replaced by an extreme one (zero, the smallest subnormal, the schema's bounds and
  just past them, 2**31, 2**63, 2**64, 1e308, a 400-digit integer, NaN, infinities) or any float;
* a rate or duration replaced by one written with such a number and a unit (``1e400 per year``);
* a text (a name, a description, a service, a region's label) replaced by a hostile one
  (markup, escape sequences, control characters, line breaks, very long, text that YAML reads
  as a number or boolean);
* a section switched on or off (``enabled``, the social and association terms, purpose
  limitation, drawn contact layers, the counterfactual), or an entry removed;
* an entry added under a hostile name (a behaviour, a list, a consequence, a flag).

Most results are invalid, and some valid; ``scenario_yaml`` writes one as a file. The size of
each test using them is set by ``fuzz_examples``: its CI size, or its nightly size when
``SCORELAB_FUZZ=nightly``.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import yaml
from hypothesis import HealthCheck
from hypothesis import strategies as st

import scorelab
from scorelab.scenario.loader import preset_names

#: ``SCORELAB_FUZZ=nightly`` runs the fuzz tests at their nightly size.
NIGHTLY = os.environ.get("SCORELAB_FUZZ", "").strip().lower() == "nightly"

#: Settings of every fuzz test: the same examples on every CI run (no database, derandomized);
#: new ones every night (a failure prints the blob that reproduces it).
SETTINGS = dict(
    deadline=None,
    derandomize=not NIGHTLY,
    print_blob=NIGHTLY,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


def fuzz_examples(ci: int, nightly: int) -> int:
    """How many examples a fuzz test draws: ``ci`` in CI, ``nightly`` with ``SCORELAB_FUZZ=nightly``."""
    return nightly if NIGHTLY else ci


_BASES: dict[str, str] = {}


def base_data(name: str) -> dict[str, Any]:
    """A built-in scenario, resolved, as plain data (cached; callers get a copy)."""
    if name not in _BASES:
        _BASES[name] = json.dumps(scorelab.load(name).model_dump(mode="json", by_alias=True))
    return json.loads(_BASES[name])


EXTREME_NUMBERS: list[Any] = [
    0, -0.0, 1, -1, 0.5, 2, 5e-324, 1e-320, 1e-300, 1e-9, 0.0009, 0.001, 0.01, 0.99, 1.0000001,
    100, 120, 150, 151, 255, 365.25, 366, 999.9, 1000, 1000.5, 10_000, 10_001, 65_535, 65_536, 1e6, 1e6 + 1,
    1e9, 1e12, 1e12 + 1e3, 1e15, 1e19, 1e300, 1e308, -1e308, 2**31 - 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63,
    2**64 - 1, 2**64, 10**400, -(10**400), math.nan, math.inf, -math.inf,
]
NUMBERS = st.one_of(
    st.sampled_from(EXTREME_NUMBERS),
    st.floats(),
    st.integers(min_value=-(2**70), max_value=2**70),
)
NUMBER_TEXT = st.one_of(
    st.sampled_from(["0", "1", "0.5", "1e400", "1e308", "1e-320", "5e-324", "1e19", "1e12", "1000", "1000.1",
                     "365.25", "65535", "1e6", "0.001", "0.0009", "9" * 400, "1.0e5", "1e5", ".5", "5."]),
    st.floats(min_value=0, allow_nan=False, allow_infinity=False).map(repr),
)
UNITS = st.sampled_from(["day", "days", "week", "month", "year", "years", "d", "yr"])
RATES = st.builds(lambda x, u, sep: f"{x}{sep}{u}", NUMBER_TEXT, UNITS, st.sampled_from([" per ", "/"]))
DURATIONS = st.builds(lambda x, u: f"{x} {u}", NUMBER_TEXT, UNITS)
HOSTILE_TEXT = st.one_of(
    st.sampled_from([
        "", " ", "[bold]x[/bold]", "[/]", "[link=file:///etc/passwd]x[/link]", "\x1b[31mred\x1b[0m", "a\nb", "\r\n",
        "\t", "\x07", "\x7f", "\u2028", "\u202e", "\ufeff", "\U0001f600", "é", "1e5", "1.0e308", "no", "true",
        "null", "~", "<<", "*a", "&a", "!!python/object:os.system", "'", '"', "%s{0}", "../../etc/passwd",
        "${HOME}$(id)", "<script>", "x" * 5000, "a.b", "records.x", ":", "- x", "# x", "A" * 120,
    ]),
    st.text(max_size=12),
)
SWITCHES: list[tuple[str, Any]] = [
    ("scoring.enabled", False),
    ("responses.enabled", False),
    ("safeguards.purpose_limitation", True),
    ("safeguards.appeals.contested", 0.5),
    ("safeguards.appeals.listings.contested", 1.0),
    ("safeguards.expiry", "30 days"),
    ("safeguards.transparency.awareness", 1.0),
    ("scoring.social", {"weight": 0.5, "layers": ["friends", "household"]}),
    ("scoring.social", None),
    ("scoring.association", None),
    ("scoring.recovery", "1 day"),
    ("contacts.friends.storage", "drawn"),
    ("contacts.online.storage", "drawn"),
    ("contacts.friends.enabled", False),
    ("contacts.household", False),
    ("contacts.workplace.enabled", False),
    ("contacts.school.enabled", False),
    ("flags", {}),
    ("lists", {}),
    ("consequences", {}),
    ("channels", {}),
    ("rollout", {}),
    ("run.step", "7 days"),
    ("run.step", 0.5),
]


def _leaves(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    """Every (path, value) of the data whose value is not a mapping or list."""
    if isinstance(data, dict):
        return [leaf for k, v in data.items() for leaf in _leaves(v, path + (k,))]
    if isinstance(data, list):
        return [leaf for i, v in enumerate(data) for leaf in _leaves(v, path + (i,))]
    return [(path, data)]


def _set(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    node: Any = data
    for p in path[:-1]:
        if isinstance(node, dict):
            node = node.setdefault(p, {})
        elif isinstance(node, list) and isinstance(p, int) and p < len(node):
            node = node[p]
        else:
            return
        if not isinstance(node, (dict, list)):
            return
    if isinstance(node, dict):
        if value is None:
            node.pop(path[-1], None)
        else:
            node[path[-1]] = value
    elif isinstance(node, list) and isinstance(path[-1], int) and path[-1] < len(node):
        node[path[-1]] = value


def _is_rate(path: tuple[Any, ...], value: Any) -> bool:
    return isinstance(value, str) and value.endswith(("per year", "per day")) and not isinstance(path[-1], int)


def _is_duration(value: Any) -> bool:
    return isinstance(value, str) and value.endswith(" days")


#: Numbers, rates and durations within every bound (for scenarios that are mostly valid), with
#: floats that are hard to write back exactly.
SMALL_FLOATS = st.one_of(st.sampled_from([0.0, 1.0, 0.1, 1 / 3, 2 / 3, 0.30000000000000004, 5e-324, 1e-300]),
                         st.floats(min_value=0, max_value=1))
SMALL_RATES = st.builds(lambda x, u: f"{x!r} per {u}", SMALL_FLOATS, UNITS)
SMALL_DURATIONS = st.builds(lambda x, u: f"{x!r} {u}", st.floats(min_value=0, max_value=100), UNITS)


def hostile_text(markup: bool) -> st.SearchStrategy[str]:
    """``HOSTILE_TEXT``, or without square brackets (what rich reads as markup) unless ``markup``."""
    return HOSTILE_TEXT if markup else HOSTILE_TEXT.filter(lambda t: "[" not in t)


@st.composite
def _mutate_leaf(draw: st.DrawFn, data: dict[str, Any], within_bounds: bool, markup: bool) -> None:
    leaves = _leaves(data)
    path, value = draw(st.sampled_from(leaves))
    if _is_rate(path, value):
        new: Any = draw(SMALL_RATES if within_bounds else st.one_of(RATES, NUMBERS))
    elif _is_duration(value):
        new = draw(SMALL_DURATIONS if within_bounds else st.one_of(DURATIONS, NUMBERS))
    elif isinstance(value, bool):
        new = not value
    elif isinstance(value, int) and within_bounds:
        new = draw(st.integers(0, 100))
    elif isinstance(value, float) and within_bounds:
        new = draw(SMALL_FLOATS)
    elif isinstance(value, (int, float)):
        new = draw(NUMBERS)
    elif isinstance(value, str):
        new = draw(hostile_text(markup))
    else:
        new = draw(st.one_of(NUMBERS, hostile_text(markup)))
    _set(data, path, new)


@st.composite
def _add_named(draw: st.DrawFn, data: dict[str, Any], within_bounds: bool, markup: bool) -> None:
    """An entry under a hostile name that needs no other change to be valid."""
    name = draw(hostile_text(markup).filter(bool))
    grades = [g["name"] for g in data.get("grades") or [] if isinstance(g, dict) and "name" in g]
    behaviours = list(data.get("behaviours") or {})
    kind = draw(st.sampled_from(["behaviour", "list", "consequence", "flag"]))
    if kind == "behaviour":
        entry: dict[str, Any] = {"rate": draw(SMALL_RATES if within_bounds else RATES), "kind": draw(st.sampled_from(["wrongdoing", "disfavoured", "civic"]))}
        data.setdefault("behaviours", {})[name] = entry
        for ch in (data.get("channels") or {}).values():  # observed, so that it makes records
            if isinstance(ch, dict) and isinstance(ch.get("observes"), list):
                ch["observes"].append(name)
                break
    elif kind == "list" and behaviours:
        data.setdefault("lists", {})[name] = {"entry": {"behaviours": [draw(st.sampled_from(behaviours))]}}
    elif kind == "consequence" and grades:
        data.setdefault("consequences", {})[name] = {
            "kind": "fine", "grades": [draw(st.sampled_from(grades))],
            "amount": draw(SMALL_FLOATS if within_bounds else NUMBERS),
            "every": draw(SMALL_DURATIONS.filter(lambda d: float(d.split()[0]) >= 0.01) if within_bounds else DURATIONS)}
    elif kind == "flag" and behaviours:
        data.setdefault("flags", {})[name] = {"rule": {"behaviours": [draw(st.sampled_from(behaviours))]},
                                              "capacity": draw(SMALL_RATES if within_bounds else RATES)}


#: The built-in scenarios whose files are small (under 25 kB), quick to write and read again.
SMALL_PRESETS = ("corporate", "lending-feedback", "lending-feedback-all", "national-2027", "national-2027-ihs",
                 "zhima-index")


@st.composite
def mutated_scenario(draw: st.DrawFn, max_ops: int = 3, within_bounds: bool = False,
                     presets: tuple[str, ...] | None = None, markup: bool = True) -> dict[str, Any]:
    """A built-in scenario (one of ``presets``, default all) with 1..max_ops mutations, as plain
    data; ``within_bounds``: numbers, rates and durations are replaced by ones within every
    bound and no entry is removed, so that most results are valid; ``markup``: hostile texts
    include square brackets (rich markup such as ``[/]``)."""
    data = base_data(draw(st.sampled_from(presets or preset_names())))
    ops = ["leaf", "leaf", "leaf", "switch", "add"] + ([] if within_bounds else ["remove"])
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(ops))
        if op == "leaf":
            draw(_mutate_leaf(data, within_bounds, markup))
        elif op == "switch":
            path, value = draw(st.sampled_from(SWITCHES))
            _set(data, tuple(path.split(".")), value)
        elif op == "remove":
            sections = [k for k in ("behaviours", "channels", "lists", "consequences", "flags")
                        if isinstance(data.get(k), dict) and data[k]]
            if sections:
                section = draw(st.sampled_from(sections))
                data[section].pop(draw(st.sampled_from(sorted(data[section]))))
        else:
            draw(_add_named(data, within_bounds, markup))
    return data


def scenario_yaml(data: dict[str, Any]) -> str:
    """A scenario's data as a file a person could have written (``yaml.safe_dump``, with libyaml
    where PyYAML has it)."""
    return yaml.dump(data, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False, allow_unicode=True)
