"""Kernels compiled ahead by helper processes on a cold cache (``scorelab.compile_ahead``)."""

from __future__ import annotations

import json
import lzma
import pickle
import subprocess
import sys
import textwrap

import pytest

from scorelab import compile_ahead, compile_helpers


def test_the_list_holds_what_a_run_compiles_callees_first():
    """Every kernel a run calls from Python, with the argument types it is compiled for, is in
    the shipped list (else: ``python -m scorelab.compile_ahead record``), and the list puts each
    kernel after the kernels it calls. (Kernels loaded from the cache bring their callees' code
    with them, so a warm run shows the kernels called from Python only; their types, the plan's
    and the state's structures, are the ones that change when the engine does.) The helpers'
    order has each cached callee before the kernels that call it, the day loop's first when a
    run names it, and the loop's large tree cut into cached subtrees."""
    listed = compile_ahead.entries()
    assert len(listed) >= 100
    keys = {tuple(r["key"]) for r in listed}
    script = textwrap.dedent("""
        import json, tempfile
        from pathlib import Path
        import scorelab
        from scorelab import compile_ahead
        with tempfile.TemporaryDirectory() as tmp:
            scorelab.run("safeguarded", {"population.people": 2000, "run.days": 3}, out=Path(tmp) / "r",
                         check_memory=False)
        print(json.dumps(sorted(compile_ahead._overloads())))
        """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    ran = {tuple(k) for k in json.loads(proc.stdout.strip().splitlines()[-1])}
    assert len(ran) >= 10  # (the probe saw kernels: 14 to 22 seen, fewer when the population cache holds the world)
    missing = sorted(ran - keys)
    assert not missing, (f"{len(missing)} kernels a run compiles are not in the list, e.g. {missing[0][:2]}: "
                         "run `python -m scorelab.compile_ahead record`")
    place = {tuple(r["key"]): i for i, r in enumerate(listed)}
    for r in listed:
        assert all(place[tuple(c)] < place[tuple(r["key"])] for c in r["callees"] if tuple(c) in place), r["qualname"]
    from scorelab.runner import LOOP_ENTRY

    assert set(LOOP_ENTRY.values()) <= {f"{r['module']}.{r['qualname']}" for r in listed if r["entry"]}

    for loop in LOOP_ENTRY.values():
        order = compile_ahead.units(first=[loop])
        names = [f"{r['module']}.{r['qualname']}" for r in order]
        at = {tuple(r["key"]): i for i, r in enumerate(order)}
        top = names.index(loop)
        assert all(r["cached"] for r in order[:top]) and len(order[:top]) >= 2, "the loop's cached subtrees first"
        for r in order:
            assert all(at[tuple(c)] < at[tuple(r["key"])] for c in r["callees"] if tuple(c) in at), r["qualname"]


def test_a_helper_fills_the_cache_bottom_up_and_skips_stale_entries(tmp_path):
    """A helper given a list compiles its entry points and cached callees, callees first; a
    process that then calls them compiles nothing (it loads them); an entry naming a missing
    function or types a kernel does not take is skipped."""
    from numba.core import types

    pkg = tmp_path / "pkgh"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "kernels.py").write_text(textwrap.dedent("""
        import numba as nb

        @nb.njit(cache=True)
        def g(x):
            return x * 7

        @nb.njit(cache=True)
        def f(x):
            return g(x) + 1
        """))
    sig = (types.int64,)

    def row(qualname, at, callees=(), s=sig, entry=True):
        key = ("pkgh.kernels", qualname, str(s))
        return dict(module="pkgh.kernels", qualname=qualname, key=key, sig=s, callees=list(callees), position=at,
                    entry=entry, cached=not entry, seconds=1.0)

    rows = [row("f", 2, [("pkgh.kernels", "g", str(sig))]), row("g", 1, entry=False), row("gone", 0),
            row("g", 3, s=(types.none,))]
    listing = tmp_path / "list.pickle.xz"
    listing.write_bytes(lzma.compress(pickle.dumps(rows)))
    order = [r["qualname"] for r in compile_ahead.units(listing)]
    assert order.index("g") < order.index("f")
    env_code = f"import sys; sys.path.insert(0, {str(tmp_path)!r})\n"
    helper = env_code + textwrap.dedent(f"""
        from pathlib import Path
        from scorelab import compile_ahead
        print(compile_ahead.compile_listed(path=Path({str(listing)!r})))
        """)
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache"), "SCORELAB_COMPILE_HELPERS": "0"}
    import os
    env = {**os.environ, **env}
    done = subprocess.run([sys.executable, "-c", helper], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip().splitlines()[-1] == "2"  # f and g (the stale two skipped)
    user = env_code + textwrap.dedent("""
        from numba.core import event
        compiled = []
        class Count(event.Listener):
            def on_start(self, ev): compiled.append(1)
            def on_end(self, ev): pass
        event.register("numba:compile", Count())
        from pkgh.kernels import f
        print(f(6), len(compiled))
        """)
    out = subprocess.run([sys.executable, "-c", user], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == ["43", "0"]


def test_costly_callees_are_cached_where_another_process_could_compile_them_meanwhile(monkeypatch):
    """Cached: a costly callee beside another costly one under one caller (b and c under top,
    d and near under b), or called by two kernels (d, under b and c). Lazy: a costly callee that
    is its caller's only costly one (solo under alone: caching it would emit its tree twice, one
    after the other), a cheap one, and an entry point (it has machine code anyway). The choice
    takes the costliest first, and does not depend on the recording machine's speed."""
    def rows(speed):  # (seconds when recorded, on a machine ``speed`` times as slow)
        def row(name, seconds, callees=(), entry=False):
            return dict(key=name, callees=list(callees), seconds=seconds * speed, entry=entry)

        return [row("top", 18, ["b", "c", "cheap"], entry=True), row("b", 12, ["d", "near"]), row("c", 12, ["d"]),
                row("d", 9), row("near", 6), row("cheap", 0.6), row("alone", 18, ["solo"], entry=True),
                row("solo", 15)]

    monkeypatch.setattr(compile_ahead, "CACHED_CALLEES", 4)
    for speed in (1.0, 1.3, 0.5):
        assert compile_ahead.cached(rows(speed)) == {"b", "c", "d", "near"}
    monkeypatch.setattr(compile_ahead, "CACHED_CALLEES", 2)
    assert compile_ahead.cached(rows(1.0)) == {"b", "c"}
    monkeypatch.setattr(compile_ahead, "CACHED_CALLEES", 3)
    assert compile_ahead.cached(rows(1.0)) == {"b", "c", "d"}


def test_the_shipped_list_caches_the_day_loops_large_subtrees():
    from scorelab.compile_helpers import cached_callees

    assert {name.rsplit(".", 1)[1] for name in cached_callees()} == {
        "_local_phase", "behaviours", "consequences", "enter_list", "enter_one"}


def test_an_unreadable_list_is_an_empty_one(tmp_path):
    bad = tmp_path / "list.pickle.xz"
    bad.write_bytes(b"not a list")
    assert compile_ahead.entries(bad) == []
    assert compile_ahead.entries(tmp_path / "missing") == []


@pytest.mark.parametrize("value,expected", [("0", 0), ("3", 3), ("many", 0), ("-2", 0)])
def test_the_number_of_helpers_can_be_set(monkeypatch, value, expected):
    monkeypatch.setenv("SCORELAB_COMPILE_HELPERS", value)
    assert compile_helpers.helpers_wanted() == expected


def test_by_default_one_helper_per_other_core(monkeypatch):
    import os

    monkeypatch.delenv("SCORELAB_COMPILE_HELPERS", raising=False)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert compile_helpers.helpers_wanted() == min(compile_helpers.MAX_HELPERS, max(0, cores - 1))


def test_a_helper_starts_no_helpers(monkeypatch):
    monkeypatch.setenv("SCORELAB_COMPILE_HELPER", "1")
    monkeypatch.setattr(compile_helpers, "_started", type(compile_helpers._started)())
    assert compile_helpers.start_helpers(lambda: "stamp") == 0
