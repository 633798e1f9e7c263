"""Helpers shared by the pages: the store path, cached reads keyed on the store's fingerprint.

Reads go through ``st.cache_data`` keyed on :meth:`Store.fingerprint`, so a rerun of an idle
study costs one small query; logic lives in tuning_core, layout in the pages.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from tuning_core import analysis, charts
from tuning_core.storage import Store, StudyRecord, default_storage_path
from tuning_core.workers import worker_log_tail

REFRESH_SECONDS = 1.0


def storage_path() -> str:
    """The store the CLI uses too: $TUNING_LAB_STORAGE, else ./tuning_lab.db."""
    return str(Path(os.environ.get("TUNING_LAB_STORAGE") or default_storage_path()).resolve())


def open_store() -> Store:
    return Store(storage_path())


def list_studies() -> list[dict[str, Any]]:
    if not Path(storage_path()).exists():
        return []
    with open_store() as store:
        return analysis.study_summaries(store)


@st.cache_data(max_entries=32, show_spinner=False)
def _finished_curves(path: str, study_id: int, finished_count: int, trials: pd.DataFrame) -> pd.DataFrame:
    """Curves of finished trials: they never change, so one read per newly finished trial."""
    with Store(path) as store:
        return analysis.curves_frame(store.epoch_metrics(study_id, finished=True), trials)


@st.cache_data(max_entries=32, show_spinner=False)
def _frames(path: str, name: str, fingerprint: tuple[Any, ...]) -> tuple[pd.DataFrame, pd.DataFrame]:
    with Store(path) as store:
        study = store.get_study(name)
        trials = analysis.trials_frame(store.trials(study.id), study.spec)
        live_rows = store.epoch_metrics(study.id, finished=False)
    finished = trials[~trials["state"].isin(["queued", "running"])] if not trials.empty else trials
    done = _finished_curves(path, study.id, len(finished), finished)
    running = analysis.curves_frame(live_rows, trials)
    curves = pd.concat([done, running], ignore_index=True) if len(running) else done
    return trials, curves


def study_frames(name: str) -> tuple[StudyRecord | None, pd.DataFrame, pd.DataFrame, tuple[Any, ...]]:
    """(study, trials, curves, fingerprint); the DataFrames are cached until the study changes."""
    with open_store() as store:
        study = store.get_study(name)
        if study is None:
            return None, pd.DataFrame(), pd.DataFrame(), ()
        fingerprint = store.fingerprint(study.id)
    trials, curves = _frames(storage_path(), name, fingerprint)
    return study, trials, curves, fingerprint


def selected_study(label: str = "Study", key: str = "study") -> str | None:
    """A study picker that remembers its choice in the URL (?study=...), so a refresh keeps it."""
    names = [row["name"] for row in list_studies()]
    wanted = st.query_params.get("study") or st.session_state.get("current_study")
    if wanted and wanted not in names and st.session_state.get("launched") == wanted:
        _wait_for_worker(wanted)
        return None
    if not names:
        st.info("No studies yet: create one on the New study page, or run `python -m tuning_core run SPEC.json`.")
        return None
    index = names.index(wanted) if wanted in names else len(names) - 1
    name = st.selectbox(label, names, index=index, key=key)
    st.query_params["study"] = name
    st.session_state["current_study"] = name
    return name


@st.fragment(run_every=REFRESH_SECONDS)
def _wait_for_worker(name: str) -> None:
    """Until a just-launched worker has created its study (it imports TensorFlow first)."""
    if name in [row["name"] for row in list_studies()]:
        st.rerun()
    st.info(f"Starting the worker for {name!r}…")
    log = worker_log_tail(storage_path(), name)
    if "error" in log:
        st.error(log)


def open_study_in(page: str, name: str) -> None:
    st.session_state["current_study"] = name
    st.switch_page(page, query_params={"study": name})


def load_into_form(values: dict[str, Any]) -> None:
    """Make ``values`` (widget name -> value) the New-study form's defaults.

    The form's widget keys carry a version; bumping it re-creates every widget with these
    defaults, which avoids writing widget state through the Session State API.
    """
    st.session_state["form_defaults"] = values
    st.session_state["form_version"] = st.session_state.get("form_version", 0) + 1


@st.cache_data(max_entries=64, show_spinner=False)
def _curves_template(metric: str, color_field: str | None, color_log: bool, title: str, selectable: bool, columns: tuple[str, ...]) -> dict:
    empty = pd.DataFrame({column: pd.Series(dtype="float64" if column not in ("metric", "state") else "object") for column in columns})
    selection = charts.trial_selection() if selectable else None
    return charts.spec_without_data(charts.curves_chart(empty, metric, color_field, color_log, selection, title=title))


def curves_view(curves: pd.DataFrame, metric: str, color_field: str | None, color_log: bool, title: str, selectable: bool = False) -> None:
    """Draw :func:`charts.curves_chart` with a cached spec and this rerun's rows."""
    columns = tuple(c for c in ("number", "epoch", "metric", "value", "state", color_field) if c)
    spec = _curves_template(metric, color_field, color_log, title, selectable, columns)
    st.vega_lite_chart(charts.curves_data(curves, metric, color_field), spec, width="stretch")


@st.cache_data(max_entries=16, show_spinner=False)
def batch_losses(path: str, name: str, trial_number: int, fingerprint: tuple[Any, ...]) -> pd.DataFrame:
    """The in-epoch training losses of one trial: progress (in epochs) and loss."""
    with Store(path) as store:
        study = store.get_study(name)
        rows = store.batch_losses(study.id, trial_number) if study else []
    return pd.DataFrame(rows, columns=["progress", "loss"])
