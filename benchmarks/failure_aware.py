"""Does the Bayesian search keep away from where trials failed? Before (``failures="worst"``:
a failure is only told as the worst loss so far) against after (``"avoid"``: the failure model
of engine/strategies.py), over several seeds, on two cheap functions with a failing region:

- ``branin-fail``: Branin on its usual domain, NaN (a failed trial) where x1 > 7; 30 trials,
  10 initial points. The feasible optimum is 0.3979 (two of Branin's three minima).
- ``digits-lr``: a stand-in for the README's digits-lr study (same space, 20 trials, 5 initial
  points, val_accuracy maximised): accuracy falls off quadratically in log10(learning_rate)
  around each optimiser's best rate, and a rate above 3x that best diverges (a failed trial),
  as real training does at a rate of 1.

A proposal is a *repeat* when it fails in a region (Branin: x1 > 7; digits-lr: one optimiser's
divergence) where two or more earlier trials had already failed. Trials go through the study's
own teller (``study._Teller``), so failures are told exactly as a real study tells them.
Prints, per problem and mode: repeats per seed, their total and the median best.
Usage: python -m benchmarks.failure_aware [--seeds 5]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tuning_core.engine.objectives import TEST_FUNCTIONS
from tuning_core.engine.space import ChoiceDimension, NumericDimension, SearchSpace
from tuning_core.engine.states import Direction, TrialState
from tuning_core.engine.strategies import BayesianStrategy
from tuning_core.engine.study import _Teller


@dataclass(frozen=True)
class Problem:
    space: SearchSpace
    trials: int
    initial_points: int
    direction: Direction
    value: Callable[[dict[str, Any]], float]  # NaN: the trial failed
    region: Callable[[dict[str, Any]], str]  # which failing region a point falls in


def _branin(params: dict[str, Any]) -> float:
    if params["x1"] > 7:
        return math.nan
    return float(TEST_FUNCTIONS["branin"].function(np.array([params["x1"], params["x2"]])))


# The best learning rate per optimiser; three times it diverges.
BEST_RATE = {"sgd": 0.1, "adam": 0.003, "rmsprop": 0.002}


def _digits(params: dict[str, Any]) -> float:
    best = BEST_RATE[params["optimizer"]]
    if params["learning_rate"] > 3 * best:
        return math.nan
    distance = math.log10(params["learning_rate"] / best)
    batch = math.log2(params["batch_size"] / 32) / 4
    floor = {"sgd": 0.955, "adam": 0.975, "rmsprop": 0.97}[params["optimizer"]]
    return max(0.1, floor - 0.12 * distance**2 - 0.01 * batch**2)


PROBLEMS = {
    "branin-fail": Problem(
        SearchSpace(
            (
                NumericDimension("x1", "float", -5.0, 10.0),
                NumericDimension("x2", "float", 0.0, 15.0),
            ),
            {},
        ),
        30,
        10,
        Direction.MINIMIZE,
        _branin,
        lambda params: "x1>7",
    ),
    "digits-lr": Problem(
        SearchSpace(
            (
                NumericDimension("learning_rate", "float", 1e-4, 1.0, log=True),
                NumericDimension("batch_size", "int", 16, 256, log=True),
                ChoiceDimension("optimizer", ("sgd", "adam", "rmsprop")),
            ),
            {},
        ),
        20,
        5,
        Direction.MAXIMIZE,
        _digits,
        lambda params: str(params["optimizer"]),
    ),
}


def run(problem: Problem, mode: str, seed: int) -> tuple[int, float, float]:
    """One search; returns (repeats, best value, wall seconds per trial)."""
    strategy = BayesianStrategy(
        problem.space, "GP", "EI", problem.initial_points, seed, failures=mode
    )
    teller = _Teller(strategy, problem.space, problem.direction)
    failures: dict[str, int] = {}
    repeats, best = 0, None
    started = time.perf_counter()
    for _ in range(problem.trials):
        params = strategy.ask()
        value = problem.value(params)
        if math.isnan(value):
            region = problem.region(params)
            repeats += failures.get(region, 0) >= 2
            failures[region] = failures.get(region, 0) + 1
            teller.tell(params, TrialState.FAILED, None)
        else:
            signed = problem.direction.sign * value
            best = signed if best is None else min(best, signed)
            teller.tell(params, TrialState.COMPLETE, value)
    wall = (time.perf_counter() - started) / problem.trials
    return repeats, problem.direction.sign * best, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--problems", default=",".join(PROBLEMS))
    parser.add_argument("--modes", default="worst,avoid")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    print(
        f"{'problem':<12} {'mode':<6} {'repeats per seed':<18} {'total':>5} "
        f"{'median best':>12} {'s/trial':>8}"
    )
    for name in args.problems.split(","):
        problem = PROBLEMS[name]
        for mode in args.modes.split(","):
            results = [run(problem, mode, seed) for seed in range(args.seeds)]
            repeats = [r[0] for r in results]
            print(
                f"{name:<12} {mode:<6} {' '.join(map(str, repeats)):<18} {sum(repeats):>5} "
                f"{statistics.median(r[1] for r in results):>12.4f} "
                f"{statistics.mean(r[2] for r in results):>8.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
