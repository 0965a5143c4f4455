"""The scenario language: a valid file loads; every kind of broken file gives one-line
problems ``file:line:col: field.path: message`` naming the exact place; ``extends:``
merges as documented; dict input reports the same paths; the CLI exits 2 without a
traceback; the committed field reference matches the models.

Validation runs in phases, by design (see docs/scenario.md):

1. reading: YAML syntax, duplicate keys, disallowed tags, a document that is not a
   mapping, ``extends:`` targets that are missing or form a cycle;
2. schema: unknown keys, wrong types, out-of-range values, rates without units;
3. references: undefined behaviours, channels, grades, lists; grade bands with gaps
   or overlaps. These need a schema-valid scenario, so they are reported once the
   schema problems are fixed.

All problems of one phase are reported at once.
"""

from __future__ import annotations

import importlib.util
import json
import math
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

import scorelab
from scorelab.cli import app
from scorelab.errors import Problem, ScenarioError
from scorelab.scenario import loader, yamlread

ROOT = Path(__file__).resolve().parent.parent

# Line numbers are referred to in the tests below; keep them in sync.
VALID = """\
name: test city
population:
  people: 1000
behaviours:
  speeding:
    rate: 2 per year
    modifiers:
      - when: {car_owner: true}
        factor: 3
  protest:
    kind: disfavoured
    rate: 0.1/month
channels:
  cameras:
    observes: [speeding, protest]
    coverage: 0.5
    detection: 0.3
    identification:
      behaviour: protest
      hit_rate: 0.8
      false_match_rate: 0.001
      watchlist: blacklist
      # (attendance: the protest's rate per person)
scoring:
  base: 1000
  rules:
    - behaviour: speeding
      points: -5
grades:
  - name: A
    from: 960
  - name: B
    from: 850
    below: 960
  - name: C
    below: 850
lists:
  blacklist:
    entry:
      behaviours: [protest]
      min_records: 2
consequences:
  no_flights:
    kind: refusal
    grades: [C]
    lists: [blacklist]
    service: flights
    attempts: 1 per year
run:
  days: 30
  seed: 1
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(source) -> list[Problem]:
    """The problems of loading ``source`` (fails the test if it loads)."""
    with pytest.raises(ScenarioError) as info:
        scorelab.load(source if isinstance(source, dict) else str(source))
    assert info.value.problems
    return info.value.problems


def only(source) -> Problem:
    """The single problem of loading ``source``."""
    ps = problems(source)
    assert len(ps) == 1, [str(p) for p in ps]
    return ps[0]


def broken(tmp_path: Path, old: str, new: str, name: str = "city.yaml") -> Path:
    """VALID with one exact substring replaced (asserting it was there exactly once)."""
    assert VALID.count(old) == 1, old
    return write(tmp_path, name, VALID.replace(old, new))


def assert_problem(p: Problem, file: Path | str, line: int, col: int, path: str, message_part: str) -> None:
    assert (p.file, p.line, p.column, p.path) == (str(file), line, col, path), str(p)
    assert message_part in p.message, str(p)
    assert "\n" not in str(p)


# ------------------------------------------------------------------ valid files


def test_valid_file_loads(tmp_path: Path) -> None:
    """A complete small file loads; rates are stored per day, defaults fill the rest."""
    s = scorelab.load(str(write(tmp_path, "city.yaml", VALID)))
    assert s.name == "test city"
    assert s.population.people == 1000
    assert math.isclose(s.behaviours["speeding"].rate, 2 / 365.25)
    assert math.isclose(s.behaviours["protest"].rate, 0.1 / 30.4375)
    assert s.channels["cameras"].identification.hit_rate == 0.8
    assert [g.name for g in s.grades] == ["A", "B", "C"]
    assert s.channels["cameras"].delay == 0.0  # default
    assert s.run.days == 30 and s.run.seed == 1


def test_empty_file_is_the_default_scenario(tmp_path: Path) -> None:
    """An empty document means "all defaults" (every section has defaults), not an error."""
    s = scorelab.load(str(write(tmp_path, "empty.yaml", "")))
    assert s == scorelab.load({})


# ------------------------------------------------------------------ reading phase


def test_malformed_yaml(tmp_path: Path) -> None:
    """An unclosed bracket is a YAML syntax error at the place the parser gave up, with no field path."""
    path = write(tmp_path, "bad.yaml", "name: x\nbehaviours:\n  a: [1, 2\nrun: {}\n")
    assert_problem(only(path), path, 4, 4, "", "invalid YAML: expected ',' or ']'")


def test_tab_indentation_is_a_syntax_error(tmp_path: Path) -> None:
    """A tab at the start of a line is not YAML indentation: reported at that line, column 1."""
    path = write(tmp_path, "tab.yaml", "name: x\n\tbad: 1\n")
    assert_problem(only(path), path, 2, 1, "", "invalid YAML: found character '\\t'")


def test_duplicate_key(tmp_path: Path) -> None:
    """A key given twice is reported at its second occurrence (YAML would silently keep the last)."""
    path = broken(tmp_path, "  days: 30\n", "  days: 30\n  days: 40\n")
    assert_problem(only(path), path, 51, 3, "run.days", "duplicate key")


def test_merge_keys_are_overridden_by_explicit_keys(tmp_path: Path) -> None:
    """With YAML merge keys (``<<: *anchor``) an explicit key overrides the merged one, as the
    YAML merge-key spec says; two explicit keys are still a duplicate."""
    text = (
        "behaviours:\n  a: {rate: 1 per year}\n"
        "channels:\n"
        "  one: &ch {observes: [a], coverage: 0.5, detection: 0.5}\n"
        "  two: {<<: *ch, coverage: 0.1}\n"
    )
    s = scorelab.load(write(tmp_path, "merge.yaml", text))
    assert s.channels["two"].coverage == 0.1 and s.channels["two"].detection == 0.5
    assert s.channels["one"].coverage == 0.5
    path = write(tmp_path, "merge2.yaml", text + "  three: {<<: *ch, coverage: 0.2, coverage: 0.3}\n")
    assert_problem(only(path), path, 6, 35, "channels.three.coverage", "duplicate key")


def test_python_tag_is_rejected_without_running(tmp_path: Path) -> None:
    """``!!python/object/apply:os.system`` is refused as a tag and nothing is executed:
    the marker file the command would create does not appear."""
    marker = tmp_path / "MARKER"
    path = write(tmp_path, "evil.yaml", f'name: !!python/object/apply:os.system ["touch {marker}"]\n')
    assert_problem(only(path), path, 1, 7, "name", "not allowed: tag !!python/object/apply:os.system")
    doc = write(tmp_path, "evil2.yaml", f'!!python/object/apply:os.system ["touch {marker}"]\n')
    assert_problem(only(doc), doc, 1, 1, "", "not allowed: tag !!python/object/apply:os.system")
    key = write(tmp_path, "evil3.yaml", "? !!python/name:os.system\n: 1\n")
    assert_problem(only(key), key, 1, 3, "", "mapping keys must be plain names; not allowed: tag !!python/name:os.system")
    assert not marker.exists()


@pytest.mark.parametrize(
    "value, message",
    [
        ("!!int x", "cannot read 'x' as !!int"),
        ("!!float x", "cannot read 'x' as !!float"),
        ("!!timestamp x", "cannot read 'x' as !!timestamp"),
        ("!!bool x", "cannot read 'x' as !!bool"),
        ('"\\ud800"', "unpaired surrogate"),
    ],
)
def test_unreadable_scalar(tmp_path: Path, value: str, message: str) -> None:
    """A standard tag on text it cannot read, or a lone surrogate escape, is a located problem
    (these used to escape as ValueError/AttributeError/KeyError or crash printing)."""
    path = write(tmp_path, "tag.yaml", f"name: {value}\n")
    assert_problem(only(path), path, 1, 7, "name", message)


def test_bad_merge_key(tmp_path: Path) -> None:
    """``<<: 0`` (a YAML merge key with nothing to merge) is a located problem, not a crash."""
    path = write(tmp_path, "merge.yaml", "run:\n  <<: 0\n")
    assert_problem(only(path), path, 2, 7, "run.<<", "invalid merge key")


def test_control_character_and_bad_utf8(tmp_path: Path) -> None:
    """A NUL character, or bytes that are not UTF-8, give a located one-line problem."""
    path = write(tmp_path, "nul.yaml", "name: x\nrun: {days: 3\x00}\n")
    assert_problem(only(path), path, 2, 14, "", "invalid YAML: not a text file (binary data: a NUL byte)")
    raw = tmp_path / "latin1.yaml"
    raw.write_bytes(b"name: x\ndescription: caf\xe9\n")
    assert_problem(only(raw), raw, 2, 17, "", "invalid YAML: not UTF-8 text (byte 0xe9)")


def test_alias_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Aliases that expand to more values than the loader allows ("billion laughs") are
    refused instead of exhausting memory (limit lowered here to keep the test fast)."""
    monkeypatch.setattr(yamlread, "MAX_VALUES", 5_000)
    rows = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdef", "bcdefg"):
        rows.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    path = write(tmp_path, "bomb.yaml", "\n".join(rows) + "\n")
    assert_problem(only(path), path, 1, 1, "", "invalid YAML: expands to more than 5,000 values")


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    """Thousands of nested brackets give a problem, not a RecursionError traceback."""
    path = write(tmp_path, "deep.yaml", "name: " + "[" * 5000 + "]" * 5000 + "\n")
    assert_problem(only(path), path, 1, 1, "", "invalid YAML: nested too deeply")


