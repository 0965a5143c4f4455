"""Atomic writing: a file or a folder appears under its final name complete, or not at all.

Everything is first written under a hidden temporary name beside the final one, then renamed
(a rename within a folder is atomic): a process killed midway leaves at most a hidden
leftover, never a half-written file or folder under the final name. Results folders, sweep
folders, calibration folders, checkpoints and report pages are all written this way.

A staged folder is ``.<name>.partial-<pid>``, holding the name of its machine (``.host``,
removed when it is committed): the pid tells a leftover of a dead process of this machine
(``remove_dead_staging``, run whenever a folder is prepared beside it) from the staging folder
of a live one.

A write that fails (a full disk, a quota, a lost mount) removes what it wrote and raises a
one-line UsageError naming the file and the reason (``write_failure``); ``check_space`` refuses
a write whose size is known beforehand when the disk has no room for it; ``digest`` is the
size and SHA-256 of a file, which checkpoints and results folders record to detect damage.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from scorelab.errors import UsageError

__all__ = [
    "check_space", "check_writable", "commit", "digest", "os_error", "prepare", "remove_dead_staging",
    "remove_stale_staging", "staged_folder", "staging_path", "WriteFailure", "write_bytes", "write_failure", "write_text",
    "write_with",
]

#: The file in a staging folder naming the machine whose process writes it.
HOST_FILE = ".host"
#: Errors of the disk rather than of the program: no room, no quota left, a file too large.
DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


# --------------------------------------------------------------------------- failures


def os_error(exc: BaseException) -> OSError | None:
    """The operating-system error behind ``exc``: itself when it is an OSError, or the one a
    Rust library (polars) names in its message as ``(os error N)``; None otherwise."""
    if isinstance(exc, OSError):
        return exc
    found = re.search(r"\(os error (\d+)\)", str(exc))
    if found is None:
        return None
    code = int(found.group(1))
    return OSError(code, os.strerror(code))


class WriteFailure(UsageError):
    """A write that failed, as one line; ``reason`` is why, without the file's name."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def write_failure(target: Path, what: str, exc: BaseException, after: str = "") -> WriteFailure:
    """The one-line error of a failed write of ``target``: ``<target>: cannot <what>: <reason>``
    and ``after`` (what is left intact, what to do), with a hint when the disk is full."""
    err = os_error(exc)
    reason = (err.strerror or str(err)) if err is not None else (str(exc).splitlines() or [type(exc).__name__])[0]
    if err is not None and err.errno in DISK_FULL:
        reason += " (free some space)"
    elif err is None and _nearly_full(Path(target)):  # (a library that lost the system's error on the way)
        reason += " (the disk is full: free some space)"
    return WriteFailure(f"{target}: cannot {what}: {reason}{'; ' + after if after else ''}", reason)


def _nearly_full(path: Path) -> bool:
    """Whether the disk of ``path`` (or of its nearest existing folder) has under 1 MiB free."""
    for folder in (path, *path.parents):
        if folder.exists():
            try:
                return shutil.disk_usage(folder).free < (1 << 20)
            except OSError:
                return False
    return False


def _human(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TiB"  # pragma: no cover - unreachable


def check_space(folder: Path, needed: int, what: str, after: str = "") -> None:
    """Refuse (UsageError, one line) to write about ``needed`` bytes under ``folder`` when its
    disk has less free space; ``what`` says what would be written."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return  # (the write itself will say what is wrong)
    if needed > free:
        raise UsageError(f"{folder}: not enough free disk space to {what}: it needs about {_human(needed)}, "
                         f"{_human(free)} is free{'; ' + after if after else ''}")


def digest(path: Path) -> dict[str, int | str]:
    """A file's size and SHA-256, as checkpoints and results folders record them."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
            size += len(block)
    return {"bytes": size, "sha256": h.hexdigest()}


# --------------------------------------------------------------------------- files


def write_with(path: Path, write: Callable[[Path], None], what: str = "write it", after: str = "") -> None:
    """Call ``write(temporary)`` to write the file, then rename it to ``path``. If that fails
    the temporary file is removed, and an error of the disk (full, no quota, unwritable) is
    raised as one UsageError line: ``<path>: cannot <what>: <reason>; <after>``."""
    path = Path(path)
    # (a temporary name of this process and thread: two writers of the same file do not collide)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if not isinstance(exc, UsageError) and os_error(exc) is not None:
            raise write_failure(path, what, exc, after) from None
        raise


def write_bytes(path: Path, data: bytes, what: str = "write it", after: str = "") -> None:
    """Write ``data`` to ``path`` atomically (see ``write_with``)."""
    write_with(path, lambda tmp: tmp.write_bytes(data), what, after)


def write_text(path: Path, text: str, what: str = "write it", after: str = "") -> None:
    """Write ``text`` to ``path`` atomically, as UTF-8 (see ``write_with``)."""
    write_with(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), what, after)


