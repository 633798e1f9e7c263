"""What the browser tests share besides fixtures (tests/browser_fixtures.py): Chromium's
flags, the window, starting `streamlit run`, and the helpers that wait for, drive and
photograph a page."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from dashboard.common import REFRESH_SECONDS, REST_POLL_SECONDS
from tests.conftest import ROOT, cli_env

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
# A projector: the smallest screen a lesson is given on.
VIEWPORT = {"width": 1366, "height": 768}
# Streamlit marks the app's run state on stApp ("running", "notRunning", ...). This counts,
# from its first call on a page, the runs that have ended (the state leaving "running") and
# notes when the state last changed; it returns the count.
RUNS_ENDED = """() => {
    if (window.__runsEnded === undefined) {
        window.__runsEnded = 0;
        window.__runStateChanged = performance.now();
        new MutationObserver(records => {
            for (const record of records) {
                if (record.oldValue === "running") window.__runsEnded += 1;
            }
            window.__runStateChanged = performance.now();
        }).observe(document.body, {
            attributes: true, subtree: true, attributeOldValue: true,
            attributeFilter: ["data-test-script-state"],
        });
    }
    return window.__runsEnded;
}"""
# The page is drawn: connected; at rest with nothing faded from an earlier run (data-stale), or
# a run has ended since ``ended`` runs (a page refreshing every second may be running again at
# once on a loaded machine); every chart on view has its SVG.
DRAWN = """ended => {
    const app = document.querySelector("[data-testid='stApp']");
    if (!app || app.getAttribute("data-test-connection-state") !== "CONNECTED") return false;
    if (app.getAttribute("data-test-script-state") === "notRunning") {
        if (document.querySelector("[data-stale='true']")) return false;
    } else if (window.__runsEnded <= ended) {
        return false;
    }
    return [...document.querySelectorAll("[data-testid='stVegaLiteChart']")]
        .filter(chart => chart.getBoundingClientRect().width > 0)
        .every(chart => chart.querySelector("svg.marks"));
}"""
# A run has ended since ``ended`` runs and the state has held "notRunning" for 150 ms (a run
# that calls st.rerun is followed at once by another).
RAN_AND_RESTED = """ended => window.__runsEnded > ended
    && document.querySelector("[data-testid='stApp']")
        .getAttribute("data-test-script-state") === "notRunning"
    && performance.now() - window.__runStateChanged > 150"""
# On two loaded cores a page's next element can come seconds after the one before it.
expect.set_options(timeout=20_000)
NEXT_PAINT = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"


def chromium_path() -> str:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    assert Path(chromium).exists(), (
        "Debian's chromium is missing: the README's test command installs it"
    )
    return chromium


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def streamlit_app(storage: Path, script: Path = ROOT / "app.py") -> Iterator[str]:
    """`streamlit run SCRIPT` from the repository root (its .streamlit/config.toml) on a free
    port, with ``storage`` as its store; yields its address once it answers its health check.
    Its output goes to streamlit-<script>.log beside the store."""
    port = free_port()
    log_path = storage.parent / f"streamlit-{script.stem}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port)],
            cwd=ROOT,
            env=cli_env(storage),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + 60
            while time.time() < deadline:
                with contextlib.suppress(OSError):
                    if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                        break
                time.sleep(0.1)
            else:
                pytest.fail(f"streamlit did not start: {log_path.read_text()[-2000:]}")
            yield url
        finally:
            process.terminate()
            process.wait(timeout=20)


def settle(page: Page, timeout: float = 30_000) -> None:
    """Until the page has finished its run and drawn its charts (see DRAWN), then painted. It
    goes on after ``timeout`` ms in any case: what the test asserts next still has to hold."""
    ended = page.evaluate(RUNS_ENDED)
    with contextlib.suppress(Exception):
        page.wait_for_function(DRAWN, arg=ended, timeout=timeout)
    page.evaluate(NEXT_PAINT)


# For a page whose panel is going to rest (a study that finished): while active it redraws
# every REFRESH_SECONDS, so "notRunning" held 300 ms longer than that means the rerun that
# rests it has ended. At rest it looks for changes every REST_POLL_SECONDS, a longer gap.
HELD_AT_REST_MS = REFRESH_SECONDS * 1000 + 300
assert HELD_AT_REST_MS < REST_POLL_SECONDS * 1000, "at_rest needs a quiet gap between polls"
HELD_AT_REST = """held => {
    const app = document.querySelector("[data-testid='stApp']");
    return app && app.getAttribute("data-test-script-state") === "notRunning"
        && performance.now() - window.__runStateChanged > held;
}"""


def at_rest(page: Page, timeout: float = 30_000) -> None:
    """Until a page whose panel is going to rest has stopped redrawing every second (a finished
    study's Live page, after the rerun that rests it), then drawn. A sidebar link clicked while
    that rerun ran left the page on Live (Streamlit 1.67); ``settle`` alone could return in the
    moment between the panel's last run and that rerun."""
    page.evaluate(RUNS_ENDED)
    page.wait_for_function(HELD_AT_REST, arg=HELD_AT_REST_MS, timeout=timeout)
    settle(page)


def open_new_study(page: Page, server: str) -> None:
    """Open New study the way a visitor arrives: the landing page first, so app.py's navigation
    (page titles) is in place; a deep link opened first lists raw page names in the sidebar."""
    page.goto(server)
    expect(page.get_by_role("heading", name="Tuning Lab")).to_be_visible(timeout=30_000)
    page.goto(f"{server}/new_study")


def shot(page: Page, name: str) -> None:
    """The whole page, once drawn: Streamlit scrolls inside its main area, so the window is
    stretched to the main area's height for the shot (same width), then put back."""
    ARTIFACTS.mkdir(exist_ok=True)
    settle(page)
    viewport = page.viewport_size
    height = page.evaluate(
        "() => (document.querySelector(\"[data-testid='stMain']\") || document.body).scrollHeight"
    )
    page.set_viewport_size({"width": viewport["width"], "height": max(viewport["height"], height)})
    page.evaluate(NEXT_PAINT)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.set_viewport_size(viewport)


def fill(page: Page, label: str, value: str) -> None:
    """Type ``value`` into the field and press Enter; a changed value reruns the page, which is
    waited for (the old widgets can stand beside the new ones until the run ends)."""
    field = page.get_by_label(label, exact=True)
    changed = field.input_value() != value
    settle(page)
    ended = page.evaluate(RUNS_ENDED)
    field.fill(value)
    field.press("Enter")
    if changed:  # "3" typed over "3.0" changes nothing, so no run is awaited for too long
        with contextlib.suppress(Exception):
            page.wait_for_function(RAN_AND_RESTED, arg=ended, timeout=20_000)
    settle(page)


def assert_no_horizontal_overflow(page: Page, where: str) -> None:
    """Nothing on the page is wider than the window (a cut-off chart or a sideways scroll)."""
    widths = page.evaluate(
        """() => {
            const main = document.querySelector("[data-testid='stMain']") || document.body;
            return [document.documentElement.scrollWidth, document.documentElement.clientWidth,
                    main.scrollWidth, main.clientWidth];
        }"""
    )
    assert widths[0] <= widths[1] and widths[2] <= widths[3], f"{where} overflows: {widths}"


def no_red_error_box(page: Page, where: str) -> None:
    alerts = page.locator("[data-testid='stAlertContentError']")
    assert alerts.count() == 0, f"{where}: {alerts.first.inner_text()}"


def rerun_settled(page: Page, action: Callable[[], object], timeout: float = 60_000) -> None:
    """Do ``action`` (an upload, a click), which must make the page run again, then wait until
    that run has ended and the page is at rest (RAN_AND_RESTED) and drawn."""
    settle(page)
    ended = page.evaluate(RUNS_ENDED)
    action()
    page.wait_for_function(RAN_AND_RESTED, arg=ended, timeout=timeout)
    settle(page)
