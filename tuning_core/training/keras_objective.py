"""Keras objective: builds the model a trial's params describe, fits it, reports live metrics.

Only the worker process imports this module. Keras and TensorFlow (~7 s) load only when a
trial first builds a model (training/keras_fit.py, which holds the fit's callbacks and the
divergence rule), after its dataset is read and checked: bad data is refused in about a
second. A run that finishes at chance accuracy is kept ``complete`` with a note.

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
from typing import TYPE_CHECKING, Any

import numpy as np

from tuning_core.engine.hyperparams import trial_hyperparams
from tuning_core.engine.model_plan import image_plan
from tuning_core.engine.objectives import (
    MEASURES,
    Reporter,
    TrialDiverged,
    TrialOutcome,
    TrialPruned,
)
from tuning_core.engine.spec import StudySpec
from tuning_core.engine.spec_parts import KerasObjectiveSpec
from tuning_core.engine.states import Direction
from tuning_core.engine.tasks import CLASSIFICATION, chance_note
from tuning_core.training.datasets import Dataset, dataset_for
from tuning_core.training.keras_runtime import has_gpu, import_keras

if TYPE_CHECKING:  # importing it loads Keras; the annotations alone must not
    from tuning_core.training.keras_fit import BestEpochWeights, keras

# A full garbage collection once in this many trials, or sooner once the process has grown by
# COLLECT_GROWTH_BYTES since the last one (see KerasObjective._release_session).
COLLECT_EVERY = 32
COLLECT_GROWTH_BYTES = 256 * 2**20


def prepare_inputs(model: str, x: np.ndarray) -> np.ndarray:
    """Flatten images for the MLP; add a channel axis for the CNN."""
    return x.reshape(len(x), -1) if model == "mlp" else x[..., np.newaxis]


def build_model(
    model: str, hp: dict[str, Any], image_shape: tuple[int, int], num_classes: int
) -> keras.Model:
    """A compiled MLP or CNN for ``hp`` (see hyperparams for the names); loads Keras."""
    from tuning_core.training.keras_fit import build_plan  # noqa: PLC0415 - see the docstring

    return build_plan(image_plan(model, hp, image_shape, num_classes))


def best_epoch_value(history: dict[str, list[float]], metric: str, direction: Direction) -> float:
    """The trial's value: the best finite value of ``metric`` over its epochs, else NaN."""
    values = [v for v in history.get(metric, []) if math.isfinite(v)]
    return direction.best(values) if values else math.nan


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
        data = self.dataset  # read and checked before Keras loads: bad data fails in ~1 s
        # Keras (~7 s) loads here, at the first trial's model, not when the module is imported.
        from tuning_core.training import keras_fit  # noqa: PLC0415

        objective = self.objective
        assert isinstance(objective, KerasObjectiveSpec)  # a build_model objective has its own
        model_name = objective.model
        hp = trial_hyperparams(model_name, objective.epochs, params)
        # One seed for every trial: trials differ only by their params, not their initial weights.
        keras_fit.keras.utils.set_random_seed(self.spec.seed)
        network = build_model(model_name, hp, data.image_shape, data.num_classes)
        x_train, x_val = (
            prepare_inputs(model_name, data.x_train),
            prepare_inputs(model_name, data.x_val),
        )
        batch_size = int(hp["batch_size"])
        steps = math.ceil(len(x_train) / batch_size)
        callback = keras_fit.LiveMetrics(reporter, steps, data.num_classes)
        keeper = self._best_epoch_keeper()
        timer = keras_fit.ValidationTimer()
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
            measures = keras_fit.fit_measures(network, fit_seconds, timer, len(x_val))
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
        from tuning_core.training.keras_fit import BestEpochWeights  # noqa: PLC0415 - __call__ loaded it

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
        import_keras().backend.clear_session(free_memory=False)
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
