"""The built-in models as data: the layers, loss, metrics and optimizer that a trial's
hyperparameters describe, with no Keras imported.

One plan, three renderers: ``training.keras_objective.build_plan`` makes the Keras model,
``reports.model_source`` prints it as the exported script's source, and ``engine.memory``
counts its weights and activations. Each layer says once how Keras spells it (``call()``: a
``Call`` naming the constructor and its arguments), so the builder and the script cannot
drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tuning_core.engine.tasks import REGRESSION


@dataclass(frozen=True)
class Call:
    """``keras.<path>(*args, **kwargs)`` as data; an argument may itself be a Call."""

    path: str
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()


def _regularizer(l2: float) -> tuple[tuple[str, Any], ...]:
    """The kernel_regularizer argument: none at all when l2 is 0 (Keras' default)."""
    return (("kernel_regularizer", Call("regularizers.L2", (l2,))),) if l2 > 0 else ()


@dataclass(frozen=True)
class Dense:
    units: int
    activation: str | None = None  # None: linear
    l2: float = 0.0

    def call(self) -> Call:
        activation = (("activation", self.activation),) if self.activation else ()
        return Call("layers.Dense", (self.units,), activation + _regularizer(self.l2))


@dataclass(frozen=True)
class Dropout:
    rate: float

    def call(self) -> Call:
        return Call("layers.Dropout", (self.rate,))


@dataclass(frozen=True)
class Conv2D:
    """A ReLU convolution with "same" padding: the map keeps its height and width."""

    filters: int
    kernel_size: int
    l2: float = 0.0

    def call(self) -> Call:
        kwargs = (("padding", "same"), ("activation", "relu"))
        return Call(
            "layers.Conv2D", (self.filters, self.kernel_size), kwargs + _regularizer(self.l2)
        )


@dataclass(frozen=True)
class Pool2D:
    """2x2 pooling (``kind`` "max" or "average"); it halves height and width, rounding down.

    ``min_side``: the block pools only on images whose shorter side is at least this, so
    small images (8x8 digits) do not run out of pixels; ``image_plan`` keeps the layer only
    then, and the exported script, written for any image size, prints the same condition.
    """

    kind: str
    min_side: int = 2

    def call(self) -> Call:
        return Call(f"layers.{'MaxPooling2D' if self.kind == 'max' else 'AveragePooling2D'}", (2,))


@dataclass(frozen=True)
class Flatten:
    def call(self) -> Call:
        return Call("layers.Flatten")


@dataclass(frozen=True)
class Rescale:
    """``x * scale + offset``, no weights: a regression head's output in the target's units
    (the net itself predicts the standardised target)."""

    scale: float
    offset: float

    def call(self) -> Call:
        return Call("layers.Rescaling", (self.scale,), (("offset", self.offset),))


Layer = Dense | Dropout | Conv2D | Pool2D | Flatten | Rescale


@dataclass(frozen=True)
class ModelPlan:
    """A compiled model: one example's input shape, the layers in order (the output layer
    last), the loss, the metrics (a Keras name or a Call), the optimizer, and the weight the
    loss is multiplied by (``compile(loss_weights=[w])``; 1 leaves it out)."""

    inputs: tuple[Any, ...]
    layers: tuple[Layer, ...]
    loss: str
    metrics: tuple[str | Call, ...]
    optimizer: Call
    loss_weight: float = 1.0

    def input_call(self) -> Call:
        return input_call(self.inputs)


def input_call(shape: tuple[Any, ...]) -> Call:
    """The model's input, one example of ``shape``."""
    return Call("Input", kwargs=(("shape", shape),))


def optimizer_call(hp: Mapping[str, Any]) -> Call:
    """The optimizer ``hp`` names at its learning rate (SGD with its momentum)."""
    learning_rate = float(hp["learning_rate"])
    momentum = float(hp.get("momentum", 0.0))
    if hp["optimizer"] == "sgd":
        return Call(
            "optimizers.SGD", kwargs=(("learning_rate", learning_rate), ("momentum", momentum))
        )
    name = "Adam" if hp["optimizer"] == "adam" else "RMSprop"
    return Call(f"optimizers.{name}", kwargs=(("learning_rate", learning_rate),))


def _dense_stack(hp: Mapping[str, Any], units: int, count: int, activation: str) -> list[Layer]:
    """``count`` Dense layers of ``units``, each followed by dropout when there is any."""
    dropout, l2 = float(hp["dropout"]), float(hp["l2"])
    layers: list[Layer] = []
    for _ in range(count):
        layers.append(Dense(units, activation, l2))
        if dropout > 0:
            layers.append(Dropout(dropout))
    return layers


def image_layers(model: str, hp: Mapping[str, Any]) -> tuple[Layer, ...]:
    """The hidden layers of the ``mlp`` or ``cnn`` for images large enough that every block
    pools (see ``Pool2D.min_side``); the output layer is ``image_head``'s."""
    if model == "mlp":
        return tuple(_dense_stack(hp, int(hp["units"]), int(hp["hidden_layers"]), hp["activation"]))
    l2, kernel, pooling = float(hp["l2"]), int(hp["kernel_size"]), hp["pooling"]
    layers: list[Layer] = []
    for block in range(int(hp["conv_blocks"])):
        layers.append(Conv2D(int(hp["filters"]) * 2**block, kernel, l2))
        # Block k sees a map min(image) // 2**k wide; it pools when that is 2 or more.
        layers.append(Pool2D(pooling, min_side=2 ** (block + 1)))
    layers.append(Flatten())
    return tuple(layers + _dense_stack(hp, int(hp["dense_units"]), 1, "relu"))


def image_inputs(model: str, height: Any, width: Any) -> tuple[Any, ...]:
    """One example's input shape: flat pixels for the MLP, one channel for the CNN."""
    return (height * width,) if model == "mlp" else (height, width, 1)


def image_head(num_classes: Any) -> Dense:
    """The softmax output (``num_classes``: a count, or the exported script's name for it)."""
    return Dense(num_classes, "softmax")


IMAGE_LOSS = "sparse_categorical_crossentropy"
IMAGE_METRICS: tuple[str | Call, ...] = ("accuracy",)


def image_plan(
    model: str, hp: Mapping[str, Any], image_shape: tuple[int, int], num_classes: int
) -> ModelPlan:
    """The ``mlp`` or ``cnn`` for ``hp`` (see hyperparams for the names) on images of
    ``image_shape`` (height, width) in ``num_classes`` classes."""
    height, width = image_shape
    layers = tuple(
        layer
        for layer in image_layers(model, hp)
        if not isinstance(layer, Pool2D) or min(height, width) >= layer.min_side
    )
    return ModelPlan(
        image_inputs(model, height, width),
        (*layers, image_head(num_classes)),
        IMAGE_LOSS,
        IMAGE_METRICS,
        optimizer_call(hp),
    )


def table_plan(
    hp: Mapping[str, Any],
    features: int,
    task: str,
    classes: int,
    target_scale: Mapping[str, float] | None = None,
) -> ModelPlan:
    """The MLP for ``hp`` on ``features`` inputs, its output and loss following the task:
    linear and MSE for numbers, sigmoid and binary cross-entropy for two classes, softmax and
    sparse cross-entropy for more.

    ``target_scale`` (a regression preparation's training ``mean`` and ``std``): the linear
    output is rescaled to the target's units, so predictions, MAE and RMSE are in them, and
    the MSE is divided by the variance. Gradients are then those of the standardised target:
    a learning rate that suits one table suits another (raw targets in the hundreds made
    plain SGD diverge at every rate tried).
    """
    hidden = _dense_stack(hp, int(hp["units"]), int(hp["hidden_layers"]), hp["activation"])
    metrics: tuple[str | Call, ...]
    head: tuple[Layer, ...]
    loss_weight = 1.0
    if task == REGRESSION:
        head, loss = (Dense(1),), "mean_squared_error"
        if target_scale is not None:
            std = float(target_scale["std"])
            head = (Dense(1), Rescale(std, float(target_scale["mean"])))
            loss_weight = 1.0 / std**2
        metrics = (
            Call("metrics.MeanAbsoluteError", kwargs=(("name", "mae"),)),
            Call("metrics.RootMeanSquaredError", kwargs=(("name", "rmse"),)),
        )
    elif classes == 2:
        head, loss = (Dense(1, "sigmoid"),), "binary_crossentropy"
        metrics = (
            Call("metrics.BinaryAccuracy", kwargs=(("name", "accuracy"),)),
            Call("metrics.AUC", kwargs=(("name", "auc"),)),
        )
    else:
        head, loss, metrics = (Dense(classes, "softmax"),), IMAGE_LOSS, ("accuracy",)
    return ModelPlan(
        (int(features),), (*hidden, *head), loss, metrics, optimizer_call(hp), loss_weight
    )
