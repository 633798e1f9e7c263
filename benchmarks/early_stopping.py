"""Early stopping: our searches with and without pruning, Keras Tuner, Optuna, at one budget.

Every method tunes the same model on the same data at the same total-epoch budget, side by side
in one run, for each table (benchmarks/early_stopping_tables.py: MNIST with the MLP, MNIST with
the built-in CNN, digits with the MLP at small learning rates; each at ``--max-epochs`` 10
and 27):

- our random and Bayesian searches (``run_study`` in this process, a temporary store), each with
  ``pruner`` none, median, successive_halving and hyperband (reduction factor 3);
- Keras Tuner's ``Hyperband(max_epochs=M, factor=3)``;
- Optuna's TPE sampler with its ``HyperbandPruner(min_resource=1, max_resource=M,
  reduction_factor=3)``.

Same data: MNIST is the repository's copy of the MNIST test split, split 8k/2k (stratified,
validation fraction 0.2) with the run's seed; digits is scikit-learn's, split the same way. Our
studies load it through their spec; Keras Tuner and Optuna get the arrays from the same
``load_dataset`` call (float32 pixels in [0, 1], flattened for the MLP, a channel axis for the
CNN, by our objective's own function). The JSON records a fingerprint of each run's arrays, so
the claim can be checked.

Same model and space: the table's space for every tuner, and the model our objective builds
(``keras_objective.build_model``, from the repository's one model plan), at most M epochs per
configuration. Each trial's weights start from the run's seed, as our objective does.

Same budget, counted the same way: every epoch a method trains is recorded, in training order,
with its val_accuracy (ours: the objective's reporter, checked against the store's own count;
Keras Tuner: a Keras callback, so a Hyperband round that resumes a checkpoint from
``initial_epoch`` counts only the epochs it runs; Optuna: each reported epoch). Every method
stops at exactly the budget: the peers' callbacks stop the fit that trains its last epoch, and
our recording reporter prunes the trial that does (our study's ``budget.epochs`` then starts no
other). A method's result is the best val_accuracy within the budget. One difference stays: our
objective stops a diverging trial inside its first epoch and stores no epoch for it, so that
part-epoch is counted nowhere; the peers train such a trial on.

Budget: 20 x M by default (200 at 10 epochs, 540 at 27): the unpruned searches get 20
full-length trials at either length (the tables module says why that is enough for the peers).

Keras Tuner runs ``ceil(budget / M)`` Hyperband iterations (an iteration trains at least M
epochs, so the budget always ends the search first). Once the budget is trained, the counting
callback stops the fit, and before the next trial the tuner caps the oracle's ``max_trials`` at
the trials it already has: Keras Tuner's own way of ending a search. It treats seed 0 as "no
seed", so its oracle gets seed + 1. A resumed round loads the previous round's best-epoch weights
with a fresh optimizer, as Keras Tuner does; its checkpoints are deleted after each run. On the
TensorFlow backend it needs TensorBoard (in requirements-bench.txt). Optuna asks for trials until
the budget is trained; each trial fits once, with a callback that reports every epoch and stops
the fit when ``trial.should_prune()`` or the budget says so.

Tables (markdown), one per (data, model, M): per row, the median best val_accuracy at the budget
over the seeds (min and max), the epochs trained, trials and wall seconds (data loading
included). Then "same best, fewer epochs", from the same runs' per-epoch records: for each of
our pruned rows against its unpruned row, per seed, U = the epochs the unpruned run took to
reach its best, P = the epochs the pruned run took to come within 0.3 points of that best
(never, if it did not within the budget); the ratio U / P (0 when never). Targets per table:
pruning keeps the best within 0.3 points for a median ratio of at least 3; at the budget, our
best row is ahead of both peers' medians (our best of eight rows, picked after the run, against
one row each: a selection in our favour); on MNIST with the MLP, our best row's median is at
least 96.8% (mnist_search's target). Bayesian rows use mnist_search's settings (GP, EI, 6
initial points); Optuna's TPE its defaults. Progress goes to stderr, with each table's seconds
per epoch trained; the tables to stdout; ``--json`` is rewritten after every run.

``--smoke`` runs every row of the chosen tables end to end on one seed with 100 training images
and a budget of 3 epochs (the tables module): a check that everything runs, not a result
(tests/test_early_stopping_bench.py runs it at M = 27).

Benchmark-only requirements: ``pip install -r requirements.txt -r requirements-bench.txt``.
Usage: python -m benchmarks.early_stopping [--data mnist,digits-small-lr] [--model mlp,cnn]
       [--max-epochs 10,27] [--budget N] [--seeds 5] [--rows a,b] [--train-limit N]
       [--smoke] [--json PATH] [--verbose]
The full run (every table, 5 seeds; hours on a CPU):
       python -m benchmarks.early_stopping --json early_stopping.json > early_stopping.md
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.early_stopping_tables import (
    DATA_CHOICES,
    MAX_EPOCHS_CHOICES,
    MODEL_CHOICES,
    REDUCTION_FACTOR,
    Table,
    tables,
)
from tuning_core.engine.hyperparams import trial_hyperparams
from tuning_core.engine.space import ChoiceDimension, NumericDimension, SearchSpace, parse_space
from tuning_core.engine.spec import MAX_TRIALS, parse_spec
from tuning_core.engine.storage import Store
from tuning_core.engine.study import run_study
from tuning_core.training.datasets import Dataset, load_dataset

# "Same best": within this much validation accuracy (0.3 points).
SAME_BEST_TOLERANCE = 0.003
TARGET_EPOCH_RATIO = 3.0
# On MNIST with the MLP only: what mnist_search measured that model and space against.
TARGET_BEST = 0.968
TARGET_BEST_TABLE = ("mnist", "mlp")
# mnist_search's Bayesian settings, which that benchmark's 0.968 target was measured with.
BAYESIAN = {"surrogate": "GP", "acquisition": "EI", "initial_points": 6}
STRATEGIES = ("random", "bayesian")
PRUNERS = ("none", "median", "successive_halving", "hyperband")
KERAS_TUNER_ROW = "keras_tuner_hyperband"
OPTUNA_ROW = "optuna_tpe_hyperband"
OUR_ROWS = tuple(f"{strategy}_{pruner}" for strategy in STRATEGIES for pruner in PRUNERS)
ALL_ROWS = (*OUR_ROWS, KERAS_TUNER_ROW, OPTUNA_ROW)


@dataclass
class EpochLog:
    """The val_accuracy of every epoch one method trains, in training order."""

    budget: int
    val_accuracies: list[float] = field(default_factory=list)

    def record(self, val_accuracy: float) -> None:
        self.val_accuracies.append(val_accuracy)

    @property
    def spent(self) -> bool:
        return len(self.val_accuracies) >= self.budget


@dataclass
class RunResult:
    """One method on one seed; ``val_accuracies[i]`` is the epoch trained (i + 1)-th overall."""

    row: str
    seed: int
    val_accuracies: list[float]
    trials: int
    wall_s: float
    dataset_fingerprint: str
    epochs_in_store: int | None = None  # our studies only: the store's own epoch count
    table: str = "mnist-mlp-10"  # Table.key; runs saved before there were tables are this one

    @property
    def epochs(self) -> int:
        return len(self.val_accuracies)

    def best_within(self, budget: int) -> float:
        """The best val_accuracy among the first ``budget`` epochs trained (NaN if none)."""
        finite = [v for v in self.val_accuracies[:budget] if math.isfinite(v)]
        return max(finite, default=math.nan)

    def epochs_to_reach(self, threshold: float, budget: int) -> int | None:
        """How many epochs in training order it took to reach ``threshold``; None if never."""
        for position, value in enumerate(self.val_accuracies[:budget], start=1):
            if math.isfinite(value) and value >= threshold:
                return position
        return None


@dataclass(frozen=True)
class Settings:
    """What every run of one table shares."""

    table: Table
    work: Path
    store: Store
    verbose: bool

    @property
    def budget(self) -> int:
        return self.table.budget


def dataset_fingerprint(data: Dataset) -> str:
    """A short hash of the arrays a run trained and validated on."""
    digest = hashlib.sha256()
    for array in (data.x_train, data.y_train, data.x_val, data.y_val):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:12]


def benchmark_dataset(table: Table, seed: int) -> Dataset:
    """The arrays our Keras objective loads for this seed: the same call, the same split."""
    return load_dataset(
        table.dataset, table.validation_split, table.train_limit, seed, "stratified"
    )


# Our studies ---------------------------------------------------------------------------------


class RecordingReporter:
    """Passes every report on to the study's reporter, first noting the epoch's val_accuracy;
    prunes the trial whose epoch spends the budget, as the peers' callbacks stop theirs."""

    def __init__(self, inner: Any, epoch_log: EpochLog) -> None:
        self.inner = inner
        self.epoch_log = epoch_log

    def report(self, epoch: int, metrics: dict[str, float]) -> None:
        # Noted before it is passed on: the epoch has trained, whatever the study decides next.
        self.epoch_log.record(float(metrics.get("val_accuracy", math.nan)))
        self.inner.report(epoch, metrics)

    def report_batch(self, progress: float, loss: float) -> None:
        self.inner.report_batch(progress, loss)

    def should_stop(self) -> bool:
        return self.inner.should_stop()

    def should_prune(self, epoch: int) -> bool:
        # Asked after every epoch but a trial's last (which ends it anyway). Cut without
        # asking the pruner: the study starts no trial after this one, so what the strategy
        # is told about it changes nothing.
        return self.epoch_log.spent or self.inner.should_prune(epoch)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class RecordingObjective:
    """Our Keras objective, with each trial's reporter wrapped in a RecordingReporter."""

    def __init__(self, inner: Any, epoch_log: EpochLog) -> None:
        self.inner = inner
        self.epoch_log = epoch_log

    def __call__(self, params: dict[str, Any], reporter: Any) -> Any:
        return self.inner(params, RecordingReporter(reporter, self.epoch_log))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def our_spec(strategy: str, pruner: str, seed: int, settings: Settings) -> dict[str, Any]:
    """The study spec of one of our rows: the epoch budget, not a trial count, ends it."""
    table = settings.table
    objective: dict[str, Any] = {
        "type": "keras",
        "dataset": table.dataset,
        "model": table.model,
        "epochs": table.max_epochs,
        "metric": "val_accuracy",
        "direction": "maximize",
        "validation_split": table.validation_split,
        "split": "stratified",
    }
    if table.train_limit is not None:
        objective["train_limit"] = table.train_limit
    strategy_config: dict[str, Any] = {"type": strategy, "seed": seed}
    if strategy == "bayesian":
        strategy_config.update(BAYESIAN)
    pruner_config: dict[str, Any] = {"type": pruner}
    if pruner in ("successive_halving", "hyperband"):
        pruner_config["reduction_factor"] = REDUCTION_FACTOR  # the default, said out loud
    return {
        "name": f"{table.key}-{strategy}-{pruner}-{seed}",
        "objective": objective,
        "space": table.space,
        "strategy": strategy_config,
        "budget": {"trials": MAX_TRIALS, "epochs": settings.budget},
        "pruner": pruner_config,
    }


