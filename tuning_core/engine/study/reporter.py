"""A trial's reporter in the process that holds the store: it writes the trial's metrics
through as they arrive, relays a stop request or a spent time budget, and asks the study's
pruner after each epoch. The sequential loop gives one to each trial and the Dask driver one
to each task, so a trial's rows and pruning decisions are the same wherever it runs.
"""

from __future__ import annotations

import time

from tuning_core.engine.pruners import PruneDecision, StudyPruning, pruner_for
from tuning_core.engine.spec import StudySpec
from tuning_core.engine.storage import Store

STOP_POLL_SECONDS = 0.5


class StoreReporter:
    """Writes a trial's metrics through to the store, relays stop requests, and asks the
    study's pruner after each epoch.

    Epoch rows are written at once. In-epoch losses are held for up to ``flush_seconds``
    (0: written at once) and always written before the next epoch row and by
    :meth:`flush`, which the trial's owner calls when the trial ends.
    """

    def __init__(
        self,
        store: Store,
        study_id: int,
        trial_id: int,
        deadline: float | None,
        spec: StudySpec | None = None,
        trial_number: int | None = None,
        flush_seconds: float = 0.0,
    ) -> None:
        self.store = store
        self.flush_seconds = flush_seconds
        self._held_batches: list[tuple[float, float]] = []
        self._last_flush = time.monotonic()
        self.study_id = study_id
        self.trial_id = trial_id
        self.deadline = deadline
        self.spec = spec
        self.trial_number = trial_number
        self.stop_reason: str | None = None
        self.prune_decision: PruneDecision | None = None
        self._pruning: StudyPruning | None = None
        self._last_poll = 0.0

    def report(self, epoch: int, metrics: dict[str, float]) -> None:
        self.flush()
        self.store.add_epoch_metrics(self.trial_id, epoch, metrics)

    def report_batch(self, progress: float, loss: float) -> None:
        self._held_batches.append((progress, loss))
        if time.monotonic() - self._last_flush >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        """Write the in-epoch losses held so far."""
        self._last_flush = time.monotonic()
        if self._held_batches:
            points, self._held_batches = self._held_batches, []
            self.store.add_batch_losses(self.trial_id, points)

    def should_prune(self, epoch: int) -> bool:
        """Whether the pruner stops this trial after ``epoch``, from the finished epochs in the
        store (so a resumed or parallel study decides the same way)."""
        if self.spec is None or self.trial_number is None:
            return False
        if self._pruning is None:
            pruner = pruner_for(self.spec.pruner)
            self._pruning = StudyPruning(
                pruner, self.spec.direction, self.study_id, self.spec.metric
            )
        self.prune_decision = self._pruning.decide(self.store, self.trial_number, epoch)
        return self.prune_decision is not None

    def should_stop(self) -> bool:
        now = time.monotonic()
        if self.stop_reason is None and now - self._last_poll >= STOP_POLL_SECONDS:
            self._last_poll = now
            if self.store.stop_requested(self.study_id):
                self.stop_reason = "stopped on request"
            elif self.deadline is not None and time.time() >= self.deadline:
                self.stop_reason = "the time budget ran out"
        return self.stop_reason is not None
