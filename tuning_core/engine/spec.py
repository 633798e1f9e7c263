"""The study spec: one JSON document that the CLI runs and the dashboard writes.

:func:`parse_spec` validates a whole spec and returns a :class:`StudySpec`; every problem
raises :class:`SpecError` with one sentence naming the field. Defaults are filled in, so
``StudySpec.to_json()`` is the complete, canonical form that the store keeps.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from tuning_core.engine import hyperparams
from tuning_core.engine.errors import SpecError, brief
from tuning_core.engine.objectives import MAX_FUNCTION_EPOCHS, TEST_FUNCTIONS, input_names
from tuning_core.engine.pruners import parse_pruner
from tuning_core.engine.space import ChoiceDimension, NumericDimension, SearchSpace, parse_space
from tuning_core.engine.states import Direction
from tuning_core.engine.tasks import (
    ALL_METRICS,
    CLASSIFICATION,
    default_metric,
    metric_task_problem,
    task_problem,
)
from tuning_core.engine.user_objectives import TARGET_PATTERN

STRATEGIES = ("grid", "random", "bayesian")
SURROGATES = ("GP", "RF", "ET", "GBRT")
ACQUISITIONS = ("EI", "PI", "LCB", "gp_hedge")
KERAS_METRICS = ("val_accuracy", "val_loss", "accuracy", "loss")
BUILTIN_DATASETS = ("digits", "mnist", "fashion_mnist")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")

# Bounds that keep every value usable by numpy, scikit-optimize and Keras, and every study
# small enough to hold in memory.
MAX_SEED = 2**32 - 1  # numpy's and scikit-optimize's seeds are 32-bit
MAX_TRIALS = 100_000
MAX_GRID_LEVELS = 100
MAX_GRID_POINTS = 1_000_000
MAX_EXAMPLES = 100_000_000
MAX_SPEC_BYTES = 1_000_000
# Trials run at once on Dask (see engine/parallel.py); 1 runs them in this process, as always.
MAX_PARALLEL = 64
# How a Dask study handles lost workers (see engine/parallel.py): a trial whose worker sends
# nothing for heartbeat_seconds is given up and retried elsewhere; one whose worker is lost
# more than max_retries times fails. Both may be set in the spec's "dask" object.
DEFAULT_HEARTBEAT_SECONDS = 60.0
DEFAULT_MAX_RETRIES = 3
MAX_HEARTBEAT_SECONDS = 86_400.0
MAX_RETRIES = 100

# Bayesian defaults chosen by benchmarks/search_strategies.py (see README): a GP with EI,
# whose acquisition is optimised by sampling plus a short L-BFGS polish.
DEFAULT_BAYESIAN = {"surrogate": "GP", "acquisition": "EI", "initial_points": 10}


class SpecPart(Mapping[str, Any]):
    """A typed, frozen part of a study spec whose :meth:`to_json` is the stored JSON.

    Attribute access (``spec.objective.metric``) is the contract. The read-only Mapping
    access (``part["metric"]``, ``part.get("x")``, ``"x" in part``, ``dict(part)``) reads
    the same values the part's JSON object holds, and compares equal to that object: it is
    transitional, kept while call sites that read the parts as dicts move to attributes.
    """

    __slots__ = ()

    def to_json(self) -> dict[str, Any]:
        """The part as the spec file and the store hold it (a new dict each call)."""
        raise NotImplementedError

    @cached_property
    def _json(self) -> dict[str, Any]:
        # Built once: pruners and views read parts by key in loops. Never handed out.
        return self.to_json()

    def __getitem__(self, key: str) -> Any:
        return self._json[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._json)

    def __len__(self) -> int:
        return len(self._json)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self._json == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal to a dict, so unhashable like one


@dataclass(frozen=True, eq=False)
class StrategySpec(SpecPart):
    """How trials are proposed: ``type`` grid (with ``levels``), random, or bayesian (with
    ``surrogate``, ``acquisition`` and ``initial_points``); ``seed`` seeds it and every trial."""

    type: str
    seed: int = 0
    levels: int | None = None  # grid only
    surrogate: str | None = None  # bayesian only, as are the two below
    acquisition: str | None = None
    initial_points: int | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type, "seed": self.seed}
        if self.type == "grid":
            data["levels"] = self.levels
        if self.type == "bayesian":
            data["surrogate"] = self.surrogate
            data["acquisition"] = self.acquisition
            data["initial_points"] = self.initial_points
        return data


@dataclass(frozen=True, eq=False)
class BudgetSpec(SpecPart):
    """When a study stops: after ``trials`` finished trials, ``seconds`` of trial time, or
    ``epochs`` trained over all trials (the last two optional)."""

    trials: int = 20
    seconds: float | None = None
    epochs: int | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"trials": self.trials, "seconds": self.seconds}
        if self.epochs is not None:  # left out when unset, as specs before it was added
            data["epochs"] = self.epochs
        return data


@dataclass(frozen=True, eq=False)
class PrunerSpec(SpecPart):
    """The early-stopping rule: its ``type`` and its validated ``options`` (``max_epochs``,
    ``tell`` and the rule's own), in stored order. Their rules live in engine/pruners.py,
    not here; ``options`` is a copy that nothing may change."""

    type: str = "none"
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return self.type != "none"

    @property
    def max_epochs(self) -> int | None:
        """The most epochs a trial trains under the rule; None for no pruner."""
        value = self.options.get("max_epochs")
        return None if value is None else int(value)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, **self.options}


@dataclass(frozen=True, eq=False)
class DaskSpec(SpecPart):
    """How a Dask study handles lost workers; each field None when the spec left it out
    (then :data:`DEFAULT_HEARTBEAT_SECONDS` and :data:`DEFAULT_MAX_RETRIES` apply)."""

    heartbeat_seconds: float | None = None
    max_retries: int | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}  # only what the spec gave
        if self.heartbeat_seconds is not None:
            data["heartbeat_seconds"] = self.heartbeat_seconds
        if self.max_retries is not None:
            data["max_retries"] = self.max_retries
        return data


@dataclass(frozen=True, eq=False)
class FunctionObjectiveSpec(SpecPart):
    """A closed-form test function (engine/objectives.py), minimised; above 1 ``epochs`` it
    reports a converging curve, so pruners can be tried in milliseconds."""

    name: str
    trial_seconds: float = 0
    epochs: int = 1
    type: ClassVar[str] = "function"
    metric: ClassVar[str] = "value"
    direction: ClassVar[Direction] = Direction.MINIMIZE

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "name": self.name,
            "metric": self.metric,
            "direction": self.direction.value,
            "trial_seconds": self.trial_seconds,
            "epochs": self.epochs,
        }


@dataclass(frozen=True)
class TableSpec:
    """A built-in Keras objective's table fields (see training/tables.py): the column to
    predict, the task when known, imputation, a held-out test share, and the preparation
    that ``run`` fits and stores so a resume, a Dask worker and the export repeat it."""

    impute: bool = False
    test_split: float = 0.0
    target: str | None = None
    task: str | None = None
    preparation: dict[str, Any] | None = None  # JSON as fitted; never changed in place

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.target is not None:
            data["target"] = self.target
        if self.task is not None:
            data["task"] = self.task
        data["impute"] = self.impute
        data["test_split"] = self.test_split
        if self.preparation is not None:
            data["preparation"] = self.preparation
        return data


@dataclass(frozen=True, eq=False)
class KerasObjectiveSpec(SpecPart):
    """A built-in Keras model (``mlp`` or ``cnn``) trained on ``dataset``.

    ``table`` holds the table fields the spec gives (a CSV always has them); it is None for
    images, and for a 2-D ``.npz`` until ``run`` prepares it, so whether the data is a table
    is ``training.tables.objective_is_table``'s to say (it reads the file's header)."""

    dataset: str
    model: str
    epochs: int
    metric: str
    direction: Direction
    validation_split: float
    split: str = "stratified"
    train_limit: int | None = None
    table: TableSpec | None = None  # None for images
    type: ClassVar[str] = "keras"

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "dataset": self.dataset,
            "model": self.model,
            "epochs": self.epochs,
            "metric": self.metric,
            "direction": self.direction.value,
            "validation_split": self.validation_split,
            "split": self.split,
            "train_limit": self.train_limit,
            # Only a table's fields: an image study's stored spec (and identity) stays as it was.
            **(self.table.to_json() if self.table is not None else {}),
        }


@dataclass(frozen=True, eq=False)
class UserFunctionSpec(SpecPart):
    """A user's ``objective(trial) -> number``, imported from ``target`` (module:function);
    it reports ``metric`` for up to ``epochs`` steps and reads its own data."""

    target: str
    metric: str = "value"
    direction: Direction = Direction.MINIMIZE
    epochs: int = 1
    type: ClassVar[str] = "python"
    form: ClassVar[str] = "function"

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "target": self.target,
            "form": self.form,
            "metric": self.metric,
            "direction": self.direction.value,
            "epochs": self.epochs,
        }


@dataclass(frozen=True, eq=False)
class UserModelSpec(SpecPart):
    """A user's Keras ``build_model(hp)``, imported from ``target`` (module:function), fitted
    on the arrays the Python API passes, or on ``dataset`` (read as a built-in Keras
    objective reads images) when the spec names one.

    Stored as ``{"type": "python", "form": "build_model", "target": ...}``; a spec may also
    spell it ``{"type": "keras", "build_model": ...}``, which parses to the same object."""

    target: str
    metric: str = "val_accuracy"
    direction: Direction = Direction.MAXIMIZE
    epochs: int = 10
    batch_size: int = 32
    validation_split: float | None = None
    dataset: str | None = None  # None: the Python API passes the arrays
    split: str | None = None  # with a dataset only, as is train_limit
    train_limit: int | None = None
    type: ClassVar[str] = "python"
    form: ClassVar[str] = "build_model"

    @property
    def build_model(self) -> str:
        """The ``module:function`` of the user's ``build_model(hp)``."""
        return self.target

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": self.type,
            "target": self.target,
            "form": self.form,
            "metric": self.metric,
            "direction": self.direction.value,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "validation_split": self.validation_split,
        }
        if self.dataset is not None:
            data["dataset"] = self.dataset
            data["split"] = self.split
            data["train_limit"] = self.train_limit
        return data


