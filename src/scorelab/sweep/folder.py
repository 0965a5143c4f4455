"""Running a sweep into its folder (``run_sweep``), and continuing one (``resume_sweep``).

Like a results folder, the sweep folder ``DIR`` appears only when complete: work happens in
the hidden sibling ``.<name>.sweep-partial`` (``work_path``), which survives an
interruption and is held by one process at a time (``locking``); running the same sweep
again, or ``resume_sweep``, skips the tasks whose folder is complete. Its ``sweep.json``
records the spec, settings, tasks and versions; the tables are built from the completed
task folders keyed by task id, so a retried task can never give a duplicate or a missing row.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scorelab import atomic
from scorelab.errors import UsageError
from scorelab.sweep.backends import (
    BACKENDS,
    TEST_EXIT_ENV,
    Event,
    Tracker,
    attempts_dir,
    default_workers,
    import_ray,
    lost_attempts,
    run_process,
    run_ray,
)
from scorelab.sweep.design import SweepSpec, Task, plan_sweep, settings
from scorelab.sweep.locking import locked
from scorelab.sweep.statistics import LEVEL
from scorelab.sweep.tables import FORMAT_NAME, FORMAT_VERSION, SweepResult, read_info, runs_table, summary_table

_WORK_SUFFIX = ".sweep-partial"


def work_path(out: Path) -> Path:
    """The hidden folder an unfinished sweep ``out`` works in."""
    return out.parent / f".{out.name}{_WORK_SUFFIX}"


def _plan_key(info: dict[str, Any]) -> str:
    """What must match for a folder to hold the same sweep: spec, scenario and tasks."""
    spec = {k: v for k, v in info["spec"].items() if k not in ("source", "overrides")}
    return json.dumps({"spec": spec, "scenario": info["scenario_sha256"], "tasks": info["tasks"]}, sort_keys=True)


def _versions(backend: str) -> dict[str, str]:
    import numba
    import numpy
    import polars

    from scorelab import __version__

    v = {"scorelab": __version__, "python": sys.version.split()[0], "numpy": numpy.__version__,
         "numba": numba.__version__, "polars": polars.__version__, "platform": platform.platform()}
    if backend == "ray":
        try:
            import ray

            v["ray"] = ray.__version__
        except ImportError:
            pass
    return v


def _info(spec: SweepSpec, tasks: list[Task], command: str, backend: str) -> dict[str, Any]:
    import hashlib

    scen = json.dumps(spec.scenario, sort_keys=True)
    sets = settings(spec)
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "status": "running",
        "name": spec.name,
        "spec": spec.to_json(),
        "level": LEVEL,
        "scenario_sha256": hashlib.sha256(scen.encode("utf-8")).hexdigest(),
        "settings": [{"id": s.id, "values": s.values} for s in sets],
        "tasks": [{"id": t.id, "setting": t.setting, "replicate": t.replicate, "seed": t.seed} for t in tasks],
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "backend": backend,
        "versions": _versions(backend),
    }


def _write_json(path: Path, data: dict[str, Any]) -> None:
    atomic.write_text(path, json.dumps(data, indent=2))


def run_sweep(
    spec: SweepSpec,
    out: str | Path,
    *,
    backend: str = "process",
    workers: int | None = None,
    address: str | None = None,
    retries: int = 2,
    progress: Callable[[Event], None] | None = None,
    command: str = "",
) -> SweepResult:
    """Run every task of ``spec`` and write the sweep folder ``out`` (docs/sweeps.md).

    ``backend``: ``process`` (a local pool of ``workers`` processes, default one per CPU) or
    ``ray`` (the Ray instance of this process, or one started here or joined at
    ``address``; the folder must then be on storage every node sees). A task whose worker
    dies is retried up to ``retries`` times. Running the same sweep again with the same
    ``out`` continues it (complete tasks are skipped); when ``out`` already holds it
    complete, it is returned as is. ``progress`` gets an ``Event`` per finished or lost task."""
    out = Path(out)
    if backend not in BACKENDS:
        raise UsageError(f"--backend: expected one of {', '.join(BACKENDS)}, got {backend!r}")
    if address is not None and backend != "ray":
        raise UsageError("--address: only with --backend ray")
    if retries < 0:
        raise UsageError(f"--retries: must be >= 0, got {retries}")
    if backend == "ray":
        import_ray()
    tasks = plan_sweep(spec)
    info = _info(spec, tasks, command, backend)
    if out.exists():
        if not out.is_dir():
            raise UsageError(f"{out}: exists and is not a folder")
        old = read_info(out)
        if old is not None and old.get("status") == "complete" and _plan_key(old) == _plan_key(info):
            done = SweepResult.open(out)
            done.skipped = len(tasks)
            return done
        if any(out.iterdir()):
            raise UsageError(f"{out}: exists and is not empty; choose another --out")
    work = work_path(out)
    resumed = work.is_dir()
    try:
        work.mkdir(parents=True, exist_ok=True)
        (work / "runs").mkdir(exist_ok=True)
        probe = work / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise UsageError(f"{out}: cannot write the sweep there: {e.strerror or e}") from None
    with locked(work):
        old = read_info(work) if resumed else None
        if resumed and old is not None and _plan_key(old) != _plan_key(info):
            raise UsageError(f"{out}: an unfinished, different sweep is in {work}; continue it with "
                             f"scorelab sweep --resume {out}, remove that folder, or choose another --out")
        if old is not None:
            info["created"] = old.get("created", info["created"])
        from scorelab.scenario.yamlread import dump_yaml

        (work / "scenario.yaml").write_text(dump_yaml(spec.scenario), encoding="utf-8")
        _write_json(work / "sweep.json", info)
        runs_dir = work / "runs"
        complete = [t for t in tasks if (runs_dir / t.id / "manifest.json").is_file()]
        todo = [t for t in tasks if t not in complete]
        lost_attempts(runs_dir)  # markers of an earlier, interrupted call: no attempt of this one
        track = Tracker(tasks, runs_dir, total=len(tasks), done=len(complete), max_attempts=retries + 1,
                         progress=progress, work=work, out=out)
        t0 = time.perf_counter()
        test_exit = os.environ.get(TEST_EXIT_ENV) or None
        if todo:
            if backend == "ray":
                run_ray(spec.scenario, todo, track, address, workers, test_exit)
            else:
                run_process(spec.scenario, todo, track, default_workers(spec, len(todo), workers), test_exit)
        missing = [t.id for t in tasks if not (runs_dir / t.id / "manifest.json").is_file()]
        if missing:  # pragma: no cover - every backend either finishes a task or raises
            raise UsageError(f"{out}: {len(missing)} task(s) did not finish ({missing[0]}, ...); run again to continue")
        runs = runs_table(tasks, spec.keys, runs_dir)
        summary = summary_table(runs, spec.keys)
        for name, df in (("runs", runs), ("summary", summary)):
            atomic.write_with(work / f"{name}.parquet", df.write_parquet)
        info.update(status="complete", finished=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                    wall_seconds=time.perf_counter() - t0, ran=len(todo), skipped=len(complete),
                    retried=sum(track.lost.values()))
        shutil.rmtree(attempts_dir(runs_dir), ignore_errors=True)
        for d in runs_dir.glob(".*.partial-*"):
            shutil.rmtree(d, ignore_errors=True)
        _write_json(work / "sweep.json", info)
        (work / ".lock").unlink(missing_ok=True)
        atomic.commit(work, out)  # (out, if it exists, is empty: checked above)
    return SweepResult(path=out, info=info, runs=runs, summary=summary, ran=len(todo), skipped=len(complete),
                       retried=sum(track.lost.values()))


def read_spec(out: str | Path) -> tuple[SweepSpec, dict[str, Any]]:
    """The spec and ``sweep.json`` of the sweep ``out``: the unfinished one in its hidden work
    folder if there is one, else the complete one (UsageError, one line, if neither)."""
    import yaml

    out = Path(out)
    for folder in (work_path(out), out):
        info = read_info(folder)
        if info is None or not (folder / "scenario.yaml").is_file():
            continue
        if info.get("format_version") != FORMAT_VERSION:
            raise UsageError(f"{folder}: sweep format version {info.get('format_version')} is not readable by this "
                             f"scorelab (reads {FORMAT_VERSION})")
        try:
            data = yaml.safe_load((folder / "scenario.yaml").read_text(encoding="utf-8"))
            return SweepSpec.from_json(info["spec"], data), info
        except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as e:
            raise UsageError(f"{folder}: damaged sweep folder: {type(e).__name__}: {e}") from None
    raise UsageError(f"{out}: no sweep to resume there (neither {work_path(out).name} nor a complete sweep)")


def resume_sweep(out: str | Path, **kw: Any) -> SweepResult:
    """Continue the unfinished sweep whose folder will be ``out`` (keywords as ``run_sweep``);
    a complete one is returned as it is."""
    out = Path(out)
    spec, info = read_spec(out)
    if not work_path(out).is_dir():
        done = SweepResult.open(out)
        done.skipped = len(done.info["tasks"])
        return done
    kw.setdefault("command", info.get("command", ""))
    return run_sweep(spec, out, **kw)
