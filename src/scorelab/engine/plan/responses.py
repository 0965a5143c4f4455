"""Responses (awareness, deterrence, group sensitivities: docs/responses.md) and the
safeguards' appeals (docs/rollout-and-safeguards.md)."""

from __future__ import annotations

from typing import Any

import numpy as np

from scorelab.engine.plan.context import Context


def plan_responses(cx: Context) -> dict[str, Any]:
    """Whether people respond (never without scoring), awareness at the start (raised by
    transparency), its growth and maximum, deterrence, and each group's sensitivity (the last
    entry, firms', 1)."""
    s, pop = cx.s, cx.pop
    r = s.responses
    a0 = r.awareness.initial
    a0 = a0 + (1.0 - a0) * s.safeguards.transparency.awareness
    group_sens = np.ones(len(pop.group_names) + 1)
    for g, v in r.risk_sensitivity.items():
        group_sens[pop.group_names.index(g)] = v
    return dict(
        resp_on=1 if (r.enabled and s.scoring.enabled) else 0, aware0=float(a0),
        aware_growth=float(r.awareness.growth), aware_max=float(r.awareness.maximum),
        deterrence=float(r.deterrence), group_sens=group_sens,
    )


def plan_appeals(cx: Context) -> dict[str, Any]:
    """Appeals of records: the share contested, the share of those upheld, the delay in steps;
    and upheld appeals of wrongful listings themselves (their share, then their delay)."""
    ap = cx.s.safeguards.appeals
    return dict(
        appeal_p=float(ap.contested), appeal_success=float(ap.success), appeal_delay=max(0, cx.steps(ap.delay)),
        la_p=float(ap.listings.contested * ap.listings.success), la_delay=max(0, cx.steps(ap.listings.delay)),
    )
