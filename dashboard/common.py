"""Helpers shared by the pages: the store path, the study picker, launching into other pages.

This module stays light (no pandas, no Altair) so the first page draws fast; the cached
DataFrame reads and chart helpers are in dashboard/data.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from dashboard.security import plain
from tuning_core.engine.records import StudySummary, study_summaries
from tuning_core.engine.storage import Store, StudyRecord, default_storage_path
from tuning_core.workers import worker_log_tail

REFRESH_SECONDS = 1.0


def storage_path() -> str:
    """The store the CLI uses too: $TUNING_LAB_STORAGE, else ./tuning_lab.db."""
    return str(Path(os.environ.get("TUNING_LAB_STORAGE") or default_storage_path()).resolve())


def open_store() -> Store:
    return Store(storage_path())


def list_studies() -> list[StudySummary]:
    """Every study with its progress and best value (reads all trials: for the Studies table)."""
    if not Path(storage_path()).exists():
        return []
    with open_store() as store:
        return study_summaries(store)


def study_records() -> list[StudyRecord]:
    """Every study's row, without its trials: enough for pickers."""
    if not Path(storage_path()).exists():
        return []
    with open_store() as store:
        return store.studies()


def selected_study(label: str = "Study", key: str = "study") -> str | None:
    """A study picker that remembers its choice in the URL (?study=...), so a refresh keeps it."""
    names = [study.name for study in study_records()]
    wanted = st.query_params.get("study") or st.session_state.get("current_study")
    if wanted and wanted not in names and st.session_state.get("launched") == wanted:
        _wait_for_worker(wanted)
        return None
    if not names:
        st.info(
            "No studies yet: create one on the New study page, or run `python -m tuning_core run "
            "SPEC.json`."
        )
        return None
    index = names.index(wanted) if wanted in names else len(names) - 1
    name = st.selectbox(label, names, index=index, key=key)
    st.query_params["study"] = name
    st.session_state["current_study"] = name
    return name


@st.fragment(run_every=REFRESH_SECONDS)
def _wait_for_worker(name: str) -> None:
    """Until a just-launched worker has created its study (it imports TensorFlow first)."""
    if name in [study.name for study in study_records()]:
        st.rerun()
    st.info(plain(f"Starting the worker for {name!r}…"))
    log = worker_log_tail(storage_path(), name)
    if "error" in log:
        st.code(log, language=None)  # the worker's own words, shown as text


def open_study_in(page: str, name: str) -> None:
    st.session_state["current_study"] = name
    st.switch_page(page, query_params={"study": name})
