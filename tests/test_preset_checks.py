"""Every built-in scenario reproduces the published outcome figures it cites, and its docs page
shows the check as it is now.

``tools/gen_preset_checks.py`` runs each preset's targets file (src/scorelab/presets/targets/,
docs/calibration.md) with the preset's own values, at the scale, days and seeds the file names,
and writes a table into the preset's page under docs/presets/. These tests rerun it: a page
that differs from what it writes is stale (regenerate with ``python tools/gen_preset_checks.py``),
and a verdict "off" (the mean of the runs more than 2 sd from the published figure) fails, so a
change to a preset or the engine that stops a preset reproducing its figures fails here.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import tomllib
from pathlib import Path

import pytest

import scorelab
from scorelab.calibrate import TARGETS_DIR, check, read_targets
from scorelab.scenario.loader import PRESET_DIR, preset_names

ROOT = Path(__file__).resolve().parent.parent


def _generator():
    spec = importlib.util.spec_from_file_location("gen_preset_checks", ROOT / "tools" / "gen_preset_checks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()


@pytest.fixture(scope="module")
def generated():
    """(page -> (committed text, generated text), targets that are off): every preset run once."""
    return GEN.pages()


def test_pages_show_the_current_checks(generated):
    found, _ = generated
    stale = [p.name for p, (committed, fresh) in found.items() if committed != fresh]
    assert not stale, f"stale preset checks in docs/presets/{stale}: run python tools/gen_preset_checks.py"


def test_every_preset_reproduces_its_published_figures(generated):
    _, off = generated
    assert not off, "published figures a preset no longer reproduces (more than 2 sd off): " + "; ".join(off)


def test_every_preset_is_on_one_page_and_every_targets_file_is_used():
    covered = sorted(p for presets in GEN.PAGES.values() for p in presets)
    assert covered == preset_names()
    assert all((GEN.DOCS / page).is_file() for page in GEN.PAGES)
    used = {GEN.targets_name(p) for p in preset_names()} - {None}
    assert used == {p.stem for p in TARGETS_DIR.glob("*.yaml")}


def test_targets_files_are_not_presets_and_ship_in_the_wheel():
    assert TARGETS_DIR.parent == PRESET_DIR
    assert not {p.stem for p in TARGETS_DIR.glob("*.yaml")} - set(preset_names())  # each names its preset
    assert "targets" not in preset_names()
    with pytest.raises(scorelab.ScenarioError, match="no such file"):
        scorelab.load("targets/national-2027")
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["scorelab"]
    for path in TARGETS_DIR.glob("*.yaml"):
        rel = path.relative_to(PRESET_DIR.parent).as_posix()
        assert any(fnmatch.fnmatch(rel, pat) for pat in patterns), f"{rel} is not package data"


@pytest.mark.parametrize("name", sorted(p.stem for p in TARGETS_DIR.glob("*.yaml")))
def test_targets_compare_the_factual_world_and_cite_facts(name):
    plan = check(name, name)
    for t in plan["targets"]:
        assert not t["metric"].startswith("events_twin."), f"{name}: {t['name']} is a counterfactual column"
    sources = [t.source for t in read_targets(name).spec.targets]
    assert all("FACTS" in s for s in sources), sources
