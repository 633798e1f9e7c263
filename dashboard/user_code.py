"""New study's confirm step for a spec that runs the user's own code: the spec in words, the
file it would import (resolved as the worker will), a tick box, then Start.

Whatever brought the spec (an upload, a preset link, another page) it waits here: nothing is
imported or run until the user has ticked the box naming the file and pressed Start.
"""

from __future__ import annotations

import os
from typing import Any

import streamlit as st

from dashboard.common import open_study_in
from dashboard.security import plain
from tuning_core.views import user_code
from tuning_core.views.user_code import FOLDER_FIELD
from tuning_core.workers import launch_study, worker_import_path

HELD = "user_code_spec"


def hold(raw_spec: dict[str, Any]) -> None:
    """Keep a python objective's spec for the confirm step (it never fills the Keras form)."""
    st.session_state[HELD] = raw_spec


def held() -> dict[str, Any] | None:
    return st.session_state.get(HELD)


def release() -> None:
    st.session_state.pop(HELD, None)


def confirm_and_start(storage: str) -> None:
    """Draw the confirm step for the held spec; Start launches it once the file is ticked."""
    raw_spec = held()
    if raw_spec is None:
        return
    st.subheader("This spec runs your code")
    st.markdown("  \n".join(plain(line) for line in user_code.spec_lines(raw_spec)))
    folder = st.text_input(
        FOLDER_FIELD,
        value=os.getcwd(),
        key="code_folder",
        help="Goes on the worker's import path, as the spec file's folder does for "
        "python -m tuning_core run. The module is looked for there and on the usual path.",
    )
    code = user_code.resolve_user_code(
        raw_spec, folder, lambda resolved: worker_import_path(storage, resolved)
    )
    if code.problem is not None:
        st.error(plain(code.problem))
    else:
        st.warning(plain(code.sentence()))
        st.code(str(code.file), language=None)
    # Keyed by the file: a different folder (so a different file) needs a fresh tick.
    confirmed = st.checkbox(
        plain(f"I trust {code.file} and want it run") if code.file else "Nothing to confirm yet",
        key=f"confirm_code:{code.file}",
        disabled=code.file is None,
    )
    start_column, cancel_column = st.columns(2)
    with start_column:
        ready = confirmed and code.problem is None
        if st.button("Start", type="primary", disabled=not ready, key="start_user_code"):
            launch_study(storage, raw_spec, None, code_folder=code.folder)
            release()
            st.session_state["launched"] = raw_spec["name"]
            open_study_in("pages/live.py", raw_spec["name"])
    with cancel_column:
        if st.button("Cancel", key="cancel_user_code", help="Back to the form; nothing runs."):
            release()
            st.rerun()
