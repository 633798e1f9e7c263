"""Real browser: a CSV uploaded on New study at 1366 x 768, its target picked, the study
started, and its live curves read from what Vega drew (each SVG mark carries its tooltip as an
aria-label), checked against the store. Screenshots go to test-artifacts/tabular-*.png."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser_pages import (
    assert_no_horizontal_overflow,
    fill,
    no_red_error_box,
    open_new_study,
    rerun_settled,
    settle,
    shot,
)
from tests.test_tabular import breast_cancer_csv
from tuning_core.engine.storage import Store

pytestmark = [pytest.mark.browser, pytest.mark.keras]
pytest_plugins = ("tests.browser_fixtures",)
NAME = "csv-in-the-browser"


def _pick(page: Page, label: str, option: str) -> None:
    """Choose ``option`` in the Streamlit selectbox labelled ``label`` (typing filters it)."""
    box = page.get_by_role("combobox", name=label)
    box.click()
    box.fill(option)
    page.wait_for_timeout(400)
    page.keyboard.press("Enter")
    page.wait_for_timeout(600)
    # While the rerun that the choice starts is drawing, the old box can still be on the page
    # beside the new one (seen on a loaded machine): wait until one is left.
    expect(page.get_by_role("combobox", name=label)).to_have_count(1, timeout=30_000)
    expect(page.get_by_role("combobox", name=label)).to_be_visible()


def _curve_points(chart: Locator, metric: str) -> dict[tuple[int, int], float]:
    """{(trial, epoch): value} from the marks' aria-labels on one curves chart ("epoch: 3;
    val_accuracy: 0.956; …; trial: 0")."""
    points = {}
    for label in chart.locator("[aria-label]").evaluate_all(
        "items => items.map(item => item.getAttribute('aria-label'))"
    ):
        fields = dict(part.split(": ", 1) for part in label.split("; ") if ": " in part)
        if metric in fields and "trial" in fields and "epoch" in fields:
            points[(int(fields["trial"]), int(fields["epoch"]))] = float(fields[metric])
    return points


def test_a_csv_uploaded_in_the_browser_trains_live(
    shared_server: str, shared_store: Path, tmp_path: Path, new_page: Callable[[], Page]
) -> None:
    csv_path = breast_cancer_csv(tmp_path / "breast-cancer.csv")
    page = new_page()
    open_new_study(page, shared_server)
    expect(page.get_by_role("heading", name="New study")).to_be_visible(timeout=30_000)
    fill(page, "Study name", NAME)
    _pick(page, "Dataset", "Your data (CSV)")
    uploader = page.locator("[data-testid='stFileUploader']").filter(has_text="Your data (CSV)")
    uploader.locator("input[type='file']").set_input_files(str(csv_path))
    expect(page.get_by_text("Column to predict (target)")).to_be_visible(timeout=30_000)
    _pick(page, "Column to predict (target)", "diagnosis")
    expect(page.get_by_text(re.compile(r"binary classification \(inferred"))).to_be_visible(
        timeout=15_000
    )
    expect(page.get_by_text("class balance of diagnosis")).to_be_visible(timeout=15_000)
    fill(page, "Trials", "3")
    # Until the run the click starts has ended: settle() alone could return before that run
    # began, and the old Start button stands beside the new one while it runs (CI failed so).
    rerun_settled(page, page.get_by_text("random", exact=True).click)
    start = page.get_by_role("button", name="Start")
    expect(start).to_have_count(1, timeout=30_000)
    expect(start).to_be_enabled(timeout=30_000)
    no_red_error_box(page, "New study with a CSV")
    assert_no_horizontal_overflow(page, "New study with a CSV")
    shot(page, "tabular-1-new-study")
    start.click()

    expect(page.get_by_role("heading", name="Live study")).to_be_visible(timeout=30_000)
    expect(page.get_by_text(re.compile(r"status: finished"))).to_be_visible(timeout=240_000)
    expect(
        page.get_by_text(re.compile(r"^Data: binary classification of 'diagnosis'"))
    ).to_be_visible(timeout=15_000)
    expect(
        page.get_by_text(re.compile(r"Tuning for validation accuracy, higher is better"))
    ).to_be_visible()
    chart = page.locator("[data-testid='stVegaLiteChart']").filter(has_text="validation accuracy")
    expect(chart).to_be_visible(timeout=30_000)
    settle(page)
    shot(page, "tabular-2-live")
    assert_no_horizontal_overflow(page, "Live with a CSV study")
    drawn = _curve_points(chart, "val_accuracy")
    page.close()

    with Store(shared_store) as store:
        study = store.get_study(NAME)
        assert Path(study.spec.objective["dataset"]).parent.name == f"{shared_store.name}.uploads"
        assert study.spec.objective["target"] == "diagnosis"
        stored = {
            (number, epoch + 1): value
            for number, epoch, name, value in store.epoch_metrics(study.id)
            if name == "val_accuracy"
        }
    # Every trial's curve is drawn, and each point drawn is the value the worker stored.
    assert {trial for trial, _ in drawn} == {0, 1, 2}, drawn
    for key, value in drawn.items():
        assert value == pytest.approx(stored[key], abs=1e-3), key
