"""Claiming a study for this process: create it or find the one of the same name (a changed
search restarts it while it has no results, a new budget updates it), mark it running, run a
loop, and never leave it "running" whatever ends that loop. Shared by the sequential loop and
the Dask driver.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from tuning_core.engine.errors import SpecError, StoreGoneError
from tuning_core.engine.records import start_conflict
from tuning_core.engine.spec import StudySpec
from tuning_core.engine.states import StudyStatus
from tuning_core.engine.storage import Store


@dataclass
class StudyRun:
    """What one call of :func:`run_study` did."""

    study_id: int
    status: StudyStatus
    message: str
    trials_run: int = 0
    recycle: bool = False


def open_study(store: Store, spec: StudySpec) -> int:
    """Create the study, or find the existing one with the same name; returns its id."""
    conflict = start_conflict(store, spec)
    if conflict:
        raise SpecError(conflict)
    existing = store.get_study(spec.name)
    if existing is None:
        return store.create_study(spec)
    if existing.spec.search_identity() != spec.search_identity():
        store.restart_study(existing.id, spec)  # start_conflict allowed it: no results yet
    elif existing.spec.to_json() != spec.to_json():  # a new budget, or a new parallel count
        store.update_spec(existing.id, spec)
    return existing.id


def claim_and_run(spec: StudySpec, store: Store, loop: Callable[[int], StudyRun]) -> StudyRun:
    """Claim the study for this process, then run ``loop(study_id)``; whatever ends the loop,
    the study is never left "running" by this process."""
    # Claim the study atomically: two workers started together cannot both pass the check.
    with store.transaction():
        study_id = open_study(store, spec)
        store.set_status(study_id, StudyStatus.RUNNING, worker_pid=os.getpid())
    try:
        return loop(study_id)
    except StoreGoneError:
        raise  # the file it would mark is gone: nothing can be written
    except BaseException as error:
        # Whatever stops this process, the study is never left "running" by it.
        study = store.get_study(spec.name)
        if study is not None and study.status == StudyStatus.RUNNING:
            reason = str(error) or type(error).__name__
            status = (
                StudyStatus.STOPPED if isinstance(error, KeyboardInterrupt) else StudyStatus.FAILED
            )
            store.set_status(study_id, status, message=reason)
        raise
