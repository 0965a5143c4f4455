"""Starting the compile helpers: when a process first compiles a kernel of the package on a
cold cache, it starts helper processes (``python -m scorelab.compile_ahead help PID``) that
compile the kernels a run needs ahead of it (``scorelab.compile_ahead`` says how).

This module sits below ``jit_cache``, which installs it while it loads: it imports nothing
of the package, and is told the package's root and compile scope (its source stamp and
cache), so that the helpers' ``compile_ahead`` (which uses ``jit_cache``) forms no import
cycle with it.
"""

from __future__ import annotations

import functools
import lzma
import os
import pickle
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

SIGNATURES = Path(__file__).resolve().parent / "kernel_signatures.pickle.xz"
#: At most this many helpers: past it, the call tree's critical path bounds the gain
MAX_HELPERS = 7
ENV = "SCORELAB_COMPILE_HELPERS"
_started = threading.Event()
#: the entry points this process says it will need, most needed first (``compile_first``)
_first: list[str] = []


def compile_first(*names: str) -> None:
    """Say which kernels (``module.qualname``) this process will need: helpers it starts later
    compile them before the others (the day loop's entry point is most of a cold compile, and
    which one a run needs, the single process's or the threads' and shards', only the run knows)."""
    _first[:] = [*names, *(n for n in _first if n not in names)]


def helpers_wanted() -> int:
    """How many helpers a process starting a cold compile starts: ``SCORELAB_COMPILE_HELPERS``
    if set, else one per core this process may use beyond its own, at most ``MAX_HELPERS``."""
    raw = os.environ.get(ENV, "").strip()
    if raw:
        try:
            return max(0, int(raw))
        except ValueError:
            return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(MAX_HELPERS, max(0, cores - 1))


def _group_lock(scope: str) -> bool:
    """Take, for this process's life, the lock of the helper group of the compile scope
    ``scope`` (the sources' stamp and their cache): one process of a machine starts helpers
    for them, the others do not."""
    import fcntl

    path = Path(tempfile.gettempdir()) / f"scorelab-helpers-{scope[:16]}.lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # (held by another process, or no lock to take)
        return False
    _group_lock.fd = fd  # type: ignore[attr-defined]  # (kept open: the lock lasts while this process does)
    return True


def start_helpers(scope: Callable[[], str]) -> int:
    """Start the helpers, once per process, unless this process is a helper, helpers are
    switched off, the list is missing, or another process started them for the same sources
    and cache (``scope()``). Returns how many."""
    if _started.is_set() or os.environ.get("SCORELAB_COMPILE_HELPER") or not SIGNATURES.exists():
        return 0
    _started.set()
    n = helpers_wanted()
    if n == 0 or not hasattr(os, "fork") or not _group_lock(scope()):
        return 0
    here = str(Path(__file__).resolve().parent.parent)  # (the helpers compile this copy of the package)
    env = {**os.environ, "SCORELAB_COMPILE_HELPER": "1", "NUMBA_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([here, *filter(None, [os.environ.get("PYTHONPATH")])])}
    for _ in range(n):
        subprocess.Popen([sys.executable, "-m", "scorelab.compile_ahead", "help", str(os.getpid()), *_first], env=env,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    return n


@functools.lru_cache(maxsize=None)
def cached_callees(path: Path = SIGNATURES) -> frozenset[str]:
    """The callees (``module.qualname``) that the shipped list marks ``cached``: those whose call
    tree takes seconds to compile and that another process could compile meanwhile
    (``compile_ahead.cached``). They are compiled with machine code and cached even as
    callees (``jit_cache``): processes then split a large call tree between them, each
    compiling some of these subtrees, instead of each compiling it all. Other callees are
    compiled without machine code (``jit_lazy``). Where the list is missing, none."""
    # (a missing or foreign list: every callee lazy, which is correct, only slower)
    return frozenset(f"{r['module']}.{r['qualname']}" for r in listed(path) if r.get("cached"))


def listed(path: Path = SIGNATURES) -> list[dict[str, Any]]:
    """The rows of the kernels' list at ``path`` as recorded (``compile_ahead.entries`` says what
    they hold); an unreadable list is an empty one: it only loses the head start."""
    try:
        return list(pickle.loads(lzma.decompress(path.read_bytes())))
    except Exception:
        return []


def install(root: Path, scope: Callable[[], str]) -> None:
    """Start the helpers when this process first compiles a kernel defined under ``root`` (not
    when it loads one from the cache); ``scope`` gives the compile scope, asked only then."""
    from numba.core import event

    class _FirstCompile(event.Listener):
        def on_start(self, ev: event.Event) -> None:
            if not _started.is_set():
                fn = getattr(ev.data.get("dispatcher"), "py_func", None)
                code = getattr(fn, "__code__", None)
                if code is not None and Path(code.co_filename).resolve().is_relative_to(root):
                    start_helpers(scope)

        def on_end(self, ev: event.Event) -> None:
            pass

    event.register("numba:compile", _FirstCompile())
