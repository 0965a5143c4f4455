"""Reports: the HTML page, its figures, PNGs, ``plot()``, the ``report`` command, and the page
in a real browser (headless Chromium driven over the DevTools protocol by a small websocket
client below: no browser download, no extra Python package).

The browser tests are skipped, with the reason, only when no Chromium binary is found
(``SCORELAB_CHROMIUM`` or chromium / chromium-browser / google-chrome on PATH); CI installs
Debian's ``chromium``.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import polars as pl
import pytest

import scorelab
from scorelab import plots as P
from scorelab import report as R
from scorelab.errors import UsageError
from scorelab.results import Result

XSS = "<script>alert(1)</script>"
SAFEGUARDS = {"safeguards.appeals.contested": 0.5, "safeguards.appeals.delay": "5 days", "safeguards.expiry": "20 days",
              "safeguards.purpose_limitation": True, "safeguards.transparency.awareness": 0.5}


def _run(tmp: Path, name: str, overrides: dict[str, Any] | None = None) -> Result:
    sc = scorelab.load("rongcheng-2018", {"population.people": 3000, "run.days": 45, **(overrides or {})})
    return scorelab.run(sc, out=tmp / name)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("runs")
    _run(tmp, "base")
    _run(tmp, "safeguarded", SAFEGUARDS)
    _run(tmp, "xss", {"name": XSS, "description": "<img src=x onerror=alert(2)> & \"quotes\" $x$"})
    return {k: tmp / k for k in ("base", "safeguarded", "xss")}


@pytest.fixture(scope="module")
def single(runs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rep") / "single.html"
    R.write([runs["base"]], out)
    return out


@pytest.fixture(scope="module")
def compared(runs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rep") / "compare.html"
    R.write([runs["base"], runs["safeguarded"]], out)
    return out


@pytest.fixture(scope="module")
def xss_page(runs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rep") / "xss.html"
    R.write([runs["xss"]], out)
    return out


#: The figures of one run: every run's, and lending by group (the Rongcheng runs have loans)
RUN_PLOTS = [*P.PLOTS, "lending"]


def plots_in(page: str) -> list[tuple[str, str]]:
    return re.findall(r"<figure class='plot' id='[^']*' data-plot='([^']*)' data-section='([^']*)'>", page)


# --------------------------------------------------------------------------- the page, statically


def test_single_run_page_has_every_plot_and_no_script(single):
    page = single.read_text(encoding="utf-8")
    found = plots_in(page)
    assert [n for n, _ in found] == RUN_PLOTS
    assert page.count("<svg") == len(RUN_PLOTS)
    assert "<h3>Lending by group</h3>" in page and page.count("<table class='lending'>") == 1
    assert "<script" not in page.lower() and "javascript:" not in page.lower()
    assert "default-src 'none'" in page
    # nothing to fetch: no src/href except in-page SVG references; the only URL is the SVG namespace
    assert not re.search(r"\bsrc\s*=", page)
    assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', page))
    assert set(re.findall(r"(?:https?:)?//[\w.-]+", page)) <= {"http://www.w3.org"}
    assert not re.search(r"url\((?!#)", page)


def test_page_states_its_own_size(single):
    raw = single.read_bytes()
    m = re.search(r"This file: ([\d,]+) bytes", raw.decode())
    assert m and int(m.group(1).replace(",", "")) == len(raw)
    assert f"Report size: {m.group(1)} bytes" in raw.decode()
    assert "docs/sources.md" in raw.decode()         # the footer names the sources of published figures


def test_header_and_findings(single, runs):
    page = single.read_text(encoding="utf-8")
    r = Result.open(runs["base"])
    for text in ("rongcheng-2018", f"{r.seed}", "3,000 people", "45 (45 steps", r.manifest["created"].replace("T", " "),
                 scorelab.__version__, "Key findings"):
        assert text in page, text
    f = R.findings(r)
    assert any("records" in s and "erroneous" in s for s in f)
    assert any("sanction" in s.lower() for s in f)
    assert any("did not happen that would have without the system" in s for s in f)
    for s in f:
        assert R.e(s) in page


def test_comparison_highlights_differences(compared):
    page = compared.read_text(encoding="utf-8")
    sections = {s for _, s in plots_in(page)}
    assert sections == {"compare", "run1", "run2"}
    assert [n for n, s in plots_in(page) if s == "compare"] == list(P.COMPARE_PLOTS)
    assert len(plots_in(page)) == len(P.COMPARE_PLOTS) + 2 * len(RUN_PLOTS)
    assert "<table class='compare'>" in page
    assert re.search(r"class='n (worse|better|changed)'", page), "no difference highlighted"
    assert "Against base, safeguarded:" in page


def test_scenario_strings_are_escaped(xss_page):
    page = xss_page.read_text(encoding="utf-8")
    assert XSS not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img" not in page and "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "<script" not in page.lower()


def test_figures_escape_and_survive_odd_names(runs):
    """Names with markup, '$' (matplotlib mathtext) and a leading '_' (hidden legend entries)
    draw, and the SVG holds them as escaped text."""
    r = Result.open(runs["base"])
    odd = {c: f"<b>{c}</b>$_" for c in r.names["flags"]}
    r.metrics = r.metrics.rename({col: col.replace(f"flags.{c}.", f"flags.{n}.") for c, n in odd.items()
                                  for col in r.metrics.columns if col.startswith(f"flags.{c}.")})
    r.manifest = {**r.manifest, "names": {**r.names, "flags": list(odd.values())}}
    s = R.svg(R.plot(r, "flags"), "t")
    assert "<b>" not in s and "&lt;b&gt;" in s
    assert P.label("_x").endswith("_x") and not P.label("_x").startswith("_")
    assert P.label("a$b") == r"a\$b"


# --------------------------------------------------------------------------- figures, thinning, PNG, plot()


def test_plot_returns_figures(runs):
    from matplotlib.figure import Figure

    for name in R.PLOT_NAMES:
        assert isinstance(R.plot(runs["base"], name), Figure)
    for name in R.COMPARE_NAMES:
        assert isinstance(R.plot([runs["base"], runs["safeguarded"]], name), Figure)
    with pytest.raises(UsageError, match="must be one of"):
        R.plot(runs["base"], "nope")
    with pytest.raises(UsageError, match="must be one of"):
        R.plot([runs["base"]], "score")


def test_thinning_keeps_ends_and_totals():
    n = 10_000
    day = np.arange(n, dtype=float)
    y = np.random.default_rng(1).poisson(3.0, n).astype(float)
    d, t = P.thin_level(day, y)
    assert len(d) <= P.MAX_POINTS + 1 and d[0] == 0 and d[-1] == n - 1 and t[-1] == y[-1]
    d, rate = P.thin_flow(day, y, step_days=0.5)
    widths = np.diff(np.append(d, n)) * 0.5
    assert len(d) <= P.MAX_POINTS
    assert np.isclose((rate * widths).sum(), y.sum())
    d, rate = P.thin_flow(day[:50], y[:50])
    assert np.array_equal(rate, y[:50])


def test_long_series_are_thinned(runs):
    """A run of 5,000 steps draws no more than MAX_POINTS points per line."""
    r = Result.open(runs["base"])
    m = r.metrics
    reps = 5000 // m.height + 1
    long = pl.concat([m.with_columns(pl.col("day") + i * m.height, pl.col("step") + i * m.height) for i in range(reps)])
    r.metrics = long
    fig = R.plot(r, "score")
    lines = [ln for ax in fig.axes for ln in ax.get_lines() if len(ln.get_xdata()) > 2]
    assert lines and all(len(ln.get_xdata()) <= P.MAX_POINTS + 1 for ln in lines)
    assert len(R.svg(fig, "x")) < 200_000


def test_pngs(runs, tmp_path):
    paths = R.write_pngs([runs["base"], runs["safeguarded"]], tmp_path / "png")
    names = sorted(p.name for p in paths)
    assert names == sorted([f"{n}.png" for n in P.COMPARE_PLOTS] + [f"{r}-{n}.png" for r in ("base", "safeguarded")
                                                                    for n in RUN_PLOTS])
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000


def test_report_command(runs, tmp_path):
    import typer
    from typer.testing import CliRunner

    from scorelab.cli.report import report

    app = typer.Typer()
    app.command()(report)
    app.command("other")(lambda: None)  # two commands: typer keeps 'report' as a subcommand, as in scorelab.cli
    out = tmp_path / "sub" / "r.html"
    # (one run: the comparison page and its PNGs are drawn by the fixtures and test_pngs)
    res = CliRunner().invoke(app, ["report", str(runs["base"]), "--out", str(out), "--png", str(tmp_path / "figs")])
    assert res.exit_code == 0, res.output
    assert out.is_file() and f"{out.stat().st_size:,} bytes" in res.output
    assert len(list((tmp_path / "figs").glob("*.png"))) == len(RUN_PLOTS)
    res = CliRunner().invoke(app, ["report", str(tmp_path / "missing"), "--out", str(tmp_path / "x.html")])
    assert res.exit_code == 2 and "no such results folder" in res.output
    assert not (tmp_path / "x.html").exists()


# --------------------------------------------------------------------------- a real browser


def chromium_binary() -> str | None:
    env = os.environ.get("SCORELAB_CHROMIUM")
    if env:
        return env
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class WebSocket:
    """The client side of RFC 6455, enough for the DevTools protocol (text frames, ping)."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        u = urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("websocket handshake: connection closed")
            head += chunk
        head, _, self.buf = head.partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise ConnectionError(f"websocket handshake refused: {head[:200]!r}")

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buf)))
            if not chunk:
                raise ConnectionError("websocket closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _frame(self, opcode: int, payload: bytes) -> None:
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 1 << 16:
            head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
        else:
            head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
        mask = os.urandom(4)
        masked = (np.frombuffer(payload, np.uint8) ^ np.resize(np.frombuffer(mask, np.uint8), n)).tobytes()
        self.sock.sendall(head + mask + masked)

    def send(self, text: str) -> None:
        self._frame(0x1, text.encode())

    def recv(self) -> str:
        parts = []
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = int.from_bytes(self._exact(2), "big")
            elif n == 127:
                n = int.from_bytes(self._exact(8), "big")
            mask = self._exact(4) if b1 & 0x80 else None
            data = self._exact(n)
            if mask:
                data = (np.frombuffer(data, np.uint8) ^ np.resize(np.frombuffer(mask, np.uint8), n)).tobytes()
            op = b0 & 0x0F
            if op == 0x8:
                raise ConnectionError("websocket closed by the browser")
            if op == 0x9:
                self._frame(0xA, data)
                continue
            if op in (0x0, 0x1, 0x2):
                parts.append(data)
                if b0 & 0x80:
                    return b"".join(parts).decode()

    def close(self) -> None:
        try:
            self._frame(0x8, b"")
        except OSError:
            pass
        self.sock.close()


class Browser:
    """Headless Chromium with its DevTools endpoint; one page target attached (flat sessions)."""

    FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", "--disable-extensions", "--disable-default-apps", "--mute-audio",
             "--window-size=1280,1000", "--remote-debugging-port=0")

    def __init__(self, binary: str, profile: Path) -> None:
        self.profile = profile
        self.log = open(profile.parent / "chromium.log", "wb")
        self.proc = subprocess.Popen([binary, *self.FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.is_file() and len(port_file.read_text().splitlines()) >= 2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.quit()
                raise RuntimeError(f"chromium did not start: {(profile.parent / 'chromium.log').read_text()[-2000:]}")
            time.sleep(0.05)
        port, path = port_file.read_text().splitlines()[:2]
        self.ws = WebSocket(f"ws://127.0.0.1:{port}{path}")
        self.next_id = 0
        self.events: list[dict[str, Any]] = []
        self.session: str | None = None

    def call(self, method: str, params: dict[str, Any] | None = None, session: bool = True) -> dict[str, Any]:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        self.ws.send(json.dumps(msg))
        while True:
            reply = self._read()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def _read(self) -> dict[str, Any]:
        reply = json.loads(self.ws.recv())
        if "method" in reply:
            self.events.append(reply)
            if reply["method"] == "Page.javascriptDialogOpening":  # never leave the page blocked
                self.ws.send(json.dumps({"id": 10**9 + len(self.events), "method": "Page.handleJavaScriptDialog",
                                         "params": {"accept": True}, "sessionId": reply.get("sessionId")}))
        return reply

    def wait(self, event: str, timeout: float = 60.0) -> dict[str, Any]:
        seen = len(self.events)
        for ev in self.events:
            if ev["method"] == event:
                return ev
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._read()
            for ev in self.events[seen:]:
                if ev["method"] == event:
                    return ev
        raise TimeoutError(f"no {event} within {timeout} s")

    def open(self, url: str) -> None:
        """A fresh page target, attached, with console, log, network and page events on; then load url."""
        self.events = []
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            self.call(f"{domain}.enable")
        self.call("Page.navigate", {"url": url})
        self.wait("Page.loadEventFired")
        self.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")

    def evaluate(self, expression: str) -> Any:
        res = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in res:
            raise RuntimeError(f"evaluate: {res['exceptionDetails']}")
        return res["result"].get("value")

    def screenshot(self) -> bytes:
        return base64.b64decode(self.call("Page.captureScreenshot", {"format": "png"})["data"])

    def console_errors(self) -> list[str]:
        out = []
        for ev in self.events:
            p = ev.get("params", {})
            if ev["method"] == "Runtime.exceptionThrown":
                out.append(f"exception: {p.get('exceptionDetails', {}).get('text')}")
            elif ev["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(f"console.{p['type']}: {[a.get('value') for a in p.get('args', [])]}")
            elif ev["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
        return out

    def requests(self) -> list[str]:
        return [ev["params"]["request"]["url"] for ev in self.events if ev["method"] == "Network.requestWillBeSent"]

    def dialogs(self) -> list[str]:
        return [ev["params"].get("message", "") for ev in self.events if ev["method"] == "Page.javascriptDialogOpening"]

    def quit(self) -> None:
        try:
            if getattr(self, "ws", None) is not None:
                try:
                    self.ws.send(json.dumps({"id": 0, "method": "Browser.close"}))
                except OSError:
                    pass
                self.ws.close()
            self.proc.wait(timeout=15)
        except (subprocess.TimeoutExpired, OSError):
            self.proc.kill()
            self.proc.wait(timeout=15)
        finally:
            self.log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    binary = chromium_binary()
    if binary is None:
        pytest.skip("no Chromium binary found (set SCORELAB_CHROMIUM, or install Debian's 'chromium'); "
                    "CI installs it with: apt-get update && apt-get install -y chromium")
    b = Browser(binary, tmp_path_factory.mktemp("chromium") / "profile")
    yield b
    b.quit()


def test_browser_renders_every_plot_without_errors(browser, compared, tmp_path):
    browser.open(compared.as_uri())
    assert browser.console_errors() == []
    info = browser.evaluate("""Array.from(document.querySelectorAll('figure.plot')).map(f => {
        const s = f.querySelector('svg'); const b = s ? s.getBoundingClientRect() : {width: 0, height: 0};
        return [f.dataset.section + '/' + f.dataset.plot, b.width, b.height, s ? s.querySelectorAll('path').length : 0];
    })""")
    expected = [f"compare/{n}" for n in P.COMPARE_PLOTS] + [f"run{i}/{n}" for i in (1, 2) for n in RUN_PLOTS]
    assert [x[0] for x in info] == expected
    for name, w, h, paths in info:
        assert w > 300 and h > 100 and paths > 5, (name, w, h, paths)
    shot = browser.screenshot()
    (tmp_path / "report.png").write_bytes(shot)
    from PIL import Image

    img = Image.open(io.BytesIO(shot)).convert("RGB")
    assert img.size[0] >= 1000 and len(img.getcolors(1 << 20) or []) > 20, "screenshot looks blank"


def test_browser_shows_scenario_name_as_text(browser, xss_page):
    browser.open(xss_page.as_uri())
    assert browser.dialogs() == []
    assert browser.evaluate("document.querySelectorAll('script, img, iframe, object, embed').length") == 0
    assert XSS in browser.evaluate("document.querySelector('h1').textContent")
    assert XSS in browser.evaluate("document.title")
    assert "<img src=x onerror=alert(2)>" in browser.evaluate("document.querySelector('.desc').textContent")
    assert browser.console_errors() == []


def test_browser_makes_no_network_request(browser, single, compared, tmp_path):
    for page in (single, compared):
        browser.open(page.as_uri())
        assert browser.requests() == [page.as_uri()], browser.requests()
        assert browser.console_errors() == []
    # the check can see requests: a page that loads from elsewhere is caught
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><img src='http://127.0.0.1:9/x.png'></body></html>")
    browser.open(bad.as_uri())
    assert any(u.startswith("http://127.0.0.1:9/") for u in browser.requests())


# --------------------------------------------------------------------------- the story the page tells (issue 22)
# Each test here failed on the report as a new user found it: a figure one run does not model
# coloured as worse, no list of what differs, no units, no warning on single seeds, no twin
# series, a score axis that magnified a drift, one bar flattening every other harm, no verdict.


@pytest.fixture(scope="module")
def story(runs, tmp_path_factory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("story")
    unflagged = scorelab.load({"extends": "rongcheng-2018", "name": "unflagged", "flags": {"suspicious": None}},
                              {"population.people": 3000, "run.days": 45})
    scorelab.run(unflagged, out=tmp / "noflags")
    _run(tmp, "seed2", {"run.seed": 2})
    _run(tmp, "seed3", {"run.seed": 3})
    _run(tmp, "seed1", {"run.seed": 1})
    out = {k: tmp / k for k in ("noflags", "seed1", "seed2", "seed3")}
    # (the pages without their figures: these tests read the tables and sentences, and the
    # figures of a page are drawn by the other fixtures)
    out["unflagged_page"] = R.render([runs["base"], out["noflags"]], figures=[])
    out["replicates_page"] = R.render([out["seed1"], out["seed2"], out["seed3"]], figures=[])
    return out


def _row(page: str, figure: str) -> str:
    m = re.search(r"<tr><td>" + re.escape(R.e(figure)) + r"</td>.*?</tr>", page.split("<table class='compare'>")[1])
    assert m, figure
    return m.group(0)


def test_a_figure_one_run_does_not_model_is_never_coloured(runs, story):
    from scorelab import vocabulary as V

    base = Result.open(runs["base"]).summary()
    assert base[V.FLAGS_TRUE] > 0, "the base run must flag someone for this test to mean anything"
    row = _row(story["unflagged_page"], V.FLAGS_TRUE)
    assert "not modelled" in row and "not comparable" in row
    assert not re.search(r"class='n (worse|better|changed|noise)'", row), row


def test_a_difference_within_poisson_noise_is_greyed_not_coloured():
    from scorelab import vocabulary as V
    from scorelab.report.compare import within_noise

    assert within_noise(V.SANCTIONS, 100.0, 110.0)            # |10| < 1.96 sqrt(210) = 28.4
    assert not within_noise(V.SANCTIONS, 100.0, 140.0)        # |40| > 1.96 sqrt(240) = 30.4
    assert not within_noise(V.INCOME_LOST, 100.0, 101.0)      # not a count of events


def test_totals_of_runs_of_different_sizes_are_compared_per_person(runs, tmp_path):
    """A run of 4x the people has about 4x the sanctions: that is not 300 % more harm. Totals
    that grow with the population are compared (and coloured) per 1,000 people; totals over
    different lengths are not compared at all."""
    from scorelab import vocabulary as V
    from scorelab.report.compare import _cls, compare_table
    from scorelab.report.findings import compare_findings

    assert _cls(V.SANCTIONS, 400.0, 100.0, True) == "worse"  # (as totals)
    assert _cls(V.SANCTIONS, 400.0, 100.0, True, (3.0, 12.0)) == ""  # (the same 33.3 per 1,000)
    assert _cls(V.SANCTIONS, 800.0, 100.0, True, (3.0, 12.0)) == "worse"  # (66.7 against 33.3 per 1,000)
    bigger = _run(tmp_path, "bigger", {"population.people": 12000})
    longer = _run(tmp_path, "longer", {"run.days": 90})
    rs = [Result.open(runs["base"]), bigger]
    page = compare_table(rs)
    row = _row(page, V.SANCTIONS)
    assert re.search(r"[\d.]+ per 1,000", row) and "per 1,000 people" in page, row
    said = " ".join(compare_findings(rs))
    assert "counts are compared per 1,000 people above" in said and re.search(r"sanctions [\d.]+ \u2192 [\d.]+ per 1,000", said), said
    row = _row(compare_table([Result.open(runs["base"]), longer]), V.SANCTIONS)
    assert "not compared: different lengths" in row and not re.search(r"class='n (worse|better)'", row), row
    assert "not compared above" in " ".join(compare_findings([Result.open(runs["base"]), longer]))


def test_income_lost_within_the_spread_of_peoples_losses_is_noise(runs, monkeypatch):
    """Income lost is no count: its noise is the spread of the people's losses (the impact
    table's interval of the rate). Two runs whose rates differ by less than 1.96 times their
    combined standard error are "within noise", and by more, not."""
    from scorelab.report import compare as C

    rs = [Result.open(runs["base"]), Result.open(runs["safeguarded"])]
    rows = {}

    def impact(r, axis, harm):
        return pl.DataFrame([rows[id(r)]])

    monkeypatch.setattr(C.M, "impact", impact)
    se = 100.0 / 1.96  # (intervals of +-100 per 1,000: standard errors of 51.0, combined 72.2)
    for gap, noise in ((100.0, True), (200.0, False)):
        rows[id(rs[0])] = {"per_1000": 1000.0, "per_1000_lo": 1000.0 - 1.96 * se, "per_1000_hi": 1000.0 + 1.96 * se}
        rows[id(rs[1])] = {"per_1000": 1000.0 + gap, "per_1000_lo": 1000.0 + gap - 1.96 * se,
                           "per_1000_hi": 1000.0 + gap + 1.96 * se}
        assert C.income_within_noise(rs[0], rs[1]) is noise, gap
    rows[id(rs[1])] = {"per_1000": 1200.0, "per_1000_lo": None, "per_1000_hi": None}
    assert C.income_within_noise(rs[0], rs[1]) is False  # (no interval kept: not tested)


def test_a_share_within_its_binomial_noise_is_noise(runs, monkeypatch):
    """Alert precision, alerts per 1,000 faces and the false share of audio records are shares
    x / n: two runs' shares differing by less than 1.96 sqrt(p (1 - p) (1/na + 1/nb)) (p pooled)
    are "within noise", by more not."""
    from scorelab import vocabulary as V
    from scorelab.report import compare as C

    rs = [Result.open(runs["base"]), Result.open(runs["safeguarded"])]
    faces, sound = {}, {}
    monkeypatch.setattr(C.M, "identification", lambda r: pl.DataFrame([faces[id(r)]]))
    monkeypatch.setattr(C.M, "audio", lambda r: pl.DataFrame([sound[id(r)]]))
    for scale, noise in ((1, True), (100, False)):  # 5 of 40 against 3 of 40: se 0.067, a gap of 0.05
        for r, hits in zip(rs, (5, 3)):
            faces[id(r)] = {"hits": hits * scale, "false_alerts": (40 - hits) * scale, "scanned": 400 * scale}
            sound[id(r)] = {"hits": (40 - hits) * scale, "false_positives": hits * scale, "passenger_records": 0}
        assert C.share_within_noise(V.ALERT_PRECISION, *rs) is noise, scale
        assert C.share_within_noise(V.AUDIO_FALSE_SHARE, *rs) is noise, scale
        assert C.uncounted_within_noise(V.ALERT_PRECISION, *rs) is noise, scale
    faces[id(rs[1])] = {"hits": 3, "false_alerts": 37, "scanned": 4000}  # (40 alerts of 400 faces against of 4,000)
    assert not C.share_within_noise(V.ALERTS_PER_THOUSAND_FACES, *rs)
    faces[id(rs[1])] = {"hits": 3, "false_alerts": 37, "scanned": 440}
    assert C.share_within_noise(V.ALERTS_PER_THOUSAND_FACES, *rs)
    assert not C.share_within_noise(V.SANCTIONS, *rs)  # (no share)
    faces[id(rs[0])] = {"hits": 0, "false_alerts": 0, "scanned": 0}
    assert not C.share_within_noise(V.ALERT_PRECISION, *rs)  # (no alerts: nothing to test)


def test_a_grade_share_within_its_binomial_noise_is_noise(runs, monkeypatch):
    """A grade's share of the scored people is a share too: 50 of 1,000 against 60 of 1,000 is
    within noise (se 0.0102 pooled), against 100 of 1,000 not (se 0.0118)."""
    from scorelab.report import compare as C

    rs = [Result.open(runs["base"]), Result.open(runs["safeguarded"])]
    ends = {}
    monkeypatch.setattr(C.M, "grade_shares", lambda r: pl.DataFrame(
        {"grade": ["A", "B"], "end_people": [ends[id(r)], 1000 - ends[id(r)]]}))
    for other, noise in ((60, True), (100, False)):
        ends[id(rs[0])], ends[id(rs[1])] = 50, other
        assert C.is_share("grade A share") and C.share_within_noise("grade A share", *rs) is noise, other
        assert C.uncounted_within_noise("grade B share", *rs) is noise, other
    assert not C.share_within_noise("grade Z share", *rs)  # (no such grade: nothing to test)


def test_mean_days_to_lift_within_their_noise_is_noise(runs, monkeypatch):
    """The mean days to lift a wrongful listing: |ma - mb| < 1.96 sqrt(ma^2 / na + mb^2 / nb) is
    "within noise" (each listing's days taken to vary as much as their mean)."""
    from scorelab import vocabulary as V
    from scorelab.report import compare as C

    rs = [Result.open(runs["base"]), Result.open(runs["safeguarded"])]
    rows = {}
    monkeypatch.setattr(C.M, "corrections", lambda r: pl.DataFrame([rows[id(r)]]))
    for n, noise in ((3, True), (300, False)):  # 12 days against 18: se 12.5 over 3 each, 1.25 over 300
        rows[id(rs[0])] = {"wrongful_listings_overturned": n, "days_to_correction_mean": 12.0}
        rows[id(rs[1])] = {"wrongful_listings_overturned": n, "days_to_correction_mean": 18.0}
        assert C.days_to_lift_within_noise(*rs) is noise, n
        assert C.uncounted_within_noise(V.DAYS_TO_LIFT_WRONGFUL_LISTING, *rs) is noise, n
    rows[id(rs[1])] = {"wrongful_listings_overturned": 0, "days_to_correction_mean": None}
    assert not C.days_to_lift_within_noise(*rs)  # (none lifted: nothing to test)


def test_days_wrongfully_listed_and_fines_within_their_noise_are_noise(runs, monkeypatch):
    """Person-days (and firm-days) wrongfully listed are a sum S over the N wrongful listings that
    stood, the fines people paid a sum over the fines: per person simulated,
    |ra - rb| < 1.96 sqrt(2 ra^2 / Na + 2 rb^2 / Nb) is "within noise"."""
    from scorelab import vocabulary as V
    from scorelab.report import compare as C

    rs = [Result.open(runs["base"]), Result.open(runs["safeguarded"])]
    days, held = {}, {}
    monkeypatch.setattr(C.M, "corrections", lambda r: pl.DataFrame([days[id(r)]]))
    monkeypatch.setattr(C.M, "headline", lambda r: {V.PEOPLE: 1000.0})
    monkeypatch.setattr(C.LS, "wrongful_listings_held", lambda r, actor: held[(id(r), actor)])
    # 6,677 against 8,222 person-days: rates 6.68 and 8.22; se 1.03 and 1.13 over 84 and 106, 0.46 and
    # 0.50 over 420 and 530
    for n, noise in ((1, True), (5, False)):
        for r, s, k in zip(rs, (6677.0, 8222.0), (84, 106)):
            days[id(r)] = {"people_days_wrongfully_listed": s, "firm_days_wrongfully_listed": s}
            held[(id(r), "person")] = held[(id(r), "firm")] = k * n
        assert C.sum_within_noise(V.PEOPLE_DAYS_WRONGFULLY_LISTED, *rs) is noise, n
        assert C.uncounted_within_noise(V.FIRM_DAYS_WRONGFULLY_LISTED, *rs) is noise, n
    held[(id(rs[0]), "person")] = 0
    assert not C.sum_within_noise(V.PEOPLE_DAYS_WRONGFULLY_LISTED, *rs)  # (none: nothing to test)
    # fines paid by people: a sum over the fines, the same test (6,677 against 8,222 yuan over 84 and 106 fines)
    fines = {id(rs[0]): (6677.0, 84.0), id(rs[1]): (8222.0, 106.0)}
    monkeypatch.setattr(C.M, "headline", lambda r: {V.PEOPLE: 1000.0, V.FINES_ON_PEOPLE: fines[id(r)][0],
                                                    V.FINES_ON_PEOPLE_COUNT: fines[id(r)][1]})
    assert C.uncounted_within_noise(V.FINES_ON_PEOPLE, *rs)
    fines = {id(rs[0]): (6677.0, 840.0), id(rs[1]): (8222.0, 1060.0)}
    assert not C.sum_within_noise(V.FINES_ON_PEOPLE, *rs)


def test_wrongful_listings_held_count_the_first_stock_and_later_entries(runs):
    from scorelab.listings import whose, wrongful_listings_held

    r = Result.open(runs["base"])
    m = r.metrics
    want = sum(int(m.get_column(f"{p}.wrongful_stock")[0]) + int(m.get_column(f"{p}.wrongful_entries").sum())
               - int(m.get_column(f"{p}.wrongful_entries")[0]) for p in whose(r, "person", False))
    assert wrongful_listings_held(r) == want and want > 0


def test_what_a_scenario_does_not_watch_is_not_modelled():
    """A scenario without lawful (disfavoured) behaviour suppresses none: "not modelled", not 0."""
    from scorelab import vocabulary as V

    watched = {"behaviours": {"theft": {"kind": "wrongdoing"}, "protest": {"kind": "disfavoured"}}}
    unwatched = {"behaviours": {"theft": {"kind": "wrongdoing"}, "tax": {"kind": "disfavoured", "actor": "firm"}}}
    assert V.modelled(watched, V.LAWFUL_ACTS_SUPPRESSED) and V.modelled(watched, V.WRONGDOING_DETERRED)
    assert not V.modelled(unwatched, V.LAWFUL_ACTS_SUPPRESSED) and V.modelled(unwatched, V.WRONGDOING_DETERRED)
    assert not V.modelled(unwatched, V.WORST_HIT["acts_suppressed"])


def test_the_comparison_lists_what_differs_safeguards_first(compared):
    page = compared.read_text(encoding="utf-8")
    assert "<h3>What differs</h3>" in page
    items = re.findall(r"<li><code>(.*?)</code></li>", page.split("<h3>What differs</h3>")[1].split("</ul>")[0])
    assert items and all(i.startswith("safeguards.") for i in items[:len(SAFEGUARDS)]), items
    assert any(i.startswith("safeguards.appeals.contested:") and i.endswith("0.5") for i in items), items


def test_a_comparison_of_single_seeds_warns(compared, story):
    page = compared.read_text(encoding="utf-8")
    assert "class='warning'" in page and "a single seed" in page
    assert "a single seed" not in story["replicates_page"]


def test_every_number_in_the_summary_has_its_unit(single):
    from scorelab import vocabulary as V

    page = single.read_text(encoding="utf-8")
    rows = re.findall(r"<tr><td>([^<]*)</td><td class='n'>([^<]*)</td><td class='unit'>([^<]*)</td></tr>",
                      page.split("<table class='summary'>")[1].split("</table>")[0])
    assert rows
    for name, value, unit in rows:
        if not name.startswith("worst-hit"):
            # (a ratio over nothing shows its reason, "none lifted", and no unit)
            assert bool(unit) != (value == R.e(V.not_defined(name))), f"{name}: {value!r} {unit!r}"
    assert {n: u for n, _, u in rows}[R.e(V.INCOME_LOST)] == "CNY"


def test_the_page_opens_with_the_verdict(single, runs):
    page = single.read_text(encoding="utf-8")
    first = page.index("<section id='verdict'>")
    assert first < page.index("<section id='run1'")
    said = Result.open(runs["base"]).verdict()
    assert len(said) == 4 and said[3].startswith("Loans: ")  # (the base run refuses loans by grade)
    for s in said:
        assert R.e(s) in page[first:page.index("</section>", first)]


def test_the_verdict_agrees_with_the_metrics(runs):
    from scorelab import metrics as M

    r = Result.open(runs["base"])
    ws = M.wrongful_sanctions(r).row(0, named=True)
    who, lawful, groups, loans = r.verdict()
    assert loans.startswith("Loans: the system refused ")
    assert f"sanctioned {ws['people_sanctioned']:,} people" in who
    wrong = ws["people_wrongfully_sanctioned"]
    assert (f"{wrong:,} of them" if wrong else "none of them wrongfully") in who
    sup = M.chilling(r).filter(pl.col("kind") == "disfavoured").get_column("suppressed").sum()
    assert f"{sup:,} lawful acts" in lawful
    # every group the third sentence names as worst on a harm is the impact table's worst-hit group
    for harm, what in (("sanctions", "sanctions"), ("flags", "police flags"), ("wrongful_sanctions", "wrongful sanctions")):
        w = M.worst_hit(r, harm, "group")
        m = re.search(r"(\d+\.\d\d) times the overall rate of " + what + r" \(", groups)
        assert (m is not None) == (w.cell is not None), (harm, groups, w)
        if m:
            assert float(m.group(1)) == pytest.approx(float(w.ratio), abs=0.006)


def test_the_verdict_names_no_group_on_too_few_events(tmp_path):
    from scorelab import metrics as M

    r = scorelab.run(scorelab.load("rongcheng-2018", {"population.people": 300, "run.days": 3}), out=tmp_path / "tiny")
    groups = r.verdict()[2]
    for harm, what in (("sanctions", "sanctions"), ("wrongful_sanctions", "wrongful sanctions"),
                       ("flags", "police flags"), ("income_lost", "income lost")):
        if M.worst_hit(r, harm, "group").cell is None:  # (fewer than 20 events in a group of 100 or more)
            assert f"overall rate of {what} (" not in groups and f"overall {what} per person" not in groups, groups
    assert "The group hit hardest" not in groups, groups


def test_replicates_are_reported_as_means_with_intervals(story):
    page = story["replicates_page"]
    assert "3 replicates" in page and "mean of 3 seeds" in page and "95 % interval" in page
    said = page.split("<section id='verdict'>")[1].split("</section>")[0]
    assert re.search(r"sanctioned [\d,]+ \[[\d,]+, [\d,]+\] people", said), said
    # no interval of a count goes below zero
    assert not re.search(r"\[-", page.split("mean of 3 seeds")[1].split("</table>")[0])
    # a worst-hit group is named once, with its ratios, when every seed names it (the texts differ by their rates)
    row = _row(page, "worst-hit group (flags)")
    assert "seed 1:" not in row and re.search(r"in every run \(|none ranked in any run|differs by run: ", row), row


def test_comparison_figures_draw_the_twin_dates_and_honest_axes(runs, story):
    rs = [Result.open(runs["base"]), Result.open(runs["safeguarded"])]
    lawful = P.COMPARE_PLOTS["compare_lawful"][1](rs)
    styles = [l.get_linestyle() for l in lawful.axes[0].get_lines()]
    assert "--" in styles and "-" in styles, styles            # the twin beside the factual world
    scores = P.COMPARE_PLOTS["compare_scores"][1](rs)
    lo, hi = scores.axes[0].get_ylim()
    assert hi - lo >= 0.05 * (lo + hi) / 2                      # a drift of a few points is not magnified
    scores.canvas.draw()
    labels = [t.get_text() for t in scores.axes[0].get_xticklabels()]
    assert any("2018" in t or "Jan" in t or "Feb" in t for t in labels), labels   # calendar dates
    harms = P.COMPARE_PLOTS["compare_harms"][1](rs)
    assert len([a for a in harms.axes if a.get_visible()]) == len(P.HARMS)     # each harm on its own scale


def test_browser_screenshots_open_with_the_verdict(browser, tmp_path_factory):
    """Screenshots of the first screen of a single run's report and of `rongcheng-2018`
    against `safeguarded` (the presets, at 3,350 people for 60 days), saved in
    ``$SCORELAB_SCREENSHOTS`` when set (to look at them), else in a temporary folder. The
    first screen must show the verdict, with no console error."""
    shots = Path(os.environ.get("SCORELAB_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    shots.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path_factory.mktemp("presets")
    runs = [scorelab.run(scorelab.load(name, {"run.days": 60}, scale=0.005), out=tmp / name)
            for name in ("rongcheng-2018", "safeguarded")]
    pages = {"single": R.write(runs[:1], tmp / "single.html"), "compare": R.write(runs, tmp / "compare.html")}
    for name, page in pages.items():
        browser.open(page.as_uri())
        assert browser.console_errors() == []
        top = browser.evaluate("document.querySelector('#verdict').getBoundingClientRect().top")
        height = browser.evaluate("window.innerHeight")
        assert 0 <= top < height / 2, (name, top, height)
        first_screen = browser.evaluate("document.querySelector('#verdict').innerText")
        assert "sanctioned" in first_screen and "Lawful behaviour" in first_screen or "lawful" in first_screen
        (shots / f"report-{name}.png").write_bytes(browser.screenshot())
        (shots / f"report-{name}.txt").write_text(first_screen, encoding="utf-8")
    compare_text = browser.evaluate("document.body.innerText")
    assert "What differs" in compare_text and "safeguards." in compare_text
