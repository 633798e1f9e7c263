"""Cached reads of a study as DataFrames, and chart helpers that reuse specs across reruns.

Reads go through ``st.cache_data`` keyed on :meth:`Store.fingerprint`, so a rerun of an idle
study costs one small query; finished trials' curves are read once, since they never change.
The Live page reads its curves incrementally instead (:func:`live_frames`): each rerun reads
only the epoch rows written since the last one, whatever the study's size.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from dashboard.common import open_store, storage_path
from dashboard.presenter import for_room
from tuning_core.engine.audit import AuditReport, audit_name, read_audit
from tuning_core.engine.records import worker_timeline
from tuning_core.engine.spec import StudySpec
from tuning_core.engine.states import TrialState
from tuning_core.engine.storage import Store, StudyRecord, artifacts_dir
from tuning_core.reports import frames
from tuning_core.views import (
    chart_style,
    curve_charts,
    forms,
    live,
    live_front,
    pareto_charts,
    playground,
    pruning_marks,
)


@st.cache_data(max_entries=32, show_spinner=False)
def _finished_curves(
    path: str, study_id: int, finished_count: int, trials: pd.DataFrame
) -> pd.DataFrame:
    """Curves of finished trials: they never change, so one read per newly finished trial.

    Diverged trials also bring their in-epoch losses, the only trace of a run that blew up in
    its first epoch.
    """
    diverged = (
        trials.loc[trials["state"] == TrialState.DIVERGED.value, "number"] if len(trials) else []
    )
    with Store(path) as store:
        batch_rows = [
            (int(number), progress, loss)
            for number in diverged
            for progress, loss in store.batch_losses(study_id, int(number))
        ]
        return frames.curves_frame(store.epoch_metrics(study_id, finished=True), trials, batch_rows)


@st.cache_data(max_entries=32, show_spinner=False)
def _frames(
    path: str, name: str, fingerprint: tuple[Any, ...]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    with Store(path) as store:
        study = store.get_study(name)
        # Running trials' rows first, then the trials: a trial that finishes in between is then
        # read twice (deduplicated below) rather than missed, which made the epoch count dip.
        live_rows = store.epoch_metrics(study.id, finished=False)
        records = store.trials(study.id, with_values=study.spec.multi_metric)
        trials = frames.trials_frame(records, study.spec, with_metrics=True)
    finished = trials[trials["state"] != TrialState.RUNNING] if not trials.empty else trials
    done = _finished_curves(path, study.id, len(finished), finished)
    running = frames.curves_frame(live_rows, trials)
    if not len(running):
        return trials, done
    curves = pd.concat([done, running], ignore_index=True)
    return trials, curves.drop_duplicates(["number", "epoch", "metric"], keep="first")


def study_frames(
    name: str,
) -> tuple[StudyRecord | None, pd.DataFrame, pd.DataFrame, tuple[Any, ...]]:
    """(study, trials, curves, fingerprint); the DataFrames are cached until the study changes."""
    with open_store() as store:
        study = store.get_study(name)
        if study is None:
            return None, pd.DataFrame(), pd.DataFrame(), ()
        fingerprint = store.fingerprint(study.id)
    trials, curves = _frames(storage_path(), name, fingerprint)
    return study, trials, curves, fingerprint


class EpochRows:
    """Every epoch row of one study read so far (number, epoch, metric, value), and the last
    rowid read, so that :meth:`refresh` reads only rows written since (the store's
    :meth:`Store.metric_rows_after`); with summaries kept up to date as rows arrive.

    Not thread-safe on its own: :func:`live_frames` holds its lock around a refresh.
    """

    COLUMNS = ("number", "epoch", "metric", "value")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self.last_rowid = 0
        self.trial_count = 0
        self.rows = pd.DataFrame({c: pd.Series(dtype="float64") for c in self.COLUMNS})
        self.rows["metric"] = self.rows["metric"].astype("object")
        self.epochs_by_trial = pd.Series(dtype=int)
        self.touched: frozenset[int] = frozenset()  # trials with rows new at the last refresh
        self.trials_stamp = 0  # bumped when the trials must be read again (see live_frames)
        self.bands: dict[tuple[str, int], pd.DataFrame] = {}
        self._metrics: frozenset[str] = frozenset()

    @property
    def metrics(self) -> frozenset[str]:
        """The metric names read so far (kept as rows arrive: a unique() over a million rows
        cost more than a rerun's reads)."""
        return self._metrics

    def refresh(self, store: Store, study_id: int, fingerprint: tuple[Any, ...]) -> None:
        """Bring the rows up to ``fingerprint`` (:meth:`Store.fingerprint`, read just before):
        only rows past the last rowid read, one query per metric; everything again when rows
        went away (a restarted study) or a metric appeared that the earlier rows lacked."""
        newest, trial_count = fingerprint[4] or 0, int(fingerprint[2] or 0)
        if newest < self.last_rowid or trial_count < self.trial_count:
            self._reset()
        self.trial_count = trial_count
        self.touched = frozenset()
        if newest == self.last_rowid:
            return
        metrics = self.metrics
        if not metrics:
            # The running trials name the metrics (a fit logs the same ones every epoch): then
            # one read per metric in rowid order, which needs no sort of the study's rows.
            metrics = frozenset(row[2] for row in store.epoch_metrics(study_id, finished=False))
            if not metrics:
                self._replace_all(store.epoch_metrics(study_id), newest)
                return
        parts, seen = [], self.last_rowid
        for metric in sorted(metrics):
            rows = store.metric_rows_after(study_id, metric, self.last_rowid)
            if rows:
                seen = max(seen, rows[-1][0])
                parts.append(
                    pd.DataFrame(
                        [row[1:] for row in rows], columns=["number", "epoch", "value"]
                    ).assign(metric=metric)
                )
        if seen < newest:  # rows of a metric not seen before: read the study once more
            self._replace_all(store.epoch_metrics(study_id), newest)
            return
        first = self.last_rowid == 0
        self.last_rowid = seen
        new = pd.concat(parts, ignore_index=True)[list(self.COLUMNS)]
        # Each metric's rows come in rowid order: an epoch written twice keeps its last value.
        new = new.drop_duplicates(["number", "epoch", "metric"], keep="last")
        self._metrics = self._metrics | frozenset(new["metric"].unique())
        if first:
            self.rows = new
            self.bands.clear()
            self.trials_stamp += 1
            self.touched = frozenset()
            self.epochs_by_trial = self._counts(new.drop_duplicates(["number", "epoch"]))
            return
        touched = new["number"].unique()
        self.touched = frozenset(int(n) for n in touched)
        mine = self.rows["number"].isin(touched)
        if mine.any():
            # A rewritten epoch (INSERT OR REPLACE) comes back with a new rowid: keep the new.
            old = self.rows[mine]
            keys = pd.MultiIndex.from_frame(old[["number", "epoch", "metric"]])
            stale = keys.isin(pd.MultiIndex.from_frame(new[["number", "epoch", "metric"]]))
            if stale.any():
                self.rows = self.rows.drop(index=old.index[stale])
        self.rows = pd.concat([self.rows, new], ignore_index=True)
        counts = self.rows[self.rows["number"].isin(touched)].drop_duplicates(["number", "epoch"])
        self.epochs_by_trial = self._counts(counts, self.epochs_by_trial, touched)

    def _replace_all(self, rows: list[tuple[int, int, str, float | None]], newest: int) -> None:
        self.rows = pd.DataFrame(rows, columns=list(self.COLUMNS))
        self._metrics = frozenset(self.rows["metric"].unique())
        self.last_rowid = max(self.last_rowid, newest)
        self.bands.clear()
        self.trials_stamp += 1
        self.epochs_by_trial = self._counts(self.rows.drop_duplicates(["number", "epoch"]))

    @staticmethod
    def _counts(
        rows: pd.DataFrame, earlier: pd.Series | None = None, touched: Any = None
    ) -> pd.Series:
        counts = rows.groupby("number").size()
        if earlier is None or not len(earlier):
            return counts
        return pd.concat([earlier.drop(index=touched, errors="ignore"), counts]).sort_index()

    def band(self, metric: str, finished: pd.Series) -> pd.DataFrame:
        """:func:`curve_charts.band_frame` of ``metric`` over the ``finished`` trial numbers,
        kept until another trial finishes (a running trial's new epoch leaves it as it is)."""
        key = (metric, len(finished))
        if key not in self.bands:
            rows = self.rows[self.rows["metric"] == metric]
            self.bands = {k: v for k, v in self.bands.items() if k[0] != metric}
            self.bands[key] = curve_charts.band_frame(rows[rows["number"].isin(finished)], metric)
        return self.bands[key]


@st.cache_resource(show_spinner=False)
def _epoch_rows(path: str, study_id: int) -> EpochRows:
    # One per study and process, shared by every session: the rows are the store's, read-only.
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
        rows = self.rows if numbers is None else self.rows[self.rows["number"].isin(numbers)]
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
def _trials_of(path: str, name: str, key: tuple[Any, ...]) -> pd.DataFrame:
    with Store(path) as store:
        study = store.get_study(name)
        records = store.trials(study.id, with_values=study.spec.multi_metric)
        return frames.trials_frame(records, study.spec, with_metrics=True)


@st.cache_data(max_entries=32, show_spinner=False)
def _diverged_rows(
    path: str, study_id: int, diverged: tuple[int, ...]
) -> list[tuple[int, float, float | None]]:
    with Store(path) as store:
        return [
            (number, progress, loss)
            for number in diverged
            for progress, loss in store.batch_losses(study_id, number)
        ]


def live_frames(
    name: str,
) -> tuple[StudyRecord | None, pd.DataFrame, LiveCurves | None, tuple[Any, ...]]:
    """(study, trials, curves, fingerprint) for the Live page: the trials cached until the
    study changes, the curves read incrementally (:class:`EpochRows`)."""
    with open_store() as store:
        study = store.get_study(name)
        if study is None:
            return None, pd.DataFrame(), None, ()
        fingerprint = store.fingerprint(study.id)
        holder = _epoch_rows(storage_path(), study.id)
        with holder.lock:
            holder.refresh(store, study.id, fingerprint)
            rows, epochs, metrics = holder.rows, holder.epochs_by_trial, holder.metrics
            # The trials change with their count, the finished count or the study's status;
            # a new epoch changes them only when it is a trial's first (queued -> running).
            # Reading 10,000 trials again on every epoch took longer than the rest of a rerun.
            trials = _trials_of(storage_path(), name, (*fingerprint[:4], holder.trials_stamp))
            if not trials.empty and holder.touched - set(
                trials.loc[trials["state"] == TrialState.RUNNING.value, "number"]
            ):
                holder.trials_stamp += 1
                trials = _trials_of(storage_path(), name, (*fingerprint[:4], holder.trials_stamp))
    diverged: tuple[int, ...] = ()
    if not trials.empty:
        diverged = tuple(
            int(n) for n in trials.loc[trials["state"] == TrialState.DIVERGED.value, "number"]
        )
    batch_rows = _diverged_rows(storage_path(), study.id, diverged) if diverged else []
    return (
        study,
        trials,
        LiveCurves(rows, epochs, metrics, trials, batch_rows, holder),
        fingerprint,
    )


@st.cache_data(max_entries=32, show_spinner=False)
def _pruning(
    path: str, name: str, fingerprint: tuple[Any, ...]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    with Store(path) as store:
        study = store.get_study(name)
        decisions = store.prune_decisions(study.id)
    _, curves = _frames(path, name, fingerprint)  # cached under the same fingerprint
    return (
        frames.pruning_frame(decisions, study.spec.metric),
        frames.pruning_guides(study.spec, curves),
    )


@dataclass(frozen=True)
class Pruning:
    """A pruned study's extra frames: why each pruned trial stopped, and the rungs or median
    it was measured against (see :func:`frames.pruning_frame`, :func:`frames.pruning_guides`).
    """

    pruned: pd.DataFrame
    guides: pd.DataFrame


def pruning_frames(study: StudyRecord, fingerprint: tuple[Any, ...]) -> Pruning | None:
    """The study's pruning frames, cached until it changes; None when it has no pruner."""
    if not frames.has_pruner(study.spec):
        return None
    pruned, guides = _pruning(storage_path(), study.name, fingerprint)
    return Pruning(pruned, guides)


@st.cache_data(max_entries=16, show_spinner=False)
def _audit_report(
    path: str, name: str, fingerprints: tuple[tuple[Any, ...], ...]
) -> AuditReport | None:
    with Store(path) as store:
        return read_audit(store, name)


@dataclass(frozen=True)
class Audit:
    """A pruned study's audit (engine/audit.py): the report, and its full runs' curves as
    :func:`pruning_marks.audited_frame` draws them over the study's cuts."""

    report: AuditReport
    curves: pd.DataFrame


def audit_of(study: StudyRecord, fingerprint: tuple[Any, ...]) -> Audit | None:
    """The study's audit so far, cached until it or its audit study changes; None when it has
    none (``python -m tuning_core audit NAME`` makes one)."""
    if not frames.has_pruner(study.spec):
        return None
    with open_store() as store:
        audit = store.get_study(audit_name(study.name))
        if audit is None:
            return None
        audit_fingerprint = store.fingerprint(audit.id)
    report = _audit_report(storage_path(), study.name, (fingerprint, audit_fingerprint))
    if report is None:
        return None
    _, _, curves, _ = study_frames(audit.name)
    return Audit(report, pruning_marks.audited_frame(report, curves))


@st.cache_data(max_entries=64, show_spinner=False)
def _curves_template(
    metric: str,
    colouring: live.Colouring,
    title: str,
    shape_field: str | None,
    best_number: int | None,
    columns: tuple[str, ...],
    pruning: bool = False,
    direct_labels: bool = True,
    banded: bool = False,
) -> dict:
    text_columns = ("metric", "state", shape_field)
    empty = pd.DataFrame(
        {
            column: pd.Series(dtype="object" if column in text_columns else "float64")
            for column in columns
        }
    )
    # Empty frames switch the pruning layers on; their rows come with each rerun's data.
    pruned = frames.pruning_frame([], metric) if pruning else None
    guides = pd.DataFrame(columns=frames.GUIDE_COLUMNS) if pruning else None
    return chart_style.spec_without_data(
        curve_charts.curves_chart(
            empty,
            metric,
            colouring.field,
            colouring.log,
            chart_style.trial_selection(),
            title=title,
            color_domain=colouring.domain,
            shape_field=shape_field,
            best_number=best_number,
            highlight_column=True,
            pruned=pruned,
            guides=guides,
            direct_labels=direct_labels,
            # An empty band switches its layer on; its rows come with each rerun's data.
            band=curve_charts.band_frame(empty, metric) if banded else None,
        )
    )


def curves_view(
    curves: pd.DataFrame,
    metric: str,
    colouring: live.Colouring,
    title: str,
    key: str,
    highlighted: set[int] | None = None,
    shape_field: str | None = None,
    best_number: int | None = None,
    pruning: Pruning | None = None,
    sample: curve_charts.CurveSample | None = None,
    band: pd.DataFrame | None = None,
) -> set[int]:
    """Draw :func:`curve_charts.curves_chart` with a cached spec and this rerun's rows; returns the
    trial numbers clicked on it (shift-click adds), so the page can highlight them on its other
    charts too. ``highlighted`` trials are drawn solid and the rest faded; None or empty: all.
    With ``pruning`` the pruned trials' cuts, cut-offs, rungs and median are drawn too.
    With ``sample`` (:func:`curve_charts.sample_trials`) only its trials are drawn, over
    ``band`` (:func:`curve_charts.band_frame`), and the title says how many of how many.
    """
    sampled = sample is not None and sample.numbers is not None
    if sampled:
        curves = curves[curves["number"].isin(sample.numbers)]
    columns = tuple(
        c
        for c in dict.fromkeys(
            ("number", "epoch", "metric", "value", "state", colouring.field, shape_field)
        )
        if c
    )
    spec = _curves_template(
        metric, colouring, title, shape_field, best_number, columns, pruning is not None,
        curve_charts.direct_labels_fit(curves), sampled and band is not None,
    )  # fmt: skip
    if sampled:
        # The counts change as trials arrive: only the title is swapped, not the cached spec.
        shown = curve_charts.sampled_title(title, sample, band)
        spec = {**spec, "title": shown.to_dict() if isinstance(shown, alt.TitleParams) else shown}
    pruned = pruning.pruned if pruning else None
    if sampled and pruned is not None:
        pruned = pruned[pruned["number"].isin(sample.numbers)]  # no scissors without a line
    data = curve_charts.curves_data(
        curves,
        metric,
        colouring.field,
        shape_field,
        pruned,
        pruning.guides if pruning else None,
        best_number,
        band=band if sampled else None,
    )
    data["highlighted"] = data["number"].isin(highlighted) if highlighted else True
    event = st.vega_lite_chart(
        data, for_room(spec), width="stretch", on_select="rerun", selection_mode="trials", key=key
    )
    return _trials_in(event)


@st.cache_data(max_entries=16, show_spinner=False)
def _pareto_parts(
    path: str,
    name: str,
    trials_key: tuple[Any, ...],
    pair: tuple[str, str],
    directions: tuple[str, str],
    selected: int | None,
    _trials: pd.DataFrame,
) -> tuple[dict, pd.DataFrame]:
    # Keyed on the trials' part of the fingerprint: an epoch of a running trial leaves the
    # front as it was. At 10,000 trials the chart took ~0.4 s to build, and its rows inline
    # ~0.07 s to serialise as JSON on every rerun: they go apart, as a frame.
    spec = pareto_charts.pareto_chart(_trials, *pair, directions, selected).to_dict(validate=False)
    rows = pd.DataFrame(spec.pop("datasets")[spec.pop("data")["name"]])
    return spec, rows


def pareto_view(
    name: str,
    trials: pd.DataFrame,
    fingerprint: tuple[Any, ...],
    pair: tuple[str, str],
    directions: tuple[str, str],
    key: str,
    selected: int | None = None,
) -> set[int]:
    """Draw :func:`pareto_charts.pareto_chart` of ``pair`` (x, y columns of ``trials``, with
    their ``directions``), built once per finished trial and ``selected`` ring; returns the
    trial numbers clicked on it (shift-click adds), read the same way as the curve charts'
    (:func:`selected_trials` with ``key``)."""
    spec, rows = _pareto_parts(
        storage_path(), name, tuple(fingerprint[:4]), pair, directions, selected, trials
    )
    event = st.vega_lite_chart(
        rows, for_room(spec), width="stretch", on_select="rerun", selection_mode="trials", key=key
    )
    return _trials_in(event)


@st.cache_data(max_entries=16, show_spinner=False)
def _front(
    path: str, name: str, trials_key: tuple[Any, ...], _trials: pd.DataFrame, _spec: StudySpec
) -> live_front.Front:
    return live_front.study_front(_trials, _spec)


def study_front(
    study: StudyRecord, trials: pd.DataFrame, fingerprint: tuple[Any, ...]
) -> live_front.Front:
    """:func:`live_front.study_front`, computed once per finished trial (~0.07 s at 10,000)."""
    return _front(storage_path(), study.name, tuple(fingerprint[:4]), trials, study.spec)


def _trials_in(event: Any) -> set[int]:
    points = (event or {}).get("selection", {}).get("trials", []) if event else []
    return {int(point["number"]) for point in points if "number" in point}


def selected_trials(*keys: str) -> set[int]:
    """The trials clicked on the charts drawn under ``keys``, read before they are drawn again,
    so a click highlights its trial on every chart in the very rerun it causes."""
    return set().union(*(_trials_in(st.session_state.get(key)) for key in keys))


@st.cache_data(max_entries=16, show_spinner=False)
def batch_losses(
    path: str, name: str, trial_number: int, fingerprint: tuple[Any, ...]
) -> pd.DataFrame:
    """The in-epoch training losses of one trial: progress (in epochs) and loss."""
    with Store(path) as store:
        study = store.get_study(name)
        rows = store.batch_losses(study.id, trial_number) if study else []
    return pd.DataFrame(rows, columns=["progress", "loss"])


@st.cache_data(max_entries=16, show_spinner=False)
def _batch_rows(
    path: str, name: str, numbers: tuple[int, ...], fingerprint: tuple[Any, ...]
) -> list[tuple[int, float, float | None]]:
    with Store(path) as store:
        study = store.get_study(name)
        if study is None:
            return []
        return [
            (number, progress, loss)
            for number in numbers
            for progress, loss in store.batch_losses(study.id, number)
        ]


def running_losses(
    name: str,
    running: tuple[int, ...],
    curves: pd.DataFrame,
    metric: str,
    fingerprint: tuple[Any, ...],
) -> pd.DataFrame:
    """Every running trial's live loss (:func:`frames.running_losses_frame`): in-epoch training
    losses, or the metric per epoch for trials that write none; cached until the study changes.
    """
    rows = _batch_rows(storage_path(), name, running, fingerprint)
    return frames.running_losses_frame(rows, curves, list(running), metric)


def worker_timeline_of(study: StudyRecord) -> frames.Timeline | None:
    """The study's worker timeline now, or None for a study that never ran in parallel.

    Read afresh each rerun (one query for the trials, one for their workers): a trial's start
    on a worker does not change the store's fingerprint, and running bars grow with the clock.
    """
    with open_store() as store:
        workers = store.trial_workers(study.id)
        if not live.shows_timeline(study.spec, len(workers)):
            return None
        bars = worker_timeline(store.trials(study.id), workers)
    return frames.timeline_frame(bars, time.time())


@st.cache_data(max_entries=4, show_spinner=False)
def best_model_bytes(path: str, name: str, fingerprint: tuple[Any, ...]) -> bytes | None:
    """The best trial's saved ``best.keras`` (see the README), or None before there is one."""
    model = artifacts_dir(path, name) / "best.keras"
    return model.read_bytes() if model.is_file() else None


@st.cache_data(max_entries=8, show_spinner=False)
def playground_surface(function_name: str) -> pd.DataFrame:
    """The playground function's surface grid: fixed per function, so computed once."""
    return playground.surface_frame(playground.FUNCTIONS[function_name])


@st.cache_data(max_entries=8, show_spinner=False)
def playground_ladder(function_name: str) -> list[float]:
    """The α slider's steps: 40 per log range plus the function's preset rates exactly."""
    presets = playground.PRESETS_BY_FUNCTION.get(function_name, {}).values()
    return sorted({*forms.log_spaced(1e-4, 2.0, 40), *(p.learning_rate for p in presets)})
