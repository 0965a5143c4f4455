"""docs/sources.md lists every published figure the presets use: each calibration target's value,
and each number a preset's comment attributes to FACTS (the project's list of published figures),
on a line that names the preset and the key; and the pages that should link to it do."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "sources.md"
PRESETS = ROOT / "src" / "scorelab" / "presets"

# `key: number` in a preset line (a block key or one inside a flow mapping); a unit may follow.
_PAIR = re.compile(r"(?<![\w.])([a-z_]+):\s*(-?\d[\d.]*)(?=[\s,}\]]|$)")
# Keys on a FACTS line that the same comment marks as the assumption part: the text it must say.
_ASSUMED_PART = {"every": None, "clean": "clean period assumption", "attempts": "attempt rate assumption",
                 "income_change": "size assumption", "growth": "growth and maximum assumptions",
                 "maximum": "growth and maximum assumptions"}


def _plain(text: str) -> str:
    """Digits without thousands separators, so 1,410,000,000 and 1410000000 compare equal."""
    return re.sub(r"(?<=\d),(?=\d{3})", "", text)


def _page_lines() -> list[str]:
    return [_plain(line) for line in PAGE.read_text().splitlines()]


def _has_number(line: str, number: str) -> bool:
    return re.search(rf"(?<![\d.]){re.escape(number)}(?![\d])", line) is not None


def _sourced_pairs() -> list[tuple[str, str, str]]:
    """(preset, key, number) for every number on a preset line whose comment starts with FACTS."""
    out = []
    for path in sorted(PRESETS.glob("*.yaml")):
        for line in path.read_text().splitlines():
            if "#" not in line:
                continue
            value, comment = line.split("#", 1)
            comment = comment.strip()
            if not comment.startswith("FACTS"):
                continue
            for key, number in _PAIR.findall(value):
                said = _ASSUMED_PART.get(key, "")
                if said is None or (said and said in comment):
                    continue
                out.append((path.stem, key, number))
    return out


def test_there_are_sourced_numbers_to_check():
    pairs = _sourced_pairs()
    assert len(pairs) >= 20
    assert ("national-2027-ihs", "coverage", "0.626") in pairs
    assert ("national-2027", "attempts", "1.03") in pairs
    # (FACTS used as another quantity is an assumption, marked so: the FTC's shares of people as
    # shares of records)
    assert ("safeguarded", "contested", "0.26") not in pairs


@pytest.mark.parametrize("preset,key,number", _sourced_pairs())
def test_every_sourced_preset_number_is_on_the_page(preset, key, number):
    lines = _page_lines()
    hits = [ln for ln in lines if preset in ln and key in ln and _has_number(ln, number)]
    assert hits, f"docs/sources.md has no line naming {preset}, {key} and {number} (a FACTS number in presets/{preset}.yaml)"


def _targets() -> list[tuple[str, str, str, float]]:
    out = []
    for path in sorted((PRESETS / "targets").glob("*.yaml")):
        for t in yaml.safe_load(path.read_text())["targets"]:
            out.append((path.stem, t["name"], t["metric"], float(t["value"])))
    return out


def test_there_are_targets_to_check():
    assert len(_targets()) >= 8


@pytest.mark.parametrize("preset,name,metric,value", _targets())
def test_every_calibration_target_is_on_the_page(preset, name, metric, value):
    number = f"{value:.0f}" if value == int(value) else repr(value)
    lines = _page_lines()
    hits = [ln for ln in lines if _has_number(ln, number) and preset in ln and metric in ln]
    assert hits, f"docs/sources.md has no line with {preset}'s target {name!r} ({metric} = {number})"


def test_a_missing_number_is_caught():
    lines = _page_lines()
    assert not any(_has_number(ln, "2614001") for ln in lines)
    assert _has_number("value 2614000 |", "2614000") and not _has_number("26140000", "2614000")


@pytest.mark.parametrize("page", sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs" / "presets").glob("*.md"))
                         + ["docs/report.md", "docs/calibration.md", "docs/README.md"])
def test_pages_link_the_sources_page(page):
    text = (ROOT / page).read_text()
    assert "sources.md" in text, f"{page} does not link docs/sources.md"
