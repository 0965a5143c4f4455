"""Checkpoints of a running day loop, so that a long run can be resumed after a crash and
still finish byte-identical to an uninterrupted one.

Why a resumed run is exact: every random draw is counter-based on (stream, step, ...), so
the steps after a checkpoint draw the same numbers whichever process runs them; the mutable
state (every ``kernel.State`` array, the metric rows so far, the start scores) is saved
whole; the population, the contacts and the compiled plan are pure functions of the
scenario and its seed and are rebuilt.

A checkpoint folder holds ``checkpoint.json`` (what is running: scenario fingerprint,
scorelab version, how often to save, the results options), ``scenario.yaml``, and the
latest saved step as a folder ``step-<n>/`` of ``.npz`` parts: ``state.npz`` for a
single-process run; ``state-<k>.npz`` per shard and ``national.npz`` for a sharded run.
``latest.json`` names the complete step folder and records each part's size and SHA-256; it
is replaced atomically after every part is written, so a crash while saving leaves the
previous step in force. A save that does not fit on the disk is refused before it starts
(its size is known: the arrays are stored uncompressed), and one that fails midway (a full
disk) removes what it wrote: either way the run ends with one line saying that the previous
save is intact.

Nothing read back is trusted (``engine.checkpoint_files``): the JSON files are read into
strict models, each part must have the digest ``latest.json`` recorded, and its arrays the
names, dtypes and shapes of the plan's state; whatever is wrong is one line naming the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scorelab import atomic
from scorelab.engine import kernel
from scorelab.engine.checkpoint_files import DAMAGED, Fit, Latest, Meta, check_parts, read_part
from scorelab.errors import UsageError

FORMAT_NAME = "scorelab-checkpoint"
#: 10: latest.json records each part's size and SHA-256; 11: the state's records held per
#: entity (``held``) and the metrics' data, regions and trajectories blocks
#: 12: outcome counters of sanctions for another's rating and of false flags
#: 13: the outcome counter of records made against a person for a pupil's act (classroom block)
#: 14: the metrics' lending block (lending by group); 15: whether each entity is scored (``scored``:
#: people come of age) and the metrics' ageing block; 16: a shard's part holds its own entities'
#: part of the per-entity arrays only (``engine.owned.compact``), and its people's start grades
#: 17: list stocks of firms' representatives' joint listings apart (``l_stock`` rows 2, 3) and
#: the metrics' joint-listings block
FORMAT_VERSION = 17
LATEST_FILE = "latest.json"
META_FILE = "checkpoint.json"
SCENARIO_FILE = "scenario.yaml"
#: Room a part needs beyond its arrays' bytes (zip and .npy headers), per array.
_ARRAY_OVERHEAD = 1024


def fingerprint(scenario_data: Any) -> str:
    """Identity of a run: the resolved scenario and the scorelab version that runs it."""
    from scorelab import __version__

    blob = json.dumps(scenario_data, sort_keys=True, separators=(",", ":")) + "\n" + __version__
    return hashlib.sha256(blob.encode()).hexdigest()


def folder_for(final: Path) -> Path:
    """The hidden checkpoint folder beside a results folder: ``.<name>.checkpoint``."""
    return final.parent / f".{final.name}.checkpoint"


@dataclass
class Saved:
    """A state read back from a checkpoint."""

    step: int  # the next step to run
    state: dict[str, np.ndarray]
    metrics: np.ndarray  # rows 0 .. step-1
    start_grade: np.ndarray
    start_score: np.ndarray


@dataclass
class Checkpoint:
    """Where and how often a run saves its state (``every`` steps; 0 saves nothing), and the
    step of its latest save (None before the first)."""

    folder: Path
    every: int
    fingerprint: str
    saved_step: int | None = None

    @classmethod
    def create(cls, folder: Path, every: int, scenario_data: dict[str, Any], options: dict[str, Any]) -> "Checkpoint":
        """Start a fresh checkpoint folder (replacing an old one) describing the run."""

        from scorelab import __version__
        from scorelab.scenario.yamlread import dump_yaml

        if every < 1:
            raise UsageError(f"--checkpoint-every: must be at least 1 step, got {every}")
        folder = Path(folder)
        fp = fingerprint(scenario_data)
        meta = Meta(format=FORMAT_NAME, format_version=FORMAT_VERSION, scorelab_version=__version__,
                    fingerprint=fp, every=int(every), options=options)
        try:
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            (folder / SCENARIO_FILE).write_text(dump_yaml(scenario_data), encoding="utf-8")
            atomic.write_bytes(folder / META_FILE, meta.model_dump_json(indent=2).encode())
        except (OSError, UsageError) as exc:
            shutil.rmtree(folder, ignore_errors=True)
            if isinstance(exc, UsageError):
                raise
            raise atomic.write_failure(folder, "create the checkpoint folder", exc) from None
        return cls(folder=folder, every=int(every), fingerprint=fp)

    @classmethod
    def open(cls, folder: Path) -> tuple["Checkpoint", dict[str, Any], dict[str, Any]]:
        """An existing checkpoint folder: (checkpoint, scenario data, options). UsageError
        (one line) when it is missing, damaged, or from another format or scorelab version.
        The latest save's parts are checked to exist with their recorded sizes here; their
        digests and arrays when they are loaded."""
        import yaml

        from scorelab import __version__
        from scorelab.json_files import parse_model, read_json

        folder = Path(folder)
        mpath = folder / META_FILE
        if not mpath.is_file():
            raise UsageError(f"{folder}: no checkpoint here (was the run started with --checkpoint-every?)")
        raw = read_json(mpath, DAMAGED)
        if not isinstance(raw, dict) or raw.get("format") != FORMAT_NAME:
            raise UsageError(f"{mpath}: not a scorelab checkpoint; {DAMAGED}")
        if raw.get("format_version") != FORMAT_VERSION:
            raise UsageError(f"{mpath}: checkpoint format version {raw.get('format_version')!r}, but this scorelab "
                             f"resumes version {FORMAT_VERSION} only; start the run again")
        meta = parse_model(mpath, raw, Meta, DAMAGED)
        if meta.scorelab_version != __version__:
            raise UsageError(f"{folder}: checkpoint written by scorelab {meta.scorelab_version}, "
                             f"which cannot be resumed by scorelab {__version__}; start the run again")
        spath = folder / SCENARIO_FILE
        try:
            data = yaml.safe_load(spath.read_bytes().decode("utf-8"))
            same = fingerprint(data) == meta.fingerprint
        except (OSError, ValueError, TypeError, yaml.YAMLError) as e:
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise UsageError(f"{spath}: unreadable: {reason}; {DAMAGED}") from None
        if not same:
            raise UsageError(f"{folder}: {SCENARIO_FILE} no longer matches the checkpoint (edited?); start the run again")
        checkpoint = cls(folder=folder, every=meta.every, fingerprint=meta.fingerprint)
        latest = checkpoint._latest()
        checkpoint.saved_step = latest.step if latest is not None else None
        return checkpoint, data, meta.options.model_dump()

    def due(self, steps_done: int, n_steps: int) -> bool:
        """Whether to save after ``steps_done`` steps (never after the last: the results follow)."""
        return self.every > 0 and steps_done % self.every == 0 and steps_done < n_steps

    def save(self, steps_done: int, S: kernel.State, M: np.ndarray, start_grade: np.ndarray,
             start_score: np.ndarray) -> None:
        """Write a single-process run's state after ``steps_done`` steps."""
        self.save_parts(steps_done, {"state": state_arrays(S, M[:steps_done], start_grade, start_score)})

    def load(self, sizes: Any = None, metric_columns: int | None = None) -> Saved | None:
        """A single-process run's latest state, or None when the run was stopped before its
        first save. With the run's state ``sizes`` (``engine.layout.Sizes``) and number of
        metric columns, every array is checked to be the one the run allocates."""
        found = self.load_parts(sizes, metric_columns)
        if found is None:
            return None
        step, parts = found
        if "state" not in parts:
            raise UsageError(f"{self.folder}: the checkpoint is of a sharded run; resume it with its shards")
        return saved_from_arrays(step, parts["state"])

    def intact(self) -> str:
        """What is left to resume from, after a save failed: one clause."""
        name = self.folder.name
        resume = (f"`scorelab run --resume {self.folder.parent / name[1:-len('.checkpoint')]}` continues from it"
                  if name.startswith(".") and name.endswith(".checkpoint") else f"it is kept in {self.folder}")
        if self.saved_step is None:
            return "no earlier checkpoint was saved: the run must start again"
        return f"the checkpoint of step {self.saved_step} is intact: {resume}"

    def save_parts(self, steps_done: int, parts: dict[str, dict[str, np.ndarray]]) -> None:
        """Write the parts of the state after ``steps_done`` steps into a new step folder, then
        point ``latest.json`` at it (with each part's size and SHA-256) and remove older step
        folders. A save that cannot fit or fails midway leaves the previous one in force and
        raises one UsageError line."""
        step_dir = self.folder / f"step-{steps_done:09d}"
        what = f"save the checkpoint of step {steps_done}"
        shutil.rmtree(step_dir, ignore_errors=True)
        needed = sum(a.nbytes + _ARRAY_OVERHEAD for arrays in parts.values() for a in arrays.values())
        atomic.check_space(self.folder, needed, what, self.intact())
        try:
            step_dir.mkdir()
            files = {}
            for name, arrays in parts.items():
                path = step_dir / f"{name}.npz"
                with open(path, "wb") as fh:
                    np.savez(fh, step=np.int64(steps_done), fingerprint=np.array(self.fingerprint), **arrays)
                    fh.flush()
                    os.fsync(fh.fileno())
                files[path.name] = atomic.digest(path)
            latest = Latest(step=steps_done, folder=step_dir.name, files=files)
            atomic.write_bytes(self.folder / LATEST_FILE, latest.model_dump_json(indent=2).encode(), what, self.intact())
        except BaseException as exc:
            shutil.rmtree(step_dir, ignore_errors=True)
            if not isinstance(exc, UsageError) and atomic.os_error(exc) is not None:
                raise atomic.write_failure(self.folder, what, exc, self.intact()) from None
            raise
        self.saved_step = steps_done
        for old in self.folder.glob("step-*"):
            if old != step_dir:
                shutil.rmtree(old, ignore_errors=True)

    def _latest(self) -> Latest | None:
        """``latest.json``, its step folder and parts present with their recorded sizes; None
        when nothing was saved yet."""
        from scorelab.json_files import read_model

        path = self.folder / LATEST_FILE
        if not path.is_file():
            return None
        latest = read_model(path, Latest, DAMAGED)
        step_dir = self.folder / latest.folder
        if not step_dir.is_dir():
            raise UsageError(f"{path}: folder: {latest.folder} does not exist; {DAMAGED}")
        for name, recorded in latest.files.items():
            part = step_dir / name
            size = part.stat().st_size if part.is_file() else None
            if size is None:
                raise UsageError(f"{part}: missing (listed in {LATEST_FILE}); {DAMAGED}")
            if size != recorded.bytes:
                raise UsageError(f"{part}: damaged: {size:,} bytes where {LATEST_FILE} records {recorded.bytes:,} "
                                 f"(truncated or replaced); {DAMAGED}")
        return latest

    def load_parts(self, sizes: Any = None, metric_columns: int | None = None, shards: int | None = None,
                   regions: np.ndarray | None = None) -> tuple[int, dict[str, dict[str, np.ndarray]]] | None:
        """(step, parts) of the latest complete save, or None when nothing was saved yet. Each
        part is checked against the digest ``latest.json`` recorded, and with the run's
        ``sizes`` and ``metric_columns`` (and ``shards``, with the people and firms of each
        region: ``owned.region_sizes``) every array against the state the run allocates
        (``checkpoint_files.check_parts``)."""
        from scorelab.json_files import check_digest

        latest = self._latest()
        if latest is None:
            return None
        step_dir = self.folder / latest.folder
        parts = {}
        for name, recorded in sorted(latest.files.items()):
            path = step_dir / name
            check_digest(path, recorded, LATEST_FILE, DAMAGED)
            parts[path.stem] = read_part(path, self.fingerprint, latest.step)
        if sizes is not None and metric_columns is not None:
            check_parts(step_dir, latest.step, parts, Fit(sizes, int(metric_columns), shards, regions))
        return latest.step, parts


