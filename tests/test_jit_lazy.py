"""Callees without machine code (scorelab.jit_lazy): a kernel compiled only for its callers is
not emitted or cached on its own; its callers are, with the same results; Python can still call
it, and then it is emitted and cached."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

KERNELS = """
    import numba as nb
    import numpy as np

    @nb.njit(cache=True)
    def inner(x):
        if x < 0:
            raise ValueError("negative", x)
        return x * 2 + 1

    @nb.njit(cache=True)
    def middle(a):
        s = 0
        for v in a:
            s += inner(v)
        return s

    @nb.njit(cache=True)
    def outer(a):
        return middle(a) + inner(a.size)
    """

SCRIPT = """
    import json, sys
    from pathlib import Path
    import numpy as np
    root = Path({root!r})
    sys.path.insert(0, str(root))
    from scorelab import jit_cache, jit_lazy
    jit_cache.install(root / "pkgl")
    jit_cache.compile_one_process_at_a_time(root / "pkgl")
    from pkgl.kernels import inner, middle, outer
    out = {{"outer": int(outer(np.arange(5)))}}
    try:
        outer(np.array([1, -3]))
    except ValueError as e:
        out["error"] = list(e.args)
    out["lazy"] = [name for name, f in (("inner", inner), ("middle", middle))
                   if any(jit_lazy.is_lazy(c) for c in f.overloads.values())]
    out["cached_before_call"] = sorted(p.name.split("-")[0] for p in (root / "pkgl" / "__pycache__").glob("*.nbi"))
    out["middle"] = int(middle(np.arange(3)))
    from numba.core import types
    inner.compile((types.int64,))  # (compiled by name from Python, as the compile helpers do)
    out["cached_after_call"] = sorted(p.name.split("-")[0] for p in (root / "pkgl" / "__pycache__").glob("*.nbi"))
    out["loaded"] = sorted(name for name, f in (("inner", inner), ("middle", middle), ("outer", outer))
                           if sum(f.stats.cache_hits.values()))
    out["compiled"] = sorted(name for name, f in (("inner", inner), ("middle", middle), ("outer", outer))
                             if sum(f.stats.cache_misses.values()))
    print(json.dumps(out))
    """


def _run(root: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(SCRIPT.format(root=str(root)))],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_callees_are_linked_not_emitted_and_emitted_when_python_calls_them(tmp_path):
    pkg = tmp_path / "pkgl"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "kernels.py").write_text(textwrap.dedent(KERNELS))
    cold = _run(tmp_path)
    assert cold["outer"] == sum(2 * v + 1 for v in range(5)) + 11
    assert cold["error"] == ["negative", -3]  # (a callee's exception, raised from the caller's code)
    assert cold["lazy"] == ["inner", "middle"]
    assert cold["cached_before_call"] == ["kernels.outer"]  # (its callees' code is inside it)
    assert cold["middle"] == 1 + 3 + 5  # (called from Python: emitted now)
    assert cold["cached_after_call"] == ["kernels.inner", "kernels.middle", "kernels.outer"]
    assert cold["compiled"] == ["inner", "middle", "outer"] and cold["loaded"] == []
    warm = _run(tmp_path)
    assert (warm["outer"], warm["error"], warm["middle"]) == (cold["outer"], cold["error"], cold["middle"])
    assert warm["loaded"] == ["inner", "middle", "outer"] and warm["compiled"] == [] and warm["lazy"] == []
