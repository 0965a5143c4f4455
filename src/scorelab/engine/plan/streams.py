"""The keys of the run's random streams, each named (docs/randomness.md)."""

from __future__ import annotations

from typing import Any

import numpy as np

from scorelab import rng
from scorelab.engine.plan.context import Context
from scorelab.engine.plan.helpers import stream_keys


def plan_streams(cx: Context) -> dict[str, Any]:
    """The keys of the run's streams, of each channel's stream and the fixed seed of each
    channel's coverage."""
    seed, C = cx.seed, cx.C
    c_keys = np.zeros((C, 2), dtype=np.uint64); c_cov_seed = np.zeros(C, dtype=np.uint64)
    for ci, name in enumerate(cx.chans):
        c_keys[ci] = stream_keys(seed, f"channel.{name}")
        c_cov_seed[ci] = rng.fixed_seed(seed, f"channel.{name}.coverage")
    return dict(
        seed_keys=stream_keys(seed, "seed"), c_keys=c_keys, c_cov_seed=c_cov_seed,
        k_events=stream_keys(seed, "events"), aware_seed=rng.fixed_seed(seed, "responses.awareness"),
        k_appeal=stream_keys(seed, "safeguards.appeal"), k_exit=stream_keys(seed, "lists.exit"),
        k_mis=stream_keys(seed, "misattribution"), k_lappeal=stream_keys(seed, "safeguards.appeals.listings"),
    )
