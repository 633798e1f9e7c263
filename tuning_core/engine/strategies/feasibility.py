"""The failure model beside a Bayesian search's surrogate: P(a point runs without failing)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tuning_core.engine.space import Scalar
from tuning_core.engine.strategies.protocol import python_scalar

# Failures (a diverged or failed trial). A Bayesian search keeps a second, cheap model beside
# its surrogate: the probability that a point runs without failing, a Gaussian-kernel estimate
# over the failed and the finished points in the surrogate's unit-scaled space,
#   P(feasible | x) = (S(x) + FEASIBILITY_PRIOR) / (F(x) + S(x) + FEASIBILITY_PRIOR),
# with F and S the kernel weights of failed and finished points (bandwidth FEASIBILITY_BANDWIDTH
# times sqrt(hyperparameters)). Far from any failure it is 1; on one failure 1/3, on two 1/5.
# When the acquisition's choice (or an initial random draw) falls below FEASIBLE_AT, the search
# takes instead, of FEASIBILITY_CANDIDATES random points and the acquisitions' own candidates,
# the one with the highest expected improvement times P(feasible) (the "constrained EI" of
# Gardner et al. 2014, as Optuna's and BoTorch's constrained searches weigh), among those at
# SAFE_AT or above (else FEASIBLE_AT): EI x P alone let a large EI outweigh a failed corner. A
# failure is still told to the surrogate as the worst loss so far (study._Teller).
# benchmarks/failure_aware.py, 5 seeds: proposals in a region that had already failed twice
# (per seed, total) and the median best, failures told as the worst loss only -> this model:
#   Branin, x1 > 7 fails, 30 trials:   2 3 3 0 8 (16), 0.3997  ->  1 0 1 0 0 (2), 0.4047
#   digits-lr stand-in, 20 trials:     0 3 1 0 3 (7), 0.9694   ->  0 0 0 0 1 (1), 0.9692
# (with the GP refitted every 10 tells, three starts: 16 -> 2, 0.644 -> 0.409; 9 -> 1,
# 0.9735 -> 0.9700).
# Also tried (Branin / digits-lr totals): this kernel at bandwidth 0.1 and FEASIBLE_AT 0.5
# without SAFE_AT, 13 / 9; a GP regression on the failure labels (ARD RBF), 5 / 3 but
# overconfident far from data; extra-trees, 8 / 3; 3 nearest neighbours, 3 / 2.
FEASIBILITY_PRIOR = 0.5
FEASIBILITY_BANDWIDTH = 0.2
FEASIBLE_AT = 0.75
SAFE_AT = 0.9
FEASIBILITY_CANDIDATES = 1000
FAILURE_MODES = ("avoid", "worst")  # "worst": the failure is only the worst loss (before #25)


def feasibility_model(
    failed: np.ndarray, finished: np.ndarray, dimensions: int
) -> Callable[[np.ndarray], np.ndarray]:
    """P(a point runs without failing), learnt from the ``failed`` and ``finished`` points
    (rows in the surrogate's transformed space, where a choice is one-hot) of a space of
    ``dimensions`` hyperparameters; see FEASIBILITY_PRIOR."""
    bandwidth = FEASIBILITY_BANDWIDTH * math.sqrt(dimensions)

    def weight(points: np.ndarray, data: np.ndarray) -> np.ndarray:
        if len(data) == 0:
            return np.zeros(len(points))
        distance = ((points[:, None, :] - data[None, :, :]) ** 2).sum(axis=2)
        return np.exp(-distance / (2 * bandwidth**2)).sum(axis=1)

    def chance(points: np.ndarray) -> np.ndarray:
        fails, finishes = weight(points, failed), weight(points, finished)
        return (finishes + FEASIBILITY_PRIOR) / (fails + finishes + FEASIBILITY_PRIOR)

    return chance


@dataclass(frozen=True)
class Feasibility:
    """What the failure model said at one ask: the failed points, P(feasible) at the
    acquisition's (or random draw's) own choice and at the point proposed, and whether it
    moved the proposal."""

    failed: list[list[Scalar]]
    at_first: float
    at_chosen: float
    moved: bool

    def facts(self) -> dict[str, Any]:
        return {
            "failed": [[python_scalar(v) for v in x] for x in self.failed],
            "at_first": self.at_first,
            "at_chosen": self.at_chosen,
            "moved": self.moved,
        }
