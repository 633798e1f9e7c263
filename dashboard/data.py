"""Cached reads of a study as DataFrames, and chart helpers that reuse specs across reruns.

Reads go through ``st.cache_data`` keyed on :meth:`Store.fingerprint`, so a rerun of an idle
study costs one small query; finished trials' curves are read once, since they never change.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboard.common import open_store, storage_path
from tuning_core.engine.storage import Store, StudyRecord
from tuning_core.reports import frames
from tuning_core.views import charts


@st.cache_data(max_entries=32, show_spinner=False)
def _finished_curves(
    path: str, study_id: int, finished_count: int, trials: pd.DataFrame
) -> pd.DataFrame:
    """Curves of finished trials: they never change, so one read per newly finished trial."""
    with Store(path) as store:
        return frames.curves_frame(store.epoch_metrics(study_id, finished=True), trials)


@st.cache_data(max_entries=32, show_spinner=False)
def _frames(
    path: str, name: str, fingerprint: tuple[Any, ...]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    with Store(path) as store:
        study = store.get_study(name)
        trials = frames.trials_frame(store.trials(study.id), study.spec)
        live_rows = store.epoch_metrics(study.id, finished=False)
    finished = trials[~trials["state"].isin(["queued", "running"])] if not trials.empty else trials
    done = _finished_curves(path, study.id, len(finished), finished)
    running = frames.curves_frame(live_rows, trials)
    curves = pd.concat([done, running], ignore_index=True) if len(running) else done
    return trials, curves


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


@st.cache_data(max_entries=64, show_spinner=False)
def _curves_template(
    metric: str,
    color_field: str | None,
    color_log: bool,
    title: str,
    selectable: bool,
    columns: tuple[str, ...],
) -> dict:
    empty = pd.DataFrame(
        {
            column: pd.Series(dtype="float64" if column not in ("metric", "state") else "object")
            for column in columns
        }
    )
    selection = charts.trial_selection() if selectable else None
    return charts.spec_without_data(
        charts.curves_chart(empty, metric, color_field, color_log, selection, title=title)
    )


def curves_view(
    curves: pd.DataFrame,
    metric: str,
    color_field: str | None,
    color_log: bool,
    title: str,
    selectable: bool = False,
) -> None:
    """Draw :func:`charts.curves_chart` with a cached spec and this rerun's rows."""
    columns = tuple(c for c in ("number", "epoch", "metric", "value", "state", color_field) if c)
    spec = _curves_template(metric, color_field, color_log, title, selectable, columns)
    st.vega_lite_chart(charts.curves_data(curves, metric, color_field), spec, width="stretch")


@st.cache_data(max_entries=16, show_spinner=False)
def batch_losses(
    path: str, name: str, trial_number: int, fingerprint: tuple[Any, ...]
) -> pd.DataFrame:
    """The in-epoch training losses of one trial: progress (in epochs) and loss."""
    with Store(path) as store:
        study = store.get_study(name)
        rows = store.batch_losses(study.id, trial_number) if study else []
    return pd.DataFrame(rows, columns=["progress", "loss"])
