"""The kernels' on-disk cache cannot go stale: every cached function is stamped with the
source of every file jitted code is compiled from (scorelab.jit_cache)."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from scorelab import jit_cache

ROOT = jit_cache.ROOT


def test_every_module_with_cached_functions_imports_numba_through_the_stamp():
    """A module that decorates with cache=True must import ``nb`` from scorelab.jit_cache, so
    that the stamp is in place before its first function is decorated."""
    for path in sorted(ROOT.rglob("*.py")):
        text = path.read_text()
        if "cache=True" not in text or path.name == "jit_cache.py":
            continue
        tree = ast.parse(text)
        top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        assert any(isinstance(n, ast.ImportFrom) and n.module == "scorelab.jit_cache" for n in top), path
        assert not any(isinstance(n, ast.Import) and any(a.name == "numba" for a in n.names) for n in top), path


def test_the_stamp_covers_the_kernels_and_what_they_call_and_read():
    names = {p.relative_to(ROOT).as_posix() for p in jit_cache.compiled_sources()}
    assert {"engine/kernel/phases.py", "engine/kernel/stores.py", "engine/kernel/constants.py", "engine/plan/__init__.py", "engine/plan/params.py", "engine/plan/helpers.py",
            "engine/simulation.py", "rng.py", "synth/drawn.py", "synth/contacts.py", "synth/population.py",
            "engine/lending.py", "engine/prefetch.py"} <= names
    assert not any(n.startswith(("cli/", "report/")) for n in names), "files jitted code never reads do not recompile it"


def test_changing_any_compiled_source_changes_the_stamp(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # (the stamps' memos)
    copy = tmp_path / "scorelab"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = jit_cache.source_stamp(copy)
    assert before == jit_cache.source_stamp.__wrapped__(copy)
    for rel in ("rng.py", "synth/drawn.py", "errors.py"):
        f = copy / rel
        f.write_text(f.read_text() + "\n# changed\n")
        after = jit_cache.source_stamp.__wrapped__(copy)
        assert after != before, rel
        before = after
    f = copy / "cli" / "__init__.py"
    f.write_text(f.read_text() + "\n# changed\n")
    assert jit_cache.source_stamp.__wrapped__(copy) == before


def test_the_stamp_is_kept_in_a_memo_and_a_damaged_memo_is_found_again(tmp_path, monkeypatch):
    """The stamp is kept in a file named by every module's text, read by the next process
    instead of parsing the package; a damaged memo is ignored and written anew."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    _package(tmp_path, 1)
    root = tmp_path / "pkgx"
    stamp = jit_cache.source_stamp.__wrapped__(root)
    memo, = tmp_path.glob("scorelab-stamp-*")
    assert memo.read_text() == stamp
    with monkeypatch.context() as m:
        m.setattr(jit_cache, "compiled_sources", lambda *a: pytest.fail("the memo was not read"))
        assert jit_cache.source_stamp.__wrapped__(root) == stamp
    memo.write_text("not a stamp")
    assert jit_cache.source_stamp.__wrapped__(root) == stamp and memo.read_text() == stamp
    (root / "callee.py").write_text((root / "callee.py").read_text() + "\n# changed\n")
    assert jit_cache.source_stamp.__wrapped__(root) != stamp and len(list(tmp_path.glob("scorelab-stamp-*"))) == 2


def _package(root: Path, value: int) -> None:
    pkg = root / "pkgx"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "callee.py").write_text(textwrap.dedent(f"""
        import numba as nb

        @nb.njit
        def f():
            return {value}
        """))
    (pkg / "caller.py").write_text(textwrap.dedent("""
        import numba as nb

        from pkgx.callee import f

        @nb.njit(cache=True)
        def g():
            return f()
        """))


