"""A store's trials: starting and finishing one (with every metric it measured and, when
pruned, why), reading them back, and the Dask worker that ran each."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from tuning_core.engine.pruners import PruneDecision
from tuning_core.engine.states import TrialState
from tuning_core.engine.storage.handle import StoreHandle
from tuning_core.engine.storage.records import TrialRecord, TrialWorker, finite_or_none


class TrialMethods(StoreHandle):
    """The trials table and the rows that belong to one trial (values, prune decision, worker)."""

    def start_trial(
        self, study_id: int, number: int, params: dict[str, Any], retry_of: int | None = None
    ) -> int:
        cursor = self._write(
            "INSERT INTO trials (study_id, number, params, state, retry_of, started_at) VALUES "
            "(?, ?, ?, ?, ?, ?)",
            (study_id, number, json.dumps(params), TrialState.RUNNING.value, retry_of, time.time()),
        )
        return int(cursor.lastrowid)

    def finish_trial(
        self,
        trial_id: int,
        state: TrialState,
        value: float | None = None,
        error: str | None = None,
        note: str | None = None,
        pruned: PruneDecision | None = None,
        values: Mapping[str, float] | None = None,
    ) -> float:
        """Record how the trial ended (and, for a pruned trial, why, and every metric it
        measured: ``values``, name -> number; NaN and infinity are kept as no value);
        returns the time it finished at."""
        assert state.is_finished(), state
        finished_at = time.time()
        with self.transaction():
            if values:  # before the trial is final: a trigger refuses values after
                self.connection.executemany(
                    "INSERT OR REPLACE INTO trial_values (trial_id, name, value) VALUES (?, ?, ?)",
                    [(trial_id, str(name), finite_or_none(v)) for name, v in values.items()],
                )
            if pruned is not None:
                self.connection.execute(
                    "INSERT OR REPLACE INTO prune_decisions (trial_id, epoch, value, cutoff, rule, "
                    "rung, bracket, compared, kept) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        trial_id,
                        pruned.epoch,
                        pruned.value,
                        pruned.cutoff,
                        pruned.rule,
                        pruned.rung,
                        pruned.bracket,
                        pruned.compared,
                        pruned.kept,
                    ),
                )
            self.connection.execute(
                "UPDATE trials SET state = ?, value = ?, error = ?, note = ?, finished_at = ? "
                "WHERE id = ?",
                (state.value, finite_or_none(value), error, note, finished_at, trial_id),
            )
        return finished_at

    def prune_decisions(self, study_id: int) -> list[PruneDecision]:
        """Why each pruned trial stopped, by trial number."""
        rows = self.connection.execute(
            """SELECT t.number, p.epoch, p.value, p.cutoff, p.rule, p.rung, p.bracket, p.compared,
                      p.kept
               FROM prune_decisions p JOIN trials t ON t.id = p.trial_id
               WHERE t.study_id = ? ORDER BY t.number""",
            (study_id,),
        ).fetchall()
        return [PruneDecision(*row) for row in rows]

    def trial_rows(self, study_id: int) -> list[tuple[int, str, int | None]]:
        """Every trial of the study as a pruner needs it: number, state and the number it
        retries (None for an original), by number."""
        rows = self.connection.execute(
            "SELECT number, state, retry_of FROM trials WHERE study_id = ? ORDER BY number",
            (study_id,),
        ).fetchall()
        return [(int(number), str(state), retry_of) for number, state, retry_of in rows]

    def interrupt_running_trials(self, study_id: int, reason: str) -> int:
        """Mark trials that a dead worker left running as interrupted; returns how many."""
        cursor = self._write(
            "UPDATE trials SET state = ?, error = ?, finished_at = ? WHERE study_id = ? AND state "
            "= ?",
            (TrialState.INTERRUPTED.value, reason, time.time(), study_id, TrialState.RUNNING.value),
        )
        return cursor.rowcount

    @staticmethod
    def _trial(row: sqlite3.Row) -> TrialRecord:
        return TrialRecord(
            id=row["id"],
            number=row["number"],
            params=json.loads(row["params"]),
            state=TrialState(row["state"]),
            value=row["value"],
            error=row["error"],
            note=row["note"],
            retry_of=row["retry_of"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
        )

    def trials(self, study_id: int, with_values: bool = True) -> list[TrialRecord]:
        """The study's trials by number; ``with_values=False`` leaves ``values`` empty, for a
        reader that needs none (every Keras trial stores seven, which at 10,000 trials cost a
        Live rerun ~0.25 s)."""
        rows = self.connection.execute(
            "SELECT * FROM trials WHERE study_id = ? ORDER BY number", (study_id,)
        ).fetchall()
        values = self.trial_values(study_id) if with_values else {}
        trials = [self._trial(row) for row in rows]
        return [replace(t, values=values[t.number]) if t.number in values else t for t in trials]

    def trial_values(self, study_id: int) -> dict[int, dict[str, float]]:
        """Trial number -> every finite metric that trial measured (name -> value, in the
        order stored), for the trials that have any. A store from before trial values has
        none."""
        values: dict[int, dict[str, float]] = {}
        with contextlib.suppress(sqlite3.OperationalError):  # a read-only store from before
            rows = self.connection.execute(
                """SELECT t.number, v.name, v.value FROM trial_values v
                   JOIN trials t ON t.id = v.trial_id WHERE t.study_id = ?
                   ORDER BY t.number, v.rowid""",
                (study_id,),
            ).fetchall()
            for number, name, value in rows:
                if value is not None:  # NaN and infinity were stored as NULL: not a value
                    values.setdefault(int(number), {})[str(name)] = float(value)
        return values

    def record_trial_worker(
        self, trial_id: int, worker: str, address: str, started_at: float
    ) -> None:
        """Which Dask worker (its name and address) started the trial, and when it did; the
        trial's own start moves there too, so its duration leaves out the wait in the queue."""
        with self.transaction():
            self.connection.execute(
                "INSERT OR REPLACE INTO trial_workers (trial_id, worker, address, started_at) "
                "VALUES (?, ?, ?, ?)",
                (trial_id, worker, address, started_at),
            )
            self.connection.execute(
                "UPDATE trials SET started_at = ? WHERE id = ? AND state IN ('queued', 'running')",
                (started_at, trial_id),
            )

    def trial_workers(self, study_id: int) -> dict[int, TrialWorker]:
        """The Dask worker of each trial that ran on one, by trial number."""
        rows = self.connection.execute(
            """SELECT t.number, w.worker, w.address, w.started_at FROM trial_workers w
               JOIN trials t ON t.id = w.trial_id WHERE t.study_id = ? ORDER BY t.number""",
            (study_id,),
        ).fetchall()
        return {row[0]: TrialWorker(row[1], row[2], row[3]) for row in rows}
