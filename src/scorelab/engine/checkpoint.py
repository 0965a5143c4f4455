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
``latest.json`` names the complete step folder and is replaced atomically after every part
is written, so a crash while saving leaves the previous step in force.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scorelab.atomic import write_bytes as _write_atomic
from scorelab.engine import kernel
from scorelab.errors import UsageError

FORMAT_NAME = "scorelab-checkpoint"
FORMAT_VERSION = 9
LATEST_FILE = "latest.json"
META_FILE = "checkpoint.json"
SCENARIO_FILE = "scenario.yaml"


def fingerprint(scenario_data: dict[str, Any]) -> str:
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
    """Where and how often a run saves its state (``every`` steps; 0 saves nothing)."""

    folder: Path
    every: int
    fingerprint: str

    @classmethod
    def create(cls, folder: Path, every: int, scenario_data: dict[str, Any], options: dict[str, Any]) -> "Checkpoint":
        """Start a fresh checkpoint folder (replacing an old one) describing the run."""
        import shutil

        from scorelab import __version__
        from scorelab.scenario.yamlread import dump_yaml

        if every < 1:
            raise UsageError(f"--checkpoint-every: must be at least 1 step, got {every}")
        folder = Path(folder)
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        fp = fingerprint(scenario_data)
        (folder / SCENARIO_FILE).write_text(dump_yaml(scenario_data), encoding="utf-8")
        meta = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "scorelab_version": __version__,
                "fingerprint": fp, "every": int(every), "options": options}
        _write_atomic(folder / META_FILE, json.dumps(meta, indent=2).encode())
        return cls(folder=folder, every=int(every), fingerprint=fp)

    @classmethod
    def open(cls, folder: Path) -> tuple["Checkpoint", dict[str, Any], dict[str, Any]]:
        """An existing checkpoint folder: (checkpoint, scenario data, options). UsageError
        (one line) when it is missing, damaged, or from another scorelab version."""
        import yaml

        from scorelab import __version__

        folder = Path(folder)
        mpath = folder / META_FILE
        if not mpath.is_file():
            raise UsageError(f"{folder}: no checkpoint here (was the run started with --checkpoint-every?)")
        try:
            meta = json.loads(mpath.read_text())
            data = yaml.safe_load((folder / SCENARIO_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError, yaml.YAMLError) as e:
            raise UsageError(f"{folder}: damaged checkpoint: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME or meta.get("format_version") != FORMAT_VERSION:
            raise UsageError(f"{mpath}: not a scorelab checkpoint of format version {FORMAT_VERSION}")
        if meta.get("scorelab_version") != __version__:
            raise UsageError(f"{folder}: checkpoint written by scorelab {meta.get('scorelab_version')}, "
                             f"which cannot be resumed by scorelab {__version__}; start the run again")
        if fingerprint(data) != meta.get("fingerprint"):
            raise UsageError(f"{folder}: {SCENARIO_FILE} no longer matches the checkpoint (edited?); start the run again")
        return cls(folder=folder, every=int(meta["every"]), fingerprint=meta["fingerprint"]), data, meta.get("options", {})

    def due(self, steps_done: int, n_steps: int) -> bool:
        """Whether to save after ``steps_done`` steps (never after the last: the results follow)."""
        return self.every > 0 and steps_done % self.every == 0 and steps_done < n_steps

    def save(self, steps_done: int, S: kernel.State, M: np.ndarray, start_grade: np.ndarray,
             start_score: np.ndarray) -> None:
        """Write a single-process run's state after ``steps_done`` steps."""
        self.save_parts(steps_done, {"state": state_arrays(S, M[:steps_done], start_grade, start_score)})

    def load(self) -> Saved | None:
        """A single-process run's latest state, or None when the run was stopped before its first save."""
        found = self.load_parts()
        if found is None:
            return None
        step, parts = found
        if "state" not in parts:
            raise UsageError(f"{self.folder}: the checkpoint is of a sharded run; resume it with its shards")
        return saved_from_arrays(step, parts["state"])

    def save_parts(self, steps_done: int, parts: dict[str, dict[str, np.ndarray]]) -> None:
        """Write the parts of the state after ``steps_done`` steps into a new step folder, then
        point ``latest.json`` at it and remove older step folders."""
        import shutil

        step_dir = self.folder / f"step-{steps_done:09d}"
        if step_dir.exists():
            shutil.rmtree(step_dir)
        step_dir.mkdir()
        for name, arrays in parts.items():
            with open(step_dir / f"{name}.npz", "wb") as fh:
                np.savez(fh, step=np.int64(steps_done), fingerprint=np.array(self.fingerprint), **arrays)
                fh.flush()
                os.fsync(fh.fileno())
        _write_atomic(self.folder / LATEST_FILE, json.dumps({"step": steps_done, "folder": step_dir.name}).encode())
        for old in self.folder.glob("step-*"):
            if old != step_dir:
                shutil.rmtree(old, ignore_errors=True)

    def load_parts(self) -> tuple[int, dict[str, dict[str, np.ndarray]]] | None:
        """(step, parts) of the latest complete save, or None when nothing was saved yet."""
        latest = self.folder / LATEST_FILE
        if not latest.is_file():
            return None
        try:
            info = json.loads(latest.read_text())
            step_dir = self.folder / str(info["folder"])
            parts = {}
            for path in sorted(step_dir.glob("*.npz")):
                with np.load(path, allow_pickle=False) as z:
                    if str(z["fingerprint"]) != self.fingerprint or int(z["step"]) != int(info["step"]):
                        raise UsageError(f"{path}: state belongs to another run or step; start the run again")
                    parts[path.stem] = {k: z[k] for k in z.files if k not in ("fingerprint", "step")}
        except (OSError, ValueError, KeyError) as e:
            raise UsageError(f"{latest}: damaged checkpoint: {e}") from None
        return int(info["step"]), parts


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
        raise UsageError(f"checkpoint state lacks {e}; start the run again") from None


def restore_state(saved: Saved, record_columns: dict[str, type]) -> kernel.State:
    """A ``kernel.State`` from saved arrays; record columns get room to grow."""
    fields = {}
    for name in kernel.State._fields:
        if name not in saved.state:
            raise UsageError(f"checkpoint state lacks {name!r}; start the run again")
        arr = saved.state[name]
        if name in record_columns and arr.shape[0] > 0:  # (an empty column is one the run does not keep)
            grown = np.zeros(max(1024, 2 * arr.shape[0]), dtype=arr.dtype)
            grown[: arr.shape[0]] = arr
            arr = grown
        fields[name] = np.ascontiguousarray(arr)
    return kernel.State(**fields)