def run_ours(strategy: str, pruner: str, seed: int, settings: Settings) -> RunResult:
    """One of our studies, in this process, on the benchmark's store."""
    from tuning_core.training.keras_objective import KerasObjective

    spec = parse_spec(our_spec(strategy, pruner, seed, settings))
    if spec.budget.get("epochs") != settings.budget:
        raise SystemExit(
            "This checkout's engine does not keep budget.epochs (the pruning engine has not "
            "landed); only the keras_tuner_hyperband and optuna_tpe_hyperband rows can run."
        )
    epoch_log = EpochLog(settings.budget)
    objective = KerasObjective(spec)
    log = print if settings.verbose else (lambda _line: None)
    started = time.perf_counter()
    outcome = run_study(spec, settings.store, RecordingObjective(objective, epoch_log), log=log)
    wall_s = time.perf_counter() - started
    return RunResult(
        row=f"{strategy}_{pruner}",
        seed=seed,
        val_accuracies=epoch_log.val_accuracies,
        trials=len(settings.store.trials(outcome.study_id)),
        wall_s=wall_s,
        dataset_fingerprint=dataset_fingerprint(objective.dataset),
        epochs_in_store=settings.store.epochs_trained(outcome.study_id),
        table=settings.table.key,
    )


# What both peers use: the space, the model, the counting callback ---------------------------


