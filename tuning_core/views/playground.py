"""Gradient-descent playground: θ ← θ − α∇f(θ) on small closed-form functions, in numpy.

Instant and TensorFlow-free, so the dashboard can redraw it on every slider move. For the
1-D quadratic f(θ) = L/2·θ², plain descent multiplies θ by (1 − αL) each step: it converges
for 0 < α < 2/L, oscillates in sign for 1/L < α < 2/L, and diverges for α > 2/L.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# Beyond this size a path is diverging; stop before it overflows to inf.
DIVERGED_NORM = 1e6
# A loss this far below the start's counts as converged.
CONVERGED_FALL = 1e-4


@dataclass(frozen=True)
class PlaygroundFunction:
    name: str
    label: str
    dimensions: int
    loss: Callable[[np.ndarray], float]
    gradient: Callable[[np.ndarray], np.ndarray]
    minimum: tuple[float, ...]
    default_start: tuple[float, ...]
    view: tuple[tuple[float, float], ...]  # plotting window per dimension
    curvatures: tuple[float, ...] = field(default=())  # Hessian eigenvalues where constant


QUADRATIC_CURVATURE = 2.0
BOWL_CURVATURES = (1.0, 10.0)


def _quadratic_1d(theta: np.ndarray) -> float:
    return float(0.5 * QUADRATIC_CURVATURE * theta[0] ** 2)


def _bowl(theta: np.ndarray) -> float:
    return float(0.5 * (BOWL_CURVATURES[0] * theta[0] ** 2 + BOWL_CURVATURES[1] * theta[1] ** 2))


def _rosenbrock(theta: np.ndarray) -> float:
    x, y = theta
    return float((1 - x) ** 2 + 100 * (y - x**2) ** 2)


def _rosenbrock_gradient(theta: np.ndarray) -> np.ndarray:
    x, y = theta
    return np.array([-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)])


FUNCTIONS: dict[str, PlaygroundFunction] = {
    "quadratic": PlaygroundFunction(
        "quadratic",
        "1-D quadratic  f(θ) = θ²",
        1,
        _quadratic_1d,
        lambda t: QUADRATIC_CURVATURE * t,
        (0.0,),
        (4.0,),
        ((-6.0, 6.0),),
        (QUADRATIC_CURVATURE,),
    ),
    "bowl": PlaygroundFunction(
        "bowl",
        "Elongated bowl  f = ½(x² + 10y²)",
        2,
        _bowl,
        lambda t: np.array(BOWL_CURVATURES) * t,
        (0.0, 0.0),
        (-4.0, 2.0),
        ((-5.0, 5.0), (-3.0, 3.0)),
        BOWL_CURVATURES,
    ),
    "rosenbrock": PlaygroundFunction(
        "rosenbrock",
        "Rosenbrock  f = (1−x)² + 100(y−x²)²",
        2,
        _rosenbrock,
        _rosenbrock_gradient,
        (1.0, 1.0),
        (-1.2, 1.0),  # the classic start, on the far side of the curved valley
        ((-2.0, 2.0), (-1.0, 3.0)),
    ),
}


@dataclass(frozen=True)
class Preset:
    label: str
    learning_rate: float
    explanation: str
    steps: int = 30


PRESET_NAMES = ("too small", "just right", "oscillating", "diverging")

# Per function, since a rate that teaches on one diverges on another. The 1-D quadratic has
# curvature L = 2 (1/L = 0.5, 2/L = 1); the bowl's largest curvature is 10 (2/L = 0.2);
# Rosenbrock's valley floor curves up to ~1000 near the minimum, so it needs rates 100x
# smaller and more steps (values found by running these very paths from its start).
PRESETS_BY_FUNCTION: dict[str, dict[str, Preset]] = {
    "quadratic": {
        "too small": Preset(
            "too small",
            0.02,
            "Each step is tiny: the loss falls, but 30 steps are not nearly enough.",
        ),
        "just right": Preset(
            "just right",
            0.4,
            "Big enough to make progress, small enough never to overshoot: smooth, fast descent.",
        ),
        "oscillating": Preset(
            "oscillating",
            0.9,
            "Past 1/L each step overshoots the minimum, so θ flips sign, but it still shrinks.",
        ),
        "diverging": Preset(
            "diverging",
            1.05,
            "Past 2/L every overshoot is larger than the last: the loss grows without bound.",
        ),
    },
    "bowl": {
        "too small": Preset(
            "too small", 0.01, "Tiny steps: after 30 of them θ has barely left the start."
        ),
        "just right": Preset(
            "just right",
            0.1,
            "α = 1/(steep curvature) settles the steep direction in one step; the shallow "
            "one follows steadily.",
        ),
        "oscillating": Preset(
            "oscillating",
            0.19,
            "Just under 2/L for the steep direction: θ zig-zags across the narrow valley.",
        ),
        "diverging": Preset(
            "diverging",
            0.21,
            "Just over 2/L for the steep direction: each zig-zag is wider than the last.",
        ),
    },
    "rosenbrock": {
        "too small": Preset(
            "too small",
            0.0002,
            "Rosenbrock's walls are steep, so α must be small, but this small barely moves "
            "along the flat valley floor in 300 steps.",
            300,
        ),
        "just right": Preset(
            "just right",
            0.004,
            "Down the wall, then along the curved valley towards (1, 1): plain descent is "
            "slow here (try momentum).",
            300,
        ),
        "oscillating": Preset(
            "oscillating",
            0.006,
            "Steps overshoot across the narrow valley, zig-zagging from wall to wall before "
            "they settle.",
            300,
        ),
        "diverging": Preset(
            "diverging",
            0.007,
            "A little larger again and each jump across the valley lands higher up the wall: "
            "the loss explodes within a few steps.",
            300,
        ),
    },
}
PRESETS = PRESETS_BY_FUNCTION["quadratic"]


def preset_for(function_name: str, preset_name: str) -> Preset | None:
    """The named preset for a function, or None for "custom" or an unknown name."""
    return PRESETS_BY_FUNCTION.get(function_name, {}).get(preset_name)


@dataclass
class DescentPath:
    thetas: np.ndarray  # (steps + 1, dimensions)
    losses: np.ndarray  # (steps + 1,)
    diverged: bool


def gradient_descent(
    function: PlaygroundFunction,
    start: tuple[float, ...],
    learning_rate: float,
    steps: int,
    momentum: float = 0.0,
) -> DescentPath:
    """Run ``steps`` updates v ← βv − α∇f(θ); θ ← θ + v (β = momentum; 0 is plain descent)."""
    theta = np.asarray(start, dtype=float)
    velocity = np.zeros_like(theta)
    thetas, losses = [theta.copy()], [function.loss(theta)]
    diverged = False
    for _ in range(steps):
        velocity = momentum * velocity - learning_rate * function.gradient(theta)
        theta = theta + velocity
        if not np.all(np.isfinite(theta)) or np.linalg.norm(theta) > DIVERGED_NORM:
            diverged = True
            break
        thetas.append(theta.copy())
        losses.append(function.loss(theta))
    return DescentPath(
        np.array(thetas), np.array(losses), diverged or losses[-1] > 10 * max(losses[0], 1e-12)
    )


def stability_limit(function: PlaygroundFunction) -> float | None:
    """The largest learning rate for which plain descent converges: 2 / (largest curvature)."""
    return 2.0 / max(function.curvatures) if function.curvatures else None


def _oscillates(thetas: np.ndarray, run: int = 6) -> bool:
    """Whether some coordinate reverses its direction of travel ``run`` steps in a row.

    Runs, not a share of all steps: on Rosenbrock the zig-zag starts only once the path
    reaches the steep valley floor, late in the path.
    """
    moves = np.diff(thetas, axis=0)
    for column in moves.T:
        signs = np.sign(column[column != 0])
        flips = signs[1:] != signs[:-1]
        streak = 0
        for flip in flips:
            streak = streak + 1 if flip else 0
            if streak >= run:
                return True
    return False


def _ratio(first: float, last: float) -> str:
    fall = first / last if last > 0 else math.inf
    return "∞" if not math.isfinite(fall) else f"{fall:,.0f}" if fall < 1e6 else f"{fall:.0e}"


def describe(path: DescentPath) -> str:
    """One line a student can read: what this run of descent did.

    A fall of 10,000x or more counts as converged (the start's loss is then four orders of
    magnitude away; "still descending" after a 300,000x fall misled).
    """
    if path.diverged:
        return "Diverging: each step overshoots further and the loss grows."
    first, last = float(path.losses[0]), float(path.losses[-1])
    if _oscillates(path.thetas) and last < first:
        return (
            "Oscillating: each step overshoots the minimum, but the overshoots shrink; "
            f"the loss fell {_ratio(first, last)}×, to {last:.2g}."
        )
    if first > 0 and last <= first * CONVERGED_FALL + 1e-12:
        return "Converged to the minimum."
    if last < first:
        return (
            f"Still descending: the loss fell {_ratio(first, last)}×, from {first:.3g} to "
            f"{last:.3g}; more steps or a larger α would help."
        )
    return "No progress: the loss did not fall."


def path_frame(path: DescentPath) -> pd.DataFrame:
    """step, x (, y), loss for charts."""
    frame = pd.DataFrame(
        {"step": range(len(path.losses)), "loss": path.losses, "x": path.thetas[:, 0]}
    )
    if path.thetas.shape[1] > 1:
        frame["y"] = path.thetas[:, 1]
    return frame


def surface_frame(function: PlaygroundFunction, resolution: int = 40) -> pd.DataFrame:
    """A grid over the function's view: x, y, loss, log_loss (for 2-D) or x, loss (for 1-D)."""
    if function.dimensions == 1:
        xs = np.linspace(*function.view[0], 200)
        return pd.DataFrame({"x": xs, "loss": [function.loss(np.array([x])) for x in xs]})
    xs, ys = np.linspace(*function.view[0], resolution), np.linspace(*function.view[1], resolution)
    rows = [(x, y, function.loss(np.array([x, y]))) for y in ys for x in xs]
    frame = pd.DataFrame(rows, columns=["x", "y", "loss"])
    frame["log_loss"] = np.log10(frame["loss"] + 1e-3)
    return frame
