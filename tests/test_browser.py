"""Real browser: Playwright drives Debian's chromium against `streamlit run app.py`.

Creates a study on bundled digits from the New-study page, watches the live chart gain
points while the worker trains, then loads every page and checks none shows an exception.
Screenshots go to test-artifacts/. This test never skips: CI installs chromium first.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.conftest import ROOT, cli_env
from tests.seeding import seed_store

pytestmark = pytest.mark.browser
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
PAGES = [
    "New study",
    "Live study",
    "Compare trials",
    "Why this point?",
    "Strategy race",
    "Learning-rate lab",
    "Studies",
]
# A projector: the smallest screen a lesson is given on.
VIEWPORT = {"width": 1366, "height": 768}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(storage: Path):
    port = _free_port()
    log = open(storage.parent / "streamlit.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
        ],
        cwd=ROOT,
        env=cli_env(storage),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail(
            "streamlit did not start: " + (storage.parent / "streamlit.log").read_text()[-2000:]
        )
    yield url
    process.terminate()
    process.wait(timeout=20)
    log.close()


def _leaves_this_machine(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname
    return host is not None and host not in ("127.0.0.1", "localhost")


def open_new_study(page: Page, server: str) -> None:
    """Open New study the way a visitor arrives: the landing page first, so app.py's navigation
    (page titles) is in place; a deep link opened first lists raw page names in the sidebar."""
    page.goto(server)
    expect(page.get_by_role("heading", name="Tuning Lab")).to_be_visible(timeout=30_000)
    page.goto(f"{server}/new_study")


def _shot(page: Page, name: str) -> None:
    """The whole page: Streamlit scrolls inside its main area, so the window is stretched to
    the main area's height for the shot (same width), then put back."""
    ARTIFACTS.mkdir(exist_ok=True)
    viewport = page.viewport_size
    height = page.evaluate(
        "() => (document.querySelector(\"[data-testid='stMain']\") || document.body).scrollHeight"
    )
    page.set_viewport_size({"width": viewport["width"], "height": max(viewport["height"], height)})
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    page.set_viewport_size(viewport)


def _fill(page: Page, label: str, value: str) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(value)
    field.press("Enter")
    page.wait_for_timeout(400)


def _assert_no_horizontal_overflow(page: Page, where: str) -> None:
    """Nothing on the page is wider than the window (a cut-off chart or a sideways scroll)."""
    widths = page.evaluate(
        """() => {
            const main = document.querySelector("[data-testid='stMain']") || document.body;
            return [document.documentElement.scrollWidth, document.documentElement.clientWidth,
                    main.scrollWidth, main.clientWidth];
        }"""
    )
    assert widths[0] <= widths[1] and widths[2] <= widths[3], f"{where} overflows: {widths}"


def _no_red_error_box(page: Page, where: str) -> None:
    alerts = page.locator("[data-testid='stAlertContentError']")
    assert alerts.count() == 0, f"{where}: {alerts.first.inner_text()}"


def _epochs_recorded(page: Page) -> int:
    text = page.get_by_text(re.compile(r"epochs recorded across")).first.inner_text(timeout=1000)
    return int(text.split()[0])


