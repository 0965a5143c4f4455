"""The explorer's page (Solara): the levers on the left, the view on the right.

The URL's query string is the one source of a tab's settings: moving a lever pushes a new
query, and the view is a function of it, so a view can be shared and reopened, and each tab
(a Solara session of its own) keeps its own. Runs happen in a thread per tab
(``solara.use_thread``); a stale one is cancelled at its next step and never shown.
"""

from __future__ import annotations

import functools
import html
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "false")  # (no call home, before solara reads it)

import solara  # noqa: E402

from scorelab.errors import ScenarioError, UsageError  # noqa: E402
from scorelab.explore.levers import GROUPS, Lever, changed, coerce, from_query, to_query  # noqa: E402
from scorelab.explore.tour import TOUR  # noqa: E402
from scorelab.explore.views import (  # noqa: E402
    PEOPLE,
    Cancelled,
    Start,
    impact_html,
    one_line,
    run_view,
    saved_yaml,
    start_of,
    table_html,
)


@dataclass
class Config:
    """What the command line decided: the starting scenarios, the size, where to save."""

    choices: list[str] = field(default_factory=lambda: ["rongcheng-2018"])
    people: int = PEOPLE
    save: Path | None = None


CONFIG = Config()

CSS = """
.harms, .impact {border-collapse: collapse; font-size: 14px; margin: 4px 0 12px 0}
.harms td, .harms th, .impact td, .impact th {border-bottom: 1px solid #ddd; padding: 3px 8px; text-align: right}
.harms td:first-child, .impact td:first-child, .harms th:first-child, .harms td.unit {text-align: left}
.verdict p {font-size: 16px; margin: 4px 0}
.tour {font-size: 13px}
.v-input__slider .v-label {white-space: normal; flex: 0 0 55%; max-width: 55%; font-size: 13px; line-height: 1.2}
.v-input__slider {margin-bottom: 10px}
"""


@functools.lru_cache(maxsize=16)
def _start(ref: str) -> Start:
    return start_of(ref)


def _parse(search: str | None) -> tuple[str, int, dict[str, Any], str | None]:
    """The view a query string asks for; a bad query falls back to the start with its message."""
    try:
        scen, people, raw = from_query(search or "")
    except UsageError as e:
        return CONFIG.choices[0], CONFIG.people, {}, str(e)
    if scen not in CONFIG.choices:  # (only the offered scenarios; never a path from the browser)
        scen = CONFIG.choices[0]
    people = people if people is not None else CONFIG.people
    return scen, people, raw, None


@solara.component
def LeverControl(lever: Lever, value: Any, on_change: Any) -> None:
    if lever.switch:
        solara.Switch(label=lever.label, value=bool(value), on_value=lambda v: on_change(lever.key, v))
        return
    try:
        v = float(coerce(lever, value))
    except UsageError:
        v = float(lever.start)
    lo, hi = min(lever.lo, float(lever.start), v), max(lever.hi, float(lever.start), v)  # (never clamped on load)

    def moved(x: float) -> None:
        if abs(float(x) - v) >= lever.step / 2:  # (a slider snapping the value to its steps is no move)
            on_change(lever.key, x)

    label = f"{lever.label}: {v:.10g}" + (" (start)" if v == lever.start else "")
    if lever.integer:
        solara.SliderInt(label, value=int(v), min=int(lo), max=int(hi), step=int(lever.step), on_value=moved)
    else:
        solara.SliderFloat(label, value=v, min=lo, max=hi, step=lever.step, on_value=moved)


@solara.component
def Levers(start: Start, settings: dict[str, Any], on_change: Any) -> None:
    for group in GROUPS:
        levers = [lv for lv in start.levers if lv.group == group]
        if not levers:
            continue
        with solara.Details(group, expand=group in ("Safeguards", "Errors")):
            for lv in levers:
                LeverControl(lv, settings.get(lv.key, lv.start), on_change)


def _heading(text: str) -> None:
    solara.HTML(tag="h3", unsafe_innerHTML=html.escape(text))


