"""Resuming a study: a fresh strategy is brought to where the stored history left it, by
replaying every stored trial in order (asking before each, as the first run did) or from its
stored snapshot; what is left is the queue of interrupted trials to retry first, and whether
the grid is spent.
"""

from __future__ import annotations

from dataclasses import dataclass

from tuning_core.engine.snapshots import SnapshotError
from tuning_core.engine.states import TrialState
from tuning_core.engine.storage import TrialRecord
from tuning_core.engine.strategies import SnapshotStrategy, Strategy
from tuning_core.engine.study.teller import _Teller


@dataclass
class _Replay:
    """What the stored history left to do: trials to retry, and whether the grid is spent."""

    retry_queue: list[TrialRecord]
    exhausted: bool
    restored_at: int | None = None  # the trial told just before the restored snapshot
    snapshot_refused: str | None = None  # why a stored snapshot was not used


def _replay(
    history: list[TrialRecord],
    strategy: Strategy,
    teller: _Teller,
    snapshot: tuple[int, bytes] | None = None,
) -> _Replay:
    """Feed the stored trials to a fresh strategy, asking before each as the first run did.

    With a ``snapshot`` taken once the strategy had been told one of those trials, the
    strategy starts from it instead: that trial and those before it only update the
    bookkeeping, so a resume refits no surrogate for them. A snapshot that cannot be used is
    ignored.
    """
    restored, restored_at, refused = -1, None, None
    if snapshot is not None and isinstance(strategy, SnapshotStrategy):
        number, blob = snapshot
        position = next((i for i, t in enumerate(history) if t.number == number), None)
        if position is not None:
            try:
                strategy.restore(blob)
                restored, restored_at = position, number
            except SnapshotError as error:
                refused = str(error)
    retry_queue: list[TrialRecord] = []
    exhausted = False
    for position, trial in enumerate(history):
        retried = trial.retry_of is not None
        if position > restored and not retried and strategy.ask() is None:
            exhausted = True
        if trial.state == TrialState.INTERRUPTED:
            retry_queue.append(trial)
        elif trial.state.is_finished():
            teller.tell(
                trial.params,
                trial.state,
                trial.value,
                record_only=position <= restored,
                values=trial.values,
            )
        if retried:
            retry_queue = [t for t in retry_queue if t.number != trial.retry_of]
    return _Replay(retry_queue, exhausted, restored_at, refused)