@pytest.mark.parametrize("text, kind", [("- a\n- b\n", "list"), ("just text\n", "str"), ("42\n", "int")])
def test_non_mapping_document(tmp_path: Path, text: str, kind: str) -> None:
    """A document that is a list or a scalar is reported at 1:1 with no field path."""
    path = write(tmp_path, "doc.yaml", text)
    assert_problem(only(path), path, 1, 1, "", f"a scenario must be a mapping of sections, got {kind}")


def test_missing_file() -> None:
    """A path that does not exist is the one problem without a line: there is no file to point into."""
    p = only("/nonexistent/dir/city.yaml")
    assert (p.file, p.line, p.column) == ("/nonexistent/dir/city.yaml", None, None)
    assert p.message == "no such file"


# ------------------------------------------------------------------ schema phase


def test_unknown_top_level_section_did_you_mean(tmp_path: Path) -> None:
    """A misspelt section is reported at its key with a suggestion."""
    path = broken(tmp_path, "channels:\n", "chanels:\n")
    assert_problem(only(path), path, 13, 1, "chanels", "unknown field 'chanels'; did you mean 'channels'?")


def test_unknown_nested_field_did_you_mean(tmp_path: Path) -> None:
    """A misspelt field deep inside a named channel is reported at its key, with the full path."""
    path = broken(tmp_path, "    detection: 0.3", "    detecton: 0.3")
    assert_problem(only(path), path, 17, 5, "channels.cameras.detecton", "did you mean 'detection'?")


