"""A recording's file form: its format tag and limits, the validated types, the error, and
the readers of its plain fields (a number, a text), each problem one sentence."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from tuning_core.engine.errors import SpecError
from tuning_core.engine.pruners import PruneDecision
from tuning_core.engine.race_spec import RaceSpec
from tuning_core.engine.spec import StudySpec
from tuning_core.engine.states import TrialState

FORMAT = "tuning-lab-recording"
VERSION = 1
MAX_BYTES = 2_000_000  # the lessons are ~10-40 kB; a bound, not a target
MAX_TRIALS = 500
MAX_EPOCHS = 500
MAX_BATCH_LOSSES = 2_000
MAX_METRICS = 20


class RecordingError(SpecError):
    """A recording that cannot be read or replayed; the message is one sentence."""


@dataclass(frozen=True)
class RecordedEpoch:
    epoch: int
    at: float  # seconds since the study began
    metrics: dict[str, float | None]


@dataclass(frozen=True)
class RecordedTrial:
    number: int
    params: dict[str, Any]
    state: TrialState
    value: float | None
    error: str | None
    note: str | None
    started: float
    finished: float
    epochs: tuple[RecordedEpoch, ...]
    batch_losses: tuple[tuple[float, float | None], ...]
    pruned: PruneDecision | None
    ask: dict[str, Any] | None = None  # strategies.ask_facts: what the search knew
    # Every metric the trial measured (name -> value; None where it was not finite); empty
    # in a recording made before studies kept them, which replays as it always did.
    values: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Recording:
    spec: StudySpec
    trials: tuple[RecordedTrial, ...]

    @property
    def seconds(self) -> float:
        """How long the recorded study ran."""
        return max((trial.finished for trial in self.trials), default=0.0)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def studies(self) -> tuple[Recording, ...]:
        return (self,)


@dataclass(frozen=True)
class RaceRecording:
    """A strategy race: its spec and each member study's recording, in the race's order."""

    race: RaceSpec
    members: tuple[Recording, ...]

    @property
    def name(self) -> str:
        return self.race.name

    @property
    def studies(self) -> tuple[Recording, ...]:
        return self.members

    @property
    def trials(self) -> tuple[RecordedTrial, ...]:
        return tuple(trial for member in self.members for trial in member.trials)


def read_number(value: Any, where: str, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RecordingError(f"{where}: must be a finite number.")
    return float(value)


def read_text(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 2_000:
        raise RecordingError(f"{where}: must be text of at most 2,000 characters.")
    return value
