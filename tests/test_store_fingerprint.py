"""A study's fingerprint names its own newest epoch and in-epoch loss rows, wherever they sit
in the tables: among the last rows written (the quick look) or long before another study's;
and the epoch rows it reads come back as plain tuples."""

from __future__ import annotations

import pytest

from tests.conftest import branin_spec
from tuning_core.engine.spec import parse_spec
from tuning_core.engine.storage import MEMORY, Store

EPOCH = {"loss": 1.0, "val_loss": 2.0}


def _newest(store: Store, table: str, study_id: int) -> int | None:
    """The study's newest rowid of ``table``, by the plain join over all of its rows."""
    return store.connection.execute(
        f"SELECT max(m.rowid) FROM {table} m JOIN trials t ON t.id = m.trial_id "
        "WHERE t.study_id = ?",
        (study_id,),
    ).fetchone()[0]


def _fill(store: Store, study_id: int, trials: int, epochs: int) -> list[int]:
    ids = []
    for number in range(trials):
        trial_id = store.start_trial(study_id, number, {"x1": 0.0, "x2": 0.0})
        for epoch in range(epochs):
            store.add_epoch_metrics(trial_id, epoch, EPOCH)
            store.add_batch_losses(trial_id, [(epoch + 0.5, 1.0)])
        ids.append(trial_id)
    return ids


@pytest.mark.parametrize("recent_rows", [3, 10_000])
def test_the_fingerprint_names_each_studys_own_newest_rows(recent_rows: int) -> None:
    with Store(MEMORY) as store:
        store._RECENT_ROWS = recent_rows  # a short look-back makes the full read run too
        old = store.create_study(parse_spec(branin_spec("old")))
        new = store.create_study(parse_spec(branin_spec("new")))
        empty = store.create_study(parse_spec(branin_spec("empty")))
        old_trials = _fill(store, old, 3, 4)
        _fill(store, new, 3, 4)
        for study in (old, new, empty):
            fingerprint = store.fingerprint(study)
            assert fingerprint[4] == _newest(store, "epoch_metrics", study)
            assert fingerprint[5] == _newest(store, "batch_losses", study)
        assert store.fingerprint(empty)[4:] == (None, None)
        assert store.fingerprint(old)[4] < store.fingerprint(new)[4]
        # A rewritten epoch of the old study comes back with the newest rowid of all.
        before = store.fingerprint(old)
        store.add_epoch_metrics(old_trials[0], 1, {"loss": 0.5})
        after = store.fingerprint(old)
        assert after[4] > before[4] and after[4] == _newest(store, "epoch_metrics", old)
        assert after[4] > store.fingerprint(new)[4]
        assert after[:4] == before[:4]


def test_the_fingerprint_of_a_missing_study_is_empty() -> None:
    with Store(MEMORY) as store:
        assert store.fingerprint(42) == ()


def test_epoch_rows_come_back_as_plain_tuples_of_the_stored_values() -> None:
    with Store(MEMORY) as store:
        study = store.create_study(parse_spec(branin_spec("rows")))
        _fill(store, study, 2, 2)
        every = store.epoch_metrics(study)
        assert every == [
            (number, epoch, name, value)
            for number in range(2)
            for epoch in range(2)
            for name, value in sorted(EPOCH.items())
        ]
        after = store.metric_rows_after(study, "loss", 0)
        assert [row[1:] for row in after] == [(n, e, 1.0) for n in range(2) for e in range(2)]
        newer = store.metric_rows_after(study, "loss", after[1][0])
        assert newer == after[2:]
        assert all(type(row) is tuple for row in (*every, *after, *newer))