def test_unknown_key_without_close_match_lists_fields(tmp_path: Path) -> None:
    """With no close match, the valid fields are listed instead."""
    path = broken(tmp_path, "  seed: 1\n", "  zzz: 1\n")
    p = only(path)
    assert_problem(p, path, 51, 3, "run.zzz", "unknown field 'zzz'; expected one of: ")
    assert "days" in p.message and "seed" in p.message


@pytest.mark.parametrize(
    "old, new, line, col, path, message",
    [
        ("  days: 30", "  days: thirty", 50, 9, "run.days", "must be a whole number, got 'thirty'"),
        ("    coverage: 0.5", "    coverage: yes please", 16, 15, "channels.cameras.coverage", "must be a number, got 'yes please'"),
        ("  people: 1000", "  people: [1000]", 3, 11, "population.people", "must be a whole number, got [1000]"),
        ("    service: flights", "    service: {a: 1}", 47, 14, "consequences.no_flights.service", "valid string"),
    ],
)
def test_wrong_type(tmp_path: Path, old, new, line, col, path, message) -> None:
    """A value of the wrong type is reported at the value, with what was given."""
    f = broken(tmp_path, old, new)
    assert_problem(only(f), f, line, col, path, message)


def test_probability_out_of_range(tmp_path: Path) -> None:
    """The issue's example: a probability above 1 names the field and the value."""
    f = broken(tmp_path, "      false_match_rate: 0.001", "      false_match_rate: 1.5")
    p = only(f)
    assert_problem(p, f, 21, 25, "channels.cameras.identification.false_match_rate", "must be between 0 and 1, got 1.5")
    assert str(p) == f"{f}:21:25: channels.cameras.identification.false_match_rate: must be between 0 and 1, got 1.5"
    g = broken(tmp_path, "    coverage: 0.5", "    coverage: -0.1", name="neg.yaml")
    assert_problem(only(g), g, 16, 15, "channels.cameras.coverage", "must be between 0 and 1, got -0.1")


