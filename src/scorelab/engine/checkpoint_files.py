"""What a checkpoint's files must hold, and reading them back without trusting them.

A checkpoint is resumed into numba kernels that do not check bounds: an array one element
short is a segmentation fault, a float32 array where float64 belongs a different result. So
nothing is taken on trust:

* ``checkpoint.json`` and ``latest.json`` are read into strict models (``Meta``, ``Latest``):
  every key present, of its type and range;
* each ``.npz`` part has the size and SHA-256 that ``latest.json`` recorded when it was saved
  (``json_files.check_digest``): a truncated, bit-flipped, emptied or replaced file is refused
  before numpy reads it;
* the arrays of a part are those of the plan's state and nothing else (``check_parts``): the
  names, dtypes and shapes of ``engine.layout.STATE`` for the run's ``Sizes`` (the table the
  state is allocated from, not a second list), the metric rows saved so far, and for the arrays
  the kernels grow, room for every slot their counters say is in use.

Every refusal is one UsageError line naming the file and what is wrong in it.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
from pydantic import Field, model_validator

from scorelab.engine import kernel, layout, owned
from scorelab.errors import Problem, UsageError
from scorelab.json_files import FileDigest, FileName, StrictModel

__all__ = ["Fit", "Latest", "Meta", "Options", "check_parts", "read_part", "DAMAGED"]

#: What ends the line of a checkpoint that cannot be resumed.
DAMAGED = "the checkpoint cannot be resumed: start the run again"


class Options(StrictModel):
    """How the run was started, for ``--resume`` to continue it the same way."""

    people_state: bool = False
    command: str = ""
    shards: int | None = Field(default=None, ge=1)
    threads: int = Field(default=1, ge=1)  # (threads split the regions as shards do: the same split to resume)


class Meta(StrictModel):
    """``checkpoint.json``: what is running (written once, when the run starts)."""

    format: Literal["scorelab-checkpoint"]
    format_version: int
    scorelab_version: str
    fingerprint: str = Field(pattern=r"^[0-9a-f]{64}$")
    every: int = Field(ge=1)
    options: Options = Options()


class Latest(StrictModel):
    """``latest.json``: the step folder of the latest complete save and the size and SHA-256
    of each of its parts (replaced atomically after every part is written)."""

    step: int = Field(ge=1)
    folder: str = Field(pattern=r"^step-[0-9]{9}$")
    files: dict[FileName, FileDigest] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> "Latest":
        if self.folder != f"step-{self.step:09d}":
            raise ValueError(f"folder {self.folder} is not the one of step {self.step}")
        if any(not name.endswith(".npz") for name in self.files):
            raise ValueError("files: every part is a .npz file")
        return self


class Fit(NamedTuple):
    """What a run's saved state must fit: the state's sizes (``engine.layout.Sizes``), the
    number of metric columns, and the shards (None: one process)."""

    sizes: layout.Sizes
    metric_columns: int
    shards: int | None = None
    regions: np.ndarray | None = None  # a sharded run's people and firms per region (``owned.region_sizes``)


def _refuse(path: Path, key: str, message: str) -> UsageError:
    return UsageError(f"{Problem(str(path), None, None, key, message)}; {DAMAGED}")


def read_part(path: Path, fingerprint: str, step: int) -> dict[str, np.ndarray]:
    """The arrays of one part (its digest checked beforehand), with its run and step checked."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, RuntimeError) as e:
        raise _refuse(path, "", f"unreadable: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    fp, at = arrays.pop("fingerprint", None), arrays.pop("step", None)
    if fp is None or fp.shape != () or fp.dtype.kind != "U" or str(fp) != fingerprint:
        raise _refuse(path, "fingerprint", "the state belongs to another run")
    if at is None or at.shape != () or at.dtype.kind not in "iu" or int(at) != step:
        raise _refuse(path, "step", f"not the saved step {step}")
    return arrays


# --------------------------------------------------------------------------- the arrays


def _array(path: Path, key: str, arr: np.ndarray, dtype: type, shape: tuple[int, ...] | None,
           trailing: tuple[int, ...] | None = None) -> None:
    """``arr`` has ``dtype`` and ``shape`` (or, for a grown array, ``trailing`` dimensions after
    its first)."""
    if arr.dtype != np.dtype(dtype):
        raise _refuse(path, key, f"dtype {arr.dtype}, expected {np.dtype(dtype)}")
    if shape is not None and arr.shape != shape:
        raise _refuse(path, key, f"shape {arr.shape}, expected {shape}")
    if trailing is not None and (arr.ndim != 1 + len(trailing) or arr.shape[1:] != trailing):
        raise _refuse(path, key, f"shape {arr.shape}, expected (any, {', '.join(map(str, trailing))})".replace(", )", ")"))


def _keys(path: Path, arrays: dict[str, np.ndarray], expected: set[str]) -> None:
    missing, extra = sorted(expected - arrays.keys()), sorted(arrays.keys() - expected)
    if missing:
        raise _refuse(path, missing[0], "missing" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""))
    if extra:
        raise _refuse(path, extra[0], "not an array of this run's state")