@pytest.mark.keras
def test_create_watch_and_visit_every_page(server: str) -> None:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    assert Path(chromium).exists(), (
        "Debian's chromium is missing: the README's test command installs it"
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_FLAGS
        )
        page = browser.new_page(viewport=VIEWPORT)
        # Offline machines must get the whole app: nothing may be fetched from another host.
        external: list[str] = []
        page.on(
            "request",
            lambda request: (
                external.append(request.url) if _leaves_this_machine(request.url) else None
            ),
        )
        started = time.monotonic()
        open_new_study(page, server)
        expect(page.get_by_role("heading", name="New study")).to_be_visible(timeout=30_000)
        print(f"first page rendered {time.monotonic() - started:.2f} s after navigation")
        _fill(page, "Study name", "browser-study")
        _fill(page, "Training examples (0 = all)", "300")
        _fill(page, "Trials", "3")
        page.get_by_text("random", exact=True).click()
        page.wait_for_timeout(500)
        _shot(page, "1-new-study")
        start = page.get_by_role("button", name="Start")
        expect(start).to_be_enabled(timeout=10_000)
        start.click()

        expect(page.get_by_role("heading", name="Live study")).to_be_visible(timeout=30_000)
        seen: list[int] = []
        deadline = time.time() + 180
        while time.time() < deadline:
            # The chart appears after the first epoch.
            with contextlib.suppress(Exception):
                seen.append(_epochs_recorded(page))
            if len(set(seen)) >= 3:
                break
            page.wait_for_timeout(700)
        _shot(page, "2-live-study")
        assert len(set(seen)) >= 3, f"the live chart did not grow: {seen}"
        assert seen == sorted(seen)
        assert page.locator("[data-testid='stVegaLiteChart']").count() >= 2
        # A second tab and a refresh show the same live study: nothing lives in the page.
        second = browser.new_page(viewport=VIEWPORT)
        second.goto(f"{server}/live?study=browser-study")
        expect(second.get_by_text(re.compile(r"epochs recorded across"))).to_be_visible(
            timeout=30_000
        )
        assert _epochs_recorded(second) >= seen[-1]
        second.close()
        page.reload()
        expect(page.get_by_text(re.compile(r"epochs recorded across"))).to_be_visible(
            timeout=30_000
        )
        expect(page.get_by_text("browser-study").first).to_be_visible()

        expect(page.get_by_text(re.compile(r"status: finished"))).to_be_visible(timeout=180_000)
        for index, title in enumerate(PAGES, start=3):
            page.get_by_role("link", name=title).first.click()
            expect(page.get_by_role("heading", name=title)).to_be_visible(timeout=30_000)
            page.wait_for_timeout(1500)
            _shot(page, f"{index}-{title.lower().replace(' ', '-')}")
            assert page.locator("[data-testid='stException']").count() == 0, (
                f"{title} shows an exception"
            )
            _assert_no_horizontal_overflow(page, title)
        page.get_by_role("link", name="Learning-rate lab").first.click()
        _fill(page, "Training examples (0 = all)", "200")
        page.get_by_role("button", name="Train one model per learning rate").click()
        # No click after Start: the comparison must appear, and finish, by itself.
        expect(page.get_by_text("final validation accuracy by learning rate")).to_be_visible(
            timeout=180_000
        )
        _shot(page, "8-learning-rate-comparison")
        page.get_by_role("tab", name="Gradient-descent playground").click()
        page.get_by_text("diverging", exact=True).click()
        expect(page.get_by_text(re.compile(r"^Diverging"))).to_be_visible(timeout=15_000)
        _shot(page, "9-playground-diverging")
        page.get_by_text("oscillating", exact=True).click()
        expect(page.get_by_text(re.compile(r"^Oscillating"))).to_be_visible(timeout=15_000)
        _shot(page, "10-playground-oscillating")
        browser.close()
    assert external == [], f"the app fetched from the internet: {sorted(set(external))}"


def _launch(playwright):
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    return playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)


