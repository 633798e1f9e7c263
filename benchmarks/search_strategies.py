"""Grid vs random vs Bayesian search on closed-form functions, over several seeds.

Prints, per function and strategy: the median best value, the median regret (best minus the
known optimum) and the tuner's own overhead per trial (time in ask/tell, not in the function).
Usage: python -m benchmarks.search_strategies [--seeds 5] [--configs default,skopt-default]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from typing import Any

import numpy as np

from tuning_core.engine.objectives import TEST_FUNCTIONS, input_names
from tuning_core.engine.space import NumericDimension, SearchSpace
from tuning_core.engine.strategies import BayesianStrategy, GridStrategy, RandomStrategy

PROBLEMS = {"branin": 30, "hartmann6": 100}

# Named Bayesian configurations: the shipped default, and scikit-optimize's own defaults.
BAYESIAN_CONFIGS: dict[str, dict[str, Any]] = {
    "gp-default": {},
    "gp-refit-every-trial": {"kernel_refit_every": 1, "kernel_fit_restarts": 2},
    "gp-refit-every-10-restarts-2": {"kernel_refit_every": 10, "kernel_fit_restarts": 2},
    "gp-refit-every-5-restarts-2": {"kernel_refit_every": 5, "kernel_fit_restarts": 2},
    "gp-refit-every-3": {"kernel_refit_every": 3},
    "gp-light": {
        "kernel_refit_every": 10,
        "kernel_fit_restarts": 2,
        "acquisition_optimizer": {"n_points": 1000, "n_restarts_optimizer": 1},
    },
    "skopt-default": {
        "acquisition": "gp_hedge",
        "acquisition_optimizer": {"n_points": 10000, "n_restarts_optimizer": 5},
        "kernel_refit_every": 1,
        "kernel_fit_restarts": 2,
    },
}


def space_for(name: str) -> SearchSpace:
    domain = TEST_FUNCTIONS[name].domain
    return SearchSpace(
        tuple(NumericDimension(f"x{i + 1}", "float", lo, hi) for i, (lo, hi) in enumerate(domain)),
        {},
    )


def run(name: str, strategy_name: str, trials: int, seed: int) -> tuple[float, float]:
    """One search; returns (best value, mean tuner seconds per trial)."""
    space = space_for(name)
    function = TEST_FUNCTIONS[name].function
    if strategy_name == "grid":
        # As many levels as fit in the budget: levels ** dimensions <= trials.
        levels = max(1, int(trials ** (1 / len(space.dimensions))))
        strategy: Any = GridStrategy(space, levels)
    elif strategy_name == "random":
        strategy = RandomStrategy(space, seed)
    else:
        options = dict(BAYESIAN_CONFIGS[strategy_name])
        acquisition = options.pop("acquisition", "EI")
        strategy = BayesianStrategy(space, "GP", acquisition, 10, seed, **options)
    best, overhead, count = float("inf"), 0.0, 0
    for _ in range(trials):
        started = time.perf_counter()
        params = strategy.ask()
        overhead += time.perf_counter() - started
        if params is None:
            break
        value = function(np.array([params[n] for n in input_names(params)]))
        best = min(best, value)
        started = time.perf_counter()
        strategy.tell(params, value)
        overhead += time.perf_counter() - started
        count += 1
    return best, overhead / max(count, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--problems", default=",".join(PROBLEMS))
    parser.add_argument("--strategies", default="grid,random,gp-default")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    print(
        f"{'function':<10} {'strategy':<22} {'trials':>6} {'median best':>12} "
        f"{'median regret':>14} {'overhead s/trial':>17}"
    )
    for name in args.problems.split(","):
        trials, optimum = PROBLEMS[name], TEST_FUNCTIONS[name].optimum
        for strategy_name in args.strategies.split(","):
            seeds = [0] if strategy_name == "grid" else range(args.seeds)
            results = [run(name, strategy_name, trials, seed) for seed in seeds]
            best = statistics.median(r[0] for r in results)
            overhead = statistics.mean(r[1] for r in results)
            print(
                f"{name:<10} {strategy_name:<22} {trials:>6} {best:>12.4f} "
                f"{best - optimum:>14.4f} {overhead:>17.4f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