ObjectiveSpec = FunctionObjectiveSpec | KerasObjectiveSpec | UserFunctionSpec | UserModelSpec


@dataclass(frozen=True)
class StudySpec:
    """A validated study spec: typed, frozen parts whose ``to_json`` is the stored form.

    Parts given as plain JSON objects (``dataclasses.replace(spec, budget={...})``) are
    validated as a spec file's would be and become their typed parts.
    """

    name: str
    objective: ObjectiveSpec
    space: SearchSpace
    strategy: StrategySpec
    budget: BudgetSpec = field(default_factory=BudgetSpec)
    pruner: PrunerSpec = field(default_factory=PrunerSpec)
    parallel: int = 1
    dask: DaskSpec = field(default_factory=DaskSpec)

    def __post_init__(self) -> None:
        def typed(name: str, part: Any, parse: Callable[[Any], SpecPart]) -> None:
            if not isinstance(part, SpecPart):
                object.__setattr__(self, name, parse(part))

        typed("objective", self.objective, lambda raw: _parse_objective(raw, self.space))
        typed("strategy", self.strategy, _parse_strategy)
        typed("budget", self.budget, _parse_budget)
        typed("pruner", self.pruner, lambda raw: _parse_pruner(raw, self.objective, self.space))
        typed("dask", self.dask, _parse_dask)

    @property
    def heartbeat_seconds(self) -> float:
        heartbeat = self.dask.heartbeat_seconds
        return float(DEFAULT_HEARTBEAT_SECONDS if heartbeat is None else heartbeat)

    @property
    def max_retries(self) -> int:
        retries = self.dask.max_retries
        return int(DEFAULT_MAX_RETRIES if retries is None else retries)

    @property
    def direction(self) -> Direction:
        return Direction(self.objective.direction)

    @property
    def metric(self) -> str:
        return self.objective.metric

    @property
    def seed(self) -> int:
        return int(self.strategy.seed)

    def to_json(self) -> dict[str, Any]:
        data = {
            "name": self.name,
            "objective": self.objective.to_json(),
            "space": self.space.to_json(),
            "strategy": self.strategy.to_json(),
            "budget": self.budget.to_json(),
            "pruner": self.pruner.to_json(),
        }
        # Left out at its default, so specs and stores written before it existed read the same.
        if self.parallel != 1:
            data["parallel"] = self.parallel
        dask = self.dask.to_json()
        if dask:
            data["dask"] = dask
        return data

    def search_identity(self) -> str:
        """What must match for a re-run to resume this study: everything but the budget and
        how many trials run at once."""
        data = self.to_json()
        del data["budget"]
        data.pop("parallel", None)
        data.pop("dask", None)
        return json.dumps(data, sort_keys=True)


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise SpecError(message)