# --------------------------------------------------------------------------- folders


def staging_path(final: Path) -> Path:
    """The hidden sibling a folder is written in before it gets its final name."""
    return final.parent / f".{final.name}.partial-{os.getpid()}"


def prepare(final: Path) -> Path:
    """Check that ``final`` can be written and create its hidden staging sibling.
    Raises UsageError (one line) when the folder exists and is not empty, or cannot be created."""
    final = Path(final)
    remove_dead_staging(final.parent)
    if final.exists():
        if not final.is_dir():
            raise UsageError(f"{final}: exists and is not a folder")
        if any(final.iterdir()):
            raise UsageError(f"{final}: exists and is not empty; choose another --out")
    staging = staging_path(final)
    for anc in final.parents:
        if anc.exists():
            if not anc.is_dir():
                raise UsageError(f"{final}: cannot write results there: {anc} is not a folder")
            break
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        if staging.exists():
            shutil.rmtree(staging)
        # the staging folder appears with its machine's name in it (made under another name,
        # then renamed), so that no process elsewhere ever sees it without (``_remove_dead``)
        making = staging.with_name(staging.name.replace(".partial-", ".making-"))
        shutil.rmtree(making, ignore_errors=True)
        making.mkdir()
        (making / HOST_FILE).write_text(socket.gethostname(), encoding="utf-8")  # (also the write probe)
        os.replace(making, staging)
    except OSError as e:
        raise UsageError(f"{final}: cannot write results there: {e.strerror or e}") from None
    return staging


def commit(staging: Path, final: Path) -> Path:
    """Rename a complete staging folder to its final name."""
    (staging / HOST_FILE).unlink(missing_ok=True)
    if final.exists():
        final.rmdir()  # empty (checked in prepare)
    os.replace(staging, final)
    return final


@contextmanager
def staged_folder(final: Path) -> Iterator[Path]:
    """``prepare`` the folder ``final``, yield its staging folder to write into, and ``commit``
    it when the block ends; if the block raises, the staging folder is removed instead."""
    staging = prepare(final)
    try:
        yield staging
        commit(staging, Path(final))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def check_writable(final: Path) -> None:
    """Fail (UsageError, one line) unless a folder can be written at ``final``; leaves
    nothing behind except missing parent folders, which it creates."""
    shutil.rmtree(prepare(Path(final)), ignore_errors=True)


def remove_stale_staging(final: Path) -> None:
    """Remove hidden staging folders of ``final`` left by processes that no longer run
    (a killed run); those of a live process are left alone."""
    _remove_dead(Path(final).parent.glob(f".{Path(final).name}.partial-*"))


def remove_dead_staging(parent: Path) -> None:
    """Remove the hidden staging folders (``.<name>.partial-<pid>``) under ``parent`` of every
    process of this machine that no longer runs: what a killed run left, the population it
    parked there included. Those of live processes, and those made on another machine (a
    sweep's tasks on a cluster share a folder: their pids mean nothing here), are left alone."""
    _remove_dead(Path(parent).glob(".*.partial-*"))


def _made_here(folder: Path) -> bool:
    """Whether a staging folder was made on this machine (one made before the machine's name
    was recorded in it is taken to be)."""
    try:
        return (folder / HOST_FILE).read_text(encoding="utf-8").strip() == socket.gethostname()
    except FileNotFoundError:
        return True
    except (OSError, UnicodeDecodeError):
        return False


def _remove_dead(folders: Iterator[Path]) -> None:
    for d in folders:
        pid = d.name.rsplit("-", 1)[1]
        if not d.is_dir() or not pid.isdigit() or int(pid) == os.getpid() or not _made_here(d):
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except OSError:  # (alive under another user, or not ours to ask about)
            continue
