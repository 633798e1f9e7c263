"""A user's own objective in a spec: ``{"type": "python", ...}`` (an ``objective(trial)``
function or a Keras ``build_model(hp)``) and its Keras spelling ``{"type": "keras",
"build_model": ...}``, with the data a build_model is fitted on."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tuning_core.engine.errors import brief
from tuning_core.engine.objective_metrics import METRIC_PATTERN, parse_metric_list
from tuning_core.engine.objectives import MAX_FUNCTION_EPOCHS
from tuning_core.engine.spec_fields import (
    MAX_EXAMPLES,
    count_field,
    expect,
    int_field,
    is_finite_number,
)
from tuning_core.engine.spec_parts import MetricGoal, UserFunctionSpec, UserModelSpec
from tuning_core.engine.states import Direction
from tuning_core.engine.table_objective_spec import TABLE_KEYS
from tuning_core.engine.user_objectives import TARGET_PATTERN

PYTHON_FORMS = ("function", "build_model")


def _parse_python_objective(raw: dict[str, Any]) -> UserFunctionSpec | UserModelSpec:
    """A user's objective: ``function`` (``objective(trial) -> number``, the default) or
    ``build_model`` (a Keras ``build_model(hp)``, fitted on the arrays the Python API passes,
    or on ``dataset``, read as a Keras objective reads it, in a spec file). The space's names
    are free: the registry is for the built-in models."""
    known = {"type", "target", "form", "metric", "metrics", "direction", "epochs", "batch_size"}
    known |= {"validation_split", "dataset", "split", "train_limit"}
    unknown = sorted(set(raw) - known)
    expect(
        not unknown,
        f"objective.{unknown[0] if unknown else ''} is not a key of a python objective; use "
        f"{', '.join(sorted(known))}.",
    )
    target = raw.get("target")
    expect(
        isinstance(target, str) and bool(TARGET_PATTERN.fullmatch(target)),
        f"objective.target must name a function as module:function (e.g. train:objective), "
        f"not {brief(target)}.",
    )
    form = raw.get("form", "function")
    expect(
        form in PYTHON_FORMS,
        f"objective.form must be one of {', '.join(PYTHON_FORMS)}, not {brief(form)}.",
    )
    keras_model = form == "build_model"
    more: tuple[MetricGoal, ...] = ()
    if "metrics" in raw:
        # Any name: what a user's code reports is known once its first trial returns.
        metric, direction, more = parse_metric_list(raw, lambda name, field: None)
    else:
        metric = raw.get("metric", "val_accuracy" if keras_model else "value")
        expect(
            isinstance(metric, str) and bool(METRIC_PATTERN.fullmatch(metric)),
            "objective.metric must be a metric name of 1 to 64 letters, digits, _, . or -, not "
            f"{brief(metric)}.",
        )
        direction = raw.get("direction", Direction.natural_for(metric).value)
        expect(
            direction in {member.value for member in Direction},
            f"objective.direction must be maximize or minimize, not {brief(direction)}.",
        )
    # The most epochs a trial reports: pruners need at least 2.
    epochs = count_field(
        raw, "epochs", "objective", 10 if keras_model else 1, 1, MAX_FUNCTION_EPOCHS
    )
    if not keras_model:
        extra = sorted(
            set(raw) & {"batch_size", "validation_split", "dataset", "split", "train_limit"}
        )
        expect(
            not extra,
            f"objective.{extra[0] if extra else ''} is for a build_model objective; a function "
            "objective reads its own data.",
        )
        return UserFunctionSpec(target, metric, Direction(direction), epochs, more)
    batch_size = count_field(raw, "batch_size", "objective", 32, 1, MAX_EXAMPLES)
    split = raw.get("validation_split")
    expect(
        split is None or (is_finite_number(split) and 0 < split < 1),
        f"objective.validation_split must be a number between 0 and 1, not {brief(split)}.",
    )
    validation_split = None if split is None else float(split)
    model = UserModelSpec(
        target,
        metric,
        Direction(direction),
        epochs,
        batch_size,
        validation_split,
        more_metrics=more,
    )
    return _with_user_model_dataset(raw, model) if "dataset" in raw else model


def _with_user_model_dataset(raw: dict[str, Any], model: UserModelSpec) -> UserModelSpec:
    """A spec file's data for a user's build_model: the dataset fields of a Keras objective
    (its images, shape (n, height, width), scaled to 0..1, and its validation split)."""
    dataset = raw["dataset"]
    expect(
        isinstance(dataset, str) and dataset != "",
        "objective.dataset must be digits, mnist, fashion_mnist or a folder path.",
    )
    split = raw.get("split", "stratified")
    expect(
        split in ("stratified", "ordered"),
        f"objective.split must be stratified or ordered, not {brief(split)}.",
    )
    return replace(
        model,
        dataset=dataset,
        validation_split=model.validation_split or 0.2,
        split=split,
        train_limit=int_field(raw, "train_limit", "objective", None, 10, MAX_EXAMPLES),
    )


# The spelling of a user's Keras model: the keys a Keras objective has for images,
# with build_model in place of model. It is stored as the python build_model objective it
# parses to, so specs, stores and search identities keep one form.
KERAS_BUILD_MODEL_KEYS = (
    "type",
    "build_model",
    "dataset",
    "epochs",
    "batch_size",
    "metric",
    "metrics",
    "direction",
    "validation_split",
    "split",
    "train_limit",
)


def _parse_keras_build_model(raw: dict[str, Any]) -> UserModelSpec:
    """``{"type": "keras", "build_model": "module:function", ...}``: the same objective as
    ``{"type": "python", "form": "build_model", "target": ...}``, with the Keras objective's
    dataset fields (``dataset`` defaults to digits, as a Keras objective's does)."""
    expect(
        "model" not in raw,
        "objective.model names a built-in model; with build_model your function builds the "
        "model, so leave model out.",
    )
    table_keys = sorted(set(raw) & set(TABLE_KEYS))
    expect(
        not table_keys,
        f"objective.{table_keys[0] if table_keys else ''} is a table field; a build_model "
        "objective trains on images (digits, mnist, fashion_mnist or a folder).",
    )
    unknown = sorted(set(raw) - set(KERAS_BUILD_MODEL_KEYS))
    expect(
        not unknown,
        f"objective.{unknown[0] if unknown else ''} is not a key of a keras build_model "
        f"objective; use {', '.join(sorted(KERAS_BUILD_MODEL_KEYS))}.",
    )
    build_model = raw["build_model"]
    expect(
        isinstance(build_model, str) and bool(TARGET_PATTERN.fullmatch(build_model)),
        "objective.build_model must name a function as module:function (e.g. "
        f"model:build_model), not {brief(build_model)}.",
    )
    spelled = {key: value for key, value in raw.items() if key not in ("type", "build_model")}
    python = {"type": "python", "form": "build_model", "target": build_model, **spelled}
    python.setdefault("dataset", "digits")
    model = _parse_python_objective(python)
    assert isinstance(model, UserModelSpec)  # form build_model parses to one
    return model
