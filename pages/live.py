"""Live study view: status, progress, the current trial, every trial's curves, the trial table."""

from __future__ import annotations

import time

import streamlit as st

from dashboard.common import REFRESH_SECONDS, selected_study, storage_path
from dashboard.data import batch_losses, curves_view, study_frames
from dashboard.security import refuse_foreign_hosts
from tuning_core.engine.states import StudyStatus
from tuning_core.engine.workers import request_stop, worker_log_tail
from tuning_core.reports import frames
from tuning_core.views import charts, live

# A deep link runs this page without app.py, so each page checks the Host itself.
refuse_foreign_hosts()

st.title("Live study")
name = selected_study()


@st.fragment(run_every=REFRESH_SECONDS)
def live_view(study_name: str) -> None:
    study, trials, curves, fingerprint = study_frames(study_name)
    if study is None:
        st.warning(f"The study {study_name!r} no longer exists.")
        return
    status = live.live_summary(study, trials, time.time())
    head, stop_column = st.columns([4, 1])
    head.markdown(f"**{study_name}** · {status.status_line}")
    if status.running and stop_column.button(
        "Stop",
        key="stop",
        help="Ask the worker to stop between batches; the study can be resumed later.",
    ):
        request_stop(storage_path(), study_name)
        st.toast("Stop requested")
    st.progress(status.progress, text=status.progress_text)
    if study.status == StudyStatus.FAILED or (
        status.done == 0 and not status.running and study.status != StudyStatus.CREATED
    ):
        log = worker_log_tail(storage_path(), study_name)
        if log:
            st.code(log, language=None)
    best, current = st.columns(2)
    best.metric("Best so far", status.best_text, help=status.best_help)
    with current:
        if status.current_params:
            st.markdown("**Current trial** " + status.current_text)

    metric_names = set(curves["metric"]) if not curves.empty else set()
    color_field, color_log = live.curve_colouring(study.spec)
    if {"loss", "val_accuracy"} <= metric_names:
        left, right = st.columns(2)
        with left:
            curves_view(curves, "loss", color_field, color_log, "training loss", selectable=True)
        with right:
            curves_view(curves, "val_accuracy", color_field, color_log, "validation accuracy")
        st.caption(
            f"{live.epochs_recorded(curves)} epochs recorded across {curves['number'].nunique()} "
            "trials. "
            "Look for curves that fall fast and keep falling; dashed lines with an × diverged. "
            "Click a loss curve to pick it out."
        )
        if status.current_number is not None:
            losses = batch_losses(storage_path(), study_name, status.current_number, fingerprint)
            if not losses.empty:
                st.altair_chart(
                    charts.batch_loss_chart(
                        losses,
                        f"current trial {status.current_number}: training loss within epochs",
                    ),
                    width="stretch",
                )
    elif not trials.empty:
        convergence = frames.convergence_frame(trials, study.spec.direction)
        st.altair_chart(
            charts.convergence_chart(convergence, study.spec.direction),
            width="stretch",
        )
        st.caption(
            "Each dot is a trial; the red line is the best value so far: look for it to step down "
            "and flatten."
        )
    if not trials.empty:
        st.dataframe(live.trial_table(trials), hide_index=True, width="stretch", key="trial_table")


if name:
    live_view(name)
