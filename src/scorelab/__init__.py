"""scorelab: simulate social-credit and mass-scoring systems on synthetic populations.

The public surface is small: ``load`` a scenario (file, built-in name or dict),
``build_population`` from it, and the ``Scenario`` model itself. Heavy
modules (numba kernels, plotting) are imported only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scorelab.errors import Problem, ScenarioError

__version__ = "0.1.0"

if TYPE_CHECKING:
    from scorelab.engine.simulation import RunOutput
    from scorelab.scenario.model import Scenario
    from scorelab.synth.contacts import Contacts
    from scorelab.synth.population import Population

__all__ = ["Problem", "Scenario", "ScenarioError", "__version__", "build_population", "load", "run"]


def load(source: Any, overrides: dict[str, Any] | None = None) -> "Scenario":
    """Load and validate a scenario from a YAML path, a built-in name or a dict."""
    from scorelab.scenario.loader import load as _load

    return _load(source, overrides)


def build_population(scenario: "Scenario", chunks: int = 1) -> tuple["Population", "Contacts"]:
    """Build the synthetic population and its contact layers for a scenario (seed from ``run.seed``)."""
    from scorelab.synth.contacts import build_contacts
    from scorelab.synth.population import build_population as _build

    pop = _build(scenario.population, scenario.run.seed, chunks=chunks)
    return pop, build_contacts(pop, scenario.contacts, scenario.run.seed, chunks=chunks)


def run(scenario: "Scenario | Any", overrides: dict[str, Any] | None = None) -> "RunOutput":
    """Build the population and run the day loop with its counterfactual twin.

    ``scenario`` is a Scenario, or anything ``load`` accepts (path, built-in name, dict).
    """
    from scorelab.engine.simulation import simulate
    from scorelab.scenario.model import Scenario as _Scenario

    if not isinstance(scenario, _Scenario) or overrides:
        scenario = load(scenario if not isinstance(scenario, _Scenario) else scenario.model_dump(mode="json", by_alias=True), overrides)
    pop, contacts = build_population(scenario)
    return simulate(scenario, pop, contacts)


def __getattr__(name: str) -> Any:
    if name == "Scenario":
        from scorelab.scenario.model import Scenario

        return Scenario
    raise AttributeError(f"module 'scorelab' has no attribute {name!r}")
