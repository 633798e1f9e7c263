"""A study spec's objective: :func:`parse_objective` validates its JSON into one of the typed
objective parts (engine/spec_parts.py), checking it against the search space: a test
function's inputs, a built-in Keras model's hyperparameters, a table's fields, a user's
function or build_model.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from tuning_core.engine import hyperparams
from tuning_core.engine.errors import SpecError, brief
from tuning_core.engine.objectives import (
    MAX_FUNCTION_EPOCHS,
    MEASURES,
    MULTI_TEST_FUNCTIONS,
    TEST_FUNCTIONS,
    input_names,
)
from tuning_core.engine.pareto import MAX_METRICS
from tuning_core.engine.space import ChoiceDimension, NumericDimension, SearchSpace
from tuning_core.engine.spec_fields import count_field, expect, int_field, is_finite_number
from tuning_core.engine.spec_parts import (
    FunctionObjectiveSpec,
    KerasObjectiveSpec,
    MetricGoal,
    ObjectiveSpec,
    TableSpec,
    UserFunctionSpec,
    UserModelSpec,
)
from tuning_core.engine.states import Direction
from tuning_core.engine.tasks import (
    ALL_METRICS,
    CLASSIFICATION,
    default_metric,
    metric_task_problem,
    task_problem,
)
from tuning_core.engine.user_objectives import TARGET_PATTERN

MAX_EXAMPLES = 100_000_000  # a batch size or a train limit, in examples


def parse_objective(raw: Any, space: SearchSpace) -> ObjectiveSpec:
    """The spec's ``objective`` object as its typed part, checked against ``space``."""
    expect(
        isinstance(raw, dict),
        "objective must be an object with a type of keras, function or python.",
    )
    kind = raw.get("type")
    if kind == "function":
        name = raw.get("name")
        functions = [*TEST_FUNCTIONS, *MULTI_TEST_FUNCTIONS]
        expect(
            name in functions,
            f"objective.name must be one of {', '.join(functions)}, not {brief(name)}.",
        )
        test_function = TEST_FUNCTIONS.get(name) or MULTI_TEST_FUNCTIONS[name]
        names = space.all_names()
        inputs = input_names({n: 0 for n in names})
        extra = [n for n in names if n not in inputs]
        expect(
            not extra,
            f"space.{extra[0] if extra else ''} is not an input of {name}; name its inputs x1, "
            "x2, ….",
        )
        expected = test_function.dimensions or max(len(inputs), test_function.min_dimensions)
        wanted = [f"x{i}" for i in range(1, expected + 1)]
        expect(inputs == wanted, f"space must define exactly {', '.join(wanted)} for {name}.")
        for dimension in space.dimensions:
            expect(
                isinstance(dimension, NumericDimension),
                f"space.{dimension.name} must be a float or int range for {name}, not a choice.",
            )
            if name in MULTI_TEST_FUNCTIONS:  # ZDT's definition holds on [0, 1] only
                expect(
                    dimension.low >= 0 and dimension.high <= 1,
                    f"space.{dimension.name} must lie within 0 and 1 for {name}, not "
                    f"{dimension.low:g} to {dimension.high:g}.",
                )
        direction = raw.get("direction", Direction.MINIMIZE.value)
        expect(
            direction == Direction.MINIMIZE,
            f"objective.direction must be minimize for {name}, not {brief(direction)}.",
        )
        metric, more = _function_metrics(raw, name)
        trial_seconds = raw.get("trial_seconds", 0)
        expect(
            is_finite_number(trial_seconds) and 0 <= trial_seconds <= 60,
            "objective.trial_seconds must be a number of seconds from 0 to 60, not "
            f"{brief(trial_seconds)}.",
        )
        epochs = count_field(raw, "epochs", "objective", 1, 1, MAX_FUNCTION_EPOCHS)
        return FunctionObjectiveSpec(name, trial_seconds, epochs, metric, more)
    if kind == "keras":
        if "build_model" in raw:
            return _parse_keras_build_model(raw)
        return _parse_keras_objective(raw, space)
    if kind == "python":
        return _parse_python_objective(raw)
    raise SpecError(f"objective.type must be keras, function or python, not {brief(kind)}.")


# A user metric name: what trial.report writes and pruners compare trials by.
METRIC_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$")
METRICS_SHAPE = '{"name": ..., "direction": "minimize" or "maximize"}'


