"""Write docs/scenario-reference.md: every field of the scenario language.

Walks the pydantic models from ``scorelab.scenario.model.Scenario`` and writes
one table per section with each field's dotted path, type, unit, default and
description. The committed file is checked against this script's output by
``tests/test_scenario.py::test_reference_doc_is_up_to_date``, so the reference
cannot drift from the code.

Usage::

    python tools/gen_scenario_docs.py          # rewrite docs/scenario-reference.md
    python tools/gen_scenario_docs.py --check  # exit 1 if the committed file is stale
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, BeforeValidator
from pydantic_core import PydanticUndefined

from scorelab.scenario import base
from scorelab.scenario.model import Scenario

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "scenario-reference.md"

# Field types with units are recognised by their validator, which names its type (with its
# bounds) and unit: ``doc_type`` and ``doc_unit`` (scorelab.scenario.base).
NAME_META = typing.get_args(base.Name)[1:]

#: Units written in a description as "(years)", "(people)", "(CNY per year)"...
_UNIT_RE = re.compile(
    r"\(((?:years|days|people|persons|points|dimensionless|CNY per year|contacts per [a-z]+)"
    r")(?:, [a-z0-9 ]+)?\)"
)

INTRO = """\
# Scenario reference

Every field of a scenario file, generated from the pydantic models by
`tools/gen_scenario_docs.py` (do not edit by hand: `tests/test_scenario.py`
fails when this file and the models disagree). The guide to the language is
[scenario.md](scenario.md).

## Units

- **rate**: events per unit of time, always with its unit: `"2 per year"`,
  `"0.1/day"`, `"3 per week"`, `"1 per month"`, or the mapping
  `{value: 2, per: year}`. A bare number is an error (`a rate needs a unit`).
  Rates are stored per day; a month is 30.4375 days and a year 365.25 days.
  A rate becomes a per-step probability only as `1 - exp(-rate * step)`.
- **duration**: `"30 days"`, `"2 weeks"`, `"6 months"`, `"2 years"`; a bare
  number means days. Stored in days.
- **date**: ISO calendar date, `2018-04-01`.
- **probability**: a number in [0, 1]; also used for shares.
- **integer**: counts (people, days, records) and ages in years.

## Bounds

Every number has bounds, shown in the Type column, that the engine can honour: a
value `scorelab validate` accepts runs (or is refused, before any work, in one
line, such as a run that needs more memory than there is). They are far beyond
any real value:

- no number is NaN or infinite (`1e400`, `.inf`), in any field;
- plain numbers (points, money, factors, weights) are at most 10^12 in size, and
  relative changes of income between -1 (all of it) and 1 (doubled);
- counts are at most 2,147,483,647, ages at most 150 years, `run.seed` at most
  2^63 - 1 and `population.represents` at most 10^12;