def search_space(table: Table) -> SearchSpace:
    """The table's space, parsed as our studies parse it."""
    return parse_space(table.space)


def build_network(table: Table, params: dict[str, Any], data: Dataset) -> Any:
    """The compiled MLP or CNN our objective trains for ``params``: the peers train the very
    same model, built by the same function from the same plan."""
    from tuning_core.training.keras_objective import build_model

    hp = trial_hyperparams(table.model, table.max_epochs, params)
    return build_model(table.model, hp, data.image_shape, data.num_classes)


def epoch_recorder(
    keras: Any, epoch_log: EpochLog, should_stop: Callable[[int, float], bool]
) -> Any:
    """A Keras callback that records each epoch and stops the fit when ``should_stop`` says so."""

    class EpochRecorder(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            val_accuracy = float((logs or {}).get("val_accuracy", math.nan))
            epoch_log.record(val_accuracy)
            if should_stop(epoch, val_accuracy):
                self.model.stop_training = True

    return EpochRecorder()


def model_inputs(table: Table, x: np.ndarray) -> np.ndarray:
    """Images as the table's model takes them, prepared by our objective's own function."""
    from tuning_core.training.keras_objective import prepare_inputs

    return prepare_inputs(table.model, x)


# Keras Tuner -----------------------------------------------------------------------------------


def run_keras_tuner(seed: int, settings: Settings) -> RunResult:
    """Keras Tuner's Hyperband until the epoch budget is trained (see the module docstring)."""
    from tuning_core.training.keras_runtime import import_keras, native_stderr_filtered

    keras = import_keras()
    with native_stderr_filtered():
        import keras_tuner
    # A resumed Hyperband round loads the weights but starts a fresh optimizer (Keras Tuner's
    # own behaviour); Keras says so in every such round.
    warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")

    table = settings.table
    space = search_space(table)
    epoch_log = EpochLog(settings.budget)
    tuner_directory = settings.work / "keras_tuner"
    started = time.perf_counter()
    data = benchmark_dataset(table, seed)

    def define(hp: Any) -> dict[str, Any]:
        """The table's space in Keras Tuner's terms."""
        params: dict[str, Any] = dict(space.fixed)
        for dimension in space.dimensions:
            if isinstance(dimension, ChoiceDimension):
                params[dimension.name] = hp.Choice(dimension.name, list(dimension.values))
            elif dimension.kind == "int":
                params[dimension.name] = hp.Int(
                    dimension.name,
                    int(dimension.low),
                    int(dimension.high),
                    sampling="log" if dimension.log else "linear",
                )
            else:
                params[dimension.name] = hp.Float(
                    dimension.name,
                    float(dimension.low),
                    float(dimension.high),
                    sampling="log" if dimension.log else "linear",
                )
        return params

    class TableHyperModel(keras_tuner.HyperModel):
        def build(self, hp: Any) -> Any:
            params = define(hp)
            keras.utils.set_random_seed(seed)
            return build_network(table, params, data)

        def fit(self, hp: Any, model: Any, *args: Any, **kwargs: Any) -> Any:
            # Added here, not through search(): Keras Tuner deep-copies the callbacks it is
            # given, and the copy's count would be lost.
            recorder = epoch_recorder(keras, epoch_log, lambda _epoch, _value: epoch_log.spent)
            kwargs["callbacks"] = [*kwargs.get("callbacks", []), recorder]
            return model.fit(*args, batch_size=hp.get("batch_size"), **kwargs)

    class BudgetedHyperband(keras_tuner.Hyperband):
        def pre_create_trial(self) -> None:
            if epoch_log.spent:
                # Its next create_trial then answers STOPPED and search() returns.
                self.oracle.max_trials = len(self.oracle.trials)

    tuner = BudgetedHyperband(
        TableHyperModel(),
        objective="val_accuracy",
        max_epochs=table.max_epochs,
        factor=REDUCTION_FACTOR,
        hyperband_iterations=math.ceil(settings.budget / table.max_epochs),
        seed=seed + 1,
        directory=str(tuner_directory),
        project_name=f"{table.key}-seed-{seed}",
        overwrite=True,
    )
    tuner.search(
        model_inputs(table, data.x_train),
        data.y_train,
        validation_data=(model_inputs(table, data.x_val), data.y_val),
        epochs=table.max_epochs,
        verbose=0,
    )
    wall_s = time.perf_counter() - started
    trials = len(tuner.oracle.trials)
    keras.backend.clear_session()  # which runs a full garbage collection itself
    # A checkpoint per trial (up to 23 MB each for the widest MLP) adds up over the seeds.
    shutil.rmtree(tuner_directory, ignore_errors=True)
    return RunResult(
        KERAS_TUNER_ROW,
        seed,
        epoch_log.val_accuracies,
        trials,
        wall_s,
        dataset_fingerprint(data),
        table=table.key,
    )


# Optuna ----------------------------------------------------------------------------------------


def suggest(trial: Any, space: SearchSpace) -> dict[str, Any]:
    """The table's space in Optuna's terms."""
    params: dict[str, Any] = dict(space.fixed)
    for dimension in space.dimensions:
        if isinstance(dimension, ChoiceDimension):
            params[dimension.name] = trial.suggest_categorical(
                dimension.name, list(dimension.values)
            )
        elif isinstance(dimension, NumericDimension) and dimension.kind == "int":
            params[dimension.name] = trial.suggest_int(
                dimension.name, int(dimension.low), int(dimension.high), log=dimension.log
            )
        else:
            params[dimension.name] = trial.suggest_float(
                dimension.name, float(dimension.low), float(dimension.high), log=dimension.log
            )
    return params


def train_optuna_trial(
    keras: Any,
    trial: Any,
    params: dict[str, Any],
    data: Dataset,
    epoch_log: EpochLog,
    seed: int,
    table: Table,
) -> tuple[list[float], bool]:
    """Fit one trial, reporting each epoch; returns its val_accuracies and whether it was cut
    short (pruned, or stopped because the budget is trained)."""
    verdict = {"cut": False}

    def should_stop(epoch: int, val_accuracy: float) -> bool:
        trial.report(val_accuracy, epoch + 1)  # the step is the epochs trained, 1..M
        # After the last epoch there is nothing left to cut: the trial is complete.
        last_epoch = epoch + 1 >= table.max_epochs
        verdict["cut"] = not last_epoch and (epoch_log.spent or trial.should_prune())
        return verdict["cut"]

    keras.utils.set_random_seed(seed)
    network = build_network(table, params, data)
    history = network.fit(
        model_inputs(table, data.x_train),
        data.y_train,
        batch_size=int(params["batch_size"]),
        epochs=table.max_epochs,
        validation_data=(model_inputs(table, data.x_val), data.y_val),
        callbacks=[epoch_recorder(keras, epoch_log, should_stop)],
        verbose=0,
    ).history
    del network
    # It runs a full garbage collection itself (~0.8 s in a process holding TensorFlow, on a
    # busy machine); a second one, as this once did, cost each Optuna trial that again.
    keras.backend.clear_session()
    return [float(v) for v in history.get("val_accuracy", [])], verdict["cut"]


def run_optuna(seed: int, settings: Settings) -> RunResult:
    """Optuna's TPE with its HyperbandPruner until the epoch budget is trained."""
    import optuna

    from tuning_core.training.keras_runtime import import_keras

    keras = import_keras()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    table = settings.table
    space = search_space(table)
    epoch_log = EpochLog(settings.budget)
    started = time.perf_counter()
    data = benchmark_dataset(table, seed)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=table.max_epochs, reduction_factor=REDUCTION_FACTOR
        ),
    )
    while not epoch_log.spent:
        trial = study.ask()
        params = suggest(trial, space)
        values, cut = train_optuna_trial(keras, trial, params, data, epoch_log, seed, table)
        finite = [v for v in values if math.isfinite(v)]
        if cut or not finite:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, max(finite))
    wall_s = time.perf_counter() - started
    return RunResult(
        OPTUNA_ROW,
        seed,
        epoch_log.val_accuracies,
        len(study.trials),
        wall_s,
        dataset_fingerprint(data),
        table=table.key,
    )


