"""The typed, frozen parts of a study spec: strategy, budget, pruner, Dask settings and the
four objective kinds (with a Keras objective's table fields).

Each part's ``to_json`` is the JSON the spec file and the store hold; engine/spec.py (and, for
objectives, engine/objective_spec.py) validate that JSON into these classes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

from tuning_core.engine.states import Direction


@dataclass(frozen=True)
class MetricGoal:
    """One metric a study optimises: its ``name`` (as the objective reports it) and whether it
    is maximised or minimised."""

    name: str
    direction: Direction

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "direction": self.direction.value}


class _Metrics:
    """The metrics of an objective part: ``metric``/``direction`` are the first (the primary
    one: the trial's ``value``, the best model's, the pruner's), ``more_metrics`` the rest."""

    __slots__ = ()
    metric: str
    direction: Direction
    more_metrics: tuple[MetricGoal, ...]

    @property
    def metrics(self) -> tuple[MetricGoal, ...]:
        """Every metric the study optimises, the primary one first, in the spec's order."""
        return (MetricGoal(self.metric, Direction(self.direction)), *self.more_metrics)

    def _with_metrics(self, data: dict[str, Any]) -> dict[str, Any]:
        """``data`` (holding ``metric`` and ``direction``) as stored: unchanged for one metric,
        so single-metric specs keep their JSON; for several, a ``metrics`` list in their place."""
        if not self.more_metrics:
            return data
        stored: dict[str, Any] = {}
        for key, value in data.items():
            if key == "metric":
                stored["metrics"] = [goal.to_json() for goal in self.metrics]
            elif key != "direction":
                stored[key] = value
        return stored


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
    (then engine/spec.py's ``DEFAULT_HEARTBEAT_SECONDS`` and ``DEFAULT_MAX_RETRIES`` apply)."""

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
class FunctionObjectiveSpec(_Metrics, SpecPart):
    """A closed-form test function (engine/objectives.py), minimised; above 1 ``epochs`` it
    reports a converging curve, so pruners can be tried in milliseconds. ``metric`` is
    ``value``, or for a function of several metrics (zdt1, zdt2) the first it optimises."""

    name: str
    trial_seconds: float = 0
    epochs: int = 1
    metric: str = "value"
    more_metrics: tuple[MetricGoal, ...] = ()
    type: ClassVar[str] = "function"
    direction: ClassVar[Direction] = Direction.MINIMIZE

    def to_json(self) -> dict[str, Any]:
        return self._with_metrics(
            {
                "type": self.type,
                "name": self.name,
                "metric": self.metric,
                "direction": self.direction.value,
                "trial_seconds": self.trial_seconds,
                "epochs": self.epochs,
            }
        )


@dataclass(frozen=True)
class TableSpec:
    """A built-in Keras objective's table fields (see training/tables/): the column to
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
class KerasObjectiveSpec(_Metrics, SpecPart):
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
    more_metrics: tuple[MetricGoal, ...] = ()
    type: ClassVar[str] = "keras"

    def to_json(self) -> dict[str, Any]:
        return self._with_metrics(
            {
                "type": self.type,
                "dataset": self.dataset,
                "model": self.model,
                "epochs": self.epochs,
                "metric": self.metric,
                "direction": self.direction.value,
                "validation_split": self.validation_split,
                "split": self.split,
                "train_limit": self.train_limit,
                # Only a table's fields: an image study's stored spec (and identity) stays.
                **(self.table.to_json() if self.table is not None else {}),
            }
        )


@dataclass(frozen=True, eq=False)
class UserFunctionSpec(_Metrics, SpecPart):
    """A user's ``objective(trial) -> number``, imported from ``target`` (module:function);
    it reports ``metric`` for up to ``epochs`` steps and reads its own data."""

    target: str
    metric: str = "value"
    direction: Direction = Direction.MINIMIZE
    epochs: int = 1
    more_metrics: tuple[MetricGoal, ...] = ()
    type: ClassVar[str] = "python"
    form: ClassVar[str] = "function"

    def to_json(self) -> dict[str, Any]:
        return self._with_metrics(
            {
                "type": self.type,
                "target": self.target,
                "form": self.form,
                "metric": self.metric,
                "direction": self.direction.value,
                "epochs": self.epochs,
            }
        )


@dataclass(frozen=True, eq=False)
class UserModelSpec(_Metrics, SpecPart):
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
    more_metrics: tuple[MetricGoal, ...] = ()
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
        return self._with_metrics(data)


ObjectiveSpec = FunctionObjectiveSpec | KerasObjectiveSpec | UserFunctionSpec | UserModelSpec
