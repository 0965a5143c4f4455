"""Building blocks of the scenario schema: a strict base model and typed fields
with units (probabilities, shares, rates, durations, dates).

Every model rejects unknown keys. Every field type here gives a message of the
form ``must be ..., got X`` so that errors read the same across the schema.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer, WithJsonSchema

from scorelab import units


class StrictModel(BaseModel):
    """Base of every scenario model: unknown keys are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"must be a number, got {value!r}")
    v = float(value)
    if math.isnan(v):
        raise ValueError("must be a number, got NaN")
    return v


def _probability(value: Any) -> float:
    v = _number(value)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"must be between 0 and 1, got {value!r}")
    return v


def _non_negative(value: Any) -> float:
    v = _number(value)
    if v < 0 or math.isinf(v):
        raise ValueError(f"must be a finite number >= 0, got {value!r}")
    return v


def _positive(value: Any) -> float:
    v = _number(value)
    if v <= 0 or math.isinf(v):
        raise ValueError(f"must be a finite number > 0, got {value!r}")
    return v


def _finite(value: Any) -> float:
    v = _number(value)
    if math.isinf(v):
        raise ValueError(f"must be finite, got {value!r}")
    return v


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ValueError(f"must be a whole number, got {value!r}")
    if value < 0:
        raise ValueError(f"must be a whole number >= 0, got {value!r}")
    return value


def _rate(value: Any) -> float:
    if isinstance(value, str):
        return units.parse_rate(value)
    if isinstance(value, dict):
        extra = set(value) - {"value", "per"}
        if extra or "value" not in value or "per" not in value:
            raise ValueError(f"a rate mapping needs exactly 'value' and 'per', got {value!r}")
        v = _non_negative(value["value"])
        if not isinstance(value["per"], str):
            raise ValueError(f"'per' must be a time unit, got {value['per']!r}")
        return v / units.unit_days(value["per"])
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ValueError(f"a rate needs a unit, like '{value} per year' or '{value} per day', got {value!r}")
    raise ValueError(f"a rate must look like '2 per year', got {value!r}")


def _duration(value: Any) -> float:
    if isinstance(value, str):
        days = units.parse_duration(value)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        days = float(value)
    else:
        raise ValueError(f"a duration must look like '30 days' or '2 years', got {value!r}")
    if days < 0 or math.isnan(days) or math.isinf(days):
        raise ValueError(f"a duration must be finite and >= 0, got {value!r}")
    return days


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
    raise ValueError(f"must be a date like 2018-04-01, got {value!r}")


def _fmt_rate(v: float) -> str:
    return f"{v * 365.25:.10g} per year"


def _fmt_duration(v: float) -> str:
    return f"{v:.10g} days"


Probability = Annotated[
    float,
    BeforeValidator(_probability),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 1, "description": "a probability or share in [0, 1]"}),
]
NonNegative = Annotated[
    float, BeforeValidator(_non_negative), WithJsonSchema({"type": "number", "minimum": 0})
]
Positive = Annotated[
    float, BeforeValidator(_positive), WithJsonSchema({"type": "number", "exclusiveMinimum": 0})
]
Real = Annotated[float, BeforeValidator(_finite), WithJsonSchema({"type": "number"})]
Count = Annotated[int, BeforeValidator(_count), WithJsonSchema({"type": "integer", "minimum": 0})]
Rate = Annotated[
    float,
    BeforeValidator(_rate),
    PlainSerializer(_fmt_rate, when_used="json"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^\s*[0-9.eE+-]+\s*(per|/)\s*[A-Za-z]+\s*$"},
                {"type": "object", "properties": {"value": {"type": "number"}, "per": {"type": "string"}}},
            ],
            "description": "events per unit of time, e.g. '2 per year' or '0.1/day'; stored per day",
        }
    ),
]
Duration = Annotated[
    float,
    BeforeValidator(_duration),
    PlainSerializer(_fmt_duration, when_used="json"),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string"}, {"type": "number", "minimum": 0}],
            "description": "a span of time, e.g. '30 days', '6 months', '2 years'; a bare number means days",
        }
    ),
]
Date = Annotated[
    _dt.date,
    BeforeValidator(_date),
    WithJsonSchema({"type": "string", "format": "date", "description": "ISO date, e.g. 2018-04-01"}),
]
Name = Annotated[
    str,
    WithJsonSchema({"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_.-]*$"}),
]
