"""A full disk (issue 21), mocked: the writes raise ``OSError(ENOSPC)`` (or polars' error that
wraps it). Writing the results, saving a checkpoint, resuming and writing a report each end
with one line saying what happened and what is intact; nothing half-written or temporary is
left; and what was intact resumes to the uninterrupted run's bytes. Also: a killed run's
staging folder is removed when a later run starts beside it.
"""

from __future__ import annotations

import errno
import filecmp
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from scorelab import atomic
from scorelab.cli import app
from scorelab.engine.checkpoint import folder_for
from test_checkpoint_damage import one_line_error
from test_results import tiny


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages on one line whatever the length of the temporary folder's path (a long one, as
    under pytest-xdist's per-worker folders, wrapped the progress lines at 80 columns)."""
    monkeypatch.setenv("COLUMNS", "1000")


TABLES = ("metrics.parquet", "groups.parquet", "scores.parquet")
FULL = "No space left on device (free some space)"


def enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture(scope="module")
def src(tmp_path_factory) -> Path:
    """A tiny scenario file and (beside it, ``ref/run``) its uninterrupted run."""
    base = tmp_path_factory.mktemp("disk")
    path = base / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny(people=500, days=12)))
    r = CliRunner().invoke(app, ["run", str(path), "--out", str(base / "ref" / "run")])
    assert r.exit_code == 0, r.output
    return path


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def same_bytes(src: Path, out: Path) -> None:
    for f in TABLES:
        assert filecmp.cmp(src.parent / "ref" / "run" / f, out / f, shallow=False), f


def nothing_but(parent: Path, *names: str) -> None:
    assert sorted(p.name for p in parent.iterdir()) == sorted(names)


@pytest.mark.parametrize("error", ["OSError", "polars", "polars without the system's error"])
def test_results_that_do_not_fit_leave_nothing(src, tmp_path, monkeypatch, error):
    """The Parquet writes fail (polars names the system's error, or, when the footer's write
    fails, only "Invalid thrift: transport error"): one line naming the folder and the
    reason; no results folder, no staging folder, no temporary file."""
    def polars_enospc(*args, **kwargs):
        raise pl.exceptions.ComputeError("parquet: File out of specification: underlying IO error: "
                                         "No space left on device (os error 28)")

    def polars_thrift(*args, **kwargs):
        raise pl.exceptions.ComputeError("parquet: File out of specification: Invalid thrift: transport error")

    fail = {"OSError": enospc, "polars": polars_enospc}.get(error, polars_thrift)
    reason = FULL if fail is not polars_thrift else "Invalid thrift: transport error (the disk is full: free some space)"
    if fail is polars_thrift:
        usage = shutil.disk_usage(tmp_path)
        monkeypatch.setattr(atomic.shutil, "disk_usage", lambda p: usage._replace(free=0))
    monkeypatch.setattr(pl.DataFrame, "write_parquet", fail)
    out = tmp_path / "runs" / "run"
    one_line_error(invoke("run", str(src), "--out", str(out)),
                   f"{out}: cannot write the results: ", f"{reason}; nothing was written there")
    nothing_but(out.parent)


