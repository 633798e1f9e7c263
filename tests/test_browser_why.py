"""Real browser: the "Why this point?" page in Debian's chromium at 1366 x 768.

Runs a Bayesian study on Branin (gp_hedge, 15 trials, under 5 s), opens the page, steps the
trial slider back with the keyboard and checks that the drawn chart changes with it; then the
1-D view of one hyperparameter, an initial random trial, and Compare's convergence chart with
the initial random trials marked. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser_pages import (
    assert_no_horizontal_overflow,
    no_red_error_box,
    open_new_study,
    settle,
    shot,
)
from tests.conftest import branin_spec
from tuning_core.engine.objectives import function_objective
from tuning_core.engine.spec import parse_spec
from tuning_core.engine.storage import Store
from tuning_core.engine.study import run_study

pytestmark = pytest.mark.browser
pytest_plugins = ("tests.browser_fixtures",)
NAME = "why-in-the-browser"
TRIALS = 15


def _drawn(page: Page) -> str:
    """What Vega drew, once drawn: the chart's SVG, marks and labels included, the same in two
    reads a quarter of a second apart (a redraw under way would differ)."""
    chart = page.locator("[data-testid='stVegaLiteChart']").first
    expect(chart).to_be_visible(timeout=30_000)
    settle(page)
    drawn = chart.inner_html()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        page.wait_for_timeout(250)
        again, drawn = drawn, chart.inner_html()
        if again == drawn:
            break
    return drawn


def _clean(page: Page, where: str) -> None:
    assert page.locator("[data-testid='stException']").count() == 0, f"{where} shows an exception"
    no_red_error_box(page, where)
    assert_no_horizontal_overflow(page, where)


def test_the_why_page_steps_through_the_trials(
    shared_server: str, shared_store: Path, new_page: Callable[[], Page]
) -> None:
    raw = branin_spec(
        NAME,
        {"type": "bayesian", "acquisition": "gp_hedge", "initial_points": 5, "seed": 0},
        TRIALS,
    )
    with Store(shared_store) as store:
        run_study(parse_spec(raw), store, function_objective("branin"), log=lambda _: None)
    page = new_page()
    # The home page first, so app.py's navigation is in place (see tests/test_browser.py).
    open_new_study(page, shared_server)
    expect(page.get_by_role("heading", name="New study")).to_be_visible(timeout=30_000)

    page.goto(f"{shared_server}/why?study={NAME}")
    expect(page.get_by_role("heading", name="Why this point?")).to_be_visible(timeout=30_000)
    expect(page.get_by_text(f"Trial {TRIALS - 1} (")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("true value")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^gp_hedge chose"))).to_be_visible()
    latest = _drawn(page)
    # The 2-D panels fill the width: two to a row, together nearly the main column's width
    # (they were 270 px each, fixed, leaving a third of the page empty).
    widths = page.evaluate(
        """() => {
            const main = document.querySelector("[data-testid='stMainBlockContainer']");
            const style = getComputedStyle(main);
            return [
            main.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight),
            ...[...document.querySelectorAll("[data-testid='stVegaLiteChart'] svg.marks")]
                .map(svg => svg.getBoundingClientRect().width)];
        }"""
    )
    main, panels = widths[0], widths[1:]
    assert len(panels) == 4 and panels[0] + panels[1] >= 0.9 * main, widths
    shot(page, "why-1-branin-2d")
    _clean(page, "the why page in 2-D")

    page.get_by_role("slider").first.focus()
    page.keyboard.press("ArrowLeft")
    expect(page.get_by_text(f"Trial {TRIALS - 2} (")).to_be_visible(timeout=30_000)
    earlier = _drawn(page)
    assert earlier != latest, "the chart did not change with the slider"

    page.goto(f"{shared_server}/why?study={NAME}&dims=x1")
    expect(page.get_by_text("how promising each value looked")).to_be_visible(timeout=30_000)
    one_d = _drawn(page)
    page.get_by_role("slider").first.focus()
    page.keyboard.press("ArrowLeft")
    expect(page.get_by_text(f"Trial {TRIALS - 2} (")).to_be_visible(timeout=30_000)
    assert _drawn(page) != one_d
    shot(page, "why-2-branin-1d")
    _clean(page, "the why page in 1-D")

    page.get_by_role("slider").first.focus()
    page.keyboard.press("Home")
    expect(page.get_by_text(re.compile(r"^Trial 0 .* was an initial random point"))).to_be_visible(
        timeout=30_000
    )
    expect(page.locator("[data-testid='stVegaLiteChart']")).to_have_count(0)

    page.goto(f"{shared_server}/compare?study={NAME}")
    expect(page.get_by_text(re.compile(r"Grey triangles are"))).to_be_visible(timeout=30_000)
    expect(page.get_by_text("initial random").first).to_be_visible()
    shot(page, "why-3-compare-initial-points")
    _clean(page, "the compare page of a Bayesian study")