def test_nan_is_not_a_number(tmp_path: Path) -> None:
    """YAML's .nan is refused where a number is expected (it would poison every comparison)."""
    f = broken(tmp_path, "    detection: 0.3", "    detection: .nan")
    assert_problem(only(f), f, 17, 16, "channels.cameras.detection", "must be a number, got NaN")


def test_negative_count(tmp_path: Path) -> None:
    """Counts must be whole numbers >= 0: people, and records inside a list's entry rule."""
    f = broken(tmp_path, "  people: 1000", "  people: -5")
    assert_problem(only(f), f, 3, 11, "population.people", "must be a whole number >= 0, got -5")
    g = broken(tmp_path, "      min_records: 2", "      min_records: -2", name="g.yaml")
    assert_problem(only(g), g, 41, 20, "lists.blacklist.entry.min_records", "must be a whole number >= 0, got -2")


def test_rate_without_unit(tmp_path: Path) -> None:
    """A bare number where a rate is expected asks for a unit; negative rates are refused."""
    f = broken(tmp_path, "    rate: 2 per year", "    rate: 2")
    assert_problem(only(f), f, 6, 11, "behaviours.speeding.rate", "a rate needs a unit, like '2 per year'")
    g = broken(tmp_path, "    rate: 2 per year", "    rate: -2 per year", name="g.yaml")
    assert_problem(only(g), g, 6, 11, "behaviours.speeding.rate", "a rate cannot be negative")
    h = broken(tmp_path, "    rate: 2 per year", "    rate: 2 per fortnight", name="h.yaml")
    assert_problem(only(h), h, 6, 11, "behaviours.speeding.rate", "unknown time unit 'fortnight'")


def test_missing_required_field(tmp_path: Path) -> None:
    """A required field that is absent is reported at its parent mapping."""
    f = broken(tmp_path, "    rate: 0.1/month\n", "")
    assert_problem(only(f), f, 11, 5, "behaviours.protest.rate", "required field is missing")


def test_several_errors_all_reported_sorted_by_line(tmp_path: Path) -> None:
    """Every schema problem of a file is reported in one go, sorted by line."""
    text = (
        VALID.replace("name: test city", "nmae: test city")
        .replace("  days: 30", "  days: -1")
        .replace("    coverage: 0.5", "    coverage: 1.5")
        .replace("    rate: 2 per year", "    rate: 2")
    )
    f = write(tmp_path, "many.yaml", text)
    ps = problems(f)
    assert [(p.line, p.path) for p in ps] == [
        (1, "nmae"),
        (6, "behaviours.speeding.rate"),
        (16, "channels.cameras.coverage"),
        (50, "run.days"),
    ]
    assert ps == sorted(ps, key=lambda p: (p.line, p.column))


def test_unprintable_key_stays_on_one_line(tmp_path: Path) -> None:
    """A quoted key with a newline in it is shown as its repr so each problem stays one line."""
    f = write(tmp_path, "nl.yaml", 'channels:\n  "cam\\neras": {coverage: 2}\n')
    ps = problems(f)
    assert all("\n" not in str(p) for p in ps)
    assert any(p.path == "channels.'cam\\neras'.coverage" for p in ps), [str(p) for p in ps]


# ------------------------------------------------------------------ reference phase


def test_grade_bands_overlap(tmp_path: Path) -> None:
    """B reaching above where A starts is an overlap, reported at B's 'below'."""
    f = broken(tmp_path, "    below: 960", "    below: 970")
    assert_problem(only(f), f, 34, 12, "grades.1.below", "overlaps grade 'A' which starts at 960")


def test_grade_bands_gap(tmp_path: Path) -> None:
    """B stopping short of A leaves scores that belong to no grade."""
    f = broken(tmp_path, "    below: 960", "    below: 950")
    assert_problem(only(f), f, 34, 12, "grades.1.below", "leaves a gap: 950 .. 960 belongs to no grade")


def test_undefined_behaviour_in_channel(tmp_path: Path) -> None:
    """A channel observing a behaviour that is not defined names the list element and suggests one."""
    f = broken(tmp_path, "[speeding, protest]", "[speeding, protset]")
    assert_problem(only(f), f, 15, 26, "channels.cameras.observes.1", "undefined behaviour 'protset'; did you mean 'protest'?")


