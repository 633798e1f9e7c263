"""What the driver of a study on Dask holds, and how it records a trial's end.

``_Attempt`` is one trial submitted as a task. ``_DriverState`` is the driver's state: its
session, client and channels, the trials in flight, and the per-worker counts that the
restarts, the lost-worker handling and the task events read and update. It records a trial's
end as the sequential loop does (told to the strategy, then stored with the strategy's
snapshot) and an interrupted one to be retried first. The driver's parts build on it in this
order: restarts.py, lost_workers.py, task_events.py, driver.py (the loop).
"""

from __future__ import annotations

import queue
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from distributed import Client, Future, Queue, Variable

from tuning_core.engine.parallel.worker_task import Channels, ObjectiveFactory
from tuning_core.engine.states import TrialState
from tuning_core.engine.storage import Store, TrialRecord
from tuning_core.engine.strategies import SnapshotStrategy
from tuning_core.engine.study import Session, StoreReporter, TrialEnd, finished_record


@dataclass
class _Attempt:
    """A trial submitted as a task. ``key`` (the id of its first row) names the task; a rerun
    by Dask after a worker died gets a new row, so ``trial_id`` and ``number`` follow it."""

    key: int
    trial_id: int
    number: int
    params: dict[str, Any]
    retry_of: int | None
    future: Future
    started_at: float  # when it was submitted, then when a worker started it
    reporter: StoreReporter
    answers: Queue | None
    worker: str | None = None
    worker_name: str | None = None
    received: int = 0
    losses: int = 0  # workers this trial has lost so far, over its retries in this run
    pulse_from: str | None = None  # the worker last heard running it (a beat or any event)
    pulse_at: float = 0.0  # time.monotonic() then


@dataclass
class _DriverState:
    """The state of one claimed study's driver on Dask, and the recording of a trial's end;
    :class:`~tuning_core.engine.parallel.driver._Driver` runs the loop on it."""

    session: Session
    client: Client
    factory: ObjectiveFactory
    log: Callable[[str], None]
    restart_every: int | None
    heartbeat_s: float
    max_retries: int
    channels: Channels = field(init=False)
    inbox: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    attempts: dict[int, _Attempt] = field(default_factory=dict)
    trials_on: dict[str, int] = field(default_factory=dict)  # worker address -> trials run
    cannot_restart: set[str] = field(default_factory=set)  # addresses of nanny-less workers
    restarting: set[str] = field(default_factory=set)
    trials_run: int = 0
    stopping: str | None = None
    told_up_to: int = -1  # the highest trial number the strategy has been told
    losses_of: dict[int, int] = field(default_factory=dict)  # retried number -> workers lost
    silent: set[str] = field(default_factory=set)  # workers given up on; their events ignored
    lost_in_a_row: list[int] = field(default_factory=list)  # failed since any trial finished

    def __post_init__(self) -> None:
        spec = self.session.spec
        prefix = f"tuning-lab-{self.session.study_id}-{uuid.uuid4().hex[:12]}"
        self.channels = Channels(
            prefix,
            f"{prefix}-stop",
            spec.pruner.enabled,
            beat_s=min(2.0, self.heartbeat_s / 4),
        )
        self.stop_variable = Variable(self.channels.stop, client=self.client)
        self.stop_variable.set("")
        self.client.subscribe_topic(prefix, lambda event: self.inbox.put(event[1]))
        self.spec_json = spec.to_json()

    @property
    def store(self) -> Store:
        return self.session.store

    def _reporter(self, trial_id: int, number: int) -> StoreReporter:
        """Writes the trial's metrics and asks its pruner, as a sequential trial's does (the
        store knows which trial a retry retries, so it keeps that trial's bracket)."""
        session = self.session
        return StoreReporter(self.store, session.study_id, trial_id, None, session.spec, number)

    # Recording a trial's end -----------------------------------------------------------

    def _tell_and_record(self, attempt: _Attempt, end: TrialEnd) -> None:
        """Tell the strategy how the trial ended, record it, and print its line."""
        session = self.session
        session.teller.tell(attempt.params, end.state, end.value, values=end.values)
        # The trial's end and the strategy's state after telling it commit together, keyed
        # on the highest trial number told: every finished trial up to it is in the
        # snapshot, so a resume after a crash tells none twice.
        with self.store.transaction():
            finished = self.store.finish_trial(
                attempt.trial_id,
                end.state,
                end.value,
                end.error,
                end.note,
                end.pruned,
                values=end.values,
            )
            self.told_up_to = max(self.told_up_to, attempt.number)
            if isinstance(session.strategy, SnapshotStrategy):
                self.store.save_snapshot(
                    session.study_id, self.told_up_to, session.strategy.snapshot()
                )
        session.note_finished(self._finished(attempt, finished, end), self.log)

    def _finished(self, attempt: _Attempt, finished_at: float, end: TrialEnd) -> TrialRecord:
        return finished_record(
            attempt.trial_id,
            attempt.number,
            attempt.params,
            attempt.retry_of,
            attempt.started_at,
            finished_at,
            end,
        )

    def _interrupt(self, attempt: _Attempt, reason: str) -> None:
        """Record a trial no worker will finish as interrupted, and retry it first."""
        finished = self.store.finish_trial(attempt.trial_id, TrialState.INTERRUPTED, error=reason)
        self.log(f"trial {attempt.number} interrupted: {reason}; it will be retried")
        trial = self._finished(attempt, finished, TrialEnd(TrialState.INTERRUPTED, error=reason))
        self.session.replay.retry_queue.insert(0, trial)
