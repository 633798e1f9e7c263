"""A strategy race through the real race runner: grid / random / Bayesian (GP) on Branin
(30 trials, 5 seeds) and Hartmann-6 (100 trials, 3 seeds).

Prints each strategy's median final regret (best minus the known optimum), the ratio of the
GP's median regret to random's (the target on Branin is at most 0.1), the race's verdict and
the wall time. Usage: python -m benchmarks.race [--only branin|hartmann6]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

from tuning_core.engine.objectives import TEST_FUNCTIONS, function_objective
from tuning_core.engine.race import race_trial_rows, run_race
from tuning_core.engine.race_spec import parse_race_spec
from tuning_core.engine.storage import Store
from tuning_core.views.race import convergence_frame, trial_frame, verdict

CASES = {"branin": (30, 5), "hartmann6": (100, 3)}
STRATEGIES = [
    {"type": "grid"},
    {"type": "random"},
    {"type": "bayesian", "surrogate": "GP", "acquisition": "EI"},
]


def race_document(function: str, trials: int, seeds: int) -> dict:
    test = TEST_FUNCTIONS[function]
    dims = test.dimensions or 2
    domain = test.domain if len(test.domain) == dims else test.domain * dims
    space = {
        f"x{i + 1}": {"type": "float", "low": low, "high": high}
        for i, (low, high) in enumerate(domain)
    }
    return {
        "name": f"bench-{function}",
        "objective": {"type": "function", "name": function},
        "space": space,
        "budget": {"trials": trials},
        "seeds": seeds,
        # The study default of 10 random starting points, as benchmarks/search_strategies.py.
        "strategies": [
            {**s, "initial_points": 10} if s["type"] == "bayesian" else s for s in STRATEGIES
        ],
    }


def run_case(function: str) -> None:
    trials, seeds = CASES[function]
    race = parse_race_spec(race_document(function, trials, seeds))
    started = time.perf_counter()
    with Store(":memory:") as store:
        outcome = run_race(
            race, store, lambda spec: function_objective(function), log=lambda _: None
        )
        rows = race_trial_rows(store, outcome.race_id)
    seconds = time.perf_counter() - started
    optimum = TEST_FUNCTIONS[function].optimum
    frame = trial_frame(rows, "minimize", optimum)
    finals = frame.groupby(["label", "study"])["best"].last().groupby("label")
    medians = {label: statistics.median(values) - optimum for label, values in finals}
    print(f"\n{function}: {trials} trials, {seeds} seeds (grid once), {seconds:.1f} s")
    print(f"{'strategy':<10} {'studies':>7} {'median final regret':>20}")
    for label in race.labels():
        count = finals.get_group(label).size
        print(f"{label:<10} {count:>7} {medians[label]:>20.4g}")
    ratio = medians["gp-ei"] / medians["random"] if medians["random"] > 0 else float("nan")
    print(f"GP / random median regret: {ratio:.3g}")
    bands = convergence_frame(frame, race.titles())
    print("verdict:", verdict(bands, race.titles(), "minimize", "regret"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=sorted(CASES), default=None)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    for function in [args.only] if args.only else list(CASES):
        run_case(function)


if __name__ == "__main__":
    main()