#: The arrays the kernels grow, by the counter (``kernel.C_*``) of the slots in use in them:
#: each must have at least that many rows.
GROWN_IN_USE: dict[str, int] = {
    **{name: kernel.C_LTOP for name in ("ls_list", "ls_ent", "ls_since", "ls_next", "ls_cal", "ls_pend", "ls_wpos",
                                        "ls_cause", "ls_hits")},
    **{name: kernel.C_NLA for name in ("la_ent", "la_list", "la_step")},
    "od_rec": kernel.C_NOD, "od_val": kernel.C_NOD, "w_mem": kernel.C_WTOP, "carry": kernel.C_NCARRY,
    "mb_i": kernel.C_NMSG, "mb_x": kernel.C_NMSG, "mb_key": kernel.C_NMSG, "pf": kernel.C_NPEND,
}


def _counters(path: Path, S: dict[str, np.ndarray]) -> None:
    """The counters are in range, and every grown array holds the slots they say are in use
    (records and the pool of delayed records are saved trimmed to those in use)."""
    k = kernel
    cnt = S["cnt"]
    free_lists = (k.C_PFREE, k.C_LFREE)
    for i, v in enumerate(cnt.tolist()):
        if v < (-1 if i in free_lists else 0):
            raise _refuse(path, f"S.cnt.{i}", f"counter is {v}")
    nrec, ptop, ltop = int(cnt[k.C_NREC]), int(cnt[k.C_PTOP]), int(cnt[k.C_LTOP])
    if int(cnt[k.C_NPOOL]) > ptop or int(cnt[k.C_PFREE]) >= ptop or int(cnt[k.C_LFREE]) >= ltop:
        raise _refuse(path, "S.cnt", "free lists or the pool beyond the slots in use")
    for name in layout.RECORD_COLUMNS:
        if len(S[name]) != nrec and not (name in layout.IDENTITY_COLUMNS and len(S[name]) == 0):
            raise _refuse(path, f"S.{name}", f"{len(S[name])} records, the counters say {nrec}")
    for name in layout.POOL_COLUMNS:
        if len(S[name]) != ptop:
            raise _refuse(path, f"S.{name}", f"{len(S[name])} pool slots, the counters say {ptop}")
    for name, counter in GROWN_IN_USE.items():
        if len(S[name]) < int(cnt[counter]):
            raise _refuse(path, f"S.{name}", f"{len(S[name])} rows, the counters use {int(cnt[counter])}")
    if len(S["aq"]) < int(cnt[k.C_AQH]) + int(cnt[k.C_AQN]):
        raise _refuse(path, "S.aq", f"{len(S['aq'])} rows, the counters use {int(cnt[k.C_AQH]) + int(cnt[k.C_AQN])}")