@solara.component
def Shown(result: Any, key: str, error: str | None) -> None:
    state = "running" if result.state in (solara.ResultState.STARTING, solara.ResultState.RUNNING,
                                          solara.ResultState.WAITING) else "done"
    value = result.value
    shown_key = value[0] if value else ""
    # (for tests and scripts: what is shown and what is wanted, as text; attributes do not update)
    solara.HTML(tag="div", unsafe_innerHTML=html.escape(f"{state} {shown_key} {key}"), classes=["view-state"],
                style="display: none")
    if error:
        solara.Error(error)
    if state == "running" and shown_key != key:
        solara.Info("running…")
    if value is None:
        return
    view_key, view, failure = value
    if failure:
        solara.Error(failure, classes=["failure"])
        return
    solara.HTML(tag="div", classes=["verdict"],
                unsafe_innerHTML="".join(f"<p>{html.escape(s)}</p>" for s in view.verdict))
    solara.Text(f"{view.people:,} people, seeds {', '.join(map(str, view.seeds))}, {view.seconds:.1f} s",
                classes=["size"])
    solara.HTML(tag="div", unsafe_innerHTML=table_html(view, view_key), classes=["harms-box"])
    figures = view.figures
    if figures:
        with solara.Columns([1, 1]):
            solara.FigureMatplotlib(figures["chilling"], format="png", dpi=70)
            solara.FigureMatplotlib(figures["sanctions"], format="png", dpi=70)
    else:
        solara.Info("drawing the figures…")
    _heading("Disparate impact by group (first seed)")
    solara.HTML(tag="div", unsafe_innerHTML=impact_html(view))
    if figures:
        _heading("A few people's paths (first seed)")
        solara.FigureMatplotlib(figures["lives"], format="png", dpi=70)


def _save(start: Start, settings: dict[str, Any], people: int) -> str:
    if CONFIG.save is None:
        return "start scorelab explore with --save PATH to save"
    from scorelab.atomic import write_text
    from scorelab.scenario.loader import load

    try:
        write_text(CONFIG.save, saved_yaml(start, settings, people, CONFIG.save))
    except (ScenarioError, UsageError, OSError) as e:
        return one_line(e)
    try:
        load(CONFIG.save)
    except (ScenarioError, UsageError) as e:  # (settings the view refused: nothing is left saved)
        CONFIG.save.unlink(missing_ok=True)
        return "not saved: " + one_line(e)
    return f"saved to {CONFIG.save}"


@solara.component
def Page() -> None:
    router = solara.use_router()
    scen, people, raw, error = _parse(router.search)
    try:
        start = _start(scen)
    except (ScenarioError, UsageError) as e:
        solara.Error(one_line(e))
        return
    key = to_query(scen, people, raw)
    message, set_message = solara.use_state("")

    def push(scenario: str, settings: dict[str, Any]) -> None:
        router.push("?" + to_query(scenario, people, changed(_start(scenario).levers, settings)))

    def on_change(k: str, v: Any) -> None:
        push(scen, {**raw, k: v})

    def work(cancel: Any) -> Any:
        """The numbers first, then the same view with its figures (a generator: each is shown)."""
        try:
            view = run_view(start, raw, people, cancelled=cancel.is_set)
        except Cancelled:  # (solara's own: a stale thread ends quietly)
            raise solara.util.CancelledError() from None
        except Exception as e:  # (a failed run is shown, and the server goes on)
            yield key, None, one_line(e)
            return
        if cancel.is_set():
            raise solara.util.CancelledError()
        yield key, view, None
        if not cancel.is_set():
            yield key, view.with_figures(), None

    result = solara.use_thread(work, dependencies=[key], intrusive_cancel=False)
    solara.Style(CSS)
    solara.Title("scorelab explore")
    with solara.Columns([1, 2]):
        with solara.Column():
            solara.HTML(tag="h2", unsafe_innerHTML="scorelab explore")
            solara.Select("scenario", value=scen, values=CONFIG.choices, on_value=lambda s: push(s, {}))
            Levers(start, raw, on_change)
            with solara.Row():
                solara.Button("Save this scenario", on_click=lambda: set_message(_save(start, raw, people)),
                              disabled=CONFIG.save is None, classes=["save"])
                solara.Button("Reset", on_click=lambda: push(scen, {}))
            if message:
                solara.Text(message, classes=["save-message"])
            with solara.Details("Guided tour", expand=True):
                for stop in TOUR:
                    if stop.scenario in CONFIG.choices:
                        solara.Button(stop.title, text=True, on_click=functools.partial(push, stop.scenario,
                                                                                        dict(stop.settings)))
                        solara.Text(stop.sentence, classes=["tour"])
        with solara.Column():
            Shown(result, key, error)
