"""The package's shape (docs/architecture.md): every module imports, imports never go round in
a cycle, the library never imports the command line, and no module or function is too long
to read.

The import graph is read from the source: an edge ``a -> b`` when module ``a`` imports the
scorelab module ``b`` (``import scorelab.b``, ``from scorelab.b import x``, ``from scorelab import b``;
``from scorelab.b import c`` where ``c`` is a module is an edge to ``scorelab.b.c``). Reading
``__version__`` from the package root is no edge: the root defines it before it imports
anything, and the root's functions import the modules that read it.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import scorelab

ROOT = Path(scorelab.__file__).resolve().parent
PACKAGE = ROOT.name
#: Longest module and function, in lines (a function from its ``def`` to its last line).
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 120


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Module name -> file, for the package at ``root``."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = (root.name, *path.relative_to(root).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(module: str, path: Path, files: dict[str, Path], *, everywhere: bool) -> set[str]:
    """The package's modules that ``module`` imports: at its top level (what runs when it is
    imported; ``if TYPE_CHECKING:`` blocks never run), or ``everywhere`` (inside functions and
    type-only imports too: every module it depends on)."""
    package = module.split(".")[0]
    base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: set[str] = set()

    def add_from(node: ast.ImportFrom) -> None:
        mod = ".".join(base[: len(base) - node.level + 1] + ([node.module] if node.module else [])) if node.level \
            else node.module or ""
        if mod.split(".")[0] != package:
            return
        for alias in node.names:
            sub = f"{mod}.{alias.name}"
            if sub in files:
                found.add(sub)
            elif not (mod == package and alias.name == "__version__"):
                found.add(mod)

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and _type_checking(node.test):
                visit(node.body if everywhere else [])
                visit(node.orelse)
                continue
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.split(".")[0] == package)
            elif isinstance(node, ast.ImportFrom):
                add_from(node)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not everywhere:
                if isinstance(node, ast.ClassDef):  # a class body runs at import time, its methods do not
                    visit([n for n in node.body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))])
                continue
            visit([n for n in ast.iter_child_nodes(node) if isinstance(n, ast.stmt)])

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    found.discard(module)
    return found


def graph(root: Path = ROOT, *, everywhere: bool) -> dict[str, set[str]]:
    files = module_files(root)
    return {m: imports(m, p, files, everywhere=everywhere) for m, p in files.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(g.get(v, ())):
            if w not in g:
                continue
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            strong(v)
    return found


def _describe(found: list[list[str]], g: dict[str, set[str]]) -> str:
    return "; ".join(" <-> ".join(c) + " (" + ", ".join(f"{a} -> {b}" for a in c for b in sorted(g[a]) if b in c) + ")"
                     for c in found)


@pytest.mark.parametrize("module", [m for m in module_files() if not m.endswith(".__main__")])
def test_every_module_imports(module):
    """Every module of the package imports on its own (``__main__`` runs the command, so it is left out)."""
    importlib.import_module(module)


def test_no_import_cycle_when_modules_load():
    """The imports that run when a module is imported (its top level) form no cycle."""
    g = graph(everywhere=False)
    assert not cycles(g), _describe(cycles(g), g)


def test_no_import_cycle_anywhere():
    """Counting the imports inside functions and the type-only ones as well, no module depends on
    itself through others: each layer only imports the layers below it (docs/architecture.md)."""
    g = graph(everywhere=True)
    assert not cycles(g), _describe(cycles(g), g)


def test_the_library_never_imports_the_command_line():
    """Only the command line itself (and ``python -m scorelab``) imports ``scorelab.cli``."""
    g = graph(everywhere=True)
    cli = f"{PACKAGE}.cli"
    bad = {m: sorted(d for d in deps if d == cli or d.startswith(cli + "."))
           for m, deps in g.items() if not (m == cli or m.startswith(cli + ".") or m == f"{PACKAGE}.__main__")}
    assert not {m: d for m, d in bad.items() if d}


def test_the_cycle_finder_finds_cycles(tmp_path):
    """The checks above can fail: a cycle through an import inside a function is found by the
    graph of every import and not by the top-level one, and a type-only import counts only there."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("__version__ = '1'\n")
    (pkg / "a.py").write_text("from pkg.sub import b\nfrom pkg import __version__\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("def f():\n    from pkg import a\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import d\n")
    (pkg / "d.py").write_text("from . import c\n")
    top, every = graph(pkg, everywhere=False), graph(pkg, everywhere=True)
    assert top["pkg.a"] == {"pkg.sub.b"} and top["pkg.sub.b"] == set() and top["pkg.d"] == {"pkg.c"}
    assert cycles(top) == []
    assert cycles(every) == [["pkg.a", "pkg.sub.b"], ["pkg.c", "pkg.d"]]


def _measured() -> list[Path]:
    return sorted(ROOT.rglob("*.py"))


def test_no_module_is_too_long():
    """A module holds one concept: none is over MAX_MODULE_LINES lines (split it by concept)."""
    long = {p.relative_to(ROOT).as_posix(): n for p in _measured()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert not long


def test_no_function_is_too_long():
    """No function is over MAX_FUNCTION_LINES lines (give its steps names of their own)."""
    long = {}
    for p in _measured():
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if n > MAX_FUNCTION_LINES:
                    long[f"{p.relative_to(ROOT).as_posix()}:{node.lineno} {node.name}"] = n
    assert not long


def test_the_architecture_page_names_every_kernel_module():
    """docs/architecture.md's table of the kernels names each module of engine/kernel/ (and no other),
    in an order in which each imports only those above it."""
    text = (ROOT.parent.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text[text.index("## The kernels"):]
    listed = [line.split("`")[1] for line in section.splitlines() if line.startswith("| `")]
    kernel = ROOT / "engine" / "kernel"
    assert sorted(listed) == sorted(p.stem for p in kernel.glob("*.py") if p.stem != "__init__")
    files = module_files()
    for i, name in enumerate(listed):
        deps = imports(f"{PACKAGE}.engine.kernel.{name}", kernel / f"{name}.py", files, everywhere=True)
        below = {f"{PACKAGE}.engine.kernel.{m}" for m in listed[i:]}
        assert not deps & below, f"{name} imports a kernel module listed after it: {sorted(deps & below)}"
