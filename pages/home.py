"""Landing page: the lessons, one click each; New study is one page further."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard.lessons import lesson_link_query, prepare_in_background
from dashboard.security import begin_page
from tuning_core.reports.recording import load_recording
from tuning_core.views import lessons

# Each page starts so, as app.py does (twice is harmless): a page run on its own keeps the guards.
begin_page()

st.title("Tuning Lab")
st.markdown(
    "See how hyperparameters shape training. Each lesson replays a recorded run, drawn as if "
    "live: the race and Why this point? on a test function, the others on the bundled digits "
    "data. "
    "**New study** (in the menu) tunes your own."
)


@st.cache_resource(show_spinner=False)
def preview(key: str) -> Any:
    """The lesson's recorded curves, small; built once per server (never changed after)."""
    lesson = lessons.lesson_named(key)
    recording = load_recording(lesson.recording_path())
    return lessons.preview_chart(lessons.preview_frame(recording))


speed_key = (
    st.segmented_control(
        "Replay speed",
        list(lessons.SPEED_LABELS),
        default=st.query_params.get("speed", lessons.DEFAULT_SPEED)
        if st.query_params.get("speed") in lessons.SPEED_LABELS
        else lessons.DEFAULT_SPEED,
        format_func=lessons.SPEED_LABELS.get,
        key="lesson_speed",
    )
    or lessons.DEFAULT_SPEED
)
for row in range(0, len(lessons.LESSONS), 2):
    for column, lesson in zip(st.columns(2), lessons.LESSONS[row : row + 2], strict=False):
        with column.container(border=True):
            st.markdown(f"**{lesson.title}**")
            st.caption(lesson.question)
            # A glimpse of the recorded run (and the browser loads its chart code now, not on
            # the click).
            st.altair_chart(preview(lesson.key), width="stretch")
            st.page_link(
                lesson.page,
                label="Open the lesson",
                icon=":material/play_circle:",
                query_params=lesson_link_query(lesson, speed_key),
            )

# Last, once the list is drawn: load the chart modules while the lecturer reads, so the first
# lesson's charts do not wait for pandas and Altair to import (and the Why lesson, on a thread,
# for scikit-optimize and its rebuilt asks).
prepare_in_background()
import dashboard.chart_views  # noqa: E402
import dashboard.study_frames  # noqa: E402, F401
