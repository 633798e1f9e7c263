"""Running strategy races and reading them back: a race is stored as a group of ordinary
studies (its spec is engine/race_spec.py's).

:func:`run_race` runs the members one after another through
:func:`~tuning_core.engine.study.run_study`; run again after a kill, it skips finished members
and resumes the interrupted one as ``run`` does. A race's rows (tables ``races`` and
``race_studies``, made when the first race opens) are read and written through the store's
race methods; this module gives them meaning, and reads them as plain rows for the views.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tuning_core.engine.errors import SpecError
from tuning_core.engine.objectives import Objective
from tuning_core.engine.race_spec import RaceSpec, parse_race_spec
from tuning_core.engine.records import process_alive
from tuning_core.engine.spec import StudySpec
from tuning_core.engine.states import StudyStatus, TrialState
from tuning_core.engine.storage import Store, TrialRecord
from tuning_core.engine.store_protocol import StudyStore
from tuning_core.engine.study import StudyRun, run_study

# The store's race tables ------------------------------------------------------------------


@dataclass(frozen=True)
class RaceRecord:
    id: int
    name: str
    spec: RaceSpec
    status: StudyStatus
    stop_requested: bool
    worker_pid: int | None
    message: str | None
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class RaceStudy:
    """A member study as the race lists it (the study row may not exist yet)."""

    position: int
    study_name: str
    label: str
    seed: int


def _race(row: Any) -> RaceRecord:
    return RaceRecord(
        id=row["id"],
        name=row["name"],
        spec=parse_race_spec(json.loads(row["spec"])),
        status=StudyStatus(row["status"]),
        stop_requested=bool(row["stop_requested"]),
        worker_pid=row["worker_pid"],
        message=row["message"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def get_race(store: StudyStore, name: str) -> RaceRecord | None:
    row = store.race_row(name)
    return None if row is None else _race(row)


def races(store: StudyStore) -> list[RaceRecord]:
    return [_race(row) for row in store.race_rows()]


def race_studies(store: StudyStore, race_id: int) -> list[RaceStudy]:
    return [RaceStudy(*member) for member in store.race_members(race_id)]


def request_race_stop(store: StudyStore, name: str) -> bool:
    """Ask a race's worker to stop: the race stops starting studies, and the study it runs
    stops as ``stop`` stops any study. False when there is no such race."""
    race = get_race(store, name)
    if race is None:
        return False
    with store.transaction():
        store.set_race_stop(race.id, True)
        for member in race_studies(store, race.id):
            study = store.get_study(member.study_name)
            if study is not None and study.status == StudyStatus.RUNNING:
                store.request_stop(member.study_name)
    return True


def open_race(store: StudyStore, race: RaceSpec) -> int:
    """Create the race and list every member study, or find the same race to resume it."""
    store.ensure_race_tables()
    with store.transaction():
        existing = get_race(store, race.name)
        if existing is not None:
            if existing.spec.raw != race.raw:
                raise SpecError(
                    f"name: a race called {race.name!r} already exists with another spec; choose "
                    "another name, or run the same spec to resume it."
                )
            if (
                existing.status == StudyStatus.RUNNING
                and existing.worker_pid != os.getpid()
                and (process_alive(existing.worker_pid))
            ):
                raise SpecError(
                    f"name: the race {race.name!r} is already running (process "
                    f"{existing.worker_pid}); stop it first."
                )
            race_id = existing.id
        else:
            members = [(m.spec.name, m.label, m.seed) for m in race.members]
            race_id = store.create_race(race.name, json.dumps(race.raw), members)
        # A new run of a stopped race clears its stop; a worker recycling itself (exec keeps
        # its pid) must not, or a stop sent while it restarted would be lost.
        if existing is None or existing.worker_pid != os.getpid():
            store.set_race_stop(race_id, False)
        store.set_race_status(race_id, StudyStatus.RUNNING, os.getpid(), "running")
    return race_id


@dataclass
class RaceRun:
    race_id: int
    status: StudyStatus
    message: str
    recycle: bool = False


def run_race(
    race: RaceSpec,
    store: Store,
    objective_for: Callable[[StudySpec], Objective],
    log: Callable[[str], None] = print,
    max_trials_this_process: int | None = None,
    run_on_dask: Callable[[StudySpec], StudyRun] | None = None,
) -> RaceRun:
    """Run the race's studies one after another, skipping the finished ones.

    With ``max_trials_this_process`` the call returns ``recycle=True`` once a study asks for a
    fresh process (Keras leaks memory per fit); the caller starts one, which resumes the race.
    With ``run_on_dask`` (the caller's ``parallel.run_parallel_study`` on one client for the
    whole race) each study runs its ``parallel`` trials at once there instead.
    """
    race_id = open_race(store, race)
    try:
        left = max_trials_this_process
        for index, member in enumerate(race.members, start=1):
            study = store.get_study(member.spec.name)
            if study is not None and study.status == StudyStatus.FINISHED:
                continue
            if store.race_stop_requested(race_id):
                store.set_race_status(race_id, StudyStatus.STOPPED, None, "stopped on request")
                return RaceRun(race_id, StudyStatus.STOPPED, "stopped on request")
            log(f"race {race.name}: study {index}/{len(race.members)} {member.spec.name}")
            if run_on_dask is not None:
                outcome = run_on_dask(member.spec)
                if outcome.status == StudyStatus.STOPPED:
                    store.set_race_status(race_id, StudyStatus.STOPPED, None, outcome.message)
                    return RaceRun(race_id, StudyStatus.STOPPED, "stopped on request")
                continue
            outcome = run_study(
                member.spec,
                store,
                objective_for(member.spec),
                log=log,
                max_trials_this_process=left,
                stop_also_when=lambda: store.race_stop_requested(race_id),
            )
            if outcome.recycle:
                return RaceRun(race_id, StudyStatus.RUNNING, "recycling", recycle=True)
            if left is not None:
                left = max(1, left - outcome.trials_run)
            if outcome.status == StudyStatus.STOPPED:
                store.set_race_status(race_id, StudyStatus.STOPPED, None, "stopped on request")
                return RaceRun(race_id, StudyStatus.STOPPED, "stopped on request")
        message = f"all {len(race.members)} studies finished"
        store.set_race_status(race_id, StudyStatus.FINISHED, None, message)
        return RaceRun(race_id, StudyStatus.FINISHED, message)
    except BaseException as error:
        status = StudyStatus.STOPPED if isinstance(error, KeyboardInterrupt) else StudyStatus.FAILED
        store.set_race_status(race_id, status, None, str(error) or type(error).__name__)
        raise


def race_running(race: RaceRecord) -> bool:
    return race.status == StudyStatus.RUNNING and process_alive(race.worker_pid)


# What the views read: plain rows, no pandas ----------------------------------------------


@dataclass(frozen=True)
class RaceTrialRow:
    """One finished trial of a member study, for the race views."""

    study: str
    label: str
    seed: int
    trial: int  # 1-based count of trials that used the budget, in the order they finished
    value: float | None  # None for a trial that gave no value (failed, diverged)
    state: str
    elapsed_s: float  # wall seconds since the study began, counting from trial ends
    # Every metric a complete trial measured (name -> value), for a race of several metrics
    # judged by hypervolume; empty for the others.
    values: dict[str, float] = field(default_factory=dict)


# A gap this much longer than the trial itself is a stop and a resume, not search time.
RESUME_GAP_S = 60.0


def race_trial_rows(store: StudyStore, race_id: int) -> list[RaceTrialRow]:
    """Every finished trial of every member study, with its wall time since the study began.

    Elapsed time adds up the time between successive trial ends (so it includes the time the
    strategy took to propose each trial), except across a stop and resume, where only the
    trial's own duration counts.
    """
    rows: list[RaceTrialRow] = []
    for member in race_studies(store, race_id):
        study = store.get_study(member.study_name)
        if study is None:
            continue
        done: list[TrialRecord] = [
            t
            for t in store.trials(study.id)
            if t.state.counts_against_budget() and t.finished_at is not None
        ]
        done.sort(key=lambda t: t.finished_at or 0.0)
        elapsed, previous_end = 0.0, None
        for count, trial in enumerate(done, start=1):
            duration = trial.duration_s or 0.0
            step = duration if previous_end is None else trial.finished_at - previous_end
            if step > duration + RESUME_GAP_S or step < 0:
                step = duration
            elapsed += step
            previous_end = trial.finished_at
            complete = trial.state == TrialState.COMPLETE
            rows.append(
                RaceTrialRow(
                    member.study_name,
                    member.label,
                    member.seed,
                    count,
                    trial.value if complete else None,
                    trial.state.value,
                    elapsed,
                    dict(trial.values) if complete else {},
                )
            )
    return rows


def member_statuses(store: StudyStore, race_id: int) -> list[tuple[RaceStudy, str, int, int]]:
    """(member, status, trials done, budget) for every member, "waiting" before it starts."""
    found = []
    for member in race_studies(store, race_id):
        study = store.get_study(member.study_name)
        if study is None:
            found.append((member, "waiting", 0, 0))
            continue
        done = sum(t.state.counts_against_budget() for t in store.trials(study.id))
        found.append((member, study.status.value, done, study.spec.planned_trials))
    return found
