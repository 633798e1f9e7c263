"""The study's curves as a pruner reads them from the store, read whole once and then only the
rows written since (the store's rowids only grow), so a decision after each epoch costs the new
epochs, not every curve of the study again.

Correct across processes: whoever wrote a row (this process, a Dask worker's driver, a run
resumed after a kill), it is read once its rowid is past the last one read. A rewritten row
(INSERT OR REPLACE) gets a new rowid, so it is read again. States and retries are read whole
at each refresh: one short row per trial, and they change without an epoch row.
"""

from __future__ import annotations

from typing import Protocol

from tuning_core.engine.pruners.base import Curve, PruneDecision, Pruner, bracket_keys
from tuning_core.engine.states import Direction, TrialState


class CurveRows(Protocol):
    """What the store gives a pruner (engine/storage's Store)."""

    def trial_rows(self, study_id: int) -> list[tuple[int, str, int | None]]:
        """Every trial of the study: number, state, the number it retries; by number."""
        ...

    def metric_rows_after(
        self, study_id: int, metric: str, after: int
    ) -> list[tuple[int, int, int, float | None]]:
        """The study's epoch rows of ``metric`` whose rowid is past ``after``: rowid, trial
        number, epoch, value; by rowid."""
        ...


class StudyCurves:
    """One study's curves of one metric, kept up to date by :meth:`refresh`."""

    def __init__(self, study_id: int, metric: str) -> None:
        self.study_id = study_id
        self.metric = metric
        self._values: dict[int, dict[int, float]] = {}
        self._curves: dict[int, Curve] = {}
        self._last_rowid = 0

    def refresh(self, store: CurveRows) -> list[Curve]:
        """Every trial's finished epochs and state as the store holds them now, by number:
        the same curves a full read gives. A curve that did not change is the same object as
        before, so its best-so-far values are not computed again."""
        changed: set[int] = set()
        for rowid, number, epoch, value in store.metric_rows_after(
            self.study_id, self.metric, self._last_rowid
        ):
            self._last_rowid = max(self._last_rowid, rowid)
            values = self._values.setdefault(number, {})
            if value is None:  # a non-finite value is stored as NULL: not a finished value
                values.pop(epoch, None)
            else:
                values[epoch] = value
            changed.add(number)
        trials = store.trial_rows(self.study_id)
        keys = bracket_keys({number: retry_of for number, _, retry_of in trials})
        curves = {}
        for number, state, _ in trials:
            old = self._curves.get(number)
            if (
                old is None
                or number in changed
                or old.state != state
                or old.bracket_key != keys[number]
            ):
                # A copy: a curve handed out never changes under its holder.
                old = Curve(
                    number, TrialState(state), dict(self._values.get(number, {})), keys[number]
                )
            curves[number] = old
        self._curves = curves
        return list(curves.values())


def read_curves(store: CurveRows, study_id: int, metric: str) -> list[Curve]:
    """Every trial's finished epochs of ``metric`` and its state, read whole."""
    return StudyCurves(study_id, metric).refresh(store)


class StudyPruning:
    """A study's pruner as a trial asks it after each epoch: reads the store only where the
    rule can decide, and then only the rows written since it last read."""

    def __init__(self, pruner: Pruner, direction: Direction, study_id: int, metric: str) -> None:
        self.pruner = pruner
        self.direction = direction
        self.curves = StudyCurves(study_id, metric)

    def decide(self, store: CurveRows, trial_number: int, epoch: int) -> PruneDecision | None:
        """Whether trial ``trial_number`` stops after ``epoch``, from the finished epochs in
        the store; the same decision as the rule's on a full read."""
        if not self.pruner.decides_after(epoch):
            return None
        curves = self.curves.refresh(store)
        own = next((curve for curve in curves if curve.number == trial_number), None)
        if own is None:
            return None
        return self.pruner.decide(self.direction, own, epoch, curves)
