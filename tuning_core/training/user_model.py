"""A user's Keras ``build_model(hp)`` as a study's objective, fitted on the user's own arrays.

Each trial calls ``build_model(hp)`` (``hp``: a read-only mapping of the trial's values, with
the user's own names) and runs one ``fit`` with the callbacks the built-in models use (live
epoch and in-epoch metrics, pruning, divergence, stop requests, the best epoch's model kept
as the study's ``best.keras``). A model that cannot be trained as asked (not a Keras model,
not compiled, an output layer that does not fit the labels' classes, no study metric in its
logs) stops the study with one sentence, since every trial would fail the same way.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

import numpy as np

from tuning_core.engine.errors import ObjectiveError, brief
from tuning_core.engine.objectives import (
    MEASURES,
    Reporter,
    TrialDiverged,
    TrialOutcome,
    TrialPruned,
)
from tuning_core.engine.spec import StudySpec
from tuning_core.engine.user_objectives import as_number
from tuning_core.training.keras_fit import (
    EPOCH_METRICS,
    LiveMetrics,
    ValidationTimer,
    fit_measures,
)
from tuning_core.training.keras_objective import KerasObjective, best_epoch_value, trial_values
from tuning_core.training.keras_runtime import import_keras

keras = import_keras()

# Labels above this are not read as class indices (the built-in datasets' bound too).
MAX_CLASSES = 1000


def class_count(y: np.ndarray) -> int | None:
    """How many classes ``y`` holds: one-hot columns, or the largest class index + 1; None
    when ``y`` is not class labels (a regression target)."""
    if y.ndim == 2 and y.shape[1] > 1:
        return int(y.shape[1])
    flat = y.reshape(len(y), -1) if y.ndim > 1 else y
    if flat.ndim != 1 or flat.size == 0 or not np.issubdtype(flat.dtype, np.number):
        return None
    whole = np.all(np.isfinite(flat)) and np.all(flat == np.round(flat))
    if not whole or flat.min() < 0 or flat.max() >= MAX_CLASSES:
        return None
    return int(flat.max()) + 1


def _declares_sample_shape(inputs: list[Any], sample: np.ndarray) -> bool:
    """Whether the model's one declared Input has exactly ``sample``'s row shape."""
    declared = tuple(inputs[0].shape[1:])
    return len(declared) == sample.ndim - 1 and all(
        size is None or size == actual
        for size, actual in zip(declared, sample.shape[1:], strict=True)
    )


def _output_units(network: keras.Model, sample: np.ndarray) -> int | None:
    """The width of the model's single output (None for several outputs). Read from the
    model's declared Input and output when they match ``sample`` exactly (a forward pass costs
    ~30 ms a trial); else from one forward pass, which builds a Sequential model given no
    Input, accepts what Keras accepts (rows of (28, 28) for an Input of (28, 28, 1)) and
    raises when the model cannot take the rows."""
    try:
        inputs, outputs = network.inputs, network.outputs
    except (AttributeError, ValueError):  # a subclassed or unbuilt model declares neither
        inputs = outputs = None
    if inputs and outputs and len(inputs) == 1 and _declares_sample_shape(inputs, sample):
        if len(outputs) != 1:
            return None
        shape = tuple(outputs[0].shape)
    else:
        output = network(sample, training=False)
        if isinstance(output, (list, tuple, dict)):
            return None
        shape = tuple(output.shape)
    return int(shape[-1]) if len(shape) >= 2 else 1


def model_problem(network: Any, classes: int | None, sample: np.ndarray) -> str | None:
    """Why ``network`` cannot be trained on labels of ``classes`` classes, in one sentence,
    or None."""
    if not isinstance(network, keras.Model):
        return (
            f"build_model returned {brief(network)} ({type(network).__name__}), not a "
            "keras.Model; return the compiled model it builds."
        )
    # Keras 3 marks a compiled model; an uncompiled one may lack even an optimizer attribute.
    compiled = getattr(network, "compiled", None)
    if compiled is None:
        compiled = getattr(network, "optimizer", None) is not None
    if not compiled:
        return (
            "build_model returned a model that is not compiled; call model.compile(optimizer=…, "
            'loss=…, metrics=["accuracy"]) before returning it.'
        )
    if classes is None:
        return None
    try:
        units = _output_units(network, sample)
    except Exception as error:  # noqa: BLE001 - the user's model rejects the data: one sentence
        return (
            f"build_model's model cannot take x's rows of shape {sample.shape[1:]} "
            f"({type(error).__name__}); make its Input shape match the data."
        )
    if units is None or units == classes or (classes == 2 and units == 1):
        return None
    binary = (
        ' (or Dense(1, activation="sigmoid") with "binary_crossentropy")' if classes == 2 else ""
    )
    return (
        f"build_model's output layer has {units} unit(s), but y holds {classes} classes; end the "
        f'model with Dense({classes}, activation="softmax") and loss '
        f'"sparse_categorical_crossentropy"{binary}.'
    )


class UserModelMetrics(LiveMetrics):
    """LiveMetrics that also records every other number a user's model logs (the metrics it
    was compiled with: ``auc``, ``precision``, …), so any of them can be the study's metric."""

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if not self.diverged:
            # Written before LiveMetrics asks the pruner, which reads this epoch from the store.
            extra = {
                name: number
                for name, value in (logs or {}).items()
                if name not in EPOCH_METRICS and (number := as_number(value)) is not None
            }
            if extra:
                self.reporter.report(epoch, extra)
        super().on_epoch_end(epoch, logs)


