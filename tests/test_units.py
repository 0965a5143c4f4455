"""Units in scenario files (``scorelab.units`` and the Rate/Duration field types) and the one
conversion from rates to per-step probabilities, ``step_probability = 1 - exp(-rate * dt)``."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from scorelab import rng, units
from scorelab.scenario.base import Duration, Rate

RATE = TypeAdapter(Rate)
DURATION = TypeAdapter(Duration)


@pytest.mark.parametrize(
    "text, per_day",
    [
        ("2 per year", 2 / 365.25),
        ("0.1/day", 0.1),
        ("3 per week", 3 / 7),
        ("1 per month", 1 / 30.4375),
        ("  5   per   days ", 5.0),
        ("2/yr", 2 / 365.25),
        ("1.5e2 per year", 150 / 365.25),
        ("0 per day", 0.0),
        ("12 per annum", 12 / 365.25),
    ],
)
def test_parse_rate(text: str, per_day: float) -> None:
    """Rates with units are stored per day (month = 30.4375 days, year = 365.25 days)."""
    assert math.isclose(units.parse_rate(text), per_day, rel_tol=1e-12, abs_tol=0)
    assert math.isclose(RATE.validate_python(text), per_day, rel_tol=1e-12, abs_tol=0)


def test_rate_mapping_form() -> None:
    """``{value: 2, per: year}`` is the same rate as ``"2 per year"``."""
    assert RATE.validate_python({"value": 2, "per": "year"}) == units.parse_rate("2 per year")
    assert RATE.validate_python({"value": 0.5, "per": "weeks"}) == 0.5 / 7


@pytest.mark.parametrize(
    "value, message",
    [
        ("2", "a rate needs a number and a unit"),
        (2, "a rate needs a unit, like '2 per year'"),
        (2.5, "a rate needs a unit"),
        ("-1 per day", "a rate cannot be negative"),
        ("2 per fortnight", "unknown time unit 'fortnight'"),
        ("per year", "a rate needs a number and a unit"),
        ("two per year", "a rate needs a number and a unit"),
        ({"value": 2}, "a rate mapping needs exactly 'value' and 'per'"),
        ({"value": 2, "per": "year", "x": 1}, "a rate mapping needs exactly 'value' and 'per'"),
        ({"value": -2, "per": "year"}, "must be a finite number >= 0"),
        ({"value": 2, "per": 5}, "'per' must be a time unit"),
        ({"value": 2, "per": "decade"}, "unknown time unit 'decade'"),
        (True, "a rate must look like '2 per year'"),
        (None, "a rate must look like '2 per year'"),
    ],
)
def test_rate_errors(value, message: str) -> None:
    """Missing units, negative rates and unknown units are errors with a readable reason."""
    with pytest.raises(ValidationError) as info:
        RATE.validate_python(value)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "value, days",
    [
        ("30 days", 30.0),
        ("1 day", 1.0),
        ("2 weeks", 14.0),
        ("6 months", 6 * 30.4375),
        ("2 years", 730.5),
        ("1.5 y", 1.5 * 365.25),
        (45, 45.0),  # a bare number means days
        (0, 0.0),
        (2.5, 2.5),
    ],
)
def test_durations(value, days: float) -> None:
    """Durations are stored in days."""
    assert math.isclose(DURATION.validate_python(value), days, rel_tol=1e-12)
    if isinstance(value, str):
        assert math.isclose(units.parse_duration(value), days, rel_tol=1e-12)


@pytest.mark.parametrize(
    "value, message",
    [
        ("-1 days", "a duration needs a number and a unit"),
        (-5, "a duration must be finite and >= 0"),
        (float("nan"), "a duration must be finite and >= 0"),
        (float("inf"), "a duration must be finite and >= 0"),
        ("3 fortnights", "unknown time unit"),
        ("soon", "a duration needs a number and a unit"),
        ([30], "a duration must look like '30 days'"),
        (True, "a duration must look like '30 days'"),
    ],
)
def test_duration_errors(value, message: str) -> None:
    """Negative, infinite, unit-less-text and unknown-unit durations are refused."""
    with pytest.raises(ValidationError) as info:
        DURATION.validate_python(value)
    assert message in str(info.value)


def test_unit_days() -> None:
    """Aliases and plurals map to the four units; anything else is an error naming the unit."""
    assert units.unit_days("Days") == 1.0
    assert units.unit_days(" wk ") == 7.0
    assert units.unit_days("mo") == 30.4375
    assert units.unit_days("years") == 365.25
    with pytest.raises(ValueError, match="unknown time unit 'hour'"):
        units.unit_days("hour")


def test_year_is_twelve_months() -> None:
    """'12 per year' and '1 per month' agree exactly (calendar averages)."""
    assert units.parse_rate("12 per year") == pytest.approx(units.parse_rate("1 per month"), rel=1e-15)


# ------------------------------------------------------------------ rates -> step probabilities


def test_step_probability_formula() -> None:
    """step_probability is 1 - exp(-r dt), for scalars and arrays; it is ~r dt for small r dt,
    0 for r = 0, and below 1 for any finite r dt."""
    assert units.step_probability(0.0, 1.0) == 0.0
    assert units.step_probability(0.2, 0.5) == pytest.approx(1 - math.exp(-0.1), rel=1e-15)
    assert units.step_probability(1e-12, 1.0) == pytest.approx(1e-12, rel=1e-9)  # expm1 keeps precision
    assert 0.999 < units.step_probability(10.0, 1.0) < 1.0
    r = np.array([0.0, 0.01, 0.5, 3.0])
    out = units.step_probability(r, 0.25)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, 1 - np.exp(-r * 0.25), rtol=1e-12)  # 1 - exp loses digits; expm1 does not


def test_step_probability_composes_over_steps() -> None:
    """Surviving k steps of dt is surviving one step of k dt: (1 - p(dt))^k = 1 - p(k dt),
    so the chance of at least one event in a period does not depend on the step."""
    r = 0.3
    for dt, k in [(1.0, 1), (0.5, 2), (0.25, 4), (0.1, 10)]:
        assert (1 - units.step_probability(r, dt)) ** k == pytest.approx(1 - units.step_probability(r, 1.0), rel=1e-12)


def _simulate(rate: float, days: float, dt: float, people: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Per person: events counted as one Bernoulli(step_probability) per step, and whether any
    event happened by the end. Uniforms from the counter-based stream (entity = person, day = step)."""
    stream = rng.Stream(seed, f"test.units.dt{dt}")
    ids = np.arange(people)
    p = units.step_probability(rate, dt)
    count = np.zeros(people, dtype=np.int64)
    for step in range(int(round(days / dt))):
        count += stream.uniform(ids, day=step) < p
    return count, count > 0