def _int_field(
    raw: dict[str, Any], key: str, field: str, default: Any, minimum: int, maximum: int
) -> Any:
    value = raw.get(key, default)
    if value is None:
        return None
    _expect(
        isinstance(value, int) and not isinstance(value, bool) and minimum <= value <= maximum,
        f"{field}.{key} must be a whole number from {minimum} to {maximum:,}, not {brief(value)}.",
    )
    return value


def _count_field(
    raw: dict[str, Any], key: str, field: str, default: int, minimum: int, maximum: int
) -> int:
    """A whole number that always has a value: missing or null takes the default."""
    value = raw.get(key)
    return _int_field(
        {key: default if value is None else value}, key, field, default, minimum, maximum
    )


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _parse_objective(raw: Any, space: SearchSpace) -> ObjectiveSpec:
    _expect(
        isinstance(raw, dict),
        "objective must be an object with a type of keras, function or python.",
    )
    kind = raw.get("type")
    if kind == "function":
        name = raw.get("name")
        _expect(
            name in TEST_FUNCTIONS,
            f"objective.name must be one of {', '.join(TEST_FUNCTIONS)}, not {brief(name)}.",
        )
        test_function = TEST_FUNCTIONS[name]
        names = space.all_names()
        inputs = input_names({n: 0 for n in names})
        extra = [n for n in names if n not in inputs]
        _expect(
            not extra,
            f"space.{extra[0] if extra else ''} is not an input of {name}; name its inputs x1, "
            "x2, ….",
        )
        expected = test_function.dimensions or max(len(inputs), test_function.min_dimensions)
        wanted = [f"x{i}" for i in range(1, expected + 1)]
        _expect(inputs == wanted, f"space must define exactly {', '.join(wanted)} for {name}.")
        for dimension in space.dimensions:
            _expect(
                isinstance(dimension, NumericDimension),
                f"space.{dimension.name} must be a float or int range for {name}, not a choice.",
            )
        direction = raw.get("direction", Direction.MINIMIZE.value)
        _expect(
            direction == Direction.MINIMIZE,
            f"objective.direction must be minimize for {name}, not {brief(direction)}.",
        )
        trial_seconds = raw.get("trial_seconds", 0)
        _expect(
            _is_finite_number(trial_seconds) and 0 <= trial_seconds <= 60,
            "objective.trial_seconds must be a number of seconds from 0 to 60, not "
            f"{brief(trial_seconds)}.",
        )
        epochs = _count_field(raw, "epochs", "objective", 1, 1, MAX_FUNCTION_EPOCHS)
        return FunctionObjectiveSpec(name, trial_seconds, epochs)
    if kind == "keras":
        if "build_model" in raw:
            return _parse_keras_build_model(raw)
        return _parse_keras_objective(raw, space)
    if kind == "python":
        return _parse_python_objective(raw)
    raise SpecError(f"objective.type must be keras, function or python, not {brief(kind)}.")


