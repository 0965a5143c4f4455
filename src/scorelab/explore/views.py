"""One view of the explorer: the starting scenario with the page's settings, run with a few
seeds, and what the page shows of it (the verdict, harms per 1,000 with intervals, disparate
impact by group, factual against twin over time, a few people's paths).

Runs from all tabs go through one lock, one at a time (the kernels are not run twice at once
in one process), and a run whose view is stale stops at its next step (``Cancelled``).
"""

from __future__ import annotations

import html
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scorelab import vocabulary as V
from scorelab.errors import ScenarioError, UsageError
from scorelab.explore.levers import Lever, changed, levers_for, nested, overrides
from scorelab.impact import harm_label
from scorelab.intervals import describe, figure_kind
from scorelab.scenario.loader import load, preset_names

#: The harms the page counts, in its order (the wrongful ones first after sanctions).
HARMS = (V.SANCTIONS, V.SANCTIONS_WRONGFUL, V.PEOPLE_SANCTIONED, V.PEOPLE_DAYS_WRONGFULLY_LISTED, V.FLAGS_FALSE,
         V.LAWFUL_ACTS_SUPPRESSED, V.INCOME_LOST)
#: The report's figures a view shows (``Result.plot``): factual against twin, sanctions, people's paths.
FIGURES = ("chilling", "sanctions", "lives")
#: Seeds per view: enough for an interval, few enough to answer in about a second.
SEEDS = 3
#: The people a view simulates unless the command line says otherwise.
PEOPLE = 5000

_RUN_LOCK = threading.Lock()


class Cancelled(Exception):
    """The view this run was for is no longer wanted."""


@dataclass(frozen=True)
class Start:
    """A starting scenario: what ``extends:`` names, its label on the page, and its levers."""

    ref: str
    label: str
    people: int
    represents: int
    levers: list[Lever] = field(repr=False)

    @property
    def source(self) -> str | Path:
        return self.ref if self.ref in preset_names() else Path(self.ref)


def start_of(ref: str) -> Start:
    """Load a built-in name or a file as a starting point (ScenarioError in one line per problem)."""
    s = load(ref if ref in preset_names() else Path(ref))
    return Start(ref, s.name, s.population.people, s.population.represents or s.population.people, levers_for(s))


def scenario_overrides(start: Start, settings: Mapping[str, Any], people: int) -> dict[str, Any]:
    """Every override of a view: the levers' and the size (the scenario keeps the population it
    describes, ``population.represents``, so its absolute counts scale as with ``--scale``)."""
    unknown = sorted(set(settings) - {lv.key for lv in start.levers})
    if unknown:  # (only the page's own settings reach the engine)
        raise UsageError(f"no such setting {unknown[0][:40]!r} for {start.label}")
    s = load(start.source)
    return {**overrides(s, start.levers, changed(start.levers, settings)),
            "population.people": int(people), "population.represents": start.represents}


@dataclass
class View:
    """What the page shows of one view."""

    verdict: list[str]
    rows: list[dict[str, Any]]        # a harm: first seed's count, per 1,000 mean and interval over the seeds
    impact: list[dict[str, Any]]      # by group, from the first seed
    figures: dict[str, Any]           # name -> matplotlib Figure
    seeds: list[int]
    people: int
    seconds: float = 0.0
    results: list[Any] = field(default_factory=list, repr=False)

    def with_figures(self) -> "View":
        """The same view with its figures drawn (about a second: the page shows the numbers first)."""
        figures = {name: self.results[0].plot(name) for name in FIGURES}
        return View(self.verdict, self.rows, self.impact, figures, self.seeds, self.people, self.seconds, self.results)


def run_view(start: Start, settings: Mapping[str, Any], people: int, seeds: int = SEEDS,
             cancelled: Callable[[], bool] = lambda: False) -> View:
    """Run the view, without its figures (``View.with_figures``); raises ScenarioError or
    UsageError in one line for a bad setting, Cancelled when ``cancelled()`` turns true."""
    import time

    from scorelab.runner import run

    base = load(start.source, scenario_overrides(start, settings, people))
    t0 = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if cancelled():
            raise Cancelled()

    results = []
    with _RUN_LOCK:
        for i in range(seeds):
            if cancelled():
                raise Cancelled()
            s = base.model_copy(update={"run": base.run.model_copy(update={"seed": base.run.seed + i})})
            results.append(run(s, progress=progress, check_memory=True))
    return _view(results, people, time.perf_counter() - t0)


