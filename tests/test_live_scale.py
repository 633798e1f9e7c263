"""The Live and Compare pages at thousands of trials: incremental curve reads, a capped and
stated sample of curves over a percentile band, and a paged trial table; small studies as
before."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.live_page import seed
from dashboard.epoch_rows import EpochRows, Reading, reading
from tests.test_pages import charts_on, open_page
from tuning_core.engine.spec import StudySpec, parse_spec
from tuning_core.engine.states import TrialState
from tuning_core.engine.storage import Store
from tuning_core.views import curve_charts, live


def _trials(count: int, running: tuple[int, ...] = ()) -> pd.DataFrame:
    numbers = np.arange(count)
    return pd.DataFrame(
        {
            "number": numbers,
            "state": [
                TrialState.RUNNING.value if n in running else TrialState.COMPLETE.value
                for n in numbers
            ],
            "value": [np.nan if n in running else float((n * 37) % 1009) for n in numbers],
        }
    )


def _curves(trials: pd.DataFrame, epochs: int = 4) -> pd.DataFrame:
    rows = [
        (int(n), e, metric, float(n) / (e + 1), state, 10 ** (-4 + 3 * int(n) / len(trials)))
        for n, state in zip(trials["number"], trials["state"], strict=True)
        for e in range(epochs)
        for metric in ("loss", "val_accuracy")
    ]
    frame = pd.DataFrame(
        rows, columns=["number", "epoch", "metric", "value", "state", "learning_rate"]
    )
    return frame.assign(within_epoch=False)


def test_a_small_study_draws_every_trial_exactly_as_before() -> None:
    trials = _trials(8, running=(7,))
    sample = curve_charts.sample_trials(trials, "maximize", {7})
    assert sample.numbers is None and sample.shown == 8 and sample.sentence() == ""
    curves = _curves(trials)
    plain = curve_charts.curves_chart(curves, "loss", best_number=3).to_dict()
    with_sample = curve_charts.curves_chart(curves, "loss", best_number=3, sample=sample)
    assert with_sample.to_dict() == plain
    assert plain["title"] == "loss"  # no "N of M" on a chart that draws them all


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_a_large_study_draws_the_best_running_selected_and_a_stable_sample(
    direction: str,
) -> None:
    trials = _trials(1000, running=(998, 999))
    sample = curve_charts.sample_trials(trials, direction, {998, 999, 5}, cap=100)
    assert sample.total == 1000 and sample.shown == 100
    assert {998, 999, 5} <= sample.numbers
    complete = trials.dropna(subset=["value"])
    ordered = complete.sort_values("value", ascending=direction == "minimize")["number"]
    assert set(ordered.head(sample.best)) <= sample.numbers
    assert sample.best == int(100 * curve_charts.BEST_SHARE) - 3
    # Trials arriving later do not reshuffle the sample: a drawn trial stays drawn.
    more = curve_charts.sample_trials(_trials(1200), direction, {5}, cap=100)
    random_part = sample.numbers - set(ordered.head(sample.best)) - {998, 999, 5}
    later_random = more.numbers - set(ordered.head(more.best))
    assert len(random_part & later_random) > len(random_part) // 2
    assert f"Showing 100 of 1,000 trials: the {sample.best} best" in sample.sentence(998)
    assert "10th to 90th percentile of all 998 finished trials" in sample.sentence(998)


def test_the_band_is_each_epochs_percentiles_over_the_trials() -> None:
    trials = _trials(50)
    curves = _curves(trials)
    band = curve_charts.band_frame(curves, "loss")
    for _, row in band.iterrows():
        values = curves[(curves["metric"] == "loss") & (curves["epoch"] == row["epoch"] - 1)]
        low, high = curve_charts.BAND_QUANTILES
        assert row["low"] == pytest.approx(np.quantile(values["value"], low))
        assert row["high"] == pytest.approx(np.quantile(values["value"], high))
        assert row["trials"] == 50


def test_a_sampled_chart_says_how_many_it_draws_over_its_band() -> None:
    trials = _trials(400, running=(399,))
    curves = _curves(trials)
    sample = curve_charts.sample_trials(trials, "maximize", {399})
    band = curve_charts.band_frame(curves[curves["state"] != "running"], "loss")
    spec = curve_charts.curves_chart(curves, "loss", sample=sample, band=band).to_dict()
    assert spec["title"]["subtitle"] == [
        "300 of 400 trials drawn",
        "grey band: 10th-90th percentile of all finished trials",
    ]
    rows = pd.DataFrame(spec["datasets"][spec["data"]["name"]])
    drawn = set(rows.loc[rows["kind"] == "curve", "number"].astype(int))
    assert drawn == set(sample.numbers)
    assert (rows["kind"] == "band").sum() == len(band)
    area = spec["layer"][0]
    assert area["mark"]["type"] == "area" and area["encoding"]["y2"]["field"] == "high"
    assert "datum.kind == 'band'" in json.dumps(area["transform"])


def test_the_trial_table_pages_newest_first() -> None:
    trials = _trials(250)
    assert live.table_pages(250, 100) == 3 and live.table_pages(0) == 1
    assert live.table_page(trials, 1, 100)["number"].tolist() == list(range(249, 149, -1))
    assert live.table_page(trials, 3, 100)["number"].tolist() == list(range(49, -1, -1))
    assert live.table_page(trials, 9, 100)["number"].tolist() == list(range(49, -1, -1))
    assert live.table_page_caption(250, 2, 100) == "Trials 101-200 of 250, newest first."
    assert live.table_page_caption(80, 1, 100) == ""


def _all_rows(store: Store, study_id: int, metrics: frozenset[str] | None = None) -> set[tuple]:
    return {
        (n, e, m, v) for n, e, m, v in store.epoch_metrics(study_id) if not metrics or m in metrics
    }


def _as_set(rows: pd.DataFrame) -> set[tuple]:
    return {
        (int(n), int(e), m, float(v))
        for n, e, m, v in rows[["number", "epoch", "metric", "value"]].itertuples(index=False)
    }


EVERY = Reading(frozenset({"loss", "accuracy", "val_loss", "val_accuracy", "auc"}), "loss")


def test_epoch_rows_read_only_what_is_new_and_keep_a_rewritten_epochs_latest_value(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.db"
    running = seed(path, trials=6, epochs=3)
    holder = EpochRows()
    with Store(path) as store:
        study = store.get_study("big")
        holder.refresh(store, study.id, store.fingerprint(study.id), EVERY)
        assert _as_set(holder.rows) == _all_rows(store, study.id)
        assert holder.epochs_by_trial.to_dict() == {n: 3 for n in range(6)}
        first = holder.last_rowid
        store.add_epoch_metrics(running, 3, {"loss": 0.1, "accuracy": 0.9, "val_loss": 0.2,
                                             "val_accuracy": 0.8})  # fmt: skip
        holder.refresh(store, study.id, store.fingerprint(study.id), EVERY)
        assert holder.last_rowid > first and holder.touched == {5}
        assert len(holder.rows) == 6 * 3 * 4 + 4
        assert holder.epochs_by_trial[5] == 4 and holder.epochs_by_trial[0] == 3
        # INSERT OR REPLACE gives the rewritten epoch a new rowid: one row, the new value.
        store.add_epoch_metrics(running, 3, {"loss": 0.05, "accuracy": 0.95, "val_loss": 0.1,
                                             "val_accuracy": 0.85})  # fmt: skip
        holder.refresh(store, study.id, store.fingerprint(study.id), EVERY)
        assert _as_set(holder.rows) == _all_rows(store, study.id)
        assert holder.epochs_by_trial[5] == 4
        # A metric asked for that had no rows yet: its first rows are read, nothing missed.
        assert "auc" not in holder.metrics
        store.add_epoch_metrics(running, 4, {"loss": 0.04, "auc": 0.9})
        holder.refresh(store, study.id, store.fingerprint(study.id), EVERY)
        assert _as_set(holder.rows) == _all_rows(store, study.id)
        assert "auc" in holder.metrics
        # Nothing new: nothing changes.
        before = holder.rows
        holder.refresh(store, study.id, store.fingerprint(study.id), EVERY)
        assert holder.rows is before and holder.touched == frozenset()


def test_epoch_rows_hold_only_the_metrics_asked_for_and_stop_at_the_fingerprint(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.db"
    running = seed(path, trials=6, epochs=3)
    drawn = Reading(frozenset({"loss", "val_accuracy"}), "loss")
    holder, every = EpochRows(), EpochRows()
    with Store(path) as store:
        study = store.get_study("big")
        fingerprint = store.fingerprint(study.id)
        holder.refresh(store, study.id, fingerprint, drawn)
        every.refresh(store, study.id, fingerprint, EVERY)
        assert holder.metrics == drawn.metrics
        assert _as_set(holder.rows) == _all_rows(store, study.id, drawn.metrics)
        pd.testing.assert_series_equal(holder.epochs_by_trial, every.epochs_by_trial)
        # Rows written after the fingerprint wait for the next one: none is skipped, whichever
        # metric was read first (the newest rowid is the last metric's).
        before = store.fingerprint(study.id)
        store.add_epoch_metrics(running, 3, {"loss": 0.1, "val_accuracy": 0.8, "val_loss": 0.2})
        holder.refresh(store, study.id, before, drawn)
        assert holder.last_rowid == fingerprint[4] and holder.touched == frozenset()
        store.add_epoch_metrics(running, 4, {"val_accuracy": 0.85, "loss": 0.05})
        holder.refresh(store, study.id, store.fingerprint(study.id), drawn)
        assert _as_set(holder.rows) == _all_rows(store, study.id, drawn.metrics)
        assert holder.epochs_by_trial[5] == 5 and holder.touched == {5}
        # Other metrics asked for: read again from the start.
        holder.refresh(store, study.id, store.fingerprint(study.id), EVERY)
        assert _as_set(holder.rows) == _all_rows(store, study.id)


def _spec(objective: dict, names: tuple[str, ...]) -> StudySpec:
    return parse_spec(
        {
            "name": "s",
            "objective": objective,
            "space": {name: {"type": "float", "low": 0.01, "high": 1.0} for name in names},
            "strategy": {"type": "random"},
            "budget": {"trials": 3},
        }
    )


def test_the_pages_read_the_loss_the_studys_metric_and_the_chart_beside_the_loss() -> None:
    keras = {"type": "keras", "dataset": "digits", "model": "mlp", "epochs": 3}
    on_accuracy = _spec(keras, ("learning_rate",))
    assert reading(on_accuracy) == Reading(frozenset({"loss", "val_accuracy"}), "loss")
    # Tuned for the loss: the accuracy is drawn beside it.
    on_loss = _spec({**keras, "metric": "loss"}, ("learning_rate",))
    assert reading(on_loss).metrics == {"loss", "val_accuracy"}
    on_val_loss = _spec({**keras, "metric": "val_loss"}, ("learning_rate",))
    assert reading(on_val_loss).metrics == {"loss", "val_loss"}
    # A function reports its metric every epoch: its epochs are counted by it.
    function = _spec({"type": "function", "name": "branin", "epochs": 5}, ("x1", "x2"))
    assert reading(function) == Reading(frozenset({"loss", function.metric}), function.metric)
    # Whatever the metrics recorded, each page's charts draw only metrics read.
    for spec in (on_accuracy, function):
        panels = live.curve_panels(
            spec, {"loss", "accuracy", "val_loss", "val_accuracy", spec.metric}
        )
        assert {panel.metric for panel in panels} <= reading(spec).metrics


@pytest.mark.slow  # hundreds of seeded trials on two pages, ~2.5 s
def test_live_and_compare_at_hundreds_of_trials_draw_a_stated_sample_and_page_the_table(
    storage: Path,
) -> None:
    running = seed(storage, trials=420, epochs=3)
    at = open_page("pages/live.py", study="big")
    charts = charts_on(at)
    loss_spec, loss_rows = next((s, d) for s, d in charts if "loss" in str(s.get("title")))
    assert loss_spec["title"]["subtitle"][0] == "300 of 420 trials drawn"
    drawn = set(loss_rows.loc[loss_rows["kind"] == "curve", "number"].astype(int))
    assert len(drawn) == 300 and 419 in drawn  # the running trial is always drawn
    assert (loss_rows["kind"] == "band").sum() == 3
    assert any("Showing 300 of 420 trials" in c.value for c in at.caption)
    table = at.dataframe[0].value
    assert len(table) == live.TABLE_PAGE_SIZE and table["number"].iloc[0] == 419
    assert any("Trials 1-100 of 420, newest first." in c.value for c in at.caption)
    at.number_input(key="table_page").set_value(5).run()
    assert at.dataframe[0].value["number"].tolist() == list(range(19, -1, -1))
    # A click picks a trial out of the sample: it is drawn from then on.
    outside = min(set(range(420)) - drawn)
    at.session_state["loss_chart"] = {"selection": {"trials": [{"number": outside}]}}
    at.run()
    _, rows = next((s, d) for s, d in charts_on(at) if "loss" in str(s.get("title")))
    assert outside in set(rows["number"].dropna().astype(int))
    # A new epoch of the running trial shows on the next rerun.
    with Store(storage) as store:
        store.add_epoch_metrics(running, 3, {"loss": 0.01, "accuracy": 0.99, "val_loss": 0.02,
                                             "val_accuracy": 0.98})  # fmt: skip
    at.run()
    _, rows = next((s, d) for s, d in charts_on(at) if "loss" in str(s.get("title")))
    last = rows[(rows["kind"] == "curve") & (rows["number"] == 419)]
    assert last["epoch"].max() == 4 and last["value"].min() == pytest.approx(0.01)
    assert any(c.value.startswith(f"{420 * 3 + 1:,} epochs recorded") for c in at.caption)

    compare = open_page("pages/compare.py", study="big")
    linked = next(s for s, _ in charts_on(compare) if "vconcat" in s)
    assert linked["vconcat"][0]["title"]["subtitle"].startswith("300 of 420 trials drawn")
    assert linked["vconcat"][1]["title"]["subtitle"].startswith("300 of 420 trials drawn")
    assert any("Showing 300 of 420 trials" in c.value for c in compare.caption)
