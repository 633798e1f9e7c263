"""A study's epoch rows as the Live and Compare pages hold them (:class:`EpochRows`): read
incrementally, only the rows written since the last read, and for a study too big to draw
every curve only the rows of the trials drawn. No Streamlit: :mod:`dashboard.live_rows`
keeps one per study and process, and reads through the run's read model.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from tuning_core.engine.spec import StudySpec
from tuning_core.views import curve_charts, live


class EpochSource(Protocol):
    """The reads :meth:`EpochRows.refresh` and :meth:`EpochRows.hold` make: a
    :class:`ReadModel` (or a Store)."""

    def metric_rows_after(
        self, study_id: int, metric: str, after: int = 0
    ) -> list[tuple[int, int, int, float | None]]: ...

    def metric_rows_of(
        self, study_id: int, metric: str, numbers: Iterable[int], upto: int
    ) -> list[tuple[int, int, int, float | None]]: ...

    def epoch_counts(self, study_id: int, metric: str, upto: int) -> list[tuple[int, int]]: ...

    def metrics_recorded(self, study_id: int, names: Iterable[str], upto: int) -> list[str]: ...


@dataclass(frozen=True)
class Reading:
    """What an :class:`EpochRows` reads of a study: the rows of ``metrics``; above
    ``whole_up_to`` trials (where a curve chart draws a sample), only the rows of the trials
    drawn, each trial's epochs counted in SQL by its rows of ``anchor``, a metric written
    every epoch."""

    metrics: frozenset[str]
    anchor: str
    whole_up_to: int = curve_charts.MAX_DRAWN_TRIALS


def reading(spec: StudySpec) -> Reading:
    """The Live and Compare pages' :class:`Reading`: the training loss, the study's metric and
    the chart beside the loss (:func:`live.curve_panels`); a Keras study's accuracy and
    val_loss, half of its rows, are drawn by neither page. A Keras fit logs its loss every
    epoch, any other objective reports the study's metric."""
    panels = live.curve_panels(spec, {"loss", "val_accuracy", spec.metric})
    metrics = frozenset({"loss", spec.metric, *(panel.metric for panel in panels)})
    return Reading(metrics, "loss" if live.trains_keras(spec) else spec.metric)


