"""The order of a step is written once (scorelab.engine.steps.PHASES): the single-process
kernel and the sharded driver call its functions in its order, and docs/day-loop.md lists it."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import textwrap
from pathlib import Path

from scorelab.engine import sharded
from scorelab.engine.kernel import phases
from scorelab.engine.steps import PHASES

ROOT = Path(__file__).resolve().parent.parent


def _call_name(node: ast.Call) -> str | None:
    f = node.func
    name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
    if name == "call" and node.args and isinstance(node.args[0], ast.Constant):
        return node.args[0].value  # drv.call("local", ...): the workers' ``local``
    return name


def _evaluated(node: ast.AST, names: set[str], out: list[str]) -> None:
    """Calls of ``names`` under ``node`` in the order they run (arguments before the call)."""
    for child in ast.iter_child_nodes(node):
        _evaluated(child, names, out)
    if isinstance(node, ast.Call) and _call_name(node) in names:
        out.append(_call_name(node))


def calls(fn, names: set[str], loop_over: str | None = None) -> list[str]:
    """The calls of ``names`` that ``fn`` makes, in the order they run; with ``loop_over``,
    those in the body of its ``for <loop_over> in ...`` loop only."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    if loop_over is not None:
        loops = [n for n in ast.walk(tree) if isinstance(n, ast.For) and isinstance(n.target, ast.Name)
                 and n.target.id == loop_over]
        assert len(loops) == 1, f"{fn.__name__}: one loop over {loop_over}"
        tree = ast.Module(body=loops[0].body, type_ignores=[])
    out: list[str] = []
    _evaluated(tree, names, out)
    return out


def test_the_kernel_step_follows_the_table():
    names = {p.kernel for p in PHASES} | {"_local_phase"}
    order: list[str] = []
    for name in calls(phases.step, names):
        order += calls(phases._local_phase, names) if name == "_local_phase" else [name]
    assert order == [p.kernel for p in PHASES]


def test_the_sharded_driver_follows_the_table():
    """The driver's step: the workers' local work (each worker: the watchlist sizes, then its
    regions' part A), the exchange, the national queues, their exchange, the stocks."""
    names = {p.sharded for p in PHASES} | {"local"}
    order: list[str] = []
    for name in calls(sharded._simulate_sharded, names, loop_over="s"):  # (the loop; its wrapper times it)
        order += calls(sharded.ShardWorker.local, names) if name == "local" else [name]
    expected = [p.sharded for p in PHASES]
    collapsed = [x for i, x in enumerate(expected) if i == 0 or x != expected[i - 1]]
    assert order == collapsed


def test_the_day_loop_page_lists_the_table():
    spec = importlib.util.spec_from_file_location("gen_step_docs", ROOT / "tools" / "gen_step_docs.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    text = gen.PAGE.read_text()
    assert text == gen.render(text), "run: python tools/gen_step_docs.py"
    for p in PHASES:
        assert p.title in text
