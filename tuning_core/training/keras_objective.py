"""Keras objective: builds the model a trial's params describe, fits it, reports live metrics.

Only the worker process imports this module (and so Keras and TensorFlow).

Divergence rule: a trial is ``diverged`` as soon as its training loss (Keras' running mean
within the epoch) is NaN or infinite, or exceeds ``DIVERGENCE_FACTOR`` times the loss of
guessing uniformly, ln(number of classes) (~46 for 10 classes). Cross-entropy clips
probabilities, so SGD at a huge learning rate drives the loss to ~1e14 without a NaN; the
factor catches that. A run that finishes at chance accuracy is kept ``complete`` with a note.

Trial value: the best epoch's value of the study's metric (max for maximize, min for minimize),
as Keras Tuner reports it.

Trial values (every metric, kept for studies of one metric or several): the epoch metrics read
at that best epoch of the first metric (the model kept as the best), or at the last epoch when
the first metric is a measure; and the measures of every Keras trial (engine.objectives
MEASURES): ``train_seconds``, the fit's wall time; ``parameters``, the trainable parameter
count; ``predict_ms``, the mean inference time per validation example, timed on the
validation pass that fit already runs after the last epoch (at the fit's batch size; no
extra predict pass, so it adds nothing to a trial's time).
"""

from __future__ import annotations

import gc
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from tuning_core.engine.hyperparams import trial_hyperparams
from tuning_core.engine.model_plan import Call, ModelPlan, image_plan
from tuning_core.engine.objectives import (
    MEASURES,
    Reporter,
    TrialDiverged,
    TrialOutcome,
    TrialPruned,
    TrialStopped,
)
from tuning_core.engine.spec import StudySpec
from tuning_core.engine.spec_parts import KerasObjectiveSpec
from tuning_core.engine.states import Direction
from tuning_core.engine.tasks import CLASSIFICATION, chance_note
from tuning_core.training.datasets import Dataset, dataset_for
from tuning_core.training.keras_runtime import has_gpu, import_keras

keras = import_keras()

DIVERGENCE_FACTOR = 20.0
# Intra-epoch training-loss points written per epoch, so long epochs still move the chart.
BATCH_POINTS_PER_EPOCH = 10
# A full garbage collection once in this many trials, or sooner once the process has grown by
# COLLECT_GROWTH_BYTES since the last one (see KerasObjective._release_session).
COLLECT_EVERY = 32
COLLECT_GROWTH_BYTES = 256 * 2**20
EPOCH_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")
# What the built-in table model also reports (training/table_objective.py).
EPOCH_METRICS += ("auc", "val_auc", "mae", "val_mae", "rmse", "val_rmse")


def prepare_inputs(model: str, x: np.ndarray) -> np.ndarray:
    """Flatten images for the MLP; add a channel axis for the CNN."""
    return x.reshape(len(x), -1) if model == "mlp" else x[..., np.newaxis]


def keras_object(value: Any) -> Any:
    """A plan's ``Call`` made into the Keras object it names (its arguments first); any
    other value as it is."""
    if isinstance(value, tuple):
        return tuple(keras_object(item) for item in value)
    if not isinstance(value, Call):
        return value
    constructor: Any = keras
    for name in value.path.split("."):
        constructor = getattr(constructor, name)
    args = [keras_object(arg) for arg in value.args]
    return constructor(*args, **{key: keras_object(arg) for key, arg in value.kwargs})


def build_plan(plan: ModelPlan) -> keras.Model:
    """The compiled Keras model ``plan`` describes, layer by layer."""
    inputs = keras_object(plan.input_call())
    x = inputs
    for layer in plan.layers:
        x = keras_object(layer.call())(x)
    network = keras.Model(inputs, x)
    network.compile(
        optimizer=keras_object(plan.optimizer),
        loss=plan.loss,
        loss_weights=None if plan.loss_weight == 1.0 else [plan.loss_weight],
        metrics=[keras_object(metric) for metric in plan.metrics],
    )
    return network


def build_model(
    model: str, hp: dict[str, Any], image_shape: tuple[int, int], num_classes: int
) -> keras.Model:
    """A compiled MLP or CNN for ``hp`` (see hyperparams for the names)."""
    return build_plan(image_plan(model, hp, image_shape, num_classes))