def test_undefined_grade_in_consequence(tmp_path: Path) -> None:
    """A consequence for a grade that does not exist lists the defined grades."""
    f = broken(tmp_path, "    grades: [C]", "    grades: [E]")
    assert_problem(only(f), f, 45, 14, "consequences.no_flights.grades.0", "undefined grade 'E'; defined: A, B, C")


def test_undefined_list(tmp_path: Path) -> None:
    """A watchlist that is not defined, inside a channel's identification."""
    f = broken(tmp_path, "      watchlist: blacklist", "      watchlist: blaklist")
    assert_problem(
        only(f), f, 22, 18, "channels.cameras.identification.watchlist", "undefined list 'blaklist'; did you mean 'blacklist'?"
    )


def test_removed_crowd_fields_of_identification(tmp_path: Path) -> None:
    """The crowd model of earlier versions (gatherings x crowd size) is gone: one line saying why."""
    f = broken(tmp_path, "      hit_rate: 0.8", "      crowd_size: 2000")
    p = only(f)
    assert (p.path, p.line, p.column) == ("channels.cameras.identification", 19, 7), str(p)
    assert "'crowd_size' was removed" in p.message and "scale with the population" in p.message
    assert "\n" not in str(p)


def test_identification_needs_its_behaviour_observed(tmp_path: Path) -> None:
    """Faces are captured during an act the channel observes; otherwise nothing would be searched."""
    f = broken(tmp_path, "    observes: [speeding, protest]", "    observes: [speeding]")
    assert_problem(only(f), f, 19, 18, "channels.cameras.identification.behaviour",
                   "the channel must observe 'protest'")


def test_identification_watchlist_must_list_people(tmp_path: Path) -> None:
    f = broken(tmp_path, "  blacklist:\n", "  blacklist:\n    actor: firm\n")
    assert_problem(only(f), f, 22, 18, "channels.cameras.identification.watchlist", "a list of people")


def test_by_behaviour_names_an_observed_behaviour(tmp_path: Path) -> None:
    f = broken(tmp_path, "    detection: 0.3\n", "    detection: 0.3\n    by_behaviour: {protest: {detection: 0.5}, jaywalk: {}}\n")
    assert_problem(only(f), f, 18, 47, "channels.cameras.by_behaviour.jaywalk",
                   "'jaywalk' is not one of the behaviours this channel observes (speeding, protest)")


def test_undefined_channel_in_safeguards(tmp_path: Path) -> None:
    """Disabling a channel that does not exist is a reference error."""
    f = write(tmp_path, "s.yaml", VALID + "safeguards:\n  disabled_channels: [camras]\n")
    assert_problem(only(f), f, 53, 23, "safeguards.disabled_channels.0", "undefined channel 'camras'; did you mean 'cameras'?")


def test_references_are_a_second_phase(tmp_path: Path) -> None:
    """With both a schema error and a reference error, only the schema error is reported;
    once it is fixed, the reference error appears (by design: references need valid data)."""
    text = VALID.replace("    coverage: 0.5", "    coverage: 1.5").replace("    grades: [C]", "    grades: [E]")
    f = write(tmp_path, "two.yaml", text)
    assert [p.path for p in problems(f)] == ["channels.cameras.coverage"]
    f.write_text(text.replace("coverage: 1.5", "coverage: 0.5"))
    assert [p.path for p in problems(f)] == ["consequences.no_flights.grades.0"]


# ------------------------------------------------------------------ extends


def test_extends_cycle_two_files(tmp_path: Path) -> None:
    """a.yaml extends b.yaml extends a.yaml: reported at the extends line that closes the cycle."""
    a = write(tmp_path, "a.yaml", "extends: b.yaml\nname: a\n")
    b = write(tmp_path, "b.yaml", "name: b\nextends: a.yaml\n")
    p = only(a)
    assert_problem(p, b, 2, 10, "extends", "cycle in extends: a.yaml -> b.yaml -> a.yaml")


def test_extends_self(tmp_path: Path) -> None:
    """A file extending itself is the shortest cycle."""
    a = write(tmp_path, "self.yaml", "extends: self.yaml\n")
    assert_problem(only(a), a, 1, 10, "extends", "cycle in extends: self.yaml -> self.yaml")


