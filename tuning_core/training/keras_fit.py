"""The Keras side of a trial's fit: a model plan built into a compiled Keras model, the
callbacks every Keras objective passes to ``fit`` (live metrics, divergence, stop and prune
requests, the best epoch's weights, the validation pass's timer) and the measures read
after it.

Importing this module loads Keras and TensorFlow (~7 s); the objectives import it once their
data is read and checked, so bad data is refused without that wait.

Divergence rule: a trial is ``diverged`` as soon as its training loss (Keras' running mean
within the epoch) is NaN or infinite, or exceeds ``DIVERGENCE_FACTOR`` times the loss of
guessing uniformly, ln(number of classes) (~46 for 10 classes). Cross-entropy clips
probabilities, so SGD at a huge learning rate drives the loss to ~1e14 without a NaN; the
factor catches that.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from tuning_core.engine.model_plan import Call, ModelPlan
from tuning_core.engine.objectives import Reporter, TrialStopped
from tuning_core.engine.states import Direction
from tuning_core.training.keras_runtime import import_keras

keras = import_keras()

DIVERGENCE_FACTOR = 20.0
# Intra-epoch training-loss points written per epoch, so long epochs still move the chart.
BATCH_POINTS_PER_EPOCH = 10
EPOCH_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")
# What the built-in table model also reports (training/table_objective.py).
EPOCH_METRICS += ("auc", "val_auc", "mae", "val_mae", "rmse", "val_rmse")


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


def fit_measures(
    network: keras.Model, fit_seconds: float, timer: ValidationTimer, validation_rows: int
) -> dict[str, float]:
    """The measures every Keras trial records (see the module docstring)."""
    measures = {"train_seconds": fit_seconds, "parameters": float(trainable_parameters(network))}
    if timer.seconds is not None and validation_rows > 0:
        measures["predict_ms"] = 1000.0 * timer.seconds / validation_rows
    return measures
