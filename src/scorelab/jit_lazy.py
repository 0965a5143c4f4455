"""Callees without machine code: a kernel compiled only to be called by other kernels is
optimised for them to link in, but not emitted, run or cached on its own.

Numba compiles each jitted function it meets into its own library, links every callee's
optimised module into its caller's and optimises that again, and emits machine code for every
library. A kernel called only from other kernels never runs its own machine code: each caller
carries the callee's code, inlined or linked in. Emitting it anyway was a third of the cold
compile's LLVM time and most of the cache (``docs/performance.md``, "What limits it"). Here a
kernel of the package compiled while another kernel of the package is being compiled (a
callee; ``jit_cache`` keeps a few large ones cached, so that processes can share them) is
finalised without being added to numba's engine and without optimising its module on its own
(numba optimised each level of a deep call tree anew with everything below it): its callers
link its module and optimise it with theirs, nothing emits it, and it is not cached (its
callers are, with its code inside). Its overload's entry point is a ``LazyEntry`` that keys it for its callers; if Python
calls it later, or compiles it by name, it is emitted then (``realize``), cached, and runs.

The callers' code is the same functions, optimised once where they were optimised at every
level; no fast-math is used, so results do not change (the golden runs are byte-identical, and
the day loop is as fast: ``docs/performance.md``). ``jit_cache`` decides which compilation is a
callee (``install``'s ``nested``) and realizes a lazy overload that Python asks for.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from typing import Any

from numba.core import caching, codegen, cpu, dispatcher

try:
    from numba.core.environment import Environment
except ImportError:  # pragma: no cover - numba before 0.58 kept it here
    from numba.core.lowering import Environment  # type: ignore[attr-defined,no-redef]

__all__ = ["LazyEntry", "install", "is_lazy", "realize"]

#: numba's prefix of an environment global's mangled name
_ENV_PREFIX = "_ZN08NumbaEnv"


class LazyEntry:
    """The entry point of a kernel compiled as a callee: a key for its callers' lowering, not
    yet machine code. Calling it emits the kernel first."""

    __slots__ = ("__weakref__", "dispatcher")

    def __init__(self, owner: Any) -> None:
        self.dispatcher = weakref.proxy(owner)

    def __call__(self, *args: Any, **kws: Any) -> Any:
        cres = next(c for c in self.dispatcher.overloads.values() if c.entry_point is self)
        return realize(self.dispatcher, tuple(cres.signature.args))(*args, **kws)


def is_lazy(cres: Any) -> bool:
    return isinstance(getattr(cres, "entry_point", None), LazyEntry)


def _finalize_without_emitting(library: Any) -> None:
    """``library.finalize()`` (its callees linked in, verified) without the module passes, which
    its callers run on it linked into theirs, and without adding it to numba's engine, which
    would emit its machine code."""

    def final_module() -> None:
        library._finalize_dynamic_globals()
        library._verify_declare_only_symbols()
        library._finalized = True

    library._finalize_final_module = final_module
    library._optimize_final_module = lambda: None
    try:
        library.finalize()
    finally:
        del library._finalize_final_module
        del library._optimize_final_module


def _emit(library: Any) -> None:
    """Emit the machine code of a library finalised by ``_finalize_without_emitting``, as
    numba's own ``_finalize_final_module`` would have (the object code kept for the cache)."""
    module = library._final_module
    module._CPUCodeLibrary__library = weakref.proxy(library)  # (what numba's object-code hook reads)
    library._codegen._add_module(module)
    library._finalize_specific()


def _set_linked_environments(library: Any) -> None:
    """Point the environment globals of the callees linked into ``library`` at their
    environments: a lazy callee's own module, where numba would have set it, is never emitted."""
    engine = library._codegen._engine
    for gv in library._final_module.global_variables:
        if gv.name.startswith(_ENV_PREFIX):
            env = Environment._memo.get(gv.name)
            if env is not None and engine.get_global_value_address(gv.name):
                library._codegen.set_env(gv.name, env)


def realize(owner: Any, args: tuple[Any, ...]) -> Any:
    """Emit the lazy overload of ``owner`` for argument types ``args``, put the emitted one in its
    place (callable from Python, cached) and return its entry point."""
    from numba.core.compiler_lock import global_compiler_lock

    with global_compiler_lock:
        cres = owner.overloads[args]
        if not is_lazy(cres):
            return cres.entry_point
        _emit(cres.library)
        cfunc = _original_get_executable(owner.targetctx, cres.library, cres.fndesc, cres.environment)
        _set_linked_environments(cres.library)
        owner.targetctx.insert_user_function(cfunc, cres.fndesc, [cres.library])
        done = cres._replace(entry_point=cfunc)
        owner.add_overload(done)
        owner._cache.save_overload(args, done)
        return cfunc


#: numba's own, before ``install``
_original_get_executable: Callable[..., Any] = cpu.CPUContext.get_executable


#: (ours, nested) of each package that compiles its callees lazily (``install``)
_packages: list[tuple[Callable[[Any], bool], Callable[[Any], Any]]] = []


def install(ours: Callable[[Any], bool], nested: Callable[[Any], Any]) -> None:
    """Compile a package's callees lazily. ``ours(fndesc)`` says whether a function is one of
    the package's; ``nested(fndesc)`` returns the dispatcher compiling it if that compilation is
    a callee's (inside another of the package's compilations), else None. With a numba that
    lacks what this relies on, nothing changes: every callee is emitted, as numba does."""
    if _patch_numba():
        _packages.append((ours, nested))


def _owner(fndesc: Any) -> Any:
    for _, nested in _packages:
        owner = nested(fndesc)
        if owner is not None:
            return owner
    return None


#: what ``_finalize_without_emitting`` and ``_emit`` use of numba's code libraries
_NEEDED = ("finalize", "_finalize_final_module", "_finalize_dynamic_globals", "_verify_declare_only_symbols",
           "_finalize_specific", "get_pointer_to_function")


@functools.lru_cache(maxsize=None)
def _patch_numba() -> bool:
    if not (all(hasattr(codegen.JITCodeLibrary, n) for n in _NEEDED) and hasattr(Environment, "_memo")
            and hasattr(caching, "CompileResultCacheImpl")):
        return False
    original_add_overload = dispatcher.Dispatcher.add_overload
    original_check_cachable = caching.CompileResultCacheImpl.check_cachable

    def get_executable(self, library, fndesc, env):  # type: ignore[no-untyped-def]
        if not getattr(library, "_finalized", True):
            owner = _owner(fndesc)
            if owner is not None:
                _finalize_without_emitting(library)
                return LazyEntry(owner)
        cfunc = _original_get_executable(self, library, fndesc, env)
        if any(ours(fndesc) for ours, _ in _packages):
            _set_linked_environments(library)
        return cfunc

    def add_overload(self, cres):  # type: ignore[no-untyped-def]
        if is_lazy(cres):  # (numba's table of compiled wrappers takes machine code only)
            self.overloads[tuple(cres.signature.args)] = cres
            return
        original_add_overload(self, cres)

    def check_cachable(self, cres):  # type: ignore[no-untyped-def]
        return not is_lazy(cres) and original_check_cachable(self, cres)

    cpu.CPUContext.get_executable = get_executable
    dispatcher.Dispatcher.add_overload = add_overload
    caching.CompileResultCacheImpl.check_cachable = check_cachable
    return True
