"""Kernels compiled ahead, in helper processes, when a process starts compiling on a cold cache.

Numba compiles a kernel when it is first called, callees first, one function after another:
a cold run spends two minutes of one core on it while the machine's other cores wait. A run
calls a dozen kernels from Python, though (the entry points: the population build's, the
plan's, the day loop's), each compiled with its callees inside it (``jit_lazy``) except a few
large subtrees, the cached callees (``cached``), and ``jit_cache`` lets processes share one
cache, a compile lock per entry point and cached callee. So when a process starts compiling a
scorelab kernel, it starts helper processes (``compile_helpers``: one per other core it may
use, at most seven) that compile those a run needs, entry point by entry point, each one's
cached callees first, bottom up, the day loop's first (the run names it:
``compile_helpers.compile_first``), from a list shipped with the package
(``kernel_signatures.pickle.xz``: each kernel, the argument types it is compiled for, the
kernels it calls, whether Python calls it, how long its compilation took and whether it is a
cached callee). The process itself goes on as before, in the run's order: a kernel that a
helper compiled, it loads from the cache, and one that a helper is compiling, it waits for.

Nothing depends on the list being current: a kernel missing from it is compiled when it is
called, as before, and an entry that no longer types (a function renamed, its argument types
changed) is skipped. ``tests/test_compile_ahead.py`` checks that the list holds what a run
compiles; ``python -m scorelab.compile_ahead record`` writes it anew (a cold compile of a
few presets, minutes). ``SCORELAB_COMPILE_HELPERS=0`` switches the helpers off.
"""

from __future__ import annotations

import functools
import importlib
import lzma
import os
import pickle
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# (jit_cache first: the stamps, compile locks and lazy callees in place before a kernel loads)
from scorelab import compile_helpers, jit_cache, jit_lazy
from scorelab.compile_helpers import ENV, SIGNATURES

#: How many callees to cache with machine code of their own, so that processes can split a
#: large tree between them (``cached``): the costliest that another process could compile
#: meanwhile (5 of 133 was the measured choice, docs/performance.md)
CACHED_CALLEES = 5
#: The presets whose runs the list is recorded from (``record``): together they call every kernel
RECORDED = ("safeguarded", "rongcheng-2018", "national-2027", "zhima-index", "corporate", "lending-feedback-all")


def entries(path: Path = SIGNATURES) -> list[dict[str, Any]]:
    """The list's entries, bottom of the call tree first: each a dict of ``module``,
    ``qualname``, ``sig`` (numba argument types), ``key``, ``callees`` (keys), ``entry``
    (whether Python calls it), ``seconds`` (its longest compilation when recorded, with every
    callee lazy: its call tree's, less what was compiled before), ``cached`` (a callee with
    machine code of its own: ``cached``) and ``height`` (0: calls no other listed
    kernel). An unreadable list is an empty one."""
    rows = compile_helpers.listed(path)
    by_key = {r["key"]: r for r in rows}

    @functools.lru_cache(maxsize=None)
    def height(key: tuple[str, str, str]) -> int:
        return 1 + max((height(c) for c in by_key[key]["callees"] if c in by_key), default=-1)

    for r in rows:
        r["height"] = height(r["key"])
        r.setdefault("entry", True)
        r.setdefault("seconds", 0.0)
        r.setdefault("cached", False)
    return sorted(rows, key=lambda r: (r["height"], r["position"]))