def test_extends_missing_file(tmp_path: Path) -> None:
    """A missing extends target is reported at the line of the extends key."""
    a = write(tmp_path, "a.yaml", "name: a\nextends: missing.yaml\n")
    assert_problem(only(a), a, 2, 10, "extends", "missing.yaml: no such file")


def test_extends_unknown_builtin(tmp_path: Path) -> None:
    """A bare name that is neither a file nor a built-in scenario is reported at the extends line."""
    a = write(tmp_path, "a.yaml", "extends: no_such_builtin_xyz\n")
    assert_problem(only(a), a, 1, 10, "extends", "no_such_builtin_xyz: no such scenario file or built-in scenario")


def test_extends_unusable_path(tmp_path: Path) -> None:
    """A target name the OS refuses (longer than a file name may be) is 'no such file' at the
    extends line, not an OSError traceback."""
    a = write(tmp_path, "a.yaml", "extends: " + "x" * 300 + ".yaml\n")
    assert_problem(only(a), a, 1, 10, "extends", "no such file")


def test_extends_builtin(tmp_path: Path) -> None:
    """A bare name extends a built-in scenario; the child's values win."""
    names = loader.preset_names()
    if not names:
        pytest.skip("no built-in scenarios yet")
    a = write(tmp_path, "a.yaml", f"extends: {names[0]}\nrun:\n  days: 3\n")
    assert scorelab.load(str(a)).run.days == 3


def test_extends_not_a_string(tmp_path: Path) -> None:
    """extends must be one name or path, not a list."""
    a = write(tmp_path, "a.yaml", "extends: [base.yaml]\n")
    assert_problem(only(a), a, 1, 10, "extends", "must be a built-in scenario name or a file path")


BASE = """\
name: base
description: the base
run:
  days: 10
  seed: 3
behaviours:
  a: {rate: 1 per day}
  b: {rate: 2 per day}
channels:
  cam:
    observes: [a, b]
    coverage: 0.5
"""


def test_extends_override_semantics(tmp_path: Path) -> None:
    """Over a base: a mapping merges key by key (run.seed kept, run.days replaced), a list
    replaces the inherited list whole (observes), and null removes a key (description back
    to its default)."""
    write(tmp_path, "base.yaml", BASE)
    child = write(
        tmp_path,
        "child.yaml",
        """\
        extends: base.yaml
        description: null
        run:
          days: 20
        channels:
          cam:
            observes: [a]
        """,
    )
    s = scorelab.load(str(child))
    assert (s.run.days, s.run.seed) == (20, 3)
    assert s.channels["cam"].observes == ["a"]
    assert s.channels["cam"].coverage == 0.5
    assert s.description == ""
    assert s.name == "child"  # (issue 22: a file that changes a scenario is not labelled with its name)
    assert set(s.behaviours) == {"a", "b"}


def test_a_file_that_extends_is_named_after_itself(tmp_path: Path) -> None:
    """Issue 22: a file that extends a preset without naming itself was labelled with the
    preset's name in the summary, `scorelab runs` and the report."""
    f = tmp_path / "2my city.yaml"
    f.write_text("extends: rongcheng-2018\nsafeguards: {purpose_limitation: true}\n")
    assert scorelab.load(str(f)).name == "_2my_city"
    g = tmp_path / "named.yaml"
    g.write_text("extends: rongcheng-2018\nname: mine\n")
    assert scorelab.load(str(g)).name == "mine"
    assert scorelab.load({"extends": "rongcheng-2018"}).name == "rongcheng-2018-modified"
    assert scorelab.load("national-2027-ihs").name == "national-2027-ihs"  # a preset names itself


def test_extends_null_removes_named_entry(tmp_path: Path) -> None:
    """Removing a behaviour with null leaves the base channel's reference dangling: the reference
    error points into the base file, where the reference is written."""
    base = write(tmp_path, "base.yaml", BASE)
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nbehaviours:\n  a: null\n")
    assert_problem(only(child), base, 11, 16, "channels.cam.observes.0", "undefined behaviour 'a'")


