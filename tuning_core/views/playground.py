"""Gradient-descent playground: θ ← θ − α∇f(θ) on small closed-form functions, in numpy.

Instant and TensorFlow-free, so the dashboard can redraw it on every slider move. For the
1-D quadratic f(θ) = L/2·θ², plain descent multiplies θ by (1 − αL) each step: it converges
for 0 < α < 2/L, oscillates in sign for 1/L < α < 2/L, and diverges for α > 2/L.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

# Beyond this size a path is diverging; stop before it overflows to inf.
DIVERGED_NORM = 1e6


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
        (-1.5, 2.0),
        ((-2.0, 2.0), (-1.0, 3.0)),
    ),
}


@dataclass(frozen=True)
class Preset:
    label: str
    learning_rate: float
    explanation: str


# For the 1-D quadratic with curvature L = 2, so 1/L = 0.5 and 2/L = 1.
PRESETS: dict[str, Preset] = {
    "too small": Preset(
        "too small", 0.02, "Each step is tiny: the loss falls, but 30 steps are not nearly enough."
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
}


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


def describe(path: DescentPath) -> str:
    """One line a student can read: what this run of descent did."""
    if path.diverged:
        return "Diverging: each step overshoots further and the loss grows."
    first, last = path.losses[0], path.losses[-1]
    moves = np.diff(path.thetas[:, 0])
    signs = np.sign(moves[moves != 0])
    if len(signs) > 2 and np.mean(signs[1:] != signs[:-1]) > 0.5 and last < first:
        return "Oscillating: each step overshoots the minimum, but the overshoots shrink."
    if first > 0 and last < 1e-6 * first + 1e-9:
        return "Converged to the minimum."
    if last < first:
        return (
            f"Still descending: the loss fell from {first:.3g} to {last:.3g}; "
            "more steps or a larger α would help."
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
