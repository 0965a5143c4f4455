"""Units: rates, durations and dates in scenario files, and the one place where
rates become per-step probabilities.

A rate is written with its unit (``"2 per year"``, ``"0.1/day"``,
``{value: 2, per: year}``) and stored per day. A duration is written
``"30 days"``, ``"6 months"``, ``"2 years"`` (a bare integer means days) and
stored in days. Months are 30.4375 days and years 365.25 days: calendar
averages, so that "per year" and "per 365.25 days" agree.

Numbers that are not finite (``1e400 per year``) are refused. ``format_rate`` and
``format_duration`` write a stored value back as text that parses to exactly the same
float, so that a resolved scenario written by a run loads again unchanged.
"""

from __future__ import annotations

import math
import re

import numpy as np

from scorelab.errors import excerpt

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

#: Largest rate of one actor, in events per day (the schema's bound, docs/scenario-reference.md).
MAX_RATE = 1000.0
#: Largest duration, in days (about 2,738 years; the schema's bound).
MAX_DAYS = 1_000_000.0

_RATE_RE = re.compile(r"^\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(?:per|/)\s*([A-Za-z]+)\s*$")
_DURATION_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-z]+)\s*$")


def unit_days(unit: str) -> float:
    """Days in one ``unit`` (day, week, month, year and their plurals)."""
    canon = _ALIASES.get(unit.strip().lower())
    if canon is None:
        raise ValueError(f"unknown time unit {excerpt(unit)}; use day, week, month or year")
    return DAYS_PER_UNIT[canon]


def parse_rate(text: str) -> float:
    """``"2 per year"`` -> events per day. Raises ValueError with a readable reason."""
    m = _RATE_RE.match(text)
    if not m:
        raise ValueError(f"a rate needs a number and a unit, like '2 per year' or '0.1/day', got {excerpt(text)}")
    value = float(m.group(1))
    if value < 0:
        raise ValueError(f"a rate cannot be negative, got {excerpt(text)}")
    if math.isinf(value):
        raise ValueError(f"a rate must be a finite number per unit of time, got {excerpt(text)}")
    return value / unit_days(m.group(2)) + 0.0


def parse_duration(text: str) -> float:
    """``"6 months"`` -> days."""
    m = _DURATION_RE.match(text)
    if not m:
        raise ValueError(f"a duration needs a number and a unit, like '30 days' or '2 years', got {excerpt(text)}")
    days = float(m.group(1)) * unit_days(m.group(2))
    if math.isinf(days):
        raise ValueError(f"a duration must be a finite number of days, got {excerpt(text)}")
    return days + 0.0


def format_rate(per_day: float) -> str:
    """A rate per day as text that ``parse_rate`` reads back as exactly ``per_day``: per year
    with ten significant digits where that is exact, else the shortest exact form."""
    per_year = per_day * DAYS_PER_UNIT["year"]
    for text in (f"{per_year:.10g}", repr(per_year)):
        if math.isfinite(per_year) and float(text) / DAYS_PER_UNIT["year"] == per_day:
            return f"{text} per year"
    return f"{per_day!r} per day"


def format_duration(days: float) -> str:
    """Days as text that ``parse_duration`` reads back as exactly ``days``."""
    text = f"{days:.10g}"
    return f"{text if float(text) == days else repr(days)} days"



def step_probability(rate_per_day: float | np.ndarray, step_days: float) -> float | np.ndarray:
    """Probability of at least one event in one step for a Poisson rate.

    This is the only conversion from rates to per-step probabilities in
    scorelab (``1 - exp(-rate * dt)``): results then settle as the step shrinks
    instead of changing with it.
    """
    if isinstance(rate_per_day, np.ndarray):
        return -np.expm1(-rate_per_day * step_days)
    return -math.expm1(-rate_per_day * step_days)
