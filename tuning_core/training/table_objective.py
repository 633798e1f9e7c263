"""The built-in model for tables: the MLP on the registry's sliders, its output and loss
following the task (softmax and sparse cross-entropy for classes, sigmoid and binary
cross-entropy for two, linear and MSE for numbers).

Only the worker process imports this module (it loads Keras).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from tuning_core.engine.hyperparams import trial_hyperparams
from tuning_core.engine.model_plan import table_plan
from tuning_core.engine.objectives import Reporter, TrialDiverged, TrialOutcome, TrialPruned
from tuning_core.engine.spec import StudySpec
from tuning_core.engine.tasks import REGRESSION, chance_note
from tuning_core.training.keras_fit import (
    LiveMetrics,
    ValidationTimer,
    build_plan,
    fit_measures,
)
from tuning_core.training.keras_objective import KerasObjective, best_epoch_value, trial_values
from tuning_core.training.keras_runtime import import_keras
from tuning_core.training.tables import PreparedTable, prepare_objective_table

keras = import_keras()


def build_table_model(
    hp: dict[str, Any],
    features: int,
    task: str,
    classes: int,
    target_scale: Mapping[str, float] | None = None,
) -> keras.Model:
    """A compiled MLP for ``hp`` on ``features`` inputs, its head and loss set by the task
    (``target_scale``: see ``model_plan.table_plan``)."""
    return build_plan(table_plan(hp, features, task, classes, target_scale))


def targets_for(task: str, classes: int, y: np.ndarray) -> np.ndarray:
    """Targets as the model's head takes them: a column for one output unit, else indices."""
    return y.reshape(-1, 1).astype(np.float32) if task == REGRESSION or classes == 2 else y


class TableObjective(KerasObjective):
    """A ``{"type": "keras"}`` objective whose dataset is a table; loads it once per process."""

    def __init__(self, spec: StudySpec) -> None:
        super().__init__(spec)
        self._table: PreparedTable | None = None

    @property
    def table(self) -> PreparedTable:
        if self._table is None:
            self._table = prepare_objective_table(self.objective, self.spec.seed)
        return self._table

    def __call__(self, params: dict[str, Any], reporter: Reporter) -> TrialOutcome:
        data = self.table
        task, classes = data.task, data.num_classes
        hp = trial_hyperparams("mlp", self.objective.epochs, params)
        # One seed for every trial: trials differ only by their params, not their initial weights.
        keras.utils.set_random_seed(self.spec.seed)
        network = build_table_model(
            hp, data.features, task, classes, data.preparation.get("target_scale")
        )
        batch_size = int(hp["batch_size"])
        callback = LiveMetrics(
            reporter,
            math.ceil(len(data.x_train) / batch_size),
            max(classes, 2),
            loss_limit=float(data.preparation["loss_limit"]),
        )
        keeper = self._best_epoch_keeper()
        timer = ValidationTimer()
        try:
            began = time.perf_counter()
            history = network.fit(
                data.x_train,
                targets_for(task, classes, data.y_train),
                batch_size=batch_size,
                epochs=int(hp["epochs"]),
                validation_data=(data.x_val, targets_for(task, classes, data.y_val)),
                callbacks=[callback, timer, *keeper],
                verbose=0,
            ).history
            fit_seconds = time.perf_counter() - began
            if callback.diverged:
                raise TrialDiverged(*callback.diverged)
            if callback.pruned_after is not None:
                raise TrialPruned(callback.pruned_after)
            measures = fit_measures(network, fit_seconds, timer, len(data.x_val))
            values = trial_values(history, self.spec, measures)
            value = best_epoch_value(history, self.spec.metric, self.spec.direction)
            value = values.get(self.spec.metric, value)  # a measure may be the first metric
            final = {name: series[-1] for name, series in history.items() if series}
            note = chance_note(task, final, data.preparation.get("baseline", {}))
            self._promote_if_best(network, keeper, value)
            return TrialOutcome(value, note, values)
        finally:
            del network
            self._release_session()


def held_out_score(model_path: str, spec: StudySpec) -> dict[str, float]:
    """The saved best model's metrics on the table's held-out test rows (empty without any)."""
    data = prepare_objective_table(spec.objective, spec.seed)
    if data.x_test is None or data.y_test is None:
        return {}
    network = keras.models.load_model(model_path)
    scores = network.evaluate(
        data.x_test,
        targets_for(data.task, data.num_classes, data.y_test),
        verbose=0,
        return_dict=True,
    )
    return {f"test_{name}": float(value) for name, value in scores.items()}
