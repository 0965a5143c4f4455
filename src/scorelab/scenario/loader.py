"""Reading scenarios: YAML with positions, ``extends:``, and one-line errors.

Loading never executes anything from a file: YAML is composed with the safe
loader into plain nodes, each value keeps the file, line and column it came
from, and pydantic validates the merged data. Every problem of a file is
collected and reported at once as ``file:line:col: field.path: message``.
"""

from __future__ import annotations

import copy
import difflib
import re
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from scorelab.errors import Problem, ScenarioError
from scorelab.scenario.model import Scenario, check_references

Loc = tuple[str | int, ...]
Mark = tuple[str, int | None, int | None]  # file, line, column (1-based)

PRESET_DIR = Path(__file__).resolve().parent.parent / "presets"


def preset_names() -> list[str]:
    """Names of the built-in scenarios."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def _is_file(path: Path) -> bool:
    """Path.is_file, but False (not an exception) for names the OS refuses (too long, NUL)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def preset_path(name: str) -> Path:
    path = PRESET_DIR / f"{name}.yaml"
    if not _is_file(path):
        close = difflib.get_close_matches(name, preset_names(), n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else f"; built-in scenarios: {', '.join(preset_names())}"
        raise ScenarioError([Problem(name, None, None, "", f"no such scenario file or built-in scenario{hint}")])
    return path


class _Doc:
    """Plain data from one YAML document plus the position of every value and key."""

    def __init__(self) -> None:
        self.values: dict[Loc, Mark] = {}
        self.keys: dict[Loc, Mark] = {}


class _SafeComposer(yaml.SafeLoader):
    """The safe loader with YAML 1.2 booleans: only true/false are booleans, so a grade or a
    country code such as ``no`` or ``on`` stays a string ("the Norway problem").
    Tags outside the core schema are rejected when values are built."""


_SafeComposer.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_SafeComposer.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


#: Most values one document may expand to (aliases are copied where they are used,
#: so a few lines of anchors could otherwise ask for billions of values).
MAX_VALUES = 1_000_000

_SURROGATE = re.compile("[\ud800-\udfff]")
_PLAIN_TAGS = {yaml.MappingNode: "tag:yaml.org,2002:map", yaml.SequenceNode: "tag:yaml.org,2002:seq"}


def _line_col(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of a character index."""
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def _short_tag(tag: str) -> str:
    return "!!" + tag[len("tag:yaml.org,2002:"):] if tag.startswith("tag:yaml.org,2002:") else tag


class _BadScalar(Exception):
    """A scalar the safe constructor refuses (unknown tag) or cannot read (``!!int x``)."""


def _construct(constructor: yaml.SafeLoader, node: yaml.Node) -> Any:
    try:
        value = constructor.construct_object(node)
    except yaml.constructor.ConstructorError:
        raise _BadScalar(f"not allowed: tag {_short_tag(node.tag)}") from None
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, IndexError):
        raise _BadScalar(f"cannot read {node.value!r} as {_short_tag(node.tag)}") from None
    if isinstance(value, str) and _SURROGATE.search(value):
        raise _BadScalar(f"text with an unpaired surrogate escape is not allowed, got {value!r}")
    return value


def _read_yaml(path: str, text: str, problems: list[Problem]) -> tuple[Any, _Doc]:
    doc = _Doc()
    try:
        node = yaml.compose(text, Loader=_SafeComposer)
    except yaml.MarkedYAMLError as e:
        m = e.problem_mark or e.context_mark
        reason = (e.problem or e.context or "syntax error").splitlines()[0]
        problems.append(Problem(path, m.line + 1 if m else None, m.column + 1 if m else None, "", f"invalid YAML: {reason}"))
        return None, doc
    except yaml.reader.ReaderError as e:  # a character YAML does not allow (control characters, ...)
        line, col = _line_col(text, e.position) if e.encoding == "unicode" else (None, None)
        ch = f"#x{e.character:04x}" if isinstance(e.character, int) else repr(e.character)
        problems.append(Problem(path, line, col, "", f"invalid YAML: special character {ch} is not allowed"))
        return None, doc
    except yaml.YAMLError as e:  # pragma: no cover - other errors carry marks
        problems.append(Problem(path, None, None, "", f"invalid YAML: {str(e).splitlines()[0]}"))
        return None, doc
    except RecursionError:
        problems.append(Problem(path, 1, 1, "", "invalid YAML: nested too deeply"))
        return None, doc
    if node is None:
        return {}, doc
    constructor = yaml.SafeLoader("")
    budget = [MAX_VALUES]

    class _TooLarge(Exception):
        pass

    def build(n: yaml.Node, loc: Loc) -> Any:
        budget[0] -= 1
        if budget[0] < 0:
            raise _TooLarge
        doc.values[loc] = (path, n.start_mark.line + 1, n.start_mark.column + 1)
        plain = _PLAIN_TAGS.get(type(n))
        if plain is not None and n.tag != plain:
            # The safe loader would construct !!set, !!omap, !!pairs; python/* and
            # unknown tags are refused. Only plain mappings and lists are scenario data.
            problems.append(Problem(path, n.start_mark.line + 1, n.start_mark.column + 1, _dotted(loc), f"not allowed: tag {_short_tag(n.tag)}"))
            return None
        if isinstance(n, yaml.MappingNode):
            n_explicit = sum(1 for k_node, _ in n.value if k_node.tag != "tag:yaml.org,2002:merge")
            try:
                constructor.flatten_mapping(n)  # resolves YAML merge keys (<<): merged pairs come first
            except yaml.constructor.ConstructorError as e:
                m = e.problem_mark or n.start_mark
                problems.append(Problem(path, m.line + 1, m.column + 1, _dotted(loc + ("<<",)), f"invalid merge key: {e.problem}"))
                return None
            out: dict[Any, Any] = {}
            n_merged = len(n.value) - n_explicit
            explicit: set[Any] = set()
            for i, (k_node, v_node) in enumerate(n.value):
                where = (path, k_node.start_mark.line + 1, k_node.start_mark.column + 1)
                if not isinstance(k_node, yaml.ScalarNode):
                    problems.append(Problem(path, where[1], where[2], _dotted(loc), "mapping keys must be plain names"))
                    continue
                try:
                    k = _construct(constructor, k_node)
                except _BadScalar as e:
                    problems.append(Problem(path, where[1], where[2], _dotted(loc), f"mapping keys must be plain names; {e}"))
                    continue
                if not isinstance(k, (str, int, bool)) or k is None:
                    problems.append(Problem(path, where[1], where[2], _dotted(loc), f"mapping keys must be plain names, got {k!r}"))
                    continue
                if i >= n_merged:  # an explicit key overrides merged ones, but not another explicit one
                    if k in explicit:
                        problems.append(Problem(path, where[1], where[2], _dotted(loc + (k,)), "duplicate key"))
                        continue
                    explicit.add(k)
                doc.keys[loc + (k,)] = where
                out[k] = build(v_node, loc + (k,))
            return out
        if isinstance(n, yaml.SequenceNode):
            return [build(item, loc + (i,)) for i, item in enumerate(n.value)]
        try:
            return _construct(constructor, n)
        except _BadScalar as e:
            problems.append(Problem(path, n.start_mark.line + 1, n.start_mark.column + 1, _dotted(loc), str(e)))
            return None

    try:
        data = build(node, ())
    except _TooLarge:
        problems.append(Problem(path, 1, 1, "", f"invalid YAML: expands to more than {MAX_VALUES:,} values (aliases)"))
        return None, doc
    except RecursionError:
        problems.append(Problem(path, 1, 1, "", "invalid YAML: nested too deeply"))
        return None, doc
    return data, doc


def _merge(base: Any, over: Any, base_marks: dict[Loc, Mark], over_marks: dict[Loc, Mark], loc: Loc, marks: dict[Loc, Mark]) -> Any:
    """Deep-merge ``over`` onto ``base``: mappings merge key by key, anything else replaces;
    a key set to null in ``over`` removes it. Positions follow the value that wins."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = {}
        for k in base:
            if k in over and over[k] is None:
                continue
            if k in over:
                out[k] = _merge(base[k], over[k], base_marks, over_marks, loc + (k,), marks)
            else:
                out[k] = base[k]
                _copy_marks(base_marks, loc + (k,), marks)
        for k in over:
            if k not in base and over[k] is not None:
                out[k] = over[k]
                _copy_marks(over_marks, loc + (k,), marks)
        if loc in over_marks:
            marks[loc] = over_marks[loc]
        return out
    _copy_marks(over_marks, loc, marks)
    return over


def _copy_marks(src: dict[Loc, Mark], prefix: Loc, dst: dict[Loc, Mark]) -> None:
    n = len(prefix)
    for k, v in src.items():
        if k[:n] == prefix:
            dst[k] = v


def _resolve(source: str | Path, problems: list[Problem], chain: tuple[str, ...]) -> tuple[Any, _Doc]:
    """Read a file (or built-in scenario) and everything it extends."""
    src = str(source)
    path = Path(src)
    if not _is_file(path):
        if path.suffix in (".yaml", ".yml") or "/" in src:
            problems.append(Problem(src, None, None, "", "no such file"))
            return None, _Doc()
        try:
            path = preset_path(src)
        except ScenarioError as e:
            problems.extend(e.problems)
            return None, _Doc()
    key = str(path.resolve())
    if key in chain:
        cycle = " -> ".join(Path(c).name for c in chain + (key,))
        problems.append(Problem(str(source), None, None, "extends", f"cycle in extends: {cycle}"))
        return None, _Doc()
    try:
        raw = path.read_bytes()
    except OSError as e:
        problems.append(Problem(str(source), None, None, "", f"cannot read: {e.strerror or e}"))
        return None, _Doc()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        good = raw[: e.start].decode("utf-8")
        line, col = _line_col(good, len(good))
        problems.append(Problem(str(source), line, col, "", f"invalid YAML: not UTF-8 text (byte {raw[e.start]:#04x})"))
        return None, _Doc()
    label = str(source) if not chain else str(path) if path.parent != PRESET_DIR else path.name
    n_before = len(problems)
    data, doc = _read_yaml(label, text, problems)
    if data is None and len(problems) > n_before:
        return None, doc
    if not isinstance(data, dict):  # a scalar or list document, or one that reads as null
        kind = "null" if data is None else type(data).__name__
        problems.append(Problem(label, 1, 1, "", f"a scenario must be a mapping of sections, got {kind}"))
        return None, doc
    parent = data.pop("extends", None)
    if parent is None:
        return data, doc
    line, col = doc.values.get(("extends",), (label, None, None))[1:]
    if not isinstance(parent, str):
        problems.append(Problem(label, line, col, "extends", f"must be a built-in scenario name or a file path, got {parent!r}"))
        return None, doc
    parent_src: str | Path = parent
    if parent.endswith((".yaml", ".yml")) or "/" in parent:
        parent_src = (path.parent / parent) if not Path(parent).is_absolute() else Path(parent)
    n_before = len(problems)
    base, base_doc = _resolve(parent_src, problems, chain + (key,))
    if base is None:
        for i in range(n_before, len(problems)):
            p = problems[i]
            if p.file == str(parent_src) and p.line is None:  # point at the extends line instead
                problems[i] = Problem(label, line, col, "extends", f"{parent}: {p.message}")
        return None, doc
    marks: dict[Loc, Mark] = {}
    keys: dict[Loc, Mark] = {}
    merged = _merge(base, data, base_doc.values, doc.values, (), marks)
    keys.update(base_doc.keys)
    keys.update(doc.keys)
    out = _Doc()
    out.values, out.keys = marks, keys
    return merged, out


def load(source: str | Path | Mapping[str, Any], overrides: Mapping[str, Any] | None = None,
         scale: float | None = None) -> Scenario:
    """Load a scenario from a YAML file, a built-in scenario name, or a plain dict.

    ``overrides`` are dotted paths (``{"run.days": 30}``) applied after ``extends``. ``scale``
    (> 0) simulates that share of the people; the scenario keeps describing its whole
    population (``population.represents``, set to the unscaled size unless given), so its
    absolute counts are scaled with it (docs/scale.md). Raises ScenarioError listing every
    problem found.
    """
    if scale is not None:
        if not scale > 0:
            raise ScenarioError([Problem(str(source) if not isinstance(source, Mapping) else "<dict>", None, None,
                                         "population.people", f"scale must be > 0, got {scale}")])
        whole = load(source, overrides)
        extra: dict[str, Any] = {"population.people": max(1, round(whole.population.people * scale))}
        if whole.population.represents is None:
            extra["population.represents"] = whole.population.people
        return load(source, {**(overrides or {}), **extra})
    problems: list[Problem] = []
    if isinstance(source, Mapping):
        label = "<dict>"
        try:
            data: Any = copy.deepcopy(dict(source))
        except RecursionError:
            raise ScenarioError([Problem(label, None, None, "", "nested too deeply")]) from None
        doc = _Doc()
        parent = data.pop("extends", None)
        if parent is not None:
            base, base_doc = _resolve(parent, problems, ())
            if base is not None:
                marks: dict[Loc, Mark] = {}
                data = _merge(base, data, base_doc.values, {}, (), marks)
                doc.values, doc.keys = marks, base_doc.keys
    else:
        label = str(source)
        data, doc = _resolve(source, problems, ())
    if problems:
        raise ScenarioError(problems)
    if overrides:
        data = apply_overrides(data, overrides, label)
        for dotted in overrides:  # a problem in an overridden value is reported against --set
            loc = tuple(int(p) if p.isdigit() else p for p in dotted.split("."))
            doc.values = {k: v for k, v in doc.values.items() if k[: len(loc)] != loc}
            doc.keys = {k: v for k, v in doc.keys.items() if k[: len(loc)] != loc}
            doc.values[loc] = doc.keys[loc] = ("--set", None, None)
    return validate(data, label, doc)


def override_value(raw: str) -> Any:
    """The value of a ``key=value`` override as typed (``--set``, ``--vary``): a YAML scalar
    (number, boolean, null, quoted string), the text itself when it is not YAML, "" when empty."""
    try:
        return yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        return raw


def apply_overrides(data: dict[str, Any], overrides: Mapping[str, Any], label: str) -> dict[str, Any]:
    """Set dotted paths (``scoring.base=900``) in plain scenario data."""
    data = copy.deepcopy(data)
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        node = data
        model: Any = Scenario
        for p in parts[:-1]:
            key: Any = int(p) if isinstance(node, list) and p.isdigit() else p
            if isinstance(node, list):
                if not isinstance(key, int) or key >= len(node):
                    raise ScenarioError([Problem(label, None, None, dotted, f"no list element {p!r}")])
                node = node[key]
                continue
            if not isinstance(node, dict):
                raise ScenarioError([Problem(label, None, None, dotted, f"{p!r} is not a section")])
            model = _field_model(model, key)
            if key not in node:  # a section left at its default: set one field, keep the others
                node[key] = _default_section(model)
            node = node[key]
        last: Any = parts[-1]
        if isinstance(node, list):
            if not last.isdigit() or int(last) >= len(node):
                raise ScenarioError([Problem(label, None, None, dotted, f"no list element {last!r}")])
            node[int(last)] = value
        elif isinstance(node, dict):
            node[last] = value
        else:
            raise ScenarioError([Problem(label, None, None, dotted, "is not a section")])
    return data


def _field_model(model: Any, key: Any) -> Any:
    """The model class of section ``key`` of ``model`` (None where it is not one model)."""
    fields = getattr(model, "model_fields", None)
    if not fields or key not in fields:
        return None
    ann = fields[key].annotation
    return ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None


def _default_section(model: Any) -> dict[str, Any]:
    """A section's default as plain data (empty where it has no default)."""
    if model is None:
        return {}
    try:
        return model().model_dump(mode="json")
    except ValidationError:  # required fields: no default section
        return {}


def validate(data: Any, label: str = "<dict>", doc: _Doc | None = None) -> Scenario:
    """Validate plain data into a Scenario; all problems at once, each located."""
    doc = doc or _Doc()
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as e:
        problems = sorted({_problem_from_pydantic(err, label, doc, data) for err in e.errors()}, key=_order)
        raise ScenarioError(problems) from None
    refs = check_references(scenario)
    if refs:
        problems = sorted({_locate(label, doc, loc, msg, key=at_key) for loc, msg, at_key in refs}, key=_order)
        raise ScenarioError(problems)
    return scenario


def _order(p: Problem) -> tuple[str, int, int, str]:
    return (p.file, p.line or 0, p.column or 0, p.path)


def _locate(label: str, doc: _Doc, loc: Loc, message: str, key: bool = False) -> Problem:
    """The best-known position for a field path: the value (or key) itself, else its nearest parent."""
    table = doc.keys if key else doc.values
    for n in range(len(loc), -1, -1):
        sub = loc[:n]
        if sub in table:
            f, line, col = table[sub]
            return Problem(f, line, col, _dotted(loc), message)
        if key and sub in doc.values:
            f, line, col = doc.values[sub]
            return Problem(f, line, col, _dotted(loc), message)
    return Problem(label, None, None, _dotted(loc), message)


def _dotted(loc: Loc) -> str:
    """``channels.cameras.coverage``; a key that is not printable text shows as its repr, so the
    path stays on one line."""
    return ".".join(part if isinstance(part, str) and part.isprintable() else repr(part) if isinstance(part, str) else str(part) for part in loc)


def _problem_from_pydantic(err: Any, label: str, doc: _Doc, data: Any, model: Any = None,
                           unknown_note: Callable[[Loc], str] | None = None) -> Problem:
    """A pydantic error as one located problem. Unknown fields get the closest valid name of
    ``model`` (default Scenario) at that place, and ``unknown_note(parent)`` if given."""
    loc = _clean_loc(err["loc"], data)
    kind = err["type"]
    if kind == "extra_forbidden":
        parent, bad = loc[:-1], loc[-1]
        msg = f"unknown field {bad!r}"
        valid = _field_names_at(model if model is not None else Scenario, parent, data)
        close = difflib.get_close_matches(str(bad), valid, n=1, cutoff=0.6)
        if close:
            msg += f"; did you mean {close[0]!r}?"
        elif valid:
            msg += f"; expected one of: {', '.join(valid)}"
        if unknown_note is not None:
            msg += unknown_note(parent)
        return _locate(label, doc, loc, msg, key=True)
    if kind == "missing":
        return _locate(label, doc, loc, "required field is missing")
    msg = err["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    if kind not in ("value_error", "assertion_error") and "input" in err:
        shown = repr(err["input"])
        if len(shown) > 60:
            shown = shown[:57] + "..."
        if "got" not in msg:
            msg = f"{msg[0].lower()}{msg[1:]}, got {shown}"
    return _locate(label, doc, loc, msg.splitlines()[0])


def _clean_loc(loc: tuple[Any, ...], data: Any) -> Loc:
    """Drop pydantic's union-branch and function tags so the path matches the data."""
    out: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(part, int):
            if isinstance(node, list) and part < len(node):
                out.append(part)
                node = node[part]
                continue
            if isinstance(node, dict) and part in node:
                out.append(part)
                node = node[part]
            continue
        if isinstance(node, dict) and part in node:
            out.append(part)
            node = node[part]
        elif isinstance(node, dict) and part.rstrip("_") in node:  # aliases such as from_/from
            out.append(part.rstrip("_"))
            node = node[part.rstrip("_")]
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


def _field_names_at(model: type[BaseModel], loc: Loc, data: Any) -> list[str]:
    """Valid keys of the model found at ``loc`` (for 'did you mean')."""
    tp: Any = model
    for part in loc:
        tp = _unwrap(tp)
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
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return sorted(f.alias or n for n, f in tp.model_fields.items())
    return []


def _unwrap(tp: Any) -> Any:
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
