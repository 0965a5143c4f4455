"""Units: rates, durations and dates in scenario files, and the one place where
rates become per-step probabilities.

A rate is written with its unit (``"2 per year"``, ``"0.1/day"``,
``{value: 2, per: year}``) and stored per day. A duration is written
``"30 days"``, ``"6 months"``, ``"2 years"`` (a bare integer means days) and
stored in days. Months are 30.4375 days and years 365.25 days: calendar
averages, so that "per year" and "per 365.25 days" agree.
"""

from __future__ import annotations

import math
import re

import numpy as np

DAYS_PER_UNIT: dict[str, float] = {
    "day": 1.0,
    "week": 7.0,
    "month": 30.4375,
    "year": 365.25,
}

_ALIASES = {
    "d": "day", "day": "day", "days": "day", "daily": "day",
    "w": "week", "wk": "week", "week": "week", "weeks": "week",
    "mo": "month", "month": "month", "months": "month",
    "y": "year", "yr": "year", "year": "year", "years": "year", "annum": "year",
}

_RATE_RE = re.compile(r"^\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(?:per|/)\s*([A-Za-z]+)\s*$")
_DURATION_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-z]+)\s*$")


def unit_days(unit: str) -> float:
    """Days in one ``unit`` (day, week, month, year and their plurals)."""
    canon = _ALIASES.get(unit.strip().lower())
    if canon is None:
        raise ValueError(f"unknown time unit {unit!r}; use day, week, month or year")
    return DAYS_PER_UNIT[canon]


def parse_rate(text: str) -> float:
    """``"2 per year"`` -> events per day. Raises ValueError with a readable reason."""
    m = _RATE_RE.match(text)
    if not m:
        raise ValueError(f"a rate needs a number and a unit, like '2 per year' or '0.1/day', got {text!r}")
    value = float(m.group(1))
    if value < 0:
        raise ValueError(f"a rate cannot be negative, got {text!r}")
    return value / unit_days(m.group(2))


def parse_duration(text: str) -> float:
    """``"6 months"`` -> days."""
    m = _DURATION_RE.match(text)
    if not m:
        raise ValueError(f"a duration needs a number and a unit, like '30 days' or '2 years', got {text!r}")
    return float(m.group(1)) * unit_days(m.group(2))


def step_probability(rate_per_day: float | np.ndarray, step_days: float) -> float | np.ndarray:
    """Probability of at least one event in one step for a Poisson rate.

    This is the only conversion from rates to per-step probabilities in
    scorelab (``1 - exp(-rate * dt)``): results then settle as the step shrinks
    instead of changing with it.
    """
    if isinstance(rate_per_day, np.ndarray):
        return -np.expm1(-rate_per_day * step_days)
    return -math.expm1(-rate_per_day * step_days)