- rates are at most 1,000 per day for one actor (a behaviour's rate times its
  modifiers' factors above 1 as well), a flag's capacity at most 10^12 per day;
- durations are at most 1,000,000 days (about 2,738 years), `run.step` from
  0.001 to 365.25 days, a consequence's `every` at least 0.001 days, and a run's
  days (with its burn-in) stay within the calendar (years 1 to 9999) and at most
  65,535 steps;
- a firm's or school's mean size is from 1 to 10,000 people, with a log-size
  sigma of at most 2.5; a contact layer's mean degree is at most 10,000.

Numbers may be written as YAML 1.2 reads them: `1e5` and `1.0e308` are numbers
(YAML 1.1 reads them as text).

## `extends:`

`extends: base.yaml` (a path relative to the file) or `extends: <built-in name>`
loads that scenario first and lays this file over it: a **mapping merges**
key by key (recursively), **anything else replaces** (a list is replaced
whole, never appended to), and a key set to **`null` removes** the inherited
value so the default applies again. Chains are allowed; a cycle is an error.

## Errors

Every problem is one line, `file:line:col: field.path: message`, e.g.
`city.yaml:14:5: channels.cameras.coverage: must be between 0 and 1, got 1.5`.
A message quotes at most a short excerpt of a value (40 characters of its
Python repr, escaped). Only files named `*.yaml` or `*.yml` are read, given or
extended; a file larger than 16 MiB or with binary data is one problem that
quotes nothing of it.
All problems of a file are reported at once and `scorelab validate` exits
with status 2. Problems in an extended file name that file and its lines.
References between sections (undefined behaviours, channels, grades, lists,
grade bands with gaps or overlaps) are checked in a second phase, once the
file has no schema errors.

## Fields

Paths use `.` between mapping keys; `<name>` stands for a name you choose
(a behaviour, channel, list...) and `[]` for every element of a list.
"""


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if type(None) in args:
            rest = [a for a in args if a is not type(None)]
            return (rest[0] if len(rest) == 1 else typing.Union[tuple(rest)]), True
    return tp, False


def _split(tp: Any, metadata: list[Any] = ()) -> tuple[Any, list[Any]]:
    """Strip ``Annotated``; return the bare type and all metadata."""
    meta = list(metadata)
    while typing.get_origin(tp) is typing.Annotated:
        args = typing.get_args(tp)
        tp, meta = args[0], list(args[1:]) + meta
    return tp, meta


def _models(tp: Any) -> list[type[BaseModel]]:
    """The models a value of this type may be (one, or the members of a union)."""
    tp, _ = _split(tp)
    tp, _ = _unwrap_optional(tp)
    tp, _ = _split(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(tp) if isinstance(a, type) and issubclass(a, BaseModel)]
    return []


def describe(tp: Any, metadata: list[Any] = ()) -> tuple[str, str]:
    """A readable type and its unit."""
    tp, meta = _split(tp, metadata)
    for m in meta:
        if isinstance(m, BeforeValidator) and hasattr(m.func, "doc_type"):
            return m.func.doc_type, m.func.doc_unit
    if any(m in NAME_META for m in meta):
        return "name", ""
    tp, optional = _unwrap_optional(tp)
    if optional:
        text, unit = describe(tp)
        return f"{text} or null", unit
    tp, meta2 = _split(tp)
    if meta2:
        return describe(tp, meta2)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args), ""
    if origin is list:
        text, unit = describe(args[0])
        return f"list of {text}", unit
    if origin is tuple:
        parts = [describe(a) for a in args]
        return "[" + ", ".join(p[0] for p in parts) + "]", parts[0][1]
    if origin is dict:
        k, _ = describe(args[0])
        v, unit = describe(args[1])
        return f"mapping {k} -> {v}", unit
    if origin in (typing.Union, types.UnionType):
        models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        if models and len(models) == len(args):
            return "one of: " + " / ".join(_model_label(m) for m in models), ""
        return " or ".join(describe(a)[0] for a in args), ""
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return "mapping (fields below)", ""
    names = {bool: "boolean", str: "text", int: "integer", float: "number", _dt.date: "date"}
    return names.get(tp, getattr(tp, "__name__", str(tp))), ""


def _model_label(m: type[BaseModel]) -> str:
    disc = m.model_fields.get("distribution")
    if disc is not None and disc.default is not PydanticUndefined:
        return f"`distribution: {disc.default}`"
    return m.__name__


def _default(field: Any) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "**required**"
    else:
        value = field.default
    if isinstance(value, BaseModel):
        try:
            plain = type(value)() == value
        except Exception:  # the model has required fields
            plain = False
        if plain:
            return "see below"
        value = value.model_dump(mode="json", by_alias=True)
    if isinstance(value, list) and value and isinstance(value[0], BaseModel):
        value = [v.model_dump(mode="json", by_alias=True, exclude_defaults=True) for v in value]
    text = json.dumps(value, default=str, ensure_ascii=False)
    if len(text) > 100:
        text = text[:97] + "..."
    return f"`{text}`"


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def _unit(type_unit: str, description: str) -> str:
    m = _UNIT_RE.search(description or "")
    if m:
        return m.group(1)
    first = (description or "").split(" ", 1)[0]
    if not type_unit and first in ("days", "people", "points", "investigations"):
        return first  # "days simulated", "people scanned per gathering"
    return type_unit


def rows(model: type[BaseModel], prefix: str) -> list[tuple[str, str, str, str, str]]:
    """(path, type, unit, default, description) for every field of ``model`` and below."""
    out: list[tuple[str, str, str, str, str]] = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        path = f"{prefix}.{key}" if prefix else key
        text, unit = describe(field.annotation, field.metadata)
        desc = field.description or ""
        if not desc:
            models = _models(field.annotation)
            desc = (models[0].__doc__ or "").strip().split("\n\n")[0] if models else ""
        out.append((path, text, _unit(unit, field.description or ""), _default(field), desc))
        out.extend(_children(field.annotation, path))
    return out


def _children(tp: Any, path: str) -> list[tuple[str, str, str, str, str]]:
    tp, _ = _split(tp)
    tp, _ = _unwrap_optional(tp)
    tp, _ = _split(tp)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is list:
        return _children(args[0], f"{path}[]")
    if origin is dict:
        return _children(args[1], f"{path}.<name>")
    models = _models(tp)
    if len(models) == 1:
        return rows(models[0], path)
    # A union of models (a degree distribution): one row per field; a field that only some
    # members have says which, in parentheses.
    labels = [_model_label(m) for m in models]
    merged: dict[str, list[tuple[str, tuple[str, str, str, str, str]]]] = {}
    for m, label in zip(models, labels):
        for row in rows(m, path):
            merged.setdefault(row[0], []).append((label, row))
    out: list[tuple[str, str, str, str, str]] = []
    for p, found in merged.items():
        first = found[0][1]
        kinds = _join([r[1] for _, r in found])
        defaults = _join([r[3] for _, r in found], sep=" / ")
        desc = first[4]
        if len(found) < len(models):
            desc = f"(only with {', '.join(label for label, _ in found)}) {desc}"
        out.append((p, kinds, first[2], defaults, desc))
    return out


def _join(values: list[str], sep: str = " or ") -> str:
    unique = list(dict.fromkeys(values))
    if len(unique) == 1:
        return unique[0]
    if all(v.startswith("one of `") and v.count("`") == 2 for v in unique):  # single-value literals
        return "one of " + ", ".join(v[len("one of "):] for v in unique)
    return sep.join(unique)


def render() -> str:
    parts = [INTRO]
    top = [(n, f) for n, f in Scenario.model_fields.items() if not _models(f.annotation) and not _children(f.annotation, n)]
    parts.append("\n### Top level\n\n" + _table([r for n, _ in top for r in rows_of(n)]))
    for name, field in Scenario.model_fields.items():
        if any(name == n for n, _ in top):
            continue
        models = _models(field.annotation)
        doc = (models[0].__doc__ or "").strip().split("\n\n")[0] if models else (field.description or "")
        parts.append(f"\n### `{name}`\n\n{_cell(doc)}\n\n" + _table(rows_of(name)))
    return "".join(parts)


def rows_of(name: str) -> list[tuple[str, str, str, str, str]]:
    """Rows of one top-level field of Scenario and everything under it."""
    out = rows(Scenario, "")
    return [r for r in out if r[0] == name or r[0].startswith((name + ".", name + "["))]


def _table(rs: list[tuple[str, str, str, str, str]]) -> str:
    lines = ["| Path | Type | Unit | Default | Description |", "|---|---|---|---|---|"]
    for path, text, unit, default, desc in rs:
        lines.append(f"| `{path}` | {_cell(text)} | {_cell(unit)} | {_cell(default)} | {_cell(desc)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT.relative_to(ROOT)} is out of date; run python tools/gen_scenario_docs.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