# Running and reporting -------------------------------------------------------------------------


def run_row(row: str, seed: int, settings: Settings) -> RunResult:
    """Run one row's method on one seed."""
    if row == KERAS_TUNER_ROW:
        return run_keras_tuner(seed, settings)
    if row == OPTUNA_ROW:
        return run_optuna(seed, settings)
    strategy, pruner = row.split("_", 1)
    return run_ours(strategy, pruner, seed, settings)


def percent(value: float | None) -> str:
    """A validation accuracy as a percentage; n/a when missing."""
    return "n/a" if value is None or not math.isfinite(value) else f"{100 * value:.2f}%"


def median_epochs_or_never(epochs: list[int | None]) -> float | None:
    """The median, where a seed that never got there counts as needing more than the budget;
    None when that median is "never"."""
    median = statistics.median(math.inf if e is None else e for e in epochs)
    return None if math.isinf(median) else median


def row_summaries(results: list[RunResult], rows: list[str], budget: int) -> list[dict[str, Any]]:
    """Per row: the best at the budget (median, min, max over seeds), epochs, trials, wall."""
    summaries = []
    for row in rows:
        runs = [r for r in results if r.row == row]
        if not runs:
            continue
        bests = [r.best_within(budget) for r in runs]
        summaries.append(
            {
                "row": row,
                "seeds": len(runs),
                "median_best": statistics.median(bests),
                "min_best": min(bests),
                "max_best": max(bests),
                "median_epochs": statistics.median(r.epochs for r in runs),
                "median_trials": statistics.median(r.trials for r in runs),
                "median_wall_s": statistics.median(r.wall_s for r in runs),
            }
        )
    return summaries