def _view(results: list[Any], people: int, seconds: float) -> View:
    sums = [r.summary() for r in results]
    rows = []
    for name in HARMS:
        values = [float(s.get(name, 0.0)) for s in sums]
        d = describe(values, kind=figure_kind(name))
        per = 1000.0 / people
        rows.append({"name": name, "first": values[0], "unit": V.figure_unit(name), "mean": d["mean"] * per,
                     "lo": None if d["ci_lo"] is None else d["ci_lo"] * per,
                     "hi": None if d["ci_hi"] is None else d["ci_hi"] * per})
    im = results[0].impact()
    impact = im.filter(im["axis"] == "group").select("cell", "harm", "people", "count", "per_1000", "per_1000_lo",
                                                     "per_1000_hi", "ratio").to_dicts()
    from scorelab.verdict import verdict  # (one run's sentences, or replicates' with intervals)

    return View(verdict(results), rows, impact, {},
                [int(r.scenario.run.seed) for r in results], people, seconds, results)


def one_line(e: BaseException) -> str:
    """The message the page shows for a refused setting or a failed run."""
    if isinstance(e, (ScenarioError, UsageError)):
        return str(e).splitlines()[0] if str(e) else type(e).__name__
    return f"the run failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"


def saved_yaml(start: Start, settings: Mapping[str, Any], people: int, save_to: Path) -> str:
    """A scenario file that ``extends:`` the starting one with the view's settings; ``scorelab run``
    of it reproduces the view's first seed (the page loads it once written)."""
    import yaml

    ref = start.ref
    if ref not in preset_names():  # (a file: named from the saved file's folder, as extends: reads it)
        try:
            ref = os.path.relpath(Path(ref).resolve(), save_to.resolve().parent)
        except ValueError:  # (another drive)
            ref = str(Path(ref).resolve())
    diff = changed(start.levers, settings)
    data = {"extends": ref, "name": f"{start.label}-explored",
            "description": "Saved from scorelab explore: " + (", ".join(f"{k}={v}" for k, v in diff.items()) or
                                                             "the starting settings"),
            **nested(scenario_overrides(start, settings, people))}
    text = "# Saved by scorelab explore; `scorelab run` of this file reproduces the view's first seed.\n" + \
        yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    return text


def table_html(view: View, key: str = "") -> str:
    """The harms table (escaped; each figure's exact value in data-value, and the view's query
    in data-key, for tests and copying)."""
    head = ("<tr><th>harm</th><th>this run (seed {})</th><th>unit</th>"
            "<th>per 1,000 people, mean of {} seeds [95 % interval]</th></tr>")
    out = [f"<table class='harms' data-key='{html.escape(key, quote=True)}'>"
           f"{head.format(view.seeds[0], len(view.seeds))}"]
    for r in view.rows:
        iv = "" if r["lo"] is None else f" [{r['lo']:,.2f}, {r['hi']:,.2f}]"
        out.append(f"<tr data-harm='{html.escape(r['name'], quote=True)}'><td>{html.escape(r['name'])}</td>"
                   f"<td class='first' data-value='{r['first']!r}'>{V.format_figure(r['name'], r['first'])}</td>"
                   f"<td class='unit'>{html.escape(r['unit'])}</td>"
                   f"<td class='per1000' data-value='{r['mean']!r}'>{r['mean']:,.2f}{iv}</td></tr>")
    return "".join(out) + "</table>"


def impact_html(view: View) -> str:
    """Disparate impact by group: each harm per 1,000 in each group, with its interval and ratio."""
    out = ["<table class='impact'><tr><th>harm</th><th>group</th><th>people</th><th>count</th>"
           "<th>per 1,000 [95 % interval]</th><th>x overall</th></tr>"]
    for r in view.impact:
        if r["harm"] not in ("sanctions", "wrongful_sanctions", "flags", "false_flags", "acts_suppressed"):
            continue
        lo, hi = r["per_1000_lo"], r["per_1000_hi"]
        iv = "" if lo is None or hi is None else f" [{lo:,.1f}, {hi:,.1f}]"
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
        out.append(f"<tr><td>{html.escape(harm_label(r['harm']))}</td><td>{html.escape(str(r['cell']))}</td>"
                   f"<td>{r['people']:,}</td><td>{r['count']:,.0f}</td><td>{r['per_1000']:,.1f}{iv}</td>"
                   f"<td>{ratio}</td></tr>")
    return "".join(out) + "</table>"


__all__ = ["HARMS", "PEOPLE", "SEEDS", "Cancelled", "Start", "View", "impact_html", "one_line", "run_view",
           "saved_yaml", "scenario_overrides", "start_of", "table_html"]
