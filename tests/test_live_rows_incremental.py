"""EpochRows read incrementally (new epochs appended, a rewritten epoch replaced, the trial
index rebuilt) hold exactly what a fresh read of the whole study holds."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from benchmarks.live_page import seed
from dashboard.epoch_rows import EpochRows, Reading
from tuning_core.engine.storage import Store


def _metrics(epoch: int, scale: float) -> dict[str, float]:
    return {
        "loss": scale / (epoch + 1),
        "accuracy": 1 - scale / (epoch + 2),
        "val_loss": 1.1 * scale / (epoch + 1),
        "val_accuracy": 1 - 1.1 * scale / (epoch + 2),
    }


def _keyed(rows: pd.DataFrame) -> pd.DataFrame:
    return rows.sort_values(["number", "epoch", "metric"]).reset_index(drop=True)


# Every metric the seeded study logs: a fresh read of all of them is the reference.
EVERY = Reading(frozenset({"loss", "accuracy", "val_loss", "val_accuracy"}), "loss")


def _check(holder: EpochRows, store: Store, study_id: int) -> None:
    fresh = EpochRows()
    fresh.refresh(store, study_id, store.fingerprint(study_id), EVERY)
    rows = holder.rows
    assert not rows.duplicated(["number", "epoch", "metric"]).any()
    pd.testing.assert_frame_equal(_keyed(rows), _keyed(fresh.rows))
    pd.testing.assert_series_equal(holder.epochs_by_trial, fresh.epochs_by_trial)
    assert holder.metrics == fresh.metrics
    # The trial index takes the same rows, in the same order, as a filter over every row.
    for numbers in ([0], [3, 11, 12], list(range(20)), [], [999]):
        expected = rows[rows["number"].isin(numbers)].reset_index(drop=True)
        pd.testing.assert_frame_equal(holder.view.of(numbers).reset_index(drop=True), expected)


@pytest.mark.parametrize("reindex_after", [1, 10_000])
def test_incremental_rows_match_a_fresh_read_after_appends_and_rewrites(
    tmp_path: Path, reindex_after: int
) -> None:
    path = tmp_path / "store.db"
    running = seed(path, trials=12, epochs=3)
    holder = EpochRows()
    holder.REINDEX_AFTER = reindex_after  # 1: the index is rebuilt on every append
    with Store(path) as store:
        study = store.get_study("big")
        holder.refresh(store, study.id, store.fingerprint(study.id), EVERY)
        _check(holder, store, study.id)
        params = {"learning_rate": 0.01, "units": 64}
        started = [store.start_trial(study.id, number, params) for number in (12, 13)]
        for epoch in range(3, 7):
            # The running trial's next epoch; the new trials' first epochs (one a step behind).
            store.add_epoch_metrics(running, epoch, _metrics(epoch, 2.0))
            store.add_epoch_metrics(started[0], epoch - 3, _metrics(epoch - 3, 1.5))
            if epoch > 3:
                store.add_epoch_metrics(started[1], epoch - 4, _metrics(epoch - 4, 1.2))
            holder.refresh(store, study.id, store.fingerprint(study.id), EVERY)
            assert holder.touched == ({11, 12, 13} if epoch > 3 else {11, 12})
            _check(holder, store, study.id)
        # A rewritten last epoch alone; then one metric of an earlier epoch, beside a new epoch.
        store.add_epoch_metrics(running, 6, _metrics(6, 0.5))
        holder.refresh(store, study.id, store.fingerprint(study.id), EVERY)
        _check(holder, store, study.id)
        store.add_epoch_metrics(started[0], 1, {"val_loss": 0.01})
        store.add_epoch_metrics(started[1], 3, _metrics(3, 0.9))
        holder.refresh(store, study.id, store.fingerprint(study.id), EVERY)
        _check(holder, store, study.id)
        assert holder.epochs_by_trial[11] == 7 and holder.epochs_by_trial[13] == 4
        last = holder.rows.query("number == 11 and epoch == 6 and metric == 'loss'")
        assert last["value"].tolist() == [pytest.approx(0.5 / 7)]
        # And appends after the rewrite.
        store.add_epoch_metrics(running, 7, _metrics(7, 0.4))
        holder.refresh(store, study.id, store.fingerprint(study.id), EVERY)
        _check(holder, store, study.id)