def parse_metric_list(
    raw: dict[str, Any], problem: Callable[[str, str], str | None]
) -> tuple[str, Direction, tuple[MetricGoal, ...]]:
    """The objective's ``metrics`` list as (first metric, its direction, the other goals).

    ``problem(name, field)`` says in one sentence why the objective cannot produce ``name``
    (``field`` names it, e.g. ``objective.metrics[1].name``), or None. A list of one metric is
    the single ``metric``/``direction`` form exactly (same stored JSON, same study).
    """
    expect(
        "metric" not in raw and "direction" not in raw,
        "objective.metrics replaces metric and direction; give one or the other.",
    )
    listed = raw["metrics"]
    expect(
        isinstance(listed, list) and len(listed) > 0,
        f"objective.metrics must list one or more metrics as {METRICS_SHAPE}, not {brief(listed)}.",
    )
    expect(
        len(listed) <= MAX_METRICS,
        f"objective.metrics lists {len(listed)} metrics; a study trades at most {MAX_METRICS} "
        "(its hypervolume is measured exactly, at a cost that grows steeply with each metric).",
    )
    goals: list[MetricGoal] = []
    for index, item in enumerate(listed):
        field = f"objective.metrics[{index}]"
        expect(
            isinstance(item, dict) and set(item) <= {"name", "direction"} and "name" in item,
            f"{field} must be an object {METRICS_SHAPE}, not {brief(item)}.",
        )
        name = item["name"]
        expect(
            isinstance(name, str) and bool(METRIC_PATTERN.fullmatch(name)),
            f"{field}.name must be a metric name of 1 to 64 letters, digits, _, . or -, not "
            f"{brief(name)}.",
        )
        sentence = problem(name, f"{field}.name")
        expect(sentence is None, sentence or "")
        expect(
            name not in [goal.name for goal in goals],
            f"{field}.name repeats {name!r}; list each metric once.",
        )
        direction = item.get("direction", Direction.natural_for(name).value)
        expect(
            direction in {member.value for member in Direction},
            f"{field}.direction must be minimize or maximize, not {brief(direction)}.",
        )
        goals.append(MetricGoal(name, Direction(direction)))
    return goals[0].name, goals[0].direction, tuple(goals[1:])


def _function_metrics(raw: dict[str, Any], name: str) -> tuple[str, tuple[MetricGoal, ...]]:
    """A test function's metrics: ``value`` for a function of one, else the ones the spec
    lists (``metrics``, or one ``metric``), all of the function's by default; all minimised."""
    produced = MULTI_TEST_FUNCTIONS[name].metrics if name in MULTI_TEST_FUNCTIONS else ("value",)

    def problem(metric: str, field: str) -> str | None:
        if metric in produced:
            return None
        return f"{field} must be one of {', '.join(produced)} for {name}, not {brief(metric)}."

    if "metrics" in raw:
        first, direction, more = parse_metric_list(raw, problem)
        for index, goal in enumerate((MetricGoal(first, direction), *more)):
            expect(
                goal.direction is Direction.MINIMIZE,
                f"objective.metrics[{index}].direction must be minimize for {name}, not "
                f"{goal.direction.value!r}.",
            )
        return first, more
    if name not in MULTI_TEST_FUNCTIONS:
        return "value", ()  # as before: a function of one metric reports value
    metric = raw.get("metric")
    if metric is None:
        return produced[0], tuple(MetricGoal(m, Direction.MINIMIZE) for m in produced[1:])
    sentence = problem(metric, "objective.metric")
    expect(sentence is None, sentence or "")
    return metric, ()


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


# A Keras objective's fields for tables (see training/tables/): the column to predict, the
# task when not inferred, imputation, a held-out test share, and the fitted preparation that
# `run` stores so that a resume, a Dask worker and the export repeat it.
TABLE_KEYS = ("target", "task", "impute", "test_split", "preparation")
MAX_TARGET_CHARS = 200


def _is_table(raw: dict[str, Any], dataset: str) -> bool:
    """Whether the objective describes a table: a CSV, or any table field given."""
    return dataset.lower().endswith(".csv") or any(raw.get(key) is not None for key in TABLE_KEYS)


def _default_keras_metric(table: TableSpec | None) -> str:
    """Accuracy for images; for a table, its task's metric, or the loss (which every task
    has) until the task is known (`run` infers it and fills the metric in)."""
    if table is None:
        return "val_accuracy"
    return default_metric(table.task) if table.task else "val_loss"


def _parse_table_fields(raw: dict[str, Any], dataset: str, model: str) -> TableSpec | None:
    """A table objective's own fields, validated; None for images."""
    if not _is_table(raw, dataset):
        return None
    expect(
        model == "mlp",
        f"objective.model {model} needs images; a table trains the mlp model on its features.",
    )
    target = raw.get("target")
    expect(
        target is None or (isinstance(target, str) and 0 < len(target) <= MAX_TARGET_CHARS),
        f"objective.target must be the name of the column to predict, not {brief(target)}.",
    )
    preparation = raw.get("preparation")
    expect(
        preparation is None
        or (
            isinstance(preparation, dict)
            and isinstance(preparation.get("summary"), str)
            and isinstance(preparation.get("columns"), list)
            and isinstance(preparation.get("split"), dict)
            and isinstance(preparation.get("classes"), list)
            and task_problem(preparation.get("task")) is None
        ),
        "objective.preparation is written by run (the fitted preparation of the table); leave "
        "it out, or keep it as a stored study has it.",
    )
    task = raw.get("task", preparation["task"] if preparation else None)
    if task is not None:
        problem = task_problem(task)
        expect(problem is None, problem or "")
    impute = raw.get("impute", False)
    expect(
        isinstance(impute, bool), f"objective.impute must be true or false, not {brief(impute)}."
    )
    test_split = raw.get("test_split")
    expect(
        test_split is None or (is_finite_number(test_split) and 0 <= test_split <= 0.5),
        f"objective.test_split must be a share from 0 to 0.5 held out for the end, not "
        f"{brief(test_split)}.",
    )
    if preparation is not None:
        expect(
            preparation["task"] == task,
            f"objective.preparation was fitted for {preparation['task']}, not {brief(task)}; "
            "leave the preparation out to fit it again.",
        )
    return TableSpec(impute, float(test_split or 0.0), target, task, preparation)


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
