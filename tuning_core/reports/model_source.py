"""A model plan (``engine.model_plan``) as the exported scripts' Python source: the same
constructors with the same arguments that training calls, printed instead of called.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tuning_core.engine.model_plan import (
    Call,
    Layer,
    ModelPlan,
    Pool2D,
    image_head,
    image_inputs,
    image_layers,
    input_call,
)


class Name(str):
    """A name the script defines (``num_classes``) or an expression over them, printed as it
    is; ``*`` makes the product's source, so ``image_inputs`` builds the script's input shape
    as it builds training's."""

    def __repr__(self) -> str:
        return str(self)

    def __mul__(self, other: object) -> Name:  # type: ignore[override]
        return Name(f"{self} * {other!r}")


def source(value: Any) -> str:
    """``value`` as Python source: a Call as ``keras.<path>(...)``, a tuple as a tuple,
    anything else as its repr."""
    if isinstance(value, tuple):
        items = [source(item) for item in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    if isinstance(value, str) and not isinstance(value, Name):
        return json.dumps(value)  # double quotes, as the rest of the script writes them
    if not isinstance(value, Call):
        return repr(value)
    args = [source(arg) for arg in value.args]
    args += [f"{key}={source(arg)}" for key, arg in value.kwargs]
    return f"keras.{value.path}({', '.join(args)})"


def _line(layer: Layer) -> str:
    line = f"{source(layer.call())},"
    if isinstance(layer, Pool2D):
        # The script takes any image size, so it prints the plan's condition for this pool.
        return f"*([{line[:-1]}] if min(image_shape) >= {layer.min_side} else []),"
    return line


def plan_lines(plan: ModelPlan) -> list[str]:
    """The plan's input and layers, one ``keras.Sequential`` entry a line."""
    return _lines(plan.input_call(), plan.layers)


def _lines(inputs: Call, layers: tuple[Layer, ...]) -> list[str]:
    return [f"{source(inputs)},", *(_line(layer) for layer in layers)]


def image_plan_lines(model: str, hp: Mapping[str, Any]) -> list[str]:
    """The ``mlp`` or ``cnn`` entries for any image size and class count, read from the
    script's ``image_shape`` and ``num_classes``: each pooling layer is kept only on images
    large enough for it, as ``model_plan.image_plan`` keeps it."""
    inputs = image_inputs(model, Name("image_shape[0]"), Name("image_shape[1]"))
    layers = (*image_layers(model, hp), image_head(Name("num_classes")))
    return _lines(input_call(inputs), layers)


def compile_source(
    optimizer: Call, loss: str, metrics: tuple[str | Call, ...], loss_weight: float = 1.0
) -> dict[str, str]:
    """The ``compile`` arguments as source, by name: optimizer, loss, loss_weights (None at
    1, as the builder leaves it out) and metrics."""
    return {
        "optimizer": source(optimizer),
        "loss": source(loss),
        "loss_weights": "None" if loss_weight == 1.0 else f"[{loss_weight!r}]",
        "metrics": f"[{', '.join(source(metric) for metric in metrics)}]",
    }
