"""The objective protocol, and closed-form test functions that run in microseconds.

An objective is called as ``objective(params, reporter)`` and returns a :class:`TrialOutcome`.
It may call ``reporter.report(epoch, {"loss": ..., "val_loss": ...})`` as it goes and should
stop when ``reporter.should_stop()`` is true. After each epoch's report it asks
``reporter.should_prune(epoch)`` and, when told to, raises :class:`TrialPruned`. It raises
:class:`TrialDiverged` when training blew up and :class:`TrialStopped` when it honoured a stop
request.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


class Reporter(Protocol):
    def report(self, epoch: int, metrics: dict[str, float]) -> None: ...

    def report_batch(self, progress: float, loss: float) -> None: ...

    def should_stop(self) -> bool: ...

    def should_prune(self, epoch: int) -> bool: ...


@dataclass
class TrialOutcome:
    """A finished trial: its objective value (the first metric's), an optional flag for the
    user, and, for a study of several metrics, every metric's value by name (``values``; the
    first metric's equals ``value``). None: the trial measured only ``value``."""

    value: float
    note: str | None = None
    values: dict[str, float] | None = None


class TrialDiverged(Exception):
    """Training blew up; ``epoch`` is where it was detected."""

    def __init__(self, reason: str, epoch: int) -> None:
        super().__init__(reason)
        self.epoch = epoch


class TrialStopped(Exception):
    """A stop request (or the time budget) ended the trial before it finished."""


class TrialPruned(Exception):
    """The study's pruner stopped the trial after ``epoch`` (0-based)."""

    def __init__(self, epoch: int) -> None:
        super().__init__(f"pruned after epoch {epoch + 1}")
        self.epoch = epoch


Objective = Callable[[dict[str, Any], Reporter], TrialOutcome]

# What every Keras trial measures besides its epoch metrics (training/keras_objective.py):
# the fit's wall time, the trainable parameter count, and the mean inference time per
# validation example (timed on the fit's own validation pass, at the fit's batch size).
MEASURES = ("train_seconds", "parameters", "predict_ms")


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


def _zdt_g(x: np.ndarray) -> float:
    """ZDT's distance function: 1 on the Pareto front (x2..xn all 0), up to 10."""
    x = np.asarray(x, dtype=float)
    return float(1.0 + 9.0 * np.sum(x[1:]) / (len(x) - 1))


def zdt1(x: np.ndarray) -> dict[str, float]:
    """ZDT1 (Zitzler, Deb and Thiele, 2000), x in [0, 1]^n, n >= 2: f1 = x1,
    f2 = g (1 - sqrt(f1 / g)) with g = 1 + 9 sum(x2..xn) / (n - 1); both minimised. Its
    front is convex: f2 = 1 - sqrt(f1) where x2..xn are 0."""
    f1, g = float(x[0]), _zdt_g(x)
    return {"f1": f1, "f2": g * (1.0 - math.sqrt(f1 / g))}


def zdt2(x: np.ndarray) -> dict[str, float]:
    """ZDT2: as ZDT1 with f2 = g (1 - (f1 / g)^2), a concave front f2 = 1 - f1^2."""
    f1, g = float(x[0]), _zdt_g(x)
    return {"f1": f1, "f2": g * (1.0 - (f1 / g) ** 2)}


@dataclass(frozen=True)
class MultiTestFunction:
    """A closed-form function of several metrics, each minimised, on [0, 1]^n (n >= 2)."""

    function: Callable[[np.ndarray], dict[str, float]]
    metrics: tuple[str, ...]
    fidelity_scale: float = 1.0
    min_dimensions: int = 2
    dimensions: None = None  # any count of inputs from min_dimensions up
    domain: tuple[tuple[float, float], ...] = ((0.0, 1.0),)


MULTI_TEST_FUNCTIONS: dict[str, MultiTestFunction] = {
    "zdt1": MultiTestFunction(zdt1, ("f1", "f2")),
    "zdt2": MultiTestFunction(zdt2, ("f1", "f2")),
}


@dataclass(frozen=True)
class TestFunction:
    """A closed-form function to minimise, with its known optimum and usual domain."""

    function: Callable[[np.ndarray], float]
    optimum: float
    # How far above its final value an epoch-1 curve starts (a typical spread of the function
    # over its domain), so curves of good and bad points cross early, as learning curves do.
    fidelity_scale: float
    dimensions: int | None  # None: any dimension count of at least 2 (1 for quadratic)
    domain: tuple[tuple[float, float], ...]  # usual bounds, repeated when dimensions is None
    min_dimensions: int = 1


TEST_FUNCTIONS: dict[str, TestFunction] = {
    "branin": TestFunction(branin, 0.397887, 20.0, 2, ((-5.0, 10.0), (0.0, 15.0))),
    "hartmann6": TestFunction(hartmann6, -3.32237, 0.5, 6, ((0.0, 1.0),) * 6),
    "rosenbrock": TestFunction(rosenbrock, 0.0, 200.0, None, ((-2.0, 2.0),), min_dimensions=2),
    "quadratic": TestFunction(quadratic, 0.0, 10.0, None, ((-5.0, 5.0),), min_dimensions=1),
}


def input_names(params: dict[str, Any]) -> list[str]:
    """The ``x1, x2, ...`` names present in ``params``, in numeric order."""
    return sorted((n for n in params if n[:1] == "x" and n[1:].isdigit()), key=lambda n: int(n[1:]))


MAX_FUNCTION_EPOCHS = 1000


def fidelity_curve(
    test_function: TestFunction | MultiTestFunction,
    x: np.ndarray,
    epochs: int,
    final: float | None = None,
) -> list[float]:
    """The values a function "trains" through: ``epochs`` values ending at f(x) exactly
    (``final``, when given: one metric of a function of several).

    Epoch e sits ``scale * (1 - (e + 1) / epochs)**2 * exp(0.5 z)`` above f(x), z a normal
    draw seeded by x and e: the gap and its noise fall to nothing by the last epoch, so early
    epochs rank points roughly, and a pruner can be taught and tested in milliseconds. The
    same x always gives the same curve.
    """
    if final is None:
        assert isinstance(test_function, TestFunction)
        final = test_function.function(x)
    seed = zlib.crc32(np.asarray(x, dtype=float).tobytes())
    noise = np.random.default_rng(seed).standard_normal(epochs)
    return [
        final + test_function.fidelity_scale * (1 - (e + 1) / epochs) ** 2 * math.exp(0.5 * z)
        for e, z in enumerate(noise)
    ]


def function_objective(name: str, trial_seconds: float = 0.0, epochs: int = 1) -> Objective:
    """An objective evaluating the named test function at ``x1, x2, ...``.

    ``trial_seconds`` makes each trial take that long (honouring stop requests), so a class can
    watch a search unfold and tests can stop a worker in the middle of a trial. With
    ``epochs`` above 1 the trial reports a :func:`fidelity_curve`, one value an epoch, spread
    over ``trial_seconds``, and may be pruned between epochs.
    """
    if name in MULTI_TEST_FUNCTIONS:
        return _multi_function_objective(MULTI_TEST_FUNCTIONS[name], trial_seconds, epochs)
    test_function = TEST_FUNCTIONS[name]

    def objective(params: dict[str, Any], reporter: Reporter) -> TrialOutcome:
        x = np.array([float(params[n]) for n in input_names(params)])
        curve = fidelity_curve(test_function, x, epochs)
        for epoch, value in enumerate(curve):
            _wait(reporter, trial_seconds / epochs)
            reporter.report(epoch, {"value": value})
            if epoch + 1 < epochs and reporter.should_prune(epoch):
                raise TrialPruned(epoch)
        return TrialOutcome(curve[-1])

    return objective


def _wait(reporter: Reporter, seconds: float) -> None:
    """Take ``seconds``, honouring stop requests."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if reporter.should_stop():
            raise TrialStopped("stopped on request")
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))


def _multi_function_objective(
    test_function: MultiTestFunction, trial_seconds: float, epochs: int
) -> Objective:
    """A function of several metrics: every epoch reports each metric (on its own converging
    curve) and the trial returns them all in ``values``; ``value`` is the first metric's. The
    study's spec says which metrics it optimises; the others are kept too."""

    def objective(params: dict[str, Any], reporter: Reporter) -> TrialOutcome:
        x = np.array([float(params[n]) for n in input_names(params)])
        finals = test_function.function(x)
        curves = {
            metric: fidelity_curve(test_function, x, epochs, final)
            for metric, final in finals.items()
        }
        for epoch in range(epochs):
            _wait(reporter, trial_seconds / epochs)
            reporter.report(epoch, {metric: curve[epoch] for metric, curve in curves.items()})
        first = test_function.metrics[0]
        return TrialOutcome(finals[first], values=dict(finals))

    return objective
