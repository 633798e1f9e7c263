"""The objective protocol, and closed-form test functions that run in microseconds.

An objective is called as ``objective(params, reporter)`` and returns a :class:`TrialOutcome`.
It may call ``reporter.report(epoch, {"loss": ..., "val_loss": ...})`` as it goes and should
stop when ``reporter.should_stop()`` is true. It raises :class:`TrialDiverged` when training
blew up and :class:`TrialStopped` when it honoured a stop request.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


class Reporter(Protocol):
    def report(self, epoch: int, metrics: dict[str, float]) -> None: ...

    def report_batch(self, progress: float, loss: float) -> None: ...

    def should_stop(self) -> bool: ...


@dataclass
class TrialOutcome:
    """A finished trial: its objective value and an optional flag for the user."""

    value: float
    note: str | None = None


class TrialDiverged(Exception):
    """Training blew up; ``epoch`` is where it was detected."""

    def __init__(self, reason: str, epoch: int) -> None:
        super().__init__(reason)
        self.epoch = epoch


class TrialStopped(Exception):
    """A stop request (or the time budget) ended the trial before it finished."""


Objective = Callable[[dict[str, Any], Reporter], TrialOutcome]


def branin(x: np.ndarray) -> float:
    x1, x2 = x
    a, b, c = 1.0, 5.1 / (4 * math.pi**2), 5 / math.pi
    r, s, t = 6.0, 10.0, 1 / (8 * math.pi)
    return float(a * (x2 - b * x1**2 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s)


_HARTMANN_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_HARTMANN_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_HARTMANN_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)


def hartmann6(x: np.ndarray) -> float:
    inner = np.sum(_HARTMANN_A * (np.asarray(x) - _HARTMANN_P) ** 2, axis=1)
    return float(-np.sum(_HARTMANN_ALPHA * np.exp(-inner)))


def rosenbrock(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=float)
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


def quadratic(x: np.ndarray) -> float:
    return float(np.sum(np.asarray(x, dtype=float) ** 2))


@dataclass(frozen=True)
class TestFunction:
    """A closed-form function to minimise, with its known optimum and usual domain."""

    function: Callable[[np.ndarray], float]
    optimum: float
    dimensions: int | None  # None: any dimension count of at least 2 (1 for quadratic)
    domain: tuple[tuple[float, float], ...]  # usual bounds, repeated when dimensions is None
    min_dimensions: int = 1


TEST_FUNCTIONS: dict[str, TestFunction] = {
    "branin": TestFunction(branin, 0.397887, 2, ((-5.0, 10.0), (0.0, 15.0))),
    "hartmann6": TestFunction(hartmann6, -3.32237, 6, ((0.0, 1.0),) * 6),
    "rosenbrock": TestFunction(rosenbrock, 0.0, None, ((-2.0, 2.0),), min_dimensions=2),
    "quadratic": TestFunction(quadratic, 0.0, None, ((-5.0, 5.0),), min_dimensions=1),
}


def input_names(params: dict[str, Any]) -> list[str]:
    """The ``x1, x2, ...`` names present in ``params``, in numeric order."""
    return sorted((n for n in params if n[:1] == "x" and n[1:].isdigit()), key=lambda n: int(n[1:]))


def function_objective(name: str, trial_seconds: float = 0.0) -> Objective:
    """An objective evaluating the named test function at ``x1, x2, ...``.

    ``trial_seconds`` makes each trial take that long (honouring stop requests), so a class can
    watch a search unfold and tests can stop a worker in the middle of a trial.
    """
    test_function = TEST_FUNCTIONS[name]

    def objective(params: dict[str, Any], reporter: Reporter) -> TrialOutcome:
        x = np.array([float(params[n]) for n in input_names(params)])
        value = test_function.function(x)
        deadline = time.monotonic() + trial_seconds
        while time.monotonic() < deadline:
            if reporter.should_stop():
                raise TrialStopped("stopped on request")
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        reporter.report(0, {"value": value})
        return TrialOutcome(value)

    return objective
