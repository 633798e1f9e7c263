"""Cached reads of a study as DataFrames, and chart helpers that reuse specs across reruns.

Reads go through ``st.cache_data`` keyed on :meth:`Store.fingerprint`, so a rerun of an idle
study costs one small query; finished trials' curves are read once, since they never change.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.common import open_store, storage_path
from dashboard.presenter import for_room
from tuning_core.engine.audit import AuditReport, audit_name, read_audit
from tuning_core.engine.records import worker_timeline
from tuning_core.engine.states import TrialState
from tuning_core.engine.storage import Store, StudyRecord, artifacts_dir
from tuning_core.reports import frames
from tuning_core.views import chart_style, curve_charts, forms, live, playground, pruning_marks


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
        trials = frames.trials_frame(store.trials(study.id), study.spec)
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
) -> set[int]:
    """Draw :func:`curve_charts.curves_chart` with a cached spec and this rerun's rows; returns the
    trial numbers clicked on it (shift-click adds), so the page can highlight them on its other
    charts too. ``highlighted`` trials are drawn solid and the rest faded; None or empty: all.
    With ``pruning`` the pruned trials' cuts, cut-offs, rungs and median are drawn too.
    """
    columns = tuple(
        c
        for c in dict.fromkeys(
            ("number", "epoch", "metric", "value", "state", colouring.field, shape_field)
        )
        if c
    )
    spec = _curves_template(
        metric, colouring, title, shape_field, best_number, columns, pruning is not None,
        curve_charts.direct_labels_fit(curves),
    )  # fmt: skip
    data = curve_charts.curves_data(
        curves,
        metric,
        colouring.field,
        shape_field,
        pruning.pruned if pruning else None,
        pruning.guides if pruning else None,
        best_number,
    )
    data["highlighted"] = data["number"].isin(highlighted) if highlighted else True
    event = st.vega_lite_chart(
        data, for_room(spec), width="stretch", on_select="rerun", selection_mode="trials", key=key
    )
    return _trials_in(event)


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
