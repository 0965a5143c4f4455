"""The kernels' on-disk cache, keyed on every source file they are compiled from.

Numba caches a compiled function (``cache=True``) and checks only the file that defines it:
a change to a jitted function it calls in another file (``rng.py``, ``synth/drawn.py``), or to
a constant it reads from another module, leaves the cached machine code in use, silently.
Here every cached function of scorelab carries one stamp instead: a hash of the source of
every module that imports numba at its top level and of the modules whose names those import
(``compiled_sources``). Changing any of them recompiles every kernel (a few minutes, once);
stale code never runs.

Modules with cached functions import numba from here (``from scorelab.jit_cache import nb``),
so that the stamp is in place before their first function is decorated
(``tests/test_jit_cache.py`` checks this, and that a callee's change reaches its caller).

Kernels are also compiled once per function, not once per call site: numba types a constant
argument as its value (``Literal[int](3)``) and a small integer as itself (``int32``), and
compiles the callee anew for each such signature: ``enter_one`` was compiled 12 times,
``push_msg`` and ``book_carry`` 9 times each, a third of the cold compile. Calls from one
jitted scorelab function to another pass constants as their plain type and signed integers
as ``int64`` (``widened``); numba's integer arithmetic is in ``int64`` already, so results do
not change (the golden runs are byte-identical).

Each kernel is compiled by one process at a time (``compile_one_process_at_a_time``): a process
about to compile a function waits while another holds that function's compile lock (of the same
sources and cache, ``compile_scope``), then loads what that one compiled from the cache. The
workers of a sweep, of a sharded run or of the test suite started on a cold cache compile the
kernels once between them instead of once each (a cold compile is minutes of CPU), and compile
different functions at once.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numba as nb
from numba.core import caching, dispatcher, types

from scorelab import jit_lazy

__all__ = ["CompileWatch", "compile_lock_path", "compile_scope", "compile_watch", "compiled_sources", "install", "nb",
           "source_stamp", "widened"]

ROOT = Path(__file__).resolve().parent


def _module_files(root: Path) -> dict[str, Path]:
    """Module name -> file, for the package at ``root`` (named as its folder)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = (root.name, *path.relative_to(root).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _top_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    return [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]


def _imports_numba(tree: ast.Module, package: str) -> bool:
    """Whether a module imports numba at its top level, itself or through this module."""
    for n in _top_imports(tree):
        names = [a.name for a in n.names] if isinstance(n, ast.Import) else [n.module or ""]
        if any(x.split(".")[0] == "numba" or x == f"{package}.jit_cache" for x in names):
            return True
    return False


def compiled_sources(root: Path = ROOT) -> list[Path]:
    """The files jitted code is compiled from: every module importing numba at its top level,
    and the modules the names it imports come from (followed through re-exports). Jitted code
    reads no other module's globals."""
    files = _module_files(root)
    texts = {m: p.read_bytes() for m, p in files.items()}
    # (parsed when first needed: a module whose text names neither numba nor this module does not
    # import numba, and parsing all of them was a tenth of a second per run)
    trees = _Parsed(texts)

    def origins(module: str, name: str, seen: set[tuple[str, str]]) -> set[str]:
        found = {module}
        for n in _top_imports(trees[module]):
            if isinstance(n, ast.ImportFrom) and n.level == 0 and n.module in files:
                for a in n.names:
                    if (a.asname or a.name) == name and (n.module, a.name) not in seen:
                        seen.add((n.module, a.name))
                        sub = f"{n.module}.{a.name}"
                        found |= {sub} if sub in files else origins(n.module, a.name, seen)
        return found

    need: set[str] = set()
    for module, text in texts.items():
        if (b"numba" not in text and b"jit_cache" not in text) or not _imports_numba(trees[module], root.name):
            continue
        tree = trees[module]
        need.add(module)
        for n in _top_imports(tree):
            if isinstance(n, ast.Import):
                need |= {a.name for a in n.names if a.name in files}
            elif n.level == 0 and n.module in files:
                for a in n.names:
                    sub = f"{n.module}.{a.name}"
                    need |= {sub} if sub in files else origins(n.module, a.name, set())
    return sorted(files[m] for m in need)


class _Parsed(dict):
    """Module name -> its syntax tree, parsed on first access."""

    def __init__(self, texts: dict[str, bytes]) -> None:
        super().__init__()
        self._texts = texts

    def __missing__(self, module: str) -> ast.Module:
        tree = self[module] = ast.parse(self._texts[module])
        return tree


@functools.lru_cache(maxsize=None)
def source_stamp(root: Path = ROOT) -> str:
    """A hash of ``compiled_sources(root)``: their paths and contents.

    Finding those sources parses a third of the package (a fifth of a second, each run), so
    the stamp is kept in a small file named by a hash of every module's name and text: the
    stamp is a function of those alone, and hashing them takes milliseconds."""
    every = hashlib.sha256()
    for module, path in _module_files(root).items():
        every.update(module.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    user = os.getuid() if hasattr(os, "getuid") else 0
    memo = Path(tempfile.gettempdir()) / f"scorelab-stamp-{user}-{every.hexdigest()[:32]}"
    known = _read_memo(memo)
    if known:
        return known
    h = hashlib.sha256()
    for path in compiled_sources(root):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    stamp = h.hexdigest()
    with contextlib.suppress(OSError):  # (no memo: the next run finds the sources again)
        part = memo.with_name(f"{memo.name}.{os.getpid()}.part")
        part.write_text(stamp)
        os.replace(part, memo)
    return stamp


def _read_memo(memo: Path) -> str | None:
    """The stamp in ``memo`` if this user wrote it (the temporary folder is shared) and it is one."""
    try:
        if hasattr(os, "getuid") and memo.stat().st_uid != os.getuid():
            return None
        text = memo.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if len(text) == 64 and all(c in "0123456789abcdef" for c in text) else None


class _Stamped:
    """A numba cache locator for the functions of the package at ``_root`` whose source stamp
    is the package's, not the defining file's."""

    _root: Path

    def get_source_stamp(self) -> str:
        return source_stamp(self._root)

    @classmethod
    def from_function(cls, py_func, py_file):  # type: ignore[no-untyped-def]
        if not Path(py_file).resolve().is_relative_to(cls._root):
            return None
        return super().from_function(py_func, py_file)  # type: ignore[misc]


@functools.lru_cache(maxsize=None)
def install(root: Path = ROOT) -> None:
    """Give the cached functions of the package at ``root`` the package's stamp (first among
    numba's locators; where they keep the files is numba's choice, as before: ``NUMBA_CACHE_DIR``,
    else beside the source, else the user's cache folder)."""
    root = Path(root).resolve()
    bases = (caching.UserProvidedCacheLocator, caching.InTreeCacheLocator, caching.UserWideCacheLocator)
    ours = [type(f"Stamped{b.__name__}", (_Stamped, b), {"_root": root}) for b in bases]
    impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl  # (renamed in numba 0.61)
    impl._locator_classes[:0] = ours


def widened(t: types.Type) -> types.Type:
    """The type a jitted scorelab function is compiled for when called with an argument of type
    ``t`` from jitted code: a literal as its plain type, a signed integer as ``int64``."""
    t = types.unliteral(t)
    if isinstance(t, types.Integer) and t.signed and t.bitwidth < 64:
        return types.int64
    return t


@functools.lru_cache(maxsize=None)
def compile_once_per_function(root: Path = ROOT) -> None:
    """Calls between the jitted functions of the package at ``root`` compile the callee for
    ``widened`` argument types, so one signature serves every call site."""
    root = Path(root).resolve()
    original = dispatcher.Dispatcher.get_call_template

    def get_call_template(self, args, kws):  # type: ignore[no-untyped-def]
        code = getattr(self.py_func, "__code__", None)
        if code is not None and Path(code.co_filename).resolve().is_relative_to(root):
            args = tuple(widened(a) for a in args)
            kws = {k: widened(v) for k, v in kws.items()}
        return original(self, args, kws)

    dispatcher.Dispatcher.get_call_template = get_call_template


def compile_scope(root: Path = ROOT) -> str:
    """The sources' stamp and the cache their kernels go to, as one hash: processes wait for
    each other's compilations, and share helpers, only within one scope. The cache is
    ``NUMBA_CACHE_DIR`` when set, else named by the sources' place (numba keeps it beside them,
    or in the user's cache folder under their path): a process waiting for one that fills
    another cache would wait for nothing (a benchmark's empty cache held up the test suite of
    the same sources for minutes)."""
    from numba.core import config

    root = Path(root).resolve()
    place = config.CACHE_DIR or str(root)
    return hashlib.sha256(f"{source_stamp(root)}\0{place}".encode()).hexdigest()


def compile_lock_path(root: Path = ROOT, function: str = "") -> Path:
    """The lock file a compilation of ``function`` (``module.qualname``) of the package at
    ``root`` takes: one per function and ``compile_scope``."""
    key = hashlib.sha256(function.encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"scorelab-compile-{compile_scope(root)[:16]}-{key}.lock"


#: the open ``CompileWatch``es: waiting for another process's compilation counts as compiling
_watches: list[CompileWatch] = []


@functools.lru_cache(maxsize=None)
def compile_one_process_at_a_time(root: Path = ROOT) -> None:
    """Each compilation of a kernel of the package at ``root`` with machine code of its own (one
    that Python asks for, or a callee whose call tree is costly: ``compile_helpers.
    cached_callees``) holds an exclusive lock on ``compile_lock_path(root, function)``; numba
    looks in the disk cache before compiling, so a process that waited loads what the other
    compiled, and processes compile different kernels at once. Other callees are compiled
    without machine code (``jit_lazy``), take no lock and are not cached: their callers carry
    their code. No deadlock: a process takes locks down a path of the call tree, which has no
    cycles, and the threads of one process take numba's own compiler lock first, so no thread
    holds a file lock while it waits for a thread of its process. (No lock where ``fcntl`` is
    missing.)"""
    from numba.core import sigutils
    from numba.core.compiler_lock import global_compiler_lock

    from scorelab import compile_helpers  # (no compiled source: it imports nothing of the package)

    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: every process compiles for itself
        fcntl = None  # type: ignore[assignment]
    root = Path(root).resolve()
    original = dispatcher.Dispatcher.compile
    held = threading.local()

    def ours(code: Any) -> bool:
        return code is not None and Path(code.co_filename).resolve().is_relative_to(root)

    def compiling() -> list[tuple[Any, bool]]:
        """This thread's compilations of the package's kernels under way, each with whether it
        is a lazy callee's."""
        return held.__dict__.setdefault("stack", [])

    def nested(fndesc: Any) -> Any:
        stack = compiling()
        if not stack or not stack[-1][1]:
            return None
        fn = stack[-1][0].py_func
        return stack[-1][0] if (fndesc.modname, fndesc.qualname) == (fn.__module__, fn.__qualname__) else None

    def compile(self, sig):  # type: ignore[no-untyped-def]
        if not ours(getattr(self.py_func, "__code__", None)):
            return original(self, sig)
        stack = compiling()
        name = _name(self)
        with global_compiler_lock:
            if not stack:
                args = tuple(sigutils.normalize_signature(sig)[0])
                if jit_lazy.is_lazy(self.overloads.get(args)):  # (compiled as a callee, now asked for)
                    return jit_lazy.realize(self, args)
            lazy = bool(stack) and name not in compile_helpers.cached_callees()
            locked = not lazy and fcntl is not None and all(_name(d) != name for d, _ in stack)
            stack.append((self, lazy))
            try:
                if not locked:
                    return original(self, sig)
                return _compile_locked(self, sig, compile_lock_path(root, name), original, fcntl)
            finally:
                stack.pop()

    dispatcher.Dispatcher.compile = compile
    jit_lazy.install(lambda fndesc: fndesc.modname.split(".")[0] == root.name, nested)


def _name(disp: Any) -> str:
    return f"{disp.py_func.__module__}.{disp.py_func.__qualname__}"


def _compile_locked(disp: Any, sig: Any, lock: Path, original: Callable[..., Any], fcntl: Any) -> Any:
    """``original(disp, sig)`` holding the file lock ``lock`` (waiting for it counts as compiling
    to the open ``CompileWatch``es)."""
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:  # (a lock file another user made, a read-only temporary folder: no lock)
        return original(disp, sig)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            watches = list(_watches)
            for w in watches:
                w.start()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            finally:
                for w in watches:
                    w.end()
        return original(disp, sig)
    finally:
        os.close(fd)  # (releases the lock)


class CompileWatch:
    """Numba compiling while it is open: ``seconds`` of compilation (the outermost compilations,
    not counting the callees they compile again); ``on_start`` is called once, when the first
    compilation starts (loading from the cache is no compilation)."""

    def __init__(self, on_start: Callable[[], None] | None = None) -> None:
        self.seconds = 0.0
        self._on_start = on_start
        self._depth = 0
        self._since = 0.0

    def start(self) -> None:
        if self._depth == 0:
            if self._on_start is not None:
                self._on_start()
                self._on_start = None
            self._since = time.perf_counter()
        self._depth += 1

    def end(self) -> None:
        self._depth = max(0, self._depth - 1)
        if self._depth == 0:
            self.seconds += time.perf_counter() - self._since


@contextlib.contextmanager
def compile_watch(on_start: Callable[[], None] | None = None) -> Iterator[CompileWatch]:
    """A ``CompileWatch`` over the block: what a run's time spent compiling, so that its speed
    leaves it out and a user is told that the first run compiles."""
    from numba.core import event

    watch = CompileWatch(on_start)

    class _Listener(event.Listener):
        def on_start(self, ev: event.Event) -> None:
            watch.start()

        def on_end(self, ev: event.Event) -> None:
            watch.end()

    listener = _Listener()
    event.register("numba:compile", listener)
    _watches.append(watch)
    try:
        yield watch
    finally:
        event.unregister("numba:compile", listener)
        _watches.remove(watch)


install()
compile_once_per_function()
compile_one_process_at_a_time()


def _compile_ahead_on_a_cold_cache() -> None:
    # (imported here, not at the top: compile_helpers is no compiled source, so not in the stamp)
    from scorelab import compile_helpers

    compile_helpers.install(ROOT, lambda: compile_scope(ROOT))


_compile_ahead_on_a_cold_cache()