class BuildModelObjective(KerasObjective):
    """The ``{"type": "python", "form": "build_model"}`` objective: the user's builder, data
    and fit settings (``epochs`` and ``batch_size`` may also be tuned in the space)."""

    def __init__(
        self,
        spec: StudySpec,
        build_model: Callable[[Any], Any],
        x: Any,
        y: Any,
        validation_data: tuple[Any, Any] | None = None,
    ) -> None:
        super().__init__(spec)
        self.build_model = build_model
        self._set_data(x, y, validation_data)

    def _set_data(self, x: Any, y: Any, validation_data: tuple[Any, Any] | None) -> None:
        self.x, self.y = np.asarray(x), np.asarray(y)
        self.validation_data = (
            None
            if validation_data is None
            else (np.asarray(validation_data[0]), np.asarray(validation_data[1]))
        )
        labels = [self.y] if self.validation_data is None else [self.y, self.validation_data[1]]
        counts = [class_count(part) for part in labels]
        self.classes = None if None in counts else max(counts)  # type: ignore[type-var]

    def __call__(self, params: dict[str, Any], reporter: Reporter) -> TrialOutcome:
        objective = self.spec.objective
        epochs = int(params.get("epochs", objective.epochs))
        batch_size = int(params.get("batch_size", objective.batch_size))
        split = objective.validation_split
        train_rows = len(self.x)
        if self.validation_data is None:  # fit holds out the last fraction of x
            train_rows = int(train_rows * (1 - float(split or 0.2)))
        # One seed for every trial: trials differ only by their params, not their initial weights.
        keras.utils.set_random_seed(self.spec.seed)
        network = self.build_model(MappingProxyType(dict(params)))
        keeper = self._best_epoch_keeper()
        try:
            problem = model_problem(network, self.classes, self.x[:1])
            if problem:
                raise ObjectiveError(problem)
            # A regression target has no chance level: only NaN or infinity counts as diverged.
            classes = self.classes if self.classes is not None else math.inf
            steps = max(1, math.ceil(train_rows / batch_size))
            callback = UserModelMetrics(reporter, steps, classes)  # type: ignore[arg-type]
            validation: dict[str, Any] = (
                {"validation_data": self.validation_data}
                if self.validation_data is not None
                else {"validation_split": float(split or 0.2)}
            )
            timer = ValidationTimer()
            began = time.perf_counter()
            history = network.fit(
                self.x,
                self.y,
                batch_size=batch_size,
                epochs=epochs,
                callbacks=[callback, timer, *keeper],
                verbose=0,
                **validation,
            ).history
            fit_seconds = time.perf_counter() - began
            if callback.diverged:
                raise TrialDiverged(*callback.diverged)
            if history and self.spec.metric not in history and self.spec.metric not in MEASURES:
                raise ObjectiveError(
                    f"the study's metric {self.spec.metric} is not among the metrics fit reports "
                    f'({", ".join(history)}); compile the model with metrics=["accuracy"] or '
                    "make one of those the study's metric."
                )
            if callback.pruned_after is not None:
                raise TrialPruned(callback.pruned_after)
            validation_rows = (
                len(self.validation_data[0])
                if self.validation_data is not None
                else len(self.x) - train_rows
            )
            measures = fit_measures(network, fit_seconds, timer, validation_rows)
            values = trial_values(history, self.spec, measures)
            value = best_epoch_value(history, self.spec.metric, self.spec.direction)
            value = values.get(self.spec.metric, value)  # a measure may be the first metric
            self._promote_if_best(network, keeper, value)
            return TrialOutcome(value, values=values)
        finally:
            del network
            self._release_session()


class DatasetBuildModelObjective(BuildModelObjective):
    """A spec file's build_model objective: fitted on the spec's ``dataset``, read as a Keras
    objective reads it (images of shape (n, height, width) scaled to 0..1, integer labels,
    the spec's validation split). The data loads at the first trial, once per process, so a
    dataset that cannot be read stops the study as it does a built-in Keras study."""

    def __init__(self, spec: StudySpec, build_model: Callable[[Any], Any]) -> None:
        KerasObjective.__init__(self, spec)
        self.build_model = build_model
        self._loaded = False

    def __call__(self, params: dict[str, Any], reporter: Reporter) -> TrialOutcome:
        if not self._loaded:
            data = self.dataset  # KerasObjective's loader: dataset_for(objective, seed)
            self._set_data(data.x_train, data.y_train, (data.x_val, data.y_val))
            self._loaded = True
        return super().__call__(params, reporter)


def shipped_build_model(
    build_model: Callable[[Any], Any], data_file: str, spec: StudySpec
) -> BuildModelObjective:
    """The objective a Dask worker builds for an API ``build_model`` study (the parallel
    factory's shape): the arrays come from the ``.npz`` the driver saved beside the store."""
    from tuning_core.training.data_files import load_arrays  # noqa: PLC0415

    arrays = load_arrays(data_file)
    validation = (arrays["x_val"], arrays["y_val"]) if "x_val" in arrays else None
    return BuildModelObjective(spec, build_model, arrays["x"], arrays["y"], validation)
