"""Real browser: a store from elsewhere, opened in the dashboard in Debian's chromium.

Crafted ask records (a pickle that would run a shell command) show on Why this point? as one
sentence that the record cannot be trusted, and nothing runs; a store whose trials table was
turned into an endless recursive view gets one sentence on every page at once, not a hang.
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser_pages import shot
from tests.conftest import branin_spec
from tests.test_browser import server  # noqa: F401 - the fixture
from tests.test_untrusted_store import _endless_view_store, _payloads, _replace_blobs
from tuning_core.engine.objectives import function_objective
from tuning_core.engine.spec import parse_spec
from tuning_core.engine.storage import Store
from tuning_core.engine.study import run_study

pytestmark = [pytest.mark.browser, pytest.mark.subprocess]
pytest_plugins = ("tests.browser_fixtures",)
NAME = "mailed-study"


def test_a_crafted_store_shows_one_sentence_and_runs_nothing(
    server: str,  # noqa: F811 - the fixture imported above
    storage: Path,
    tmp_path: Path,
    new_page: Callable[[], Page],
) -> None:
    """On a server of its own: the test rewrites the store under it."""
    raw = branin_spec(NAME, {"type": "bayesian", "initial_points": 3, "seed": 0}, trials=6)
    with Store(storage) as store:
        run_study(parse_spec(raw), store, function_objective("branin"), log=lambda _: None)
    marker = tmp_path / "ran"
    _replace_blobs(storage, _payloads(marker)["shell"])

    page = new_page()
    page.goto(f"{server}/why?study={NAME}")
    expect(page.get_by_text("cannot be trusted").first).to_be_visible(timeout=60_000)
    assert page.locator("[data-testid='stException']").count() == 0
    shot(page, "untrusted-record")
    assert not list(tmp_path.glob("ran*")), "a crafted record ran code in the dashboard"

    # The same path now holds a store whose trials table is an endless recursive view.
    for leftover in storage.parent.glob(f"{storage.name}*"):
        if leftover.is_file():
            leftover.unlink()
    _endless_view_store(storage)
    for path in ("studies", "live", "why"):
        started = time.monotonic()
        page.goto(f"{server}/{path}")
        expect(page.get_by_text("holds a view named 'trials'").first).to_be_visible(timeout=30_000)
        assert time.monotonic() - started < 20, path
        assert page.locator("[data-testid='stException']").count() == 0, path
    shot(page, "crafted-schema")
