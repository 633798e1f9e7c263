"""Typed state shared by the whole engine: trial states, study statuses, and the direction.

Values are the strings the store and the spec keep, so each member compares equal to its
stored text (``TrialState.PRUNED == "pruned"``): a DataFrame column or a spec's JSON, which
hold the strings, can be compared with the members.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any, TypeVar

_Frame = TypeVar("_Frame")


class TrialState(StrEnum):
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    DIVERGED = "diverged"
    PRUNED = "pruned"
    INTERRUPTED = "interrupted"

    def is_finished(self) -> bool:
        """Finished trials are never modified again (a trigger in the store enforces it)."""
        return self is not TrialState.RUNNING

    def counts_against_budget(self) -> bool:
        """Interrupted trials are retried, so only the other finished states use up a trial."""
        return self.is_finished() and self != TrialState.INTERRUPTED


class StudyStatus(StrEnum):
    CREATED = "created"
    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"


class Direction(StrEnum):
    """Whether the study's metric is maximised (accuracy) or minimised (loss)."""

    MAXIMIZE = "maximize"
    MINIMIZE = "minimize"

    @classmethod
    def natural_for(cls, metric: str) -> Direction:
        """Accuracies and AUCs are maximised; losses, errors and function values minimised."""
        return cls.MAXIMIZE if metric.endswith(("accuracy", "auc")) else cls.MINIMIZE

    @property
    def sign(self) -> float:
        """``sign * value`` is a loss to minimise: strategies always minimise."""
        return -1.0 if self is Direction.MAXIMIZE else 1.0

    def better(self, a: float, b: float) -> bool:
        """Whether ``a`` beats ``b``."""
        return a > b if self is Direction.MAXIMIZE else a < b

    def best(self, values: Iterable[float]) -> float:
        """The best of ``values`` (which must not be empty)."""
        return max(values) if self is Direction.MAXIMIZE else min(values)

    def running_best(self, series: _Frame) -> _Frame:
        """The best so far along a pandas Series (cummax or cummin)."""
        running: Any = series
        return running.cummax() if self is Direction.MAXIMIZE else running.cummin()

    def best_index(self, series: Any) -> Any:
        """The index label of a pandas Series' best value (idxmax or idxmin)."""
        return series.idxmax() if self is Direction.MAXIMIZE else series.idxmin()
