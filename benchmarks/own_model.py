"""Your own Keras model, tuned side by side: Tuning Lab's API against Keras Tuner and Optuna.

One user ``build_model(hp)`` (Dense(units, relu), Dropout, Dense(2, softmax), Adam; tuned:
learning_rate 1e-4..0.1 log, units 8..128 log, dropout 0..0.5) on scikit-learn's breast-cancer
data, through:

- Tuning Lab, ``study.optimize_keras`` with Bayesian search (GP, EI), without a pruner and with
  successive halving (rungs at 1, 3, 9 epochs: η = 3);
- Keras Tuner's ``BayesianOptimization`` and ``Hyperband(max_epochs, factor=3)``;
- Optuna's TPE sampler with its ``HyperbandPruner(1, max_epochs, 3)``.

The same data for everyone: per seed, a stratified 80/20 split (scikit-learn's
``train_test_split`` with that seed), standardised with the training part's mean and spread,
handed to every method as the same arrays (``validation_data``). The same model: every method
calls the one ``build_model`` below with a plain mapping of values. The same budget: every
method trains until ``--trials`` × ``--max-epochs`` epochs are trained in all, counted epoch
by epoch in training order (ours from the store, whose epoch rows each trial writes; the peers
with a Keras callback that also ends the search once the budget is spent); a method's score is
the best validation accuracy within that budget, so one that overshoots is cut at it. Our
studies stop starting trials at ``budget.epochs`` (the last may overshoot).

Per row: the median over the seeds of the best val_accuracy (min-max beside it), the epochs
trained, the trials and the wall seconds. Then our per-trial overhead: the trials of a random
Tuning Lab study are fitted again with the same params by a plain loop (``build_model`` then
``model.fit`` with the same data, epochs and batch size), alternating with ours two trials at
a time; the ratios are our wall and CPU time per trial over the plain loop's. Target: at most
1.05x, and our best row at or above
each peer's median within the seeds' spread.

    python -m benchmarks.own_model                         # 5 seeds, 10 trials' budget each
    python -m benchmarks.own_model --seeds 1 --trials 3    # a quick check that it runs

Needs the peers: ``pip install -r requirements.txt -r requirements-bench.txt``.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import tuning_core
from tuning_core.engine.storage import Store

LEARNING_RATE = (1e-4, 0.1)
UNITS = (8, 128)
DROPOUT = (0.0, 0.5)
BATCH_SIZE = 32
REDUCTION_FACTOR = 3
OVERHEAD_TARGET = 1.05
OVERHEAD_CHUNK = 2  # trials per turn when ours and the plain loop alternate
ROWS = (
    "tuning_lab_bayesian",
    "tuning_lab_bayesian_sh",
    "keras_tuner_bayesian",
    "keras_tuner_hyperband",
    "optuna_tpe_hyperband",
)


def build_model(hp: Mapping[str, Any]) -> Any:
    """The user's model, as they would write it for any of the three tuners."""
    import keras

    model = keras.Sequential(
        [
            keras.Input(shape=(30,)),
            keras.layers.Dense(int(hp["units"]), activation="relu"),
            keras.layers.Dropout(float(hp["dropout"])),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(
        keras.optimizers.Adam(float(hp["learning_rate"])),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


@dataclass(frozen=True)
class Data:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


def breast_cancer(seed: int) -> Data:
    """The seed's stratified 80/20 split, standardised with the training part's statistics."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=0.2, stratify=y, random_state=seed
    )
    mean, spread = x_train.mean(axis=0), x_train.std(axis=0)
    return Data(
        ((x_train - mean) / spread).astype("float32"),
        y_train.astype("int64"),
        ((x_val - mean) / spread).astype("float32"),
        y_val.astype("int64"),
    )


@dataclass
class Result:
    """One method on one seed; ``val_accuracies`` in training order, epoch by epoch."""

    row: str
    seed: int
    val_accuracies: list[float]
    trials: int
    wall_s: float

    def best_within(self, budget: int) -> float:
        finite = [v for v in self.val_accuracies[:budget] if math.isfinite(v)]
        return max(finite, default=math.nan)


@dataclass
class EpochCount:
    """The peers' epochs, counted by a Keras callback as they are trained."""

    budget: int
    val_accuracies: list[float] = field(default_factory=list)

    @property
    def spent(self) -> bool:
        return len(self.val_accuracies) >= self.budget

    def callback(self, keras: Any, stop: Callable[[int, float], bool] | None = None) -> Any:
        """Records each epoch's val_accuracy; stops the fit when the budget is spent or
        ``stop(epoch, val_accuracy)`` says so."""
        count = self

        class Count(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
                value = float((logs or {}).get("val_accuracy", math.nan))
                count.val_accuracies.append(value)
                if count.spent or (stop is not None and stop(epoch, value)):
                    self.model.stop_training = True

        return Count()


# Tuning Lab ------------------------------------------------------------------------------------

SPACE = {"learning_rate": (*LEARNING_RATE, "log"), "units": (*UNITS, "log"), "dropout": DROPOUT}


def run_ours(row: str, seed: int, data: Data, args: argparse.Namespace, work: Path) -> Result:
    """``optimize_keras`` on a fresh store until the epoch budget is trained."""
    budget = args.trials * args.max_epochs
    study = tuning_core.create_study(
        f"{row}-s{seed}",
        storage=work / f"{row}-s{seed}.db",
        space=SPACE,
        strategy={
            "type": "bayesian",
            "surrogate": "GP",
            "acquisition": "EI",
            "seed": seed,
            "initial_points": max(2, min(5, args.trials // 2)),
        },
        pruner="successive_halving" if row.endswith("_sh") else None,
        budget={"trials": 100_000, "epochs": budget},
        metric="val_accuracy",
        direction="maximize",
    )
    started = time.perf_counter()
    study.optimize_keras(
        build_model,
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=args.max_epochs,
        batch_size=BATCH_SIZE,
        show_progress=args.verbose,
    )
    wall_s = time.perf_counter() - started
    with Store(str(work / f"{row}-s{seed}.db")) as store:
        record = store.get_study(study.name)
        trials = store.trials(record.id)
        rows = store.epoch_metrics(record.id)
    # One trial at a time, so trial number then epoch is the order they were trained in.
    accuracies = sorted(
        (number, epoch, value) for number, epoch, name, value in rows if name == "val_accuracy"
    )
    return Result(row, seed, [value for *_, value in accuracies], len(trials), wall_s)


# Keras Tuner -----------------------------------------------------------------------------------


def run_keras_tuner(
    row: str, seed: int, data: Data, args: argparse.Namespace, work: Path
) -> Result:
    """BayesianOptimization or Hyperband over the same space until the budget is trained."""
    from tuning_core.training.keras_runtime import import_keras, native_stderr_filtered

    keras = import_keras()
    with native_stderr_filtered():
        import keras_tuner
    # A resumed Hyperband round loads weights into a fresh optimizer, and Keras says so.
    warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
    count = EpochCount(args.trials * args.max_epochs)

    class UserHyperModel(keras_tuner.HyperModel):
        def build(self, hp: Any) -> Any:
            values = {
                "learning_rate": hp.Float("learning_rate", *LEARNING_RATE, sampling="log"),
                "units": hp.Int("units", *UNITS, sampling="log"),
                "dropout": hp.Float("dropout", *DROPOUT),
            }
            keras.utils.set_random_seed(seed)
            return build_model(values)

        def fit(self, hp: Any, model: Any, *fit_args: Any, **kwargs: Any) -> Any:
            # Added here: Keras Tuner deep-copies the callbacks search() is given.
            kwargs["callbacks"] = [*kwargs.get("callbacks", []), count.callback(keras)]
            return model.fit(*fit_args, batch_size=BATCH_SIZE, **kwargs)

    def stop_when_spent(tuner: Any) -> None:
        if count.spent:  # the oracle's next create_trial answers STOPPED: search() returns
            tuner.oracle.max_trials = len(tuner.oracle.trials)

    common = {
        "objective": "val_accuracy",
        "seed": seed + 1,  # Keras Tuner reads seed 0 as "no seed"
        "directory": str(work / "keras_tuner"),
        "project_name": f"{row}-s{seed}",
        "overwrite": True,
    }
    if row == "keras_tuner_hyperband":

        class BudgetedHyperband(keras_tuner.Hyperband):
            def pre_create_trial(self) -> None:
                stop_when_spent(self)

        tuner = BudgetedHyperband(
            UserHyperModel(),
            max_epochs=args.max_epochs,
            factor=REDUCTION_FACTOR,
            hyperband_iterations=args.trials,  # more than the budget allows: it ends first
            **common,
        )
    else:

        class BudgetedBayesian(keras_tuner.BayesianOptimization):
            def pre_create_trial(self) -> None:
                stop_when_spent(self)

        tuner = BudgetedBayesian(UserHyperModel(), max_trials=args.trials + 1, **common)
    started = time.perf_counter()
    tuner.search(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=args.max_epochs,
        verbose=0,
    )
    wall_s = time.perf_counter() - started
    trials = len(tuner.oracle.trials)
    keras.backend.clear_session()
    gc.collect()
    return Result(row, seed, count.val_accuracies, trials, wall_s)


# Optuna ----------------------------------------------------------------------------------------


def run_optuna(row: str, seed: int, data: Data, args: argparse.Namespace, work: Path) -> Result:
    """TPE with the Hyperband pruner, one fit per trial reporting every epoch."""
    import optuna

    from tuning_core.training.keras_runtime import import_keras

    keras = import_keras()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    count = EpochCount(args.trials * args.max_epochs)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=args.max_epochs, reduction_factor=REDUCTION_FACTOR
        ),
    )
    started = time.perf_counter()
    while not count.spent:
        trial = study.ask()
        values = {
            "learning_rate": trial.suggest_float("learning_rate", *LEARNING_RATE, log=True),
            "units": trial.suggest_int("units", *UNITS, log=True),
            "dropout": trial.suggest_float("dropout", *DROPOUT),
        }
        cut = {"pruned": False}

        def should_stop(epoch: int, value: float, trial: Any = trial, cut: dict = cut) -> bool:
            trial.report(value, epoch + 1)
            cut["pruned"] = epoch + 1 < args.max_epochs and trial.should_prune()
            return cut["pruned"]

        keras.utils.set_random_seed(seed)
        model = build_model(values)
        history = model.fit(
            data.x_train,
            data.y_train,
            batch_size=BATCH_SIZE,
            epochs=args.max_epochs,
            validation_data=(data.x_val, data.y_val),
            callbacks=[count.callback(keras, should_stop)],
            verbose=0,
        ).history
        finite = [v for v in history.get("val_accuracy", []) if math.isfinite(v)]
        ended_early = cut["pruned"] or len(finite) < args.max_epochs
        if ended_early or not finite:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, max(finite))
        del model
        keras.backend.clear_session()
        gc.collect()
    wall_s = time.perf_counter() - started
    return Result(row, seed, count.val_accuracies, len(study.trials), wall_s)


# Overhead against a plain fit ------------------------------------------------------------------


@dataclass
class Clock:
    """Wall and CPU seconds (every thread of this process) spent inside ``with`` blocks."""

    wall_s: float = 0.0
    cpu_s: float = 0.0

    def __enter__(self) -> Clock:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_s += time.perf_counter() - self._wall
        self.cpu_s += time.process_time() - self._cpu


def plain_fits(params: list[dict[str, Any]], data: Data, epochs: int) -> None:
    """Build and fit the model once per params, as a plain Keras loop would."""
    import keras

    for values in params:
        keras.utils.set_random_seed(0)
        model = build_model(values)
        model.fit(
            data.x_train,
            data.y_train,
            batch_size=BATCH_SIZE,
            epochs=epochs,
            validation_data=(data.x_val, data.y_val),
            verbose=0,
        )


def overhead(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """Our time per trial over a plain loop's, fitting the very same params (after one
    untimed warm-up fit). The two alternate in chunks of ``OVERHEAD_CHUNK`` trials (plain,
    ours, plain, ours, ...), so a change in the machine's load falls on both; CPU seconds are
    reported beside wall seconds, since other processes on a shared machine move wall time
    far more than CPU time."""
    data = breast_cancer(0)
    trials = args.overhead_trials
    study = tuning_core.create_study(
        "overhead", storage=work / "overhead.db", space=SPACE, strategy="random", budget=trials
    )
    # The params the study will draw, from a throwaway copy of it: random search is seeded.
    probe = tuning_core.create_study(
        "probe", storage=work / "probe.db", space=SPACE, strategy="random", budget=trials
    )
    probe.optimize(lambda trial: 0.0, show_progress=False)
    params = [dict(zip(SPACE, row, strict=True)) for row in _params_of(probe, list(SPACE))]
    plain, ours = Clock(), Clock()
    for start in range(0, trials, OVERHEAD_CHUNK):
        chunk = params[start : start + OVERHEAD_CHUNK]
        with plain:
            plain_fits(chunk, data, args.max_epochs)
        with ours:
            study.optimize_keras(
                build_model,
                data.x_train,
                data.y_train,
                validation_data=(data.x_val, data.y_val),
                epochs=args.max_epochs,
                batch_size=BATCH_SIZE,
                n_trials=len(chunk),
                show_progress=False,
            )
    if [dict(zip(SPACE, row, strict=True)) for row in _params_of(study, list(SPACE))] != params:
        raise RuntimeError("the overhead study drew other params than its probe")
    return {
        "trials": trials,
        "epochs_per_trial": args.max_epochs,
        "ours_s_per_trial": ours.wall_s / trials,
        "plain_s_per_trial": plain.wall_s / trials,
        "ours_cpu_s_per_trial": ours.cpu_s / trials,
        "plain_cpu_s_per_trial": plain.cpu_s / trials,
        "ratio": ours.wall_s / plain.wall_s,
        "cpu_ratio": ours.cpu_s / plain.cpu_s,
    }


def _params_of(study: tuning_core.Study, names: list[str]) -> list[tuple[Any, ...]]:
    frame = study.trials_dataframe().sort_values("number")
    return [tuple(row) for row in frame[names].itertuples(index=False)]


# Running and reporting -------------------------------------------------------------------------

RUNNERS: dict[str, Callable[..., Result]] = {
    "tuning_lab_bayesian": run_ours,
    "tuning_lab_bayesian_sh": run_ours,
    "keras_tuner_bayesian": run_keras_tuner,
    "keras_tuner_hyperband": run_keras_tuner,
    "optuna_tpe_hyperband": run_optuna,
}


def summary(results: list[Result], rows: list[str], budget: int) -> list[dict[str, Any]]:
    """Per row: median (min, max) best val_accuracy within the budget, and medians of the
    epochs trained, trials and wall seconds over the seeds."""
    table = []
    for row in rows:
        mine = [r for r in results if r.row == row]
        if not mine:
            continue
        best = [r.best_within(budget) for r in mine]
        table.append(
            {
                "row": row,
                "best_val_accuracy": statistics.median(best),
                "min": min(best),
                "max": max(best),
                "epochs": statistics.median(len(r.val_accuracies) for r in mine),
                "trials": statistics.median(r.trials for r in mine),
                "wall_s": statistics.median(r.wall_s for r in mine),
            }
        )
    return table


def markdown(
    table: list[dict[str, Any]], cost: dict[str, Any] | None, args: argparse.Namespace
) -> str:
    """The results as a markdown table, then the targets, met or missed."""
    budget = args.trials * args.max_epochs
    lines = [
        f"Breast cancer, {args.seeds} seed(s), a budget of {budget} epochs "
        f"({args.trials} trials of {args.max_epochs} epochs); medians over the seeds.",
        "",
        "| row | best val_accuracy (min-max) | epochs trained | trials | wall s |",
        "| --- | --- | --- | --- | --- |",
    ]
    for entry in table:
        lines.append(
            f"| {entry['row']} | {entry['best_val_accuracy']:.2%} ({entry['min']:.2%}-"
            f"{entry['max']:.2%}) | {entry['epochs']:g} | {entry['trials']:g} | "
            f"{entry['wall_s']:.1f} |"
        )
    ours = [e for e in table if e["row"].startswith("tuning_lab")]
    peers = [e for e in table if not e["row"].startswith("tuning_lab")]
    if ours and peers:
        top = max(ours, key=lambda e: e["best_val_accuracy"])
        for peer in peers:
            # "Within noise": at or above the peer's median, or inside the peer's own spread.
            verdict = "met" if top["best_val_accuracy"] >= peer["min"] else "missed"
            lines.append(
                f"- {top['row']} {top['best_val_accuracy']:.2%} against {peer['row']} "
                f"{peer['best_val_accuracy']:.2%} (its seeds from {peer['min']:.2%}): {verdict}"
            )
    if cost is not None:
        verdict = "met" if cost["ratio"] <= OVERHEAD_TARGET else "missed"
        lines.append(
            f"- Overhead: {cost['ours_s_per_trial']:.3f} s a trial through optimize_keras "
            f"against {cost['plain_s_per_trial']:.3f} s for build_model + model.fit "
            f"({cost['trials']} trials of {cost['epochs_per_trial']} epochs, same params): "
            f"{cost['ratio']:.3f}x wall, {cost['cpu_ratio']:.3f}x CPU "
            f"({cost['ours_cpu_s_per_trial']:.3f} s against {cost['plain_cpu_s_per_trial']:.3f} s)"
            f" (target <= {OVERHEAD_TARGET}x: {verdict})"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=10, help="budget: this many full trials")
    parser.add_argument("--max-epochs", type=int, default=9, help="epochs of a full trial")
    parser.add_argument("--overhead-trials", type=int, default=10)
    parser.add_argument("--rows", default=",".join(ROWS), help="comma-separated rows to run")
    parser.add_argument("--no-overhead", action="store_true")
    parser.add_argument("--output", type=Path, help="also write the results as JSON here")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    rows = [row.strip() for row in args.rows.split(",") if row.strip()]
    unknown = [row for row in rows if row not in RUNNERS]
    if unknown or args.seeds < 1 or args.trials < 1 or args.max_epochs < 2:
        parser.error(
            f"rows must be among {', '.join(ROWS)}; seeds and trials 1 or more; max-epochs 2 "
            f"or more (unknown rows: {', '.join(unknown) or 'none'})."
        )
    results: list[Result] = []
    # Keras' first fit in a process traces its functions: spent here, untimed, not by a row.
    plain_fits([{"learning_rate": 1e-3, "units": 16, "dropout": 0.1}], breast_cancer(0), 1)
    with tempfile.TemporaryDirectory(prefix="own-model-bench-") as folder:
        work = Path(folder)
        for seed in range(args.seeds):
            data = breast_cancer(seed)
            for row in rows:
                result = RUNNERS[row](row, seed, data, args, work)
                results.append(result)
                best = result.best_within(args.trials * args.max_epochs)
                print(
                    f"{row} seed {seed}: best {best:.2%}, {len(result.val_accuracies)} epochs, "
                    f"{result.trials} trials, "
                    f"{result.wall_s:.1f} s",
                    flush=True,
                )
        cost = None if args.no_overhead else overhead(args, work)
    table = summary(results, rows, args.trials * args.max_epochs)
    print()
    print(markdown(table, cost, args))
    if args.output is not None:
        args.output.write_text(
            json.dumps(
                {
                    "args": {k: str(v) for k, v in vars(args).items()},
                    "table": table,
                    "overhead": cost,
                    "runs": [asdict(r) for r in results],
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main(sys.argv[1:])
