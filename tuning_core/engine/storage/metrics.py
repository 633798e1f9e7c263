"""A store's learning curves: each epoch's metrics and the in-epoch training losses of a
trial, written as they arrive and read by trial, by epoch or by what is new."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence

from tuning_core.engine.storage.handle import StoreHandle
from tuning_core.engine.storage.records import finite_or_none


def _tuples(cursor: sqlite3.Cursor) -> list[tuple]:
    """The cursor's rows as plain tuples: a first render of the Live page reads a million
    rows, and sqlite3.Row objects (the connection's factory) cost ~20% more to make there."""
    cursor.row_factory = None
    return cursor.fetchall()


class MetricMethods(StoreHandle):
    """The epoch_metrics and batch_losses tables, behind named methods."""

    def add_epoch_metrics(self, trial_id: int, epoch: int, metrics: dict[str, float]) -> None:
        rows = [(trial_id, epoch, name, finite_or_none(value)) for name, value in metrics.items()]
        with self.transaction():
            self.connection.executemany(
                "INSERT OR REPLACE INTO epoch_metrics (trial_id, epoch, name, value) VALUES (?, "
                "?, ?, ?)",
                rows,
            )

    def add_batch_loss(self, trial_id: int, progress: float, loss: float) -> None:
        self.add_batch_losses(trial_id, [(progress, loss)])

    def add_batch_losses(self, trial_id: int, points: Sequence[tuple[float, float]]) -> None:
        """Store in-epoch (progress, training loss) points of a trial, in one transaction."""
        rows = [(trial_id, progress, finite_or_none(loss)) for progress, loss in points]
        with self.transaction():
            self.connection.executemany(
                "INSERT INTO batch_losses (trial_id, progress, loss) VALUES (?, ?, ?)", rows
            )

    def epoch_metrics(
        self, study_id: int, finished: bool | None = None
    ) -> list[tuple[int, int, str, float | None]]:
        """(trial number, epoch, metric name, value) rows, ordered by trial and epoch.

        ``finished=True`` reads only finished trials (whose rows never change, so readers can
        cache them), ``False`` only queued and running ones, ``None`` all.
        """
        states = {
            True: "AND t.state NOT IN ('queued', 'running')",
            False: "AND t.state IN ('queued', 'running')",
            None: "",
        }
        return _tuples(
            self.connection.execute(
                f"""SELECT t.number, m.epoch, m.name, m.value FROM epoch_metrics m
                   JOIN trials t ON t.id = m.trial_id
                   WHERE t.study_id = ? {states[finished]} ORDER BY t.number, m.epoch""",
                (study_id,),
            )
        )

    def batch_losses(self, study_id: int, trial_number: int) -> list[tuple[float, float | None]]:
        return [
            tuple(row)
            for row in self.connection.execute(
                """SELECT b.progress, b.loss FROM batch_losses b JOIN trials t ON t.id = b.trial_id
                   WHERE t.study_id = ? AND t.number = ? ORDER BY b.progress""",
                (study_id, trial_number),
            )
        ]

    def metric_rows_after(
        self, study_id: int, metric: str, after: int = 0
    ) -> list[tuple[int, int, int, float | None]]:
        """The study's finished epochs of ``metric`` whose rowid is past ``after``: rowid,
        trial number, epoch and value (None where it was not finite), by rowid.

        Rowids only grow (a rewritten row gets a new one), so a reader that keeps the last it
        read gets every later row, whichever process wrote it. An epoch's row exists only once
        that epoch has finished.
        """
        if after <= 0:  # the whole study: through its trials' rows of the metrics index
            query = """SELECT m.rowid, t.number, m.epoch, m.value FROM trials t
                       JOIN epoch_metrics m ON m.trial_id = t.id
                       WHERE t.study_id = ? AND m.name = ? ORDER BY m.rowid"""
            return _tuples(self.connection.execute(query, (study_id, metric)))
        # Only the newest rows: CROSS JOIN makes SQLite walk the rowid range first, instead of
        # every row of every trial of the study.
        query = """SELECT m.rowid, t.number, m.epoch, m.value FROM epoch_metrics m
                   CROSS JOIN trials t ON t.id = m.trial_id
                   WHERE m.rowid > ? AND t.study_id = ? AND m.name = ? ORDER BY m.rowid"""
        return _tuples(self.connection.execute(query, (after, study_id, metric)))

    def metric_rows_of(
        self, study_id: int, metric: str, numbers: Iterable[int], upto: int
    ) -> list[tuple[int, int, int, float | None]]:
        """The rows of ``metric`` of the trials ``numbers`` whose rowid is at most ``upto``:
        rowid, trial number, epoch and value, by rowid (as :meth:`metric_rows_after`), for a
        reader that holds only the trials it draws (300 trials' rows of one metric: ~15 ms
        at 10,000 trials, where every trial's took ~0.5 s)."""
        # The numbers as one JSON parameter: no limit on how many, one statement to prepare.
        wanted = json.dumps(sorted({int(n) for n in numbers}))
        query = """SELECT m.rowid, t.number, m.epoch, m.value FROM trials t
                   JOIN epoch_metrics m ON m.trial_id = t.id
                   WHERE t.study_id = ? AND t.number IN (SELECT value FROM json_each(?))
                     AND m.name = ? AND m.rowid <= ? ORDER BY m.rowid"""
        return _tuples(self.connection.execute(query, (study_id, wanted, metric, upto)))

    def epoch_counts(self, study_id: int, metric: str, upto: int) -> list[tuple[int, int]]:
        """(trial number, rows of ``metric``) of each of the study's trials that has one,
        among the rows whose rowid is at most ``upto``: with a metric written every epoch,
        the epochs each trial trained, counted without reading the rows (~0.17 s at 10,000
        trials x 30 epochs x 4 metrics; a count of distinct epochs over two metrics ~0.4 s).
        Grouped by number, the order of the trials' (study_id, number) index, so that SQLite
        counts each trial as it walks it, without a temporary B-tree (~0.13 -> ~0.10 s)."""
        query = """SELECT t.number, COUNT(*) FROM trials t JOIN epoch_metrics m ON m.trial_id = t.id
                   WHERE t.study_id = ? AND m.name = ? AND m.rowid <= ? GROUP BY t.number"""
        return _tuples(self.connection.execute(query, (study_id, metric, upto)))

    def metrics_recorded(self, study_id: int, names: Iterable[str], upto: int) -> list[str]:
        """Those of ``names`` the study has a row of, among the rows whose rowid is at most
        ``upto`` (one that it has is found at once; one that it lacks took ~0.16 s to rule
        out at 10,000 trials x 30 epochs x 4 metrics)."""
        query = """SELECT EXISTS(SELECT 1 FROM trials t JOIN epoch_metrics m ON m.trial_id = t.id
                   WHERE t.study_id = ? AND m.name = ? AND m.rowid <= ?)"""
        return [
            name
            for name in sorted(set(names))
            if self.connection.execute(query, (study_id, name, upto)).fetchone()[0]
        ]

    def epochs_trained(self, study_id: int) -> int:
        """Epochs finished over all of the study's trials (retried ones included)."""
        row = self.connection.execute(
            """SELECT COUNT(*) FROM (SELECT DISTINCT m.trial_id, m.epoch FROM epoch_metrics m
               JOIN trials t ON t.id = m.trial_id WHERE t.study_id = ?)""",
            (study_id,),
        ).fetchone()
        return int(row[0])
