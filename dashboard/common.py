"""Helpers shared by the pages: the study picker, launching into other pages.

The store is read through the read model (read_model.py); the cached DataFrames are in
study_frames.py and live_rows.py, the charts in chart_views.py.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from dashboard.read_model import ReadModel, read_model, storage_path
from dashboard.security import plain
from tuning_core.workers import worker_log_tail

REFRESH_SECONDS = 1.0
# How often a page at rest looks for a change made elsewhere (see dashboard/refresh.py). Even
# a fragment run that draws nothing cost about 0.35 s of CPU (Streamlit and Chromium
# together): polling every second only halved the idle cost, every 3 s cuts it by about 80%,
# and a worker started elsewhere takes longer than that to import TensorFlow and write its
# first row.
REST_POLL_SECONDS = 3.0


def _study_names() -> list[str]:
    with read_model() as reads:
        return [study.name for study in reads.studies()]


def selected_study(label: str = "Study", key: str = "study") -> str | None:
    """A study picker that remembers its choice in the URL (?study=...), so a refresh keeps it."""
    names = _study_names()
    wanted = st.query_params.get("study") or st.session_state.get("current_study")
    if wanted and wanted not in names and st.session_state.get("launched") == wanted:
        _wait_for_worker(wanted)
        return None
    if not names:
        st.info(
            "No studies yet: create one on the New study page, or run `python -m tuning_core run "
            "SPEC.json`."
        )
        rerun_once(lambda reads: bool(reads.studies()))
        return None
    index = names.index(wanted) if wanted in names else len(names) - 1
    name = st.selectbox(label, names, index=index, key=key)
    st.query_params["study"] = name
    st.session_state["current_study"] = name
    return name


def rerun_once(found: Callable[[ReadModel], bool]) -> None:
    """On a page with nothing to show yet (no study, no race): rerun it once ``found`` holds
    of the store, looked at every REST_POLL_SECONDS. A study or race started from the CLI, the
    API or another tab appears by itself; "No studies yet" stayed until a click."""
    st.fragment(run_every=REST_POLL_SECONDS)(_rerun_if)(found)


def _rerun_if(found: Callable[[ReadModel], bool]) -> None:
    with read_model() as reads:
        if found(reads):
            st.rerun()


@st.fragment(run_every=REFRESH_SECONDS)
def _wait_for_worker(name: str) -> None:
    """Until a just-launched worker has created its study (it imports TensorFlow first)."""
    if name in _study_names():
        st.rerun()
    st.info(plain(f"Starting the worker for {name!r}…"))
    log = worker_log_tail(storage_path(), name)
    if "error" in log:
        st.code(log, language=None)  # the worker's own words, shown as text


def open_study_in(page: str, name: str) -> None:
    st.session_state["current_study"] = name
    st.switch_page(page, query_params={"study": name})
