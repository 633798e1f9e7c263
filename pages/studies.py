"""Studies: list, open, export and delete."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import streamlit as st

from dashboard.common import open_study_in
from dashboard.read_model import StudySummary, read_model, study_running
from dashboard.security import begin_page, plain
from dashboard.sentences import in_page_words

# Each page starts so, as app.py does (twice is harmless): a page run on its own keeps the guards.
begin_page()

st.title("Studies")
# Set just before the rerun that follows a delete, so the message outlives that rerun.
deleted_message = st.session_state.pop("deleted_message", None)
if deleted_message:
    st.success(deleted_message)


def study_table(rows: list[StudySummary]) -> str:
    """The studies as a table, and the picker under it; returns the picked study's name."""
    table = pd.DataFrame([dataclasses.asdict(row) for row in rows])
    # A pruned study's trials trained fewer epochs: worth knowing before comparing studies.
    columns = ["name", "status", "strategy", "pruner", "done", "budget", "best_value"]
    table = table[[*columns, "metric", "direction"]]
    st.dataframe(table, hide_index=True, width="stretch", key="studies_table")
    names = [row.name for row in rows]
    wanted = st.query_params.get("study")
    return st.selectbox(
        "Study",
        names,
        index=names.index(wanted) if wanted in names else len(names) - 1,
        key="study_choice",
    )


with read_model() as reads:  # the store opened once this run
    rows = reads.summaries()
    if not rows:
        st.info("No studies yet: create one on the New study page.")
        st.stop()
    name = study_table(rows)
    study = reads.study(name)
    exports = reads.exports(study)
script_problem = exports.script_problem and in_page_words(exports.script_problem)

open_column, csv_column, json_column, script_column = st.columns(4)
if open_column.button("Open in live view", key="open"):
    open_study_in("pages/live.py", name)
csv_column.download_button(
    "Export CSV", exports.csv, file_name=f"{name}.csv", mime="text/csv", key="csv"
)
json_column.download_button(
    "Export JSON", exports.json, file_name=f"{name}.json", mime="application/json", key="json"
)
script_column.download_button(
    "Keras script",
    exports.script or "",
    file_name=f"{name}_best.py",
    mime="text/x-python",
    key="script",
    disabled=exports.script is None,
    help=script_problem or "A standalone Keras 3 script that retrains the best trial.",
)

with st.expander("Spec"):
    st.code(json.dumps(study.spec.to_json(), indent=2), language="json")

st.subheader("Delete")
# Typing the name is an intent that clicks cannot give: were a page ever to trick clicks into
# the dashboard (the frame guard refuses other sites' frames), it still could not delete.
typed = st.text_input(
    plain(f"To delete {name!r} and all its trials, type its name"), key=f"confirm_delete_{name}"
)
# Streamlit discards a forged click on a disabled button; the name is checked again anyway.
if st.button("Delete study", disabled=typed != name, key="delete") and typed == name:
    if study_running(study):
        st.error(plain(f"{name!r} is running: stop it in the live view before deleting it."))
    else:
        with read_model() as reads:
            reads.delete_study(name)
        st.session_state["deleted_message"] = f"Deleted {name!r} and all its trials."
        st.rerun()
