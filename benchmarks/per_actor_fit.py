"""What ``bench_shard_memory.py`` and ``bench_city_build.py`` share: the least-squares fit
of each actor's own memory as a constant plus a part divided by the actors, and its verdict
(``run_all.py`` reads these two lines)."""

from __future__ import annotations

import numpy as np

MIB = 2**20


def report_fit(counts: list[int], means: list[float], people: int) -> None:
    """Fit own = c + s / N over the actor counts and the mean own memory of each, print c and
    s (bytes and bytes a person), the largest gap to a measured mean, and whether the fit holds
    within 10 %. Nothing with fewer than two counts."""
    if len(counts) < 2:
        return
    x = 1.0 / np.array(counts, dtype=float)
    A = np.stack([np.ones_like(x), x], axis=1)
    (c, s), *_ = np.linalg.lstsq(A, np.array(means), rcond=None)
    gap = max(abs(c + s * xi - m) / m for xi, m in zip(x, means))
    print(f"fit own = c + s / N: c = {c / MIB:.0f} MiB ({c / people:.0f} B/person), s = {s / MIB:.0f} MiB "
          f"({s / people:.0f} B/person); largest gap to a measured mean {100 * gap:.1f} %")
    ok = s > 0 and gap < 0.10
    print(f"target: own memory falls as 1/N plus a constant (fit within 10 %): {'met' if ok else 'not met'}")
