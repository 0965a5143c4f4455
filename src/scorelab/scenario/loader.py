"""Reading scenarios: files and built-in scenarios, ``extends:``, ``--set`` overrides, and
validation with one-line errors.

Loading never executes anything from a file: YAML is read into plain data that keeps the
file, line and column of every value (``scenario.yamlread``), and pydantic validates the
merged data. Only ``*.yaml``/``*.yml`` files are read, given or extended, and a file that is
too large or binary is one problem that quotes nothing of it. Every problem of a file is
collected and reported at once as ``file:line:col: field.path: message``
(``scenario.problems``).
"""

from __future__ import annotations

import copy
import difflib
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from scorelab.errors import Problem, ScenarioError, excerpt
from scorelab.scenario.model import Scenario, check_references
from scorelab.scenario.problems import locate, problem_from_pydantic, problem_order
from scorelab.scenario.yamlread import SUFFIXES, SURROGATE, Doc, Loc, Mark, is_file, read_source, read_yaml

PRESET_DIR = Path(__file__).resolve().parent.parent / "presets"


def preset_names() -> list[str]:
    """Names of the built-in scenarios."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def preset_path(name: str) -> Path:
    path = PRESET_DIR / f"{name}.yaml"
    if not is_file(path):
        close = difflib.get_close_matches(name, preset_names(), n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else f"; built-in scenarios: {', '.join(preset_names())}"
        raise ScenarioError([Problem(_shown(name), None, None, "", f"no such scenario file or built-in scenario{hint}")])
    return path


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


def _shown(text: str) -> str:
    """A file name or extends target as a message shows it: as given when short and printable."""
    return text if text.isprintable() and len(text) <= 120 else excerpt(text, 120)


def _locate_source(src: str, problems: list[Problem]) -> Path | None:
    """The file to read for ``src`` (a path, or a built-in scenario's name), or None with a
    problem. Only files named ``*.yaml`` or ``*.yml`` are read: anything else would be quoted
    back in error messages."""
    path = Path(src)
    if path.suffix.lower() in SUFFIXES or "/" in src:
        if not is_file(path):
            problems.append(Problem(_shown(src), None, None, "", "no such file"))
            return None
        if path.suffix.lower() not in SUFFIXES:
            problems.append(Problem(_shown(src), None, None, "", "not a scenario file: only .yaml or .yml files "
                                                                 "are read"))
            return None
        return path
    if src not in preset_names() and is_file(path):
        problems.append(Problem(_shown(src), None, None, "", "not a scenario file: only .yaml or .yml files are read"))
        return None
    try:
        return preset_path(src)
    except ScenarioError as e:
        problems.extend(e.problems)
        return None


def derived_name(stem: str, parent: str) -> str:
    """The name of a scenario that extends ``parent`` without naming itself: its file's name
    (``stem``) as a scenario name (letters, digits, ``_.-``), else ``<parent>-modified``."""
    name = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "_.-") else "_" for ch in stem)
    if name and not (name[0].isalpha() or name[0] == "_"):
        name = "_" + name
    return name or f"{parent or 'scenario'}-modified"


def _resolve(source: str | Path, problems: list[Problem], chain: tuple[str, ...]) -> tuple[Any, Doc]:
    """Read a file (or built-in scenario) and everything it extends."""
    src = str(source)
    path = _locate_source(src, problems)
    if path is None:
        return None, Doc()
    key = str(path.resolve())
    if key in chain:
        cycle = " -> ".join(Path(c).name for c in chain + (key,))
        problems.append(Problem(_shown(src), None, None, "extends", f"cycle in extends: {cycle}"))
        return None, Doc()
    label = _shown(src) if not chain else str(path) if path.parent != PRESET_DIR else path.name
    text = read_source(label, path, problems)
    if text is None:
        return None, Doc()
    n_before = len(problems)
    data, doc = read_yaml(label, text, problems)
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
        problems.append(Problem(label, line, col, "extends",
                                f"must be a built-in scenario name or a file path, got {excerpt(parent)}"))
        return None, doc
    parent_src: str | Path = parent
    if parent.lower().endswith(SUFFIXES) or "/" in parent:
        parent_src = (path.parent / parent) if not Path(parent).is_absolute() else Path(parent)
    n_before = len(problems)
    base, base_doc = _resolve(parent_src, problems, chain + (key,))
    if base is None:
        for i in range(n_before, len(problems)):
            p = problems[i]
            if p.file == _shown(str(parent_src)) and p.line is None:  # point at the extends line instead
                problems[i] = Problem(label, line, col, "extends", f"{_shown(parent)}: {p.message}")
        return None, doc
    marks: dict[Loc, Mark] = {}
    keys: dict[Loc, Mark] = {}
    merged = _merge(base, data, base_doc.values, doc.values, (), marks)
    if "name" not in data and path.parent != PRESET_DIR:
        # a file that changes a scenario is not that scenario: named after the file, so that
        # the summary, `scorelab runs` and the report do not label it with the preset's name
        merged["name"] = derived_name(path.stem, str(base.get("name", "")))
    keys.update(base_doc.keys)
    keys.update(doc.keys)
    out = Doc()
    out.values, out.keys = marks, keys
    out.written = {**base_doc.written, **doc.written}
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
        if not (isinstance(scale, (int, float)) and scale > 0 and math.isfinite(scale)):
            raise ScenarioError([Problem(_shown(str(source)) if not isinstance(source, Mapping) else "<dict>", None,
                                         None, "population.people", f"scale must be > 0 and finite, got {scale}")])
        whole = load(source, overrides)
        # (a scaled count past any bound is refused as such by the schema)
        extra: dict[str, Any] = {"population.people": max(1, round(min(whole.population.people * scale, 2.0**62)))}
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
        doc = Doc()
        parent = data.pop("extends", None)
        if parent is not None:
            base, base_doc = _resolve(parent, problems, ())
            if base is not None:
                marks: dict[Loc, Mark] = {}
                named = "name" in data
                data = _merge(base, data, base_doc.values, {}, (), marks)
                if not named:
                    data["name"] = derived_name("", str(base.get("name", "")))
                doc.values, doc.keys, doc.written = marks, base_doc.keys, base_doc.written
    else:
        label = _shown(str(source))
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
    """The value of a ``key=value`` override as typed (``--set``, ``--vary``): YAML read as a
    scenario file is (a number, ``1e5`` included, a boolean, null, a quoted string, a flow list
    or mapping), the text itself when it is not such YAML (``!!int x``, an unknown tag, an
    alias loop), "" when empty."""
    if not raw.strip():
        return ""
    problems: list[Problem] = []
    value, _ = read_yaml("--set", raw, problems)
    return raw if problems else value


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


def validate(data: Any, label: str = "<dict>", doc: Doc | None = None) -> Scenario:
    """Validate plain data into a Scenario; all problems at once, each located."""
    doc = doc or Doc()
    unwritable = sorted({locate(label, doc, loc, f"text with an unpaired surrogate escape is not allowed, got "
                                                 f"{excerpt(text)}", key=key) for loc, text, key in _surrogates(data, ())},
                        key=problem_order)
    if unwritable:  # (from a dict or a --set value that was not UTF-8: a file refuses them when read)
        raise ScenarioError(unwritable)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as e:
        problems = sorted({problem_from_pydantic(err, label, doc, data) for err in e.errors()}, key=problem_order)
        raise ScenarioError(problems) from None
    refs = check_references(scenario)
    if refs:
        problems = sorted({locate(label, doc, loc, msg, key=at_key) for loc, msg, at_key in refs}, key=problem_order)
        raise ScenarioError(problems)
    return scenario


def _surrogates(data: Any, loc: Loc) -> Iterator[tuple[Loc, str, bool]]:
    """(path, text, is a key) of every text in ``data`` with a lone surrogate, which no file can
    hold (it cannot be written as UTF-8)."""
    if isinstance(data, str):
        if SURROGATE.search(data):
            yield loc, data, False
    elif isinstance(data, dict):
        for k, v in data.items():
            if isinstance(k, str) and SURROGATE.search(k):
                yield loc + (k,), k, True
            yield from _surrogates(v, loc + (k,))
    elif isinstance(data, (list, tuple)):
        for i, v in enumerate(data):
            yield from _surrogates(v, loc + (i,))
