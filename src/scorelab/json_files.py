"""Reading the JSON files scorelab writes beside its data (a checkpoint's ``checkpoint.json``
and ``latest.json``, a results folder's ``manifest.json``) without trusting them.

A file is read into a small pydantic model (``read_model``) that states each key's type and
range; whatever is wrong (unreadable, not UTF-8, not JSON, a missing key, a wrong type) is one
UsageError line in the form of ``errors.Problem``: ``file:line:col: key.path: message``.
``FileDigest`` is the size and SHA-256 of a data file as those JSON files record it
(``atomic.digest`` computes it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from scorelab.atomic import digest
from scorelab.errors import Problem, UsageError

__all__ = ["FileDigest", "FileName", "StrictModel", "check_digest", "parse_model", "read_json", "read_model"]

M = TypeVar("M", bound=BaseModel)

#: A plain file name (no folder, nothing hidden): the keys of a list of digests.
FileName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")]


class StrictModel(BaseModel):
    """JSON as scorelab writes it: no conversion between types (``"3"`` is not a number, ``1``
    is not ``true``), no unknown keys."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class FileDigest(StrictModel):
    """A file's size in bytes and SHA-256 (hex), recorded when it was written."""

    bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


def _one_line(path: Path, line: int | None, column: int | None, key: str, message: str, after: str) -> UsageError:
    return UsageError(str(Problem(str(path), line, column, key, message)) + (f"; {after}" if after else ""))


def read_json(path: Path, after: str = "") -> Any:
    """The JSON value in ``path`` (UsageError, one line, when it is missing, unreadable or not
    JSON); ``after`` ends the line (what the user can do)."""
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise _one_line(path, None, None, "", "missing", after) from None
    except UnicodeDecodeError as e:
        raise _one_line(path, None, None, "", f"not UTF-8 text (byte {e.start})", after) from None
    except OSError as e:
        raise _one_line(path, None, None, "", f"unreadable: {e.strerror or e}", after) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise _one_line(path, e.lineno, e.colno, "", f"not valid JSON: {e.msg}", after) from None
    except RecursionError:
        raise _one_line(path, None, None, "", "not valid JSON: nested too deeply", after) from None


def parse_model(path: Path, data: Any, model: type[M], after: str = "") -> M:
    """``data`` (read from ``path``) as ``model``; the first problem as one UsageError line,
    naming the key (``a.b.0``) and how many more problems there are."""
    if not isinstance(data, dict):
        raise _one_line(path, None, None, "", f"expected a JSON object, got {_kind(data)}", after)
    try:
        return model.model_validate(data)
    except ValidationError as e:
        errors = e.errors(include_url=False)
        first = errors[0]
        key = ".".join(str(x) for x in first["loc"])
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        if first["type"] == "missing":
            message = "missing"
        elif first["type"] == "value_error":
            message = first["msg"].removeprefix("Value error, ")
        else:
            message = f"{first['msg'][0].lower()}{first['msg'][1:]}, got {_short(first.get('input'))}"
        raise _one_line(path, None, None, key, message + more, after) from None


def read_model(path: Path, model: type[M], after: str = "") -> M:
    """``read_json`` then ``parse_model``."""
    return parse_model(path, read_json(path, after), model, after)


def check_digest(path: Path, recorded: FileDigest, source: str, after: str = "") -> None:
    """Refuse (one line) a file whose size or SHA-256 is not the one ``source`` recorded
    when it was written: truncated, extended, altered or replaced."""
    try:
        actual = digest(path)
    except FileNotFoundError:
        raise _one_line(path, None, None, "", f"missing (listed in {source})", after) from None
    except OSError as e:
        raise _one_line(path, None, None, "", f"unreadable: {e.strerror or e}", after) from None
    if actual["bytes"] != recorded.bytes:
        raise _one_line(path, None, None, "", f"damaged: {actual['bytes']:,} bytes where {source} records "
                                              f"{recorded.bytes:,} (truncated or replaced)", after)
    if actual["sha256"] != recorded.sha256:
        raise _one_line(path, None, None, "", f"damaged: its SHA-256 is not the one {source} records "
                                              f"(altered since it was written)", after)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (str, int, float, bool, type(None))) else _kind(value)
    return text if len(text) <= 40 else text[:37] + "..."
