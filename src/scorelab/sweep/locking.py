"""One process at a time in a sweep's work folder: an exclusive, non-blocking lock on a file
in it (``fcntl.flock``; released by the system when the process dies, so a killed sweep
never leaves a stale lock)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scorelab.errors import UsageError


@contextmanager
def locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (two processes never work on one sweep)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    lock = folder / ".lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise UsageError(f"{folder}: another scorelab sweep is working in this folder") from None
        yield
    finally:
        os.close(fd)

