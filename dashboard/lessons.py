"""Opening a lesson: replay its recording for its page, or run its spec live instead.

A recording replays into the store without training: all at once (a few hundred rows,
milliseconds), or at ×10 or real time on a thread that only writes the store, so every page
draws it as a live study. Nothing here imports Keras.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
from pathlib import Path
from typing import Any

import streamlit as st

from dashboard.presenter import is_presenting
from dashboard.read_model import ReadModel, read_model, storage_path
from dashboard.security import plain
from dashboard.why_data import import_explainer, prepare_lesson
from tuning_core.engine.errors import SpecError
from tuning_core.reports.recording import (
    RaceRecording,
    Recording,
    RecordingError,
    load_recording,
    signed_asks,
)
from tuning_core.views.lessons import LESSONS, Lesson, lesson_named, lesson_of_study, speed_of
from tuning_core.workers import launch_race, launch_study

# How long to wait for a replay thread to create its study before showing the page anyway
# (the page then waits for it as for any starting worker).
STUDY_WAIT_S = 3.0
# The lesson this session ran live ("Run it live instead"): its study is no replay now.
LIVE_LESSON = "live_lesson"


def open_linked_lesson() -> None:
    """Before the page runs: a link's ``?lesson=KEY&speed=x10`` (the landing page's links point
    straight at the lesson's page) starts that lesson, and the page then shows its study.

    A recording replays here, in the server: at once, or at a speed on a background thread that
    only writes the store (no Streamlit call), so the first chart needs no process to start.
    A bad recording is one sentence.
    """
    lesson = lesson_named(st.query_params.get("lesson"))
    if lesson is None:
        return
    speed = speed_of(st.query_params.get("speed"))
    for parameter in ("lesson", "speed"):
        del st.query_params[parameter]  # a refresh or Back shows the study, not a new replay
    try:
        _replay(lesson, speed)
    except RecordingError as error:
        st.error(plain(str(error)))
        return
    st.session_state.pop(LIVE_LESSON, None)  # replayed again, no longer the live run
    st.session_state["current_study"] = lesson.study
    st.session_state["launched"] = lesson.study
    if lesson.page == "pages/race.py":
        st.session_state["launched_race"] = lesson.study
        st.session_state["race_choice"] = lesson.study
        st.query_params["race"] = lesson.study
    else:
        st.query_params["study"] = lesson.study
    if lesson.page == "pages/lr_lab.py":
        st.session_state["lr_study"] = lesson.study


_imports_started = threading.Event()


def prepare_in_background() -> None:
    """Once a server: on a thread, while the landing page is read, import scikit-optimize
    (~2 s) and rebuild the recorded asks (~0.3 s), so the Why lesson opens without waiting
    for either. The thread calls no Streamlit; an import it has begun is waited for, not
    repeated, by a page that needs the module first."""
    if _imports_started.is_set():
        return
    _imports_started.set()

    def prepare() -> None:
        import_explainer()
        for lesson in LESSONS:
            with contextlib.suppress(SpecError):  # said on the page when it is opened
                asks = _signed_asks(lesson.recording_path())
                if asks and lesson.page == "pages/why.py":
                    prepare_lesson(load_recording(lesson.recording_path()), asks)

    threading.Thread(target=prepare, name="prepare-lessons", daemon=True).start()


@functools.lru_cache(maxsize=16)
def _signed_asks(path: Path) -> dict[tuple[str, int], Any]:
    """A shipped recording's asks, rebuilt and signed once a server (the file never changes
    while it runs; the records are this user's, signed with their key)."""
    return signed_asks(load_recording(path))


def lesson_link_query(lesson: Lesson, speed_key: str) -> dict[str, str]:
    """The query a landing-page link carries (presenter mode kept)."""
    query = {"lesson": lesson.key, "speed": speed_key}
    if is_presenting(st.query_params):
        query["present"] = "1"
    return query


def _replay(lesson: Lesson, speed: float | None) -> None:
    recording = load_recording(lesson.recording_path())
    # Rebuilt and signed here, so a recording that does not fit its spec is an error on the
    # page, not a dead thread (and "Why this point?" has its records from the first trial).
    asks = _signed_asks(lesson.recording_path())
    with read_model() as reads:
        if speed is None:
            reads.replay(recording, asks)
            return
        # The old run goes before the page draws; the thread writes the new one at its pace.
        reads.delete_replayed(recording)
    started = threading.Event()
    threading.Thread(
        target=_replay_in_background, args=(storage_path(), recording, speed, started, asks),
        name=f"replay-{lesson.key}", daemon=True,
    ).start()  # fmt: skip
    started.wait(timeout=STUDY_WAIT_S)


def _replay_in_background(
    path: str,
    recording: Recording | RaceRecording,
    speed: float,
    started: threading.Event,
    asks: dict[tuple[str, int], Any],
) -> None:
    with ReadModel(path) as reads:  # the thread's own: a run's read model is not shared
        reads.replay(recording, asks, speed, started=started.set)


def run_live_button(name: str) -> None:
    """Under a replayed lesson (``name``: its study or race): say so, and offer to run it for
    real."""
    lesson = lesson_of_study(name)
    if lesson is None or is_presenting(st.query_params):
        return  # presenter mode hides the button: the caption alone would only take room
    race = lesson.page == "pages/race.py"
    if st.session_state.get(LIVE_LESSON) == name:
        st.caption("The lesson's spec, run live on this machine: open the lesson again to replay.")
        return
    left, right = st.columns([4, 1])
    left.caption(
        "A recorded lesson, replayed: nothing "
        + ("runs. Run it live to run the same spec on this machine (a few seconds)." if race
           or lesson.page == "pages/why.py" else
           "trains. Run it live to train the same spec on this machine (about a minute).")
    )  # fmt: skip
    if right.button("Run it live instead", key="run_live"):
        spec = json.loads(Path(lesson.spec_path()).read_text(encoding="utf-8"))
        with read_model() as reads:
            reads.delete_replayed(load_recording(lesson.recording_path()))
        if race:
            launch_race(storage_path(), spec)
            st.session_state["launched_race"] = lesson.study
        else:
            launch_study(storage_path(), spec)
        st.session_state["launched"] = lesson.study
        st.session_state[LIVE_LESSON] = lesson.study
        st.rerun()
