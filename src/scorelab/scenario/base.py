"""Building blocks of the scenario schema: a strict base model and typed fields
with units (probabilities, shares, rates, durations, dates), each with the bounds
the engine can honour.

Every model rejects unknown keys. Every field type here gives a message of the
form ``must be ..., got X`` so that errors read the same across the schema, and
quotes at most a short excerpt of the value (``shown``). Non-finite numbers (NaN,
infinities, ``1e400``) are refused everywhere. The bounds are far beyond any real
value and small enough that the engine's sums, products and step counts stay
finite and fit their integer types; they are stated in the JSON schema and in the
generated field reference (docs/scenario-reference.md, "Bounds").
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Annotated, Any, Callable

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer, WithJsonSchema

from scorelab import units
from scorelab.errors import excerpt as shown

#: Largest magnitude of a plain number (points, money, factors, weights): sums over every
#: record of a run stay finite.
MAX_MAGNITUDE = 1e12
#: Largest whole number of a count (records, days): counts are stored in 32-bit integers.
MAX_COUNT = 2**31 - 1
#: Largest age, in years.
MAX_AGE = 150
#: Largest seed: seeds are stored as signed 64-bit integers (results tables, manifest).
MAX_SEED = 2**63 - 1
#: Largest rate of one actor (events per day): a run draws every event it makes.
MAX_RATE = units.MAX_RATE
#: Largest duration, in days (about 2,738 years): a duration in steps fits 32 bits.
MAX_DAYS = units.MAX_DAYS


class StrictModel(BaseModel):
    """Base of every scenario model: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def _fmt(x: float) -> str:
    """A bound as written in messages and the reference: ``1e+12``, ``1000``, ``0.001``."""
    return f"{x:g}"


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"must be a number, got {shown(value)}")
    try:
        v = float(value)
    except OverflowError:  # an integer with hundreds of digits
        raise ValueError(f"must be a finite number, got {shown(value)}") from None
    if math.isnan(v):
        raise ValueError("must be a number, got NaN")
    if math.isinf(v):
        raise ValueError(f"must be a finite number, got {shown(value)}")
    return v + 0.0  # (no negative zero: it would read back as a different text)


def _documented(func: Callable[[Any], Any], kind: str, unit: str) -> Callable[[Any], Any]:
    func.doc_type, func.doc_unit = kind, unit  # type: ignore[attr-defined]
    return func


def number(lo: float = -MAX_MAGNITUDE, hi: float = MAX_MAGNITUDE, *, above: bool = False,
           description: str = "") -> Any:
    """A finite number in ``[lo, hi]`` (``(lo, hi]`` when ``above``)."""
    def check(value: Any) -> float:
        v = _number(value)
        if above and v <= lo:
            raise ValueError(f"must be a finite number > {_fmt(lo)}, got {shown(value)}")
        if v < lo:
            if lo == 0:
                raise ValueError(f"must be a finite number >= 0, got {shown(value)}")
            raise ValueError(f"must be at least {_fmt(lo)}, got {shown(value)}")
        if v > hi:
            raise ValueError(f"must be at most {_fmt(hi)}, got {shown(value)}")
        return v

    kind = f"number in ({_fmt(lo)}, {_fmt(hi)}]" if above else f"number in [{_fmt(lo)}, {_fmt(hi)}]"
    schema: dict[str, Any] = {"type": "number", "maximum": hi}
    schema["exclusiveMinimum" if above else "minimum"] = lo
    if description:
        schema["description"] = description
    return Annotated[float, BeforeValidator(_documented(check, kind, "")), WithJsonSchema(schema)]


def _probability(value: Any) -> float:
    v = _number(value)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"must be between 0 and 1, got {shown(value)}")
    return v


def count(hi: int = MAX_COUNT, lo: int = 0, what: str = "integer") -> Any:
    """A whole number in ``[lo, hi]`` (a float such as ``1e5`` that is whole counts)."""
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise ValueError(f"must be a whole number, got {shown(value)}")
        if value < lo:
            raise ValueError(f"must be a whole number >= {lo}, got {shown(value)}")
        if value > hi:
            raise ValueError(f"must be at most {hi}, got {shown(value)}")
        return value

    return Annotated[int, BeforeValidator(_documented(check, f"{what} in [{lo}, {hi}]", "")),
                     WithJsonSchema({"type": "integer", "minimum": lo, "maximum": hi})]


