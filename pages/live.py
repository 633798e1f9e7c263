"""Live study view: status, progress, the current trial, every trial's curves, the trial table."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from dashboard.chart_views import curves_view, pareto_view, selected_trials, study_front
from dashboard.common import selected_study
from dashboard.lessons import run_live_button
from dashboard.live_rows import live_frames
from dashboard.presenter import for_room
from dashboard.read_model import (
    ReadModel,
    StudyRecord,
    best_model_bytes,
    read_model,
    storage_path,
)
from dashboard.refresh import Drawn, redraw_while_active, study_drawn, study_now
from dashboard.security import begin_page, plain
from dashboard.sentences import in_page_words
from dashboard.study_frames import pruning_frames, running_losses
from dashboard.vocabulary import StudyStatus
from tuning_core.reports import frames
from tuning_core.views import curve_charts, live, live_charts, live_front
from tuning_core.workers import (
    dask_address_of,
    launch_study,
    request_stop,
    worker_log_tail,
)

# Each page starts so, as app.py does (twice is harmless): a page run on its own keeps the guards.
begin_page()

st.title("Live study")
name = selected_study()


PARETO_KEY = "pareto_chart"


def pareto_section(
    study: StudyRecord,
    trials: pd.DataFrame,
    fingerprint: tuple,
    picked: set[int],
    curves_below: bool,
) -> None:
    """A study of several metrics: its front, two metrics at a time, and the clicked point."""
    spec = study.spec
    front = study_front(study, trials, fingerprint)
    st.markdown(plain(live_front.front_sentence(front, spec)))
    if not front.numbers:
        return
    pairs = live_front.front_pairs(spec)
    pair = (
        st.selectbox(
            "Metrics drawn", pairs, format_func=live_front.pair_label, key="pareto_pair", width=420
        )
        if len(pairs) > 1
        else pairs[0]
    )
    directions = dict(live_front.front_goals(spec))
    ring = next(iter(picked)) if len(picked) == 1 else None
    pair_directions = (directions[pair[0]].value, directions[pair[1]].value)
    pareto_view(study.name, trials, fingerprint, pair, pair_directions, PARETO_KEY, ring)
    st.caption(plain(live_front.front_pair_caption(spec, curves_below)))
    if ring is not None:
        st.markdown(plain(live_front.picked_point_text(trials, ring, spec, front, curves_below)))


def live_view(study_name: str) -> Drawn:
    with read_model() as reads:  # the store opened once a run, for every read below
        return study_drawn(draw_live(reads, study_name))


def draw_live(reads: ReadModel, study_name: str) -> StudyRecord | None:
    """Draw the study's Live panel; returns the study's record as read for it (None: gone)."""
    study, trials, curves, fingerprint = live_frames(reads, study_name)
    if study is None or curves is None:
        st.warning(plain(f"The study {study_name!r} no longer exists."))
        return None
    timeline = reads.worker_timeline(study)
    status = live.live_summary(
        study,
        trials,
        time.time(),
        curves.epochs_recorded,
        timeline.wall_seconds if timeline else None,
        curves.epochs_by_trial,
    )
    head, action_column = st.columns([4, 1])
    head.markdown(f"**{plain(study_name)}** · {plain(status.status_line)}")
    if status.running:
        if action_column.button(
            "Stop",
            key="stop",
            help="Ask the worker to stop between batches; the study can be resumed later.",
        ):
            request_stop(storage_path(), study_name)
            st.toast("Stop requested")
    elif live.resumable(study, status) and action_column.button(
        "Resume",
        key="resume",
        help="Start a worker that carries on where this study stopped; finished trials are kept.",
    ):
        launch_study(
            storage_path(), study.spec.to_json(), dask_address_of(storage_path(), study_name)
        )
        st.toast("Resuming")
    st.progress(status.progress, text=status.progress_text)
    run_live_button(study_name)
    st.caption(plain(live.data_sentence(study.spec)))
    pruning = pruning_frames(reads, study, fingerprint)
    saved = frames.epochs_saved(study.spec, trials, curves.epochs_by_trial)
    if saved is not None and saved.trials:
        st.markdown(plain(saved.sentence()))
    if study.status == StudyStatus.FAILED:
        # Only a failed study's log matters, and only its last real error: TensorFlow's
        # start-up notices mention "errors" on every start.
        error = live.last_error_line(worker_log_tail(storage_path(), study_name, lines=200))
        shown = in_page_words(error.removeprefix("error: ")) if error else None
        st.error(plain(f"The worker failed: {shown}") if shown else "The worker failed.")
    best, current, download = st.columns([2, 3, 1])
    best.metric("Best so far", status.best_text, help=status.best_help)
    with current:
        label, running_text = status.running_line()
        if label:
            st.markdown(f"**{label}** {plain(running_text)}")
    model_bytes = best_model_bytes(storage_path(), study_name, fingerprint)
    if model_bytes is not None:
        download.download_button(
            "Best model",
            model_bytes,
            file_name=f"{study_name}_best.keras",
            mime="application/octet-stream",
            key="best_model",
            help="The best trial's trained Keras model (its best epoch), for keras.saving."
            "load_model.",
        )

    metric_names = set(curves.metrics)
    panels = live.curve_panels(study.spec, metric_names)
    best_number = live.best_trial_number(trials, study.spec.direction)
    # A point clicked on the front picks out its curves, as a click on a curve does.
    picked = selected_trials(*(panel.key for panel in panels), PARETO_KEY)
    if study.spec.multi_metric:
        pareto_section(study, trials, fingerprint, picked, bool(panels))
    if panels:
        choices = live.colour_choices(study.spec)
        colour_field = (
            st.selectbox("Colour curves by", choices, key="colour_by") if len(choices) > 1 else None
        )
        colouring = live.curve_colouring(study.spec, colour_field)
        shape_field = "optimizer" if "optimizer" in study.spec.space.names else None
        # Beyond a few hundred trials: the best, the running and the picked ones, and a sample.
        always = {*status.running_numbers, *picked, *([] if best_number is None else [best_number])}
        sample = curve_charts.sample_trials(trials, study.spec.direction, always)
        drawn = curves.of(sample.numbers)
        sampled = sample.numbers is not None
        bands = {panel.metric: curves.band(panel.metric) for panel in panels} if sampled else {}
        band_trials = max((int(b["trials"].max()) for b in bands.values() if len(b)), default=0)
        band_of = curves.band_of() if sampled else None  # a sample of that many finished
        # Two charts side by side; a function's one chart gets the whole width.
        for column, panel in zip(st.columns(len(panels)), panels, strict=True):
            with column:
                curves_view(
                    drawn, panel.metric, colouring, panel.title, panel.key, picked,
                    shape_field, best_number, pruning, sample,
                    bands.get(panel.metric), band_of,
                )  # fmt: skip
        best_text = (
            f"The thick line with a diamond is the best trial ({best_number}). "
            if (best_number is not None)
            else ""
        )
        st.caption(
            f"{curves.epochs_recorded:,} epochs recorded across {curves.trial_count:,} "
            f"trials. {best_text}"
            f"{sample.sentence(band_trials, band_of) + ' ' if sampled else ''}"
            "Look for curves that fall fast and keep falling; dashed lines with an × diverged. "
            f"Click a curve to pick it out{' on both charts' if len(panels) > 1 else ''} "
            "(shift-click for more, double-click clears)."
        )
        if pruning is not None:
            st.caption(live.pruning_caption(study.spec))
    # Outside the curve panels: a Keras trial's in-epoch losses arrive before its first epoch
    # (a user's build_model too: it is fitted with the same callbacks).
    if status.running_numbers:
        in_epoch = live.trains_keras(study.spec)
        metric = "loss" if in_epoch else study.spec.metric
        losses = running_losses(
            reads, study_name, status.running_numbers, curves.of(status.running_numbers), metric,
            fingerprint,
        )  # fmt: skip
        if not losses.empty:
            titles = live.running_losses_titles(in_epoch, losses["number"].nunique(), metric)
            # As a spec without Altair's schema validation: validating it took ~0.25 s of
            # each rerun at 10,000 trials under load, every time an epoch arrived.
            chart = live_charts.running_losses_chart(losses, *titles)
            st.vega_lite_chart(
                spec=for_room(chart.to_dict(validate=False)),
                width="stretch",
                key="running_losses",
            )
    if timeline is not None and not timeline.bars.empty:
        st.altair_chart(
            for_room(live_charts.timeline_chart(timeline.bars, timeline.unit)),
            width="stretch",
            key="timeline",
        )
    if timeline is not None and (not timeline.bars.empty or timeline.waiting):
        st.caption(live.timeline_caption(timeline.busy_text(), timeline.waiting))
    convergence = (
        frames.convergence_frame(trials, study.spec.direction) if not trials.empty else trials
    )
    # Not before a trial is complete: an empty chart with one tick said nothing.
    if len(panels) < 2 and not convergence.empty:
        st.altair_chart(
            for_room(live_charts.convergence_chart(convergence, study.spec.direction)),
            width="stretch",
        )
        st.caption(
            "Each dot is a trial; the red line is the best value so far: look for it to step down "
            "and flatten."
        )
    if not trials.empty:
        brackets = live.hyperband_brackets(study.spec, trials)
        pages = live.table_pages(len(trials))
        page = (
            st.number_input("Table page", 1, pages, 1, key="table_page", width=160)
            if pages > 1
            else 1
        )
        table = live.trial_table(live.table_page(trials, page), curves.epochs_by_trial, brackets)
        if pages > 1:
            st.caption(live.table_page_caption(len(trials), page))
        st.dataframe(
            table,
            hide_index=True,
            width="stretch",
            key="trial_table",
            column_config=live.table_column_config(),
        )
    return study


if name:
    # Redrawn every second while its worker writes; a finished study's page rests.
    redraw_while_active(f"live:{name}", lambda: live_view(name), lambda: study_now(name))
