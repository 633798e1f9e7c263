"""Real browser: a parallel study's worker timeline in Debian's chromium at 1366 x 768.

Runs a real study with ``"parallel": 2`` (``python -m tuning_core run``: a LocalCluster of two
Dask workers, one-second Branin trials with a fidelity), then opens its Live and Compare pages
and reads what Vega drew: each bar's tooltip is its aria-label ("trial: 3; worker: worker 1;
state: complete; ..."), so the test checks two lanes, every trial drawn once in the lane of the
worker the store says ran it, and the lanes' names on the axis. Screenshots go to
test-artifacts/. Never skips: CI installs chromium first.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser_pages import (
    assert_no_horizontal_overflow,
    no_red_error_box,
    open_new_study,
    settle,
    shot,
)
from tests.conftest import branin_spec, run_cli, write_spec
from tuning_core.engine.storage import Store

pytestmark = [pytest.mark.browser, pytest.mark.dask]
pytest_plugins = ("tests.browser_fixtures",)
NAME = "parallel-in-the-browser"
_BAR = re.compile(r"trial: (\d+); worker: ([^;]+); state: (\w+)")


def _run_parallel_study(storage: Path) -> dict[int, str]:
    """Run the study to its end; returns {trial number: the lane its worker has}."""
    spec = branin_spec(NAME, trials=8, trial_seconds=1.0, epochs=5)
    spec["parallel"] = 2
    spec_path = write_spec(storage.parent, spec, name=f"{NAME}.json")
    result = run_cli("run", str(spec_path), storage=storage, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    with Store(storage) as store:
        study = store.get_study(NAME)
        ran_on = store.trial_workers(study.id)
        assert len(store.trials(study.id)) == 8
    return {number: f"worker {worker.worker}" for number, worker in ran_on.items()}


def _bars(chart: Locator) -> dict[int, tuple[str, str]]:
    """{trial: (lane, state)} from the bars' aria-labels (the text labels carry them too)."""
    labels = chart.locator("[aria-label]").evaluate_all(
        "items => items.map(item => item.getAttribute('aria-label'))"
    )
    found: dict[int, tuple[str, str]] = {}
    for label in labels:
        match = _BAR.search(label)
        if match:
            found[int(match.group(1))] = (match.group(2), match.group(3))
    return found


def _check_timeline(page: Page, lanes_of: dict[int, str]) -> Locator:
    chart = page.locator("[data-testid='stVegaLiteChart']").filter(has_text="worker timeline")
    expect(chart).to_be_visible(timeout=30_000)
    settle(page)
    bars = _bars(chart)
    assert {number: lane for number, (lane, _) in bars.items()} == lanes_of
    assert {state for _, state in bars.values()} == {"complete"}
    # Two lanes, named on the axis where a reader sees them.
    assert sorted(set(lanes_of.values())) == ["worker 0", "worker 1"]
    for lane in ("worker 0", "worker 1"):
        expect(chart.get_by_text(lane, exact=True).first).to_be_visible()
    # The two lanes are apart: their bars' vertical centres differ by at least a lane's band.
    centres = {}
    for lane in ("worker 0", "worker 1"):
        box = chart.get_by_text(lane, exact=True).first.bounding_box()
        assert box is not None
        centres[lane] = box["y"] + box["height"] / 2
    assert abs(centres["worker 0"] - centres["worker 1"]) >= 20, centres
    return chart


def _page_is_clean(page: Page, where: str) -> None:
    assert page.locator("[data-testid='stException']").count() == 0, f"{where} shows an exception"
    no_red_error_box(page, where)
    assert_no_horizontal_overflow(page, where)


def test_live_and_compare_show_the_worker_timeline(
    shared_server: str, shared_store: Path, new_page: Callable[[], Page]
) -> None:
    lanes_of = _run_parallel_study(shared_store)
    page = new_page()
    # The home page first, so app.py's navigation is in place (see tests/test_browser.py).
    open_new_study(page, shared_server)
    expect(page.get_by_role("heading", name="New study")).to_be_visible(timeout=30_000)

    page.goto(f"{shared_server}/live?study={NAME}")
    _check_timeline(page, lanes_of)
    caption = page.get_by_text(re.compile(r"^One lane per worker.*busy: worker 0"))
    expect(caption).to_be_visible()
    shot(page, "parallel-1-live")
    _page_is_clean(page, "the live page of a parallel study")

    page.goto(f"{shared_server}/compare?study={NAME}")
    expect(page.get_by_role("heading", name="Workers")).to_be_visible(timeout=30_000)
    _check_timeline(page, lanes_of)
    shot(page, "parallel-2-compare")
    _page_is_clean(page, "the compare page of a parallel study")
