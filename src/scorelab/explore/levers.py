"""The levers the explorer offers, and what a setting of them does to the scenario.

A lever is one named number or switch (its name is its key in the page's query string). Its
``apply`` turns a value into dotted overrides of the starting scenario, exactly what
``scorelab run --set`` would take, so the scenario language validates them and the saved file
(``saved_yaml``) reproduces the view. Only the levers built here reach the engine: an unknown
key in a query string is refused, never passed on.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from scorelab.errors import UsageError
from scorelab.scenario.model import Scenario

#: The groups of levers, in the order the page shows them.
GROUPS = ("Safeguards", "Errors", "Channels", "People's responses", "Investigations", "Data collected")


@dataclass(frozen=True)
class Lever:
    """One control: a number between ``lo`` and ``hi`` in steps of ``step``, or a switch."""

    key: str
    label: str
    group: str
    start: float | bool
    apply: Callable[[Any], dict[str, Any]] = field(repr=False, compare=False)
    lo: float = 0.0
    hi: float = 1.0
    step: float = 0.01
    switch: bool = False
    integer: bool = False


def _num(x: float) -> float:
    """A float written short in a saved file (12 significant digits)."""
    return float(f"{x:.12g}")


def _set(*paths: str, transform: Callable[[Any], Any] = lambda v: v) -> Callable[[Any], dict[str, Any]]:
    return lambda v: {p: transform(v) for p in paths}


def _scale(bases: Mapping[str, float], cap: float | None = 1.0,
           write: Callable[[float], Any] = _num) -> Callable[[Any], dict[str, Any]]:
    """A multiplier of each path's starting value (capped, e.g. a probability at 1)."""
    def apply(v: Any) -> dict[str, Any]:
        return {p: write(min(cap, b * float(v)) if cap is not None else b * float(v)) for p, b in bases.items()}
    return apply


def channel_domains(s: Scenario) -> dict[str, str]:
    """Each channel's domain: the most common domain of the behaviours it observes."""
    out = {}
    for name, ch in s.channels.items():
        seen = Counter(s.behaviours[b].domain for b in ch.observes if b in s.behaviours)
        if seen:
            out[name] = sorted(seen.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    return out


def _safeguards(s: Scenario) -> list[Lever]:
    g = s.safeguards
    return [
        Lever("appeals", "appeals: share of erroneous records contested", "Safeguards", g.appeals.contested,
              _set("safeguards.appeals.contested")),
        Lever("appeals_success", "appeals: share of contested errors removed", "Safeguards", g.appeals.success,
              _set("safeguards.appeals.success")),
        Lever("listing_appeals", "appeals of wrongful listings: share contested", "Safeguards",
              g.appeals.listings.contested, _set("safeguards.appeals.listings.contested")),
        Lever("expiry", "expiry: records deleted after (days; 0 = never)", "Safeguards",
              round(g.expiry) if g.expiry is not None else 0,
              _set("safeguards.expiry", transform=lambda v: None if float(v) <= 0 else int(v)),
              lo=0, hi=1825, step=30, integer=True),
        Lever("purpose", "purpose limitation", "Safeguards", g.purpose_limitation,
              _set("safeguards.purpose_limitation", transform=bool), switch=True),
        Lever("transparency", "transparency: extra share told they are scored", "Safeguards", g.transparency.awareness,
              _set("safeguards.transparency.awareness")),
    ]


def _errors(s: Scenario) -> list[Lever]:
    out = []
    mis = {f"channels.{n}.misattribution.probability": c.misattribution.probability
           for n, c in s.channels.items() if c.misattribution.probability > 0}
    if mis:
        out.append(Lever("misattribution", "misattribution: x the records named wrongly", "Errors", 1.0, _scale(mis),
                         lo=0, hi=5, step=0.1))
    ident = {n: c.identification for n, c in s.channels.items() if c.identification is not None}
    if ident:
        first = next(iter(ident.values()))
        start = math.log10(first.false_match_rate) if first.false_match_rate > 0 else -9.0
        out.append(Lever("face_fmr", "face ID: false-match rate per comparison (10^x)", "Errors", round(start, 2),
                         _set(*(f"channels.{n}.identification.false_match_rate" for n in ident),
                              transform=lambda v: _num(10.0 ** float(v))), lo=-9, hi=-3, step=0.25))
        wl = first.watchlist
        if wl in s.lists and s.lists[wl].entry.behaviours:
            out.append(Lever("watchlist", f"watchlist '{wl}': records that put a person on it", "Errors",
                             s.lists[wl].entry.min_records, _set(f"lists.{wl}.entry.min_records", transform=int),
                             lo=1, hi=10, step=1, integer=True))
    if s.scoring.association is not None:
        out.append(Lever("association", "association: points per counted contact", "Errors",
                         s.scoring.association.points, _set("scoring.association.points", transform=_num),
                         lo=-200, hi=0, step=1))
    return out


def _channels(s: Scenario) -> list[Lever]:
    domains = channel_domains(s)
    out = []
    for d in sorted(set(domains.values())):
        names = [n for n, dd in domains.items() if dd == d]
        cov = {f"channels.{n}.coverage": s.channels[n].coverage for n in names}
        det = {f"channels.{n}.detection": s.channels[n].detection for n in names}
        out.append(Lever(f"coverage_{d}", f"{d}: coverage x", "Channels", 1.0, _scale(cov), lo=0, hi=2, step=0.05))
        out.append(Lever(f"detection_{d}", f"{d}: detection x", "Channels", 1.0, _scale(det), lo=0, hi=2, step=0.05))
    return out


def _responses(s: Scenario) -> list[Lever]:
    r = s.responses
    return [Lever("awareness", "awareness: most people who know they are watched", "People's responses",
                  r.awareness.maximum, _set("responses.awareness.maximum")),
            Lever("deterrence", "deterrence: strength of the response to risk", "People's responses", r.deterrence,
                  _set("responses.deterrence", transform=_num), lo=0, hi=3, step=0.1)]


def _investigations(s: Scenario) -> list[Lever]:
    return [Lever(f"capacity_{n}", f"'{n}' flags: investigation capacity x", "Investigations", 1.0,
                  _scale({f"flags.{n}.capacity": f.capacity}, cap=None, write=lambda x: f"{_num(x)} per day"),
                  lo=0, hi=3, step=0.1) for n, f in s.flags.items()]


def _minimisation(s: Scenario) -> list[Lever]:
    """Data minimisation as one switch per domain: off adds its channels to ``disabled_channels``."""
    domains = channel_domains(s)
    base = list(s.safeguards.disabled_channels)
    out = []
    for d in sorted(set(domains.values())):
        names = [n for n, dd in domains.items() if dd == d]
        on = not all(n in base for n in names)
        out.append(Lever(f"collect_{d}", f"collect {d} data", "Data collected", on, lambda v: {}, switch=True))
    return out


def levers_for(s: Scenario) -> list[Lever]:
    """The levers that matter for this scenario, grouped as ``GROUPS``."""
    return [*_safeguards(s), *_errors(s), *_channels(s), *_responses(s), *_investigations(s), *_minimisation(s)]


def coerce(lever: Lever, raw: Any) -> float | bool:
    """A value for ``lever`` from the page or a query string; UsageError in one line if it is not one."""
    if lever.switch:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "on", "yes"):
            return True
        if text in ("0", "false", "off", "no"):
            return False
        raise UsageError(f"{lever.key}: expected on or off, got {str(raw)[:40]!r}")
    try:
        v = float(raw)
    except (TypeError, ValueError):
        raise UsageError(f"{lever.key}: expected a number, got {str(raw)[:40]!r}") from None
    if not math.isfinite(v):
        raise UsageError(f"{lever.key}: expected a finite number, got {str(raw)[:40]!r}")
    return int(round(v)) if lever.integer else v


