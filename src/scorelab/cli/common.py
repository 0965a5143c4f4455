"""What the commands share: printing safely, one-line failures, ``--set`` and ``--days``,
loading a scenario.

Everything a command prints goes through here. Text that comes from a user (a scenario's,
group's or grade's name, a folder, a value, an SQL column) is shown by ``safe``: characters
that are not printable (controls such as ESC and NUL, bidirectional overrides such as
U+202E, separators, lone surrogates of undecodable file names) appear as their escapes
(``\\x1b``, ``\\u202e``), so that no name can move the cursor, recolour, hide or reorder
what the terminal shows. Rich output goes through ``terminal`` and ``table``: markup and
emoji codes are off (a name such as ``[/]`` or ``[link=...]`` is shown as it is, never
read as markup), and every header and cell is ``safe``.

Imports of numba kernels and data libraries stay inside the commands so that
``scorelab --help`` is instant.
"""

from __future__ import annotations

import functools
from typing import Any, NoReturn

import typer

from scorelab.errors import ScenarioError, UsageError


def safe(value: object) -> str:
    """``value`` as text that is safe on a terminal: every character that is not printable
    (``str.isprintable``, the rule ``repr`` follows) replaced by its escape, e.g. ESC by
    ``\\x1b``, NUL by ``\\x00``, U+202E by ``\\u202e``, a newline by ``\\n``."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def say(line: object, err: bool = False) -> None:
    """Print one line (made ``safe``) to stdout, or stderr with ``err``."""
    typer.echo(safe(line), err=err)


def say_lines(text: str, err: bool = False) -> None:
    """Print text of several lines, each made ``safe``."""
    for line in text.splitlines():
        say(line, err=err)


def wrapped(text: str, indent: str = "") -> str:
    """``text`` wrapped to the terminal's width on a terminal (later lines indented), and as one
    line when piped, so that a file or ``grep`` gets whole sentences."""
    import shutil
    import sys
    import textwrap

    if not sys.stdout.isatty():
        return text
    return textwrap.fill(text, width=max(40, shutil.get_terminal_size().columns - 1), subsequent_indent=indent)


def fail(lines: list[str], code: int = 2) -> NoReturn:
    """Print each line (made ``safe``) to stderr and exit with ``code`` (2: a usage problem)."""
    for line in lines:
        say(line, err=True)
    raise typer.Exit(code)


def terminal(stderr: bool = False, min_width: int | None = None) -> Any:
    """A rich Console that reads no markup and no emoji codes in what it prints (at least
    ``min_width`` columns wide, if given)."""
    from rich.console import Console

    width = max(min_width, Console().width) if min_width is not None else None
    return Console(stderr=stderr, width=width, markup=False, emoji=False)


def print_table(out: Any, stderr: bool = False) -> None:
    """Print a table so that it fits: as wide as the terminal when there is one (rich wraps the
    cells), and at its natural width when the output is piped or redirected, so that no cell is
    cut to "..." in a file (a wide query result reads whole with --format csv)."""
    console = terminal(stderr=stderr)
    if not console.is_terminal:
        natural = console.measure(out, options=console.options.update_width(100_000)).maximum
        console = terminal(stderr=stderr, min_width=min(max(80, natural), 100_000))
    console.print(out)


def table(title: object = None) -> Any:
    """A rich Table whose title, column headers and cells are made ``safe`` (cells that are
    not text are left as they are)."""
    return _table_class()(title=safe(title) if title is not None else None)


@functools.cache
def _table_class() -> type:
    from rich.table import Table

    class SafeTable(Table):
        def add_column(self, header: Any = "", *args: Any, **kw: Any) -> None:
            super().add_column(safe(header) if isinstance(header, str) else header, *args, **kw)

        def add_row(self, *cells: Any, **kw: Any) -> None:
            super().add_row(*(safe(c) if isinstance(c, str) else c for c in cells), **kw)

    return SafeTable


def file_name(name: str, default: str) -> str:
    """``name`` as one safe file or folder name: letters, digits, ``-``, ``_`` and ``.``
    kept, anything else (a slash, a control character) as ``_``; ``default`` when empty
    or only dots."""
    out = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
    return out if out.strip(".") else default


def parse_sets(sets: list[str]) -> dict[str, Any]:
    """``key=value`` pairs; values are read as YAML scalars (numbers, booleans, quoted strings)."""
    from scorelab.scenario.loader import override_value

    out: dict[str, Any] = {}
    for item in sets:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            fail([f"--set {item}: expected key=value, e.g. run.days=30"])
        out[key.strip()] = override_value(raw)
    return out


def with_days(sets: list[str] | None, days: int | None) -> list[str]:
    """The ``--set`` items with ``--days`` added as ``run.days`` (one-line failure if negative)."""
    out = list(sets or [])
    if days is not None:
        if days < 0:
            fail([f"--days: must be >= 0, got {days}"])
        out.append(f"run.days={days}")
    return out


def load_scenario(source: str, sets: list[str] | None = None, seed: int | None = None,
                  scale: float | None = None) -> Any:
    """The scenario ``source`` with ``--set`` items, ``--seed`` and ``--scale`` applied; every
    problem of the file is a one-line failure."""
    from scorelab.scenario.loader import load

    overrides = parse_sets(sets or [])
    if seed is not None:
        overrides["run.seed"] = seed
    try:
        if scale is not None and not scale > 0:
            fail([f"--scale: must be > 0, got {scale}"])
        return load(source, overrides or None, scale)
    except ScenarioError as e:
        fail([str(p) for p in e.problems])
    except UsageError as e:
        fail([str(e)])
