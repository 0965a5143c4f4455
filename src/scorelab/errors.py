"""Errors a user can cause, reported as one line each: ``file:line:col: field.path: message``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Longest excerpt of a value that a message quotes (characters of its repr).
EXCERPT = 40


def excerpt(value: Any, limit: int = EXCERPT) -> str:
    """``repr(value)`` cut to ``limit`` characters: what a message quotes of a value from a
    file (escaped and on one line by ``repr``, and short however long the value is)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a scenario, located in its file."""

    file: str
    line: int | None
    column: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ScenarioError(Exception):
    """A scenario could not be loaded; ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class UsageError(Exception):
    """Bad command-line or API use (unknown preset, unwritable folder...), one line."""


def require_extra(module: str, extra: str, what: str) -> Any:
    """The module ``module`` of the optional extra ``extra``, or a UsageError naming ``what``
    (a command or option) and the install command: a minimal ``pip install scorelab`` runs and
    reports; SQL, calibration and Ray are extras."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise UsageError(f"{what} needs {module.split('.')[0]}, which is not installed: "
                         f"pip install 'scorelab[{extra}]'") from None
