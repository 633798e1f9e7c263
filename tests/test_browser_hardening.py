"""Real browser (Debian's chromium) against a real `streamlit run app.py`: the dashboard
refuses foreign Host names (DNS rebinding), and every bad spec upload gets one sentence.

Screenshots go to test-artifacts/. This test never skips: CI installs chromium first.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, Playwright, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.browser_pages import (
    ARTIFACTS,
    CHROMIUM_FLAGS,
    VIEWPORT,
    chromium_path,
    open_new_study,
    rerun_settled,
    settle,
)
from tests.conftest import branin_spec, digits_spec
from tests.test_browser import server  # noqa: F401 - the fixture
from tests.test_cli_bad_input import BAD_SPECS

pytestmark = pytest.mark.browser
pytest_plugins = ("tests.browser_fixtures",)
REBINDING_NAME = "attacker.example"


def test_a_rebound_host_name_gets_no_dashboard(
    server: str,  # noqa: F811 - the fixture imported above
    playwright_driver: Playwright,
) -> None:
    """On a fresh server of its own, with a Chromium that resolves REBINDING_NAME here."""
    port = server.rsplit(":", 1)[1]
    browser = playwright_driver.chromium.launch(
        executable_path=chromium_path(),
        headless=True,
        args=[*CHROMIUM_FLAGS, f"--host-resolver-rules=MAP {REBINDING_NAME} 127.0.0.1"],
    )
    try:
        page = browser.new_page(viewport=VIEWPORT)
        # Deep links first: on a fresh server they run a page without app.py.
        for path in ("studies", "live", "", "lr_lab"):
            page.goto(f"http://{REBINDING_NAME}:{port}/{path}")
            expect(page.get_by_text("Tuning Lab answers only on")).to_be_visible(timeout=30_000)
            assert page.get_by_role("button").filter(has_text="Delete").count() == 0
            assert page.get_by_role("heading", name="Studies").count() == 0
            assert page.get_by_role("heading", name="New study").count() == 0
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "rebinding-refused.png"))
        page.goto(f"http://localhost:{port}/")  # the lessons' landing page, for a loopback name
        expect(page.get_by_role("heading", name="Tuning Lab")).to_be_visible(timeout=30_000)
    finally:
        browser.close()


def _hardening_specs() -> dict[str, str]:
    """Uploads that once crashed the page, as JSON text."""
    cases: dict[str, str] = {}
    for case, mutate, _ in BAD_SPECS:
        spec = copy.deepcopy(branin_spec(name="bad"))
        mutate(spec)
        cases[case] = json.dumps(spec)
    nested = '{"name": "nested", "space": ' + "[" * 100_000 + "]" * 100_000 + "}"
    cases["nested"] = nested
    plain = json.dumps(digits_spec())
    cases["trials Infinity"] = plain.replace('"trials": 2', '"trials": Infinity')
    cases["trials 1e308"] = plain.replace('"trials": 2', '"trials": 1e308')
    low_abc = digits_spec(space={"learning_rate": {"type": "float", "low": "abc", "high": 1}})
    cases["low abc"] = json.dumps(low_abc)
    cases["lr 1e-300"] = json.dumps(digits_spec(space={"learning_rate": 1e-300}))
    cases["nadam"] = json.dumps(digits_spec(space={"optimizer": "nadam"}))
    cases["markdown name"] = json.dumps(
        digits_spec(name="**bold** ![x](http://127.0.0.1:9/x.png) [link](http://example.com)")
    )
    return cases


def _upload(page: Page, path: Path) -> None:
    """Upload ``path`` as the spec and wait until the page has run with it."""

    def choose() -> None:
        page.locator("input[type='file']").first.set_input_files(str(path))

    try:
        rerun_settled(page, choose, timeout=30_000)
    except PlaywrightTimeoutError:
        # Once, in a fresh-clone CI run on two loaded cores, the page never ran after its first
        # upload (60 s). Choosing the file again, once, tells that apart from an upload the
        # page ignores, which fails here too; what the page shows is asserted after.
        rerun_settled(page, choose, timeout=60_000)


def test_every_bad_upload_gets_one_sentence_and_a_good_one_loads_exactly(
    shared_server: str, tmp_path: Path, new_page: Callable[[], Page]
) -> None:
    page = new_page()
    open_new_study(page, shared_server)
    expect(page.get_by_role("heading", name="New study")).to_be_visible(timeout=30_000)
    for index, (case, text) in enumerate(_hardening_specs().items()):
        upload = tmp_path / f"bad-{index}.json"
        upload.write_text(text)
        _upload(page, upload)
        alerts = page.locator("[data-testid='stAlertContentError']")
        expect(alerts.first).to_be_visible(timeout=15_000)
        first = alerts.first.inner_text()
        assert "Traceback" not in page.content(), case
        assert page.locator("[data-testid='stException']").count() == 0, case
        assert first.count("\n") == 0 and len(first) < 400, (case, first)
        if case == "markdown name":
            # User text is shown as typed: no bold, no image, no link from it.
            assert "**bold**" in first, first
            rendered = alerts.first.locator("strong, img, a")
            assert rendered.count() == 0, alerts.first.inner_html()
        expect(page.get_by_role("heading", name="New study")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "upload-refused.png"))

    good = digits_spec(name="off-ladder", space={"learning_rate": 0.0003, "batch_size": 48})
    upload = tmp_path / "good.json"
    upload.write_text(json.dumps(good))
    _upload(page, upload)
    expect(page.get_by_label("Study name", exact=True)).to_have_value("off-ladder")
    assert page.locator("[data-testid='stException']").count() == 0
    page.get_by_text("batch size", exact=True).first.scroll_into_view_if_needed()
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "upload-off-ladder.png"))
    assert page.get_by_text("0.0003", exact=True).count() >= 1
    assert page.get_by_text("48", exact=True).count() >= 1
