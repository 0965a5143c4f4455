"""Damaged checkpoints (issue 21): whatever is wrong with a checkpoint's files, ``scorelab run
--resume`` refuses it with one line naming the file, or (when the damage changes nothing the
run depends on) finishes it with the bytes of the uninterrupted run; never a traceback, a
crash in the kernels or a different result.

One tiny run is checkpointed once for the module; each case copies and damages it. The
Hypothesis tests draw SCORELAB_FUZZ_EXAMPLES examples each (default 15, derandomized so CI
is repeatable); a nightly-size run sets it higher, e.g. ``SCORELAB_FUZZ_EXAMPLES=500``
(docs/results.md, "Damaged files").
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import scorelab
from scorelab.atomic import digest
from scorelab.cli import app
from scorelab.engine.checkpoint import folder_for
from test_checkpoint import Stop, stop_at
from test_results import tiny


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages on one line whatever the length of the temporary folder's path (a long one, as
    under pytest-xdist's per-worker folders, wrapped the progress lines at 80 columns)."""
    monkeypatch.setenv("COLUMNS", "1000")


EXAMPLES = int(os.environ.get("SCORELAB_FUZZ_EXAMPLES", "15"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
TABLES = ("metrics.parquet", "groups.parquet", "scores.parquet")


#: What a run prints while it works (stderr), besides its result or its error.
PROGRESS = ("step ", "built in ", "resuming ", "rebuilt the population in ", "warning: too few events")


def one_line_error(r, *needles: str) -> str:
    """Exit code 2, no traceback, and one line besides the progress lines; it holds the needles."""
    lines = [l for l in r.output.strip().splitlines() if not l.startswith(PROGRESS) and ": building " not in l]
    assert r.exit_code == 2 and "Traceback" not in r.output and len(lines) == 1, r.output
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    """``ref/run``: the uninterrupted run; ``ck/run``: the same run stopped at step 7 with a
    checkpoint of step 5 (``ck/.run.checkpoint``)."""
    base = tmp_path_factory.mktemp("saved")
    src = base / "tiny.yaml"
    src.write_text(yaml.safe_dump(tiny(people=500, days=12)))
    sc = scorelab.load(str(src))
    scorelab.run(sc, out=base / "ref" / "run")
    with pytest.raises(Stop):
        scorelab.run(sc, out=base / "ck" / "run", checkpoint_every=5, progress=stop_at(7))
    return base


def copy(saved: Path, tmp: Path) -> Path:
    """A fresh copy of the stopped run; returns its results folder (not written yet)."""
    dest = tmp / f"c{len(list(tmp.iterdir()))}"
    shutil.copytree(saved / "ck", dest)
    return dest / "run"


def ck(out: Path) -> Path:
    return folder_for(out)


def part(out: Path) -> Path:
    return next(ck(out).glob("step-*")) / "state.npz"


def reseal(out: Path) -> None:
    """Record the parts' new digests in latest.json, as if the damage had been saved so."""
    lp = ck(out) / "latest.json"
    info = json.loads(lp.read_text())
    info["files"] = {name: digest(ck(out) / info["folder"] / name) for name in info["files"]}
    lp.write_text(json.dumps(info))


def edit_npz(path: Path, change: Any) -> None:
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    change(arrays)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def resume(saved: Path, out: Path, *needles: str) -> str:
    """Resume ``out``: one line naming the needles, or the uninterrupted run's bytes. Returns
    which ("refused" / "same")."""
    r = CliRunner().invoke(app, ["run", "--resume", str(out)])
    if r.exit_code == 0:
        assert not needles, r.output
        for f in TABLES:
            assert filecmp.cmp(saved / "ref" / "run" / f, out / f, shallow=False), f"{f} differs"
        return "same"
    one_line_error(r, *needles)
    assert not out.exists()
    return "refused"


def test_an_undamaged_copy_resumes_to_the_same_bytes(saved, tmp_path):
    assert resume(saved, copy(saved, tmp_path)) == "same"


# --------------------------------------------------------------------------- the arrays

def _halve(name: str):
    return lambda a: a.__setitem__(name, a[name][: len(a[name]) // 2])


def _as(name: str, dtype: Any):
    return lambda a: a.__setitem__(name, a[name].astype(dtype))


def _set(name: str, value: Any):
    return lambda a: a.__setitem__(name, value)


def _cnt(slot: str, value: int):
    def change(a: dict[str, np.ndarray]) -> None:
        from scorelab.engine import kernel

        a["S.cnt"] = a["S.cnt"].copy()
        a["S.cnt"][getattr(kernel, slot)] = value
    return change


ARRAY_CASES = {
    "S.total halved": (_halve("S.total"), "S.total: shape (256,), expected (513,)"),
    "S.raw halved": (_halve("S.raw"), "S.raw: shape"),
    "S.income_f as float32": (_as("S.income_f", np.float32), "S.income_f: dtype float32, expected float64"),
    "S.grade as int64": (_as("S.grade", np.int64), "S.grade: dtype int64"),
    "M one row short": (lambda a: a.__setitem__("M", a["M"][:-1]), "M: shape (4,"),
    "M as float32": (_as("M", np.float32), "M: dtype float32"),
    "start_score halved": (_halve("start_score"), "start_score: shape"),
    "S.cnt missing": (lambda a: a.pop("S.cnt"), "S.cnt: missing"),
    "an unknown array": (_set("S.extra", np.zeros(3)), "S.extra: not an array"),
    "the outbox flattened": (lambda a: a.__setitem__("S.mb_i", a["S.mb_i"].ravel()), "S.mb_i: shape"),
    "records beyond the arrays": (_cnt("C_NREC", 10**6), "S.r_subj:"),
    "list slots beyond the arrays": (_cnt("C_LTOP", 10**6), "S.ls_list:"),
    "a negative counter": (_cnt("C_NMSG", -5), "counter is -5"),
    "another run's state": (_set("fingerprint", np.array("0" * 64)), "fingerprint: the state belongs to another run"),
    "another step's state": (_set("step", np.int64(3)), "step: not the saved step 5"),
}


@pytest.mark.parametrize("case", list(ARRAY_CASES))
def test_a_part_with_wrong_arrays_is_refused_naming_the_array(saved, tmp_path, case):
    """Arrays of the wrong name, dtype or shape, counters past the arrays' ends (with the
    damaged part's digest recorded in latest.json, as a writer's bug would leave it): refused
    with one line naming state.npz and the array. (Without the digest, the part is refused as
    damaged first: ``test_a_changed_part_is_refused_as_damaged``.)"""
    change, needle = ARRAY_CASES[case]
    out = copy(saved, tmp_path)
    edit_npz(part(out), change)
    reseal(out)
    resume(saved, out, "state.npz: ", needle, "start the run again")


def test_a_changed_part_is_refused_as_damaged(saved, tmp_path):
    """The arrays changed, as above, without their digest: refused as altered."""
    out = copy(saved, tmp_path)
    edit_npz(part(out), _halve("S.total"))
    resume(saved, out, "state.npz: damaged: ")


# --------------------------------------------------------------------------- bytes

FILES = ("state.npz", "latest.json", "checkpoint.json", "scenario.yaml")


def _path(out: Path, name: str) -> Path:
    return part(out) if name == "state.npz" else ck(out) / name


@FUZZ
@given(name=st.sampled_from(FILES), at=st.floats(0, 1, exclude_max=True))
def test_a_truncated_file_is_refused_with_one_line(saved, tmp_path, name, at):
    """Any file cut short is refused with one line naming it (a text file that lost only its
    trailing white space is the same file)."""
    out = copy(saved, tmp_path)
    path = _path(out, name)
    data = path.read_bytes()
    cut = int(len(data) * at)
    path.write_bytes(data[:cut])
    if name == "state.npz" or data[cut:].strip():
        assert resume(saved, out, name) == "refused"
    else:
        resume(saved, out)
    shutil.rmtree(out.parent)


@FUZZ
@given(name=st.sampled_from(FILES), at=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7))
def test_a_flipped_bit_is_refused_or_harmless(saved, tmp_path, name, at, bit):
    """A bit flipped anywhere: the parts' digests refuse any change to state.npz; a change to
    the JSON or YAML files is refused or (a space, an unused digit) changes nothing."""
    out = copy(saved, tmp_path)
    path = _path(out, name)
    data = bytearray(path.read_bytes())
    data[int(len(data) * at)] ^= 1 << bit
    path.write_bytes(bytes(data))
    outcome = resume(saved, out)
    if name == "state.npz":
        assert outcome == "refused"
    shutil.rmtree(out.parent)


def test_an_empty_part_and_a_missing_step_folder_are_refused(saved, tmp_path):
    out = copy(saved, tmp_path)
    part(out).write_bytes(b"")
    resume(saved, out, "state.npz: damaged: 0 bytes")
    out = copy(saved, tmp_path)
    shutil.rmtree(part(out).parent)
    resume(saved, out, "latest.json: folder: step-000000005 does not exist")


# --------------------------------------------------------------------------- JSON

JSON_CASES = [
    ("latest.json", None, [], "latest.json: expected a JSON object, got a list"),
    ("latest.json", None, None, "latest.json: expected a JSON object, got null"),
    ("latest.json", None, {}, "latest.json: step: missing"),
    ("latest.json", "step", "x", "latest.json: step: input should be a valid integer"),
    ("latest.json", "step", 6, "latest.json: folder step-000000005 is not the one of step 6"),
    ("latest.json", "files", {}, "latest.json: files:"),
    ("latest.json", "files", {"../../x.npz": {"bytes": 1, "sha256": "0" * 64}}, "latest.json: files."),
    ("checkpoint.json", "every", "x", "checkpoint.json: every: input should be a valid integer"),
    ("checkpoint.json", "every", 0, "checkpoint.json: every: input should be greater than or equal to 1"),
    ("checkpoint.json", "every", -3, "checkpoint.json: every:"),
    ("checkpoint.json", "every", True, "checkpoint.json: every: input should be a valid integer"),
    ("checkpoint.json", "every", KeyError, "checkpoint.json: every: missing"),
    ("checkpoint.json", "options", [], "checkpoint.json: options:"),
    ("checkpoint.json", "options", None, "checkpoint.json: options:"),
    ("checkpoint.json", "options.shards", "two", "checkpoint.json: options.shards:"),
    ("checkpoint.json", "options.shards", 0, "checkpoint.json: options.shards:"),
    ("checkpoint.json", "options.people_state", "yes", "checkpoint.json: options.people_state:"),
    ("checkpoint.json", "options.extra", 1, "checkpoint.json: options.extra:"),
    ("checkpoint.json", "format_version", 11, "checkpoint format version 11, but this scorelab resumes version 17"),
    ("checkpoint.json", None, None, "checkpoint.json: not a scorelab checkpoint"),
]


def _put(path: Path, key: str | tuple[str, ...] | None, value: Any) -> None:
    """Set (or with KeyError, remove) ``key`` ("a.b", or a tuple of keys) in a JSON file; with
    no key, replace the whole value."""
    if key is None:
        path.write_text(json.dumps(value))
        return
    data = json.loads(path.read_text())
    *parents, last = key.split(".") if isinstance(key, str) else key
    node = data
    for k in parents:
        node = node[k]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("case", JSON_CASES, ids=lambda c: f"{c[0]}:{c[1]}={c[2]!r}"[:60])
def test_wrong_json_is_refused_naming_the_file_and_key(saved, tmp_path, case):
    name, key, value, needle = case
    out = copy(saved, tmp_path)
    _put(ck(out) / name, key, value)
    resume(saved, out, needle)


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-3, 10**12) | st.floats(allow_nan=True)
                           | st.text(max_size=8), lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)
KEYS = {"latest.json": [("step",), ("folder",), ("files",), ("files", "state.npz"), ("files", "state.npz", "bytes"),
                        ("files", "state.npz", "sha256")],
        "checkpoint.json": [("format",), ("scorelab_version",), ("fingerprint",), ("every",), ("options",),
                            ("options", "shards"), ("options", "people_state"), ("options", "command")]}


@FUZZ
@given(name=st.sampled_from(list(KEYS)), data=st.data())
def test_any_json_value_anywhere_is_refused_or_harmless(saved, tmp_path, name, data):
    """Any JSON value (or none) for any key of checkpoint.json or latest.json: one line, or
    the uninterrupted run's bytes."""
    key = data.draw(st.sampled_from(KEYS[name]))
    value = data.draw(JSON_VALUES | st.just(KeyError))
    out = copy(saved, tmp_path)
    _put(ck(out) / name, key, value)
    resume(saved, out)
    shutil.rmtree(out.parent)


# --------------------------------------------------------------------------- sharded runs


def test_a_sharded_runs_parts_are_checked_too(tmp_path):
    """A sharded run's save: every ``state-<k>`` part as above, and ``national.npz`` (the flag
    queues of ``layout.STATE``, the metric rows, the split into shards, each shard's pending
    flags) by name, dtype and shape; the parts must be those of the run's shards."""
    from scorelab.engine import kernel, layout
    from scorelab.engine.checkpoint_files import Fit, check_parts
    from scorelab.errors import UsageError

    sizes = layout.Sizes(people=10, firms=2, views=2, dims=1, caps=0, lists=1, flags=2, channels=1, grades=3,
                         regions=3, consequences=1, behaviours=1, signatures=1, member_lists=0, steps=20,
                         retentions=0, social=False, association=False)
    fit = Fit(sizes, metric_columns=7, shards=2)
    state = layout.allocate(sizes)
    state["cnt"][[kernel.C_PFREE, kernel.C_LFREE]] = -1  # (the free lists are empty, as a run starts)

    def national() -> dict[str, np.ndarray]:
        return {**{k: state[k] for k in ("q_ent", "q_truth", "q_head", "q_len", "f_budget")}, "M": np.zeros((5, 7)),
                "owner": np.array([0, 1, 1]), "pending_0": np.zeros((0, 3), dtype=np.int64),
                "pending_1": np.zeros((2, 3), dtype=np.int64)}

    def shard() -> dict[str, np.ndarray]:
        return {**{f"S.{k}": v for k, v in state.items()}, "M": np.zeros((5, 7)),
                "start_grade": np.zeros(10, dtype=np.uint8), "start_score": np.zeros(10)}

    check_parts(tmp_path, 5, {"state-0": shard(), "state-1": shard(), "national": national()}, fit)
    cases = {
        "q_ent: shape (2, 6), expected (2, 13)": lambda n: n.__setitem__("q_ent", n["q_ent"][:, :6]),
        "owner: a shard outside 0 .. 1": lambda n: n.__setitem__("owner", np.array([0, 1, 2])),
        "pending_1: missing": lambda n: n.pop("pending_1"),
        "pending_0: dtype float64": lambda n: n.__setitem__("pending_0", np.zeros((0, 3))),
        "M: shape (4, 7)": lambda n: n.__setitem__("M", np.zeros((4, 7))),
    }
    for needle, change in cases.items():
        n = national()
        change(n)
        with pytest.raises(UsageError, match=needle.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
            check_parts(tmp_path, 5, {"state-0": shard(), "state-1": shard(), "national": n}, fit)
    with pytest.raises(UsageError, match="another split into shards"):
        check_parts(tmp_path, 5, {f"state-{k}": shard() for k in range(3)} | {"national": national()}, fit)
    with pytest.raises(UsageError, match="of a sharded run"):
        check_parts(tmp_path, 5, {"state-0": shard(), "national": national()}, fit._replace(shards=None))
