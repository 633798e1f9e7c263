"""The Strategy race page's reads: races in the store, and one race's frames, verdict and
member statuses, cached until one of its studies changes; read through the run's read model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.read_model import RaceRecord, ReadModel
from tuning_core.views import race as race_view


@dataclass(frozen=True)
class RaceView:
    """What the page draws for one race."""

    record: RaceRecord
    running: bool
    members: pd.DataFrame  # study, strategy, seed, status, trials, budget
    bands: pd.DataFrame
    time_bands: pd.DataFrame
    verdict: str
    clear_winner: bool  # the verdict names a winner whose band stands apart
    time_title: list[str]  # read off the wall-clock chart's own lines, one or two
    seconds_per_trial: dict[str, float]  # median wall seconds a trial, per strategy title
    measure: str  # "regret", "hypervolume" (several metrics) or the metric's name
    note: str  # what a hypervolume is measured from; empty for one metric
    log_y: bool
    lower_is_better: bool
    trials_done: int
    trials_total: int


def follow_suggestion(key: str, suggested: str) -> None:
    """Put ``suggested`` in the text input ``key`` until the user types a value of their own
    (then leave theirs): a default that follows the form's other fields."""
    previous = st.session_state.get(f"{key}__suggested")
    if st.session_state.get(key) in (None, previous):
        st.session_state[key] = suggested
    st.session_state[f"{key}__suggested"] = suggested


@st.cache_data(max_entries=16, show_spinner=False)
def _frames(
    path: str, name: str, fingerprint: tuple[Any, ...], _reads: ReadModel
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, list[tuple[Any, ...]], str]:
    record = _reads.race(name)
    rows, statuses = _reads.race_rows(record)
    titles = record.spec.titles()
    frame = race_view.race_frame(record.spec, rows)
    members = [
        (member.study_name, titles[member.label], member.seed, status, done, budget)
        for member, status, done, budget in statuses
    ]
    return (
        frame,
        race_view.convergence_frame(frame, titles),
        race_view.time_frame(frame, titles),
        members,
        race_view.hypervolume_note(frame),
    )


def race_view_of(reads: ReadModel, name: str) -> RaceView | None:
    """The race's bands, verdict and members, or None when there is no such race."""
    record = reads.race(name)
    if record is None:
        return None
    fingerprint = reads.race_fingerprint(record)
    frame, bands, time_bands, member_rows, note = _frames(reads.path, name, fingerprint, reads)
    members = pd.DataFrame(
        member_rows, columns=["study", "strategy", "seed", "status", "trials", "budget"]
    )
    objective = record.spec.objective
    measure = race_view.measure_of(objective)
    direction = race_view.judged_direction(objective)
    lower_is_better = race_view.lower_is_better(objective)
    running = reads.race_running(record)
    finished = record.status.value == "finished"
    total = sum(m.spec.planned_trials for m in record.spec.members)
    return RaceView(
        record=record,
        running=running,
        members=members,
        bands=bands,
        time_bands=time_bands,
        verdict=race_view.verdict(frame, record.spec.titles(), direction, measure, finished),
        clear_winner=race_view.has_clear_winner(frame, direction, measure),
        time_title=race_view.time_title(time_bands, measure, lower_is_better),
        seconds_per_trial=race_view.seconds_per_trial(frame, record.spec.titles()),
        measure=measure,
        note=note,
        log_y=measure == "regret",
        lower_is_better=lower_is_better,
        trials_done=int(members["trials"].sum()) if len(members) else 0,
        trials_total=total,
    )
