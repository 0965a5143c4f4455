"""``scorelab explore`` (issue 24): the server started as a user starts it, driven in headless
Chromium over the DevTools protocol (the ``Browser`` of test_report.py): a safeguard slider
moved with the keyboard reruns the view, and the figures shown (the wrongful sanctions first)
are the engine's own; the saved
file reproduces them under ``scorelab run``; the page requests nothing outside the server; a
bad setting is one line and the server goes on. One server and one browser serve every test.

With ``SCORELAB_SCREENSHOTS=dir`` the first and the changed view are saved there as PNGs.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

pytest.importorskip("solara", reason="scorelab explore needs the 'explore' extra (pip install 'scorelab[explore]')")

from test_report import Browser, chromium_binary  # noqa: E402

import scorelab  # noqa: E402
from scorelab import vocabulary as V  # noqa: E402
from scorelab.explore import levers as L  # noqa: E402
from scorelab.errors import UsageError  # noqa: E402
from scorelab.explore.views import Cancelled, run_view, saved_yaml, scenario_overrides, start_of  # noqa: E402

PEOPLE = 3000
#: A commercial credit index: at five times its misattribution, erroneous records cause wrongful
#: sanctions (refusals) at 3,000 people, and appeals remove some of them.
SCENARIO = "zhima-index"
WRONG = V.SANCTIONS_WRONGFUL


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("explore")
    port = _free_port()
    log = open(tmp / "server.log", "wb")
    exe = Path(sys.executable).with_name("scorelab")
    proc = subprocess.Popen([str(exe), "explore", "--people", str(PEOPLE), "--port", str(port),
                             "--save", str(tmp / "saved.yaml")], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"scorelab explore did not start: {(tmp / 'server.log').read_text()[-2000:]}")
            time.sleep(0.2)
    yield {"url": f"http://127.0.0.1:{port}/", "port": port, "tmp": tmp, "proc": proc}
    proc.terminate()
    proc.wait(timeout=20)
    log.close()
    assert "Traceback" not in (tmp / "server.log").read_text(errors="replace")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    binary = chromium_binary()
    if binary is None:
        pytest.skip("no Chromium binary found (set SCORELAB_CHROMIUM, or install Debian's 'chromium')")
    b = Browser(binary, tmp_path_factory.mktemp("chromium-explore") / "profile")
    yield b
    b.quit()


def _state(b: Browser) -> list[str] | None:
    return b.evaluate("(() => {const e = document.querySelector('.view-state'); "
                      "return e ? e.textContent.split(' ') : null})()")


def _wait_done(b: Browser, want: str | None = None, table: bool = True, timeout: float = 90.0) -> list[str]:
    """Wait for the view of the current URL (containing ``want``), its harms table drawn."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = _state(b)
        if s and len(s) == 3 and s[0] == "done" and s[1] == s[2] and (want is None or want in s[2]):
            if not table or b.evaluate("(document.querySelector('.harms') || {dataset: {}}).dataset.key") == s[2]:
                return s
        time.sleep(0.05)
    raise TimeoutError(f"no finished view{' with ' + want if want else ''}: {_state(b)}")


