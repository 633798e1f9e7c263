"""The dashboard's read model: one per run, the store opened at most once, lazily.

Connections are counted from Python's own ``sqlite3.connect`` audit event, so what is counted
is what SQLite was asked, whichever module asked it.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from benchmarks.live_page import seed
from dashboard.read_model import ReadModel
from tests.test_pages import open_page
from tuning_core.engine.storage import Store

_counting: list[tuple[str, list[str]]] = []


def _count_connects(event: str, args: tuple) -> None:
    if event == "sqlite3.connect" and _counting:
        for path, found in _counting:
            if path in str(args[0]):
                found.append(str(args[0]))


sys.addaudithook(_count_connects)  # a hook stays for the process; it counts only when asked


@contextlib.contextmanager
def connects_to(path: Path) -> Iterator[list[str]]:
    """The connections opened to the store at ``path`` inside the block."""
    found: list[str] = []
    _counting.append((str(path), found))
    try:
        yield found
    finally:
        _counting.remove((str(path), found))


def _add_epoch(path: Path, trial_id: int, epoch: int) -> None:
    with Store(path) as store:
        store.add_epoch_metrics(
            trial_id, epoch, {"loss": 0.1, "accuracy": 0.9, "val_loss": 0.2, "val_accuracy": 0.8}
        )


def test_a_read_model_opens_nothing_until_asked_and_creates_no_store(tmp_path: Path) -> None:
    path = tmp_path / "none.db"
    with connects_to(path) as opened, ReadModel(str(path)) as reads:
        assert reads.studies() == [] and reads.summaries() == []
        assert reads.study("big") is None and reads.race_names() == []
    assert opened == [] and not path.exists()


def test_a_read_model_opens_the_store_once_whatever_it_is_asked(storage: Path) -> None:
    seed(storage, 5, 3)
    with connects_to(storage) as opened, ReadModel(str(storage)) as reads:
        study = reads.study("big")
        assert [s.name for s in reads.studies()] == ["big"]
        assert len(reads.trials(study.id)) == 5
        assert len(reads.epoch_metrics(study.id)) == 5 * 3 * 4
        assert reads.fingerprint(study.id) == reads.fingerprint(study.id)
    assert len(opened) == 1


def test_a_page_run_opens_the_store_as_often_whatever_changed(storage: Path) -> None:
    running = seed(storage, 12, 3)
    at = open_page("pages/live.py", study="big")
    with connects_to(storage) as idle:
        at.run()
    _add_epoch(storage, running, 3)
    with connects_to(storage) as changed:
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    # The file's check before anything renders (security.py), the study picker, and the view's
    # one read model: a new epoch's cache misses read through that same connection (before
    # the read model, 4 to 5 a rerun, each helper and each miss opening its own).
    assert len(changed) == len(idle) == 3, (idle, changed)
    with connects_to(storage) as compare:
        at.switch_page("pages/compare.py").run()
    assert not at.exception, [e.value for e in at.exception]
    # Compare too: one read model for its charts, notes and overlays (8 before).
    assert len(compare) == 3, compare
