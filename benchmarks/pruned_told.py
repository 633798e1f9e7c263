"""What should a Bayesian search be told about a pruned trial? Measured on function fidelities.

Each row is a real study (run_study on an in-memory store) of a test function with
``epochs`` fidelity steps, a Bayesian GP strategy and a pruner, at one budget of epochs summed
over trials. The pruned trial is told either its value when it stopped ("last": a pessimistic
but informative estimate of where its curve was heading) or the worst loss seen so far
("worst", as a failure is told). A third option, telling nothing, is not offered: a
scikit-optimize Optimizer that is not told proposes the same point again on the next ask, so a
pruned point would be retried forever. The unpruned study at the same epoch budget is the
baseline. Prints the median final regret (best true value minus the optimum) over seeds, the
trials run, and whether any value told was not finite (the GP must never see NaN).

Usage: python -m benchmarks.pruned_told [--seeds 5] [--budget 270] [--functions branin,hartmann6]
"""

from __future__ import annotations

import argparse
import math
import statistics
from typing import Any

from tuning_core.engine.objectives import TEST_FUNCTIONS, function_objective
from tuning_core.engine.spec import parse_spec
from tuning_core.engine.states import TrialState
from tuning_core.engine.storage import Store
from tuning_core.engine.study import run_study

EPOCHS = 9
ROWS: dict[str, dict[str, Any]] = {
    "no pruning": {"type": "none"},
    "SH, told last value": {"type": "successive_halving", "tell": "last"},
    "SH, told worst loss": {"type": "successive_halving", "tell": "worst"},
    "median, told last value": {"type": "median", "tell": "last"},
    "median, told worst loss": {"type": "median", "tell": "worst"},
}


def study_spec(function: str, pruner: dict[str, Any], seed: int, budget: int) -> dict[str, Any]:
    """A Bayesian study of ``function`` over its usual domain, stopping at ``budget`` epochs."""
    test_function = TEST_FUNCTIONS[function]
    dimensions = test_function.dimensions or 2
    domain = test_function.domain * (dimensions if len(test_function.domain) == 1 else 1)
    space = {
        f"x{i + 1}": {"type": "float", "low": low, "high": high}
        for i, (low, high) in enumerate(domain)
    }
    return {
        "name": f"{function}-{seed}",
        "objective": {"type": "function", "name": function, "epochs": EPOCHS},
        "space": space,
        "strategy": {"type": "bayesian", "seed": seed, "initial_points": 8},
        "budget": {"trials": budget, "epochs": budget},
        "pruner": pruner,
    }


def run_row(
    function: str, pruner: dict[str, Any], seed: int, budget: int
) -> tuple[float, int, bool]:
    """(regret of the best complete trial, trials run, every stored value finite)."""
    spec = parse_spec(study_spec(function, pruner, seed, budget))
    with Store(":memory:") as store:
        run = run_study(spec, store, function_objective(function, 0, EPOCHS), log=lambda _: None)
        trials = store.trials(run.study_id)
    complete = [t.value for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    told = [t.value for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    finite = all(value is not None and math.isfinite(value) for value in told)
    return min(complete) - TEST_FUNCTIONS[function].optimum, len(trials), finite


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budget", type=int, default=270, help="epochs summed over trials")
    parser.add_argument("--functions", default="branin,hartmann6")
    args = parser.parse_args()
    print(f"budget {args.budget} epochs ({args.budget // EPOCHS} full trials), {args.seeds} seeds")
    print("| function | row | median regret | regrets | median trials | all told finite |")
    print("| --- | --- | --- | --- | --- | --- |")
    for function in args.functions.split(","):
        for label, pruner in ROWS.items():
            results = [run_row(function, pruner, seed, args.budget) for seed in range(args.seeds)]
            regrets = [regret for regret, _, _ in results]
            print(
                f"| {function} | {label} | {statistics.median(regrets):.4g} | "
                f"{' '.join(f'{r:.3g}' for r in regrets)} | "
                f"{statistics.median(t for _, t, _ in results):.0f} | "
                f"{all(finite for _, _, finite in results)} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