def _run(root: Path) -> int:
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        sys.path.insert(0, {str(root)!r})
        from scorelab.jit_cache import install
        install(Path({str(root)!r}) / "pkgx")
        from pkgx.caller import g
        print(g())
        """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip())


def test_a_change_to_a_callee_in_another_file_reaches_its_cached_caller(tmp_path):
    """Numba alone checks only the caller's file and would run the cached caller with the old
    callee (1); stamped, the caller is compiled again (2)."""
    _package(tmp_path, 1)
    assert _run(tmp_path) == 1
    assert list((tmp_path / "pkgx" / "__pycache__").glob("caller.g-*.nbi")), "the caller was cached"
    _package(tmp_path, 2)
    assert _run(tmp_path) == 2


def test_a_jitted_callee_is_compiled_once_for_every_constant_and_small_integer(tmp_path):
    """Called from jitted code with constants 0, 1, 2 and -1, an int32, an int16 and an int64,
    a callee of the package is compiled once (for int64); numba alone compiles it six times
    (a signature per literal, and one per integer width)."""
    pkg = tmp_path / "pkgy"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "kernels.py").write_text(textwrap.dedent("""
        import numba as nb
        import numpy as np

        @nb.njit
        def callee(k, x):
            return k * 3 + x

        @nb.njit
        def caller(a, b):
            return (callee(0, a) + callee(1, a) + callee(2, b) + callee(-1, np.int64(a))
                    + callee(np.int32(b), a) + callee(np.int16(b), np.int16(1)))
        """))
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        import numpy as np
        sys.path.insert(0, {str(tmp_path)!r})
        from scorelab.jit_cache import compile_once_per_function
        if sys.argv[1] == "once":
            compile_once_per_function(Path({str(tmp_path)!r}) / "pkgy")
        from pkgy.kernels import callee, caller
        print(caller(np.int32(5), np.int32(7)), len(callee.signatures))
        """)
    out = {}
    for mode in ("once", "plain"):
        done = subprocess.run([sys.executable, "-c", script, mode], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        out[mode] = done.stdout.split()
    assert out["once"][0] == out["plain"][0] == str(0 * 3 + 5 + 1 * 3 + 5 + 2 * 3 + 7 - 3 + 5 + 7 * 3 + 5 + 7 * 3 + 1)
    assert out["once"][1] == "1"
    assert int(out["plain"][1]) >= 5


def test_a_compile_watch_times_compilation_and_says_so_once():
    """A watch calls ``on_start`` once, at the first compilation, and counts the outermost
    compilations' time (a callee compiled inside its caller's compilation is not counted
    twice); code already compiled is no compilation."""
    import numba

    @numba.njit
    def inner(x):
        return x + 1

    @numba.njit
    def outer(x):
        return inner(x) * 2

    told = []
    with jit_cache.compile_watch(lambda: told.append(1)) as watch:
        assert outer(3) == 8
    assert told == [1] and watch.seconds > 0
    with jit_cache.compile_watch(lambda: told.append(2)) as again:
        assert outer(4) == 10
    assert told == [1] and again.seconds == 0


def test_a_run_says_when_it_compiles_and_leaves_compilation_out_of_its_time(tmp_path):
    """A run tells ``on_compile`` exactly when it compiled, and its manifest keeps the compile
    time apart from the wall time (it leaked into the speed a first run reported)."""
    import scorelab
    from scorelab.runner import execute

    told = []
    scenario = scorelab.load("safeguarded", {"run.days": 3, "run.burn_in": 0, "population.people": 300})
    result = execute(scenario, on_compile=lambda: told.append(1))
    seconds = result.manifest["compile_seconds"]
    assert (told == [1]) == (seconds > 0) and told in ([], [1])
    assert result.manifest["wall_seconds"] >= 0


def test_a_threaded_run_leaves_compilation_out_of_its_loop_time():
    """The day loop's time, and so its agent-days per second, leaves out what numba compiled
    during it on threads as in one process: a first threaded Rongcheng run had reported 54.9 s
    of loop in a run of 1.9 s without its compilation (365,826 agent-days/s instead of about
    1e8). On a warm cache nothing compiles and the bound holds as well."""
    import scorelab
    from scorelab.runner import execute

    scenario = scorelab.load("safeguarded", {"run.days": 3, "run.burn_in": 0, "population.people": 3000})
    m = execute(scenario, threads=2).manifest
    assert m["threads"] == 2 and m["loop_seconds"] <= m["wall_seconds"] + 0.05, m


def test_processes_on_a_cold_cache_compile_a_kernel_once_between_them(tmp_path):
    """Two processes needing the same uncompiled kernel while a third holds its compile lock
    both wait; then one compiles it and the other loads it from the cache (numba alone would
    compile it in each: minutes of CPU per worker of a sweep started on a cold cache). A process
    needing another kernel meanwhile compiles it at once: the locks are per function."""
    import fcntl
    import os
    import time

    pkg = tmp_path / "pkgz"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "kernels.py").write_text(textwrap.dedent("""
        import numba as nb

        @nb.njit(cache=True)
        def g(x):
            return x * 7

        @nb.njit(cache=True)
        def h(x):
            return x + 1
        """))
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from numba.core import event
        sys.path.insert(0, {str(tmp_path)!r})
        from scorelab.jit_cache import compile_one_process_at_a_time, compile_watch
        compile_one_process_at_a_time(Path({str(pkg)!r}))
        from pkgz.kernels import g, h
        compiled = []
        class Count(event.Listener):
            def on_start(self, ev): compiled.append(1)
            def on_end(self, ev): pass
        event.register("numba:compile", Count())
        with compile_watch() as watch:
            print(g(6), len(compiled), watch.seconds > 0)
        """)
    lock = jit_cache.compile_lock_path(pkg, "pkgz.kernels.g")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(2)]
        other = subprocess.run([sys.executable, "-c", script.replace("print(g(6)", "print(h(41)")],
                               capture_output=True, text=True, timeout=300)
        assert other.returncode == 0 and other.stdout.split()[:2] == ["42", "1"], other.stderr
        time.sleep(1)
        assert all(p.poll() is None for p in procs), "a process compiled while another held the lock"
    finally:
        os.close(fd)
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        outs.append(out.split())
    assert [o[0] for o in outs] == ["42", "42"]
    assert sorted(int(o[1]) for o in outs) == [0, 1], "one process compiled, the other loaded from the cache"
    assert [o[2] for o in outs] == ["True", "True"], "the wait counts as compile time"


def test_processes_filling_different_caches_do_not_wait_for_each_other(tmp_path, monkeypatch):
    """The compile locks and the helper group are per compile scope: the same sources compiled
    into another cache (``NUMBA_CACHE_DIR``, or another checkout's own) take other locks, since
    what one process compiles into its cache the other could not load from its own."""
    import tempfile

    from numba.core import config

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # (the stamps' memos)
    for name in ("a", "b"):
        (tmp_path / name / "pkgs").mkdir(parents=True)
        (tmp_path / name / "pkgs" / "__init__.py").write_text("")
        (tmp_path / name / "pkgs" / "k.py").write_text("from numba import njit\n\n@njit(cache=True)\ndef f(x):\n"
                                                       "    return x\n")
    a, b = tmp_path / "a" / "pkgs", tmp_path / "b" / "pkgs"
    monkeypatch.setattr(config, "CACHE_DIR", "")
    assert jit_cache.source_stamp(a) == jit_cache.source_stamp(b)  # (the same sources)
    assert jit_cache.compile_scope(a) != jit_cache.compile_scope(b)  # (two checkouts, each its own cache)
    assert jit_cache.compile_lock_path(a, "pkgs.k.f") != jit_cache.compile_lock_path(b, "pkgs.k.f")
    monkeypatch.setattr(config, "CACHE_DIR", str(tmp_path / "one"))
    shared = jit_cache.compile_lock_path(a, "pkgs.k.f")
    assert shared == jit_cache.compile_lock_path(b, "pkgs.k.f")  # (one cache folder: they take turns)
    monkeypatch.setattr(config, "CACHE_DIR", str(tmp_path / "other"))
    assert jit_cache.compile_lock_path(a, "pkgs.k.f") != shared
