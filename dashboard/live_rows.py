"""The Live page's curves, read incrementally: each run reads only the epoch rows written
since the last one (:class:`~dashboard.epoch_rows.EpochRows`, one per study and process),
whatever the study's size; the trials are read again only when they change.

Every read goes through the run's :class:`~dashboard.read_model.ReadModel`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.epoch_rows import EpochRows, RowsView, reading
from dashboard.read_model import ReadModel, StudyRecord
from tuning_core.engine.states import TrialState
from tuning_core.reports import frames


@st.cache_resource(max_entries=8, show_spinner=False)
def _epoch_rows(path: str, study_id: int, created_at: float) -> EpochRows:
    # One per study and process, shared by every session: the rows are the store's, read-only.
    # SQLite gives a deleted study's id to the next one, so the creation time is in the key
    # too: a study deleted and made again never shows the old one's rows. At most 8 studies'
    # rows are held (whole up to a million at 10,000 trials when watched as it grew; a study
    # first read past a few hundred trials only in part).
    return EpochRows()


@dataclass(frozen=True)
class LiveCurves:
    """The Live page's view of a study's curves: the rows read so far (not merged with the
    trials), epochs per trial, and the merged long form of just the trials to draw."""

    rows: pd.DataFrame  # number, epoch, metric, value (0-based epochs, whole epochs only)
    epochs_by_trial: pd.Series
    metrics: frozenset[str]
    trials: pd.DataFrame
    diverged_rows: list[tuple[int, float, float | None]] = field(default_factory=list)
    _holder: EpochRows | None = None
    _view: RowsView | None = None  # the same rows indexed by trial (see :meth:`of`)
    _reads: ReadModel | None = None  # the run's, for the rows of trials not held yet
    _study_id: int = 0

    @property
    def epochs_recorded(self) -> int:
        """Whole (trial, epoch) points recorded (as :func:`live.epochs_recorded`)."""
        return int(self.epochs_by_trial.sum()) if len(self.epochs_by_trial) else 0

    @property
    def trial_count(self) -> int:
        """Trials with at least one epoch recorded."""
        return len(self.epochs_by_trial)

    def of(self, numbers: Any = None) -> pd.DataFrame:
        """The long form of :func:`frames.curves_frame` for the trials ``numbers`` (None: all),
        each with its whole curve (read now when its rows are not held yet)."""
        view = self._view
        holder = self._holder
        if holder is not None and holder.held is not None and self._reads is not None:
            wanted = self.trials["number"] if numbers is None else numbers
            with holder.lock:
                holder.hold(self._reads, self._study_id, wanted)
                view = holder.view
            rows = view.of(wanted)
        elif numbers is None:
            rows = self.rows
        elif view is not None:  # an isin over every row cost more than the rest of of()
            rows = view.of(numbers)
        else:
            rows = self.rows[self.rows["number"].isin(numbers)]
        batches = [r for r in self.diverged_rows if numbers is None or r[0] in numbers]
        # curves_frame takes rows as tuples or as a frame with those columns (no copy to lists).
        return frames.curves_frame(rows.reset_index(drop=True), self.trials, batches)

    def _finished(self) -> pd.Series:
        return self.trials.loc[self.trials["state"] != TrialState.RUNNING.value, "number"]

    def band(self, metric: str) -> pd.DataFrame:
        """The grey band of the finished trials (:func:`curve_charts.band_frame`): of every
        one, or of a fixed sample of them in a study held in part (see :meth:`band_of`)."""
        if self._holder is None or self.trials.empty or self._reads is None:
            return pd.DataFrame(columns=["epoch", "low", "high", "trials"])
        with self._holder.lock:
            return self._holder.band(metric, self._finished(), self._reads, self._study_id)

    def band_of(self) -> int | None:
        """How many finished trials (with an epoch recorded) the band is a sample of; None
        when it is drawn over all of them."""
        if self._holder is None or self.trials.empty:
            return None
        with self._holder.lock:
            sampled = self._holder.band_trials(self._finished())
        if sampled is None:
            return None
        finished = self._finished()
        return int(finished.isin(self.epochs_by_trial.index[self.epochs_by_trial > 0]).sum())


@st.cache_data(max_entries=32, show_spinner=False)
def _trials_of(path: str, name: str, key: tuple[Any, ...], _reads: ReadModel) -> pd.DataFrame:
    study = _reads.study(name)
    records = _reads.trials(study.id, with_values=study.spec.multi_metric)
    return frames.trials_frame(records, study.spec, with_metrics=True)


@st.cache_data(max_entries=32, show_spinner=False)
def _diverged_rows(
    path: str, study_id: int, diverged: tuple[int, ...], _reads: ReadModel
) -> list[tuple[int, float, float | None]]:
    return [
        (number, progress, loss)
        for number in diverged
        for progress, loss in _reads.batch_losses(study_id, number)
    ]


def live_frames(
    reads: ReadModel, name: str
) -> tuple[StudyRecord | None, pd.DataFrame, LiveCurves | None, tuple[Any, ...]]:
    """(study, trials, curves, fingerprint) for the Live and Compare pages: the trials cached
    until the study changes, the curves read incrementally (:class:`EpochRows`)."""
    study = reads.study(name)
    if study is None:
        return None, pd.DataFrame(), None, ()
    fingerprint = reads.fingerprint(study.id)
    holder = _epoch_rows(reads.path, study.id, study.created_at)
    with holder.lock:
        holder.refresh(reads, study.id, fingerprint, reading(study.spec))
        rows, epochs, metrics = holder.rows, holder.epochs_by_trial, holder.metrics
        view = holder.view
        # The trials change with their count, the finished count or the study's status;
        # a new epoch changes them only when it is a trial's first (queued -> running).
        # Reading 10,000 trials again on every epoch took longer than the rest of a rerun.
        trials = _trials_of(reads.path, name, (*fingerprint[:4], holder.trials_stamp), reads)
        if not trials.empty and holder.touched - set(
            trials.loc[trials["state"] == TrialState.RUNNING.value, "number"]
        ):
            holder.trials_stamp += 1
            trials = _trials_of(reads.path, name, (*fingerprint[:4], holder.trials_stamp), reads)
    diverged: tuple[int, ...] = ()
    if not trials.empty:
        diverged = tuple(
            int(n) for n in trials.loc[trials["state"] == TrialState.DIVERGED.value, "number"]
        )
    batch_rows = _diverged_rows(reads.path, study.id, diverged, reads) if diverged else []
    return (
        study,
        trials,
        LiveCurves(rows, epochs, metrics, trials, batch_rows, holder, view, reads, study.id),
        fingerprint,
    )
