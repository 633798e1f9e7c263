"""Compare trials: convergence, slices, parallel coordinates, importance, partial dependence."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import notes
from dashboard.common import selected_study
from dashboard.live_rows import live_frames
from dashboard.presenter import for_room
from dashboard.read_model import NOTE_MAX_CHARS, ReadModel, read_model
from dashboard.security import begin_page, plain
from dashboard.study_frames import audit_of, partial_dependence, pruning_frames
from dashboard.vocabulary import TrialState
from tuning_core.reports import frames
from tuning_core.views import (
    chart_style,
    compare,
    compare_charts,
    curve_charts,
    live,
    live_charts,
    pareto_charts,
    pruning_marks,
)

# Each page starts so, as app.py does (twice is harmless): a page run on its own keeps the guards.
begin_page()

st.title("Compare trials")
name = selected_study()


def compare_study(reads: ReadModel, name: str) -> pd.DataFrame:
    """The study's charts, from convergence to partial dependence; returns its trials."""
    study, trials, curves, fingerprint = live_frames(reads, name)
    spec = study.spec
    direction = spec.direction
    dimensions = frames.tuned_dimensions(spec)
    log_dimensions = frames.log_scaled_dimensions(spec)
    complete = trials[trials["state"] == TrialState.COMPLETE] if not trials.empty else trials
    best_number = live.best_trial_number(trials, direction)
    # Beyond a few hundred trials the curves and parallel lines are a stated sample.
    sample = curve_charts.sample_trials(
        trials, direction, [] if best_number is None else [best_number]
    )
    drawn = curves.of(sample.numbers)

    st.subheader("Convergence")
    st.caption(plain(live.data_sentence(spec)))
    if complete.empty:
        st.info("No complete trial yet.")
        st.stop()
    importance = frames.importance(trials, dimensions)
    summary = compare.plain_summary(spec, trials, importance)
    if summary:
        st.info(summary)
    asks = reads.asks(study.id) if spec.strategy["type"] == "bayesian" else {}
    initial = {number for number, (is_initial, _) in asks.items() if is_initial}
    st.altair_chart(
        for_room(
            live_charts.convergence_chart(
                frames.convergence_frame(trials, direction), direction, initial if asks else None
            )
        ),
        width="stretch",
    )
    st.caption(
        "Each dot is a trial, the line the best so far: a line that stops improving early means "
        "the search has settled."
        + (
            " Pruned trials are left out: their values are partial."
            if frames.has_pruner(spec)
            else ""
        )
        + (
            " Grey triangles are the Bayesian search's initial random points, drawn before it "
            "had a model; see why the others were chosen on the Why this point? page."
            if initial
            else ""
        )
    )

    pruning = pruning_frames(reads, study, fingerprint)
    if pruning is not None:
        st.subheader("Early stopping")
        saved = frames.epochs_saved(spec, trials, curves.epochs_by_trial)
        if saved is not None:
            st.markdown(plain(saved.sentence()))
        if spec.metric in curves.metrics:
            colouring = live.curve_colouring(spec)
            audit = audit_of(reads, study, fingerprint)
            st.altair_chart(
                for_room(
                    curve_charts.curves_chart(
                        drawn,
                        spec.metric,
                        colouring.field,
                        colouring.log,
                        title=f"{spec.metric} per epoch, pruned trials cut",
                        color_domain=colouring.domain,
                        best_number=best_number,
                        pruned=pruning.pruned,
                        guides=pruning.guides,
                        audited=audit.curves if audit else None,
                        sample=sample,
                    )
                ),
                width="stretch",
            )
            st.caption(live.pruning_caption(spec))
            if audit:
                st.markdown(plain(audit.report.sentence()))
                st.caption(plain(pruning_marks.audit_caption(audit.report)))

    timeline = reads.worker_timeline(study)
    if timeline is not None and not timeline.bars.empty:
        st.subheader("Workers")
        st.altair_chart(
            for_room(live_charts.timeline_chart(timeline.bars, timeline.unit)), width="stretch"
        )
        st.caption(live.timeline_caption(timeline.busy_text(), timeline.waiting))

    st.subheader("Each hyperparameter against the score")
    columns = st.columns(3)
    for index, dimension in enumerate(dimensions):
        columns[index % 3].altair_chart(
            for_room(compare_charts.slice_chart(trials, dimension, dimension in log_dimensions)),
            width="stretch",
        )
    st.caption(
        "Where the good scores cluster along an axis, that range matters; a flat cloud means the "
        "score barely depends on it."
    )

    st.subheader("Parallel coordinates")
    choices = live.colour_choices(spec)
    colour_field = (
        st.selectbox("Colour trials by", choices, key=f"compare_colour_{name}")
        if len(choices) > 1
        else None
    )
    colouring = live.curve_colouring(spec, colour_field)
    parallel = compare_charts.parallel_frame(trials, dimensions, log_dimensions, colouring.field)
    ticks = compare_charts.parallel_ticks(trials, dimensions, log_dimensions)
    if "loss" in curves.metrics:
        st.altair_chart(
            for_room(
                compare_charts.linked_parallel_and_curves(
                    parallel,
                    [*dimensions, "value"],
                    drawn,
                    "loss",
                    ticks,
                    colouring.field,
                    colouring.log,
                    colouring.domain,
                    pruning.pruned if pruning is not None else None,
                    sample,
                )
            ),
            width="content",
        )
        st.caption(
            "Each axis runs from its lowest to its highest value (log axes for log ranges). "
            "Click a trial's line to highlight its loss curve below (double-click to clear); "
            "a trial has the same colour in both."
            + (f" {sample.sentence()}" if sample.numbers else "")
        )
    else:
        st.altair_chart(
            for_room(
                compare_charts.parallel_coordinates_chart(
                    parallel,
                    [*dimensions, "value"],
                    chart_style.trial_selection(),
                    ticks,
                    colouring.field,
                    colouring.log,
                    colouring.domain,
                    sample,
                )
            ),
            width="stretch",
        )
        st.caption("Each axis runs from its lowest to its highest value.")

    st.subheader("Hyperparameter importance")
    if len(complete) < frames.MIN_TRIALS_FOR_IMPORTANCE:
        st.warning(
            f"Only {len(complete)} complete trials: importance needs at least "
            f"{frames.MIN_TRIALS_FOR_IMPORTANCE} to mean much."
        )
    if not importance.empty:
        st.altair_chart(for_room(compare_charts.importance_chart(importance)), width="stretch")
    st.caption(
        "Each bar is η², the correlation ratio over quartile bins: the "
        f"{frames.IMPORTANCE_MEANING}. The bars need not add up to 100%: η² ignores "
        "interactions, and hyperparameters that moved together share the credit."
    )

    if spec.strategy["type"] == "bayesian":
        st.subheader("Partial dependence")
        dependence = partial_dependence(reads, study, fingerprint, trials)
        if dependence.empty:
            st.info("The surrogate needs more complete trials than the initial random points.")
        else:
            st.altair_chart(
                for_room(compare_charts.partial_dependence_chart(dependence, log_dimensions))
            )
            st.caption(
                "The surrogate's predicted score along each dimension, averaged over the others: "
                "the shape the search believes in."
            )
    return trials


