"""How much memory a Keras trial needs, estimated from the spec before any trial runs.

The estimate counts the model's float32 weights with their gradients and optimizer slots,
and the activations of one batch kept for the backward pass. It mirrors the layers that
``tuning_core.training.keras_objective.build_model`` builds, without importing Keras, so the
CLI and the New-study form can refuse a spec that would take the machine down (a CNN with
4,096 filters in 7x7 kernels grew to 12 GB in 20 s before this check).
"""

from __future__ import annotations

import math
import os
from typing import Any

import psutil

from tuning_core.engine.errors import SpecError, brief
from tuning_core.engine.hyperparams import trial_hyperparams
from tuning_core.engine.space import ChoiceDimension, NumericDimension
from tuning_core.engine.spec import StudySpec

BYTES_PER_FLOAT = 4
# Extra float slots per weight that each optimizer keeps (Adam: two moments).
OPTIMIZER_SLOTS = {"sgd": 0, "adam": 2, "rmsprop": 1}
# Forward activations, their gradients, and Keras' own temporaries.
ACTIVATION_COPIES = 3
MEMORY_LIMIT_ENV = "TUNING_LAB_MEMORY_LIMIT"
DEFAULT_MEMORY_SHARE = 0.5


def default_memory_limit() -> int:
    """$TUNING_LAB_MEMORY_LIMIT gigabytes, else half of this machine's memory, in bytes."""
    configured = os.environ.get(MEMORY_LIMIT_ENV)
    if configured:
        try:
            gigabytes = float(configured)
        except ValueError:
            gigabytes = math.nan
        if not 0 < gigabytes < 1e6:
            raise SpecError(
                f"${MEMORY_LIMIT_ENV} must be a positive number of GB (such as 8), not "
                f"{brief(configured)}."
            )
        return int(gigabytes * 1e9)
    return int(psutil.virtual_memory().total * DEFAULT_MEMORY_SHARE)


def _conv_plan(hp: dict[str, Any], image_shape: tuple[int, int]) -> list[tuple[int, int, int]]:
    """(height, width, channels) after each convolution and each pooling, as build_model
    stacks them: "same" padding keeps the size, and each block pools 2x2 while both sides
    are at least 2."""
    height, width = image_shape
    plan = []
    for block in range(int(hp["conv_blocks"])):
        channels = int(hp["filters"]) * 2**block
        plan.append((height, width, channels))
        if min(height, width) >= 2:
            height, width = height // 2, width // 2
            plan.append((height, width, channels))
    return plan


def _layer_sizes(model: str, hp: dict[str, Any], image_shape: tuple[int, int]) -> list[int]:
    """Per-example output sizes of the layers before the classifier, input first."""
    height, width = image_shape
    if model == "mlp":
        return [height * width] + [int(hp["units"])] * int(hp["hidden_layers"])
    sizes = [h * w * c for h, w, c in _conv_plan(hp, image_shape)]
    return [height * width, *sizes, int(hp["dense_units"])]


def parameter_count(
    model: str, hp: dict[str, Any], image_shape: tuple[int, int], num_classes: int
) -> int:
    """Trainable weights of the model ``build_model`` would build for ``hp``."""
    height, width = image_shape
    if model == "mlp":
        widths = [height * width] + [int(hp["units"])] * int(hp["hidden_layers"]) + [num_classes]
        return sum(a * b + b for a, b in zip(widths, widths[1:], strict=False))
    kernel = int(hp["kernel_size"])
    count, channels_in = 0, 1
    for block in range(int(hp["conv_blocks"])):
        filters = int(hp["filters"]) * 2**block
        count += kernel * kernel * channels_in * filters + filters
        channels_in = filters
    plan = _conv_plan(hp, image_shape)
    flat = plan[-1][0] * plan[-1][1] * plan[-1][2] if plan else height * width
    dense = int(hp["dense_units"])
    return count + flat * dense + dense + dense * num_classes + num_classes


def trial_bytes(
    model: str, hp: dict[str, Any], image_shape: tuple[int, int], num_classes: int = 10
) -> int:
    """Estimated peak memory of one trial's training, in bytes."""
    params = parameter_count(model, hp, image_shape, num_classes)
    slots = OPTIMIZER_SLOTS.get(str(hp["optimizer"]), 2)
    if hp["optimizer"] == "sgd" and float(hp.get("momentum", 0.0)) > 0:
        slots = 1
    weights = params * BYTES_PER_FLOAT * (2 + slots)  # weights, gradients, optimizer slots
    activations = sum(_layer_sizes(model, hp, image_shape)) + num_classes
    batch = int(hp["batch_size"])
    return weights + batch * activations * BYTES_PER_FLOAT * ACTIVATION_COPIES


def _worst_case(spec: StudySpec, image_shape: tuple[int, int]) -> dict[str, Any]:
    """The spec's params that need the most memory: each range at its top, each choice at
    the value that needs most with the others already at their worst."""
    model, epochs = spec.objective["model"], spec.objective["epochs"]
    params: dict[str, Any] = dict(spec.space.fixed)
    for dimension in spec.space.dimensions:
        if isinstance(dimension, NumericDimension):
            params[dimension.name] = dimension.high
    for dimension in spec.space.dimensions:
        if isinstance(dimension, ChoiceDimension):
            params[dimension.name] = max(
                dimension.values,
                key=lambda value, name=dimension.name: trial_bytes(
                    model, trial_hyperparams(model, epochs, {**params, name: value}), image_shape
                ),
            )
    return trial_hyperparams(model, epochs, params)


def memory_problem(spec: StudySpec, image_shape: tuple[int, int], limit: int) -> str | None:
    """Why the spec's largest model cannot train within ``limit`` bytes, in one sentence
    naming the hyperparameter that matters most, or None when it fits."""
    model = spec.objective["model"]
    worst = _worst_case(spec, image_shape)
    needed = trial_bytes(model, worst, image_shape)
    if needed <= limit:
        return None
    defaults = trial_hyperparams(model, spec.objective["epochs"], {})
    named = [name for name in spec.space.all_names() if name in worst and name != "epochs"]
    culprit = min(
        named or ["batch_size"],
        key=lambda name: trial_bytes(model, {**worst, name: defaults[name]}, image_shape),
    )
    return (
        f"space.{culprit}: the largest model this spec allows ({culprit} = {worst[culprit]}) "
        f"needs about {needed / 1e9:,.1f} GB to train, over the {limit / 1e9:,.1f} GB limit "
        f"(half this machine's memory unless ${MEMORY_LIMIT_ENV} or --memory-limit says "
        "otherwise); lower it."
    )