# A user metric name: what trial.report writes and pruners compare trials by.
METRIC_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$")
PYTHON_FORMS = ("function", "build_model")


def _parse_python_objective(raw: dict[str, Any]) -> UserFunctionSpec | UserModelSpec:
    """A user's objective: ``function`` (``objective(trial) -> number``, the default) or
    ``build_model`` (a Keras ``build_model(hp)``, fitted on the arrays the Python API passes,
    or on ``dataset``, read as a Keras objective reads it, in a spec file). The space's names
    are free: the registry is for the built-in models."""
    known = {"type", "target", "form", "metric", "direction", "epochs", "batch_size"}
    known |= {"validation_split", "dataset", "split", "train_limit"}
    unknown = sorted(set(raw) - known)
    _expect(
        not unknown,
        f"objective.{unknown[0] if unknown else ''} is not a key of a python objective; use "
        f"{', '.join(sorted(known))}.",
    )
    target = raw.get("target")
    _expect(
        isinstance(target, str) and bool(TARGET_PATTERN.fullmatch(target)),
        f"objective.target must name a function as module:function (e.g. train:objective), "
        f"not {brief(target)}.",
    )
    form = raw.get("form", "function")
    _expect(
        form in PYTHON_FORMS,
        f"objective.form must be one of {', '.join(PYTHON_FORMS)}, not {brief(form)}.",
    )
    keras_model = form == "build_model"
    metric = raw.get("metric", "val_accuracy" if keras_model else "value")
    _expect(
        isinstance(metric, str) and bool(METRIC_PATTERN.fullmatch(metric)),
        "objective.metric must be a metric name of 1 to 64 letters, digits, _, . or -, not "
        f"{brief(metric)}.",
    )
    direction = raw.get("direction", Direction.natural_for(metric).value)
    _expect(
        direction in {member.value for member in Direction},
        f"objective.direction must be maximize or minimize, not {brief(direction)}.",
    )
    # The most epochs a trial reports: pruners need at least 2.
    epochs = _count_field(
        raw, "epochs", "objective", 10 if keras_model else 1, 1, MAX_FUNCTION_EPOCHS
    )
    if not keras_model:
        extra = sorted(
            set(raw) & {"batch_size", "validation_split", "dataset", "split", "train_limit"}
        )
        _expect(
            not extra,
            f"objective.{extra[0] if extra else ''} is for a build_model objective; a function "
            "objective reads its own data.",
        )
        return UserFunctionSpec(target, metric, Direction(direction), epochs)
    batch_size = _count_field(raw, "batch_size", "objective", 32, 1, MAX_EXAMPLES)
    split = raw.get("validation_split")
    _expect(
        split is None or (_is_finite_number(split) and 0 < split < 1),
        f"objective.validation_split must be a number between 0 and 1, not {brief(split)}.",
    )
    validation_split = None if split is None else float(split)
    model = UserModelSpec(
        target, metric, Direction(direction), epochs, batch_size, validation_split
    )
    return _with_user_model_dataset(raw, model) if "dataset" in raw else model


