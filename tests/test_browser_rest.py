"""A page redraws by itself only while what it shows can change (dashboard/refresh.py).

A finished study's Live page used to rerun every second for as long as the tab was open; at
rest it now only looks for a change every few seconds, and a study resumed elsewhere (here:
its store rows written behind the page) brings the refresh back by itself.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from dashboard.common import REFRESH_SECONDS
from dashboard.refresh import REST_POLL_SECONDS
from tests.browser_pages import RUNS_ENDED, settle, shot, streamlit_app
from tests.seeding import seed_store
from tests.test_browser import server  # noqa: F401 - the fixture
from tests.test_race import branin_race
from tuning_core.engine import race as races
from tuning_core.engine.race_spec import parse_race_spec
from tuning_core.engine.states import StudyStatus, TrialState
from tuning_core.engine.storage import Store

pytestmark = pytest.mark.browser
pytest_plugins = ("tests.browser_fixtures",)

WINDOW_SECONDS = 9.0


def _runs_in_window(page: Page) -> int:
    """Page runs (fragment runs included) that end within WINDOW_SECONDS."""
    before = page.evaluate(RUNS_ENDED)
    page.wait_for_timeout(WINDOW_SECONDS * 1000)
    return page.evaluate(RUNS_ENDED) - before


def _set_status(storage: Path, name: str, status: StudyStatus) -> None:
    with Store(storage) as store:
        study = store.get_study(name)
        owner = os.getpid() if status == StudyStatus.RUNNING else None
        store.set_status(study.id, status, worker_pid=owner)


def test_a_finished_studys_live_page_rests_and_wakes_when_the_study_runs_again(
    shared_server: str, shared_store: Path, new_page: Callable[[], Page]
) -> None:
    seed_store(shared_store, running=False, name="resting")
    page = new_page()
    page.goto(f"{shared_server}/live?study=resting")
    expect(page.get_by_text(re.compile(r"resting · status: finished"))).to_be_visible()
    settle(page)
    page.evaluate(RUNS_ENDED)  # start counting
    # At rest: a look for changes every REST_POLL_SECONDS, not a redraw every second.
    at_rest = _runs_in_window(page)
    assert at_rest <= WINDOW_SECONDS / REST_POLL_SECONDS + 1, at_rest

    # Resumed elsewhere: a new trial writes epochs behind the page, which must notice the
    # study running and redraw every second again, new epochs included.
    _set_status(shared_store, "resting", StudyStatus.RUNNING)
    expect(page.get_by_text(re.compile(r"resting · status: running"))).to_be_visible()
    with Store(shared_store) as store:
        study = store.get_study("resting")
        trial = store.start_trial(
            study.id, 10, {"learning_rate": 0.01, "units": 64, "optimizer": "adam"}
        )
        store.add_epoch_metrics(
            trial, 0, {"loss": 0.9, "accuracy": 0.7, "val_loss": 1.0, "val_accuracy": 0.69}
        )
    expect(page.get_by_text(re.compile(r"\d+ epochs recorded across 11 trials"))).to_be_visible()
    running = _runs_in_window(page)
    # Every second while running; at least twice as often as at rest even on loaded cores.
    assert running >= max(2 * at_rest, WINDOW_SECONDS / REFRESH_SECONDS / 3), (running, at_rest)
    shot(page, "rest-1-running-again")

    # Finished again: the page says so and rests.
    with Store(shared_store) as store:
        store.finish_trial(trial, TrialState.COMPLETE, 0.69)
    _set_status(shared_store, "resting", StudyStatus.FINISHED)
    expect(page.get_by_text(re.compile(r"resting · status: finished"))).to_be_visible()
    settle(page)
    assert _runs_in_window(page) <= WINDOW_SECONDS / REST_POLL_SECONDS + 1


def test_an_empty_stores_live_and_race_pages_show_what_is_started_elsewhere(
    server: str,  # noqa: F811 - the fixture imported above
    storage: Path,
    new_page: Callable[[], Page],
) -> None:
    """On a server of its own (its store empty): "No studies yet" on Live gives way to a
    study written behind the page (a notebook's, through the API), and "No races yet" to a
    race, with no click (each stayed until one)."""
    page = new_page()
    page.goto(f"{server}/live")
    expect(page.get_by_text(re.compile(r"^No studies yet"))).to_be_visible(timeout=30_000)
    settle(page)
    seed_store(storage, running=False, name="from-a-notebook")
    expect(page.get_by_text(re.compile(r"from-a-notebook · status: finished"))).to_be_visible(
        timeout=15_000
    )
    expect(page.get_by_text(re.compile(r"^No studies yet"))).to_have_count(0)
    shot(page, "rest-2-study-started-elsewhere")

    page.goto(f"{server}/race")
    expect(page.get_by_text(re.compile(r"^No races yet"))).to_be_visible(timeout=30_000)
    settle(page)
    with Store(storage) as store:
        races.open_race(store, parse_race_spec(branin_race("elsewhere", trials=4)))
    expect(page.get_by_text(re.compile(r"^elsewhere · \w+ · 0/\d+ studies"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"^No races yet"))).to_have_count(0)
    shot(page, "rest-3-race-started-elsewhere")


# A resting panel with a slider whose run is slow, and a chart only above 0; the look for
# changes made much more often than the dashboard's, so that it fires during every slider run.
SLIDER_APP = """
import time

import pandas as pd
import streamlit as st

from dashboard import refresh


def draw() -> refresh.Drawn:
    value = st.slider("value", 0, 3, 3, key="value")
    st.write(f"value {value}")
    time.sleep(1.5)
    if value > 0:
        rows = pd.DataFrame({"x": [1, 2], "y": [value, 1]})
        st.vega_lite_chart(rows, {"mark": "line", "encoding": {
            "x": {"field": "x", "type": "quantitative"},
            "y": {"field": "y", "type": "quantitative"}}})
    return refresh.Drawn(False, 1)


refresh.REST_POLL_SECONDS = 0.5
refresh.redraw_while_active("slider", draw, lambda: refresh.Drawn(False, 1))
"""


def test_a_resting_panel_redrawn_by_its_slider_keeps_only_what_it_drew(
    tmp_path: Path, new_page: Callable[[], Page]
) -> None:
    # Its look for changes once sat beside it, a fragment of its own: its timer firing during
    # the slider's run left the chart of the value before on the page.
    script = tmp_path / "slider_app.py"
    script.write_text(SLIDER_APP)
    charts = "[data-testid='stVegaLiteChart']"
    with streamlit_app(tmp_path / "store.db", script) as url:
        for _ in range(3):
            page = new_page()
            page.goto(url)
            expect(page.locator(charts)).to_have_count(1, timeout=30_000)
            page.get_by_role("slider").first.focus()
            page.keyboard.press("Home")
            expect(page.get_by_text("value 0")).to_be_visible(timeout=30_000)
            expect(page.locator(charts)).to_have_count(0, timeout=10_000)
            page.close()