def _wait_drawn(b: Browser, timeout: float = 60.0) -> None:
    """Wait for the view's plots (three images) and for Solara's busy overlay to go."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if b.evaluate("document.querySelectorAll('img').length >= 3 && "
                      "!document.body.innerText.includes('drawing the figures')"):
            time.sleep(0.3)
            return
        time.sleep(0.05)
    raise TimeoutError("the view's plots were not drawn")


def _shown(b: Browser) -> dict[str, float]:
    return b.evaluate("Object.fromEntries(Array.from(document.querySelectorAll('.harms tr[data-harm]'))"
                      ".map(r => [r.dataset.harm, parseFloat(r.querySelector('.first').dataset.value)]))")


def _engine(settings: dict, scenario: str = SCENARIO) -> dict:
    start = start_of(scenario)
    s = scorelab.load(scenario, scenario_overrides(start, settings, PEOPLE))
    return scorelab.run(s).summary()


def _shots() -> Path | None:
    d = os.environ.get("SCORELAB_SCREENSHOTS")
    if d:
        Path(d).mkdir(parents=True, exist_ok=True)
    return Path(d) if d else None


@pytest.fixture(scope="module")
def session(server, browser):
    """The first view (zhima-index at five times its misattribution, from the URL), then the appeals slider moved
    to its end with the keyboard; what was shown each time and how long the rerun took."""
    query = L.to_query(SCENARIO, PEOPLE, {"misattribution": 5})
    browser.open(server["url"] + "?" + query)
    _wait_done(browser, "misattribution=5")
    first = _shown(browser)
    opened = browser.evaluate("location.search")
    shots = _shots()
    if shots:
        _wait_drawn(browser)
    if shots:
        (shots / "explore-first.png").write_bytes(browser.screenshot())
    browser.evaluate("document.querySelector('[role=slider][aria-label^=\"appeals: share of erroneous\"]').focus()")
    t0 = time.perf_counter()
    for kind in ("keyDown", "keyUp"):
        browser.call("Input.dispatchKeyEvent", {"type": kind, "key": "End", "code": "End", "windowsVirtualKeyCode": 35})
    deadline = time.monotonic() + 90
    while "appeals=1" not in (browser.evaluate("(document.querySelector('.harms') || {dataset: {}}).dataset.key")
                              or "") and time.monotonic() < deadline:
        time.sleep(0.02)
    seconds = time.perf_counter() - t0          # to the updated figures in the table
    _wait_done(browser, "appeals=1")
    drawn = time.perf_counter() - t0            # and to the plots drawn
    changed = _shown(browser)
    if shots:
        _wait_drawn(browser)
        (shots / "explore-changed.png").write_bytes(browser.screenshot())
        (shots / "explore-latency.txt").write_text(f"{seconds:.2f} s from the key press to the updated figures, "
                                                   f"{drawn:.2f} s to the plots drawn\n")
    url = browser.evaluate("location.href")
    return {"first": first, "changed": changed, "seconds": seconds, "url": url, "opened": opened, "query": query,
            "requests": browser.requests(), "errors": browser.console_errors(),
            "sockets": [e["params"]["url"] for e in browser.events if e["method"] == "Network.webSocketCreated"]}


def test_moving_a_safeguard_reruns_with_the_engines_figures(session):
    first, changed = session["first"], session["changed"]
    before, after = _engine({"misattribution": 5}), _engine({"misattribution": 5, "appeals": 1.0})
    for name in (WRONG, V.SANCTIONS, V.PEOPLE_SANCTIONED, V.FLAGS_FALSE):
        assert first[name] == before[name], name
        assert changed[name] == after[name], name
    assert after[WRONG] < before[WRONG] and changed[WRONG] < first[WRONG]   # appeals remove wrongful sanctions
    assert session["opened"] == "?" + session["query"]   # no lever moved itself on load (a slider snapping its value)
    assert "appeals=1" in session["url"]          # the URL holds the settings
    assert session["seconds"] < 30, session["seconds"]
    assert session["errors"] == [], session["errors"]


def test_the_page_requests_nothing_outside_the_server(session, server):
    local = f"127.0.0.1:{server['port']}"
    outside = [u for u in session["requests"] if not u.startswith(("blob:", "data:")) and urlparse(u).netloc != local]
    assert session["requests"] and outside == [], outside
    assert session["sockets"] and all(urlparse(u).netloc == local for u in session["sockets"]), session["sockets"]


def test_the_saved_scenario_reproduces_the_view(session, server, browser, runner):
    from scorelab.cli import app

    browser.evaluate("Array.from(document.querySelectorAll('button')).find(b => /save this scenario/i"
                     ".test(b.textContent)).click()")
    deadline = time.monotonic() + 20
    while "saved to" not in (browser.evaluate("document.body.innerText") or "") and time.monotonic() < deadline:
        time.sleep(0.1)
    saved = server["tmp"] / "saved.yaml"
    text = saved.read_text()
    assert text.splitlines()[1] == f"extends: {SCENARIO}" and "contested: 1" in text
    out = server["tmp"] / "run"
    res = runner.invoke(app, ["run", str(saved), "--out", str(out)])
    assert res.exit_code == 0, res.output
    again = scorelab.results.Result.open(out).summary()
    for name, value in session["changed"].items():
        assert again[name] == pytest.approx(value, rel=1e-12, abs=1e-9), name


def test_tabs_keep_their_own_views_and_a_failed_run_is_one_line(session, server, browser):
    browser.open(server["url"] + "?scenario=rongcheng-2018&people=3000&appeals=2")
    bad = browser.session
    browser.open(server["url"] + "?scenario=rongcheng-2018&people=3000&deterrence=2")
    _wait_done(browser, "deterrence=2")
    good = _shown(browser)
    assert good[V.LAWFUL_ACTS_SUPPRESSED] == _engine({"deterrence": 2.0}, "rongcheng-2018")[V.LAWFUL_ACTS_SUPPRESSED]
    browser.session = bad                       # the first tab still shows its own (failed) view
    assert _wait_done(browser, "appeals=2", table=False)[2].endswith("appeals=2")
    shown = browser.evaluate("document.querySelector('.failure') && document.querySelector('.failure').innerText")
    assert shown and "safeguards.appeals.contested: must be between 0 and 1, got 2" in shown
    assert "Traceback" not in browser.evaluate("document.body.innerText")
    assert server["proc"].poll() is None


def test_only_the_pages_settings_reach_the_engine(tmp_path):
    start = start_of("safeguarded")
    with pytest.raises(UsageError, match="no such setting 'population.people'"):
        scenario_overrides(start, {"population.people": "9"}, 100)
    with pytest.raises(UsageError, match="appeals: expected a number"):
        scenario_overrides(start, {"appeals": "../etc/passwd"}, 100)
    with pytest.raises(Cancelled):              # a stale view stops before (or at the next step of) its run
        run_view(start, {"appeals": 0.5}, 100, cancelled=lambda: True)
    # data minimisation by domain: switching a domain off disables its channels, on again enables them
    s = scorelab.load("safeguarded")
    domains = L.channel_domains(s)
    off = scenario_overrides(start, {"collect_civic": "off"}, 100)["safeguards.disabled_channels"]
    assert {c for c, d in domains.items() if d == "civic"} <= set(off)
    assert set(s.safeguards.disabled_channels) <= set(off)
    scen, people, raw = L.from_query(L.to_query("safeguarded", 100, {"appeals": 0.5, "purpose": False}))
    assert (scen, people, raw) == ("safeguarded", 100, {"appeals": "0.5", "purpose": "off"})
    # a file as the start: the saved file extends it by a relative path, and loads
    own = tmp_path / "mine.yaml"
    own.write_text("extends: rongcheng-2018\nname: mine\n")
    mine = start_of(str(own))
    text = saved_yaml(mine, {"expiry": 365}, 200, tmp_path / "out" / "saved.yaml")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "saved.yaml").write_text(text)
    loaded = scorelab.load(tmp_path / "out" / "saved.yaml")
    assert "extends: ../mine.yaml" in text and loaded.safeguards.expiry == 365 and loaded.population.people == 200


def test_the_command_refuses_bad_input_in_one_line(runner, tmp_path):
    from scorelab.cli import app

    for args, said in ((["explore", "no-such-preset"], "no such scenario file or built-in scenario"),
                       (["explore", "--people", "0"], "--people must be between 1 and 10,000,000"),
                       (["explore", "--port", "70000"], "--port must be between 1 and 65535")):
        res = runner.invoke(app, args)
        assert res.exit_code == 2 and said in res.output and "Traceback" not in res.output, (args, res.output)
