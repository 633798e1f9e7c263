"""Real browser: a two-metric study's Pareto front on Live, read from Vega's SVG at 1366 x 768.

Seeds a store with a two-metric study (val_accuracy against train_seconds) through the Store
API, opens Live in Debian's chromium and reads what Vega drew: each point's tooltip is its
aria-label, so the trials drawn as on the front (and as dominated) are read back and held to
engine.pareto's front of the seeded values; the front's line is read from its path, whose
corners must be the front points in order, joined by a staircase. Clicking a front point
rings it, names it and picks out its curves. Screenshots go to test-artifacts/.
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
from tests.test_pareto_pages import expected_front, seed_multi_metric

pytestmark = pytest.mark.browser
pytest_plugins = ("tests.browser_fixtures",)
NAME = "two-metrics"
PIXELS = 0.6  # Vega rounds path coordinates to 3 decimals; a point's transform is exact


def _labels(chart: Locator, needle: str) -> list[str]:
    """The aria-labels (Vega writes each mark's tooltip there) that contain ``needle``."""
    return [
        label
        for label in chart.locator("[aria-label]").evaluate_all(
            "items => items.map(item => item.getAttribute('aria-label'))"
        )
        if needle in label
    ]


def _numbers(labels: list[str]) -> set[int]:
    return {int(re.search(r"trial: (\d+)", label).group(1)) for label in labels}


def _point_centres(chart: Locator) -> dict[int, tuple[float, float]]:
    """Each front point's centre in the plot's coordinates, by trial number."""
    found = chart.locator("path[aria-roledescription='point'][aria-label*='on the front']")
    centres = {}
    for label, transform in found.evaluate_all(
        "ps => ps.map(p => [p.getAttribute('aria-label'), p.getAttribute('transform')])"
    ):
        x, y = map(float, re.fullmatch(r"translate\(([-\d.e]+),([-\d.e]+)\)", transform).groups())
        centres.setdefault(int(re.search(r"trial: (\d+)", label).group(1)), (x, y))
    return centres


def _line_corners(chart: Locator) -> list[tuple[float, float]]:
    """The corners of the front's line, in drawing order (an M then L commands)."""
    d = chart.locator("path[aria-roledescription='line mark']").get_attribute("d")
    assert re.fullmatch(r"M[-\d.e,]+(L[-\d.e,]+)*", d), d
    return [
        tuple(map(float, pair.split(","))) for pair in re.findall(r"[ML]([-\d.e]+,[-\d.e]+)", d)
    ]


def test_live_draws_the_front_engine_pareto_computes(
    shared_server: str, shared_store: Path, new_page: Callable[[], Page]
) -> None:
    seeded = seed_multi_metric(shared_store, NAME)
    front = expected_front(seeded)
    assert 2 < len(front) < len(seeded), "the seeded values must trade off"
    page = new_page()
    open_new_study(page, shared_server)  # the landing page first: app.py's navigation
    expect(page.get_by_role("heading", name="New study")).to_be_visible(timeout=30_000)
    page.goto(f"{shared_server}/live?study={NAME}")
    sentence = f"{len(front)} of {len(seeded)} complete trials are on the front"
    expect(page.get_by_text(sentence)).to_be_visible(timeout=30_000)
    chart = page.locator("[data-testid='stVegaLiteChart']").filter(has_text="Pareto front")
    expect(chart).to_be_visible(timeout=30_000)
    settle(page)

    # The points: the front's trials strong, every other complete trial dominated.
    on_front = _numbers(_labels(chart, "Pareto: on the front"))
    dominated = _numbers(_labels(chart, "Pareto: dominated"))
    assert sorted(on_front) == front
    assert dominated == set(seeded) - set(front)
    # The line: its corners at the front points, by train_seconds, joined by steps.
    centres = _point_centres(chart)
    order = sorted(front, key=lambda n: seeded[n]["train_seconds"])
    corners = _line_corners(chart)
    assert len(corners) == 2 * len(front) - 1, corners
    for corner, number in zip(corners[::2], order, strict=True):
        assert corner == pytest.approx(centres[number], abs=PIXELS), number
    for (x0, y0), (x1, y1) in zip(corners, corners[1:], strict=False):
        assert abs(x0 - x1) < PIXELS or abs(y0 - y1) < PIXELS  # level, then up: a step
    shot(page, "pareto_live_front")

    # A click on a front point: it is ringed, named, and its curves picked out.
    picked = order[1]
    point = chart.locator(
        f"path[aria-roledescription='point'][aria-label*='trial: {picked};']"
    ).first
    point.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    box = point.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page.get_by_text(f"Trial {picked} (on the front)")).to_be_visible(timeout=30_000)
    settle(page)
    rings = chart.locator("path[aria-roledescription='point'][stroke='#000000']")
    assert rings.count() == 1
    assert f"trial: {picked};" in rings.first.get_attribute("aria-label")
    shot(page, "pareto_live_clicked")
    # Its curves are the solid ones: every other trial's line is faded.
    accuracy = page.locator("[data-testid='stVegaLiteChart']").filter(
        has_text="validation accuracy"
    )
    opacity = {
        int(re.search(r"trial: (\d+)", label).group(1)): float(shown or 1)
        for label, shown in accuracy.locator("path[aria-roledescription='line mark']").evaluate_all(
            "ps => ps.map(p => [p.getAttribute('aria-label'), p.getAttribute('opacity')])"
        )
    }
    assert opacity[picked] == 1.0
    assert all(value < 0.5 for number, value in opacity.items() if number != picked), opacity
    assert page.locator("[data-testid='stException']").count() == 0
    no_red_error_box(page, "Live with a Pareto front")
    assert_no_horizontal_overflow(page, "Live with a Pareto front")
