"""A page redraws by itself only while what it shows can change.

A fragment that reran every second on a finished study redrew the same charts for as long as
the tab stayed open: 20 s of an idle Live page of a finished study cost Chromium 8.0 s and
Streamlit 4.7 s of CPU (the LR lab's finished comparison 8.0 s and 6.1 s), most of a core on
a lecturer's laptop for a picture that could not change. Compare, which does not refresh,
cost 0.5 s and 0.1 s.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import streamlit as st

from dashboard.common import REFRESH_SECONDS, REST_POLL_SECONDS
from dashboard.read_model import (
    RaceRecord,
    ReadModel,
    StudyRecord,
    read_model,
    study_running,
)


@dataclass(frozen=True)
class Drawn:
    """What a panel showed: whether it can still change (a worker writing, or one starting),
    and a stamp that changes when it is changed elsewhere (resumed, extended, deleted)."""

    active: bool
    stamp: Hashable


def redraw_while_active(key: str, draw: Callable[[], Drawn], now: Callable[[], Drawn]) -> None:
    """Draw ``draw`` as a fragment, redrawn every REFRESH_SECONDS while it is active and drawn
    once otherwise.

    ``key`` names the panel and what it shows (a study, a race): the session remembers whether
    it was active when last drawn, so a rerun reads nothing more than ``draw`` does; ``now()``
    is asked only on a first visit, and every REST_POLL_SECONDS while the panel rests. When a
    drawing finds the panel has changed mode, the page reruns in the other mode."""
    mode = f"redraw_active:{key}"
    active = st.session_state.get(mode)
    if active is None:
        active = now().active
    if active:
        st.fragment(run_every=REFRESH_SECONDS)(_draw_in_mode)(draw, mode, True, None)
    else:
        st.fragment(_draw_in_mode)(draw, mode, False, now)


def _draw_in_mode(
    draw: Callable[[], Drawn], mode: str, active: bool, now: Callable[[], Drawn] | None
) -> None:
    # A fragment at rest too, so its widgets (Stop, a selectbox) rerun only it.
    drawn = draw()
    st.session_state[mode] = drawn.active
    st.session_state[f"{mode}:stamp"] = (drawn.stamp, time.monotonic())
    if drawn.active != active:
        st.rerun()  # the whole page, in the other mode
    if now is not None:
        # At rest, the look for changes is a fragment inside this one, not beside it: a
        # sibling's timer that fired while a widget reran this fragment left elements the run
        # no longer drew on the page (Streamlit 1.67; the Why page kept a chart after its
        # slider went to an initial point). A nested fragment is skipped when its parent runs.
        st.fragment(run_every=REST_POLL_SECONDS)(_rerun_on_change)(now, mode)


def _rerun_on_change(now: Callable[[], Drawn], mode: str) -> None:
    stamp, drawn_at = st.session_state.get(f"{mode}:stamp", (None, 0.0))
    # Its first run comes with the page's, just after the drawing: nothing to compare yet.
    if time.monotonic() - drawn_at < REST_POLL_SECONDS / 2:
        return
    current = now()
    # A study or race gone from the store (deleted, or about to be written again): the page
    # keeps its picture. Rerunning it would move its picker to another study for good.
    if current.stamp is None:
        return
    if current.active or current.stamp != stamp:
        st.rerun()


def study_drawn(record: StudyRecord | None) -> Drawn:
    """A study's panel, from the record its drawing read: active while a live worker runs it
    (one killed leaves its status "running": its page rests), or while the study is missing,
    as a study deleted to be run again is (its page says so, then follows the new run)."""
    if record is None:
        return Drawn(True, None)
    return Drawn(study_running(record), (record.status.value, record.updated_at))


def study_now(name: str) -> Drawn:
    with read_model() as reads:
        return study_drawn(reads.study(name))


def studies_drawn(reads: ReadModel, keep: Callable[[object], bool], awaited: str | None) -> Drawn:
    """A panel of several studies (those ``keep`` accepts): active while one of them runs or
    ``awaited``, a study whose worker this session started, is not written yet."""
    records = [record for record in reads.studies() if keep(record)]
    running = any(study_running(record) for record in records)
    waiting = awaited is not None and awaited not in {record.name for record in records}
    stamp = tuple((r.name, r.status.value, r.updated_at) for r in records)
    return Drawn(running or waiting, stamp)


def race_drawn(record: RaceRecord | None, running: bool) -> Drawn:
    """A race's panel, from the record its drawing read and whether its worker lives: active
    while that worker starts (the race is not written yet) or lives."""
    if record is None:
        return Drawn(True, None)
    return Drawn(running, (record.status.value, record.updated_at))


def race_now(name: str) -> Drawn:
    with read_model() as reads:
        record = reads.race(name)
        return race_drawn(record, record is not None and reads.race_running(record))
