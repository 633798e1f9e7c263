"""Learning tasks for tables: which task a target implies, which metrics each task has, and
the metrics' names in words. Pure rules (no numpy, pandas or Keras), shared by the spec, the
loader, the model builder and the pages.
"""

from __future__ import annotations

import math
from typing import Any

from tuning_core.engine.errors import brief

CLASSIFICATION = "classification"
REGRESSION = "regression"
TASKS = (CLASSIFICATION, REGRESSION)
# A bool, text or whole-number target with at most this many distinct values is a class label.
MAX_INFERRED_CLASSES = 50
# Classes a classifier may be asked for with "task": "classification" (the image bound too).
MAX_CLASSES = 1000

CLASSIFICATION_METRICS = ("val_accuracy", "val_loss", "accuracy", "loss")
BINARY_METRICS = ("val_auc", "auc")
REGRESSION_METRICS = ("val_mae", "val_rmse", "val_loss", "mae", "rmse", "loss")
# Every metric a built-in Keras model can report, in the order a form lists them.
ALL_METRICS = (
    "val_accuracy",
    "val_loss",
    "accuracy",
    "loss",
    "val_auc",
    "auc",
    "val_mae",
    "val_rmse",
    "mae",
    "rmse",
)
# Metrics that only one task has: what a metric/task mismatch is judged by.
_ONLY_CLASSIFICATION = {"val_accuracy", "accuracy", "val_auc", "auc"}
_ONLY_REGRESSION = {"val_mae", "val_rmse", "mae", "rmse"}

# The one table of metric names in words (Live, Compare, the forms).
METRIC_WORDS = {
    "loss": "training loss",
    "accuracy": "training accuracy",
    "auc": "training area under the ROC curve",
    "mae": "training mean absolute error",
    "rmse": "training root mean squared error",
    "val_loss": "validation loss",
    "val_accuracy": "validation accuracy",
    "val_auc": "validation area under the ROC curve",
    "val_mae": "validation mean absolute error",
    "val_rmse": "validation root mean squared error",
    "value": "value",
}


def metric_words(metric: str) -> str:
    """``val_mae`` -> "validation mean absolute error"; an unknown name is returned as is."""
    return METRIC_WORDS.get(metric, metric)


def metric_sentence(metric: str, direction: str) -> str:
    """A metric and its direction in words: "validation mean absolute error, lower is better"."""
    better = "higher" if direction == "maximize" else "lower"
    return f"{metric_words(metric)}, {better} is better"


def infer_task(kind: str, distinct: int) -> str:
    """The task a target implies: ``kind`` is bool, text, integer or float (how its values
    read), ``distinct`` how many different values it holds. Classes are bool, text or whole
    numbers with at most MAX_INFERRED_CLASSES values; anything else is regression."""
    if kind in ("bool", "text"):
        return CLASSIFICATION
    if kind == "integer" and distinct <= MAX_INFERRED_CLASSES:
        return CLASSIFICATION
    return REGRESSION


def metrics_for(task: str, classes: int | None = None) -> tuple[str, ...]:
    """The metrics a built-in model reports for ``task`` (AUC only with two classes)."""
    if task == REGRESSION:
        return REGRESSION_METRICS
    return CLASSIFICATION_METRICS + (BINARY_METRICS if classes == 2 else ())


def default_metric(task: str) -> str:
    """What a table study optimises unless told: accuracy for classes, MAE for numbers."""
    return "val_mae" if task == REGRESSION else "val_accuracy"


def metric_task_problem(metric: str, task: str, classes: int | None = None) -> str | None:
    """Why ``metric`` cannot score ``task``, in one sentence naming objective.metric, or None."""
    if task == CLASSIFICATION and metric in _ONLY_REGRESSION:
        return (
            f"objective.metric {metric} measures a regression, but this is a classification "
            f"task; use one of {', '.join(metrics_for(task, classes))}."
        )
    if task == REGRESSION and metric in _ONLY_CLASSIFICATION:
        return (
            f"objective.metric {metric} measures a classification, but this is a regression "
            f"task; use one of {', '.join(REGRESSION_METRICS)}."
        )
    if task == CLASSIFICATION and metric in BINARY_METRICS and classes not in (None, 2):
        return (
            f"objective.metric {metric} needs two classes, but the target has {classes}; use "
            f"one of {', '.join(CLASSIFICATION_METRICS)}."
        )
    return None


def task_problem(task: object) -> str | None:
    """Why ``task`` is not a task name, in one sentence, or None."""
    if task in TASKS:
        return None
    return f"objective.task must be classification or regression, not {brief(task)}."


# A run is "at chance" while it has closed less than this share of the gap between the score
# of a model that learned nothing and a perfect score.
CHANCE_MARGIN = 0.05


def chance_note(task: str, final: dict[str, float], baseline: dict[str, Any]) -> str | None:
    """The "ended at chance" note for a trial's last epoch, or None: classification is judged
    against always predicting the training split's most common class (its validation
    accuracy, ``baseline["val_accuracy"]``), regression against predicting the training mean
    (``baseline["val_mae"]`` or ``["val_loss"]``)."""
    if task == CLASSIFICATION:
        accuracy, rate = final.get("val_accuracy"), baseline.get("val_accuracy")
        if accuracy is None or rate is None or not math.isfinite(accuracy):
            return None
        if accuracy >= rate + CHANCE_MARGIN * (1 - rate):
            return None
        return (
            f"ended at chance accuracy ({accuracy:.1%} validation accuracy; always predicting "
            f"the most common class scores {rate:.1%})"
        )
    for metric in ("val_mae", "val_loss"):
        error, mean_error = final.get(metric), baseline.get(metric)
        if error is None or mean_error is None or not math.isfinite(error):
            continue
        if error <= (1 - CHANCE_MARGIN) * mean_error:
            return None
        return (
            f"ended at chance ({metric_words(metric)} {error:.4g}; predicting the training "
            f"mean scores {mean_error:.4g})"
        )
    return None