def divergence_reason(
    loss: float, num_classes: int, limit: float | None = None, penalty: float = 0.0
) -> str | None:
    """Why ``loss`` counts as diverged, or None (see the module docstring for the rule; a
    table study passes its own ``limit``, twenty times the loss of a model that learned
    nothing). ``penalty`` is allowed on top: the weight penalty (L2) that Keras adds to the
    logged loss, which for a wide net with a large l2 starts above the limit by itself."""
    if not math.isfinite(loss):
        return f"the loss became {loss}"
    level = "chance level" if limit is None else "the loss of a model that learned nothing"
    limit = DIVERGENCE_FACTOR * math.log(num_classes) if limit is None else limit
    limit += penalty
    if loss > limit:
        return f"the loss exploded to {loss:.3g} (over {limit:.3g}, {DIVERGENCE_FACTOR:g}x {level})"
    return None


class LiveMetrics(keras.callbacks.Callback):
    """Writes each epoch's metrics (and some batch losses) to the reporter; stops on divergence or
    request.
    """

    def __init__(
        self,
        reporter: Reporter,
        steps_per_epoch: int,
        num_classes: int,
        loss_limit: float | None = None,
    ) -> None:
        super().__init__()
        self.loss_limit = loss_limit
        self.reporter = reporter
        self.steps_per_epoch = steps_per_epoch
        self.num_classes = num_classes
        self.batch_every = max(1, steps_per_epoch // BATCH_POINTS_PER_EPOCH)
        self.epoch = 0
        self.diverged: tuple[str, int] | None = None
        self.pruned_after: int | None = None
        self.penalty = 0.0  # set when training begins

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        # Twice the starting weight penalty: it may grow while a large learning rate moves
        # the weights, and it is not divergence.
        penalty = sum(float(keras.ops.convert_to_numpy(term)) for term in self.model.losses)
        self.penalty = 2.0 * penalty

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        # A stop request is honoured after any batch: should_stop() reads the store at most
        # every half second, so asking it per batch costs a clock read (with batch size 1 and
        # a big model, checking every ~140 batches took over 30 s).
        if self.reporter.should_stop():
            # Raised, not stop_training: Keras would still run this epoch's validation pass,
            # which at batch size 1 on a big model takes seconds.
            raise TrialStopped("stopped on request")
        # Reading the loss syncs the host with the device; doing it every few batches (about
        # ten times an epoch, and at an epoch's end) keeps that cost small on a GPU.
        if (batch + 1) % self.batch_every and batch + 1 != self.steps_per_epoch:
            return
        loss = float((logs or {}).get("loss", 0.0))
        # Reported before the divergence check, so charts can draw a diverged run up to the
        # loss that blew up (a diverged trial often writes no epoch row at all).
        self.reporter.report_batch(self.epoch + (batch + 1) / self.steps_per_epoch, loss)
        reason = divergence_reason(loss, self.num_classes, self.loss_limit, self.penalty)
        if reason:
            self.diverged = (reason, self.epoch)
            self.model.stop_training = True
            return

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.diverged:
            return
        metrics = {name: float(logs[name]) for name in EPOCH_METRICS if logs and name in logs}
        self.reporter.report(epoch, metrics)
        for name in ("loss", "val_loss"):
            loss = metrics.get(name, 0.0)
            reason = divergence_reason(loss, self.num_classes, self.loss_limit, self.penalty)
            if reason:
                self.diverged = (f"{name}: {reason}", epoch)
                self.model.stop_training = True
                return
        # Asked once the epoch's row is stored, so the pruner reads this epoch too. Stopping
        # here (not raising) lets the best-epoch checkpoint see the epoch first.
        last_epoch = epoch + 1 >= int(self.params.get("epochs", epoch + 1))
        if not last_epoch and self.reporter.should_prune(epoch):
            self.pruned_after = epoch
            self.model.stop_training = True


class BestEpochWeights(keras.callbacks.Callback):
    """Keeps a copy of the weights of the epoch with the best ``monitor`` value so far, once
    that value beats ``must_beat`` (the study's best; None: any value).

    Epochs that cannot make the trial the study's best are not copied: their weights would
    never be saved, and a copy per better epoch cost ~1.5 ms a trial on a small model.
    """

    def __init__(
        self,
        monitor: str,
        direction: Direction,
        must_beat: float | None = None,
        last_epoch: bool = False,
    ) -> None:
        super().__init__()
        self.monitor = monitor
        self.direction = direction
        self.must_beat = must_beat
        self.last_epoch = last_epoch  # keep the last epoch's weights (a measure is first)
        self.best: float | None = None
        self.weights: list[np.ndarray] | None = None

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self.last_epoch:
            self.weights = self.model.get_weights()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.last_epoch:
            return
        value = (logs or {}).get(self.monitor)
        if value is None or not math.isfinite(float(value)):
            return
        value = float(value)
        if self.must_beat is not None and not self.direction.better(value, self.must_beat):
            return
        if self.best is None or self.direction.better(value, self.best):
            self.best = value
            self.weights = self.model.get_weights()


def best_epoch_value(history: dict[str, list[float]], metric: str, direction: Direction) -> float:
    """The trial's value: the best finite value of ``metric`` over its epochs, else NaN."""
    values = [v for v in history.get(metric, []) if math.isfinite(v)]
    return direction.best(values) if values else math.nan


class ValidationTimer(keras.callbacks.Callback):
    """Times the validation pass fit runs after each epoch; ``seconds`` is the last one's (the
    first may include tracing the evaluation function). Two clock reads an epoch."""

    def __init__(self) -> None:
        super().__init__()
        self._began: float | None = None
        self.seconds: float | None = None

    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._began = time.perf_counter()

    def on_test_end(self, logs: dict[str, Any] | None = None) -> None:
        if self._began is not None:
            self.seconds = time.perf_counter() - self._began


def trainable_parameters(network: keras.Model) -> int:
    """The model's trainable parameter count."""
    return int(sum(math.prod(weight.shape) for weight in network.trainable_weights))


def trial_values(
    history: dict[str, list[float]],
    spec: StudySpec,
    measures: dict[str, float],
) -> dict[str, float]:
    """Every metric of a finished fit: each epoch metric at the best epoch of the study's
    first metric (the epoch whose model is kept), or at the last epoch when the first metric
    is a measure; then the ``measures``. A metric that was never finite reads NaN."""
    first = history.get(spec.metric)
    last = max((len(series) for series in history.values()), default=0) - 1
    epoch = last
    if first:
        finite = [(v, i) for i, v in enumerate(first) if math.isfinite(v)]
        if finite:
            best = spec.direction.best(v for v, _ in finite)
            epoch = next(i for v, i in finite if v == best)  # the first epoch reaching it
    values = {
        name: float(series[epoch])
        for name, series in history.items()
        if 0 <= epoch < len(series) and isinstance(series[epoch], (int, float))
    }
    return {**values, **measures}


def fit_measures(
    network: keras.Model, fit_seconds: float, timer: ValidationTimer, validation_rows: int
) -> dict[str, float]:
    """The measures every Keras trial records (see the module docstring)."""
    measures = {"train_seconds": fit_seconds, "parameters": float(trainable_parameters(network))}
    if timer.seconds is not None and validation_rows > 0:
        measures["predict_ms"] = 1000.0 * timer.seconds / validation_rows
    return measures


class KerasObjective:
    """The ``{"type": "keras"}`` objective of a study spec; loads its dataset once per process."""

    def __init__(self, spec: StudySpec) -> None:
        self.spec = spec
        # A built-in model's objective; DatasetBuildModelObjective's build_model objective
        # shares only the dataset it names.
        self.objective = spec.objective
        self._dataset: Dataset | None = None
        # Where to save the best trial's model, and the value it must beat (set by the CLI).
        self.best_model_path: Path | None = None
        self.best_value: float | None = None
        self._trials_since_collect = 0
        self._resident_after_collect = resident_bytes()

    @property
    def dataset(self) -> Dataset:
        if self._dataset is None:
            self._dataset = dataset_for(self.objective, self.spec.seed)
        return self._dataset

    def __call__(self, params: dict[str, Any], reporter: Reporter) -> TrialOutcome:
        data = self.dataset
        objective = self.objective
        assert isinstance(objective, KerasObjectiveSpec)  # a build_model objective has its own
        model_name = objective.model
        hp = trial_hyperparams(model_name, objective.epochs, params)
        # One seed for every trial: trials differ only by their params, not their initial weights.
        keras.utils.set_random_seed(self.spec.seed)
        network = build_model(model_name, hp, data.image_shape, data.num_classes)
        x_train, x_val = (
            prepare_inputs(model_name, data.x_train),
            prepare_inputs(model_name, data.x_val),
        )
        batch_size = int(hp["batch_size"])
        callback = LiveMetrics(reporter, math.ceil(len(x_train) / batch_size), data.num_classes)
        keeper = self._best_epoch_keeper()
        timer = ValidationTimer()
        try:
            began = time.perf_counter()
            history = network.fit(
                x_train,
                data.y_train,
                batch_size=batch_size,
                epochs=int(hp["epochs"]),
                validation_data=(x_val, data.y_val),
                callbacks=[callback, timer, *keeper],
                verbose=0,
            ).history
            fit_seconds = time.perf_counter() - began
            if callback.diverged:
                raise TrialDiverged(*callback.diverged)
            if callback.pruned_after is not None:
                raise TrialPruned(callback.pruned_after)
            measures = fit_measures(network, fit_seconds, timer, len(x_val))
            values = trial_values(history, self.spec, measures)
            value = best_epoch_value(history, self.spec.metric, self.spec.direction)
            # Chance is always predicting the training split's most common class.
            majority = int(np.bincount(data.y_train).argmax())
            note = chance_note(
                CLASSIFICATION,
                {"val_accuracy": history.get("val_accuracy", [math.nan])[-1]},
                {"val_accuracy": float(np.mean(data.y_val == majority))},
            )
            value = values.get(self.spec.metric, value)  # a measure may be the first metric
            self._promote_if_best(network, keeper, value)
            return TrialOutcome(value, note, values)
        finally:
            del network
            self._release_session()

    def _best_epoch_keeper(self) -> list[BestEpochWeights]:
        """The callback that keeps the trial's best epoch's weights, in memory (none when no
        best model is saved): a trial's value is its best epoch's metric, so the model kept is
        that epoch's. Memory, not a file per better epoch: saving a .keras file cost ~0.1 s a
        time, most of it for trials that never became the study's best."""
        if self.best_model_path is None:
            return []
        if self.spec.metric in MEASURES:  # measured once the fit ends: the last epoch's model
            return [BestEpochWeights("loss", Direction.MINIMIZE, None, last_epoch=True)]
        return [BestEpochWeights(self.spec.metric, self.spec.direction, self.best_value)]

    def _promote_if_best(
        self, network: keras.Model, keeper: list[BestEpochWeights], value: float
    ) -> None:
        """Save the trial's best epoch as the study's best model when it beats it.

        The file is written beside it and swapped in with ``os.replace``, so a reader never
        sees half a model. The weights are the best epoch's; the optimizer's state is the last
        epoch's (the model is kept for inference and export, not to resume training).
        """
        if not keeper or keeper[0].weights is None or self.best_model_path is None:
            return
        if not math.isfinite(value):
            return
        if self.best_value is not None and not self.spec.direction.better(value, self.best_value):
            return
        self.best_model_path.parent.mkdir(parents=True, exist_ok=True)
        # Keras insists on the .keras suffix; the process id keeps two workers apart.
        partial = self.best_model_path.with_name(f"checkpoint-{os.getpid()}.keras")
        network.set_weights(keeper[0].weights)
        try:
            network.save(partial)
            os.replace(partial, self.best_model_path)
        finally:
            partial.unlink(missing_ok=True)
        self.best_value = value

    def _release_session(self) -> None:
        """Drop Keras' global state after a trial; on a CPU, collect garbage only when it
        pays.

        ``clear_session()`` alone runs a full ``gc.collect``, which walks TensorFlow's many
        long-lived objects: 0.35-0.7 s a trial on this machine, a third of a small model's fit
        (benchmarks/own_model.py). Its cost barely depends on how much is garbage, so on a CPU
        a collection runs once the process has grown by ``COLLECT_GROWTH_BYTES`` (big models'
        garbage) or every ``COLLECT_EVERY`` trials (small ones'). On a GPU every trial
        collects: a model's weights and optimizer state held by Keras' reference cycles occupy
        device memory, which is scarcer than host memory.
        """
        keras.backend.clear_session(free_memory=False)
        self._trials_since_collect += 1
        resident = resident_bytes()
        grown = resident is not None and self._resident_after_collect is not None
        grown = grown and resident - self._resident_after_collect >= COLLECT_GROWTH_BYTES
        if grown or self._trials_since_collect >= (1 if has_gpu() else COLLECT_EVERY):
            gc.collect()
            self._trials_since_collect = 0
            self._resident_after_collect = resident_bytes()


def resident_bytes() -> int | None:
    """This process's resident memory in bytes, or None where /proc is not there."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None