def test_errors_in_base_reported_against_base(tmp_path: Path) -> None:
    """A schema error in the extended file names that file and its line, not the child's."""
    base = write(tmp_path, "base.yaml", BASE.replace("coverage: 0.5", "coverage: 2"))
    child = write(tmp_path, "child.yaml", "extends: base.yaml\nrun:\n  dayz: 3\n")
    ps = problems(child)
    assert len(ps) == 2, [str(p) for p in ps]
    assert_problem(ps[0], base, 12, 15, "channels.cam.coverage", "must be between 0 and 1, got 2")
    assert_problem(ps[1], child, 3, 3, "run.dayz", "did you mean 'days'?")


def test_syntax_error_in_base(tmp_path: Path) -> None:
    """A YAML syntax error in the base is reported in the base file."""
    base = write(tmp_path, "base.yaml", "run: {days: 3\n")
    child = write(tmp_path, "child.yaml", "extends: base.yaml\n")
    p = only(child)
    assert p.file == str(base) and p.line == 2 and p.message.startswith("invalid YAML")


def test_extends_chain_of_three(tmp_path: Path) -> None:
    """Overrides apply in order along a chain: the nearest file wins."""
    write(tmp_path, "base.yaml", BASE)
    write(tmp_path, "mid.yaml", "extends: base.yaml\nrun: {days: 15, seed: 4}\n")
    top = write(tmp_path, "top.yaml", "extends: mid.yaml\nrun: {days: 7}\n")
    s = scorelab.load(str(top))
    assert (s.run.days, s.run.seed) == (7, 4)


# ------------------------------------------------------------------ dict input


def test_dict_input_same_paths(tmp_path: Path) -> None:
    """``scorelab.load(dict)`` validates like a file and gives the same field paths and messages,
    with file ``<dict>`` and no line."""
    import yaml

    text = (
        VALID.replace("name: test city", "nmae: test city")
        .replace("    coverage: 0.5", "    coverage: 1.5")
        .replace("  days: 30", "  days: -1")
    )
    f = write(tmp_path, "x.yaml", text)
    from_file = problems(f)
    from_dict = problems(yaml.safe_load(text))
    # without lines, dict problems are sorted by field path
    assert [(p.path, p.message) for p in from_dict] == sorted((p.path, p.message) for p in from_file)
    assert all(p.file == "<dict>" and p.line is None for p in from_dict)
    ref = problems({"channels": {"c": {"observes": ["x"]}}})
    assert [(p.path, p.message) for p in ref] == [("channels.c.observes.0", "undefined behaviour 'x'; no behaviours are defined")]
    assert scorelab.load(yaml.safe_load(VALID)) == scorelab.load(str(write(tmp_path, "ok.yaml", VALID)))


# ------------------------------------------------------------------ CLI


