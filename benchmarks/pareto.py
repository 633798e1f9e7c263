"""Several metrics: how good a front each search finds on ZDT1 and ZDT2, by hypervolume.

Our Bayesian search (ParEGO over scikit-optimize's GP: engine/strategies/parego.py, the spec's
defaults GP, EI, 10 initial points; ``bayesian`` fits the GP to the ranks of the scalarised
losses, as shipped, ``bayesian-values`` to the values, as published), our random search,
and Optuna's default sampler for a study of two minimised metrics
(``optuna.create_study(directions=["minimize", "minimize"])``: in Optuna 5.0.0 a
``TPESampler`` with its defaults, 10 start-up trials; here given the seed), on ZDT1 (convex
front) and ZDT2 (concave front) with six inputs x1..x6 in [0, 1], both metrics f1 and f2
minimised (engine/objectives.py). Our strategies are driven directly through
ask/tell with the tuple of losses a two-metric study tells; Optuna through its ask/tell.

Hypervolume (engine/pareto.hypervolume) after the first 40 and 100 trials of each run, with the
reference point (1.1, 11) for every tool and problem: just beyond the worst value any point of
the domain can take (f1 <= 1; f2 <= g <= 10), so every trial counts, the reference depends on
no tool's results, and the true front's hypervolume is known: 12.1 - 1/3 = 11.767 on ZDT1,
12.1 - 2/3 = 11.433 on ZDT2. The table gives medians over seeds with the min-max, and each
tool's own CPU seconds per trial (ask and tell, not the function), over all trials and over
the last 10.

``--digits N`` adds a two-metric Keras study on the bundled digits (val_accuracy maximised,
train_seconds minimised, N trials of the Bayesian search) and prints its front.
Usage: python -m benchmarks.pareto [--seeds 5] [--trials 40,100] [--output FILE] [--digits 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tuning_core.engine.objectives import MULTI_TEST_FUNCTIONS
from tuning_core.engine.pareto import front_indices, hypervolume
from tuning_core.engine.space import SearchSpace, parse_space
from tuning_core.engine.strategies import BayesianStrategy, RandomStrategy

INPUTS = 6
NAMES = [f"x{i}" for i in range(1, INPUTS + 1)]
REFERENCE = (1.1, 11.0)
DIRECTIONS = ["minimize", "minimize"]
TRUE_FRONT_HYPERVOLUME = {"zdt1": 12.1 - 1 / 3, "zdt2": 12.1 - 2 / 3}
TOOLS = ("bayesian", "bayesian-values", "random", "optuna")


@dataclass
class Run:
    problem: str
    tool: str
    seed: int
    points: list[tuple[float, float]]  # (f1, f2) of each trial, in order
    cpu_s: list[float]  # the tool's own CPU seconds per trial (ask + tell)

    def hypervolume_at(self, trials: int) -> float:
        return hypervolume(self.points[:trials], DIRECTIONS, REFERENCE)


def _space() -> SearchSpace:
    return parse_space({name: {"type": "float", "low": 0.0, "high": 1.0} for name in NAMES})


def _evaluate(problem: str, params: dict[str, Any]) -> tuple[float, float]:
    values = MULTI_TEST_FUNCTIONS[problem].function(np.array([params[n] for n in NAMES]))
    return float(values["f1"]), float(values["f2"])


def _ours(strategy: Any, problem: str, seed: int, tool: str, trials: int) -> Run:
    points, cpu = [], []
    for _ in range(trials):
        start = time.process_time()
        params = strategy.ask()
        spent = time.process_time() - start
        losses = _evaluate(problem, params)
        start = time.process_time()
        strategy.tell(params, losses)
        cpu.append(spent + time.process_time() - start)
        points.append(losses)
    return Run(problem, tool, seed, points, cpu)


def run_bayesian(problem: str, seed: int, trials: int) -> Run:
    strategy = BayesianStrategy(_space(), "GP", "EI", 10, seed)
    return _ours(strategy, problem, seed, "bayesian", trials)


def run_bayesian_values(problem: str, seed: int, trials: int) -> Run:
    """ParEGO as published: the surrogate fitted to the scalarised values, not their ranks."""
    strategy = BayesianStrategy(_space(), "GP", "EI", 10, seed, scalarised_fit="values")
    return _ours(strategy, problem, seed, "bayesian-values", trials)


def run_random(problem: str, seed: int, trials: int) -> Run:
    return _ours(RandomStrategy(_space(), seed), problem, seed, "random", trials)


def optuna_default_sampler() -> str:
    """The class of the sampler Optuna gives a study of two minimised metrics by default."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(directions=DIRECTIONS)
    return f"{type(study.sampler).__name__} (optuna {optuna.__version__})"