def check_state(path: Path, arrays: dict[str, np.ndarray], fit: Fit, step: int, own: np.ndarray | None = None
                ) -> None:
    """One process's (or one shard's) saved state: every array of ``layout.STATE`` with its
    dtype and shape for ``fit.sizes`` (a shard's, owning the regions ``own``: cut to its
    entities, ``owned.compact``), the metric rows of the ``step`` steps run, the start grades
    and scores, and consistent counters."""
    _keys(path, arrays, {f"S.{a.name}" for a in layout.STATE} | {"M", "start_grade", "start_score"})
    people = fit.sizes.people
    for a in layout.STATE:
        shape = a.shape(fit.sizes)
        if own is not None and fit.regions is not None and not a.grown:
            axis = owned.cut_axis(a.name)
            if len(shape) > axis:
                shape = shape[:axis] + (owned.cut_length(a.name, shape[axis], people, fit.regions, own),) + shape[axis + 1:]
        if a.grown:
            _array(path, f"S.{a.name}", arrays[f"S.{a.name}"], a.dtype, None, tuple(shape[1:]))
        else:
            _array(path, f"S.{a.name}", arrays[f"S.{a.name}"], a.dtype, tuple(shape))
    _array(path, "M", arrays["M"], np.float64, (step, fit.metric_columns))
    if own is not None and fit.regions is not None:
        people = int(fit.regions[own.astype(bool), 0].sum())
    _array(path, "start_grade", arrays["start_grade"], np.uint8, (people,))
    _array(path, "start_score", arrays["start_score"], np.float64, (people,))
    _counters(path, {a.name: arrays[f"S.{a.name}"] for a in layout.STATE})


#: The national flag queues a sharded run's driver keeps (arrays of ``layout.STATE``).
NATIONAL_STATE = ("q_ent", "q_truth", "q_head", "q_len", "f_budget")


def check_national(path: Path, arrays: dict[str, np.ndarray], fit: Fit, step: int) -> None:
    """A sharded run's national part: the flag queues, the metric rows so far, the regions'
    shards and each shard's pending flags."""
    shards = fit.shards or 0
    _keys(path, arrays, {*NATIONAL_STATE, "M", "owner", *(f"pending_{k}" for k in range(shards))})
    state = {a.name: a for a in layout.STATE}
    for name in NATIONAL_STATE:
        _array(path, name, arrays[name], state[name].dtype, tuple(state[name].shape(fit.sizes)))
    _array(path, "M", arrays["M"], np.float64, (step, fit.metric_columns))
    _array(path, "owner", arrays["owner"], np.int64, (fit.sizes.regions,))
    if arrays["owner"].size and not (0 <= arrays["owner"].min() and arrays["owner"].max() < shards):
        raise _refuse(path, "owner", f"a shard outside 0 .. {shards - 1}")
    for k in range(shards):
        _array(path, f"pending_{k}", arrays[f"pending_{k}"], np.int64, None, (3,))


def check_parts(folder: Path, step: int, parts: dict[str, dict[str, np.ndarray]], fit: Fit) -> None:
    """The parts of a save are those of the run (one ``state``, or ``state-<k>`` per shard and
    ``national``), each holding what ``check_state`` / ``check_national`` ask."""
    sharded = any(name.startswith("state-") for name in parts) or "national" in parts
    if fit.shards is None and sharded:
        raise UsageError(f"{folder}: the checkpoint is of a sharded run; resume it with its shards")
    if fit.shards is not None and not sharded:
        raise UsageError(f"{folder}: the checkpoint is of a run in one process; resume it without shards")
    expected = {"state"} if fit.shards is None else {"national", *(f"state-{k}" for k in range(fit.shards))}
    if fit.shards is not None and {n for n in parts if n.startswith("state-")} != expected - {"national"}:
        raise UsageError(f"{folder}: the checkpoint was made with another split into shards; "
                         f"resume it with the shards it was started with")
    if set(parts) != expected:
        missing, extra = sorted(expected - parts.keys()), sorted(parts.keys() - expected)
        raise _refuse(folder / f"{(missing or extra)[0]}.npz", "", "missing" if missing else "not a part of this run")
    if "national" in parts:  # (first: a shard's part is checked against the regions it owns)
        check_national(folder / "national.npz", parts["national"], fit, step)
    for name, arrays in parts.items():
        if name != "national":
            own = None if fit.shards is None else parts["national"]["owner"] == int(name.split("-")[1])
            check_state(folder / f"{name}.npz", arrays, fit, step, own)
