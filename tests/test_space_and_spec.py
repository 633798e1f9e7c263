from __future__ import annotations

import math

import pytest

from tests.conftest import branin_spec
from tuning_core.engine.errors import SpecError
from tuning_core.engine.space import ChoiceDimension, NumericDimension, parse_space
from tuning_core.engine.spec import parse_spec
from tuning_core.engine.strategies import GridStrategy


def test_space_round_trips_through_json() -> None:
    raw = {
        "learning_rate": {"type": "float", "low": 0.0001, "high": 1.0, "log": True},
        "batch_size": {"type": "int", "low": 16, "high": 256, "log": True},
        "optimizer": {"type": "choice", "values": ["sgd", "adam", 3]},
        "dropout": 0.2,
    }
    space = parse_space(raw)
    assert space.names == ["learning_rate", "batch_size", "optimizer"]
    assert space.fixed == {"dropout": 0.2}
    assert isinstance(space.dimension("batch_size"), NumericDimension)
    assert isinstance(space.dimension("optimizer"), ChoiceDimension)
    assert parse_space(space.to_json()) == space
    assert space.to_json()["optimizer"] == {"type": "choice", "values": ["sgd", "adam", 3]}


def test_spec_fills_defaults_and_round_trips() -> None:
    spec = parse_spec(branin_spec(strategy={"type": "bayesian"}))
    assert spec.strategy == {
        "type": "bayesian",
        "seed": 0,
        "surrogate": "GP",
        "acquisition": "EI",
        "initial_points": 10,
    }
    assert spec.budget == {"trials": 10, "seconds": None}
    assert parse_spec(spec.to_json()) == spec


def test_log_grid_is_log_spaced_and_int_grid_is_whole() -> None:
    learning_rate = NumericDimension("learning_rate", "float", 1e-4, 1.0, log=True)
    assert learning_rate.grid(5) == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1, 1.0])
    batch = NumericDimension("batch_size", "int", 16, 256, log=True)
    assert batch.grid(5) == [16, 32, 64, 128, 256]
    narrow = NumericDimension("layers", "int", 1, 2)
    assert narrow.grid(5) == [1, 2]  # rounding must not repeat a level


def test_grid_enumerates_every_combination_exactly_once() -> None:
    space = parse_space(
        {
            "x": {"type": "float", "low": 0, "high": 1},
            "y": {"type": "float", "low": 1, "high": 100, "log": True},
            "opt": {"type": "choice", "values": ["sgd", "adam"]},
            "fixed": 3,
        }
    )
    grid = GridStrategy(space, levels=3)
    points = []
    while (params := grid.ask()) is not None:
        points.append((params["x"], round(params["y"], 9), params["opt"]))
    assert len(points) == space.grid_size(3) == 3 * 3 * 2
    assert len(set(points)) == len(points)
    assert {p[0] for p in points} == {0.0, 0.5, 1.0}
    assert {p[1] for p in points} == {1.0, 10.0, 100.0}
    assert math.isclose(sorted({p[1] for p in points})[1], 10.0)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda s: s["space"]["x1"].update(low=20), "space.x1.low"),
        (lambda s: s["space"]["x1"].update(log=True), "space.x1.low"),
        (lambda s: s["strategy"].update(type="annealing"), "strategy.type"),
        (lambda s: s["budget"].update(trials=0), "budget.trials"),
        (lambda s: s["space"]["x1"].update(low="a"), "space.x1.low"),
    ],
)
def test_invalid_specs_name_the_field(mutate, field: str) -> None:
    raw = branin_spec()
    mutate(raw)
    with pytest.raises(SpecError) as error:
        parse_spec(raw)
    assert field in str(error.value)
    assert str(error.value).count(". ") == 0  # one sentence


def test_keras_space_rejects_unknown_hyperparameter() -> None:
    raw = {
        "name": "k",
        "objective": {"type": "keras", "dataset": "digits", "model": "mlp"},
        "space": {"learning_rate": 0.01, "filters": 16},
        "strategy": {"type": "random"},
    }
    with pytest.raises(SpecError, match="space.filters is not a hyperparameter of the mlp model"):
        parse_spec(raw)
    raw["objective"]["model"] = "cnn"
    assert parse_spec(raw).space.fixed["filters"] == 16
