"""Opening a lesson: replay its recording (or start its quick live run) for its page.

A recording replays into the store without training: all at once (a few hundred rows,
milliseconds), or at ×10 or real time on a thread that only writes the store, so every page
draws it as a live study. Nothing here imports Keras.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import streamlit as st

from dashboard.common import open_store, storage_path
from dashboard.presenter import is_presenting
from dashboard.security import plain
from tuning_core.engine.storage import Store
from tuning_core.reports.recording import Recording, RecordingError, load_recording, replay
from tuning_core.views.lessons import Lesson, lesson_named, lesson_of_study, speed_of
from tuning_core.workers import launch_race, launch_study

# How long to wait for a replay thread to create its study before showing the page anyway
# (the page then waits for it as for any starting worker).
STUDY_WAIT_S = 3.0


def open_linked_lesson() -> None:
    """Before the page runs: a link's ``?lesson=KEY&speed=x10`` (the landing page's links point
    straight at the lesson's page) starts that lesson, and the page then shows its study.

    A recording replays here, in the server: at once, or at a speed on a background thread that
    only writes the store (no Streamlit call), so the first chart needs no process to start.
    A live lesson starts its worker as the pages do. A bad recording is one sentence.
    """
    lesson = lesson_named(st.query_params.get("lesson"))
    if lesson is None:
        return
    speed = speed_of(st.query_params.get("speed"))
    for parameter in ("lesson", "speed"):
        del st.query_params[parameter]  # a refresh or Back shows the study, not a new replay
    try:
        if lesson.recording:
            _replay(lesson, speed)
        elif lesson.page == "pages/race.py":
            launch_race(storage_path(), dict(lesson.live_spec or {}))
        else:
            launch_study(storage_path(), dict(lesson.live_spec or {}))
    except RecordingError as error:
        st.error(plain(str(error)))
        return
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


def lesson_link_query(lesson: Lesson, speed_key: str) -> dict[str, str]:
    """The query a landing-page link carries (presenter mode kept)."""
    query = {"lesson": lesson.key, "speed": speed_key}
    if is_presenting(st.query_params):
        query["present"] = "1"
    return query


def _replay(lesson: Lesson, speed: float | None) -> None:
    path = lesson.recording_path()
    assert path is not None
    recording = load_recording(path)
    with open_store() as store:
        if speed is None:
            replay(store, recording)
            return
        # The study exists before the page draws; the thread writes the rest at its pace.
        store.delete_study(lesson.study)
    started = threading.Event()
    threading.Thread(
        target=_replay_in_background, args=(storage_path(), recording, speed, started),
        name=f"replay-{lesson.key}", daemon=True,
    ).start()  # fmt: skip
    started.wait(timeout=STUDY_WAIT_S)


def _replay_in_background(
    path: str, recording: Recording, speed: float, started: threading.Event
) -> None:
    with Store(path) as store:
        replay(store, recording, speed, worker_pid=os.getpid(), started=started.set)


def run_live_button(study_name: str) -> None:
    """Under a replayed lesson: say so, and offer to train it for real."""
    lesson = lesson_of_study(study_name)
    if lesson is None or not lesson.recording or is_presenting(st.query_params):
        return  # presenter mode hides the button: the caption alone would only take room
    left, right = st.columns([4, 1])
    left.caption(
        "A recorded lesson, replayed: nothing trains. Run it live to train the same spec on "
        "this machine (about a minute)."
    )
    if right.button("Run it live instead", key="run_live"):
        import json  # noqa: PLC0415

        spec = json.loads(Path(lesson.spec_path()).read_text(encoding="utf-8"))
        with open_store() as store:
            store.delete_study(lesson.study)
        launch_study(storage_path(), spec)
        st.session_state["launched"] = lesson.study
        st.rerun()
