"""The Live page's curves, read incrementally: each run reads only the epoch rows written
since the last one (:class:`EpochRows`, one per study and process), whatever the study's size;
the trials are read again only when they change.

Every read goes through the run's :class:`~dashboard.read_model.ReadModel`.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
import streamlit as st

from dashboard.read_model import ReadModel, StudyRecord
from tuning_core.engine.spec import StudySpec
from tuning_core.engine.states import TrialState
from tuning_core.reports import frames
from tuning_core.views import curve_charts, live


class EpochSource(Protocol):
    """The read :meth:`EpochRows.refresh` makes: a :class:`ReadModel` (or a Store)."""

    def metric_rows_after(
        self, study_id: int, metric: str, after: int = 0
    ) -> list[tuple[int, int, int, float | None]]: ...


def metrics_read(spec: StudySpec) -> frozenset[str]:
    """The metrics whose epoch rows the Live and Compare pages read: the training loss, the
    study's metric and the chart beside the loss (:func:`live.curve_panels`). A Keras study's
    accuracy and val_loss, half of its rows, are drawn by neither page."""
    panels = live.curve_panels(spec, {"loss", "val_accuracy", spec.metric})
    return frozenset({"loss", spec.metric, *(panel.metric for panel in panels)})


@dataclass(frozen=True)
class RowsView:
    """The rows of an :class:`EpochRows` at one refresh, immutable: a base frame indexed by
    trial number, and the few frames appended since (new epochs are appended, not copied in).

    ``frame`` is their concatenation; ``of(numbers)`` takes those trials' rows, in the same
    order as ``frame[frame["number"].isin(numbers)]``, without a pass over every row.
    """

    base: pd.DataFrame
    tail: tuple[pd.DataFrame, ...]
    order: np.ndarray  # positions of base's rows, stable-sorted by trial number
    sorted_numbers: np.ndarray  # base's trial numbers in that order

    @staticmethod
    def indexed(base: pd.DataFrame) -> RowsView:
        numbers = base["number"].to_numpy()
        order = np.argsort(numbers, kind="stable")
        return RowsView(base, (), order, numbers[order])

    def appended(self, rows: pd.DataFrame) -> RowsView:
        return RowsView(self.base, (*self.tail, rows), self.order, self.sorted_numbers)

    @property
    def tail_length(self) -> int:
        return sum(len(part) for part in self.tail)

    def frame(self) -> pd.DataFrame:
        if not self.tail:
            return self.base
        return pd.concat([self.base, *self.tail], ignore_index=True)

    def of(self, numbers: Any) -> pd.DataFrame:
        wanted = np.unique(np.asarray(list(numbers), dtype=self.sorted_numbers.dtype))
        starts = np.searchsorted(self.sorted_numbers, wanted, side="left")
        lengths = np.searchsorted(self.sorted_numbers, wanted, side="right") - starts
        # Each wanted trial's run of positions in the sorted order, back in row order.
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
        positions = np.sort(self.order[offsets + np.arange(int(lengths.sum()))])
        parts = [self.base.take(positions)]
        parts += [part[part["number"].isin(wanted)] for part in self.tail]
        return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


class EpochRows:
    """The epoch rows of some metrics of one study read so far (number, epoch, metric, value),
    and the fingerprint's newest rowid they were read up to, so that :meth:`refresh` reads
    only rows written since (the read model's :meth:`~ReadModel.metric_rows_after`); with
    summaries kept up to date as rows arrive.

    A new epoch's rows are appended to a :class:`RowsView` and counted from themselves alone;
    only a rewritten epoch (one at or before its trial's last) goes through all the rows.

    Not thread-safe on its own: :func:`live_frames` holds its lock around a refresh.
    """

    COLUMNS = ("number", "epoch", "metric", "value")
    # Rows appended since the trial index was built, past which it is built again (at least
    # an eighth of the rows): of() filters the appended rows with isin, row by row.
    REINDEX_AFTER = 50_000

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.wanted: frozenset[str] = frozenset()
        self._reset()

    def _reset(self) -> None:
        self.last_rowid = 0
        self.trial_count = 0
        empty = pd.DataFrame({c: pd.Series(dtype="float64") for c in self.COLUMNS})
        empty["metric"] = empty["metric"].astype("object")
        self._set_base(empty, counted=False)
        self.touched: frozenset[int] = frozenset()  # trials with rows new at the last refresh
        self.trials_stamp = 0  # bumped when the trials must be read again (see live_frames)
        self.bands: dict[tuple[str, int], pd.DataFrame] = {}
        self._metrics: frozenset[str] = frozenset()

    def _set_base(self, rows: pd.DataFrame, counted: bool = True) -> None:
        """Make ``rows`` the whole of the rows, indexed anew, with every trial counted."""
        self.view = RowsView.indexed(rows)
        self._rows: pd.DataFrame | None = rows
        if counted:
            self.epochs_by_trial = self._counts(rows.drop_duplicates(["number", "epoch"]))
            self._last_epoch = rows.groupby("number")["epoch"].max()
        else:
            self.epochs_by_trial = pd.Series(dtype=int)
            self._last_epoch = pd.Series(dtype=float)

    @property
    def rows(self) -> pd.DataFrame:
        """Every row read so far, one frame (concatenated on first use after new rows)."""
        if self._rows is None:
            self._rows = self.view.frame()
        return self._rows

    @property
    def metrics(self) -> frozenset[str]:
        """The names among the metrics read that have rows (kept as rows arrive: a unique()
        over a million rows cost more than a rerun's reads)."""
        return self._metrics

    def refresh(
        self,
        store: EpochSource,
        study_id: int,
        fingerprint: tuple[Any, ...],
        metrics: frozenset[str],
    ) -> None:
        """Bring the rows of ``metrics`` (:func:`metrics_read`) up to ``fingerprint``
        (:meth:`ReadModel.fingerprint`, read just before): only rows past the last rowid
        read, one query per metric; everything again when rows went away (a restarted study)
        or other metrics are asked for."""
        newest, trial_count = fingerprint[4] or 0, int(fingerprint[2] or 0)
        if metrics != self.wanted or newest < self.last_rowid or trial_count < self.trial_count:
            self._reset()
            self.wanted = metrics
        self.trial_count = trial_count
        self.touched = frozenset()
        if newest == self.last_rowid:
            return
        parts = []
        for metric in sorted(metrics):
            rows = store.metric_rows_after(study_id, metric, self.last_rowid)
            if rows and rows[-1][0] > newest:
                # Rows written since the fingerprint wait for the next refresh: past it, a
                # metric read before this one may have rows its read did not see.
                rows = rows[: bisect_right(rows, newest, key=lambda row: row[0])]
            if rows:
                # The rowid column dropped after, not sliced off each row: 300,000 tuple
                # slices cost a third of building the frame at a first read.
                frame = pd.DataFrame(rows, columns=["rowid", "number", "epoch", "value"])
                parts.append(frame.drop(columns="rowid").assign(metric=metric))
        self.last_rowid = newest
        if not parts:  # only rows of metrics not read
            return
        new = pd.concat(parts, ignore_index=True)[list(self.COLUMNS)]
        # Each metric's rows come in rowid order: an epoch written twice keeps its last value.
        new = new.drop_duplicates(["number", "epoch", "metric"], keep="last")
        self._metrics = self._metrics | frozenset(new["metric"].unique())
        if self._last_epoch.empty:  # the first rows read
            self._set_base(new)
            self.bands.clear()
            self.trials_stamp += 1
            return
        self.touched = frozenset(int(n) for n in new["number"].unique())
        by_trial = new.groupby("number")["epoch"]
        earlier = self._last_epoch.reindex(by_trial.min().index)
        if (earlier.isna() | (by_trial.min() > earlier)).all():
            self._append(new, by_trial.max())
        else:
            self._rewrite(new)

    def _append(self, new: pd.DataFrame, last_epochs: pd.Series) -> None:
        """Rows of epochs after their trials' last: appended, and counted on their own."""
        if self.view.tail_length + len(new) > max(self.REINDEX_AFTER, len(self.view.base) // 8):
            self._rows = None  # many appends since the index was built: index all again
            self._set_base(pd.concat([self.rows, new], ignore_index=True))
            return
        self.view = self.view.appended(new)
        self._rows = None
        counts = self._counts(new.drop_duplicates(["number", "epoch"]))
        if len(self.epochs_by_trial):
            counts = self.epochs_by_trial.add(counts, fill_value=0).astype(counts.dtype)
        self.epochs_by_trial = counts
        self._last_epoch = pd.concat(
            [self._last_epoch.drop(index=last_epochs.index, errors="ignore"), last_epochs]
        )

    def _rewrite(self, new: pd.DataFrame) -> None:
        """Rows that may rewrite stored epochs (INSERT OR REPLACE gives a rewritten epoch a new
        rowid): the touched trials' old rows of those epochs go, the new ones are kept."""
        rows = self.rows
        mine = rows["number"].isin(new["number"].unique())
        old = rows[mine]
        keys = pd.MultiIndex.from_frame(old[["number", "epoch", "metric"]])
        stale = keys.isin(pd.MultiIndex.from_frame(new[["number", "epoch", "metric"]]))
        if stale.any():
            rows = rows.drop(index=old.index[stale])
        self._set_base(pd.concat([rows, new], ignore_index=True))

    @staticmethod
    def _counts(rows: pd.DataFrame) -> pd.Series:
        return rows.groupby("number").size()

    def band(self, metric: str, finished: pd.Series) -> pd.DataFrame:
        """:func:`curve_charts.band_frame` of ``metric`` over the ``finished`` trial numbers,
        kept until another trial finishes (a running trial's new epoch leaves it as it is)."""
        key = (metric, len(finished))
        if key not in self.bands:
            rows = self.rows[self.rows["metric"] == metric]
            self.bands = {k: v for k, v in self.bands.items() if k[0] != metric}
            self.bands[key] = curve_charts.band_frame(rows[rows["number"].isin(finished)], metric)
        return self.bands[key]


@st.cache_resource(max_entries=8, show_spinner=False)
def _epoch_rows(path: str, study_id: int, created_at: float) -> EpochRows:
    # One per study and process, shared by every session: the rows are the store's, read-only.
    # SQLite gives a deleted study's id to the next one, so the creation time is in the key
    # too: a study deleted and made again never shows the old one's rows. At most 8 studies'
    # rows (a million rows each at 10,000 trials) are held.
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

    @property
    def epochs_recorded(self) -> int:
        """Whole (trial, epoch) points recorded (as :func:`live.epochs_recorded`)."""
        return int(self.epochs_by_trial.sum()) if len(self.epochs_by_trial) else 0

    @property
    def trial_count(self) -> int:
        """Trials with at least one epoch recorded."""
        return len(self.epochs_by_trial)

    def of(self, numbers: Any = None) -> pd.DataFrame:
        """The long form of :func:`frames.curves_frame` for the trials ``numbers`` (None: all)."""
        if numbers is None:
            rows = self.rows
        elif self._view is not None:  # an isin over every row cost more than the rest of of()
            rows = self._view.of(numbers)
        else:
            rows = self.rows[self.rows["number"].isin(numbers)]
        batches = [r for r in self.diverged_rows if numbers is None or r[0] in numbers]
        # curves_frame takes rows as tuples or as a frame with those columns (no copy to lists).
        return frames.curves_frame(rows.reset_index(drop=True), self.trials, batches)

    def band(self, metric: str) -> pd.DataFrame:
        """The grey band of every finished trial (:func:`curve_charts.band_frame`)."""
        if self._holder is None or self.trials.empty:
            return pd.DataFrame(columns=["epoch", "low", "high", "trials"])
        finished = self.trials.loc[self.trials["state"] != TrialState.RUNNING.value, "number"]
        with self._holder.lock:
            return self._holder.band(metric, finished)


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
        holder.refresh(reads, study.id, fingerprint, metrics_read(study.spec))
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
        LiveCurves(rows, epochs, metrics, trials, batch_rows, holder, view),
        fingerprint,
    )
