"""A store's races: a race's spec (as JSON), status and stop flag, and its member studies in
order; engine/race.py gives them meaning."""

from __future__ import annotations

import time
from typing import Any

from tuning_core.engine.states import StudyStatus
from tuning_core.engine.storage.handle import StoreHandle
from tuning_core.engine.storage.schema import RACE_SCHEMA


class RaceMethods(StoreHandle):
    """The races and race_studies tables; a store that never ran a race has none."""

    def ensure_race_tables(self) -> None:
        """Make the race tables if this store has none yet."""
        tables = self.connection.execute(
            "SELECT count(*) FROM sqlite_master WHERE name IN ('races', 'race_studies')"
        ).fetchone()[0]
        if tables == 2:  # nothing to make (and a script would commit the caller's transaction)
            return
        self._check_writable()
        self.connection.executescript(RACE_SCHEMA)

    def _has_race_tables(self) -> bool:
        return bool(
            self.connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'races'").fetchone()
        )

    def race_row(self, name: str) -> dict[str, Any] | None:
        """The race called ``name`` as its stored columns, or None (no race tables yet, too)."""
        if not self._has_race_tables():
            return None
        row = self.connection.execute("SELECT * FROM races WHERE name = ?", (name,)).fetchone()
        return None if row is None else dict(row)

    def race_rows(self) -> list[dict[str, Any]]:
        """Every race as its stored columns, oldest first."""
        if not self._has_race_tables():
            return []
        rows = self.connection.execute("SELECT * FROM races ORDER BY created_at, id").fetchall()
        return [dict(row) for row in rows]

    def race_members(self, race_id: int) -> list[tuple[int, str, str, int]]:
        """(position, study name, label, seed) of each member study of the race, in order."""
        rows = self.connection.execute(
            "SELECT * FROM race_studies WHERE race_id = ? ORDER BY position", (race_id,)
        ).fetchall()
        return [(r["position"], r["study_name"], r["label"], r["seed"]) for r in rows]

    def create_race(self, name: str, spec_json: str, members: list[tuple[str, str, int]]) -> int:
        """Store a new race (status created) and its members, (study name, label, seed) in
        order, in one transaction; returns the race's id."""
        now = time.time()
        with self.transaction():
            cursor = self._write(
                "INSERT INTO races (name, spec, status, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (name, spec_json, StudyStatus.CREATED.value, now, now),
            )
            race_id = int(cursor.lastrowid)
            for position, (study_name, label, seed) in enumerate(members):
                self._write(
                    "INSERT INTO race_studies (race_id, position, study_name, label, seed) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (race_id, position, study_name, label, seed),
                )
        return race_id

    def set_race_status(
        self, race_id: int, status: StudyStatus, worker_pid: int | None, message: str | None
    ) -> None:
        self._write(
            "UPDATE races SET status = ?, worker_pid = ?, message = ?, updated_at = ? WHERE id = ?",
            (status.value, worker_pid, message, time.time(), race_id),
        )

    def set_race_stop(self, race_id: int, requested: bool) -> None:
        """Ask the race's worker to stop (``True``), or clear that request."""
        self._write("UPDATE races SET stop_requested = ? WHERE id = ?", (int(requested), race_id))

    def race_stop_requested(self, race_id: int) -> bool:
        row = self.connection.execute(
            "SELECT stop_requested FROM races WHERE id = ?", (race_id,)
        ).fetchone()
        return bool(row and row[0])

    def delete_race(self, name: str) -> None:
        """Remove the race called ``name`` and its member list (not its studies)."""
        self.ensure_race_tables()
        with self.transaction():
            self._write(
                "DELETE FROM race_studies WHERE race_id IN (SELECT id FROM races WHERE name = ?)",
                (name,),
            )
            self._write("DELETE FROM races WHERE name = ?", (name,))
