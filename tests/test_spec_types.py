"""The typed spec: each part parses to a frozen object whose ``to_json`` is the stored JSON,
stored documents read back unchanged (so a study resumes), the issue's Keras spelling of a
user's build_model, and the transitional Mapping access."""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import branin_spec, write_spec
from tuning_core import cli
from tuning_core.engine.errors import SpecError
from tuning_core.engine.spec import StudySpec, parse_spec
from tuning_core.engine.spec_parts import (
    BudgetSpec,
    DaskSpec,
    FunctionObjectiveSpec,
    KerasObjectiveSpec,
    PrunerSpec,
    SpecPart,
    StrategySpec,
    TableSpec,
    UserFunctionSpec,
    UserModelSpec,
)
from tuning_core.engine.states import Direction

PREPARATION = {
    "summary": "2 numeric columns standardised",
    "columns": [{"name": "a"}, {"name": "b"}],
    "split": {"train": 8, "validation": 2},
    "classes": [0, 1],
    "task": "classification",
    "rows": {"train": 8, "validation": 2, "test": 0},
    "features": 2,
}
# Spaces as stored (engine/space.py writes every range out in full).
USER_SPACE = {"units": {"type": "int", "low": 8, "high": 64, "log": False}}
BRANIN_SPACE = {
    "x1": {"type": "float", "low": -5.0, "high": 10.0, "log": False},
    "x2": {"type": "float", "low": 0.0, "high": 15.0, "log": False},
}

# Documents as the store holds them: complete, with every default written out. Each must read
# back to the same document and the same search identity, or a stored study stops resuming.
STORED = {
    "function": {
        "name": "f",
        "objective": {
            "type": "function",
            "name": "branin",
            "metric": "value",
            "direction": "minimize",
            "trial_seconds": 0.5,
            "epochs": 9,
        },
        "space": BRANIN_SPACE,
        "strategy": {
            "type": "bayesian",
            "seed": 3,
            "surrogate": "GP",
            "acquisition": "EI",
            "initial_points": 10,
        },
        "budget": {"trials": 5, "seconds": 10, "epochs": 40},
        "pruner": {
            "type": "hyperband",
            "max_epochs": 9,
            "reduction_factor": 3,
            "min_epochs": 1,
            "tell": "last",
        },
        "parallel": 3,
        "dask": {"heartbeat_seconds": 5, "max_retries": 1},
    },
    "images": {
        "name": "k",
        "objective": {
            "type": "keras",
            "dataset": "digits",
            "model": "mlp",
            "epochs": 10,
            "metric": "val_accuracy",
            "direction": "maximize",
            "validation_split": 0.2,
            "split": "stratified",
            "train_limit": 100,
        },
        "space": {"learning_rate": {"type": "float", "low": 0.001, "high": 1.0, "log": True}},
        "strategy": {"type": "grid", "seed": 0, "levels": 3},
        "budget": {"trials": 3, "seconds": None},
        "pruner": {
            "type": "median",
            "max_epochs": 10,
            "warmup_trials": 5,
            "warmup_epochs": 1,
            "tell": "worst",
        },
    },
    "table": {
        "name": "t",
        "objective": {
            "type": "keras",
            "dataset": "data/t.csv",
            "model": "mlp",
            "epochs": 10,
            "metric": "val_accuracy",
            "direction": "maximize",
            "validation_split": 0.2,
            "split": "stratified",
            "train_limit": None,
            "target": "y",
            "task": "classification",
            "impute": False,
            "test_split": 0.1,
            "preparation": PREPARATION,
        },
        "space": {"units": 64},
        "strategy": {"type": "random", "seed": 0},
        "budget": {"trials": 3, "seconds": None},
        "pruner": {"type": "none"},
    },
    "user function": {
        "name": "p",
        "objective": {
            "type": "python",
            "target": "m:objective",
            "form": "function",
            "metric": "value",
            "direction": "minimize",
            "epochs": 1,
        },
        "space": {"a": {"type": "float", "low": 0.0, "high": 1.0, "log": False}},
        "strategy": {"type": "random", "seed": 0},
        "budget": {"trials": 3, "seconds": None},
        "pruner": {"type": "none"},
    },
    "user build_model, API": {
        "name": "pb",
        "objective": {
            "type": "python",
            "target": "m:build_model",
            "form": "build_model",
            "metric": "val_accuracy",
            "direction": "maximize",
            "epochs": 10,
            "batch_size": 32,
            "validation_split": None,
        },
        "space": USER_SPACE,
        "strategy": {"type": "random", "seed": 0},
        "budget": {"trials": 3, "seconds": None},
        "pruner": {"type": "none"},
    },
    "user build_model, dataset": {
        "name": "pbd",
        "objective": {
            "type": "python",
            "target": "m:build_model",
            "form": "build_model",
            "metric": "val_loss",
            "direction": "minimize",
            "epochs": 3,
            "batch_size": 16,
            "validation_split": 0.2,
            "dataset": "digits",
            "split": "ordered",
            "train_limit": 200,
        },
        "space": USER_SPACE,
        "strategy": {"type": "random", "seed": 0},
        "budget": {"trials": 3, "seconds": None},
        "pruner": {"type": "none"},
    },
}
PART_TYPES = {
    "function": FunctionObjectiveSpec,
    "images": KerasObjectiveSpec,
    "table": KerasObjectiveSpec,
    "user function": UserFunctionSpec,
    "user build_model, API": UserModelSpec,
    "user build_model, dataset": UserModelSpec,
}


