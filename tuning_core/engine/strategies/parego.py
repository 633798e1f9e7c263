"""ParEGO's scalarisation: several losses to one, with weights that change from ask to ask.

Knowles (2006), "ParEGO: a hybrid algorithm with on-line landscape approximation for expensive
multiobjective optimization problems". Before each model-chosen ask the losses told so far
are normalised per metric to [0, 1] and turned into one number by the augmented Chebyshev
function with fresh random weights w on the simplex,

    s(f) = max_i(w_i f_i) + PAREGO_RHO * sum_i(w_i f_i),

so the single-objective surrogate aims at a different part of the front each time; the max
reaches fronts that are not convex, the small sum breaks ties between weakly dominated points.
Pure numpy: the Bayesian strategy fits its surrogate to these values.
"""

from __future__ import annotations

import numpy as np

PAREGO_RHO = 0.05  # Knowles' augmentation


def parego_weights(seed: int, ask: int, metrics: int) -> np.ndarray:
    """The weights of ask number ``ask`` (0-based) of a strategy seeded ``seed``: a uniform
    draw on the simplex of ``metrics`` weights (a flat Dirichlet), from a generator of its own
    seeded by both numbers, so the same seed and ask always give the same weights and nothing
    else in the search draws differently because of them."""
    if metrics < 1:
        raise ValueError(f"metrics: {metrics} must be at least 1")
    rng = np.random.default_rng([int(seed) % 2**32, int(ask)])
    return rng.dirichlet(np.ones(metrics))


def normalise(losses: np.ndarray) -> np.ndarray:
    """Each column of ``losses`` (one row per trial) mapped to [0, 1] over its own range; a
    column whose losses are all equal becomes 0."""
    losses = np.asarray(losses, dtype=float)
    low, high = losses.min(axis=0), losses.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    return (losses - low) / span


def chebyshev(normalised: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The augmented Chebyshev value of each row of ``normalised`` losses under ``weights``."""
    weighted = np.asarray(normalised, dtype=float) * np.asarray(weights, dtype=float)
    return weighted.max(axis=1) + PAREGO_RHO * weighted.sum(axis=1)


def scalarise(losses: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``losses`` (trials x metrics, all minimised) as one value each: normalised, then
    :func:`chebyshev` under ``weights``."""
    return chebyshev(normalise(losses), weights)
