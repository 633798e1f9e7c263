"""The hyperparameter registry: one record per Keras hyperparameter Tuning Lab knows.

Each :class:`HyperParameter` carries its kind, default, allowed bounds, log scale, slider
ladder, help text and the models it applies to, as Keras Tuner's hyperparameter types carry
their own bounds and default. Spec validation, the New-study form and page, the run-time
estimate and the Keras-script export all read it (tests/test_registry.py walks every entry
through each). Adding a hyperparameter is one record here plus its use in
``tuning_core.training.keras_objective.build_model``.

No TensorFlow is imported here, so the dashboard builds its controls from it. The defaults
reproduce the worked example: Dense(512, relu), Dropout(0.2), Dense(10, softmax), SGD at
learning rate 0.01, batch size 32, 10 epochs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

MODELS = ("mlp", "cnn")


def _powers_of_two(low_exponent: int, high_exponent: int) -> tuple[int, ...]:
    return tuple(2**k for k in range(low_exponent, high_exponent + 1))


@dataclass(frozen=True)
class HyperParameter:
    """What the app knows about one hyperparameter.

    ``lowest``/``highest`` bound every value a spec may fix or tune: what Keras can use, and
    no more than a model that could fit in memory at all (the memory estimate checks the rest).
    The form offers ``ladder`` (real values on a select slider) or else ``slider``
    (min, max, step); ``tuned_range`` is its default range when tuned (numbers), and
    ``tuned_choices`` its default set (choices).
    """

    name: str
    kind: Literal["float", "int", "choice"]
    default: Any
    help: str
    models: tuple[str, ...] = MODELS
    lowest: float | None = None
    highest: float | None = None
    log: bool = False
    choices: tuple[str, ...] = ()
    ladder: tuple[float, ...] = ()
    slider: tuple[float, float, float] | None = None
    tuned_range: tuple[float, float] | None = None
    tuned_choices: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")

    def applies_to(self, model: str) -> bool:
        return model in self.models


REGISTRY: dict[str, HyperParameter] = {
    entry.name: entry
    for entry in (
        HyperParameter(
            "optimizer",
            "choice",
            "sgd",
            "The update rule. SGD follows the gradient (with optional momentum); Adam and "
            "RMSprop scale each weight's step by running gradient statistics.",
            choices=("sgd", "adam", "rmsprop"),
            tuned_choices=("sgd", "adam"),
        ),
        HyperParameter(
            "learning_rate",
            "float",
            0.01,
            "How far each gradient step moves the weights. Too small and training crawls or "
            "stalls; too large and the steps overshoot the minimum, the loss oscillates or "
            "blows up.",
            lowest=1e-12,
            highest=1000.0,
            log=True,
            ladder=(*(m * 10.0**e for e in range(-6, 1) for m in (1, 2, 5)), 10.0),
            tuned_range=(0.0001, 1.0),
        ),
        HyperParameter(
            "momentum",
            "float",
            0.0,
            "For SGD: the fraction of the previous step carried into the next, which damps "
            "zig-zags.",
            lowest=0.0,
            highest=0.999,
            slider=(0.0, 0.99, 0.01),
            tuned_range=(0.0, 0.9),
        ),
        HyperParameter(
            "batch_size",
            "int",
            32,
            "How many examples are averaged into one gradient step. Small batches give noisy "
            "but frequent updates; large batches give smooth, fewer updates per epoch.",
            lowest=1,
            highest=65536,
            log=True,
            ladder=_powers_of_two(3, 10),
            tuned_range=(16, 256),
        ),
        HyperParameter(
            "l2",
            "float",
            0.0,
            "Weight-decay penalty added to the loss for large weights; 0 turns it off.",
            lowest=0.0,
            highest=10.0,
            log=True,
            ladder=(0.0, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2),
            tuned_range=(1e-6, 1e-2),
        ),
        HyperParameter(
            "dropout",
            "float",
            0.2,
            "The fraction of units switched off at random during training, so the network "
            "cannot rely on any single unit; a regulariser against overfitting.",
            lowest=0.0,
            highest=0.95,
            slider=(0.0, 0.9, 0.05),
            tuned_range=(0.0, 0.5),
        ),
        HyperParameter(
            "hidden_layers",
            "int",
            1,
            "How many hidden Dense layers the MLP stacks: its depth.",
            models=("mlp",),
            lowest=0,
            highest=32,
            slider=(1, 5, 1),
            tuned_range=(1, 3),
        ),
        HyperParameter(
            "units",
            "int",
            512,
            "Neurons in each hidden Dense layer: the width, and so the capacity, of the MLP.",
            models=("mlp",),
            lowest=1,
            highest=65536,
            log=True,
            ladder=_powers_of_two(3, 11),
            tuned_range=(64, 1024),
        ),
        HyperParameter(
            "activation",
            "choice",
            "relu",
            "The non-linearity after each hidden layer; relu is the usual default.",
            models=("mlp",),
            choices=("relu", "tanh", "sigmoid", "elu", "gelu"),
            tuned_choices=("relu", "tanh"),
        ),
        HyperParameter(
            "filters",
            "int",
            32,
            "Convolution filters in the first block (each later block doubles them).",
            models=("cnn",),
            lowest=1,
            highest=4096,
            log=True,
            ladder=_powers_of_two(2, 7),
            tuned_range=(16, 64),
        ),
        HyperParameter(
            "kernel_size",
            "int",
            3,
            "Width and height of each convolution window, in pixels.",
            models=("cnn",),
            lowest=1,
            highest=31,
            ladder=(3, 5, 7),
            tuned_range=(3, 5),
        ),
        HyperParameter(
            "conv_blocks",
            "int",
            2,
            "How many convolution + pooling blocks the CNN stacks.",
            models=("cnn",),
            lowest=1,
            highest=8,
            slider=(1, 3, 1),
            tuned_range=(1, 3),
        ),
        HyperParameter(
            "pooling",
            "choice",
            "max",
            "How each block shrinks its feature maps: the maximum or the average of each 2×2 "
            "window.",
            models=("cnn",),
            choices=("max", "avg"),
            tuned_choices=("max", "avg"),
        ),
        HyperParameter(
            "dense_units",
            "int",
            128,
            "Neurons in the CNN's Dense layer before the output.",
            models=("cnn",),
            lowest=1,
            highest=65536,
            log=True,
            ladder=_powers_of_two(3, 11),
            tuned_range=(64, 256),
        ),
        # The objective's "epochs" is this default; a space may tune it instead.
        HyperParameter(
            "epochs",
            "int",
            10,
            "How many full passes over the training data. More epochs fit better until the "
            "model starts to overfit.",
            lowest=1,
            highest=10_000,
            slider=(1, 50, 1),
            tuned_range=(2, 10),
        ),
    )
}

OPTIMIZERS = REGISTRY["optimizer"].choices
HELP: dict[str, str] = {name: entry.help for name, entry in REGISTRY.items()}


def entries_for(model: str) -> list[HyperParameter]:
    """The registry's entries that apply to ``model``, in form order (epochs last)."""
    return [entry for entry in REGISTRY.values() if entry.applies_to(model)]


def names_for(model: str) -> list[str]:
    """The hyperparameter names a space may fix or tune for ``model``, epochs included."""
    return [entry.name for entry in entries_for(model)]


def defaults_for(model: str) -> dict[str, Any]:
    """Every hyperparameter of ``model`` with its default value (epochs excluded)."""
    return {entry.name: entry.default for entry in entries_for(model) if entry.name != "epochs"}


def trial_hyperparams(model: str, epochs: int, params: dict[str, Any]) -> dict[str, Any]:
    """What a trial trains with: ``model``'s defaults, the objective's epochs, then its params."""
    return {**defaults_for(model), "epochs": epochs, **params}
