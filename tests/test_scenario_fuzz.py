"""Fuzzing the scenario loader with Hypothesis.

Starting from one valid scenario that uses every section, the tests below
write more than 10,000 mutated files (lines deleted, duplicated, swapped or
re-indented; values replaced by random strings, numbers, negative, huge, NaN,
lists and mappings; random keys inserted; text truncated; random unicode or
bytes injected; brackets and quotes broken) and load each of them.

Whatever the file holds, loading either succeeds or raises ``ScenarioError``;
no other exception escapes. Every problem then names

* a file: the file loaded, or the file it extends;
* a line and a column (ints >= 1, and the line is inside the file). The only
  problems that can have no line are those about a file that cannot be found or
  read at all when it is the file given to ``load`` (there is no line to point
  at); a missing or cyclic ``extends:`` target is reported at the line of the
  ``extends`` key. The fuzz files always exist, so every problem here has a line;
* a field path, except for problems about the whole document, which have none:
  YAML syntax errors (the message starts with ``invalid YAML``), a document
  that is not a mapping (``a scenario must be a mapping``), a document-level
  tag (``not allowed: tag``) and a top-level key that is not a plain name
  (``mapping keys must be plain names``).

Every problem is a single line (``str(problem)`` has no newline).

Budget (``EXAMPLES``): in CI, 1,000 line/character mutations of the whole file,
300 value-only mutations (each also loaded as a dict and compared), 300 mutated
base files loaded through a child's ``extends:`` and 400 mutated child files over
a valid base: 2,000 files, about 13 s on two cores. With ``SCORELAB_FUZZ=nightly``
five times as many, 10,000 files (about 65 s): ``SCORELAB_FUZZ=nightly pytest
tests/test_scenario_fuzz.py``. ``test_zz_enough_examples`` (last in the file)
asserts that they were all actually loaded. In CI the tests are derandomized (and
use no example database) so CI sees the same files every run; the nightly size
draws new files every night.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections import Counter
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from scenario_strategies import NIGHTLY, SETTINGS, fuzz_examples

import scorelab
from scorelab.errors import ScenarioError
from scorelab.scenario.yamlread import FastComposer, SafeComposer

BASE_TEXT = """\
name: fuzz city
description: |
  A small city used as the seed of the fuzz tests.
population:
  people: 2000
  regions:
    - {province: Shandong, city: Rongcheng, share: 0.6}
    - {province: Shandong, city: Weihai, share: 0.4, urban_share: 0.7}
  groups: {majority: 0.9, minority: 0.1}
contacts:
  household: true
  friends:
    degree: {distribution: poisson, mean: 5}
    same_city: 0.8
    same_group: 0.5
behaviours:
  speeding:
    rate: 2 per year
    modifiers:
      - when: {car_owner: true, age: [18, 30]}
        factor: 3.5
  protest:
    kind: disfavoured
    rate: {value: 0.1, per: month}
  attended_gathering:
    kind: neutral
    rate: 4 per year
  volunteering:
    kind: civic
    rate: 0.5/year
channels:
  cameras:
    observes: [speeding, protest, attended_gathering]
    coverage: 0.5
    detection: 0.3
    false_match_rate: 0.001
    by_behaviour:
      speeding: {detection: 0.6, false_match_rate: 0.01}
    delay: 2 days
    retention: 2 years
    start: 2018-03-01
    ramp: 6 months
    misattribution: {probability: 0.01, target: contacts, layer: friends}
    identification:
      behaviour: attended_gathering
      watchlist: watch
      hit_rate: 0.7
      false_match_rate: 0.0001
  courts:
    observes: [volunteering]
    regions: [Rongcheng]
scoring:
  base: 1000
  rules:
    - {behaviour: speeding, points: -5, cap_per_year: 50}
    - {behaviour: protest, points: -50, set_grade: C}
    - {behaviour: volunteering, points: 5}
  recovery: 2 years
  bounds: [0, 2000]
  social: {weight: 0.1, layers: [friends, household]}
grades:
  - {name: A, from: 960}
  - {name: B, from: 850, below: 960}
  - {name: C, below: 850}
