"""Real browser at 1366×768: start a Branin race from the Strategy race page, watch it run to
the end, and read what Vega drew: two band charts whose legends name every strategy, and the
verdict. Screenshots go to test-artifacts/."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser_pages import (
    assert_no_horizontal_overflow,
    fill,
    no_red_error_box,
    rerun_settled,
    settle,
    shot,
)
from tests.test_browser import server  # noqa: F401 - the fixture
from tests.test_race import branin_race, race_worker
from tuning_core.engine import race as races
from tuning_core.engine.states import StudyStatus
from tuning_core.engine.storage import Store

pytestmark = pytest.mark.browser
pytest_plugins = ("tests.browser_fixtures",)
STRATEGIES = ["Grid", "Random", "Bayesian (GP, EI)"]


def test_a_branin_race_from_the_page_to_the_verdict(
    server: str,  # noqa: F811 - the fixture imported above
    storage: Path,
    new_page: Callable[[], Page],
) -> None:
    """On a server of its own: the page's first race, in an empty store."""
    page = new_page()
    page.goto(server)
    page.get_by_role("link", name="Strategy race").first.click()
    expect(page.get_by_role("heading", name="Strategy race")).to_be_visible(timeout=30_000)
    fill(page, "Seeds", "3")
    fill(page, "Trials per study", "30")
    fill(page, "Race name", "browser-race")
    shot(page, "race-1-form")
    page.get_by_role("button", name="Start race").click()

    # Live: the status line counts studies while the worker runs, then says finished.
    expect(page.get_by_text(re.compile(r"browser-race · \w+ · \d+/7 studies"))).to_be_visible(
        timeout=60_000
    )
    expect(page.get_by_text(re.compile(r"browser-race · finished · 7/7 studies"))).to_be_visible(
        timeout=180_000
    )
    verdict = page.get_by_text(re.compile(r"(ended best|No clear winner) over 3 seeds"))
    expect(verdict).to_be_visible(timeout=30_000)
    settle(page)  # the charts redraw with the last trials
    charts = page.locator("[data-testid='stVegaLiteChart']")
    expect(charts).to_have_count(2)
    for index in range(2):
        texts = charts.nth(index).locator("text").all_text_contents()
        for strategy in STRATEGIES:
            assert strategy in texts, (index, strategy, texts)
    assert "trial" in charts.nth(0).locator("text").all_text_contents()
    assert "wall-clock seconds (log)" in charts.nth(1).locator("text").all_text_contents()
    no_red_error_box(page, "Strategy race")
    assert page.locator("[data-testid='stException']").count() == 0
    assert_no_horizontal_overflow(page, "Strategy race")
    shot(page, "race-2-finished")

    with Store(storage) as store:
        record = races.get_race(store, "browser-race")
        assert record.status == StudyStatus.FINISHED
        assert len(races.race_studies(store, record.id)) == 7
    text = verdict.first.inner_text()
    assert "Seeds won of 3:" in text and all(s in text for s in STRATEGIES), text
    title = charts.nth(1).locator("text").all_text_contents()
    assert any(t.startswith("By wall-clock time, ") for t in title), title

    # Presenter mode: the room sees the verdict and the bands, not the form.
    page.goto(f"{server}/race?race=browser-race&present=1")
    expect(page.get_by_text(re.compile(r"Seeds won of 3"))).to_be_visible(timeout=30_000)
    shot(page, "race-3-present")

    # Another race started from the page is the race shown at once, on the page and in
    # its link (it went on showing the finished one for 30 s).
    page.goto(f"{server}/race?race=browser-race")
    page.get_by_text("Start another race").click()
    fill(page, "Trials per study", "5")
    # "At once" is the run the click starts (a loaded machine can take seconds over it), not
    # the 30 s refresh: wait for that run to end, then the new race must already be shown.
    rerun_settled(page, page.get_by_role("button", name="Start race").click)
    expect(page.get_by_text(re.compile(r"branin-race-1"))).to_be_visible(timeout=5_000)
    expect(page).to_have_url(re.compile(r"race=branin-race-1"), timeout=5_000)
    expect(page.get_by_text(re.compile(r"browser-race · finished"))).to_have_count(0, timeout=5_000)
    shot(page, "race-5-started-another")


def _race_written(storage: Path, name: str) -> bool:
    with Store(storage) as store:
        return races.get_race(store, name) is not None


def test_a_running_race_draws_live_bands_and_stops_from_its_button(
    shared_server: str, shared_store: Path, new_page: Callable[[], Page]
) -> None:
    raw = branin_race(name="live-race", trials=30, seeds=3, trial_seconds=0.1)
    spec = shared_store.parent / "live-race.json"
    spec.write_text(json.dumps(raw), encoding="utf-8")
    with race_worker(spec, shared_store) as worker:
        # The page shows a race once its worker has written it ("No races yet" does not
        # refresh by itself); the worker starts Python and imports scikit-optimize first.
        deadline = time.monotonic() + 90
        while not _race_written(shared_store, "live-race") and time.monotonic() < deadline:
            time.sleep(0.1)
        page = new_page()
        page.goto(f"{shared_server}/race?race=live-race")
        expect(page.get_by_text(re.compile(r"live-race · running · [1-9]/7"))).to_be_visible(
            timeout=90_000
        )
        expect(
            page.get_by_text(re.compile(r"leads so far|so far on one seed|seeds so far"))
        ).to_be_visible(timeout=30_000)
        charts = page.locator("[data-testid='stVegaLiteChart']")
        expect(charts).to_have_count(2)
        first = charts.nth(0).locator("text").all_text_contents()
        assert "Grid" in first and "Random" in first
        shot(page, "race-4-running")
        page.get_by_role("button", name="Stop race").click()
        expect(page.get_by_text(re.compile(r"live-race · stopped"))).to_be_visible(timeout=30_000)
        no_red_error_box(page, "Strategy race, stopped")
        page.close()
        worker.wait(timeout=30)
    with Store(shared_store) as store:
        assert races.get_race(store, "live-race").status == StudyStatus.STOPPED
