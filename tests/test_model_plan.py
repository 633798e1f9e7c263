"""One model plan, three renderers: the Keras model training builds, the exported script's
source, and the memory estimate's count all come from ``engine.model_plan``; these tests hold
the renderers to the plan and to each other."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tuning_core.engine.hyperparams import trial_hyperparams
from tuning_core.engine.memory import count_parameters, parameter_count
from tuning_core.engine.model_plan import Dense, Pool2D, image_plan, table_plan
from tuning_core.engine.tasks import CLASSIFICATION, REGRESSION
from tuning_core.reports.model_source import image_plan_lines

IMAGE_CASES = [
    ("mlp", {"units": 64, "hidden_layers": 2}, (8, 8), 10),
    ("mlp", {"units": 32, "hidden_layers": 0}, (28, 28), 10),
    ("mlp", {"units": 7, "hidden_layers": 3, "dropout": 0.2, "l2": 0.01}, (5, 9), 3),
    ("cnn", {"filters": 8, "conv_blocks": 3, "kernel_size": 5}, (28, 28), 10),
    ("cnn", {"filters": 4, "conv_blocks": 2, "dense_units": 16}, (2, 50), 10),
    ("cnn", {"filters": 4, "conv_blocks": 3}, (8, 8), 10),
    ("cnn", {"filters": 4, "conv_blocks": 5, "pooling": "avg", "dropout": 0.3}, (8, 8), 4),
    ("cnn", {"filters": 2, "conv_blocks": 2, "kernel_size": 1, "l2": 0.001}, (1, 7), 2),
]
TABLE_CASES = [
    ({"units": 16, "hidden_layers": 2}, 30, CLASSIFICATION, 2),
    ({"units": 8, "hidden_layers": 1, "dropout": 0.5}, 4, CLASSIFICATION, 3),
    ({"units": 64, "hidden_layers": 3, "l2": 0.001}, 13, REGRESSION, 0),
    ({"units": 5, "hidden_layers": 0}, 7, REGRESSION, 0),
]


def test_the_image_plan_pools_only_while_the_map_is_two_pixels_wide() -> None:
    hp = trial_hyperparams("cnn", 1, {"conv_blocks": 5})

    def pools(image_shape: tuple[int, int]) -> int:
        layers = image_plan("cnn", hp, image_shape, 10).layers
        return sum(isinstance(layer, Pool2D) for layer in layers)

    # 8 -> 4 -> 2 -> 1: three blocks pool, the last two keep the 1x1 map; the shorter side rules.
    assert (pools((8, 8)), pools((64, 9)), pools((1, 30)), pools((32, 32))) == (3, 3, 0, 5)
    assert image_plan("cnn", hp, (8, 8), 10).inputs == (8, 8, 1)
    mlp = image_plan("mlp", trial_hyperparams("mlp", 1, {}), (8, 8), 10)
    assert mlp.inputs == (64,) and mlp.layers[-1] == Dense(10, "softmax")


def test_a_table_plans_head_follows_the_task() -> None:
    hp = trial_hyperparams("mlp", 1, {})
    heads = {
        (task, classes): table_plan(hp, 5, task, classes)
        for task, classes in ((REGRESSION, 0), (CLASSIFICATION, 2), (CLASSIFICATION, 4))
    }
    assert heads[REGRESSION, 0].layers[-1] == Dense(1)
    assert heads[REGRESSION, 0].loss == "mean_squared_error"
    assert heads[CLASSIFICATION, 2].layers[-1] == Dense(1, "sigmoid")
    assert heads[CLASSIFICATION, 4].layers[-1] == Dense(4, "softmax")


def _script_build_model(model: str, hp: dict[str, Any]) -> Any:
    """The exported script's build_model, made from its printed layers."""
    import keras

    lines = "\n".join(image_plan_lines(model, hp))
    source = f"def build_model(image_shape, num_classes):\n    return [\n{lines}\n    ]\n"
    namespace: dict[str, Any] = {"keras": keras}
    exec(compile(source, "<script>", "exec"), namespace)  # the lines the script holds
    return namespace["build_model"]


def _layer_configs(network: Any) -> list[tuple[str, dict[str, Any]]]:
    unnamed = []
    for layer in network.layers:
        config = {k: v for k, v in layer.get_config().items() if k not in ("name", "dtype")}
        unnamed.append((type(layer).__name__, config))
    return unnamed


@pytest.mark.keras
@pytest.mark.parametrize(("model", "params", "image_shape", "classes"), IMAGE_CASES)
def test_keras_the_script_and_the_count_agree_on_image_models(
    model: str, params: dict, image_shape: tuple[int, int], classes: int
) -> None:
    import keras

    from tuning_core.training.keras_objective import build_model

    hp = trial_hyperparams(model, 1, params)
    network = build_model(model, hp, image_shape, classes)
    assert parameter_count(model, hp, image_shape, classes) == network.count_params()
    # The script's layers, for the same images, are training's layers with the same settings.
    printed = _script_build_model(model, hp)(image_shape, classes)
    script = keras.Sequential(printed)
    assert _layer_configs(script) == [
        (kind, config) for kind, config in _layer_configs(network) if kind != "InputLayer"
    ]


@pytest.mark.keras
@pytest.mark.parametrize(("params", "features", "task", "classes"), TABLE_CASES)
def test_keras_and_the_count_agree_on_table_models(
    params: dict, features: int, task: str, classes: int
) -> None:
    from tuning_core.training.table_objective import build_table_model

    hp = trial_hyperparams("mlp", 1, params)
    network = build_table_model(hp, features, task, classes)
    assert count_parameters(table_plan(hp, features, task, classes)) == network.count_params()


def test_the_script_prints_each_pool_with_the_plans_condition() -> None:
    hp = trial_hyperparams("cnn", 1, {"conv_blocks": 3, "pooling": "max"})
    lines = image_plan_lines("cnn", hp)
    assert lines[0] == "keras.Input(shape=(image_shape[0], image_shape[1], 1)),"
    guards = [int(m.group(1)) for line in lines if (m := re.search(r">= (\d+) else", line))]
    assert guards == [2, 4, 8]
    assert lines[-1] == 'keras.layers.Dense(num_classes, activation="softmax"),'
    flat = image_plan_lines("mlp", trial_hyperparams("mlp", 1, {}))
    assert flat[0] == "keras.Input(shape=(image_shape[0] * image_shape[1],)),"
