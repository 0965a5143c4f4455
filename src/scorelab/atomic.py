"""Atomic writing: a file or a folder appears under its final name complete, or not at all.

Everything is first written under a hidden temporary name beside the final one, then renamed
(a rename within a folder is atomic): a process killed midway leaves at most a hidden
leftover, never a half-written file or folder under the final name. Results folders, sweep
folders, calibration folders, checkpoints and report pages are all written this way.

A staged folder is ``.<name>.partial-<pid>``: the pid tells a leftover of a dead process
(``remove_stale_staging``) from the staging folder of a live one.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from scorelab.errors import UsageError

__all__ = [
    "check_writable", "commit", "prepare", "remove_stale_staging", "staged_folder", "staging_path", "write_bytes",
    "write_text", "write_with",
]


# --------------------------------------------------------------------------- files


def write_with(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(temporary)`` to write the file, then rename it to ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    write_with(path, lambda tmp: tmp.write_bytes(data))


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, as UTF-8."""
    write_with(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


# --------------------------------------------------------------------------- folders


def staging_path(final: Path) -> Path:
    """The hidden sibling a folder is written in before it gets its final name."""
    return final.parent / f".{final.name}.partial-{os.getpid()}"


def prepare(final: Path) -> Path:
    """Check that ``final`` can be written and create its hidden staging sibling.
    Raises UsageError (one line) when the folder exists and is not empty, or cannot be created."""
    final = Path(final)
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
        staging.mkdir()
        probe = staging / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise UsageError(f"{final}: cannot write results there: {e.strerror or e}") from None
    return staging


def commit(staging: Path, final: Path) -> Path:
    """Rename a complete staging folder to its final name."""
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
    for d in Path(final).parent.glob(f".{Path(final).name}.partial-*"):
        try:
            pid = int(d.name.rsplit("-", 1)[1])
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except (ValueError, PermissionError, OSError):
            continue
