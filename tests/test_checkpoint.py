"""Checkpoint and resume: a run stopped (exception, SIGKILL) after a checkpoint and resumed
writes the same bytes as a run that never stopped; bad resumes fail with one line."""

from __future__ import annotations

import filecmp
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

import scorelab
from scorelab.cli import app
from scorelab.engine.checkpoint import folder_for
from scorelab.scenario.loader import preset_names
from test_cli import one_line_error as cli_one_line_error

FILES = ("metrics.parquet", "groups.parquet", "scores.parquet", "people.parquet", "regions.parquet",
         "trajectories.parquet")


class Stop(Exception):
    pass


def stop_at(step: int):
    def progress(done: int, total: int) -> None:
        if done == step:
            raise Stop

    return progress


def same_bytes(a: Path, b: Path) -> None:
    for f in FILES:
        assert filecmp.cmp(a / f, b / f, shallow=False), f"{f} differs"


@pytest.mark.parametrize("preset", preset_names())
def test_resumed_run_is_byte_identical(preset, tmp_path):
    """Every built-in scenario, 3,000 people, a burn-in of 20 days then 80 days, a checkpoint
    every 7 steps, stopped at step 40 (6 steps after the last checkpoint at 35, which are
    redone)."""
    sc = scorelab.load(preset, {"population.people": 3000, "run.burn_in": 20, "run.days": 80})
    whole = scorelab.run(sc, out=tmp_path / "a" / "run", people_state=True)
    out = tmp_path / "b" / "run"
    with pytest.raises(Stop):
        scorelab.run(sc, out=out, people_state=True, checkpoint_every=7, progress=stop_at(40))
    assert not out.exists()
    assert json.loads((folder_for(out) / "checkpoint.json").read_text())["every"] == 7
    steps = []
    resumed = scorelab.resume(out, progress=lambda done, total: steps.append(done))
    assert steps[0] == 36 and steps[-1] == 100  # continued after the checkpoint at 35
    assert resumed.manifest["resumed_from_step"] == 35 and whole.manifest["resumed_from_step"] == 0
    same_bytes(tmp_path / "a" / "run", out)
    assert not folder_for(out).exists()  # removed once the results are complete
    assert whole.metrics.drop("run_id").equals(resumed.metrics.drop("run_id"))


def test_resumed_twice_and_from_before_the_first_checkpoint(tmp_path):
    """Stopped twice (once before any checkpoint), resumed each time: still identical."""
    sc = scorelab.load("rongcheng-2018", {"population.people": 3000, "run.days": 60})
    scorelab.run(sc, out=tmp_path / "a" / "run", people_state=True)
    out = tmp_path / "b" / "run"
    with pytest.raises(Stop):
        scorelab.run(sc, out=out, people_state=True, checkpoint_every=20, progress=stop_at(5))
    assert not (folder_for(out) / "latest.json").exists()
    with pytest.raises(Stop):
        scorelab.resume(out, progress=stop_at(50))  # from step 0; checkpoints at 20 and 40
    steps = []
    scorelab.resume(out, progress=lambda done, total: steps.append(done))
    assert steps[0] == 41
    same_bytes(tmp_path / "a" / "run", out)


def test_sigkilled_cli_run_resumes_to_the_same_bytes(tmp_path):
    """`scorelab run --checkpoint-every` killed with SIGKILL after a checkpoint; `scorelab run
    --resume` finishes it, removes the dead run's staging folder and the checkpoint, and the
    folder equals one written by an uninterrupted run."""
    src = tmp_path / "s.yaml"
    src.write_text(yaml.safe_dump({"extends": "rongcheng-2018", "population": {"people": 60_000},
                                   "run": {"days": 730}}))
    out = tmp_path / "b" / "run"
    cmd = [sys.executable, "-m", "scorelab", "run", str(src), "--out", str(out), "--people-state",
           "--checkpoint-every", "10"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (folder_for(out) / "latest.json").exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL and not out.exists()
    assert any(".partial-" in p.name for p in out.parent.iterdir())
    res = CliRunner().invoke(app, ["run", "--resume", str(out)])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.parent.iterdir()) == ["run"]
    ref = tmp_path / "a" / "run"
    res = CliRunner().invoke(app, ["run", str(src), "--out", str(ref), "--people-state"])
    assert res.exit_code == 0, res.output
    same_bytes(ref, out)
    assert "--checkpoint-every 10" in json.loads((out / "manifest.json").read_text())["command"]


def one_line_error(args: list[str], needle: str) -> None:
    cli_one_line_error(CliRunner().invoke(app, args), needle)


def test_bad_resumes_fail_with_one_line(tmp_path):
    out = tmp_path / "run"
    one_line_error(["run", "--resume", str(out)], "no checkpoint to resume")
    one_line_error(["run", "rongcheng-2018", "--resume", str(out)], "drop SOURCE")
    one_line_error(["run", "rongcheng-2018", "--checkpoint-every", "0", "--out", str(out)], "--checkpoint-every")
    one_line_error(["run"], "give a SOURCE")
    sc = scorelab.load("rongcheng-2018", {"population.people": 500, "run.days": 20})
    with pytest.raises(Stop):
        scorelab.run(sc, out=out, checkpoint_every=5, progress=stop_at(12))
    ck = folder_for(out) / "scenario.yaml"
    ck.write_text(ck.read_text().replace("days: 20", "days: 21"))
    one_line_error(["run", "--resume", str(out)], "no longer matches the checkpoint")
    with pytest.raises(scorelab.UsageError, match="need a results folder"):
        scorelab.run(sc, checkpoint_every=5)
    done = tmp_path / "done"
    scorelab.run(sc, out=done)
    one_line_error(["run", "--resume", str(done)], "already complete")


def test_a_checkpoint_without_record_identities_cannot_hand_records_back(tmp_path):
    """A results-folder run keeps no record identities (actor, step); resuming its checkpoint
    through the library with the records handed back is refused with one line, and without
    them gives the folder's run."""
    from scorelab.engine.checkpoint import Checkpoint
    from scorelab.engine.simulation import simulate

    sc = scorelab.load("rongcheng-2018", {"population.people": 3000, "run.days": 30})
    out = tmp_path / "run"
    with pytest.raises(Stop):
        scorelab.run(sc, out=out, checkpoint_every=10, progress=stop_at(15))
    pop, contacts = scorelab.build_population(sc, layers="read")
    checkpoint = Checkpoint.open(folder_for(out))[0]
    with pytest.raises(scorelab.UsageError, match="kept no records"):
        simulate(sc, pop, contacts, checkpoint=checkpoint, keep_records=True)
    resumed = simulate(sc, pop, contacts, checkpoint=checkpoint, keep_records=False)
    whole = simulate(sc, pop, contacts)
    assert resumed.records == {} and len(whole.records["actor"]) > 0
    for k, v in whole.metrics.items():
        assert v.tobytes() == resumed.metrics[k].tobytes(), k
