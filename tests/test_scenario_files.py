"""Reading scenario files (issue 21, items 9 and 10, and issue 19's leftover): only ``*.yaml`` and
``*.yml`` files are read, given or extended; a binary or huge file is one line that quotes
nothing of it; an error quotes at most a short, escaped excerpt of a value; ``1e5`` and
``1.0e308`` are numbers (YAML 1.2); a key ``true:`` is shown as written; and what other modules
need of the loader has public names.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import scorelab
from scorelab.cli import app
from scorelab.errors import ScenarioError
from scorelab.scenario.yamlread import MAX_FILE_BYTES, SafeComposer, dump_yaml

ROOT = Path(__file__).resolve().parent.parent


def problems(source, overrides=None, **kw) -> list:
    with pytest.raises(ScenarioError) as e:
        scorelab.load(source, overrides, **kw)
    return e.value.problems


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    return path


def validate(*files) -> object:
    result = CliRunner().invoke(app, ["validate", *map(str, files)])
    assert "Traceback" not in result.output and isinstance(result.exception, (SystemExit, type(None)))
    return result


SECRET = "root:$6$salt$hash:19000:0:99999:7:::\npassword_of_admin: hunter2\nsecret_token: 'tok-123-XYZ'\n"


@pytest.mark.parametrize("target", ["shadow", "secret.txt", "secrets.conf"])
def test_extends_reads_only_scenario_files(tmp_path, target):
    """``extends:`` of a file that is not ``*.yaml``/``*.yml`` (an /etc/shadow-like file) is one
    problem at the extends line that quotes none of its lines."""
    secret = write(tmp_path, target, SECRET)
    for parent in (str(secret), f"./{target}"):
        child = write(tmp_path, "child.yaml", f"name: x\nextends: {parent}\n")
        result = validate(child)
        assert result.exit_code == 2
        (line,) = result.stderr.splitlines()
        assert line.startswith(f"{child}:2:10: extends: "), line
        assert not any(x in line for x in ("hunter2", "password", "tok-123", "$6$salt", "19000")), line


def test_given_file_must_be_a_scenario_file(tmp_path):
    """A file given on the command line that is not ``*.yaml``/``*.yml``, is binary, or is larger
    than a scenario file can be, is one line that quotes nothing of it."""
    cases = {
        write(tmp_path, "shadow.txt", SECRET): "not a scenario file",
        write(tmp_path, "binary.yaml", b"name: x\n" + bytes(range(256)) * 8): "not a text file",
        write(tmp_path, "huge.yaml", b"description: '" + b"hunter2 " * (MAX_FILE_BYTES // 8) + b"'\n"): "too large",
    }
    for path, message in cases.items():
        result = validate(path)
        assert result.exit_code == 2
        (line,) = result.stderr.splitlines()
        assert message in line and "hunter2" not in line and "password" not in line, line


def test_errors_quote_a_short_excerpt(tmp_path):
    """A bad value or unknown key of any length is quoted by a short, escaped excerpt."""
    long_value = write(tmp_path, "v.yaml", "population:\n  people: '" + "hunter2" * 1000 + "'\n")
    long_key = write(tmp_path, "k.yaml", "run:\n  " + "k" * 5000 + "\x85: 1\n")
    long_name = write(tmp_path, "n.yaml", "channels:\n  c:\n    observes: ['" + "b" * 5000 + "\\n']\n")
    for path in (long_value, long_key, long_name):
        result = validate(path)
        (line,) = result.stderr.splitlines()
        assert len(line) < len(str(path)) + 400, line


# ------------------------------------------------------------------ YAML 1.2 numbers and keys


def test_yaml_12_numbers_are_numbers(tmp_path):
    """``1.0e5`` and ``1e2`` (text to YAML 1.1) are numbers where a number is expected."""
    f = write(tmp_path, "f.yaml", "population:\n  income: {median_urban: 1.0e5, median_rural: 2.5E4}\nrun: {days: 1e2}\n")
    s = scorelab.load(str(f))
    assert (s.population.income.median_urban, s.population.income.median_rural, s.run.days) == (1e5, 2.5e4, 100)


def test_text_that_reads_as_a_number_is_written_quoted():
    """``dump_yaml`` quotes text that YAML 1.1 or 1.2 would read as something else, so it reads
    back the same both ways."""
    data = {"name": "1e5", "a": "no", "b": "1.0e308", "c": "2018-01-01", "d": 1e16, "e": "~", "f": 0.1}
    text = dump_yaml(data)
    assert yaml.safe_load(text) == data == yaml.load(text, Loader=SafeComposer)


@pytest.mark.parametrize("key, shown", [("true", "true"), ("True", "True"), ("1", "1"), ("0x1F", "0x1F")])
def test_key_that_is_not_text_is_shown_as_written(tmp_path, key, shown):
    """A key ``true:`` was shown as ``run.1`` in the error path."""
    f = write(tmp_path, "k.yaml", f"run:\n  {key}: 5\n")
    (p,) = problems(str(f))
    assert p.path == f"run.{shown}", str(p)


# ------------------------------------------------------------------ public helpers


def test_no_module_uses_another_modules_private_helpers():
    """calibrate used ``scenario.loader``'s private ``_locate``, ``_Doc``, ``_read_yaml``: what
    other modules need of the loader has public names (``scenario.yamlread``,
    ``scenario.problems``)."""
    bad = []
    for path in sorted((ROOT / "src" / "scorelab").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("scorelab.scenario"):
                bad += [f"{path.name}: {a.name}" for a in node.names if a.name.startswith("_")]
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "_loader":
                bad.append(f"{path.name}: _loader.{node.attr}")
    assert not bad, bad
