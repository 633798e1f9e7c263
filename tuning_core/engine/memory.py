"""How much memory a Keras trial needs, estimated from the spec before any trial runs.

The estimate has three parts: the data (every array the loader reads, at its stored dtype,
plus the float32 images trained and validated on, twice, since the scaled array and its split
copies are alive together while the split is made); the model's float32 weights with their
gradients and optimizer slots; and the activations of one batch kept for the backward pass.
It counts the layers of the model plan (``engine.model_plan``) that training builds, and
mirrors the loader in ``tuning_core.training.datasets`` without importing it, so the CLI and
the New-study form can refuse a spec that would take the machine down (a CNN with 4,096
filters in 7x7 kernels grew to 12 GB in 20 s, and a 382 KB .npz declaring 940 MB of uint8
images peaked at 12 GB, before these checks).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import psutil

from tuning_core.engine.errors import ECHO_LIMIT, SpecError, brief
from tuning_core.engine.hyperparams import trial_hyperparams
from tuning_core.engine.model_plan import (
    Conv2D,
    Dense,
    Flatten,
    Layer,
    ModelPlan,
    Pool2D,
    image_plan,
)
from tuning_core.engine.space import ChoiceDimension, NumericDimension
from tuning_core.engine.spec import StudySpec

BYTES_PER_FLOAT = 4
# Extra float slots per weight that each optimizer keeps (Adam: two moments; RMSprop one
# moving average, as build_model makes it without momentum or centering; SGD one velocity
# only when momentum is on).
OPTIMIZER_SLOTS = {"sgd": 0, "adam": 2, "rmsprop": 1}
# Forward activations, their gradients, and Keras' own temporaries.
ACTIVATION_COPIES = 3
# The loader reads the raw arrays, scales the images to float32, and splits them into copies
# while the whole is still alive; during fit, Keras holds its own tensor copy beside the
# split. Stored bytes plus two float32 copies: measured 0.83-0.89 of it when loading 10,000
# to 120,000 MNIST-sized images, and 1.05 of a whole trial's estimate on 60,000 (above the
# ~0.74 GB that Python and TensorFlow take before any data, which is not counted).
FLOAT_IMAGE_COPIES = 2
BYTES_PER_LABEL = 8  # labels become int64
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


def _output_shapes(plan: ModelPlan) -> list[tuple[Layer, tuple[int, ...], tuple[int, ...]]]:
    """Each layer with one example's shape going in and coming out."""
    shapes, shape = [], tuple(int(size) for size in plan.inputs)
    for layer in plan.layers:
        match layer:
            case Dense(units=units):
                out = (*shape[:-1], int(units))
            case Conv2D(filters=filters):  # "same" padding keeps height and width
                out = (*shape[:-1], filters)
            case Pool2D():
                out = (shape[0] // 2, shape[1] // 2, shape[2])
            case Flatten():
                out = (math.prod(shape),)
            case _:
                out = shape
        shapes.append((layer, shape, out))
        shape = out
    return shapes


def count_parameters(plan: ModelPlan) -> int:
    """Trainable weights of the model ``plan`` describes (kernels and biases)."""
    count = 0
    for layer, shape, out in _output_shapes(plan):
        if isinstance(layer, Dense):
            count += shape[-1] * out[-1] + out[-1]
        elif isinstance(layer, Conv2D):
            count += layer.kernel_size**2 * shape[-1] * layer.filters + layer.filters
    return count


def activation_count(plan: ModelPlan) -> int:
    """Per-example values kept for the backward pass: the input and the output of every
    layer that computes (dropout and flatten only view them)."""
    kept = (Dense, Conv2D, Pool2D)
    outputs = (math.prod(out) for layer, _, out in _output_shapes(plan) if isinstance(layer, kept))
    return math.prod(int(size) for size in plan.inputs) + sum(outputs)


def parameter_count(
    model: str, hp: dict[str, Any], image_shape: tuple[int, int], num_classes: int
) -> int:
    """Trainable weights of the model ``build_model`` would build for ``hp``."""
    return count_parameters(image_plan(model, hp, image_shape, num_classes))


class ImageShape(tuple[int, int]):
    """A dataset's image (height, width), carrying besides what its files declare, read from
    their headers alone (as ``os.stat_result`` carries fields beyond its tuple): the dataset as
    the spec names it, the images trained and validated on, and the bytes the loader reads.

    It is a tuple so that every caller that wants only the shape keeps working, while
    ``memory_problem`` counts the data too.
    """

    dataset: str
    examples: int
    stored_bytes: int

    def __new__(
        cls, height: int, width: int, *, dataset: str, examples: int, stored_bytes: int
    ) -> ImageShape:
        shape = super().__new__(cls, (int(height), int(width)))
        shape.dataset, shape.examples, shape.stored_bytes = dataset, int(examples), stored_bytes
        return shape

    def __reduce__(self) -> tuple[Any, ...]:
        # The default would call __new__ with the tuple alone and lose the declared sizes.
        return (_image_shape, (*self, self.dataset, self.examples, self.stored_bytes))


def _image_shape(
    height: int, width: int, dataset: str, examples: int, stored_bytes: int
) -> ImageShape:
    return ImageShape(height, width, dataset=dataset, examples=examples, stored_bytes=stored_bytes)


def data_bytes(shape: ImageShape) -> int:
    """The data's peak while it loads: every array read at its stored dtype, plus the images
    used as float32 and their labels as int64, each twice (the whole and its split copies)."""
    pixels = shape[0] * shape[1]
    per_example = (pixels * BYTES_PER_FLOAT + BYTES_PER_LABEL) * FLOAT_IMAGE_COPIES
    return shape.stored_bytes + shape.examples * per_example


@dataclass(frozen=True)
class TrialMemory:
    """A trial's estimated memory in bytes, by part."""

    data: int  # 0 when the dataset's sizes are not known
    weights: int  # the weights, their gradients and the optimizer's slots
    activations: int  # one batch's activations, their gradients and Keras' temporaries

    @property
    def model(self) -> int:
        return self.weights + self.activations

    @property
    def total(self) -> int:
        return self.data + self.weights + self.activations


def trial_memory(
    model: str, hp: dict[str, Any], image_shape: tuple[int, int], num_classes: int = 10
) -> TrialMemory:
    """Estimated peak memory of one trial, by part; the data counts only when
    ``image_shape`` is an ``ImageShape`` that says how large the data is."""
    plan = image_plan(model, hp, image_shape, num_classes)
    slots = OPTIMIZER_SLOTS.get(str(hp["optimizer"]), 2)
    if hp["optimizer"] == "sgd" and float(hp.get("momentum", 0.0)) > 0:
        slots = 1
    weights = count_parameters(plan)
    activations = activation_count(plan)
    return TrialMemory(
        data=data_bytes(image_shape) if isinstance(image_shape, ImageShape) else 0,
        weights=weights * BYTES_PER_FLOAT * (2 + slots),  # weights, gradients, optimizer slots
        activations=int(hp["batch_size"]) * activations * BYTES_PER_FLOAT * ACTIVATION_COPIES,
    )


def trial_bytes(
    model: str, hp: dict[str, Any], image_shape: tuple[int, int], num_classes: int = 10
) -> int:
    """Estimated peak memory of one trial's model (weights and activations), in bytes."""
    return trial_memory(model, hp, image_shape, num_classes).model


def _worst_case(spec: StudySpec, image_shape: tuple[int, int]) -> dict[str, Any]:
    """The spec's params that need the most memory: each range at its top, each choice at
    the value that needs most with the others already at their worst."""
    model, epochs = spec.objective.model, spec.objective.epochs
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


def size_words(count: int) -> str:
    """Bytes in the unit a reader takes in at once: 3.7 GB, 940 MB, 20 kB."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6)):
        if count >= scale:
            return f"{count / scale:,.1f} {unit}"
    return f"{max(count / 1e3, 0.1):,.1f} kB"


def dataset_words(dataset: str) -> str:
    """The dataset as the spec names it, its end kept when long (a path's file name)."""
    return dataset if len(dataset) <= ECHO_LIMIT else "…" + dataset[-(ECHO_LIMIT - 1) :]


def memory_problem(spec: StudySpec, image_shape: tuple[int, int], limit: int) -> str | None:
    """Why the spec's largest trial cannot run within ``limit`` bytes, in one sentence, or
    None when it fits. The sentence names the hyperparameter that matters most when the model
    alone is over the limit or is the larger part, and the dataset otherwise."""
    model = spec.objective.model
    worst = _worst_case(spec, image_shape)
    needed = trial_memory(model, worst, image_shape)
    if needed.total <= limit:
        return None
    over = (
        f"over the {size_words(limit)} limit (half this machine's memory unless "
        f"${MEMORY_LIMIT_ENV} or --memory-limit says otherwise)"
    )
    if isinstance(image_shape, ImageShape) and needed.model <= min(limit, needed.data):
        name = dataset_words(image_shape.dataset)
        return (
            f"objective.dataset: {name} declares {image_shape.examples:,} images of "
            f"{image_shape[0]}x{image_shape[1]} ({size_words(image_shape.stored_bytes)} as "
            f"stored), so a trial would hold about {size_words(needed.total)} (the data "
            f"{size_words(needed.data)}, as stored and then as float32 with its split copies; "
            f"the model with its gradients and optimizer slots {size_words(needed.weights)}; "
            f"one batch's activations {size_words(needed.activations)}), {over}; use fewer or "
            "smaller images, or a higher limit."
        )
    defaults = trial_hyperparams(model, spec.objective.epochs, {})
    named = [name for name in spec.space.all_names() if name in worst and name != "epochs"]
    culprit = min(
        named or ["batch_size"],
        key=lambda name: trial_bytes(model, {**worst, name: defaults[name]}, image_shape),
    )
    data = (
        f" with the data of {dataset_words(image_shape.dataset)}"
        if isinstance(image_shape, ImageShape)
        else ""
    )
    return (
        f"space.{culprit}: the largest model this spec allows ({culprit} = {worst[culprit]}) "
        f"needs about {size_words(needed.total)} to train{data}, {over}; lower it."
    )