def _with_user_model_dataset(raw: dict[str, Any], model: UserModelSpec) -> UserModelSpec:
    """A spec file's data for a user's build_model: the dataset fields of a Keras objective
    (its images, shape (n, height, width), scaled to 0..1, and its validation split)."""
    dataset = raw["dataset"]
    _expect(
        isinstance(dataset, str) and dataset != "",
        "objective.dataset must be digits, mnist, fashion_mnist or a folder path.",
    )
    split = raw.get("split", "stratified")
    _expect(
        split in ("stratified", "ordered"),
        f"objective.split must be stratified or ordered, not {brief(split)}.",
    )
    return replace(
        model,
        dataset=dataset,
        validation_split=model.validation_split or 0.2,
        split=split,
        train_limit=_int_field(raw, "train_limit", "objective", None, 10, MAX_EXAMPLES),
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
    "direction",
    "validation_split",
    "split",
    "train_limit",
)


def _parse_keras_build_model(raw: dict[str, Any]) -> UserModelSpec:
    """``{"type": "keras", "build_model": "module:function", ...}``: the same objective as
    ``{"type": "python", "form": "build_model", "target": ...}``, with the Keras objective's
    dataset fields (``dataset`` defaults to digits, as a Keras objective's does)."""
    _expect(
        "model" not in raw,
        "objective.model names a built-in model; with build_model your function builds the "
        "model, so leave model out.",
    )
    table_keys = sorted(set(raw) & set(TABLE_KEYS))
    _expect(
        not table_keys,
        f"objective.{table_keys[0] if table_keys else ''} is a table field; a build_model "
        "objective trains on images (digits, mnist, fashion_mnist or a folder).",
    )
    unknown = sorted(set(raw) - set(KERAS_BUILD_MODEL_KEYS))
    _expect(
        not unknown,
        f"objective.{unknown[0] if unknown else ''} is not a key of a keras build_model "
        f"objective; use {', '.join(sorted(KERAS_BUILD_MODEL_KEYS))}.",
    )
    build_model = raw["build_model"]
    _expect(
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
        "direction",
        "validation_split",
        "split",
        "train_limit",
        *TABLE_KEYS,
    }
    unknown = sorted(set(raw) - known)
    _expect(
        not unknown,
        f"objective.{unknown[0] if unknown else ''} is not a known key; "
        f"use {', '.join(sorted(known))}.",
    )
    dataset = raw.get("dataset", "digits")
    _expect(
        isinstance(dataset, str) and dataset != "",
        "objective.dataset must be digits, mnist, fashion_mnist, or the path of a folder, an "
        ".npz or a .csv file.",
    )
    model = raw.get("model", "mlp")
    _expect(model in hyperparams.MODELS, f"objective.model must be mlp or cnn, not {brief(model)}.")
    epochs_entry = hyperparams.REGISTRY["epochs"]
    epochs = _count_field(
        raw, "epochs", "objective", int(epochs_entry.default), 1, int(epochs_entry.highest)
    )
    table = _parse_table_fields(raw, dataset, model)
    metric = raw.get("metric", _default_keras_metric(table))
    _expect(
        metric in ALL_METRICS,
        f"objective.metric must be one of {', '.join(ALL_METRICS)}, not {brief(metric)}.",
    )
    task = table.task if table else CLASSIFICATION
    if task is not None:
        classes = len(table.preparation["classes"]) if table and table.preparation else None
        problem = metric_task_problem(metric, task, classes)
        _expect(problem is None, problem or "")
    direction = raw.get("direction", Direction.natural_for(metric).value)
    _expect(
        direction in {member.value for member in Direction},
        f"objective.direction must be maximize or minimize, not {brief(direction)}.",
    )
    validation_split = raw.get("validation_split", 0.2)
    _expect(
        isinstance(validation_split, (int, float))
        and not isinstance(validation_split, bool)
        and 0 < validation_split < 1,
        "objective.validation_split must be a number between 0 and 1, not "
        f"{brief(validation_split)}.",
    )
    split = raw.get("split", "stratified")
    _expect(
        split in ("stratified", "ordered"),
        f"objective.split must be stratified or ordered, not {brief(split)}.",
    )
    train_limit = _int_field(raw, "train_limit", "objective", None, 10, MAX_EXAMPLES)
    _expect(
        not (table and train_limit is not None),
        "objective.train_limit subsets images; leave it out for a table.",
    )
    allowed = hyperparams.names_for(model)
    for name in space.all_names():
        _expect(
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
    )


