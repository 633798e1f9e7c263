"""Real browser: a study made through the Python API, opened on Live and Compare in Debian's
chromium at 1366 x 768. Nothing is started from the browser: the test makes the study with
tuning_core.create_study and optimize (a plain objective that reports each epoch's loss and
value, successive halving pruning some trials), then reads what Vega drew. Each point of a
curve carries its fields as an SVG aria-label, so the curves read back from the page are
compared with the epochs in the store. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

import tuning_core
from tests.browser_pages import (
    assert_no_horizontal_overflow,
    no_red_error_box,
    open_new_study,
    settle,
    shot,
)
from tuning_core.engine.states import TrialState
from tuning_core.engine.storage import Store

pytestmark = pytest.mark.browser
pytest_plugins = ("tests.browser_fixtures",)
NAME = "api-in-the-browser"
EPOCHS = 4


def objective(trial: tuning_core.Trial) -> float:
    """A curve that falls each epoch towards (x - 1)² / depth: distinct per trial."""
    x, depth = trial.params["x"], trial.params["depth"]
    value = 0.0
    for epoch in range(EPOCHS):
        value = (x - 1) ** 2 / depth + 1.0 / (epoch + 1)
        trial.report(epoch, {"loss": 2 * value, "value": value})
        if trial.should_prune():
            raise tuning_core.TrialPruned()
    return value


def _make_study(storage: Path) -> dict[str, dict[tuple[int, int], float]]:
    """Run the API study; returns each metric's {(trial, epoch from 1): value} in the store."""
    study = tuning_core.create_study(
        NAME,
        storage=storage,
        space={"x": (-3.0, 3.0), "depth": [1, 2]},
        strategy={"type": "random", "seed": 3},
        pruner="successive_halving",
        budget=9,
    )
    study.optimize(objective, epochs=EPOCHS, show_progress=False)
    stored: dict[str, dict[tuple[int, int], float]] = {"loss": {}, "value": {}}
    with Store(storage) as store:
        record = store.get_study(NAME)
        states = {t.state for t in store.trials(record.id)}
        for number, epoch, name, value in store.epoch_metrics(record.id):
            stored[name][(number, epoch + 1)] = value
    assert TrialState.PRUNED in states and TrialState.COMPLETE in states
    return stored


def _points(chart: Locator, metric: str) -> dict[tuple[int, int], float]:
    """The chart's curve points as Vega labelled them: {(trial, epoch): value of metric}."""
    points: dict[tuple[int, int], float] = {}
    labels = chart.locator("[aria-label]").evaluate_all(
        "items => items.map(item => item.getAttribute('aria-label'))"
    )
    for label in labels:
        fields = dict(
            part.split(": ", 1) for part in label.replace("\u2212", "-").split("; ") if ": " in part
        )
        if not {"trial", "epoch", metric} <= set(fields) or {"why it stopped", "label"} & set(
            fields
        ):
            # An axis, a legend, a pruned trial's scissors or the cut-off it missed, or a
            # line's end label (placed clear of the others, so not at the curve's value).
            continue
        key = (int(fields["trial"]), int(float(fields["epoch"])))
        value = float(fields[metric])
        assert points.setdefault(key, value) == pytest.approx(value, rel=1e-9), label
        points[key] = value
    return points


def _chart_with_y(page: Page, y_title: str) -> Locator:
    """The one chart whose y-axis has this title (Vega names it in the axis' aria-label)."""
    charts = page.locator("[data-testid='stVegaLiteChart']").filter(
        has=page.locator(f"[aria-label^=\"Y-axis titled '{y_title}'\"]")
    )
    expect(charts.first).to_be_visible(timeout=30_000)
    assert charts.count() == 1, f"{charts.count()} charts with a y-axis titled {y_title!r}"
    return charts.first


def _assert_same_curves(shown: dict, stored: dict, where: str) -> None:
    assert set(shown) == set(stored), f"{where}: {sorted(set(shown) ^ set(stored))}"
    for key, value in stored.items():
        assert shown[key] == pytest.approx(value, rel=1e-9), f"{where}: trial, epoch {key}"


def test_an_api_study_shows_its_curves_on_live_and_compare(
    shared_server: str, shared_store: Path, new_page: Callable[[], Page]
) -> None:
    stored = _make_study(shared_store)
    page = new_page()
    # The home page first, so app.py's navigation is in place (see tests/test_browser.py).
    open_new_study(page, shared_server)
    expect(page.get_by_role("heading", name="New study")).to_be_visible(timeout=30_000)

    page.goto(f"{shared_server}/live?study={NAME}")
    expect(page.get_by_text("9 of 9 trials")).to_be_visible(timeout=30_000)
    loss = _chart_with_y(page, "loss")
    value = _chart_with_y(page, "value")
    settle(page)
    _assert_same_curves(_points(loss, "loss"), stored["loss"], "Live, loss")
    _assert_same_curves(_points(value, "value"), stored["value"], "Live, value")
    shot(page, "api-study-1-live")
    assert page.locator("[data-testid='stException']").count() == 0
    no_red_error_box(page, "the live page of an API study")
    assert_no_horizontal_overflow(page, "the live page of an API study")

    page.goto(f"{shared_server}/compare?study={NAME}")
    expect(page.get_by_role("heading", name="Early stopping")).to_be_visible(timeout=30_000)
    curves = page.locator("[data-testid='stVegaLiteChart']").filter(
        has_text="value per epoch, pruned trials cut"
    )
    expect(curves).to_be_visible(timeout=30_000)
    settle(page)
    _assert_same_curves(_points(curves, "value"), stored["value"], "Compare, value")
    shot(page, "api-study-2-compare")
    assert page.locator("[data-testid='stException']").count() == 0
    no_red_error_box(page, "the compare page of an API study")
    assert_no_horizontal_overflow(page, "the compare page of an API study")
