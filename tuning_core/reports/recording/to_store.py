"""Replaying a recording into a store as if the study were running now, instantly or at a
chosen speed, so every page draws it as it draws a live study; nothing is trained and Keras
is never imported."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tuning_core.engine import race as races
from tuning_core.engine.states import StudyStatus
from tuning_core.engine.storage import Store
from tuning_core.reports.recording.asks import signed_asks
from tuning_core.reports.recording.schema import (
    RaceRecording,
    RecordedEpoch,
    RecordedTrial,
    Recording,
)

# Between two studies of a replayed race: the worker's gap while it opens the next one.
RACE_GAP_S = 0.2


def replay(
    store: Store,
    recording: Recording | RaceRecording,
    speed: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    worker_pid: int | None = None,
    started: Callable[[], None] | None = None,
    asks: dict[tuple[str, int], Any] | None = None,
) -> None:
    """Write ``recording`` into ``store`` as a running study would: trial starts, epochs and
    ends in the recorded order, ``speed`` times faster than recorded (None: all at once), from
    the first epoch on (what came before it is written at once). A race replays its studies
    one after another, as its worker ran them.

    A study (or race) of the same name is replaced (a lesson replayed again starts afresh).
    While it replays, the study is running with ``worker_pid`` as its worker, so pages show it
    live; ``started`` is called once the study and its first epoch are in the store. ``asks``
    are :func:`signed_asks` of the recording, made now when not given. The store stamps each
    row with the time it is written (a finished trial is never changed), so durations read
    as the replay's: the recorded ones divided by ``speed``, and all near 0 at once.
    """
    if asks is None:
        asks = signed_asks(recording)
    delete_replayed(store, recording)
    race_id = (
        races.open_race(store, recording.race) if isinstance(recording, RaceRecording) else None
    )
    events: list[tuple[float, int, int, RecordedTrial | None, RecordedEpoch | None]] = []
    offset = 0.0
    for index, study in enumerate(recording.studies):
        # kinds: -1 opens a study, 0 starts a trial, 1 an epoch, 2 ends a trial, 3 a study
        events.append((offset, -1, index, None, None))
        for trial in study.trials:
            events.append((offset + trial.started, 0, index, trial, None))
            events += [(offset + e.at, 1, index, trial, e) for e in trial.epochs]
            events.append((offset + trial.finished, 2, index, trial, None))
        events.append((offset + study.seconds, 3, index, None, None))
        offset += study.seconds + RACE_GAP_S
    events.sort(key=lambda e: (e[0], e[1] if e[1] >= 0 else -1, e[2], e[3].number if e[3] else -1))
    # The replay starts at the first epoch: before it the recorded run only built its model,
    # and a lesson's first chart should not wait for that. A Bayesian study's asks start it at
    # its first model-chosen trial instead: the random points before it teach nothing on "Why
    # this point?", which has no chart to draw until then.
    head_start = min((e[0] for e in events if e[1] == 1), default=0.0)
    head_start = max(
        head_start,
        min(
            (e[0] for e in events if e[1] == 0 and e[3].ask and not e[3].ask["initial"]),
            default=0.0,
        ),
    )
    began = time.monotonic() - head_start / (speed or 1.0)
    study_ids: dict[int, int] = {}
    ids: dict[tuple[int, int], int] = {}
    for at, kind, index, trial, epoch in events:
        study = recording.studies[index]
        if started is not None and at > head_start:
            started()  # the first epoch is in: a page drawn now has a chart to show
            started = None
        if speed is not None:
            wait = at / speed - (time.monotonic() - began)
            if wait > 0:
                sleep(wait)
            running = study_ids.get(index)
            if _stop_requested(store, running, race_id):
                if running is not None:
                    store.interrupt_running_trials(running, "stopped during the replay")
                    store.set_status(running, StudyStatus.STOPPED)
                if race_id is not None:
                    store.set_race_status(race_id, StudyStatus.STOPPED, None, "stopped on request")
                return
        if kind == -1:
            study_ids[index] = store.create_study(study.spec)
            store.set_status(study_ids[index], StudyStatus.RUNNING, worker_pid=worker_pid)
        elif kind == 0 and trial is not None:
            ask = asks.get((study.name, trial.number))
            if ask is not None:
                store.save_ask(
                    study_ids[index], trial.number, ask.state, ask.initial, ask.acquisition
                )
            ids[index, trial.number] = store.start_trial(
                study_ids[index], trial.number, trial.params
            )
        elif kind == 1 and trial is not None and epoch is not None:
            store.add_epoch_metrics(ids[index, trial.number], epoch.epoch, epoch.metrics)
        elif kind == 2 and trial is not None:
            trial_id = ids[index, trial.number]
            for progress, loss in trial.batch_losses:
                store.add_batch_loss(trial_id, progress, loss)
            store.finish_trial(
                trial_id,
                trial.state,
                trial.value,
                trial.error,
                trial.note,
                trial.pruned,
                values=trial.values,
            )
        elif kind == 3:
            store.set_status(study_ids[index], StudyStatus.FINISHED)
    if race_id is not None:
        message = f"all {len(recording.studies)} studies finished"
        store.set_race_status(race_id, StudyStatus.FINISHED, None, message)
    if started is not None:
        started()


def _stop_requested(store: Store, study_id: int | None, race_id: int | None) -> bool:
    if study_id is not None and store.stop_requested(study_id):
        return True
    return race_id is not None and store.race_stop_requested(race_id)


def delete_replayed(store: Store, recording: Recording | RaceRecording) -> None:
    """Remove what ``recording`` replays into (its study, or its race and the race's studies):
    a lesson replayed again, or run live instead, starts afresh."""
    if isinstance(recording, RaceRecording):
        # delete_race keeps a race's studies (they are the user's); a lesson's are the lesson's.
        store.delete_race(recording.name)
    for study in recording.studies:
        store.delete_study(study.name)
