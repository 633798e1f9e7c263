"""A store's studies: creating one, its spec, status and stop flag, reading it back, and
the fingerprints readers key their caches on."""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from tuning_core.engine.spec import StudySpec, parse_spec
from tuning_core.engine.states import StudyStatus
from tuning_core.engine.storage.handle import StoreHandle
from tuning_core.engine.storage.records import StudyRecord


class StudyMethods(StoreHandle):
    """The studies table, behind named methods."""

    def create_study(self, spec: StudySpec) -> int:
        now = time.time()
        cursor = self._write(
            "INSERT INTO studies (name, spec, status, created_at, updated_at) VALUES (?, ?, ?, ?, "
            "?)",
            (spec.name, json.dumps(spec.to_json()), StudyStatus.CREATED.value, now, now),
        )
        return int(cursor.lastrowid)

    def restart_study(self, study_id: int, spec: StudySpec) -> None:
        """Give a study that finished no trial a new spec, dropping its interrupted attempts
        (a start that crashed on bad data, corrected under the same name)."""
        with self.transaction():
            self._write("DELETE FROM trials WHERE study_id = ?", (study_id,))
            self._write("DELETE FROM strategy_snapshots WHERE study_id = ?", (study_id,))
            self._write("DELETE FROM strategy_asks WHERE study_id = ?", (study_id,))
            self.update_spec(study_id, spec)

    def update_spec(self, study_id: int, spec: StudySpec) -> None:
        self._write(
            "UPDATE studies SET spec = ?, updated_at = ? WHERE id = ?",
            (json.dumps(spec.to_json()), time.time(), study_id),
        )

    @staticmethod
    def _study(row: sqlite3.Row) -> StudyRecord:
        return StudyRecord(
            id=row["id"],
            name=row["name"],
            spec=parse_spec(json.loads(row["spec"])),
            status=StudyStatus(row["status"]),
            stop_requested=bool(row["stop_requested"]),
            worker_pid=row["worker_pid"],
            message=row["message"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )

    def get_study(self, name: str) -> StudyRecord | None:
        row = self.connection.execute("SELECT * FROM studies WHERE name = ?", (name,)).fetchone()
        return None if row is None else self._study(row)

    def studies(self) -> list[StudyRecord]:
        rows = self.connection.execute("SELECT * FROM studies ORDER BY created_at, id").fetchall()
        return [self._study(row) for row in rows]

    def set_status(
        self,
        study_id: int,
        status: StudyStatus,
        worker_pid: int | None = None,
        message: str | None = None,
    ) -> None:
        self._write(
            "UPDATE studies SET status = ?, worker_pid = ?, message = ?, updated_at = ? WHERE id "
            "= ?",
            (status.value, worker_pid, message, time.time(), study_id),
        )

    def request_stop(self, name: str) -> bool:
        """Ask the study's worker to stop; False when no such study exists."""
        cursor = self._write(
            "UPDATE studies SET stop_requested = 1, updated_at = ? WHERE name = ?",
            (time.time(), name),
        )
        return cursor.rowcount > 0

    def clear_stop(self, study_id: int) -> None:
        self._write("UPDATE studies SET stop_requested = 0 WHERE id = ?", (study_id,))

    def stop_requested(self, study_id: int) -> bool:
        row = self.connection.execute(
            "SELECT stop_requested FROM studies WHERE id = ?", (study_id,)
        ).fetchone()
        return bool(row and row[0])

    def delete_study(self, name: str) -> bool:
        with self.transaction():
            cursor = self._write("DELETE FROM studies WHERE name = ?", (name,))
        return cursor.rowcount > 0

    def fingerprint(self, study_id: int) -> tuple[Any, ...]:
        """Changes whenever the study, its trials or its metrics change; a few cheap queries.

        Readers key their caches on it, so an idle study is never re-read.
        (updated_at, status, trials, finished trials, newest epoch_metrics rowid, newest
        batch_losses rowid): the rowids are the study's own, None when it has no such row.
        """
        row = self.connection.execute(
            """SELECT s.updated_at, s.status,
                      (SELECT count(*) FROM trials t WHERE t.study_id = s.id),
                      (SELECT count(*) FROM trials t
                        WHERE t.study_id = s.id AND t.state NOT IN ('queued', 'running'))
               FROM studies s WHERE s.id = ?""",
            (study_id,),
        ).fetchone()
        if not row:
            return ()
        return (
            *row,
            self._newest_rowid("epoch_metrics", study_id),
            self._newest_rowid("batch_losses", study_id),
        )

    # A new row takes the table's largest rowid + 1 (a rewritten epoch too: INSERT OR REPLACE
    # deletes and inserts), so a study being written has its newest rows among the table's
    # last few: looking there first took ~10 ms where the join over all of a 10,000-trial
    # study's 1.2 million rows took ~0.4 s, on every rerun of the Live page.
    _RECENT_ROWS = 10_000

    def _newest_rowid(self, table: str, study_id: int) -> int | None:
        """The largest rowid of ``table`` (epoch_metrics or batch_losses) among the study's
        trials' rows, None without any: among the table's last _RECENT_ROWS rows when one of
        them is the study's (then its newest is there), else over all of the study's rows."""
        recent = self.connection.execute(
            f"""SELECT m.rowid FROM {table} m CROSS JOIN trials t ON t.id = m.trial_id
                 WHERE t.study_id = ? AND m.rowid > (SELECT max(rowid) FROM {table}) - ?
                 ORDER BY m.rowid DESC LIMIT 1""",
            (study_id, self._RECENT_ROWS),
        ).fetchone()
        if recent is not None:
            return int(recent[0])
        row = self.connection.execute(
            f"""SELECT max(m.rowid) FROM {table} m JOIN trials t ON t.id = m.trial_id
                 WHERE t.study_id = ?""",
            (study_id,),
        ).fetchone()
        return row[0]

    def studies_fingerprint(self, names: list[str]) -> tuple[Any, ...]:
        """Changes whenever one of the named studies is created or updated, or one of their
        trials finishes (or a second one starts): one cheap query for a race's cache key."""
        marks = ",".join("?" * len(names))
        row = self.connection.execute(
            f"""SELECT count(*), max(t.finished_at), max(s.updated_at)
                  FROM studies s LEFT JOIN trials t ON t.study_id = s.id
                 WHERE s.name IN ({marks})""",
            names,
        ).fetchone()
        return tuple(row)
