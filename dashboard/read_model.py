"""The dashboard's one way into the store: a read model, one per rerun.

A page, or a fragment on its timer, makes one :class:`ReadModel` for its run
(``with read_model() as model:``), asks it for everything it draws, and closes it: the store
is opened at most once a run, on the first read the caches cannot answer. The cached
DataFrames (``study_frames``, ``live_rows``, ``races``, ``why_data``) take the model and call
its named reads when their cache misses, so they never open a store themselves. Nothing else
in pages/ or dashboard/ opens a Store or imports ``tuning_core.engine.storage``
(tests/test_architecture.py).

It also carries the dashboard's few writes (a note, deleting a study, replaying a lesson), so
that this module is the only way the UI reaches the store.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import streamlit as st

from tuning_core.engine import race as races
from tuning_core.engine.audit import AuditReport, audit_name, read_audit
from tuning_core.engine.errors import SpecError
from tuning_core.engine.pruners import PruneDecision
from tuning_core.engine.records import (
    StudySummary,
    study_summaries,
    worker_running,
    worker_timeline,
)
from tuning_core.engine.storage import (
    NOTE_MAX_CHARS,
    Store,
    StudyRecord,
    TrialRecord,
    artifacts_dir,
    default_storage_path,
)
from tuning_core.reports import export, frames, start_check
from tuning_core.reports.keras_script import keras_script
from tuning_core.reports.recording import RaceRecording, Recording, delete_replayed, replay
from tuning_core.views.live import shows_timeline

# What the pages name of the store's answers; they import them from here.
__all__ = [
    "NOTE_MAX_CHARS",
    "AuditReport",
    "Exports",
    "RaceRecord",
    "ReadModel",
    "StudyRecord",
    "StudySummary",
    "best_model_bytes",
    "check_store",
    "read_model",
    "start_conflict",
    "storage_path",
    "study_running",
]

RaceRecord = races.RaceRecord
AnyRecording = Recording | RaceRecording


def storage_path() -> str:
    """The store the CLI uses too: $TUNING_LAB_STORAGE, else ./tuning_lab.db."""
    return str(Path(default_storage_path()).resolve())


def check_store() -> None:
    """Open the dashboard's store file, if there is one, and close it again: raises
    :class:`SpecError` in one sentence when it is no usable store (a crafted schema, a damaged
    or foreign file), naming the path as the user gave it.

    A store is untrusted input, so every page asks this before it reads a table. Its own
    open, not a run's read model: it must not create a file, and it runs before the page
    knows what it will read."""
    path = default_storage_path()
    if os.path.exists(path):
        Store(path, create=False).close()


def study_running(study: StudyRecord) -> bool:
    """Whether a live worker process runs ``study`` now."""
    return worker_running(study)


@dataclass(frozen=True)
class Exports:
    """A study's downloads: CSV, JSON and the best trial's Keras script, or the engine's
    sentence saying why there is none (for the page to put in its own words)."""

    csv: str
    json: str
    script: str | None
    script_problem: str | None


class ReadModel:
    """One run's reads of the store at ``path``: opened on the first read, closed by
    :meth:`close` (or the end of a ``with`` block). Not shared between runs or threads."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or storage_path()
        self._store: Store | None = None

    @property
    def exists(self) -> bool:
        """Whether there is a store file yet (reads of an absent store find nothing)."""
        return Path(self.path).exists()

    def _open(self) -> Store:
        if self._store is None:
            self._store = Store(self.path)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Studies.

    def studies(self) -> list[StudyRecord]:
        """Every study's row, without its trials: enough for pickers."""
        return self._open().studies() if self.exists else []

    def summaries(self) -> list[StudySummary]:
        """Every study with its progress and best value (reads all trials: the Studies table)."""
        return study_summaries(self._open()) if self.exists else []

    def study(self, name: str) -> StudyRecord | None:
        return self._open().get_study(name) if self.exists else None

    def fingerprint(self, study_id: int) -> tuple[Any, ...]:
        """What changes whenever the study does (:meth:`Store.fingerprint`): the caches' key."""
        return self._open().fingerprint(study_id)

    def asks(self, study_id: int) -> dict[int, tuple[bool, str | None]]:
        """Trial number -> (initial random point?, acquisition that chose it); empty for grid
        and random studies (cheap: two small columns, no blob)."""
        return self._open().asks(study_id)

    def exports(self, study: StudyRecord) -> Exports:
        store = self._open()
        try:
            script, problem = keras_script(store, study), None
        except SpecError as error:
            script, problem = None, str(error)
        return Exports(
            export.export_csv(store, study), export.export_json(store, study), script, problem
        )

    # A study's rows, read by the cached frames on a miss.

    def trials(self, study_id: int, with_values: bool = True) -> list[TrialRecord]:
        return self._open().trials(study_id, with_values=with_values)

    def epoch_metrics(
        self, study_id: int, finished: bool | None = None
    ) -> list[tuple[int, int, str, float | None]]:
        return self._open().epoch_metrics(study_id, finished=finished)

    def metric_rows_after(
        self, study_id: int, metric: str, after: int = 0
    ) -> list[tuple[int, int, int, float | None]]:
        return self._open().metric_rows_after(study_id, metric, after)

    def metric_rows_of(
        self, study_id: int, metric: str, numbers: Iterable[int], upto: int
    ) -> list[tuple[int, int, int, float | None]]:
        return self._open().metric_rows_of(study_id, metric, numbers, upto)

    def epoch_counts(self, study_id: int, metric: str, upto: int) -> list[tuple[int, int]]:
        return self._open().epoch_counts(study_id, metric, upto)

    def metrics_recorded(self, study_id: int, names: Iterable[str], upto: int) -> list[str]:
        return self._open().metrics_recorded(study_id, names, upto)

    def batch_losses(self, study_id: int, number: int) -> list[tuple[float, float | None]]:
        """One trial's in-epoch training losses: (progress in epochs, loss)."""
        return self._open().batch_losses(study_id, number)

    def prune_decisions(self, study_id: int) -> list[PruneDecision]:
        return self._open().prune_decisions(study_id)

    def worker_timeline(self, study: StudyRecord) -> frames.Timeline | None:
        """The study's worker timeline now, or None for a study that never ran in parallel.

        Read afresh each run (one query for the trials, one for their workers): a trial's
        start on a worker does not change the fingerprint, and running bars grow with the clock.
        """
        store = self._open()
        workers = store.trial_workers(study.id)
        if not shows_timeline(study.spec, len(workers)):
            return None
        bars = worker_timeline(store.trials(study.id, with_values=False), workers)
        return frames.timeline_frame(bars, time.time())

    def audit_of(self, name: str) -> StudyRecord | None:
        """The audit study of the study ``name`` (``python -m tuning_core audit``), or None."""
        return self._open().get_study(audit_name(name))

    def audit_report(self, name: str) -> AuditReport | None:
        return read_audit(self._open(), name)

    def explain(self, name: str, trial: int, dims: list[str]) -> dict[str, Any]:
        """The "Why this point?" data of one trial, as JSON (raises SpecError for a record it
        cannot read or trust)."""
        from tuning_core.engine.explain import explain  # noqa: PLC0415 - loads scikit-optimize

        return explain(self._open(), name, trial, dims).to_json()

    # Notes: read and written straight through (never cached).

    def study_note(self, study_id: int) -> str:
        return self._open().study_note(study_id)

    def trial_notes(self, study_id: int) -> dict[int, str]:
        return self._open().trial_notes(study_id)

    def save_note(self, study_id: int, text: str, trial: int | None = None) -> None:
        """Keep ``text`` as the study's note (``trial`` None) or a trial's; raises SpecError
        when it cannot (too long, no such trial, a read-only store)."""
        if trial is None:
            self._open().set_study_note(study_id, text)
        else:
            self._open().set_trial_note(study_id, trial, text)

    # Races.

    def race_names(self) -> list[str]:
        return [record.name for record in races.races(self._open())] if self.exists else []

    def race(self, name: str) -> RaceRecord | None:
        return races.get_race(self._open(), name)

    def race_fingerprint(self, record: RaceRecord) -> tuple[Any, ...]:
        """What changes whenever the race or one of its studies does."""
        store = self._open()
        names = [member.study_name for member in races.race_studies(store, record.id)]
        return (record.updated_at, record.status.value, *store.studies_fingerprint(names))

    def race_rows(self, record: RaceRecord) -> tuple[list[Any], list[Any]]:
        """The race's trial rows and its members' (study, status, trials done, budget)."""
        store = self._open()
        return races.race_trial_rows(store, record.id), races.member_statuses(store, record.id)

    @staticmethod
    def race_running(record: RaceRecord) -> bool:
        """Whether the race's worker process is alive."""
        return races.race_running(record)

    # The dashboard's few writes.

    def delete_study(self, name: str) -> None:
        self._open().delete_study(name)

    def replay(
        self,
        recording: AnyRecording,
        asks: dict[tuple[str, int], Any],
        speed: float | None = None,
        started: Callable[[], None] | None = None,
    ) -> None:
        """Write a lesson's recording into the store: at once, or at ``speed`` (then as this
        process's worker, calling ``started`` once its study exists)."""
        pid = os.getpid() if speed is not None else None
        replay(self._open(), recording, speed, worker_pid=pid, started=started, asks=asks)

    def delete_replayed(self, recording: AnyRecording) -> None:
        delete_replayed(self._open(), recording)


def start_conflict(raw: dict[str, Any]) -> str | None:
    """Why the spec ``raw`` cannot start in the dashboard's store now, in the CLI's sentence,
    or None (:func:`start_check.start_conflict`: the New-study form's and the lab's one
    question of the store, asked as the CLI asks it; it opens the store only if there is one).
    """
    return start_check.start_conflict(storage_path(), raw)


def read_model() -> ReadModel:
    """This run's read model of the dashboard's store (:func:`storage_path`)."""
    return ReadModel(storage_path())


@st.cache_data(max_entries=4, show_spinner=False)
def best_model_bytes(path: str, name: str, fingerprint: tuple[Any, ...]) -> bytes | None:
    """The best trial's saved ``best.keras`` (see the README), or None before there is one."""
    model = artifacts_dir(path, name) / "best.keras"
    return model.read_bytes() if model.is_file() else None
