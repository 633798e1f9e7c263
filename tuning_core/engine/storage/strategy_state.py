"""A store's strategy state: the snapshot a study resumes from, and what the strategy knew
at each ask (for "Why this point?")."""

from __future__ import annotations

from tuning_core.engine.storage.handle import StoreHandle


class StrategyStateMethods(StoreHandle):
    """The strategy_snapshots and strategy_asks tables, as opaque blobs (engine/snapshots.py
    reads them back)."""

    def save_snapshot(self, study_id: int, trial_number: int, state: bytes) -> None:
        """Keep the strategy's state as it was when it proposed trial ``trial_number``."""
        self._write(
            "INSERT OR REPLACE INTO strategy_snapshots (study_id, trial_number, state) "
            "VALUES (?, ?, ?)",
            (study_id, trial_number, state),
        )

    def load_snapshot(self, study_id: int) -> tuple[int, bytes] | None:
        row = self.connection.execute(
            "SELECT trial_number, state FROM strategy_snapshots WHERE study_id = ?", (study_id,)
        ).fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def save_ask(
        self,
        study_id: int,
        trial_number: int,
        state: bytes,
        initial: bool,
        acquisition: str | None = None,
    ) -> None:
        """Keep what the strategy knew when it proposed trial ``trial_number``
        (``strategies.ask_record``), for the "Why this point?" view: whether it was an initial
        random point and which acquisition chose it are columns, readable without the blob."""
        self._write(
            "INSERT OR REPLACE INTO strategy_asks "
            "(study_id, trial_number, initial, acquisition, state) VALUES (?, ?, ?, ?, ?)",
            (study_id, trial_number, int(initial), acquisition, state),
        )

    def load_ask(self, study_id: int, trial_number: int) -> bytes | None:
        row = self.connection.execute(
            "SELECT state FROM strategy_asks WHERE study_id = ? AND trial_number = ?",
            (study_id, trial_number),
        ).fetchone()
        return None if row is None else bytes(row[0])

    def asked_trials(self, study_id: int) -> list[int]:
        """The trial numbers with a recorded ask, in order."""
        return list(self.asks(study_id))

    def asks(self, study_id: int) -> dict[int, tuple[bool, str | None]]:
        """Trial number -> (initial random point?, acquisition that chose it), in order."""
        rows = self.connection.execute(
            "SELECT trial_number, initial, acquisition FROM strategy_asks WHERE study_id = ? "
            "ORDER BY trial_number",
            (study_id,),
        ).fetchall()
        return {int(row[0]): (bool(row[1]), row[2]) for row in rows}
