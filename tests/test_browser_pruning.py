"""Real browser: a pruned study's Live and Compare pages in Debian's chromium at 1366 x 768.

Runs a real successive-halving study (Branin with 9 epochs of fidelity, under a second), then
reads what Vega drew: its SVG marks carry their tooltip as an aria-label, so the test finds the
scissors of each pruned trial and the cut-off it missed, and the visible "pruned at epoch"
labels and the epochs-saved line. Screenshots go to test-artifacts/. Never skips: CI installs
chromium first.
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
from tests.conftest import branin_spec
from tuning_core.engine.objectives import function_objective
from tuning_core.engine.spec import parse_spec
from tuning_core.engine.states import TrialState
from tuning_core.engine.storage import Store
from tuning_core.engine.study import run_study
from tuning_core.reports import frames

pytestmark = pytest.mark.browser
pytest_plugins = ("tests.browser_fixtures",)
EPOCHS = 9
NAME = "pruned-in-the-browser"


def _run_pruned_study(storage: Path) -> tuple[dict[int, tuple[int, float]], str]:
    """Run the study; returns {pruned trial: (epoch counted from 1, cut-off)} and the
    epochs-saved sentence the pages must show."""
    raw = branin_spec(NAME, {"type": "random", "seed": 1}, 15, epochs=EPOCHS)
    raw["pruner"] = {"type": "successive_halving"}
    spec = parse_spec(raw)
    with Store(storage) as store:
        run_study(spec, store, function_objective("branin", 0, EPOCHS), log=lambda _: None)
        study = store.get_study(NAME)
        records = store.trials(study.id)
        decisions = store.prune_decisions(study.id)
        trials = frames.trials_frame(records, spec)
        curves = frames.curves_frame(store.epoch_metrics(study.id), trials)
    assert {t.number for t in records if t.state == TrialState.PRUNED} == {
        d.trial_number for d in decisions
    }
    assert decisions, "the study must prune some trials"
    saved = frames.epochs_saved(spec, trials, curves)
    assert saved is not None
    return {d.trial_number: (d.epoch + 1, d.cutoff) for d in decisions}, saved.sentence()


def _mark_labels(chart: Locator, needle: str) -> list[str]:
    """The aria-labels (Vega writes each mark's tooltip there) that contain ``needle``."""
    return [
        label
        for label in chart.locator("[aria-label]").evaluate_all(
            "items => items.map(item => item.getAttribute('aria-label'))"
        )
        if needle in label
    ]


def _check_pruned_chart(chart: Locator, pruned: dict[int, tuple[int, float]]) -> None:
    # Both marks give the pruner's sentence; only the cut-off's tooltip has a "cut-off" field.
    cutoffs = _mark_labels(chart, "; cut-off: ")
    scissors = [
        label
        for label in _mark_labels(chart, "why it stopped: pruned at epoch")
        if label not in cutoffs
    ]
    numbers = sorted(int(re.search(r"trial: (\d+)", label).group(1)) for label in cutoffs)
    assert numbers == sorted(pruned), cutoffs
    # Trials cut at one rung close together share one pair of scissors that counts them.
    counts = [
        int(re.search(r"pruned trials at this mark: (\d+)", label).group(1)) for label in scissors
    ]
    assert sum(counts) == len(pruned), scissors
    assert {int(re.search(r"trial: (\d+)", label).group(1)) for label in scissors} <= set(pruned)
    for label in scissors:
        number = int(re.search(r"trial: (\d+)", label).group(1))
        assert f"why it stopped: pruned at epoch {pruned[number][0]}:" in label
    for label in cutoffs:
        number = int(re.search(r"trial: (\d+)", label).group(1))
        shown = float(re.search(r"; cut-off: ([-\d.e+]+)", label).group(1))
        assert shown == pytest.approx(pruned[number][1], rel=1e-3)
    # The label a student reads, drawn on the chart.
    expect(chart.get_by_text(re.compile(r"pruned at epoch \d")).first).to_be_visible()


def _page_is_clean(page: Page, where: str) -> None:
    assert page.locator("[data-testid='stException']").count() == 0, f"{where} shows an exception"
    no_red_error_box(page, where)
    assert_no_horizontal_overflow(page, where)


def test_live_and_compare_show_the_pruned_curves(
    shared_server: str, shared_store: Path, new_page: Callable[[], Page]
) -> None:
    pruned, saved_sentence = _run_pruned_study(shared_store)
    page = new_page()
    # The home page first, so app.py's navigation is in place (see tests/test_browser.py).
    open_new_study(page, shared_server)
    expect(page.get_by_role("heading", name="New study")).to_be_visible(timeout=30_000)

    page.goto(f"{shared_server}/live?study={NAME}")
    expect(page.get_by_text(saved_sentence)).to_be_visible(timeout=30_000)
    chart = page.locator("[data-testid='stVegaLiteChart']").filter(has_text="value per epoch")
    expect(chart).to_be_visible(timeout=30_000)
    settle(page)
    _check_pruned_chart(chart, pruned)
    expect(page.get_by_text(re.compile(r"orange scissors were pruned"))).to_be_visible()
    shot(page, "pruning-1-live")
    _page_is_clean(page, "the live page of a pruned study")

    page.goto(f"{shared_server}/compare?study={NAME}")
    expect(page.get_by_role("heading", name="Early stopping")).to_be_visible(timeout=30_000)
    expect(page.get_by_text(saved_sentence)).to_be_visible()
    chart = page.locator("[data-testid='stVegaLiteChart']").filter(has_text="pruned trials cut")
    expect(chart).to_be_visible(timeout=30_000)
    settle(page)
    _check_pruned_chart(chart, pruned)
    shot(page, "pruning-2-compare")
    _page_is_clean(page, "the compare page of a pruned study")
