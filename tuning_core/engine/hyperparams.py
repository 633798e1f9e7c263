"""The Keras hyperparameters Tuning Lab knows: names, defaults and help texts.

This module imports no TensorFlow, so the dashboard can build its controls from it.
The defaults reproduce the worked example: Dense(512, relu), Dropout(0.2), Dense(10, softmax),
SGD at learning rate 0.01, batch size 32.
"""

from __future__ import annotations

from typing import Any

OPTIMIZERS = ("sgd", "adam", "rmsprop")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "elu", "gelu")
POOLINGS = ("max", "avg")
MODELS = ("mlp", "cnn")

# Shared by both models.
COMMON_DEFAULTS: dict[str, Any] = {
    "optimizer": "sgd",
    "learning_rate": 0.01,
    "momentum": 0.0,
    "batch_size": 32,
    "l2": 0.0,
    "dropout": 0.2,
}

MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "mlp": {"hidden_layers": 1, "units": 512, "activation": "relu"},
    "cnn": {
        "filters": 32,
        "kernel_size": 3,
        "conv_blocks": 2,
        "pooling": "max",
        "dense_units": 128,
    },
}

# One help text per hyperparameter, shown next to every control in the app.
HELP: dict[str, str] = {
    "learning_rate": (
        "How far each gradient step moves the weights. Too small and training crawls or stalls; "
        "too large and the steps overshoot the minimum, the loss oscillates or blows up."
    ),
    "batch_size": (
        "How many examples are averaged into one gradient step. Small batches give noisy but "
        "frequent updates; large batches give smooth, fewer updates per epoch."
    ),
    "epochs": "How many full passes over the training data. More epochs fit better until the model starts to overfit.",
    "dropout": (
        "The fraction of units switched off at random during training, so the network cannot rely "
        "on any single unit; a regulariser against overfitting."
    ),
    "units": "Neurons in each hidden Dense layer: the width, and so the capacity, of the MLP.",
    "hidden_layers": "How many hidden Dense layers the MLP stacks: its depth.",
    "activation": "The non-linearity after each hidden layer; relu is the usual default.",
    "optimizer": (
        "The update rule. SGD follows the gradient (with optional momentum); Adam and RMSprop "
        "scale each weight's step by running gradient statistics."
    ),
    "momentum": "For SGD: the fraction of the previous step carried into the next, which damps zig-zags.",
    "l2": "Weight-decay penalty added to the loss for large weights; 0 turns it off.",
    "filters": "Convolution filters in the first block (each later block doubles them).",
    "kernel_size": "Width and height of each convolution window, in pixels.",
    "conv_blocks": "How many convolution + pooling blocks the CNN stacks.",
    "pooling": "How each block shrinks its feature maps: the maximum or the average of each 2×2 window.",
    "dense_units": "Neurons in the CNN's Dense layer before the output.",
}


def defaults_for(model: str) -> dict[str, Any]:
    """Every hyperparameter of ``model`` with its default value (epochs excluded)."""
    return {**COMMON_DEFAULTS, **MODEL_DEFAULTS[model]}


def trial_hyperparams(model: str, epochs: int, params: dict[str, Any]) -> dict[str, Any]:
    """What a trial trains with: ``model``'s defaults, the objective's epochs, then the trial's params."""
    return {**defaults_for(model), "epochs": epochs, **params}


def names_for(model: str) -> list[str]:
    """The hyperparameter names a space may fix or tune for ``model``, epochs included."""
    return [*defaults_for(model), "epochs"]