def hashed_sample(numbers: Iterable[int], size: int) -> list[int]:
    """``size`` of the trial ``numbers``, the same ones whenever asked: the first in the
    order of Knuth's multiplicative hash, as :func:`curve_charts.sample_trials` samples, so
    a trial in the sample stays in it as trials arrive."""
    values = np.fromiter((int(n) for n in numbers), dtype=np.uint64)
    order = (values * np.uint64(2654435761)) % np.uint64(2**32)
    return [int(n) for n in values[np.argsort(order, kind="stable")[:size]]]


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

    A study of more trials than its :class:`Reading`'s ``whole_up_to`` when first read is
    held in part (``held``: the trials whose rows are held, None for all): its epochs per
    trial are counted in SQL, a trial's rows are read when it is to be drawn (:meth:`hold`)
    or when new rows of it arrive, and the band is drawn over a sample of finished trials.
    Reading every row of 10,000 trials took most of the Live page's first render.

    Not thread-safe on its own: :func:`dashboard.live_rows.live_frames` holds its lock.
    """

    COLUMNS = ("number", "epoch", "metric", "value")
    # Rows appended since the trial index was built, past which it is built again (at least
    # an eighth of the rows): of() filters the appended rows with isin, row by row.
    REINDEX_AFTER = 50_000
    # A study held in part draws its band over this many finished trials, a fixed sample:
    # reading their rows takes ~0.1 s per 1,000 trials (two metrics, 30 epochs), and the
    # sample's 10th percentile is within ~1.5 percentile points of all trials' (its standard
    # error, sqrt(0.1 * 0.9 / 500)).
    BAND_TRIALS = 500

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reading = Reading(frozenset(), "")
        self._reset()

    def _reset(self) -> None:
        self.last_rowid = 0
        self.trial_count = 0
        self.fresh = True  # nothing read since the last reset
        self.held: frozenset[int] | None = None
        # Epochs per trial not held (counted in SQL), apart from the held trials' own.
        self.counted = pd.Series(dtype="int64", index=pd.Index([], dtype="int64", name="number"))
        empty = pd.DataFrame({c: pd.Series(dtype="float64") for c in self.COLUMNS})
        empty["metric"] = empty["metric"].astype("object")
        self._set_base(empty, counted=False)
        self.touched: frozenset[int] = frozenset()  # trials with rows new at the last refresh
        self.trials_stamp = 0  # bumped when the trials must be read again (see live_frames)
        self.bands: dict[tuple[str, int], pd.DataFrame] = {}
        self._metrics: frozenset[str] = frozenset()

    def _set_base(self, rows: pd.DataFrame, counted: bool = True) -> None:
        """Make ``rows`` the whole of the rows held, indexed anew, with every trial counted."""
        self.view = RowsView.indexed(rows)
        self._rows: pd.DataFrame | None = rows
        if counted:
            self._held_epochs = self._counts(rows.drop_duplicates(["number", "epoch"]))
            self._last_epoch = rows.groupby("number")["epoch"].max()
        else:
            self._held_epochs = pd.Series(dtype=int)
            self._last_epoch = pd.Series(dtype=float)
        self._epochs: pd.Series | None = None

    @property
    def rows(self) -> pd.DataFrame:
        """Every row held, one frame (concatenated on first use after new rows)."""
        if self._rows is None:
            self._rows = self.view.frame()
        return self._rows

    @property
    def epochs_by_trial(self) -> pd.Series:
        """Whole epochs recorded per trial number, of every trial with one, held or not."""
        if self.counted.empty:
            return self._held_epochs
        if self._held_epochs.empty:
            return self.counted
        if self._epochs is None:
            both = pd.concat([self._held_epochs, self.counted]).sort_index()
            self._epochs = both.rename_axis("number")
        return self._epochs

    @property
    def metrics(self) -> frozenset[str]:
        """The names among the metrics read that have rows (kept as rows arrive: a unique()
        over a million rows cost more than a rerun's reads)."""
        return self._metrics

    def refresh(
        self, store: EpochSource, study_id: int, fingerprint: tuple[Any, ...], reading: Reading
    ) -> None:
        """Bring the rows of ``reading`` (:func:`reading`) up to ``fingerprint``
        (:meth:`ReadModel.fingerprint`, read just before): only rows past the last rowid
        read, one query per metric; everything again when rows went away (a restarted study)
        or another reading is asked for. A study first read with more trials than
        ``reading.whole_up_to`` is held in part: its epochs are counted, no row is read."""
        newest, trial_count = fingerprint[4] or 0, int(fingerprint[2] or 0)
        if reading != self.reading or newest < self.last_rowid or trial_count < self.trial_count:
            self._reset()
            self.reading = reading
        self.trial_count = trial_count
        self.touched = frozenset()
        if self.fresh and trial_count > reading.whole_up_to:
            self.fresh = False
            self.held = frozenset()
            counts = store.epoch_counts(study_id, reading.anchor, newest)
            index = pd.Index([n for n, _ in counts], dtype="int64", name="number")
            self.counted = pd.Series([c for _, c in counts], index=index, dtype="int64")
            # The anchor is recorded where any trial has an epoch; the others are looked for.
            others = reading.metrics - {reading.anchor}
            recorded = store.metrics_recorded(study_id, others, newest)
            self._metrics = frozenset(recorded) | ({reading.anchor} if counts else set())
            self._epochs = None
            self.last_rowid = newest
            self.trials_stamp += 1
            return
        if newest == self.last_rowid:
            return
        parts = []
        for metric in sorted(reading.metrics):
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
        if not parts:  # only rows of metrics not read
            self.last_rowid = newest
            return
        new = pd.concat(parts, ignore_index=True)[list(self.COLUMNS)]
        # Each metric's rows come in rowid order: an epoch written twice keeps its last value.
        new = new.drop_duplicates(["number", "epoch", "metric"], keep="last")
        # A trial not held has its earlier rows read first (up to the last refresh's rowid),
        # so that its new rows are appended or rewritten as a held trial's are.
        self.hold(store, study_id, new["number"].unique())
        self.last_rowid = newest
        self._metrics = self._metrics | frozenset(new["metric"].unique())
        if self.fresh:  # the first rows read
            self.fresh = False
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

    def hold(self, store: EpochSource, study_id: int, numbers: Iterable[int]) -> None:
        """Read the rows of those trials ``numbers`` not held yet, up to the last rowid read
        (nothing when every trial is held): a trial to be drawn gets its whole curve."""
        if self.held is None:
            return
        missing = sorted({int(n) for n in numbers} - self.held)
        if not missing:
            return
        self.held = self.held | frozenset(missing)
        parts = []
        for metric in sorted(self.reading.metrics):
            rows = store.metric_rows_of(study_id, metric, missing, self.last_rowid)
            if rows:
                frame = pd.DataFrame(rows, columns=["rowid", "number", "epoch", "value"])
                parts.append(frame.drop(columns="rowid").assign(metric=metric))
        self.counted = self.counted.drop(index=missing, errors="ignore")
        self._epochs = None
        if parts:
            rows = pd.concat(parts, ignore_index=True)[list(self.COLUMNS)]
            self._metrics = self._metrics | frozenset(rows["metric"].unique())
            self._set_base(self._with(rows))

    def _with(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The rows held and ``rows``, one frame (``rows`` alone while none is held: the empty
        frame's float columns would make the trial numbers floats)."""
        if self.rows.empty:
            return rows.reset_index(drop=True)
        return pd.concat([self.rows, rows], ignore_index=True)

    def _append(self, new: pd.DataFrame, last_epochs: pd.Series) -> None:
        """Rows of epochs after their trials' last: appended, and counted on their own."""
        limit = max(self.REINDEX_AFTER, len(self.view.base) // 8)
        nothing_held = self.view.base.empty and not self.view.tail
        if self.view.tail_length + len(new) > limit or nothing_held:
            self._rows = None  # many appends since the index was built: index all again
            self._set_base(self._with(new))
            return
        self.view = self.view.appended(new)
        self._rows = None
        counts = self._counts(new.drop_duplicates(["number", "epoch"]))
        if len(self._held_epochs):
            counts = self._held_epochs.add(counts, fill_value=0).astype(counts.dtype)
        self._held_epochs = counts
        self._epochs = None
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

    def band_trials(self, finished: pd.Series) -> list[int] | None:
        """The finished trials a band is drawn over: a fixed sample of BAND_TRIALS of those
        with an epoch recorded when the study is held in part and has more; None: all."""
        if self.held is None:
            return None
        epochs = self.epochs_by_trial
        recorded = finished[finished.isin(epochs.index[epochs > 0])]
        if len(recorded) <= self.BAND_TRIALS:
            return None
        return hashed_sample(recorded, self.BAND_TRIALS)

    def band(
        self, metric: str, finished: pd.Series, store: EpochSource, study_id: int
    ) -> pd.DataFrame:
        """:func:`curve_charts.band_frame` of ``metric`` over the ``finished`` trial numbers
        (:meth:`band_trials` of them), kept until another trial finishes (a running trial's
        new epoch leaves it as it is)."""
        key = (metric, len(finished))
        if key not in self.bands:
            sampled = self.band_trials(finished)
            if self.held is None:
                rows = self.rows[self.rows["metric"] == metric]
                rows = rows[rows["number"].isin(finished)]
            else:
                numbers = finished if sampled is None else sampled
                self.hold(store, study_id, numbers)
                rows = self.view.of(numbers)
            self.bands = {k: v for k, v in self.bands.items() if k[0] != metric}
            self.bands[key] = curve_charts.band_frame(rows, metric)
        return self.bands[key]