def _identity(document: dict[str, Any]) -> str:
    kept = {k: v for k, v in document.items() if k not in ("budget", "parallel", "dask")}
    return json.dumps(kept, sort_keys=True)


@pytest.mark.parametrize("case", STORED)
def test_a_stored_spec_reads_back_to_the_same_document_and_identity(case: str) -> None:
    stored = STORED[case]
    spec = parse_spec(copy.deepcopy(stored))
    assert isinstance(spec.objective, PART_TYPES[case])
    # Key order too: the store keeps json.dumps(spec.to_json()) as text.
    assert json.dumps(spec.to_json()) == json.dumps(stored)
    assert spec.search_identity() == _identity(stored)
    assert parse_spec(spec.to_json()) == spec


def test_parts_have_typed_attributes() -> None:
    spec = parse_spec(STORED["function"])
    assert spec.objective == FunctionObjectiveSpec("branin", 0.5, 9)
    assert (spec.objective.metric, spec.objective.direction) == ("value", Direction.MINIMIZE)
    assert spec.strategy == StrategySpec("bayesian", 3, None, "GP", "EI", 10)
    assert spec.budget == BudgetSpec(5, 10, 40)
    assert (spec.pruner.type, spec.pruner.enabled, spec.pruner.max_epochs) == ("hyperband", True, 9)
    assert spec.pruner.options["reduction_factor"] == 3
    assert spec.dask == DaskSpec(5, 1)
    assert (spec.heartbeat_seconds, spec.max_retries) == (5.0, 1)

    table = parse_spec(STORED["table"]).objective
    assert isinstance(table, KerasObjectiveSpec)
    assert table.table == TableSpec(False, 0.1, "y", "classification", PREPARATION)
    images = parse_spec(STORED["images"]).objective
    assert isinstance(images, KerasObjectiveSpec) and images.table is None
    assert images.direction is Direction.MAXIMIZE and images.train_limit == 100

    plain = parse_spec(branin_spec())
    assert plain.pruner == PrunerSpec() and not plain.pruner.enabled
    assert plain.pruner.max_epochs is None
    assert plain.dask == DaskSpec() and (plain.heartbeat_seconds, plain.max_retries) == (60.0, 3)
    assert "dask" not in plain.to_json() and "parallel" not in plain.to_json()


@pytest.mark.parametrize("case", STORED)
def test_mapping_access_reads_what_the_json_holds(case: str) -> None:
    """Transitional: call sites not yet on attributes read parts as the dicts they were."""
    spec = parse_spec(STORED[case])
    for name in ("objective", "strategy", "budget", "pruner", "dask"):
        part = getattr(spec, name)
        data = part.to_json()
        assert isinstance(part, SpecPart)
        assert dict(part) == data and list(part) == list(data) and len(part) == len(data)
        assert part == data and data == part and {**part} == data
        for key, value in data.items():
            assert part[key] == value and part.get(key) == value and key in part
        assert part.get("no such key") is None and "no such key" not in part
        with pytest.raises(KeyError):
            part["no such key"]
        with pytest.raises(TypeError):
            part["type"] = "other"  # type: ignore[index]
        assert part != {**data, "extra": 1}
    # Values keep their JSON types: the direction reads as the string stored.
    assert spec.objective["direction"] == STORED[case]["objective"]["direction"]
    assert type(spec.objective["direction"]) is str