def same_best_rows(results: list[RunResult], rows: list[str], budget: int) -> list[dict[str, Any]]:
    """Each pruned row of ours against its unpruned row, seed by seed (module docstring)."""
    by_key = {(r.row, r.seed): r for r in results}
    comparisons = []
    for row in rows:
        strategy, _, pruner = row.partition("_")
        baseline_row = f"{strategy}_none"
        if row not in OUR_ROWS or pruner == "none" or baseline_row not in rows:
            continue
        seeds = sorted(s for (r, s) in by_key if r == row and (baseline_row, s) in by_key)
        if not seeds:
            continue
        per_seed = []
        for seed in seeds:
            unpruned, pruned = by_key[(baseline_row, seed)], by_key[(row, seed)]
            unpruned_best = unpruned.best_within(budget)
            unpruned_epochs = unpruned.epochs_to_reach(unpruned_best, budget)
            pruned_epochs = pruned.epochs_to_reach(unpruned_best - SAME_BEST_TOLERANCE, budget)
            per_seed.append(
                {
                    "seed": seed,
                    "unpruned_best": unpruned_best,
                    "pruned_best": pruned.best_within(budget),
                    "unpruned_epochs_to_best": unpruned_epochs,
                    "pruned_epochs_to_within_tolerance": pruned_epochs,
                    "ratio": (unpruned_epochs or 0) / pruned_epochs if pruned_epochs else 0.0,
                }
            )
        reached = [s["pruned_epochs_to_within_tolerance"] for s in per_seed]
        comparisons.append(
            {
                "row": row,
                "baseline": baseline_row,
                "seeds": per_seed,
                "median_unpruned_best": statistics.median(s["unpruned_best"] for s in per_seed),
                "median_pruned_best": statistics.median(s["pruned_best"] for s in per_seed),
                "median_unpruned_epochs": statistics.median(
                    s["unpruned_epochs_to_best"] or 0 for s in per_seed
                ),
                "median_pruned_epochs": median_epochs_or_never(reached),
                "reached": sum(e is not None for e in reached),
                "median_ratio": statistics.median(s["ratio"] for s in per_seed),
            }
        )
    return comparisons


