"""A study too big to draw every curve, held in part: its epochs counted in SQL, the rows of
only the trials drawn (read when a trial becomes drawn or gets new rows), its band over a
fixed sample of finished trials, said so; as a whole read would show it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from benchmarks.live_page import seed
from dashboard.epoch_rows import EpochRows, Reading, hashed_sample
from tests.test_pages import charts_on, open_page, shown
from tuning_core.engine.storage import Store
from tuning_core.views import curve_charts

DRAWN = frozenset({"loss", "val_accuracy"})
IN_PART = Reading(DRAWN, "loss", whole_up_to=5)
WHOLE = Reading(DRAWN, "loss", whole_up_to=10**9)


def _metrics(scale: float) -> dict[str, float]:
    return {"loss": scale, "accuracy": 1 - scale, "val_loss": 1.1 * scale, "val_accuracy": 0.5}


def _whole(store: Store, study_id: int) -> EpochRows:
    fresh = EpochRows()
    fresh.refresh(store, study_id, store.fingerprint(study_id), WHOLE)
    return fresh


def _keyed(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.sort_values(["number", "epoch", "metric"]).reset_index(drop=True)


def _check(part: EpochRows, store: Store, study_id: int) -> None:
    """Counts as a whole read's; every held trial's rows, and only theirs, as a whole read's."""
    whole = _whole(store, study_id)
    assert part.held is not None
    pd.testing.assert_series_equal(part.epochs_by_trial, whole.epochs_by_trial)
    expected = whole.rows[whole.rows["number"].isin(part.held)]
    if expected.empty:
        assert part.rows.empty
        return
    pd.testing.assert_frame_equal(_keyed(part.rows), _keyed(expected))
    assert not part.rows.duplicated(["number", "epoch", "metric"]).any()