def overrides(s: Scenario, levers: list[Lever], settings: Mapping[str, Any]) -> dict[str, Any]:
    """The dotted overrides of ``settings`` (lever key -> value; levers not named keep the start)."""
    by_key = {lv.key: lv for lv in levers}
    unknown = sorted(set(settings) - set(by_key))
    if unknown:
        raise UsageError(f"no such setting {unknown[0][:40]!r}")
    out: dict[str, Any] = {}
    for key, raw in settings.items():
        lv = by_key[key]
        if not key.startswith("collect_"):
            out.update(lv.apply(coerce(lv, raw)))
    collect = {k[len("collect_"):]: bool(coerce(lv, settings.get(k, lv.start)))
               for k, lv in by_key.items() if k.startswith("collect_")}
    moved = {d for d, on in collect.items() if on != by_key[f"collect_{d}"].start}
    if moved:  # (a domain switched on again collects with all its channels)
        domains = channel_domains(s)
        kept = {c for c in s.safeguards.disabled_channels if domains.get(c) not in moved}
        out["safeguards.disabled_channels"] = sorted(kept | {c for c, d in domains.items() if not collect[d]})
    return out


def changed(levers: list[Lever], settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings that differ from the start, in the levers' order."""
    out = {}
    for lv in levers:
        if lv.key in settings:
            v = coerce(lv, settings[lv.key])
            if v != lv.start and not (not lv.switch and math.isclose(float(v), float(lv.start), abs_tol=1e-12)):
                out[lv.key] = v
    return out


def to_query(scenario: str, people: int, settings: Mapping[str, Any]) -> str:
    """The query string of a view (what the URL holds, to reopen it)."""
    shown = {k: ("on" if v else "off") if isinstance(v, bool) else f"{v:.10g}" if isinstance(v, (int, float)) else v
             for k, v in settings.items()}
    return urlencode({"scenario": scenario, "people": people, **shown})


def from_query(query: str) -> tuple[str | None, int | None, dict[str, str]]:
    """The scenario, size and settings of a query string (values still as text)."""
    pairs = dict(parse_qsl(query or "", keep_blank_values=True))
    scenario = pairs.pop("scenario", None)
    people = pairs.pop("people", None)
    try:
        n = int(people) if people is not None else None
    except ValueError:
        raise UsageError(f"people: expected a whole number, got {people[:40]!r}") from None
    return scenario, n, pairs


def nested(dotted: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted overrides as the nested mapping a scenario file writes."""
    out: dict[str, Any] = {}
    for path, value in dotted.items():
        node = out
        *parents, last = path.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    return out
