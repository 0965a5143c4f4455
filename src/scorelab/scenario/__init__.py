"""The scenario language: typed models, YAML loading with positions, and cross-section checks."""

from scorelab.scenario.loader import load, preset_names, validate
from scorelab.scenario.model import Scenario

__all__ = ["Scenario", "load", "preset_names", "validate"]