def test_a_big_study_is_counted_in_sql_and_holds_whole_curves_of_the_trials_drawn(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.db"
    running = seed(path, trials=20, epochs=3)
    part = EpochRows()
    with Store(path) as store:
        study = store.get_study("big")
        # Two more running trials, two epochs each, before the first read.
        params = {"learning_rate": 0.01, "units": 64}
        started = [store.start_trial(study.id, number, params) for number in (20, 21)]
        for trial_id in started:
            for epoch in range(2):
                store.add_epoch_metrics(trial_id, epoch, _metrics(0.5 / (epoch + 1)))
        fingerprint = store.fingerprint(study.id)
        counts = dict(store.epoch_counts(study.id, "loss", fingerprint[4]))
        assert counts == {**{n: 3 for n in range(20)}, 20: 2, 21: 2}
        part.refresh(store, study.id, fingerprint, IN_PART)
        # Nothing read but the counts, and the metrics that have rows.
        assert part.held == frozenset() and part.rows.empty
        assert part.metrics == DRAWN
        _check(part, store, study.id)
        # A trial to draw gets its whole curve.
        part.hold(store, study.id, [2, 7, 19])
        assert part.held == {2, 7, 19} and len(part.rows) == 3 * 3 * 2
        _check(part, store, study.id)
        # New rows: a held trial's next epoch, a new trial's first, a trial not held
        # rewriting its last epoch and another going on: each read whole, counted once.
        new = store.start_trial(study.id, 22, params)
        store.add_epoch_metrics(running, 3, _metrics(0.3))
        store.add_epoch_metrics(new, 0, _metrics(0.9))
        store.add_epoch_metrics(started[0], 1, _metrics(0.05))
        store.add_epoch_metrics(started[1], 2, {"loss": 0.2, "val_accuracy": 0.7})
        part.refresh(store, study.id, store.fingerprint(study.id), IN_PART)
        assert part.touched == {19, 20, 21, 22} and part.held == {2, 7, 19, 20, 21, 22}
        _check(part, store, study.id)
        assert part.epochs_by_trial[20] == 2 and part.epochs_by_trial[21] == 3
        rewritten = part.rows.query("number == 20 and epoch == 1 and metric == 'loss'")
        assert rewritten["value"].tolist() == [0.05]
        # Appends after.
        store.add_epoch_metrics(running, 4, _metrics(0.2))
        part.refresh(store, study.id, store.fingerprint(study.id), IN_PART)
        _check(part, store, study.id)


def test_a_big_studys_band_is_drawn_over_a_fixed_sample_of_its_finished_trials(
    tmp_path: Path,
) -> None:
    path = tmp_path / "store.db"
    seed(path, trials=20, epochs=3)
    part, whole = EpochRows(), EpochRows()
    part.BAND_TRIALS = whole.BAND_TRIALS = 6
    finished = pd.Series(range(19))  # the seeded study's last trial runs
    with Store(path) as store:
        study = store.get_study("big")
        fingerprint = store.fingerprint(study.id)
        part.refresh(store, study.id, fingerprint, IN_PART)
        whole.refresh(store, study.id, fingerprint, WHOLE)
        sampled = part.band_trials(finished)
        assert sampled == hashed_sample(range(19), 6) and len(set(sampled)) == 6
        band = part.band("loss", finished, store, study.id)
        rows = whole.rows[whole.rows["number"].isin(sampled)]
        pd.testing.assert_frame_equal(band, curve_charts.band_frame(rows, "loss"))
        assert band["trials"].max() == 6
        # A study held whole draws its band over every finished trial, as before.
        assert whole.band_trials(finished) is None
        every = whole.band("loss", finished, store, study.id)
        assert every["trials"].max() == 19


def test_a_sampled_band_says_it_is_a_sample_of_the_finished_trials() -> None:
    sample = curve_charts.CurveSample(frozenset(range(300)), 10_000, 150)
    band = pd.DataFrame({"epoch": [1.0], "low": [0.1], "high": [0.9], "trials": [500]})
    title = curve_charts.sampled_title("loss", sample, band, 9_999).to_dict()
    assert title["subtitle"] == [
        "300 of 10,000 trials drawn",
        "grey band: 10th-90th percentile of a sample of 500 of 9,999 finished trials",
    ]
    assert "of a fixed sample of 500 of the 9,999 finished trials" in sample.sentence(500, 9_999)
    # Over all of them: as before.
    whole = curve_charts.sampled_title("loss", sample, band).to_dict()
    assert whole["subtitle"][1] == "grey band: 10th-90th percentile of all finished trials"
    assert "percentile of all 500 finished trials" in sample.sentence(500)


@pytest.mark.slow  # 560 seeded trials, four reruns of the page: ~4 s
def test_the_live_page_of_a_big_study_draws_whole_curves_over_a_stated_band_sample(
    storage: Path,
) -> None:
    trials = EpochRows.BAND_TRIALS + 60  # above the drawn cap and the band's sample
    running = seed(storage, trials=trials, epochs=2)
    at = open_page("pages/live.py", study="big")
    charts = charts_on(at)
    spec, rows = next((s, d) for s, d in charts if "loss" in str(s.get("title")))
    finished = trials - 1
    assert spec["title"]["subtitle"] == [
        f"300 of {trials} trials drawn",
        f"grey band: 10th-90th percentile of a sample of {EpochRows.BAND_TRIALS} of {finished} "
        "finished trials",
    ]
    captions = [shown(c.value) for c in at.caption]
    assert any(
        f"a fixed sample of {EpochRows.BAND_TRIALS} of the {finished} finished trials" in c
        for c in captions
    )
    assert any(
        c.startswith(f"{trials * 2:,} epochs recorded across {trials} trials") for c in captions
    )
    curves = rows[rows["kind"] == "curve"]
    # Every drawn trial has its whole curve (two epochs), the running one among them.
    assert curves.groupby("number").size().eq(2).all()
    assert (trials - 1) in set(curves["number"].astype(int))
    # A trial picked from outside the sample is drawn whole from then on.
    outside = min(set(range(trials)) - set(curves["number"].astype(int)))
    at.session_state["loss_chart"] = {"selection": {"trials": [{"number": outside}]}}
    at.run()
    _, rows = next((s, d) for s, d in charts_on(at) if "loss" in str(s.get("title")))
    picked = rows[(rows["kind"] == "curve") & (rows["number"] == outside)]
    assert sorted(picked["epoch"]) == [1.0, 2.0]
    # And a new epoch of the running trial shows on the next rerun.
    with Store(storage) as store:
        store.add_epoch_metrics(running, 2, _metrics(0.01))
    at.run()
    _, rows = next((s, d) for s, d in charts_on(at) if "loss" in str(s.get("title")))
    last = rows[(rows["kind"] == "curve") & (rows["number"] == trials - 1)]
    assert sorted(last["epoch"]) == [1.0, 2.0, 3.0]
    assert any(shown(c.value).startswith(f"{trials * 2 + 1:,} epochs") for c in at.caption)