# A Keras objective's fields for tables (see training/tables.py): the column to predict, the
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
    _expect(
        model == "mlp",
        f"objective.model {model} needs images; a table trains the mlp model on its features.",
    )
    target = raw.get("target")
    _expect(
        target is None or (isinstance(target, str) and 0 < len(target) <= MAX_TARGET_CHARS),
        f"objective.target must be the name of the column to predict, not {brief(target)}.",
    )
    preparation = raw.get("preparation")
    _expect(
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
        _expect(problem is None, problem or "")
    impute = raw.get("impute", False)
    _expect(
        isinstance(impute, bool), f"objective.impute must be true or false, not {brief(impute)}."
    )
    test_split = raw.get("test_split")
    _expect(
        test_split is None or (_is_finite_number(test_split) and 0 <= test_split <= 0.5),
        f"objective.test_split must be a share from 0 to 0.5 held out for the end, not "
        f"{brief(test_split)}.",
    )
    if preparation is not None:
        _expect(
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
            _expect(
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
            _expect(ok, f"space.{entry.name} must be {kind} {bound}, not {brief(value)}.")


def _check_choice(space: SearchSpace, entry: hyperparams.HyperParameter) -> None:
    dimension = space.dimension(entry.name)
    allowed = ", ".join(entry.choices)
    if isinstance(dimension, NumericDimension):
        raise SpecError(f"space.{entry.name} must be a choice of {allowed}.")
    values = list(dimension.values) if dimension is not None else []
    if entry.name in space.fixed:
        values = [space.fixed[entry.name]]
    for value in values:
        _expect(
            value in entry.choices,
            f"space.{entry.name} must be one of {allowed}, not {brief(value)}.",
        )


def _parse_strategy(raw: Any) -> StrategySpec:
    _expect(
        isinstance(raw, dict), "strategy must be an object with a type of grid, random or bayesian."
    )
    kind = raw.get("type")
    _expect(
        kind in STRATEGIES,
        f"strategy.type must be one of {', '.join(STRATEGIES)}, not {brief(kind)}.",
    )
    # Null takes the default, as a missing key does: a strategy always has a seed.
    seed = _count_field(raw, "seed", "strategy", 0, 0, MAX_SEED)
    if kind == "grid":
        levels = _count_field(raw, "levels", "strategy", 3, 1, MAX_GRID_LEVELS)
        return StrategySpec(kind, seed, levels=levels)
    if kind == "bayesian":
        surrogate = raw.get("surrogate", DEFAULT_BAYESIAN["surrogate"])
        _expect(
            surrogate in SURROGATES,
            f"strategy.surrogate must be one of {', '.join(SURROGATES)}, not {brief(surrogate)}.",
        )
        acquisition = raw.get("acquisition", DEFAULT_BAYESIAN["acquisition"])
        _expect(
            acquisition in ACQUISITIONS,
            f"strategy.acquisition must be one of {', '.join(ACQUISITIONS)}, not "
            f"{brief(acquisition)}.",
        )
        initial_points = _count_field(
            raw, "initial_points", "strategy", DEFAULT_BAYESIAN["initial_points"], 1, MAX_TRIALS
        )
        return StrategySpec(
            kind, seed, surrogate=surrogate, acquisition=acquisition, initial_points=initial_points
        )
    return StrategySpec(kind, seed)


def _parse_budget(raw: Any) -> BudgetSpec:
    raw = {} if raw is None else raw
    _expect(
        isinstance(raw, dict),
        "budget must be an object with trials and optionally seconds and epochs.",
    )
    unknown = sorted(set(raw) - {"trials", "seconds", "epochs"})
    _expect(
        not unknown,
        f"budget.{unknown[0] if unknown else ''} is not a known key; use trials, seconds and "
        "epochs.",
    )
    trials = _count_field(raw, "trials", "budget", 20, 1, MAX_TRIALS)
    seconds = raw.get("seconds")
    _expect(
        seconds is None or (_is_finite_number(seconds) and seconds > 0),
        f"budget.seconds must be a positive number of seconds or null, not {brief(seconds)}.",
    )
    # Epochs summed over all trials: the budget that compares pruned and full searches fairly.
    epochs = _int_field(raw, "epochs", "budget", None, 1, MAX_TRIALS * MAX_FUNCTION_EPOCHS)
    return BudgetSpec(trials, seconds, epochs)


def _parse_pruner(raw: Any, objective: ObjectiveSpec, space: SearchSpace) -> PrunerSpec:
    """The early-stopping rule; its class in tuning_core.engine.pruners checks its options."""
    # The most epochs a trial can train: a tuned range's top or a choice's largest value, a
    # fixed value, else the objective's epochs (1 for a function without a fidelity).
    epochs_dimension = space.dimension("epochs")
    source = "space.epochs"
    if isinstance(epochs_dimension, NumericDimension):
        most = int(epochs_dimension.high)
    elif isinstance(epochs_dimension, ChoiceDimension):
        most = max(int(value) for value in epochs_dimension.values)
    elif "epochs" in space.fixed:
        most = int(space.fixed["epochs"])
    else:
        most, source = int(objective.epochs), "objective.epochs"
    kind, options = parse_pruner(raw, most, source, MAX_TRIALS)
    return PrunerSpec(kind, options)


def parse_spec(raw: Any) -> StudySpec:
    """Validate a spec document (already parsed from JSON) and fill in its defaults."""
    _expect(
        isinstance(raw, dict),
        "The spec must be a JSON object with name, objective, space, strategy and budget.",
    )
    fields = {"name", "objective", "space", "strategy", "budget", "pruner", "parallel", "dask"}
    unknown = sorted(set(raw) - fields)
    _expect(
        not unknown,
        f"{unknown[0] if unknown else ''} is not a spec field; use name, objective, space, "
        "strategy, budget, pruner, parallel and dask.",
    )
    name = raw.get("name")
    _expect(
        isinstance(name, str) and bool(NAME_PATTERN.fullmatch(name)),
        f"name must be 1 to 64 letters, digits, dots, dashes or underscores, not {brief(name)}.",
    )
    space = parse_space(raw.get("space"))
    objective = _parse_objective(raw.get("objective"), space)
    strategy = _parse_strategy(raw.get("strategy"))
    budget = _parse_budget(raw.get("budget"))
    pruner = _parse_pruner(raw.get("pruner"), objective, space)
    parallel = raw.get("parallel", 1)
    _expect(
        isinstance(parallel, int)
        and not isinstance(parallel, bool)
        and 1 <= parallel <= MAX_PARALLEL,
        f"parallel must be a whole number of trials to run at once, from 1 to {MAX_PARALLEL}, not "
        f"{brief(parallel)}.",
    )
    if strategy.type == "grid":
        points = space.grid_size(int(strategy.levels or 0))
        _expect(
            points <= MAX_GRID_POINTS,
            f"strategy.levels: this space's grid has {points:,} points, over the "
            f"{MAX_GRID_POINTS:,} a study may hold; lower the levels or tune fewer "
            "hyperparameters.",
        )
    dask = _parse_dask(raw.get("dask"))
    return StudySpec(name, objective, space, strategy, budget, pruner, parallel, dask)


def _parse_dask(raw: Any) -> DaskSpec:
    """The spec's "dask" object: heartbeat_seconds and max_retries, each optional."""
    if raw is None:
        return DaskSpec()
    _expect(
        isinstance(raw, dict),
        'dask must be an object such as {"heartbeat_seconds": 60, "max_retries": 3}, not '
        f"{brief(raw)}.",
    )
    unknown = sorted(set(raw) - {"heartbeat_seconds", "max_retries"})
    _expect(
        not unknown,
        f"dask.{unknown[0] if unknown else ''} is not a dask field; use heartbeat_seconds and "
        "max_retries.",
    )
    heartbeat = raw.get("heartbeat_seconds")
    _expect(
        heartbeat is None
        or (_is_finite_number(heartbeat) and 1 <= heartbeat <= MAX_HEARTBEAT_SECONDS),
        "dask.heartbeat_seconds must be a number of seconds from 1 to "
        f"{MAX_HEARTBEAT_SECONDS:,.0f}, not {brief(heartbeat)}.",
    )
    max_retries = _int_field(raw, "max_retries", "dask", None, 0, MAX_RETRIES)
    return DaskSpec(heartbeat, max_retries)


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number a spec may hold")


def json_from_text(text: str, source: str, kind: str = "study spec") -> Any:
    """A spec's JSON text as Python values; ``source`` names it in error sentences.

    NaN and Infinity (which Python's json accepts) are refused, and so is nesting too deep
    to be a ``kind``, each in one sentence.
    """
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise SpecError(f"{source} is not valid JSON (line {error.lineno}: {error.msg}).") from None
    except ValueError as error:
        raise SpecError(f"{source} holds {error}; use a finite number or null.") from None
    except RecursionError:
        raise SpecError(f"{source} nests objects too deeply to be a {kind}.") from None


def json_from_file(path: str | Path, kind: str = "study spec") -> Any:
    """A spec file's JSON as Python values; a file that cannot hold one gets one sentence."""
    path = Path(path)
    source = f"The {kind.removeprefix('study ')} file {brief(str(path))}"
    if path.is_dir():
        raise SpecError(f"{source} is a directory; give the path of a .json file.")
    if not path.is_file():
        raise SpecError(f"{source} does not exist.")
    if path.stat().st_size > MAX_SPEC_BYTES:
        raise SpecError(f"{source} is over {MAX_SPEC_BYTES // 1000:,} kB, too large for a spec.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SpecError(f"{source} is not UTF-8 text.") from None
    return json_from_text(text, source, kind)


def parse_spec_text(text: str, source: str) -> StudySpec:
    """Parse and validate a spec's JSON text; ``source`` names it in error sentences."""
    return parse_spec(json_from_text(text, source))


def load_spec(path: str | Path) -> StudySpec:
    """Read and validate a spec file."""
    return parse_spec(json_from_file(path))
