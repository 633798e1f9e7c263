"""A built-in Keras objective in a spec (``{"type": "keras", "model": ...}``): its dataset,
model, epochs, metrics and split, and every hyperparameter's value checked against the registry
so that Keras can use it."""

from __future__ import annotations

from typing import Any

from tuning_core.engine import hyperparams
from tuning_core.engine.errors import SpecError, brief
from tuning_core.engine.objective_metrics import parse_metric_list
from tuning_core.engine.objectives import MEASURES
from tuning_core.engine.space import ChoiceDimension, NumericDimension, SearchSpace
from tuning_core.engine.spec_fields import MAX_EXAMPLES, count_field, expect, int_field
from tuning_core.engine.spec_parts import KerasObjectiveSpec, MetricGoal
from tuning_core.engine.states import Direction
from tuning_core.engine.table_objective_spec import (
    TABLE_KEYS,
    _default_keras_metric,
    _parse_table_fields,
)
from tuning_core.engine.tasks import ALL_METRICS, CLASSIFICATION, metric_task_problem


def _parse_keras_objective(raw: dict[str, Any], space: SearchSpace) -> KerasObjectiveSpec:
    known = {
        "type",
        "dataset",
        "model",
        "epochs",
        "metric",
        "metrics",
        "direction",
        "validation_split",
        "split",
        "train_limit",
        *TABLE_KEYS,
    }
    unknown = sorted(set(raw) - known)
    expect(
        not unknown,
        f"objective.{unknown[0] if unknown else ''} is not a known key; "
        f"use {', '.join(sorted(known))}.",
    )
    dataset = raw.get("dataset", "digits")
    expect(
        isinstance(dataset, str) and dataset != "",
        "objective.dataset must be digits, mnist, fashion_mnist, or the path of a folder, an "
        ".npz or a .csv file.",
    )
    model = raw.get("model", "mlp")
    expect(model in hyperparams.MODELS, f"objective.model must be mlp or cnn, not {brief(model)}.")
    epochs_entry = hyperparams.REGISTRY["epochs"]
    epochs = count_field(
        raw, "epochs", "objective", int(epochs_entry.default), 1, int(epochs_entry.highest)
    )
    table = _parse_table_fields(raw, dataset, model)
    task = table.task if table else CLASSIFICATION
    classes = len(table.preparation["classes"]) if table and table.preparation else None

    def problem(name: str, field: str) -> str | None:
        """Why the built-in model cannot report ``name``: its epoch metrics for the task, and
        the measures every Keras trial records."""
        produced = (*ALL_METRICS, *MEASURES)
        if name not in produced:
            return f"{field} must be one of {', '.join(produced)}, not {brief(name)}."
        if task is None or name in MEASURES:
            return None
        sentence = metric_task_problem(name, task, classes)
        return None if sentence is None else sentence.replace("objective.metric", field, 1)

    more: tuple[MetricGoal, ...] = ()
    if "metrics" in raw:
        metric, direction, more = parse_metric_list(raw, problem)
    else:
        metric = raw.get("metric", _default_keras_metric(table))
        sentence = problem(metric, "objective.metric")
        expect(sentence is None, sentence or "")
        direction = raw.get("direction", Direction.natural_for(metric).value)
        expect(
            direction in {member.value for member in Direction},
            f"objective.direction must be maximize or minimize, not {brief(direction)}.",
        )
    validation_split = raw.get("validation_split", 0.2)
    expect(
        isinstance(validation_split, (int, float))
        and not isinstance(validation_split, bool)
        and 0 < validation_split < 1,
        "objective.validation_split must be a number between 0 and 1, not "
        f"{brief(validation_split)}.",
    )
    split = raw.get("split", "stratified")
    expect(
        split in ("stratified", "ordered"),
        f"objective.split must be stratified or ordered, not {brief(split)}.",
    )
    train_limit = int_field(raw, "train_limit", "objective", None, 10, MAX_EXAMPLES)
    expect(
        not (table and train_limit is not None),
        "objective.train_limit subsets images; leave it out for a table.",
    )
    allowed = hyperparams.names_for(model)
    for name in space.all_names():
        expect(
            name in allowed,
            f"space.{name} is not a hyperparameter of the {model} model; use {', '.join(allowed)}.",
        )
    _check_keras_values(space)
    return KerasObjectiveSpec(
        dataset,
        model,
        epochs,
        metric,
        Direction(direction),
        float(validation_split),
        split,
        train_limit,
        table,
        more,
    )


def _check_keras_values(space: SearchSpace) -> None:
    """Every fixed value and range of a Keras hyperparameter must be usable by Keras.

    The bounds and choices come from the hyperparameter registry.
    """
    for entry in hyperparams.REGISTRY.values():
        dimension = space.dimension(entry.name)
        if entry.kind == "choice":
            _check_choice(space, entry)
            continue
        whole = entry.kind == "int"
        if isinstance(dimension, NumericDimension):
            expect(
                not whole or dimension.kind == "int",
                f"space.{entry.name} must be an int range, not a float range.",
            )
            values = [dimension.low, dimension.high]
        elif isinstance(dimension, ChoiceDimension):
            values = list(dimension.values)
        elif entry.name in space.fixed:
            values = [space.fixed[entry.name]]
        else:
            continue
        lowest, highest = entry.lowest, entry.highest
        bound = f"between {lowest} and {highest}" if highest is not None else f"at least {lowest}"
        kind = "a whole number" if whole else "a number"
        for value in values:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            ok = (
                ok and (lowest is None or value >= lowest) and (highest is None or value <= highest)
            )
            ok = ok and (not whole or float(value) == int(value))
            expect(ok, f"space.{entry.name} must be {kind} {bound}, not {brief(value)}.")


def _check_choice(space: SearchSpace, entry: hyperparams.HyperParameter) -> None:
    dimension = space.dimension(entry.name)
    allowed = ", ".join(entry.choices)
    if isinstance(dimension, NumericDimension):
        raise SpecError(f"space.{entry.name} must be a choice of {allowed}.")
    values = list(dimension.values) if dimension is not None else []
    if entry.name in space.fixed:
        values = [space.fixed[entry.name]]
    for value in values:
        expect(
            value in entry.choices,
            f"space.{entry.name} must be one of {allowed}, not {brief(value)}.",
        )
