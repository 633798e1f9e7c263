"""New study's "Your data (CSV)" section: the upload, the target, and the preview (layout only;
what it shows comes from tuning_core.views.table_form)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from dashboard.security import plain
from tuning_core.engine.errors import DatasetError, SpecError
from tuning_core.engine.tasks import TASKS
from tuning_core.training import tables
from tuning_core.views import table_form

_SAVED = "uploaded_table"


@st.cache_data(max_entries=4, show_spinner=False)
def _read(path: str, size: int) -> tables.Table:
    # The size is part of the key, so a replaced file is read again.
    return tables.read_csv(path)


def csv_section(storage: str, loaded_path: str | None = None) -> tuple[str, dict[str, Any]]:
    """Draw the section; returns the dataset path for the spec ("" until a file is uploaded)
    and the objective fields it sets (the target, a task chosen by hand)."""
    uploaded = st.file_uploader(
        table_form.UPLOAD_FIELD,
        type=["csv"],
        key="table_upload",
        help=(
            f"A table with a header row, UTF-8, up to "
            f"{table_form.MAX_UPLOAD_BYTES // 1_000_000} MB. It is saved beside the store, and "
            "the spec names the saved file, so the study can be run again."
        ),
    )
    if uploaded is not None:
        problem = table_form.upload_problem(uploaded.name, uploaded.size)
        if problem:
            st.error(plain(problem))
            return "", {}
        if st.session_state.get(f"{_SAVED}_id") != uploaded.file_id:
            saved = table_form.save_upload(uploaded.getvalue(), uploaded.name, storage)
            st.session_state[_SAVED] = str(saved)
            st.session_state[f"{_SAVED}_id"] = uploaded.file_id
    path = st.session_state.get(_SAVED) or loaded_path
    if not path:
        st.caption("Upload a CSV to pick the column to predict.")
        return "", {}
    try:
        table = _read(path, Path(path).stat().st_size)
    except (DatasetError, OSError) as error:
        st.error(plain(str(error)))
        return path, {}
    st.caption(plain(f"Saved as {path} ({table.rows:,} rows, {len(table.columns)} columns)."))
    target = st.selectbox(
        "Column to predict (target)",
        table.names,
        index=len(table.names) - 1,
        key="table_target",
        help="Every other column is a feature.",
    )
    task_choice = st.radio(
        "Task",
        ["inferred", *TASKS],
        horizontal=True,
        key="table_task",
        help="Classes for bool, text or whole-number targets with at most 50 values, "
        "regression otherwise; override it here.",
    )
    task = None if task_choice == "inferred" else task_choice
    try:
        info = table_form.preview(table, target, task)
    except SpecError as error:
        st.error(plain(str(error)))
        return path, {"target": target}
    st.dataframe(info.head, hide_index=True, width="stretch", key="table_head")
    st.markdown("**Task:** " + plain(info.task_text))
    st.altair_chart(table_form.target_chart(info), width="stretch", key="table_target_chart")
    for why in info.refused.values():
        st.warning(plain(why))
    if info.summary:
        st.caption(plain(f"Preparation: {info.summary}."))
    extras: dict[str, Any] = {"target": target}
    if task:
        extras["task"] = task
    return path, extras
