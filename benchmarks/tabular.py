"""The built-in table MLP on real tables: our Bayesian search against Keras Tuner's
``BayesianOptimization``, same model, same data, same budget, over seeds.

- Data: scikit-learn's breast cancer (569 rows, 30 features, binary; metric val_accuracy,
  maximised) and diabetes (442 rows, 10 features, regression; metric val_mae, minimised),
  written to CSV in a temporary folder. Our study reads the CSV and fits its preparation
  (standardised features, stratified or shuffled 80/20 split, seeded); Keras Tuner gets the
  very arrays that preparation makes (``tables.prepare_objective_table`` on our stored spec).
- Model: ``table_objective.build_table_model`` for both (the registry's MLP, the task's head;
  for regression, the standardised target's rescaled head).
- Space: learning_rate 1e-4..1e-1 (log), units 16..256 (log), hidden_layers 1..3, dropout
  0..0.5, activation relu/tanh, optimizer adam/rmsprop, batch_size 16..128 (log); every trial
  trains ``--epochs`` epochs (no pruning), and its value is its best epoch's metric (as both
  tools report it).
- Budget: ``--trials`` trials a run, 5 of them random first for both (our GP with EI; Keras
  Tuner's GP with its UCB). Keras Tuner treats seed 0 as "no seed", so it gets seed + 1.

Prints a markdown table: per dataset and tool, the median best value over the seeds (min and
max) and the median wall seconds of a run (model building and fitting; data reading included for
ours). Target (issue 22): ours at or above Keras Tuner within noise.

Benchmark-only requirements: ``pip install -r requirements.txt -r requirements-bench.txt``.
Usage: python -m benchmarks.tabular [--seeds 5] [--trials 15] [--epochs 20] [--json PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sklearn.datasets import load_breast_cancer, load_diabetes

from tuning_core.engine.spec import parse_spec
from tuning_core.engine.states import Direction
from tuning_core.engine.storage import Store
from tuning_core.engine.study import run_study
from tuning_core.training.tables import complete_table_spec, prepare_objective_table

INITIAL_POINTS = 5
SPACE: dict[str, Any] = {
    "learning_rate": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
    "units": {"type": "int", "low": 16, "high": 256, "log": True},
    "hidden_layers": {"type": "int", "low": 1, "high": 3},
    "dropout": {"type": "float", "low": 0.0, "high": 0.5},
    "activation": {"type": "choice", "values": ["relu", "tanh"]},
    "optimizer": {"type": "choice", "values": ["adam", "rmsprop"]},
    "batch_size": {"type": "int", "low": 16, "high": 128, "log": True},
}
DATASETS = {"breast_cancer": ("diagnosis", "val_accuracy"), "diabetes": ("progression", "val_mae")}


@dataclass
class RunResult:
    dataset: str
    tool: str
    seed: int
    best: float
    seconds: float
    trials: int


def write_csvs(folder: Path) -> dict[str, Path]:
    """The two tables as a user would have them: a header row, one row per example."""
    paths = {}
    cancer = load_breast_cancer(as_frame=True).frame
    cancer["diagnosis"] = cancer.pop("target").map({0: "malignant", 1: "benign"})
    paths["breast_cancer"] = folder / "breast_cancer.csv"
    cancer.to_csv(paths["breast_cancer"], index=False)
    diabetes = load_diabetes(as_frame=True, scaled=False).frame
    diabetes = diabetes.rename(columns={"target": "progression"})
    paths["diabetes"] = folder / "diabetes.csv"
    diabetes.to_csv(paths["diabetes"], index=False)
    return paths


def our_spec(dataset: str, path: Path, seed: int, trials: int, epochs: int) -> Any:
    target, metric = DATASETS[dataset]
    raw = {
        "name": f"{dataset}-s{seed}",
        "objective": {
            "type": "keras",
            "dataset": str(path),
            "target": target,
            "metric": metric,
            "epochs": epochs,
        },
        "space": SPACE,
        "strategy": {
            "type": "bayesian",
            "surrogate": "GP",
            "acquisition": "EI",
            "initial_points": INITIAL_POINTS,
            "seed": seed,
        },
        "budget": {"trials": trials},
    }
    return complete_table_spec(parse_spec(raw), raw["objective"])


def run_ours(dataset: str, path: Path, seed: int, args: argparse.Namespace) -> RunResult:
    from tuning_core.training.table_objective import TableObjective

    started = time.perf_counter()
    spec = our_spec(dataset, path, seed, args.trials, args.epochs)
    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "bench.db") as store:
        run_study(spec, store, TableObjective(spec), log=lambda _: None)
        trials = store.trials(store.get_study(spec.name).id)
    values = [t.value for t in trials if t.value is not None]
    best = spec.direction.best(values)
    return RunResult(
        dataset, "tuning_lab_gp_ei", seed, best, time.perf_counter() - started, len(trials)
    )


def run_keras_tuner(dataset: str, path: Path, seed: int, args: argparse.Namespace) -> RunResult:
    import keras_tuner

    from tuning_core.training.table_objective import (
        build_table_model,
        keras,
        targets_for,
    )

    spec = our_spec(dataset, path, seed, args.trials, args.epochs)
    started = time.perf_counter()
    data = prepare_objective_table(spec.objective, seed)
    task, classes = data.task, data.num_classes
    y_train = targets_for(task, classes, data.y_train)
    y_val = targets_for(task, classes, data.y_val)
    defaults = {"l2": 0.0, "momentum": 0.0}

    class TableHyperModel(keras_tuner.HyperModel):
        def build(self, hp: Any) -> Any:
            params = {
                "learning_rate": hp.Float("learning_rate", 1e-4, 1e-1, sampling="log"),
                "units": hp.Int("units", 16, 256, sampling="log"),
                "hidden_layers": hp.Int("hidden_layers", 1, 3),
                "dropout": hp.Float("dropout", 0.0, 0.5),
                "activation": hp.Choice("activation", ["relu", "tanh"]),
                "optimizer": hp.Choice("optimizer", ["adam", "rmsprop"]),
            }
            hp.Int("batch_size", 16, 128, sampling="log")
            keras.utils.set_random_seed(seed)  # every trial's weights start from the seed, as ours
            hp_values, scale = {**defaults, **params}, data.preparation.get("target_scale")
            return build_table_model(hp_values, data.features, task, classes, scale)

        def fit(self, hp: Any, model: Any, *fit_args: Any, **kwargs: Any) -> Any:
            return model.fit(*fit_args, batch_size=hp.get("batch_size"), **kwargs)

    direction = "max" if spec.direction == Direction.MAXIMIZE else "min"
    with tempfile.TemporaryDirectory() as folder:
        tuner = keras_tuner.BayesianOptimization(
            TableHyperModel(),
            objective=keras_tuner.Objective(spec.metric, direction),
            max_trials=args.trials,
            num_initial_points=INITIAL_POINTS,
            seed=seed + 1,
            directory=folder,
            project_name="tabular",
            overwrite=True,
        )
        with contextlib.redirect_stdout(sys.stderr):
            tuner.search(
                data.x_train,
                y_train,
                epochs=args.epochs,
                validation_data=(data.x_val, y_val),
                verbose=0,
            )
        trials = tuner.oracle.get_best_trials(num_trials=args.trials)
        values = [t.score for t in trials if t.score is not None]
    best = spec.direction.best(values)
    return RunResult(
        dataset, "keras_tuner_bayesian", seed, best, time.perf_counter() - started, len(values)
    )


def table(results: list[RunResult]) -> str:
    lines = [
        "| dataset | metric | tool | median best (min–max) | median wall s | trials |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for dataset, (_, metric) in DATASETS.items():
        for tool in ("tuning_lab_gp_ei", "keras_tuner_bayesian"):
            rows = [r for r in results if r.dataset == dataset and r.tool == tool]
            if not rows:
                continue
            bests = [r.best for r in rows]
            lines.append(
                f"| {dataset} | {metric} | {tool} | {statistics.median(bests):.4g} "
                f"({min(bests):.4g}–{max(bests):.4g}) | "
                f"{statistics.median(r.seconds for r in rows):.1f} | "
                f"{rows[0].trials} × {len(rows)} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=15)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    results: list[RunResult] = []
    with tempfile.TemporaryDirectory() as folder:
        paths = write_csvs(Path(folder))
        for dataset in args.datasets.split(","):
            for seed in range(args.seeds):
                for run in (run_ours, run_keras_tuner):
                    result = run(dataset, paths[dataset], seed, args)
                    results.append(result)
                    print(
                        f"{dataset} seed {seed} {result.tool}: best {result.best:.4g} in "
                        f"{result.seconds:.1f} s",
                        file=sys.stderr,
                        flush=True,
                    )
                    if args.json:
                        args.json.write_text(json.dumps([asdict(r) for r in results], indent=1))
    print(
        f"{args.seeds} seeds, {args.trials} trials of {args.epochs} epochs each, "
        f"{INITIAL_POINTS} random first.\n"
    )
    print(table(results))


if __name__ == "__main__":
    main()