def targets(
    table: Table, summaries: list[dict[str, Any]], comparisons: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each target of issue 25 for one table and whether this run met it (None: not measured
    here)."""
    checks = []
    median_of = {s["row"]: s["median_best"] for s in summaries}
    for comparison in comparisons:
        same_best = (
            comparison["median_pruned_best"]
            >= comparison["median_unpruned_best"] - SAME_BEST_TOLERANCE
        )
        fewer = comparison["median_ratio"] >= TARGET_EPOCH_RATIO
        checks.append(
            {
                "target": f"{comparison['row']}: best within 0.3 points of "
                f"{comparison['baseline']} for >= {TARGET_EPOCH_RATIO:g}x fewer epochs",
                "met": same_best and fewer,
                "detail": f"best {percent(comparison['median_pruned_best'])} vs "
                f"{percent(comparison['median_unpruned_best'])}, median ratio "
                f"{comparison['median_ratio']:.2f}x",
            }
        )
    ours = {row: value for row, value in median_of.items() if row in OUR_ROWS}
    if ours:
        best_row = max(ours, key=lambda row: ours[row])
        if (table.data, table.model) == TARGET_BEST_TABLE:
            checks.append(
                {
                    "target": f"our best row (chosen after the run, of {len(ours)}) reaches a "
                    f"median >= {percent(TARGET_BEST)}",
                    "met": ours[best_row] >= TARGET_BEST,
                    "detail": f"{best_row}: {percent(ours[best_row])}",
                }
            )
        peers = {row: median_of[row] for row in (KERAS_TUNER_ROW, OPTUNA_ROW) if row in median_of}
        ahead = [ours[best_row] > peers[peer] for peer in peers]
        checks.append(
            {
                "target": f"our best row (chosen after the run, of {len(ours)}) is ahead of "
                "both peers' medians at the same budget",
                "met": all(ahead) if len(peers) == 2 else None,
                "detail": "; ".join(
                    [f"{best_row} {percent(ours[best_row])}"]
                    + [
                        f"{peer} {percent(peers.get(peer))}"
                        + ("" if peer in peers else " (not run)")
                        for peer in (KERAS_TUNER_ROW, OPTUNA_ROW)
                    ]
                ),
            }
        )
    return checks


@dataclass
class TableReport:
    """One table's summaries, same-best comparisons and targets, from its runs."""

    table: Table
    runs: list[RunResult]
    summaries: list[dict[str, Any]]
    comparisons: list[dict[str, Any]]
    checks: list[dict[str, Any]]

    @classmethod
    def of(cls, table: Table, results: list[RunResult], rows: list[str]) -> TableReport:
        runs = [r for r in results if r.table == table.key]
        summaries = row_summaries(runs, rows, table.budget)
        comparisons = same_best_rows(runs, rows, table.budget)
        return cls(table, runs, summaries, comparisons, targets(table, summaries, comparisons))

    @property
    def seconds_per_epoch(self) -> float | None:
        """Wall seconds per epoch trained over the table's runs (data loading, model builds
        and the tuners' own work included); None before any epoch."""
        epochs = sum(r.epochs for r in self.runs)
        return sum(r.wall_s for r in self.runs) / epochs if epochs else None

    def as_json(self) -> dict[str, Any]:
        return {
            **asdict(self.table),
            "key": self.table.key,
            "space": self.table.space,
            "seconds_per_epoch": self.seconds_per_epoch,
            "rows": self.summaries,
            "same_best": self.comparisons,
            "targets": self.checks,
        }


def markdown(report: TableReport, seeds: int) -> str:
    """One table's rows, its same-best comparisons and its targets, in markdown."""
    lines = [
        f"### {report.table.key}",
        "",
        f"Best val_accuracy within the budget (median over {seeds} seed(s)): "
        f"{report.table.title()}:",
        "",
        "| row | seeds | median best | min | max | epochs trained | trials | wall s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in report.summaries:
        lines.append(
            f"| {s['row']} | {s['seeds']} | {percent(s['median_best'])} | "
            f"{percent(s['min_best'])} | {percent(s['max_best'])} | {s['median_epochs']:g} | "
            f"{s['median_trials']:g} | {s['median_wall_s']:.0f} |"
        )
    if report.seconds_per_epoch is not None:
        lines += ["", f"Wall seconds per epoch trained, all rows: {report.seconds_per_epoch:.3f}"]
    if report.comparisons:
        lines += [
            "",
            "Same best, fewer epochs (medians over seeds; U: epochs the unpruned run took to "
            "reach its best; P: epochs the pruned run took to come within 0.3 points of it):",
            "",
            "| pruned row | unpruned best | pruned best | U | P | reached | U/P |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in report.comparisons:
            pruned_epochs = c["median_pruned_epochs"]
            lines.append(
                f"| {c['row']} | {percent(c['median_unpruned_best'])} | "
                f"{percent(c['median_pruned_best'])} | {c['median_unpruned_epochs']:g} | "
                f"{'never' if pruned_epochs is None else f'{pruned_epochs:g}'} | "
                f"{c['reached']}/{len(c['seeds'])} | {c['median_ratio']:.2f}x |"
            )
    lines += ["", "Targets:", ""]
    if not report.checks:
        lines.append("- none measured: the targets need our rows")
    for check in report.checks:
        verdict = {True: "met", False: "NOT met", None: "not measured"}[check["met"]]
        lines.append(f"- {check['target']}: **{verdict}** ({check['detail']})")
    return "\n".join(lines)


def parse_rows(text: str) -> list[str]:
    """``--rows``: row names separated by commas, each one of ALL_ROWS."""
    return parse_list(text, ALL_ROWS, "row")


def parse_list(text: str, known: tuple[Any, ...], what: str, kind: type = str) -> list[Any]:
    """A comma-separated option: each item one of ``known``, in the order given."""
    try:
        items = [kind(item.strip()) for item in text.split(",") if item.strip()]
    except ValueError:
        items = [text]
    unknown = [item for item in items if item not in known]
    if unknown or not items:
        raise argparse.ArgumentTypeError(
            f"unknown {what} {unknown[0] if unknown else '(none given)'}; use "
            f"{', '.join(str(k) for k in known)}"
        )
    return list(dict.fromkeys(items))


def parser() -> argparse.ArgumentParser:
    """The command line (see the module docstring)."""
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument(
        "--data",
        type=lambda text: parse_list(text, DATA_CHOICES, "data"),
        default=list(DATA_CHOICES),
        help="comma-separated, of " + ", ".join(DATA_CHOICES),
    )
    cli.add_argument(
        "--model",
        type=lambda text: parse_list(text, MODEL_CHOICES, "model"),
        default=list(MODEL_CHOICES),
        help="comma-separated, of " + ", ".join(MODEL_CHOICES) + " (digits has the MLP only)",
    )
    cli.add_argument(
        "--max-epochs",
        type=lambda text: parse_list(text, MAX_EPOCHS_CHOICES, "max-epochs", int),
        default=list(MAX_EPOCHS_CHOICES),
        help="comma-separated epochs per configuration, of 10, 27",
    )
    cli.add_argument(
        "--budget", type=int, default=None, help="total epochs per method (default 20 x M)"
    )
    cli.add_argument("--seeds", type=int, default=None, help="run seeds 0 .. N-1 (default 5)")
    cli.add_argument(
        "--first-seed", type=int, default=0, help="skip the seeds below this one (to finish a run)"
    )
    cli.add_argument("--rows", type=parse_rows, default=list(ALL_ROWS), help="comma-separated")
    cli.add_argument("--train-limit", type=int, default=None, help="train on a subset")
    cli.add_argument(
        "--smoke",
        action="store_true",
        help="every row end to end on small data, 1 seed, 3 epochs: a check, not a result",
    )
    cli.add_argument("--json", type=Path, default=None, help="also write the results here")
    cli.add_argument("--verbose", action="store_true", help="print our studies' trial lines")
    cli.add_argument(
        "--tables-from",
        default=None,
        help="comma-separated JSON files of earlier runs: print their tables together, train none",
    )
    return cli


def main() -> None:
    args = parser().parse_args()
    if args.tables_from:
        print_saved_tables([Path(name) for name in args.tables_from.split(",")])
        return
    if args.seeds is None:
        args.seeds = 1 if args.smoke else 5
    chosen = tables(
        args.data, args.model, args.max_epochs, args.budget, args.train_limit, args.smoke
    )
    with tempfile.TemporaryDirectory(prefix="early-stopping-") as work:
        os.environ.setdefault("KERAS_HOME", str(Path(work) / "keras"))
        store = Store(Path(work) / "store.db")
        try:
            run(args, chosen, Path(work), store)
        finally:
            store.close()


def run(args: argparse.Namespace, chosen: list[Table], work: Path, store: Store) -> None:
    """Every (table, seed, row) in turn, then each table's rows and targets. The JSON is
    rewritten after each run, and Ctrl-C still prints the tables of the runs done, so a long
    run loses little."""
    print(
        f"tables {', '.join(t.key for t in chosen)}; budgets "
        f"{', '.join(str(t.budget) for t in chosen)} epochs; seeds "
        f"{args.first_seed}..{args.seeds - 1}; rows {', '.join(args.rows)}"
        + ("; smoke run, not a result" if args.smoke else ""),
        flush=True,
    )
    results: list[RunResult] = []
    try:
        for table in chosen:
            settings = Settings(table, work, store, args.verbose)
            for seed in range(args.first_seed, args.seeds):
                for row in args.rows:
                    result = run_row(row, seed, settings)
                    results.append(result)
                    print(run_line(result, table.budget), file=sys.stderr, flush=True)
                    if args.json is not None:
                        write_json(args, chosen, results, complete=False)
            report = TableReport.of(table, results, args.rows)
            print(
                f"{table.key}: {report.seconds_per_epoch or math.nan:.3f} wall s per epoch "
                "trained, all rows",
                file=sys.stderr,
                flush=True,
            )
    except KeyboardInterrupt:
        print(f"interrupted: the tables hold the {len(results)} runs done", file=sys.stderr)
    for table in chosen:
        report = TableReport.of(table, results, args.rows)
        if report.runs:
            print(markdown(report, args.seeds) + "\n")
    if args.json is not None:
        expected = len(chosen) * (args.seeds - args.first_seed) * len(args.rows)
        write_json(args, chosen, results, complete=len(results) == expected)


def saved_tables(document: dict[str, Any]) -> list[Table]:
    """The tables a ``--json`` document holds; one saved before there were tables holds
    MNIST with the MLP at 10 epochs."""
    if "tables" not in document:
        return [Table("mnist", "mlp", 10, document["budget"], document.get("train_limit"))]
    fields = ("data", "model", "max_epochs", "budget", "train_limit", "validation_split")
    return [Table(**{name: saved[name] for name in fields}) for saved in document["tables"]]


def print_saved_tables(paths: list[Path]) -> None:
    """The tables and targets of runs saved by ``--json`` (say, two passes over different rows
    or seeds of the same tables), as if they had been one run."""
    documents = [json.loads(path.read_text()) for path in paths]
    chosen: dict[str, Table] = {}
    for table in (table for document in documents for table in saved_tables(document)):
        if chosen.setdefault(table.key, table) != table:
            raise SystemExit(
                f"the files hold {table.key} with different budgets or data sizes; compare one"
            )
    results = [
        RunResult(**{key: value for key, value in run.items() if key != "epochs"})
        for document in documents
        for run in document["runs"]
    ]
    rows = [row for row in ALL_ROWS if any(result.row == row for result in results)]
    seeds = max(document["seeds"] for document in documents)
    for table in chosen.values():
        report = TableReport.of(table, results, rows)
        if report.runs:
            print(markdown(report, seeds) + "\n")


def run_line(result: RunResult, budget: int) -> str:
    """The progress line of one finished run."""
    line = (
        f"{result.table} seed {result.seed} {result.row}: best "
        f"{percent(result.best_within(budget))} within {budget} epochs; trained "
        f"{result.epochs} epochs, {result.trials} trials, {result.wall_s:.0f} s, data "
        f"{result.dataset_fingerprint}"
    )
    if result.epochs_in_store is not None and result.epochs_in_store != result.epochs:
        line += f" (but the store counts {result.epochs_in_store} epochs)"
    return line


def write_json(
    args: argparse.Namespace, chosen: list[Table], results: list[RunResult], complete: bool
) -> None:
    """Every run's per-epoch record and each table's rows and targets, as JSON at ``--json``."""
    document = {
        "complete": complete,
        "smoke": args.smoke,
        "seeds": args.seeds,
        "first_seed": args.first_seed,
        "rows_requested": args.rows,
        "bayesian": BAYESIAN,
        "tables": [TableReport.of(table, results, args.rows).as_json() for table in chosen],
        "runs": [{**asdict(r), "epochs": r.epochs} for r in results],
    }
    args.json.write_text(json.dumps(document, indent=1))


if __name__ == "__main__":
    main()
