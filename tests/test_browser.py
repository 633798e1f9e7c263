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
PAGES = ["New study", "Live study", "Compare trials", "Learning-rate lab", "Studies"]


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


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _fill(page: Page, label: str, value: str) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(value)
    field.press("Enter")
    page.wait_for_timeout(400)


def _epochs_recorded(page: Page) -> int:
    text = page.get_by_text(re.compile(r"epochs recorded across")).first.inner_text(timeout=1000)
    return int(text.split()[0])


def test_create_watch_and_visit_every_page(server: str) -> None:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    assert Path(chromium).exists(), (
        "Debian's chromium is missing: the README's test command installs it"
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_FLAGS
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        # Offline machines must get the whole app: nothing may be fetched from another host.
        external: list[str] = []
        page.on(
            "request",
            lambda request: (
                external.append(request.url) if _leaves_this_machine(request.url) else None
            ),
        )
        started = time.monotonic()
        page.goto(server)
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
        second = browser.new_page(viewport={"width": 1400, "height": 1000})
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
