"""Located problems: a field path and a message placed at the file, line and column of the value
(or key) it is about, and pydantic's validation errors turned into such problems.

``calibrate.targets`` reports the problems of a targets file with the same functions.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel

from scorelab.errors import Problem, excerpt
from scorelab.scenario.model import Scenario
from scorelab.scenario.yamlread import Doc, Loc, dotted

#: Longest message of a problem: a message that quotes names or values from a file is cut here
#: (they are quoted with ``errors.excerpt`` already; this bounds what several of them add up to).
MAX_MESSAGE = 300


def problem_order(p: Problem) -> tuple[str, int, int, str]:
    """Sort key of problems: by file, line, column and path."""
    return (p.file, p.line or 0, p.column or 0, p.path)


def locate(label: str, doc: Doc, loc: Loc, message: str, key: bool = False) -> Problem:
    """A problem at the best-known position of a field path: the value (or key) itself, else its
    nearest parent; ``label`` (no line) when nothing of it was read from a file."""
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 3] + "..."
    table = doc.keys if key else doc.values
    for n in range(len(loc), -1, -1):
        sub = loc[:n]
        if sub in table:
            f, line, col = table[sub]
            return Problem(f, line, col, dotted(loc, doc), message)
        if key and sub in doc.values:
            f, line, col = doc.values[sub]
            return Problem(f, line, col, dotted(loc, doc), message)
    return Problem(label, None, None, dotted(loc, doc), message)


def problem_from_pydantic(err: Any, label: str, doc: Doc, data: Any, model: Any = None,
                          unknown_note: Callable[[Loc], str] | None = None) -> Problem:
    """A pydantic error as one located problem. Unknown fields get the closest valid name of
    ``model`` (default Scenario) at that place, and ``unknown_note(parent)`` if given."""
    loc = clean_loc(err["loc"], data)
    kind = err["type"]
    if kind == "extra_forbidden":
        parent, bad = loc[:-1], loc[-1]
        msg = f"unknown field {excerpt(bad)}"
        valid = field_names_at(model if model is not None else Scenario, parent, data)
        close = difflib.get_close_matches(str(bad), valid, n=1, cutoff=0.6)
        if close:
            msg += f"; did you mean {close[0]!r}?"
        elif valid:
            msg += f"; expected one of: {', '.join(valid)}"
        if unknown_note is not None:
            msg += unknown_note(parent)
        return locate(label, doc, loc, msg, key=True)
    if kind == "missing":
        return locate(label, doc, loc, "required field is missing")
    msg = err["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    if kind not in ("value_error", "assertion_error") and "input" in err:
        if "got" not in msg:
            msg = f"{msg[0].lower()}{msg[1:]}, got {excerpt(err['input'])}"
    return locate(label, doc, loc, msg.splitlines()[0])


def clean_loc(loc: tuple[Any, ...], data: Any) -> Loc:
    """Drop pydantic's union-branch and function tags so the path matches the data; a mapping
    key is the data's own key (``True``, not the ``1`` pydantic reports for it)."""
    out: list[Any] = []
    node = data
    for part in loc:
        if isinstance(part, int):
            if isinstance(node, list) and part < len(node):
                out.append(part)
                node = node[part]
                continue
            if isinstance(node, dict) and part in node:
                out.append(_own_key(node, part))
                node = node[part]
            continue
        if isinstance(node, dict) and part in node:
            out.append(_own_key(node, part))
            node = node[part]
        elif isinstance(node, dict) and part.rstrip("_") in node:  # aliases such as from_/from
            out.append(part.rstrip("_"))
            node = node[part.rstrip("_")]
        elif isinstance(node, dict) and node.get("distribution") == part:
            continue  # the tag of a discriminated union (a degree distribution)
        elif isinstance(node, (dict, list)):
            # A pydantic tag ("function-before[...]", "list[...]", "str"), or a key missing from data.
            if "[" in part or part in ("str", "int", "float", "bool", "dict", "list", "tuple"):
                continue
            out.append(part)
            node = None
        else:
            if "[" in part or part in ("str", "int", "float", "bool"):
                continue
            out.append(part)
    return tuple(out)


def _own_key(node: dict[Any, Any], part: Any) -> Any:
    """The key of ``node`` equal to ``part`` as the data has it (``True`` where pydantic says 1)."""
    return next((k for k in node if k == part and type(k) is type(part)), next(k for k in node if k == part))


def field_names_at(model: type[BaseModel], loc: Loc, data: Any) -> list[str]:
    """Valid keys of the model found at ``loc`` (for 'did you mean')."""
    tp: Any = model
    for part in loc:
        tp = unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(part) or next(
                (f for f in tp.model_fields.values() if f.alias == part), None
            )
            if field is None:
                return []
            tp = field.annotation
        else:
            origin = typing.get_origin(tp)
            args = typing.get_args(tp)
            if origin in (dict, Mapping) and len(args) == 2:
                tp = args[1]
            elif origin in (list, tuple) and args:
                tp = args[0]
            else:
                return []
    tp = unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return sorted(f.alias or n for n, f in tp.model_fields.items())
    return []


def unwrap(tp: Any) -> Any:
    """Strip Annotated and Optional; of a union, keep its model member."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            models = [a for a in members if isinstance(a, type) and issubclass(a, BaseModel)]
            tp = models[0] if models else members[0]
            continue
        return tp
