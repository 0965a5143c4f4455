"""scorelab: simulate social-credit and mass-scoring systems on synthetic populations.

The public surface is small: ``load`` a scenario (file, built-in name or dict),
``run`` it (a ``Result``: metrics, end state, ``save``/``Result.open``),
``resume`` a checkpointed run that stopped, ``build_population`` from it, and the ``Scenario`` model itself. Metric
functions live in ``scorelab.metrics``. Heavy modules (numba kernels, data
libraries) are imported only when used.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from scorelab.errors import Problem, ScenarioError, UsageError

__version__ = "0.1.0"

if TYPE_CHECKING:
    from scorelab.results import Result
    from scorelab.scenario.model import Scenario
    from scorelab.synth.contacts import Contacts
    from scorelab.synth.population import Population

__all__ = [
    "Problem", "Result", "Scenario", "ScenarioError", "UsageError", "__version__", "build_population", "load", "resume",
    "run",
]


def load(source: Any, overrides: dict[str, Any] | None = None, scale: float | None = None) -> "Scenario":
    """Load and validate a scenario from a YAML path, a built-in name or a dict; with ``scale``,
    simulate that share of its people, its absolute counts scaled with them (docs/scale.md)."""
    from scorelab.scenario.loader import load as _load

    return _load(source, overrides, scale)


def build_population(scenario: "Scenario", chunks: int = 1,
                     layers: Literal["all", "read"] = "all") -> tuple["Population", "Contacts"]:
    """Build the synthetic population and its contact layers for a scenario (seed from ``run.seed``):
    every enabled layer, or with ``layers="read"`` only those the day loop reads (misattribution
    to contacts, the social term), as ``run`` does. A layer is the same either way."""
    from scorelab.synth.world import build_world

    return build_world(scenario, chunks, layers)


def run(
    scenario: "Scenario | Any",
    overrides: dict[str, Any] | None = None,
    *,
    out: str | Path | None = None,
    people_state: bool = False,
    progress: Callable[[int, int], None] | None = None,
    check_memory: bool = True,
    checkpoint_every: int | None = None,
    shards: int | None = None,
    ray_address: str | None = None,
    threads: int = 1,
    cache: bool = True,
) -> "Result":
    """Build the population and run the day loop with its counterfactual twin.

    ``scenario`` is a Scenario, or anything ``load`` accepts (path, built-in name, dict).
    With ``out``, the results folder is written there atomically (``people_state`` adds
    ``people.parquet``). ``progress(done, total)`` is called after each step. Raises
    UsageError when the run would not fit in memory (``check_memory``) or ``out`` cannot
    be written. With ``checkpoint_every`` (steps; needs ``out``) the state is saved that
    often, and ``scorelab.resume(out)`` continues a run that stopped. With ``shards`` the
    population's regions are split over that many Ray actors (on the cluster at
    ``ray_address``, or a local Ray); the result is identical to a single-process run.
    The population and its contact layers come from the population cache when it holds them
    (docs/population-cache.md; the same arrays): ``cache=False`` builds them and stores nothing.
    With ``threads`` above 1 the regions are split over that many threads of this process (at
    most one per region), with the same result.
    """
    from scorelab.runner import run as _run

    return _run(scenario, overrides, out=out, people_state=people_state, progress=progress, check_memory=check_memory,
                checkpoint_every=checkpoint_every, shards=shards, ray_address=ray_address, threads=threads,
                cache=cache)


def resume(out: str | Path, progress: Callable[[int, int], None] | None = None,
           ray_address: str | None = None) -> "Result":
    """Continue a run started with ``checkpoint_every`` that stopped (crash, kill) before
    writing ``out``; the result is byte-identical to an uninterrupted run. A sharded run
    continues with its shards, on the Ray cluster at ``ray_address`` or a local Ray."""
    from scorelab.runner import resume as _resume

    return _resume(out, progress=progress, ray_address=ray_address)


def __getattr__(name: str) -> Any:
    if name == "Scenario":
        from scorelab.scenario.model import Scenario

        return Scenario
    if name == "Result":
        from scorelab.results import Result

        return Result
    raise AttributeError(f"module 'scorelab' has no attribute {name!r}")
