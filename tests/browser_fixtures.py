"""The browser tests' fixtures: one Playwright driver and one Chromium per test process, and
one `streamlit run app.py` per test process (``shared_server``) for the tests that make their
studies under names of their own and only read them.

A test module takes them with ``pytest_plugins = ("tests.browser_fixtures",)`` and imports
nothing from here: as a plugin they are registered once, so a session-scoped fixture is one
instance per test process (imported into each module, each module would get its own).
Playwright's sync API cannot be started twice in one thread, so every browser test uses
``playwright_driver``. A fresh server on the test's own store is tests/test_browser.py's
``server``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.browser_pages import CHROMIUM_FLAGS, VIEWPORT, chromium_path, streamlit_app
from tests.seeding import seed_store


@pytest.fixture(scope="session")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The store of ``shared_server``, seeded with the study 'seeded' (finished)."""
    path = tmp_path_factory.mktemp("shared-dashboard") / "store.db"
    seed_store(path, running=False)
    return path


@pytest.fixture(scope="session")
def shared_server(shared_store: Path) -> Iterator[str]:
    """One dashboard per test process, for tests that make their studies under names of their
    own in ``shared_store`` and read them (no test deletes or rewrites another's)."""
    with streamlit_app(shared_store) as url:
        yield url


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def chromium(playwright_driver: Playwright) -> Iterator[Browser]:
    """One Chromium per test process; each test's pages get contexts of their own."""
    browser = playwright_driver.chromium.launch(
        executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS
    )
    yield browser
    browser.close()


@pytest.fixture
def new_page(chromium: Browser) -> Iterator[Callable[[], Page]]:
    """Opens a 1366 x 768 page in a fresh context (no cookies, cache or storage shared with
    any other test); all are closed after the test, so no page goes on refreshing."""
    contexts = []

    def open_page() -> Page:
        context = chromium.new_context(viewport=VIEWPORT)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()