def test_parts_are_frozen_and_changing_one_leaves_the_spec_alone() -> None:
    spec = parse_spec(STORED["function"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.budget.trials = 99  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.objective.epochs = 2  # type: ignore[misc]
    written = spec.to_json()
    written["pruner"]["max_epochs"] = 2
    written["objective"]["name"] = "hartmann6"
    assert spec.pruner["max_epochs"] == 9 and spec.objective.name == "branin"
    assert spec.to_json() == STORED["function"]


@pytest.mark.parametrize("case", STORED)
def test_a_spec_pickles_and_copies_as_dask_ships_it(case: str) -> None:
    spec = parse_spec(STORED[case])
    spec.objective.get("type")  # fills the parts' cached JSON, which must travel too
    for copied in (pickle.loads(pickle.dumps(spec)), copy.deepcopy(spec)):
        assert copied == spec and copied.to_json() == spec.to_json()
        assert type(copied.objective) is type(spec.objective)
        assert copied.search_identity() == spec.search_identity()


def test_a_part_given_as_json_is_parsed_into_its_typed_part() -> None:
    spec = parse_spec(branin_spec(epochs=6))
    changed = dataclasses.replace(spec, budget={"trials": 1000, "epochs": 94})
    assert changed.budget == BudgetSpec(1000, None, 94)
    pruned = dataclasses.replace(spec, pruner={"type": "successive_halving"})
    assert isinstance(pruned.pruner, PrunerSpec) and pruned.pruner.max_epochs == 6
    with pytest.raises(SpecError, match=r"^budget\.trials must be a whole number"):
        dataclasses.replace(spec, budget={"trials": 0})
    built = StudySpec("s", spec.objective, spec.space, {"type": "grid"})  # type: ignore[arg-type]
    assert built.strategy == StrategySpec("grid", 0, levels=3)


def test_null_takes_the_default_where_a_value_is_always_needed() -> None:
    raw = branin_spec(strategy={"type": "bayesian", "seed": None, "initial_points": None})
    raw["budget"] = {"trials": None}
    spec = parse_spec(raw)
    assert (spec.seed, spec.strategy.initial_points, spec.budget.trials) == (0, 10, 20)
    grid = parse_spec(branin_spec(strategy={"type": "grid", "levels": None}))
    assert grid.strategy.levels == 3


def _keras_build_model(**objective: Any) -> dict[str, Any]:
    return {
        "name": "own",
        "objective": {"type": "keras", "build_model": "model:build_model", **objective},
        "space": USER_SPACE,
        "strategy": {"type": "random"},
        "budget": {"trials": 2},
    }


def test_the_keras_spelling_of_build_model_is_the_python_build_model_objective() -> None:
    fields = {"dataset": "mnist", "epochs": 3, "batch_size": 64, "split": "ordered"}
    keras = parse_spec(_keras_build_model(**fields, train_limit=500))
    python = parse_spec(
        {
            **_keras_build_model(),
            "objective": {
                "type": "python",
                "form": "build_model",
                "target": "model:build_model",
                **fields,
                "train_limit": 500,
            },
        }
    )
    assert keras == python and keras.search_identity() == python.search_identity()
    objective = keras.objective
    assert isinstance(objective, UserModelSpec)
    assert (objective.build_model, objective.dataset, objective.validation_split) == (
        "model:build_model",
        "mnist",
        0.2,
    )
    # Stored in the one canonical form, which existing call sites and stores already read.
    stored = keras.to_json()["objective"]
    assert (stored["type"], stored["form"], stored["target"]) == (
        "python",
        "build_model",
        "model:build_model",
    )
    assert "build_model" not in stored
    assert parse_spec(keras.to_json()) == keras


def test_the_keras_spelling_takes_a_keras_objectives_defaults() -> None:
    objective = parse_spec(_keras_build_model()).objective
    assert objective == UserModelSpec(
        "model:build_model", "val_accuracy", Direction.MAXIMIZE, 10, 32, 0.2, "digits",
        "stratified", None,
    )  # fmt: skip
    loss = parse_spec(_keras_build_model(metric="val_loss")).objective
    assert loss.direction is Direction.MINIMIZE


@pytest.mark.parametrize(
    ("objective", "sentence"),
    [
        ({"model": "mlp"}, r"^objective\.model names a built-in model; with build_model"),
        ({"target": "y"}, r"^objective\.target is a table field; a build_model objective"),
        ({"form": "build_model"}, r"^objective\.form is not a key of a keras build_model"),
        ({"build_model": "build_model"}, r"^objective\.build_model must name a function as "),
        ({"build_model": None}, r"^objective\.build_model must name a function as "),
        ({"dataset": ""}, r"^objective\.dataset must be digits, mnist"),
        ({"split": "random"}, r"^objective\.split must be stratified or ordered, not"),
        ({"validation_split": 1.5}, r"^objective\.validation_split must be a number between"),
        ({"epochs": 0}, r"^objective\.epochs must be a whole number from 1"),
        ({"batch_size": "32"}, r"^objective\.batch_size must be a whole number"),
        ({"train_limit": 5}, r"^objective\.train_limit must be a whole number from 10"),
        ({"direction": "up"}, r"^objective\.direction must be maximize or minimize, not"),
        ({"metric": "val accuracy"}, r"^objective\.metric must be a metric name"),
    ],
)
def test_a_bad_keras_build_model_field_gets_one_sentence(
    objective: dict[str, Any], sentence: str
) -> None:
    with pytest.raises(SpecError, match=sentence) as error:
        parse_spec(_keras_build_model(**objective))
    assert "\n" not in str(error.value) and str(error.value).endswith(".")


def test_a_function_objective_refuses_a_build_model_field() -> None:
    raw = {**_keras_build_model(), "objective": {"type": "python", "target": "m:f"}}
    raw["objective"]["train_limit"] = 100
    with pytest.raises(SpecError, match=r"^objective\.train_limit is for a build_model"):
        parse_spec(raw)


def test_lr_find_refuses_an_objective_that_is_not_a_built_in_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for raw in (branin_spec(), _keras_build_model()):
        assert cli.main(["lr-find", str(write_spec(tmp_path, raw))]) == 2
        error = capsys.readouterr().err
        assert error.startswith("error: objective.type must be keras (a built-in model)"), error