def test_a_checkpoint_that_does_not_fit_keeps_the_previous_one(src, tmp_path, monkeypatch):
    """The second save (step 8) fails midway: one line saying the save of step 4 is intact;
    the failed step folder is gone, and the run resumed from step 4 writes the uninterrupted
    run's bytes."""
    real = np.savez
    calls = []

    def second_fails(fh, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            fh.write(b"PK\x03\x04 half a part")
            enospc()
        real(fh, *args, **kwargs)

    monkeypatch.setattr(np, "savez", second_fails)
    out = tmp_path / "run"
    one_line_error(invoke("run", str(src), "--out", str(out), "--checkpoint-every", "4"),
                   f"cannot save the checkpoint of step 8: {FULL}",
                   f"the checkpoint of step 4 is intact: `scorelab run --resume {out}` continues from it")
    ck = folder_for(out)
    assert sorted(p.name for p in ck.iterdir()) == ["checkpoint.json", "latest.json", "scenario.yaml", "step-000000004"]
    nothing_but(tmp_path, ck.name)
    monkeypatch.undo()
    r = invoke("run", "--resume", str(out))
    assert r.exit_code == 0, r.output
    same_bytes(src, out)


def test_no_room_for_a_checkpoint_is_refused_before_writing(src, tmp_path, monkeypatch):
    """The free space is known to be too small: refused before writing anything of the save."""
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(atomic.shutil, "disk_usage", lambda p: usage._replace(free=1000))
    out = tmp_path / "run"
    one_line_error(invoke("run", str(src), "--out", str(out), "--checkpoint-every", "4"),
                   "not enough free disk space to save the checkpoint of step 4", "1,000 bytes is free",
                   "no earlier checkpoint was saved")
    assert not list(folder_for(out).glob("step-*")) and not out.exists()


def test_a_resume_whose_results_do_not_fit_keeps_its_checkpoint(src, tmp_path, monkeypatch):
    """Resumed from step 5, the run saves again at step 10, then cannot write its results: one
    line naming the checkpoint of step 10, which a second resume finishes."""
    from test_checkpoint import Stop, stop_at

    import scorelab

    out = tmp_path / "run"
    with pytest.raises(Stop):
        scorelab.run(scorelab.load(str(src)), out=out, checkpoint_every=5, progress=stop_at(7))
    monkeypatch.setattr(pl.DataFrame, "write_parquet", enospc)
    one_line_error(invoke("run", "--resume", str(out)), f"{out}: cannot write the results: {FULL}",
                   f"the checkpoint of step 10 is intact: `scorelab run --resume {out}` continues from it")
    nothing_but(tmp_path, folder_for(out).name)
    monkeypatch.undo()
    assert invoke("run", "--resume", str(out)).exit_code == 0
    same_bytes(src, out)


def test_a_parked_population_that_does_not_fit(src, tmp_path, monkeypatch):
    """Parking the population's columns in the staging folder fails: one line, nothing left."""
    monkeypatch.setattr(np, "save", enospc)
    out = tmp_path / "run"
    one_line_error(invoke("run", str(src), "--out", str(out)), f"{out}: cannot finish the run: {FULL}")
    nothing_but(tmp_path)


def test_a_report_that_does_not_fit_leaves_no_temporary_file(src, tmp_path, monkeypatch):
    """The page's write fails midway: one line, and neither the page nor its temporary file."""
    real = Path.write_text

    def half(self, text, *args, **kwargs):
        if self.name.endswith(".tmp"):
            real(self, text[:100], *args, **kwargs)
            enospc()
        return real(self, text, *args, **kwargs)

    import scorelab.report.runs

    monkeypatch.setattr(scorelab.report.runs, "_figures", lambda rs: [])  # (the page's write is what fails)
    monkeypatch.setattr(Path, "write_text", half)
    out = tmp_path / "page" / "r.html"
    one_line_error(invoke("report", str(src.parent / "ref" / "run"), "--out", str(out)),
                   f"--out {out}: cannot write the report: {FULL}")
    nothing_but(out.parent)


def test_atomic_writes_remove_their_temporary_file(tmp_path, monkeypatch):
    def half(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        enospc()

    with pytest.raises(atomic.UsageError) as e:
        atomic.write_with(tmp_path / "x.json", half)
    assert str(e.value) == f"{tmp_path / 'x.json'}: cannot write it: {FULL}"
    nothing_but(tmp_path)
    with pytest.raises(ValueError):  # (not the disk's doing: raised as it is, still cleaned up)
        atomic.write_with(tmp_path / "x.json", lambda tmp: (tmp.write_bytes(b"x"), int("x")))
    nothing_but(tmp_path)


def test_a_killed_runs_staging_is_removed_when_a_run_starts_beside_it(src, tmp_path):
    """Staging folders of dead processes of this machine (a run killed with SIGKILL: its
    parked population inside) go when a run starts writing into the same folder; those of
    live processes, and those another machine writes (a sweep's task on a cluster), stay."""
    import socket

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    stale = tmp_path / f".killed.partial-{pid}"
    (stale / ".population").mkdir(parents=True)
    (stale / ".population" / "age.npy").write_bytes(b"x" * 1000)
    (stale / atomic.HOST_FILE).write_text(socket.gethostname())
    legacy = tmp_path / f".older.partial-{pid}"  # (written before the machine was recorded)
    legacy.mkdir()
    live = tmp_path / ".other.partial-1"  # (pid 1 runs as long as the machine)
    live.mkdir()
    remote = tmp_path / f".remote.partial-{pid}"
    remote.mkdir()
    (remote / atomic.HOST_FILE).write_text("another-machine")
    r = invoke("run", str(src), "--out", str(tmp_path / "new"))
    assert r.exit_code == 0, r.output
    nothing_but(tmp_path, "new", live.name, remote.name)
    nothing_but(tmp_path / "new", "groups.parquet", "impact.parquet", "manifest.json", "metrics.parquet",
                "regions.parquet", "scenario.yaml", "scores.parquet", "trajectories.parquet")
