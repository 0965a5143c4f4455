"""YAML with positions: reading a scenario (or targets) file into plain data that remembers the
file, line and column of every value and key, and writing data back as YAML that reads the same.

Nothing is executed: documents are composed with PyYAML's safe loader into nodes and built
here into plain mappings, lists and scalars. The scalars are YAML 1.2's core schema where it
differs from PyYAML's 1.1: only ``true``/``false`` are booleans (a country code ``no`` stays
text) and ``1e5`` or ``1.0e308`` are numbers (1.1 reads them as text). ``dump_yaml`` quotes
every text that either reading would take for something else, so what it writes loads back
unchanged here and with ``yaml.safe_load``.

A file is read only if it is small enough (``MAX_FILE_BYTES``) and is text; otherwise it is one
problem that quotes nothing of it (``read_source``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from scorelab.errors import Problem, excerpt

Loc = tuple[Any, ...]
Mark = tuple[str, int | None, int | None]  # file, line, column (1-based)

#: Most values one document may expand to (aliases are copied where they are used,
#: so a few lines of anchors could otherwise ask for billions of values).
MAX_VALUES = 1_000_000
#: Largest file read as a scenario or targets file.
MAX_FILE_BYTES = 16 * 2**20
#: The suffixes of scenario files: only such files are read (given or extended).
SUFFIXES = (".yaml", ".yml")
#: Longest part of a field path as shown in a message.
MAX_PART = 40

#: A lone surrogate: text that cannot be written as UTF-8 (an argument that was not UTF-8).
SURROGATE = re.compile("[\ud800-\udfff]")
_PLAIN_TAGS = {yaml.MappingNode: "tag:yaml.org,2002:map", yaml.SequenceNode: "tag:yaml.org,2002:seq"}
_BOOL_12 = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
#: YAML 1.2 floats that YAML 1.1 reads as text: an exponent without a sign, or without a dot.
_FLOAT_12 = re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$")
_FLOAT_TAG = "tag:yaml.org,2002:float"


class Doc:
    """Plain data from one YAML document plus the position of every value and key, and how each
    key that is not text was written (``true``, ``1``), to show it as written in field paths."""

    def __init__(self) -> None:
        self.values: dict[Loc, Mark] = {}
        self.keys: dict[Loc, Mark] = {}
        self.written: dict[Loc, str] = {}


class SafeComposer(yaml.SafeLoader):
    """The safe loader with YAML 1.2 scalars: only true/false are booleans, so a grade or a
    country code such as ``no`` or ``on`` stays a string ("the Norway problem"), and ``1e5``
    and ``1.0e308`` are numbers. Tags outside the core schema are rejected when values are built."""


SafeComposer.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
SafeComposer.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL_12, list("tTfF"))
SafeComposer.add_implicit_resolver(_FLOAT_TAG, _FLOAT_12, list("-+0123456789."))


class FastComposer(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """``SafeComposer``'s scalars with libyaml's parser where PyYAML has it (about 15 times
    faster); a document it cannot compose is composed again by ``SafeComposer``, whose
    messages and positions the problems report."""


FastComposer.yaml_implicit_resolvers = SafeComposer.yaml_implicit_resolvers


class SafeDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """The safe dumper (libyaml's emitter where PyYAML has it), quoting every text that YAML 1.1
    (``yaml.safe_load``) or 1.2 (``SafeComposer``) would read as a number, boolean, date or null."""


SafeDumper.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeDumper.yaml_implicit_resolvers.items()}
SafeDumper.add_implicit_resolver(_FLOAT_TAG, _FLOAT_12, list("-+0123456789."))


def dump_yaml(data: Any, allow_unicode: bool = True) -> str:
    """``data`` (plain mappings, lists and scalars, such as a scenario's ``model_dump(mode="json")``)
    as YAML text, in the order given, that loads back as the same data (non-ASCII characters
    escaped unless ``allow_unicode``)."""
    return yaml.dump(data, Dumper=SafeDumper, sort_keys=False, allow_unicode=allow_unicode)


def line_col(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of a character index."""
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def is_file(path: Path) -> bool:
    """Path.is_file, but False (not an exception) for names the OS refuses (too long, NUL)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def dotted(loc: Loc, doc: Doc | None = None) -> str:
    """``channels.cameras.coverage``. A key that is not text shows as it was written (``true``),
    one that is not printable as its repr, so the path stays on one line; each part is cut
    to ``MAX_PART`` characters."""
    parts = []
    for i, part in enumerate(loc):
        text = doc.written.get(loc[: i + 1]) if doc is not None else None
        if text is None:
            if isinstance(part, bool):
                text = "true" if part else "false"
            elif isinstance(part, str):
                text = part if part.isprintable() else repr(part)
            else:
                text = str(part)
        parts.append(text if len(text) <= MAX_PART else text[: MAX_PART - 3] + "...")
    return ".".join(parts)


def read_source(label: str, path: Path, problems: list[Problem]) -> str | None:
    """The text of a scenario or targets file, or None with one problem that quotes nothing of
    the file: it cannot be read, is larger than ``MAX_FILE_BYTES``, is binary (a NUL byte)
    or is not UTF-8."""
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        problems.append(Problem(label, None, None, "", f"cannot read: {e.strerror or type(e).__name__}"))
        return None
    if len(raw) > MAX_FILE_BYTES:
        problems.append(Problem(label, None, None, "", f"too large for a scenario file (more than "
                                                       f"{MAX_FILE_BYTES // 2**20} MiB)"))
        return None
    nul = raw.find(b"\0")
    if nul >= 0:
        line, col = raw.count(b"\n", 0, nul) + 1, nul - raw.rfind(b"\n", 0, nul)
        problems.append(Problem(label, line, col, "", "invalid YAML: not a text file (binary data: a NUL byte)"))
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        good = raw[: e.start].decode("utf-8")
        line, col = line_col(good, len(good))
        problems.append(Problem(label, line, col, "", f"invalid YAML: not UTF-8 text (byte {raw[e.start]:#04x})"))
        return None


def _short_tag(tag: str) -> str:
    text = "!!" + tag[len("tag:yaml.org,2002:"):] if tag.startswith("tag:yaml.org,2002:") else tag
    return text if len(text) <= MAX_PART else text[: MAX_PART - 3] + "..."


class _BadScalar(Exception):
    """A scalar the safe constructor refuses (unknown tag) or cannot read (``!!int x``)."""


def _construct(constructor: yaml.SafeLoader, node: yaml.Node) -> Any:
    try:
        value = constructor.construct_object(node)
    except yaml.constructor.ConstructorError:
        raise _BadScalar(f"not allowed: tag {_short_tag(node.tag)}") from None
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, IndexError):
        raise _BadScalar(f"cannot read {excerpt(node.value)} as {_short_tag(node.tag)}") from None
    if isinstance(value, str) and SURROGATE.search(value):
        raise _BadScalar(f"text with an unpaired surrogate escape is not allowed, got {excerpt(value)}")
    return value


def _compose(path: str, text: str, problems: list[Problem]) -> yaml.Node | None | bool:
    """The document's node (None when empty), or False with a problem when it is not YAML."""
    # (libyaml refuses nesting past 1,000 levels: no deep C recursion; it counts a byte-order mark
    # inside a line as a column where PyYAML does not, so such a text is read by PyYAML alone)
    if hasattr(yaml, "CSafeLoader") and "\ufeff" not in text[1:]:
        try:
            return yaml.compose(text, Loader=FastComposer)
        except Exception:  # noqa: BLE001 - composed again below, for PyYAML's message and position
            pass
    try:
        return yaml.compose(text, Loader=SafeComposer)
    except yaml.MarkedYAMLError as e:
        m = e.problem_mark or e.context_mark
        reason = (e.problem or e.context or "syntax error").splitlines()[0]
        problems.append(Problem(path, m.line + 1 if m else None, m.column + 1 if m else None, "", f"invalid YAML: {reason}"))
    except yaml.reader.ReaderError as e:  # a character YAML does not allow (control characters, ...)
        line, col = line_col(text, e.position) if e.encoding == "unicode" else (None, None)
        ch = f"#x{e.character:04x}" if isinstance(e.character, int) else repr(e.character)
        problems.append(Problem(path, line, col, "", f"invalid YAML: special character {ch} is not allowed"))
    except yaml.YAMLError as e:  # pragma: no cover - other errors carry marks
        problems.append(Problem(path, None, None, "", f"invalid YAML: {str(e).splitlines()[0][:80]}"))
    except RecursionError:
        problems.append(Problem(path, 1, 1, "", "invalid YAML: nested too deeply"))
    return False


class _TooLarge(Exception):
    pass


class _Builder:
    """Plain data from composed nodes, recording positions in ``doc`` and problems found."""

    def __init__(self, path: str, doc: Doc, problems: list[Problem]) -> None:
        self.path, self.doc, self.problems = path, doc, problems
        self.constructor = yaml.SafeLoader("")
        self.budget = MAX_VALUES

    def problem(self, n: yaml.Node, loc: Loc, message: str) -> None:
        self.problems.append(Problem(self.path, n.start_mark.line + 1, n.start_mark.column + 1,
                                     dotted(loc, self.doc), message))

    def build(self, n: yaml.Node, loc: Loc) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise _TooLarge
        self.doc.values[loc] = (self.path, n.start_mark.line + 1, n.start_mark.column + 1)
        plain = _PLAIN_TAGS.get(type(n))
        if plain is not None and n.tag != plain:
            # The safe loader would construct !!set, !!omap, !!pairs; python/* and
            # unknown tags are refused. Only plain mappings and lists are scenario data.
            self.problem(n, loc, f"not allowed: tag {_short_tag(n.tag)}")
            return None
        if isinstance(n, yaml.MappingNode):
            return self.mapping(n, loc)
        if isinstance(n, yaml.SequenceNode):
            return [self.build(item, loc + (i,)) for i, item in enumerate(n.value)]
        try:
            return _construct(self.constructor, n)
        except _BadScalar as e:
            self.problem(n, loc, str(e))
            return None

    def mapping(self, n: yaml.MappingNode, loc: Loc) -> dict[Any, Any] | None:
        n_explicit = sum(1 for k_node, _ in n.value if k_node.tag != "tag:yaml.org,2002:merge")
        try:
            self.constructor.flatten_mapping(n)  # resolves YAML merge keys (<<): merged pairs come first
        except yaml.constructor.ConstructorError as e:
            m = e.problem_mark or n.start_mark
            self.problems.append(Problem(self.path, m.line + 1, m.column + 1, dotted(loc + ("<<",), self.doc),
                                         f"invalid merge key: {e.problem}"))
            return None
        out: dict[Any, Any] = {}
        n_merged = len(n.value) - n_explicit
        explicit: set[Any] = set()
        for i, (k_node, v_node) in enumerate(n.value):
            if not isinstance(k_node, yaml.ScalarNode):
                self.problem(k_node, loc, "mapping keys must be plain names")
                continue
            try:
                k = _construct(self.constructor, k_node)
            except _BadScalar as e:
                self.problem(k_node, loc, f"mapping keys must be plain names; {e}")
                continue
            if not isinstance(k, (str, int, bool)) or k is None:
                self.problem(k_node, loc, f"mapping keys must be plain names, got {excerpt(k)}")
                continue
            if not isinstance(k, str):
                self.doc.written[loc + (k,)] = k_node.value if k_node.value.isprintable() else repr(k_node.value)
            if i >= n_merged:  # an explicit key overrides merged ones, but not another explicit one
                if k in explicit:
                    self.problem(k_node, loc + (k,), "duplicate key")
                    continue
                explicit.add(k)
            self.doc.keys[loc + (k,)] = (self.path, k_node.start_mark.line + 1, k_node.start_mark.column + 1)
            out[k] = self.build(v_node, loc + (k,))
        return out


def read_yaml(path: str, text: str, problems: list[Problem]) -> tuple[Any, Doc]:
    """Plain data of one YAML document and its positions; problems are added to ``problems``
    (the data is None when the document is not YAML at all)."""
    doc = Doc()
    node = _compose(path, text, problems)
    if node is False:
        return None, doc
    if node is None:
        return {}, doc
    builder = _Builder(path, doc, problems)
    try:
        return builder.build(node, ()), doc
    except _TooLarge:
        problems.append(Problem(path, 1, 1, "", f"invalid YAML: expands to more than {MAX_VALUES:,} values (aliases)"))
    except RecursionError:
        problems.append(Problem(path, 1, 1, "", "invalid YAML: nested too deeply"))
    return None, doc