def run_optuna(problem: str, seed: int, trials: int) -> Run:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    default = type(optuna.create_study(directions=DIRECTIONS).sampler)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # experimental-feature notices
        study = optuna.create_study(directions=DIRECTIONS, sampler=default(seed=seed))
    points, cpu = [], []
    for _ in range(trials):
        start = time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trial = study.ask()
            params = {name: trial.suggest_float(name, 0.0, 1.0) for name in NAMES}
        spent = time.process_time() - start
        losses = _evaluate(problem, params)
        start = time.process_time()
        study.tell(trial, list(losses))
        cpu.append(spent + time.process_time() - start)
        points.append(losses)
    return Run(problem, "optuna", seed, points, cpu)


RUNNERS: dict[str, Callable[[str, int, int], Run]] = {
    "bayesian": run_bayesian,
    "bayesian-values": run_bayesian_values,
    "random": run_random,
    "optuna": run_optuna,
}


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summary(runs: list[Run], checkpoints: list[int]) -> list[dict[str, Any]]:
    """One row per problem and tool: hypervolume at each checkpoint over seeds, CPU a trial."""
    rows = []
    for problem in dict.fromkeys(r.problem for r in runs):
        for tool in dict.fromkeys(r.tool for r in runs):
            mine = [r for r in runs if r.problem == problem and r.tool == tool]
            if not mine:
                continue
            rows.append(
                {
                    "problem": problem,
                    "tool": tool,
                    "seeds": len(mine),
                    "hypervolume": {
                        str(n): _spread([r.hypervolume_at(n) for r in mine]) for n in checkpoints
                    },
                    "cpu_s_per_trial": statistics.median(statistics.mean(r.cpu_s) for r in mine),
                    "cpu_s_last_10": statistics.median(
                        statistics.mean(r.cpu_s[-10:]) for r in mine
                    ),
                }
            )
    return rows


def markdown(rows: list[dict[str, Any]], checkpoints: list[int], sampler: str) -> str:
    head = " | ".join(f"hypervolume at {n} (min-max)" for n in checkpoints)
    lines = [
        f"Reference point {REFERENCE}; the true front's hypervolume: "
        + ", ".join(f"{p} {v:.3f}" for p, v in TRUE_FRONT_HYPERVOLUME.items())
        + f". optuna = {sampler}.",
        "",
        f"| problem | tool | seeds | {head} | CPU s/trial | CPU s/trial, last 10 |",
        "|---|---|---|" + "---|" * len(checkpoints) + "---|---|",
    ]
    for row in rows:
        cells = " | ".join(
            f"{h['median']:.3f} ({h['min']:.3f}-{h['max']:.3f})"
            for h in (row["hypervolume"][str(n)] for n in checkpoints)
        )
        lines.append(
            f"| {row['problem']} | {row['tool']} | {row['seeds']} | {cells} | "
            f"{row['cpu_s_per_trial']:.4f} | {row['cpu_s_last_10']:.4f} |"
        )
    return "\n".join(lines)