def test_poisson_process_converges_as_step_shrinks() -> None:
    """A Poisson process of 0.2 per day over 10 days simulated with dt = 1, 0.5, 0.25
    (100,000 people each):

    * P(at least one event) = 1 - exp(-2) for every dt (exactly, see above): each estimate
      within 4 SE = 4 sqrt(p(1-p)/n) ~ 0.0043;
    * the mean count of steps with an event, n_steps x (1 - exp(-r dt)), settles toward r T = 2
      as dt shrinks: each estimate within 4 SE of its expectation (SE ~ 0.0045), and the
      error |mean - 2| at least roughly halves with each halving of dt (0.19, 0.10, 0.05).
    """
    rate, days, n = 0.2, 10.0, 100_000
    p_any = 1 - math.exp(-rate * days)
    errors = []
    for dt in (1.0, 0.5, 0.25):
        count, any_event = _simulate(rate, days, dt, n)
        assert abs(any_event.mean() - p_any) < 4 * math.sqrt(p_any * (1 - p_any) / n), dt
        steps = days / dt
        q = units.step_probability(rate, dt)
        expected = steps * q
        assert abs(count.mean() - expected) < 4 * math.sqrt(steps * q * (1 - q) / n), dt
        errors.append(abs(count.mean() - rate * days))
    assert errors[0] > errors[1] > errors[2]
    assert errors[1] < 0.6 * errors[0] and errors[2] < 0.6 * errors[1]
    assert errors[2] < 0.06


def test_poisson_counts_per_step_are_step_independent() -> None:
    """Drawing a Poisson(r dt) count per step (rng.poisson_from_uniform) gives mean r T for any
    dt: all three means within 4 SE (sqrt(r T / n) ~ 0.0089 at n = 25,000) of 2."""
    rate, days, n = 0.2, 10.0, 25_000
    ids = np.arange(n)
    for dt in (1.0, 0.5, 0.25):
        stream = rng.Stream(5, f"test.units.poisson.dt{dt}")
        total = np.zeros(n, dtype=np.int64)
        for step in range(int(round(days / dt))):
            u = stream.uniform(ids, day=step)
            total += np.array([rng.poisson_from_uniform(rate * dt, x) for x in u])
        assert abs(total.mean() - rate * days) < 4 * math.sqrt(rate * days / n), dt