lists:
  watch:
    entry: {behaviours: [protest], min_records: 2, within: 1 year}
    exit: {after: 1 year, clean: 6 months}
  honour:
    kind: red
    entry: {grades: [A]}
consequences:
  no_flights:
    kind: refusal
    grades: [C]
    lists: [watch]
    service: flights
    attempts: 1 per year
    probability: 0.9
  bonus:
    kind: bonus
    lists: [honour]
    amount: 100
    every: 1 month
flags:
  suspicious:
    rule: {behaviours: [attended_gathering], min_records: 3, within: 30 days, lists: [watch]}
    capacity: 5 per day
    add_to_list: watch
responses:
  awareness: {initial: 0.2, growth: 0.5 per year}
  deterrence: 1.5
  risk_sensitivity: {minority: 1.2}
rollout:
  regions:
    - {region: Weihai, joins: 2018-06-01}
  default: 2018-01-01
safeguards:
  appeals: {contested: 0.2, success: 0.5, delay: 60 days}
  expiry: 3 years
  purpose_limitation: false
  disabled_channels: [courts]
run:
  days: 60
  seed: 7
  start: 2018-01-01
  step: 1
"""
LINES = BASE_TEXT.splitlines()

#: Only to build the dict side of the comparison (libyaml when present: it is 10x faster).
class FAST_SAFE_LOADER(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # noqa: N801
    """Parses plain data like the scenario loader (YAML 1.2 booleans), with libyaml for speed."""


FAST_SAFE_LOADER.yaml_implicit_resolvers = SafeComposer.yaml_implicit_resolvers

#: Examples per test (CI size; five times as many, 10,000 in all, with SCORELAB_FUZZ=nightly);
#: test_zz_enough_examples checks that they all ran.
EXAMPLES = {k: fuzz_examples(n, 5 * n) for k, n in {"lines": 1000, "values": 300, "base": 300, "child": 400}.items()}
RUN: Counter[str] = Counter()

WORKDIR = Path(tempfile.mkdtemp(prefix="scorelab-fuzz-"))

# ------------------------------------------------------------------ strategies

KEYS = sorted(
    {
        "name", "extends", "behaviours", "behaviors", "channels", "chanels", "grades", "lists", "rate", "rates",
        "coverage", "detection", "observes", "from", "below", "people", "share", "kind", "days", "seed", "step",
        "modifiers", "when", "factor", "weight", "layers", "entry", "exit", "<<", "1", "true", "null", "~",
    }
)

SCALARS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(
        [
            ".nan", ".NaN", ".inf", "-.inf", "1e999", "-1", "-0.5", "1.5", "0", "2147483648", "-9999999999999",
            "~", "null", "true", "no", "''", '""', "2018-02-30", "2018-01-01 10:00:00", "2 per year",
            "-3 per week", "2 per fortnight", "0.1/day", "5", "30 days", "-1 days", "6 months", "!!str 5",
            "!!int x", "!!float", "!!binary aGk=", "!!set {a}", "!!python/object/apply:os.system [echo]", "*anchor",
            "&a 1", "|", ">", "[", "]", "{", "}", "'", '"', "- ", "? ", ": ", "#", "@", "`", "%YAML 1.1", "---", "...",
        ]
    ),
    st.text(max_size=12).map(json.dumps),  # a valid (quoted) YAML string of random unicode
    st.text(max_size=12),  # raw random text: often not YAML at all
)
FLOW = st.recursive(
    SCALARS.filter(lambda s: "\n" not in s),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.lists(st.tuples(st.sampled_from(KEYS), inner), max_size=3).map(
            lambda kv: "{" + ", ".join(f"{k}: {v}" for k, v in kv) + "}"
        ),
    ),
    max_leaves=6,
)
VALUES = st.one_of(SCALARS, FLOW)
JUNK = st.one_of(
    st.text(max_size=6),
    st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=3),  # control characters
    st.sampled_from(["\t", "\r", "\x00", "\ufeff", "\u2028", "\ud7ff", "\U0001f600", "\x85", "\\", "\x7f"]),
    st.sampled_from(list("[]{}\"'`:-?#&*!|>%@,")),
)


def _value_line(lines: list[str], i: int, value: str) -> None:
    line = lines[i]
    cut = line.find(": ")
    if cut >= 0:
        lines[i] = line[: cut + 2] + value
    elif line.lstrip().startswith("- "):
        lines[i] = line[: line.index("- ") + 2] + value
    else:
        lines[i] = line + " " + value


@st.composite
def mutated(draw: st.DrawFn, lines: list[str], max_ops: int = 4) -> bytes:
    """A scenario file (as bytes) made from ``lines`` by 1..max_ops random mutations."""
    lines = list(lines)
    tail: list[tuple[str, int, bytes]] = []  # operations on the final text
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(
            st.sampled_from(
                ["delete", "duplicate", "swap", "indent", "value", "value", "value", "key", "truncate", "inject",
                 "bracket", "bytes"]
            )
        )
        if not lines:
            lines = [""]
        i = draw(st.integers(0, len(lines) - 1))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "indent":
            delta = draw(st.sampled_from([-4, -2, -1, 1, 2, 4, "tab"]))
            if delta == "tab":
                lines[i] = "\t" + lines[i]
            elif delta < 0:
                lines[i] = lines[i][min(-delta, len(lines[i]) - len(lines[i].lstrip(" "))):]
            else:
                lines[i] = " " * delta + lines[i]
        elif op == "value":
            _value_line(lines, i, draw(VALUES))
        elif op == "key":
            indent = " " * draw(st.sampled_from([0, 2, 4, 6]))
            key = draw(st.one_of(st.sampled_from(KEYS), st.text(min_size=1, max_size=8).map(json.dumps)))
            lines.insert(i, f"{indent}{key}: {draw(VALUES)}")
        elif op == "truncate":
            tail.append(("truncate", draw(st.integers(0, 4000)), b""))
        elif op == "inject":
            tail.append(("insert", draw(st.integers(0, 4000)), draw(JUNK).encode("utf-8", "surrogatepass")))
        elif op == "bracket":
            line = lines[i]
            pos = draw(st.integers(0, len(line)))
            ch = draw(st.sampled_from(list("[]{}\"'")))
            if draw(st.booleans()) and any(c in line for c in "[]{}\"'"):
                k = next(k for k, c in enumerate(line) if c in "[]{}\"'")
                lines[i] = line[:k] + line[k + 1:]  # drop the first bracket or quote
            else:
                lines[i] = line[:pos] + ch + line[pos:]
        else:  # raw bytes, possibly not UTF-8
            tail.append(("insert", draw(st.integers(0, 4000)), draw(st.binary(min_size=1, max_size=4))))
    data = ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")
    for kind, pos, payload in tail:
        pos = min(pos, len(data))
        data = data[:pos] if kind == "truncate" else data[:pos] + payload + data[pos:]
    return data


# ------------------------------------------------------------------ checks

WHOLE_DOCUMENT = ("invalid YAML", "a scenario must be a mapping", "not allowed: tag", "mapping keys must be plain names")


def check_load(path: Path, files: dict[str, bytes]) -> tuple[scorelab.Scenario | None, list]:
    """Load ``path``; assert the error contract. ``files`` maps each label that may
    appear in a problem to that file's content (to bound line numbers).
    Returns (scenario, []) or (None, problems)."""
    try:
        return scorelab.load(str(path)), []
    except ScenarioError as e:
        assert e.problems, "a ScenarioError must list at least one problem"
        for p in e.problems:
            text = str(p)
            assert "\n" not in text and "\r" not in text, f"problem is not one line: {text!r}"
            assert p.file in files, f"unexpected file {p.file!r} in {text!r}"
            assert isinstance(p.line, int) and p.line >= 1, f"no line in {text!r}"
            assert isinstance(p.column, int) and p.column >= 1, f"no column in {text!r}"
            n_lines = files[p.file].count(b"\n") + 1
            assert p.line <= n_lines + 1, f"line {p.line} beyond the end ({n_lines} lines): {text!r}"
            assert p.message, text
            if not p.path:
                assert p.message.startswith(WHOLE_DOCUMENT), f"a problem without a field path: {text!r}"
        return None, e.problems


#: Problems found while reading the YAML into data (before any schema check); a dict has none of them.
YAML_PHASE = WHOLE_DOCUMENT + (
    "duplicate key", "not allowed", "cannot read", "invalid merge key", "text with an unpaired surrogate",
)



def test_base_text_is_valid() -> None:
    """The seed of all mutations loads cleanly, so every error below comes from a mutation."""
    path = WORKDIR / "seed.yaml"
    path.write_text(BASE_TEXT)
    s = scorelab.load(str(path))
    assert s.name == "fuzz city" and set(s.channels) == {"cameras", "courts"}


@settings(max_examples=EXAMPLES["lines"], **SETTINGS)
@given(mutated(LINES))
def test_mutated_file_fails_cleanly(data: bytes) -> None:
    """Any line/character/value mutation of a valid file loads or raises ScenarioError whose
    problems all carry file, line >= 1, column >= 1 and (unless whole-document) a field path."""
    RUN["lines"] += 1
    path = WORKDIR / "city.yaml"
    path.write_bytes(data)
    check_load(path, {str(path): data})
    if RUN["lines"] % 5 == 0:
        check_parsers_agree(data)


def check_parsers_agree(data: bytes) -> None:
    """What libyaml composes (the loader's fast path), PyYAML's own parser composes the same:
    node for node, the same tags, values and positions. (Where libyaml fails, the loader
    uses PyYAML's parser anyway.)"""
    if not hasattr(yaml, "CSafeLoader") or b"\0" in data:
        return
    try:
        text = data.decode("utf-8")
        if "\ufeff" in text[1:]:
            return  # (libyaml and PyYAML count a mark inside a line differently: the loader reads it with PyYAML)
        fast = yaml.compose(text, Loader=FastComposer)
    except Exception:  # noqa: BLE001 - the loader falls back to PyYAML's parser
        return
    slow = yaml.compose(text, Loader=SafeComposer)  # raises: libyaml accepted what PyYAML refuses

    seen: set[tuple[int, int]] = set()  # (aliases share nodes, and may loop)

    def same(a: yaml.Node | None, b: yaml.Node | None) -> None:
        if a is None or b is None:
            assert a is b is None
            return
        if (id(a), id(b)) in seen:
            return
        seen.add((id(a), id(b)))
        assert (type(a), a.tag, a.start_mark.line, a.start_mark.column) == (
            type(b), b.tag, b.start_mark.line, b.start_mark.column), (a, b)
        if isinstance(a, yaml.ScalarNode):
            assert a.value == b.value, (a, b)
        elif isinstance(a, yaml.SequenceNode):
            assert len(a.value) == len(b.value)
            for x, y in zip(a.value, b.value):
                same(x, y)
        else:
            assert len(a.value) == len(b.value)
            for (k1, v1), (k2, v2) in zip(a.value, b.value):
                same(k1, k2)
                same(v1, v2)

    same(fast, slow)


# Value-only mutations keep the YAML structure, so the same data can also be given as a dict.
@st.composite
def value_mutated(draw: st.DrawFn) -> str:
    lines = list(LINES)
    candidates = [i for i, line in enumerate(lines) if ": " in line and not line.rstrip().endswith("|")]
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.sampled_from(candidates))
        _value_line(lines, i, draw(VALUES))
    return "\n".join(lines) + "\n"


@settings(max_examples=EXAMPLES["values"], **SETTINGS)
@given(value_mutated())
def test_dict_input_reports_same_paths(text: str) -> None:
    """Loading the parsed dict gives the same problems (field path and message) as loading the
    file, only without positions (file ``<dict>``, no line). Files whose YAML is invalid, has
    duplicate keys or non-plain tags cannot be a dict and are only checked as files."""
    RUN["values"] += 1
    path = WORKDIR / "values.yaml"
    path.write_text(text, encoding="utf-8")
    from_file, file_problems = check_load(path, {str(path): text.encode()})
    try:
        data = yaml.load(text, Loader=FAST_SAFE_LOADER)
    except Exception:  # PyYAML's own constructors fail in many ways on odd tags (``!!float`` alone)
        return
    if not isinstance(data, dict) or file_problems and any(p.message.startswith(YAML_PHASE) for p in file_problems):
        return
    try:
        from_dict = scorelab.load(data)
        dict_problems = None
    except ScenarioError as e:
        dict_problems = e.problems
    RUN["compared"] += 1
    if not file_problems:
        assert dict_problems is None, [str(p) for p in dict_problems or []]
        assert from_dict == from_file or _nan_in(from_file)
        return
    assert dict_problems is not None, [str(p) for p in file_problems]
    assert all(p.file == "<dict>" and p.line is None for p in dict_problems)
    assert sorted((p.path, p.message) for p in dict_problems) == sorted((p.path, p.message) for p in file_problems)


def _nan_in(s: scorelab.Scenario) -> bool:
    return any(isinstance(v, float) and math.isnan(v) for v in _leaves(s.model_dump()))


def _leaves(x):  # pragma: no cover - helper
    if isinstance(x, dict):
        for v in x.values():
            yield from _leaves(v)
    elif isinstance(x, (list, tuple)):
        for v in x:
            yield from _leaves(v)
    else:
        yield x


CHILD_LINES = [
    "extends: base.yaml",
    "name: child city",
    "run:",
    "  days: 30",
    "  seed: null",
    "channels:",
    "  cameras:",
    "    coverage: 0.9",
    "    observes: [speeding]",
    "  courts: null",
    "safeguards:",
    "  disabled_channels: []",
    "grades:",
    "  - {name: A, from: 900}",
    "  - {name: C, below: 900}",
    "scoring:",
    "  rules:",
    "    - {behaviour: protest, points: -50, set_grade: C}",
]


@settings(max_examples=EXAMPLES["base"], **SETTINGS)
@given(mutated(LINES, max_ops=3))
def test_mutated_base_is_reported_in_base_file(data: bytes) -> None:
    """A valid child extending a mutated base: every problem still has a file (the base or the
    child), a line and a path; problems inside the base name the base file and its lines."""
    RUN["base"] += 1
    d = WORKDIR / "ext1"
    d.mkdir(exist_ok=True)
    base, child = d / "base.yaml", d / "child.yaml"
    base.write_bytes(data)
    child_text = ("\n".join(CHILD_LINES) + "\n").encode()
    child.write_bytes(child_text)
    check_load(child, {str(child): child_text, str(base): data})


@settings(max_examples=EXAMPLES["child"], **SETTINGS)
@given(mutated(CHILD_LINES, max_ops=3))
def test_mutated_child_of_valid_base(data: bytes) -> None:
    """A mutated child extending a valid base (the extends line itself may be mutated, pointing
    at a missing file, at itself, or at nothing): the error contract holds across files."""
    RUN["child"] += 1
    d = WORKDIR / "ext2"
    d.mkdir(exist_ok=True)
    base, child = d / "base.yaml", d / "child.yaml"
    base.write_text(BASE_TEXT)
    child.write_bytes(data)
    check_load(child, {str(child): data, str(base): BASE_TEXT.encode()})


def test_zz_enough_examples() -> None:
    """All the mutated files were loaded by the tests above: 2,000, or at least 10,000 with
    SCORELAB_FUZZ=nightly (skipped when only some of them were selected, e.g. with -k)."""
    if any(RUN[k] == 0 for k in EXAMPLES):
        pytest.skip("not all fuzz tests ran in this session")
    total = 10_000 if NIGHTLY else 2_000
    assert sum(EXAMPLES.values()) >= total
    assert sum(RUN[k] for k in EXAMPLES) >= total, dict(RUN)
    # the dict comparison is not vacuous: most value mutations still parse as a mapping
    assert RUN["compared"] >= EXAMPLES["values"] // 2, dict(RUN)