def _rate_value(value: Any) -> float:
    if isinstance(value, str):
        return units.parse_rate(value)
    if isinstance(value, dict):
        extra = set(value) - {"value", "per"}
        if extra or "value" not in value or "per" not in value:
            raise ValueError(f"a rate mapping needs exactly 'value' and 'per', got {shown(value)}")
        v = _number(value["value"])
        if v < 0:
            raise ValueError(f"must be a finite number >= 0, got {shown(value['value'])}")
        if not isinstance(value["per"], str):
            raise ValueError(f"'per' must be a time unit, got {shown(value['per'])}")
        return v / units.unit_days(value["per"])
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ValueError(f"a rate needs a unit, like '{shown(value)} per year' or '{shown(value)} per day', "
                         f"got {shown(value)}")
    raise ValueError(f"a rate must look like '2 per year', got {shown(value)}")


def rate(max_per_day: float = MAX_RATE, what: str = "") -> Any:
    """Events per unit of time, stored per day, at most ``max_per_day``."""
    def check(value: Any) -> float:
        v = _rate_value(value) + 0.0
        if not math.isfinite(v):
            raise ValueError(f"a rate must be a finite number per unit of time, got {shown(value)}")
        if v > max_per_day:
            raise ValueError(f"a rate must be at most {_fmt(max_per_day)} per day{what}, got {shown(value)}")
        return v

    kind = f"rate, at most {_fmt(max_per_day)} per day"
    return Annotated[
        float,
        BeforeValidator(_documented(check, kind, "events per day, week, month or year")),
        PlainSerializer(units.format_rate, when_used="json"),
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "string", "pattern": r"^\s*[0-9.eE+-]+\s*(per|/)\s*[A-Za-z]+\s*$"},
                    {"type": "object", "properties": {"value": {"type": "number"}, "per": {"type": "string"}}},
                ],
                "description": f"events per unit of time, e.g. '2 per year' or '0.1/day'; stored per day; at most "
                               f"{_fmt(max_per_day)} per day",
            }
        ),
    ]


def duration(lo: float = 0.0, hi: float = MAX_DAYS) -> Any:
    """A span of time in days, in ``[lo, hi]``."""
    def check(value: Any) -> float:
        if isinstance(value, str):
            days = units.parse_duration(value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                days = float(value)
            except OverflowError:
                days = math.inf
        else:
            raise ValueError(f"a duration must look like '30 days' or '2 years', got {shown(value)}")
        if days < 0 or math.isnan(days) or math.isinf(days):
            raise ValueError(f"a duration must be finite and >= 0, got {shown(value)}")
        if days < lo:
            raise ValueError(f"a duration here must be at least {_fmt(lo)} days, got {shown(value)}")
        if days > hi:
            years = f" (about {hi / 365.25:,.0f} years)" if hi >= 3652.5 else ""
            raise ValueError(f"a duration must be at most {_fmt(hi)} days{years}, got {shown(value)}")
        return days + 0.0

    kind = f"duration in [{_fmt(lo)}, {_fmt(hi)}] days"
    return Annotated[
        float,
        BeforeValidator(_documented(check, kind, "days (or weeks, months, years)")),
        PlainSerializer(units.format_duration, when_used="json"),
        WithJsonSchema(
            {
                "anyOf": [{"type": "string"}, {"type": "number", "minimum": lo, "maximum": hi}],
                "description": "a span of time, e.g. '30 days', '6 months', '2 years'; a bare number means days; "
                               f"from {_fmt(lo)} to {_fmt(hi)} days",
            }
        ),
    ]


def _date(value: Any) -> _dt.date:
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str):
        try:
            return _dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"must be a date like 2018-04-01, got {shown(value)}")


#: The public name of the date check (``calibrate.targets`` reads dates the same way).
parse_date = _date

Probability = Annotated[
    float,
    BeforeValidator(_documented(_probability, "probability", "share in [0, 1]")),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 1, "description": "a probability or share in [0, 1]"}),
]
NonNegative = number(0.0)
Positive = number(0.0, above=True)
Real = number()
Count = count()
Age = count(MAX_AGE, what="age")
Seed = count(MAX_SEED)
Rate = rate()
Duration = duration()
Date = Annotated[
    _dt.date,
    BeforeValidator(_documented(_date, "date", "ISO date")),
    WithJsonSchema({"type": "string", "format": "date", "description": "ISO date, e.g. 2018-04-01"}),
]
Name = Annotated[
    str,
    WithJsonSchema({"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_.-]*$"}),
]
