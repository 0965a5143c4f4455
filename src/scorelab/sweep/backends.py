"""Where a sweep's tasks run: a local process pool or Ray, and what happens when a worker dies.

Each task runs in a worker process with ``run_task`` (``scorelab.run`` into the task's
results folder, written atomically, so a completed task is exactly a folder with
``manifest.json``). A marker file per running attempt tells which attempts died with their
worker: the process pool retries them on a new pool, Ray with its ``max_retries``; either
way a task gives up after ``retries`` lost attempts.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from scorelab import atomic
from scorelab.errors import UsageError
from scorelab.sweep.design import SweepSpec, Task, settings

BACKENDS = ("process", "ray")
#: Test hook: the id of a task whose worker process exits (``os._exit(1)``) after its first
#: step, on its first attempt only (a marker file in the sweep's work folder remembers it).
TEST_EXIT_ENV = "SCORELAB_SWEEP_TEST_EXIT"
_ATTEMPTS = ".attempts"


def attempts_dir(runs_dir: Path) -> Path:
    """The folder of the markers of running attempts (beside ``runs``)."""
    return runs_dir.parent / _ATTEMPTS


def run_task(scenario: dict[str, Any], task: Task, runs_dir: str, test_exit: str | None = None) -> str:
    """Run one task into ``runs_dir/<task.id>`` with ``scorelab.run`` (in a worker process).
    A complete folder is left as it is; hidden staging folders of dead earlier attempts are
    removed first. While it runs, a marker ``.attempts/<task>@<pid>`` says so: one left
    behind is an attempt whose process died. ``test_exit`` (tests only): the id of a task
    whose process exits after its first step, on its first attempt only."""
    from scorelab.runner import run
    from scorelab.scenario.loader import load

    final = Path(runs_dir) / task.id
    if (final / "manifest.json").is_file():
        return str(final)
    attempts = attempts_dir(Path(runs_dir))
    attempts.mkdir(exist_ok=True)
    marker = attempts / f"{task.id}@{os.getpid()}"
    marker.touch()
    once = attempts / f"{task.id}.test-exit"

    def exit_once(done: int, total: int) -> None:
        if done >= 1 and not once.exists():
            once.touch()
            os._exit(1)

    try:
        atomic.remove_stale_staging(final)
        try:
            run(load(scenario, task.overrides), out=final, check_memory=False,
                progress=exit_once if test_exit == task.id else None)
        except UsageError:
            if (final / "manifest.json").is_file():  # another attempt finished it meanwhile
                return str(final)
            raise
    finally:
        marker.unlink(missing_ok=True)
    return str(final)


def lost_attempts(runs_dir: Path, task_ids: set[str] | None = None) -> dict[str, int]:
    """Markers left by attempts whose process died, by task (removed as they are counted)."""
    out: dict[str, int] = {}
    d = attempts_dir(runs_dir)
    if not d.is_dir():
        return out
    for m in sorted(d.glob("*@*")):
        tid = m.name.rsplit("@", 1)[0]
        if task_ids is None or tid in task_ids:
            out[tid] = out.get(tid, 0) + 1
            m.unlink(missing_ok=True)
    return out


def _times(n: int) -> str:
    return f"{n} time" if n == 1 else f"{n} times"


@dataclass(frozen=True)
class Event:
    """Progress of a sweep: a task ``done`` (its seconds, and on which ``attempt``), or an
    attempt ``lost`` with its worker, about to be retried (``attempt`` is the next one)."""

    kind: Literal["done", "lost"]
    task: Task
    done: int
    total: int
    seconds: float = 0.0
    attempt: int = 0


class Tracker:
    """What a sweep's backends report to: tasks done and attempts lost, as ``Event``s to
    ``progress``; raises when a task has lost ``max_attempts`` attempts."""

    def __init__(self, tasks: list[Task], runs_dir: Path, total: int, done: int, max_attempts: int,
                 progress: Callable[[Event], None] | None, work: Path, out: Path) -> None:
        self.tasks, self.runs_dir, self.total, self.done = tasks, runs_dir, total, done
        self.max_attempts, self.progress, self.work, self.out = max_attempts, progress, work, out
        self.lost: dict[str, int] = {}
        self.started = time.perf_counter()
        self.by_id = {t.id: t for t in tasks}

    def complete(self, t: Task) -> bool:
        return (self.runs_dir / t.id / "manifest.json").is_file()

    def finished(self, t: Task) -> None:
        self.done += 1
        for tid, n in lost_attempts(self.runs_dir, {t.id}).items():
            self.lost[tid] = self.lost.get(tid, 0) + n
        attempt = self.lost.get(t.id, 0) + 1
        if self.progress is not None:
            try:
                secs = float(json.loads((self.runs_dir / t.id / "manifest.json").read_text()).get("wall_seconds", 0.0))
            except (OSError, ValueError):
                secs = 0.0
            self.progress(Event("done", t, self.done, self.total, seconds=secs, attempt=attempt))

    def count_lost(self, tids: dict[str, int]) -> None:
        for tid, n in tids.items():
            self.lost[tid] = self.lost.get(tid, 0) + n
            t = self.by_id.get(tid)
            if t is None:
                continue
            if self.lost[tid] >= self.max_attempts:
                raise UsageError(
                    f"task {tid} ({t.describe()}): its worker process died {_times(self.lost[tid])} (killed, out of "
                    f"memory?); giving up. Completed runs are kept: rerun the same command or "
                    f"scorelab sweep --resume {self.out} to continue")
            if self.progress is not None:
                self.progress(Event("lost", t, self.done, self.total, attempt=self.lost[tid] + 1))

    def task_failed(self, t: Task, e: BaseException) -> UsageError:
        first = (str(e).strip().splitlines() or [""])[0]
        what = first if isinstance(e, UsageError) else f"{type(e).__name__}: {first}" if first else type(e).__name__
        return UsageError(f"task {t.id} ({t.describe()}) failed: {what}; completed runs are kept in {self.work}")


def end_with_parent(parent: int) -> None:
    """Pool worker initializer: the worker ends when ``parent`` (the sweep's driver) dies,
    even by SIGKILL, rather than live on running tasks nobody will collect. On Linux the
    kernel sends it SIGKILL (``prctl(PR_SET_PDEATHSIG)``); elsewhere a daemon thread checks
    ``os.getppid()`` every half second."""
    import signal
    import sys
    import threading

    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(1, int(signal.SIGKILL), 0, 0, 0) == 0:  # 1: PR_SET_PDEATHSIG
                if os.getppid() != parent:  # the driver died before the call
                    os._exit(1)
                return
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="scorelab-parent-watch", daemon=True).start()


def process_pool(workers: int) -> Any:
    """A ``concurrent.futures.ProcessPoolExecutor`` of ``workers`` spawned processes, each of
    which ends when this process dies (``end_with_parent``)."""
    import concurrent.futures as cf
    import multiprocessing as mp

    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                  initializer=end_with_parent, initargs=(os.getpid(),))


def run_process(scenario: dict[str, Any], tasks: list[Task], track: Tracker, workers: int,
                 test_exit: str | None) -> None:
    """A local process pool (spawned workers, which die with this process). When a worker
    dies the pool breaks; the unfinished tasks go to a new pool, and each task that was
    running counts an attempt."""
    import concurrent.futures as cf
    from concurrent.futures.process import BrokenProcessPool

    pending = [t for t in tasks if not track.complete(t)]
    blind = 0
    while pending:
        broken = False
        reported: set[str] = set()
        ex = process_pool(max(1, min(workers, len(pending))))
        try:
            futs = {ex.submit(run_task, scenario, t, str(track.runs_dir), test_exit): t for t in pending}
            for f in cf.as_completed(futs):
                t = futs[f]
                try:
                    f.result()
                except BrokenProcessPool:
                    broken = True
                    continue
                except BaseException as e:  # noqa: BLE001 - reported as one line, the rest cancelled
                    ex.shutdown(wait=True, cancel_futures=True)
                    raise track.task_failed(t, e) from None
                track.finished(t)
                reported.add(t.id)
        finally:
            ex.shutdown(wait=True, cancel_futures=True)
        for t in pending:  # finished in a worker beside the lost one, but its result went with the pool
            if t.id not in reported and track.complete(t):
                track.finished(t)
        pending = [t for t in pending if not track.complete(t)]
        if broken or pending:
            lost = lost_attempts(track.runs_dir, {t.id for t in pending})
            if not lost:
                blind += 1
                if blind >= track.max_attempts:
                    raise UsageError(f"the process pool broke {blind} times before any task started; giving up "
                                     f"(completed runs are kept in {track.work})")
            track.count_lost(lost)


def import_ray() -> Any:
    """Ray, or a UsageError saying how to install it."""
    from scorelab.engine.ray_start import import_ray as _import

    return _import("--backend ray")


def run_ray(scenario: dict[str, Any], tasks: list[Task], track: Tracker, address: str | None,
             workers: int | None, test_exit: str | None) -> None:
    """Ray tasks (one CPU each), retried by Ray when their worker dies (``max_retries``).
    Uses the Ray instance already initialised in this process, else starts or joins one
    (``address``) and shuts it down at the end."""
    from scorelab.engine.ray_start import start_ray

    ray, started = start_ray("--backend ray", address, num_cpus=workers)
    try:
        remote = ray.remote(num_cpus=1, max_retries=max(0, track.max_attempts - 1), retry_exceptions=False)(run_task)
        ref = ray.put(scenario)
        pending = [t for t in tasks if not track.complete(t)]
        refs = {remote.remote(ref, t, str(track.runs_dir), test_exit): t for t in pending}
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            for r in ready:
                t = refs.pop(r)
                try:
                    ray.get(r)
                except ray.exceptions.RayTaskError as e:
                    for other in refs:
                        ray.cancel(other)
                    raise track.task_failed(t, e.cause if getattr(e, "cause", None) is not None else e) from None
                except ray.exceptions.RayError as e:  # the worker died more often than max_retries allows
                    for other in refs:
                        ray.cancel(other)
                    lost = lost_attempts(track.runs_dir, {t.id})
                    raise UsageError(
                        f"task {t.id} ({t.describe()}): its worker died {_times(max(lost.get(t.id, 0), track.max_attempts))} "
                        f"({type(e).__name__}); giving up. Completed runs are kept: rerun the same command or "
                        f"scorelab sweep --resume {track.out} to continue") from None
                track.finished(t)
    finally:
        if started:
            ray.shutdown()


def default_workers(spec: SweepSpec, n_tasks: int, workers: int | None) -> int:
    """Worker processes: ``workers`` (checked against memory), else as many as there are
    CPUs and tasks, fewer if that many runs at once would not fit in memory."""
    from scorelab import memory
    from scorelab.scenario.loader import load

    peak = max(memory.estimate(load(spec.scenario, s.values)).total for s in settings(spec)[:1000])
    avail = memory.available()
    fit = max(1, int(memory.HEADROOM * avail // max(peak, 1))) if avail is not None else n_tasks
    if workers is not None:
        if workers < 1:
            raise UsageError(f"--workers: must be at least 1, got {workers}")
        if workers > fit and min(workers, n_tasks) > fit:
            raise UsageError(f"--workers {workers}: each run needs up to about {memory.human(peak)} of memory and about "
                             f"{memory.human(avail or 0)} is available: at most {fit} at once; use --workers {fit}")
        return workers
    return max(1, min(os.cpu_count() or 1, n_tasks, fit))