def units(path: Path = SIGNATURES, first: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The listed kernels compiled with machine code and cached (entry points, and callees
    marked ``cached``), in the order helpers compile them: entry point by entry point (those
    named in ``first``, ``module.qualname``, first, then the largest call tree first), the
    cached callees of each below it first, bottom up."""
    rows = entries(path)
    trees = _trees(rows)
    rank = {name: i for i, name in enumerate(first)}
    tops = sorted((r for r in rows if r["entry"]),
                  key=lambda r: (rank.get(f"{r['module']}.{r['qualname']}", len(rank)), -len(trees[r["key"]])))
    order: dict[Any, dict[str, Any]] = {}
    for top in tops:
        for r in rows:  # (bottom up)
            if (r["cached"] or r is top) and r["key"] in trees[top["key"]]:
                order.setdefault(r["key"], r)
    by_key = {r["key"]: r for r in rows}
    for r in order.values():  # (the cached callees in its tree, whose locks it would wait for)
        r["below"] = sorted(f"{by_key[k]['module']}.{by_key[k]['qualname']}" for k in trees[r["key"]]
                            if k != r["key"] and by_key[k]["cached"])
    return list(order.values())


def _trees(rows: list[dict[str, Any]]) -> dict[Any, frozenset[Any]]:
    """Each listed kernel's key -> the keys of the listed kernels in its call tree, itself included."""
    by_key = {r["key"]: r for r in rows}

    @functools.lru_cache(maxsize=None)
    def tree(key: Any) -> frozenset[Any]:
        return frozenset({key}).union(*(tree(c) for c in by_key[key]["callees"] if c in by_key))

    return {k: tree(k) for k in by_key}


def cached(rows: list[dict[str, Any]]) -> set[Any]:
    """The keys of the callees to cache with machine code of their own: at least
    ``CACHED_CALLEES`` of those whose compilation took longest when recorded and that another
    process could compile while this one compiles something else: a callee of several kernels,
    or one beside another such callee under the same caller. A costly callee that is its
    caller's only one (``step`` under ``run_steps``) is left lazy: caching it would only emit
    its whole tree twice, one after the other. The bar is the longest recorded time at which
    enough qualify, so a list recorded on a slower or faster machine caches the same ones."""
    by_key = {r["key"]: r for r in rows}
    callers: dict[Any, set[Any]] = {}
    for r in rows:
        for c in r["callees"]:
            callers.setdefault(c, set()).add(r["key"])

    def at(bar: float) -> set[Any]:
        costly = {r["key"] for r in rows if not r["entry"] and r["seconds"] >= bar}

        def costly_callees(key: Any) -> int:
            return sum(c in costly for c in by_key[key]["callees"])

        return {k for k in costly
                if len(callers.get(k, ())) >= 2 or any(costly_callees(p) >= 2 for p in callers.get(k, ()))}

    got: set[Any] = set()
    for bar in sorted({r["seconds"] for r in rows if not r["entry"]}, reverse=True):
        got = at(bar)
        if len(got) >= CACHED_CALLEES:
            break
    return got


def _lock_is_free(function: str) -> bool:
    """Whether no process holds the compile lock of ``function`` now."""
    import fcntl

    try:
        fd = os.open(jit_cache.compile_lock_path(jit_cache.ROOT, function), os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def compile_listed(parent: int | None = None, path: Path = SIGNATURES, first: Sequence[str] = ()) -> int:
    """Compile (or load) every listed kernel with machine code of its own, in ``units`` order,
    leaving for later those another process is compiling, itself or a cached callee in its tree
    (the helper would only wait for it); stop if ``parent`` (a process id) is gone. Returns how
    many it went through."""
    done = 0
    later: list[dict[str, Any]] = []
    for rounds, todo in enumerate((units(path, first), later)):
        for r in list(todo):
            if parent is not None and os.getppid() != parent:
                return done
            name = f"{r['module']}.{r['qualname']}"
            if rounds == 0 and not all(_lock_is_free(n) for n in (name, *r.get("below", ()))):
                later.append(r)
                continue
            try:
                target: Any = importlib.import_module(r["module"])
                for part in r["qualname"].split("."):
                    target = getattr(target, part)
                target.compile(r["sig"])
                done += 1
            except Exception:  # (a stale entry: the kernel is compiled when called, as before)
                continue
    return done


def _overloads() -> dict[tuple[str, str, str], Any]:
    """Every compiled overload of the package's module-level kernels in this process, by key."""
    import gc

    from numba.core.registry import CPUDispatcher

    found = {}
    for obj in gc.get_objects():
        if isinstance(obj, CPUDispatcher):
            fn = obj.py_func
            module = fn.__module__ or ""
            if module.startswith("scorelab.") and "<locals>" not in fn.__qualname__:
                for sig, cres in obj.overloads.items():
                    found[(module, fn.__qualname__, str(sig))] = (sig, cres)
    return found


def _record_here(out: Path) -> int:
    """Run the recorded presets on this process's (cold) cache and write the list to ``out``."""
    from numba.core import event

    import scorelab

    order: list[tuple[str, str, str]] = []
    seconds: dict[tuple[str, str, str], float] = {}
    started: list[float] = []

    class _Order(event.Listener):
        def on_start(self, ev: event.Event) -> None:
            started.append(time.perf_counter())

        def on_end(self, ev: event.Event) -> None:
            took = time.perf_counter() - started.pop()
            fn = getattr(ev.data.get("dispatcher"), "py_func", None)
            if fn is not None and ev.data.get("args") is not None:
                key = (fn.__module__ or "", fn.__qualname__, str(ev.data["args"]))
                order.append(key)
                seconds[key] = max(seconds.get(key, 0.0), took)

    event.register("numba:compile", _Order())
    # (every callee lazy while recording: a kernel then has machine code only if Python asked for
    # it, which marks an entry point, and each compilation's time is its whole call tree's)
    compile_helpers.cached_callees = lambda *_: frozenset()  # type: ignore[assignment]
    with tempfile.TemporaryDirectory() as tmp:
        for k, name in enumerate(RECORDED):
            scorelab.run(name, {"population.people": 3000, "run.days": 3}, out=Path(tmp) / name, check_memory=False,
                         threads=2 if k == 0 else 1)
    found = _overloads()
    owner = {id(cres.library): key for key, (_, cres) in found.items()}
    rows = []
    for key, (sig, cres) in found.items():
        callees = sorted({owner[id(lib)] for lib in getattr(cres.library, "_linking_libraries", ()) if id(lib) in owner}
                         - {key})
        rows.append(dict(module=key[0], qualname=key[1], key=key, sig=sig, callees=callees,
                         position=order.index(key) if key in order else len(order),
                         entry=not jit_lazy.is_lazy(cres), seconds=round(seconds.get(key, 0.0), 2)))
    rows.sort(key=lambda r: r["position"])
    marked = cached(rows)
    for r in rows:
        r["cached"] = r["key"] in marked
    out.write_bytes(lzma.compress(pickle.dumps(rows, protocol=4)))  # (10 KB: the types repeat)
    return len(rows)


def record(out: Path = SIGNATURES) -> int:
    """Write the list anew: the recorded presets run in a fresh process on an empty cache, so
    that every kernel is compiled there (minutes of CPU). Returns how many entries."""
    with tempfile.TemporaryDirectory() as cache:
        # (no population cache either: a world loaded from it would leave the build's kernels out)
        env = {**os.environ, "NUMBA_CACHE_DIR": cache, ENV: "0", "SCORELAB_NO_CACHE": "1"}
        proc = subprocess.run([sys.executable, "-m", "scorelab.compile_ahead", "record-here", str(out)], env=env,
                              capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"recording the kernels failed:\n{proc.stderr[-2000:]}")
    return int(proc.stdout.split()[-1])


def main(argv: list[str]) -> int:
    if argv[:1] == ["help"] and len(argv) >= 2:
        compile_listed(parent=int(argv[1]), first=argv[2:])
        return 0
    if argv[:1] == ["record-here"] and len(argv) == 2:
        print(_record_here(Path(argv[1])))
        return 0
    if argv[:1] == ["record"]:
        n = record(Path(argv[1]) if len(argv) > 1 else SIGNATURES)
        print(f"{n} kernels and their argument types written to {argv[1] if len(argv) > 1 else SIGNATURES}")
        return 0
    print("usage: python -m scorelab.compile_ahead record [FILE]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
