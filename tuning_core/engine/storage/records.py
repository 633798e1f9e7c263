"""What a store hands back: a study, a trial and the Dask worker that ran it, as frozen
records (never a database row); and the one rule for the numbers it keeps."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from tuning_core.engine.spec import StudySpec
from tuning_core.engine.states import StudyStatus, TrialState


def finite_or_none(value: Any) -> float | None:
    """The number to store: NaN and infinity are kept as no value (NULL)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class StudyRecord:
    """A study row, with its spec parsed (it was validated when the study was created)."""

    id: int
    name: str
    spec: StudySpec
    status: StudyStatus
    stop_requested: bool
    worker_pid: int | None
    message: str | None
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class TrialRecord:
    id: int
    number: int
    params: dict[str, Any]
    state: TrialState
    value: float | None
    error: str | None
    note: str | None
    retry_of: int | None
    started_at: float | None
    finished_at: float | None
    # Every metric the trial measured, by name (its value is the study's first metric's);
    # empty for a trial that measured only its value, and for trials of older stores.
    values: dict[str, float] = field(default_factory=dict)

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None:
            return None
        end = self.finished_at if self.finished_at is not None else time.time()
        return end - self.started_at


@dataclass(frozen=True)
class TrialWorker:
    """The Dask worker that ran a trial: its name (a lane of the timeline), its address (which
    changes when the worker restarts) and when the driver heard that it started the trial (by
    the driver's clock, as the trial's finished_at is)."""

    worker: str
    address: str
    started_at: float