def test_cli_validate_ok(tmp_path: Path) -> None:
    """``scorelab validate`` on a valid file prints 'ok' and exits 0."""
    f = write(tmp_path, "city.yaml", VALID)
    result = CliRunner().invoke(app, ["validate", str(f)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{f}: ok"


def test_cli_validate_broken(tmp_path: Path) -> None:
    """A broken file: exit 2, one line per problem on stderr, no traceback; a valid file given
    alongside is still reported ok."""
    good = write(tmp_path, "good.yaml", VALID)
    bad = write(tmp_path, "bad.yaml", VALID.replace("    coverage: 0.5", "    coverage: 1.5").replace("  days: 30", "  days: -1"))
    result = CliRunner().invoke(app, ["validate", str(bad), str(good)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{bad}:16:15: channels.cameras.coverage: must be between 0 and 1, got 1.5",
        f"{bad}:50:9: run.days: must be a whole number >= 0, got -1",
    ]
    assert f"{good}: ok" in result.stdout
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)  # a clean exit, not an escaped exception


@pytest.mark.parametrize(
    "text",
    [
        "name: [\n",
        "name: !!python/object/apply:os.system [echo]\n",
        "name: !!int x\n",
        'name: "\\ud800"\n',
        "run:\n  <<: 0\n",
        "name: " + "[" * 3000 + "\n",
    ],
)
def test_cli_never_tracebacks(tmp_path: Path, text: str) -> None:
    """Inputs that used to crash the loader (or its printing) exit 2 with one line and no traceback."""
    f = write(tmp_path, "x.yaml", text)
    result = CliRunner().invoke(app, ["validate", str(f)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith(f"{f}:")


def test_cli_validate_missing_file() -> None:
    """A file that does not exist: exit 2, ``file: no such file``."""
    result = CliRunner().invoke(app, ["validate", "/nonexistent/city.yaml"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "/nonexistent/city.yaml: no such file"


def test_cli_schema_is_json() -> None:
    """``scorelab schema`` prints a JSON schema that knows the sections."""
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert "behaviours" in schema["properties"]
    assert "behaviours" in result.stdout


# ------------------------------------------------------------------ reference docs


def _gen_docs():
    spec = importlib.util.spec_from_file_location("gen_scenario_docs", ROOT / "tools" / "gen_scenario_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reference_doc_is_up_to_date() -> None:
    """docs/scenario-reference.md is exactly what tools/gen_scenario_docs.py writes, so the
    reference cannot drift from the models (regenerate with ``python tools/gen_scenario_docs.py``)."""
    committed = (ROOT / "docs" / "scenario-reference.md").read_text(encoding="utf-8")
    assert committed == _gen_docs().render(), "run: python tools/gen_scenario_docs.py"


def test_reference_doc_covers_every_field() -> None:
    """Every field of every model reachable from Scenario has a row (a sample of deep paths,
    plus a count against a direct walk of the models)."""
    gen = _gen_docs()
    text = gen.render()
    for path in [
        "channels.<name>.identification.false_match_rate",
        "contacts.friends.degree.sigma",
        "population.regions[].group_shares",
        "lists.<name>.exit.probability",
        "responses.awareness.growth",
        "grades[].from",
        "run.seed",
        "name",
    ]:
        assert f"| `{path}` |" in text, path
    walked = gen.rows(scorelab.Scenario, "")
    n_rows = sum(1 for line in text.splitlines() if line.startswith("| `"))
    assert n_rows == len({r[0] for r in walked}) > 150


def test_guide_examples_load(tmp_path: Path) -> None:
    """The complete example in docs/scenario.md loads, and so does its ``extends:`` example,
    with the override semantics the guide describes."""
    import re

    blocks = re.findall(r"```yaml\n(.*?)```", (ROOT / "docs" / "scenario.md").read_text(encoding="utf-8"), re.S)
    example = next(b for b in blocks if b.startswith("name: small city"))
    child = next(b for b in blocks if b.startswith("extends: small_city.yaml"))
    base = scorelab.load(str(write(tmp_path, "small_city.yaml", example)))
    assert set(base.channels) == {"cameras", "neighbourhood_committee"}
    s = scorelab.load(str(write(tmp_path, "child.yaml", child)))
    assert s.run.days == 730 and s.run.seed == base.run.seed and s.run.start == base.run.start
    assert s.channels["cameras"].observes == ["speeding"]
    assert s.description == "" and base.description


def test_dict_input_too_deep() -> None:
    """A dict nested thousands deep is a ScenarioError, not a RecursionError from copying it."""
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    p = only({"name": deep})
    assert (p.file, p.line, p.message) == ("<dict>", None, "nested too deeply")



def test_more_steps_than_a_run_holds_are_refused_at_the_run_section(tmp_path: Path) -> None:
    """A record's visibility step is 16 bits: a run longer than 65,535 steps is refused at
    load, naming the run section's line, not when the day loop would overflow."""
    path = broken(tmp_path, "  days: 30\n", "  days: 70000\n")
    p = only(path)
    assert p.path == "run" and p.line == 50
    assert "70000 days in steps of 1.0 days is 70,000 steps; a run has at most 65,535" in p.message


def test_an_override_inside_a_section_left_at_its_default_keeps_the_defaults() -> None:
    """``--set contacts.friends.storage=drawn`` on a scenario that does not spell out its
    contacts sets that one field; the section's other fields keep their defaults (they were
    reported missing before), and an unknown field there is still named."""
    sc = scorelab.load("rongcheng-2018", {"contacts.friends.storage": "drawn", "contacts.online.min_age": 12})
    default = scorelab.load("rongcheng-2018")
    assert sc.contacts.friends.storage == "drawn" and sc.contacts.online.min_age == 12
    assert sc.contacts.friends.degree == default.contacts.friends.degree
    assert sc.contacts.online.same_city == default.contacts.online.same_city
    with pytest.raises(ScenarioError, match="contacts.friends.stroage"):
        scorelab.load("rongcheng-2018", {"contacts.friends.stroage": "drawn"})