def notes_section(reads: ReadModel, name: str, trials: pd.DataFrame) -> None:
    st.subheader("Notes")
    study_column, trial_column = st.columns(2)
    with study_column.form(f"study_note_form_{name}", border=False):
        text = st.text_area(
            "Note on this study",
            value=notes.study_note(reads, name),
            max_chars=NOTE_MAX_CHARS,
            key=f"study_note_{name}",
            help="Plain text, kept in the store and in the CSV and JSON exports.",
        )
        if st.form_submit_button("Save study note"):
            problem = notes.save_note(reads, name, text)
            if problem:
                st.error(plain(problem))
            else:
                st.toast("Study note saved")
    noted = notes.trial_notes(reads, name)
    numbers = [int(n) for n in trials["number"]] if not trials.empty else []
    if numbers:
        with trial_column:
            number = st.selectbox(
                "Trial",
                numbers,
                index=len(numbers) - 1,
                format_func=lambda n: f"{n} (noted)" if n in noted else str(n),
                key=f"note_trial_{name}",
            )
            with st.form(f"trial_note_form_{name}_{number}", border=False):
                text = st.text_area(
                    f"Note on trial {number}",
                    value=noted.get(number, ""),
                    max_chars=NOTE_MAX_CHARS,
                    key=f"trial_note_{name}_{number}",
                )
                if st.form_submit_button("Save trial note"):
                    problem = notes.save_note(reads, name, text, trial=number)
                    if problem:
                        st.error(plain(problem))
                    else:
                        st.toast(f"Note on trial {number} saved")
                    noted = notes.trial_notes(reads, name)
    if noted:
        st.dataframe(compare.noted_trials(trials, noted), hide_index=True, width="stretch")


def several_studies(reads: ReadModel, name: str | None) -> None:
    """Other studies' convergence over this one's, and their hypervolume when they share
    several metrics."""
    st.subheader("Several studies")
    records = {study.name: study for study in reads.studies()}

    def _with_strategy(study_name: str) -> str:
        record = records.get(study_name)
        return f"{study_name} ({record.spec.strategy['type']})" if record else study_name

    picked = st.multiselect(
        "Overlay the convergence of",
        list(records),
        default=[name] if name in records else [],
        format_func=_with_strategy,
        # Keyed by the selected study, so opening another study does not keep the last default.
        key=f"overlay_{name}",
    )
    overlays = []
    read = {}
    for other in picked:
        other_study, other_trials, _, _ = live_frames(reads, other)
        if other_study is not None:
            read[_with_strategy(other)] = compare.metric_values(other_trials, other_study.spec)
        if other_study is not None and not other_trials.empty:
            frame = frames.convergence_frame(other_trials, other_study.spec.direction)
            overlays.append(frame.assign(study=_with_strategy(other)))
    if overlays:
        st.altair_chart(
            for_room(
                compare_charts.studies_convergence_chart(pd.concat(overlays, ignore_index=True))
            ),
            width="stretch",
        )
        st.caption(
            "Compare how fast each study's best value improves per trial (its search strategy in "
            "brackets); compare like with like (same metric)."
        )

    # Studies of the same several metrics: how fast each one's front grows, from one corner.
    goals = compare.shared_goals([records[other].spec for other in picked if other in records])
    if goals:
        volumes = pareto_charts.hypervolume_frame(read, goals)
        if not volumes.empty:
            st.subheader("Hypervolume")
            st.altair_chart(for_room(pareto_charts.hypervolume_chart(volumes)), width="stretch")
            st.caption(plain(compare.hypervolume_caption(pareto_charts.reference_caption(volumes))))


with read_model() as reads:  # the store opened once this run, for every section's reads
    if name:
        notes_section(reads, name, compare_study(reads, name))
    several_studies(reads, name)