def digits_front(trials: int) -> dict[str, Any]:
    """A two-metric Bayesian study on digits (val_accuracy up, train_seconds down): its front."""
    from tuning_core.engine.spec import parse_spec
    from tuning_core.engine.storage import Store
    from tuning_core.engine.study import run_study
    from tuning_core.training.factory import objective_for

    spec = parse_spec(
        {
            "name": "digits-front",
            "objective": {
                "type": "keras",
                "dataset": "digits",
                "model": "mlp",
                "epochs": 5,
                "metrics": [
                    {"name": "val_accuracy", "direction": "maximize"},
                    {"name": "train_seconds", "direction": "minimize"},
                ],
            },
            "space": {
                "learning_rate": {"type": "float", "low": 1e-4, "high": 0.1, "log": True},
                "units": {"type": "int", "low": 8, "high": 512, "log": True},
                "batch_size": {"type": "int", "low": 16, "high": 256, "log": True},
            },
            "strategy": {"type": "bayesian", "initial_points": 8, "seed": 0},
            "budget": {"trials": trials},
        }
    )
    with (
        tempfile.TemporaryDirectory(prefix="pareto-bench-") as folder,
        Store(Path(folder) / "store.db") as store,
    ):
        start = time.perf_counter()
        run_study(spec, store, objective_for(spec), log=lambda _: None)
        wall = time.perf_counter() - start
        trials_done = [
            t
            for t in store.trials(store.get_study(spec.name).id)
            if all(np.isfinite(t.values.get(m, np.nan)) for m in ("val_accuracy", "train_seconds"))
        ]
    points = [(t.values["val_accuracy"], t.values["train_seconds"]) for t in trials_done]
    front = sorted(front_indices(points, ["maximize", "minimize"]), key=lambda i: points[i][1])
    return {
        "trials": len(points),
        "wall_s": wall,
        "front": [
            {
                "trial": trials_done[i].number,
                **trials_done[i].params,
                "val_accuracy": points[i][0],
                "train_seconds": points[i][1],
            }
            for i in front
        ],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", default="40,100", help="checkpoints; the last is the budget")
    parser.add_argument("--problems", default=",".join(TRUE_FRONT_HYPERVOLUME))
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--digits", type=int, default=0, help="trials of a digits study (0: none)")
    parser.add_argument("--output", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    try:
        checkpoints = sorted({int(n) for n in args.trials.split(",") if n.strip()})
    except ValueError:
        parser.error("--trials: comma-separated whole numbers, such as 40,100.")
    problems = [p.strip() for p in args.problems.split(",") if p.strip()]
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = [p for p in problems if p not in TRUE_FRONT_HYPERVOLUME] + [
        t for t in tools if t not in RUNNERS
    ]
    if unknown or args.seeds < 1 or not checkpoints or checkpoints[0] < 1:
        parser.error(
            f"problems among {', '.join(TRUE_FRONT_HYPERVOLUME)}, tools among {', '.join(TOOLS)}"
            f", seeds and trials 1 or more (unknown: {', '.join(unknown) or 'none'})."
        )
    sampler = optuna_default_sampler() if "optuna" in tools else "not run"
    runs: list[Run] = []
    for problem in problems:
        for seed in range(args.seeds):
            for tool in tools:
                run = RUNNERS[tool](problem, seed, checkpoints[-1])
                runs.append(run)
                at = ", ".join(f"{n}: {run.hypervolume_at(n):.3f}" for n in checkpoints)
                print(
                    f"{problem} {tool} seed {seed}: hypervolume {at}; {sum(run.cpu_s):.1f} s CPU",
                    flush=True,
                )
    rows = summary(runs, checkpoints)
    print()
    print(markdown(rows, checkpoints, sampler))
    digits = digits_front(args.digits) if args.digits > 0 else None
    if digits is not None:
        print(f"\ndigits, {digits['trials']} trials in {digits['wall_s']:.0f} s; the front:")
        for point in digits["front"]:
            print(f"  {point}")
    if args.output is not None:
        args.output.write_text(
            json.dumps(
                {
                    "args": {k: str(v) for k, v in vars(args).items()},
                    "reference": REFERENCE,
                    "optuna_sampler": sampler,
                    "table": rows,
                    "digits": digits,
                    "runs": [asdict(r) for r in runs],
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main(sys.argv[1:])