@pytest.mark.keras
def test_the_classroom_lesson(server: str, storage: Path) -> None:
    """Compare 0.001 / 0.1 / 10 on digits and see the diverged run; run the LR range test and
    reload; try each Rosenbrock preset from its link; present; and read a seeded study's
    Compare and Live pages at 1366 px."""
    seed_store(storage, running=False)
    with sync_playwright() as playwright:
        browser = _launch(playwright)
        page = browser.new_page(viewport=VIEWPORT)
        # The home page first: until app.py has run once, Streamlit serves pages/*.py as
        # a pages/ folder app without app.py's navigation (see the report on issue 12).
        open_new_study(page, server)
        expect(page.get_by_role("heading", name="New study")).to_be_visible(timeout=30_000)
        page.goto(f"{server}/lr_lab?rates=0.001,0.1,10")
        expect(page.get_by_role("heading", name="Learning-rate lab")).to_be_visible(timeout=30_000)
        _fill(page, "Training examples (0 = all)", "200")
        page.get_by_role("button", name="Train one model per learning rate").click()
        expect(page.get_by_text(re.compile(r"^lr 10: diverged at epoch 1"))).to_be_visible(
            timeout=180_000
        )
        expect(page.get_by_text(re.compile(r"3 of 3 trials"))).to_be_visible(timeout=60_000)
        page.wait_for_timeout(1500)
        _shot(page, "11-lesson-three-rates")
        _no_red_error_box(page, "the lesson's comparison")
        _assert_no_horizontal_overflow(page, "the learning-rate lab")
        assert page.locator("[data-testid='stVegaLiteChart']").count() >= 5

        page.get_by_role("tab", name="LR range test").click()
        page.get_by_role("button", name="Run the LR range test").click()
        expect(page.get_by_text("valley (recommended)").first).to_be_visible(timeout=180_000)
        page.wait_for_timeout(1000)
        _shot(page, "12-lr-range-test")
        page.reload()
        page.get_by_role("tab", name="LR range test").click()
        # Kept beside the store: the result is there again after a reload.
        expect(page.get_by_text("valley (recommended)").first).to_be_visible(timeout=30_000)
        _shot(page, "13-lr-range-test-after-reload")

        for preset in ("too small", "just right", "oscillating", "diverging"):
            page.goto(f"{server}/lr_lab?function=rosenbrock&preset={preset.replace(' ', '+')}")
            page.get_by_role("tab", name="Gradient-descent playground").click()
            verdict = "^Diverging" if preset == "diverging" else "^(Still|Oscillating|Converged)"
            expect(page.get_by_text(re.compile(verdict)).first).to_be_visible(timeout=30_000)
            page.wait_for_timeout(800)
            _shot(page, f"14-rosenbrock-{preset.replace(' ', '-')}")
            _assert_no_horizontal_overflow(page, f"the playground ({preset})")

        page.goto(f"{server}/lr_lab?rates=0.001,0.1,10&present=1")
        expect(page.get_by_role("heading", name="Learning-rate lab")).to_be_visible(timeout=30_000)
        page.wait_for_timeout(2500)
        _shot(page, "15-present-mode")
        for hidden in ("[data-testid='stToolbar']", "[data-testid='stSidebar']"):
            assert not page.locator(hidden).first.is_visible(), f"{hidden} shows in present mode"
        assert not page.get_by_role("button", name="Train one model per learning rate").is_visible()
        expect(page.get_by_text(re.compile(r"^lr 10: diverged at epoch 1"))).to_be_visible()
        _assert_no_horizontal_overflow(page, "present mode")

        for path, name in (
            ("compare?study=seeded", "16-compare"),
            ("live?study=seeded", "17-live"),
        ):
            page.goto(f"{server}/{path}")
            page.wait_for_timeout(3000)
            expect(page.locator("[data-testid='stVegaLiteChart']").first).to_be_visible(
                timeout=30_000
            )
            page.wait_for_timeout(1500)
            _shot(page, name)
            assert page.locator("[data-testid='stException']").count() == 0
            _no_red_error_box(page, path)
            _assert_no_horizontal_overflow(page, path)
        browser.close()


def test_a_preset_link_opened_first_presents_its_setup(server: str) -> None:
    """A teacher's first click after starting the app: a deep link, with no visit to the home
    page, so Streamlit runs the page without app.py; the page still presents its preset."""
    with sync_playwright() as playwright:
        browser = _launch(playwright)
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(f"{server}/lr_lab?function=rosenbrock&preset=oscillating&present=1")
        expect(page.get_by_role("heading", name="Learning-rate lab")).to_be_visible(timeout=30_000)
        page.get_by_role("tab", name="Gradient-descent playground").click()
        expect(page.get_by_text(re.compile(r"^Oscillating")).first).to_be_visible(timeout=30_000)
        page.wait_for_timeout(1500)
        _shot(page, "18-preset-link-presented")
        assert not page.locator("[data-testid='stToolbar']").first.is_visible()
        assert not page.get_by_text("Preset", exact=True).is_visible()  # the controls are hidden
        _assert_no_horizontal_overflow(page, "a presented preset link")
        browser.close()