def state_arrays(S: kernel.State, metrics: np.ndarray, start_grade: np.ndarray,
                 start_score: np.ndarray) -> dict[str, np.ndarray]:
    """What a checkpoint keeps of one state: every State array (records, and the pool of
    delayed records, trimmed to those in use), the metric rows so far, and the start grades
    and scores."""
    used = {"r_": int(S.cnt[kernel.C_NREC]), "p_": int(S.cnt[kernel.C_PTOP])}
    arrays = {f"S.{name}": (arr[:used[name[:2]]] if name[:2] in used else arr) for name, arr in S._asdict().items()}
    arrays.update({"M": metrics, "start_grade": start_grade, "start_score": start_score})
    return arrays


def saved_from_arrays(step: int, arrays: dict[str, np.ndarray]) -> Saved:
    try:
        state = {k[2:]: v for k, v in arrays.items() if k.startswith("S.")}
        return Saved(step=step, state=state, metrics=arrays["M"], start_grade=arrays["start_grade"],
                     start_score=arrays["start_score"])
    except KeyError as e:
        raise UsageError(f"checkpoint state lacks {e}; {DAMAGED}") from None


def restore_state(saved: Saved, record_columns: dict[str, type]) -> kernel.State:
    """A ``kernel.State`` from saved arrays; record columns get room to grow."""
    fields = {}
    for name in kernel.State._fields:
        if name not in saved.state:
            raise UsageError(f"checkpoint state lacks {name!r}; {DAMAGED}")
        arr = saved.state[name]
        if name in record_columns and arr.shape[0] > 0:  # (an empty column is one the run does not keep)
            grown = np.zeros(max(1024, 2 * arr.shape[0]), dtype=arr.dtype)
            grown[: arr.shape[0]] = arr
            arr = grown
        fields[name] = np.ascontiguousarray(arr)
    return kernel.State(**fields)
