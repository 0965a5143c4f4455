"""The synthetic world of a scenario: its population and contact layers, from ``run.seed``.

``scorelab.build_population`` is this function; the runner and each shard of a sharded run
build what they simulate with it.
"""

from __future__ import annotations

from typing import Literal

from scorelab.errors import UsageError
from scorelab.scenario.model import Scenario, layers_read
from scorelab.synth.contacts import Contacts, build_contacts
from scorelab.synth.population import Population, build_population


def build_world(scenario: Scenario, chunks: int = 1,
                layers: Literal["all", "read", "none"] = "all") -> tuple[Population, Contacts]:
    """Build the synthetic population and its contact layers for a scenario (seed from ``run.seed``):
    every enabled layer, or with ``layers="read"`` only those the day loop reads (misattribution
    to contacts, the social term), as ``run`` does, or none (the driver of a sharded run whose
    actors build their own). A layer is the same either way."""
    if layers not in ("all", "read", "none"):
        raise UsageError(f"layers must be 'all', 'read' or 'none', not {layers!r}")
    only = layers_read(scenario) if layers == "read" else None
    pop = build_population(scenario.population, scenario.run.seed, chunks=chunks)
    if layers == "none":
        return pop, Contacts({})
    return pop, build_contacts(pop, scenario.contacts, scenario.run.seed, chunks=chunks, only=only)
