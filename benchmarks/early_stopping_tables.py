"""The tables benchmarks/early_stopping.py measures: each one's data, model, space, epochs and
budget, and the smaller settings of its smoke run.

A table is one (data, model, max_epochs): every row of the benchmark (our searches with each
pruner, Keras Tuner's Hyperband, Optuna's TPE with its HyperbandPruner) tunes the same model on
the same data with the same space, at most ``max_epochs`` per configuration, within the same
total-epoch budget.

- ``mnist`` + ``mlp``: the repository's MNIST split, mnist_search's focused space (what the
  0.968 target was measured with).
- ``mnist`` + ``cnn``: the same split and the repository's built-in CNN (conv blocks of
  ``filters * 2**block``, each pooled, then one Dense layer), with the same optimizer, learning
  rate, batch and dropout ranges as the MLP and the CNN's own width and depth in place of the
  MLP's.
- ``digits-small-lr`` + ``mlp``: scikit-learn's digits (1,437 / 360 images) and the focused MLP
  space with the learning rate in 1e-5..3e-4 (log). Measured on seed 0 (Dense 512, dropout 0.2,
  Adam, 27 epochs): at batch 32 a rate of 1e-5 is still at 14% after 3 epochs and 19% after 9,
  then reaches 82% at 27; 3e-5 is at 19% after 3 and 82% after 9; 1e-4 and 3e-4 make their best
  at epochs 23-27 (95.0% and 96.7%); at batch 128 each rate is a factor of 3 slower again. So
  curves sit together near chance for the first epochs and separate late, and even the best
  configurations still improve in their last epochs: a full-length trial is needed to see its
  worth, and an early rung ranks partly by noise. At 1e-3 the best comes by epoch 10 (97.5%), the
  same saturated regime as the MNIST MLP at 10 epochs, so the range stops at 3e-4. With 360
  validation images one image is 0.28 points, about the 0.3-point "same best" tolerance.

Budget: ``FULL_LENGTH_TRIALS * max_epochs`` (200 at 10 epochs, 540 at 27), so the unpruned
searches train 20 full-length trials at either length, as many as mnist_search's 20-trial
comparison that set the 0.968 target, and the Bayesian one 14 proposals after its 6 initial
points. Keras Tuner's Hyperband at factor 3 trains 120 epochs an iteration at 10 epochs and 375
at 27 (its brackets' rounds, resumed rounds counted once), so either budget gives it every
bracket at least once (1.7 and 1.4 iterations). Our pruners, as planned (each rung keeps a
third; an asynchronous rung keeps a few more), train a trial for 1/4.2 of the full epochs on
average with successive halving at 10 epochs (rungs 1, 3, 9) and 1/9.0 at 27 (rungs 1, 3, 9),
and 1/2.3 and 1/3.6 with Hyperband (its gentler brackets train more). That is about the
"same best, fewer epochs" ratio to expect when the pruned and unpruned searches meet the best
configuration at the same trial, as a random search does (one seed proposes the same sequence
with or without a pruner), and the best is not itself pruned: at 10 epochs Hyperband's expected
ratio is below 3x, at 27 both are above it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchmarks.mnist_search import SPACES
from tuning_core.training.datasets import REPOSITORY_MNIST

MAX_EPOCHS_CHOICES = (10, 27)
# η for every row: our successive halving and Hyperband, Keras Tuner's factor, Optuna's
# reduction_factor.
REDUCTION_FACTOR = 3
FULL_LENGTH_TRIALS = 20
VALIDATION_SPLIT = 0.2

CNN_SPACE: dict[str, Any] = {
    "learning_rate": SPACES["focused"]["learning_rate"],
    "optimizer": SPACES["focused"]["optimizer"],
    "batch_size": SPACES["focused"]["batch_size"],
    "filters": {"type": "int", "low": 16, "high": 64, "log": True},
    "conv_blocks": {"type": "int", "low": 1, "high": 2},
    "dense_units": {"type": "int", "low": 64, "high": 256, "log": True},
    "dropout": SPACES["focused"]["dropout"],
}
DIGITS_SMALL_LR_SPACE: dict[str, Any] = {
    **SPACES["focused"],
    "learning_rate": {"type": "float", "low": 1e-5, "high": 3e-4, "log": True},
}

# (data, model) -> the space every tuner searches; the tables this benchmark knows.
SPACE_OF: dict[tuple[str, str], dict[str, Any]] = {
    ("mnist", "mlp"): SPACES["focused"],
    ("mnist", "cnn"): CNN_SPACE,
    ("digits-small-lr", "mlp"): DIGITS_SMALL_LR_SPACE,
}
DATA_CHOICES = ("mnist", "digits-small-lr")
MODEL_CHOICES = ("mlp", "cnn")
# The dataset each data name loads (our spec's objective.dataset, the peers' load_dataset).
DATASET_OF = {"mnist": str(REPOSITORY_MNIST), "digits-small-lr": "digits"}
DATA_LABEL = {"mnist": "real MNIST", "digits-small-lr": "digits, learning rate 1e-5..3e-4"}

# The smoke run (--smoke): every row end to end on one seed, small enough to check the
# plumbing in minutes, never to be read as a result. A row's cost is mostly its trials' model
# builds and graph tracing (about a second each; Keras Tuner adds two full garbage collections
# a trial) and Keras' fixed cost per epoch, so the budget is one rung, 3 epochs at either
# max_epochs: each of our rows and Optuna's trains one trial past its first rung and is cut
# at the budget; Keras Tuner's Hyperband, whose first bracket starts with its shortest
# trials, trains two or three. 100 training images and a 2% validation split keep an epoch's
# own work to a few hundredths of a second.
SMOKE_BUDGET = REDUCTION_FACTOR
SMOKE_TRAIN_LIMIT = 100
SMOKE_VALIDATION_SPLIT = 0.02


@dataclass(frozen=True)
class Table:
    """One (data, model, max_epochs) the rows are compared on, with its budget and data size."""

    data: str
    model: str
    max_epochs: int
    budget: int
    train_limit: int | None = None
    validation_split: float = VALIDATION_SPLIT

    @property
    def key(self) -> str:
        return f"{self.data}-{self.model}-{self.max_epochs}"

    @property
    def dataset(self) -> str:
        return DATASET_OF[self.data]

    @property
    def space(self) -> dict[str, Any]:
        return SPACE_OF[(self.data, self.model)]

    def title(self) -> str:
        """The table's heading: data, model, epochs per configuration, budget."""
        size = "" if self.train_limit is None else f", {self.train_limit:,} training images"
        split = (
            ""
            if self.validation_split == VALIDATION_SPLIT
            else (f", validation split {self.validation_split:g}")
        )
        return (
            f"{DATA_LABEL[self.data]}{size}{split}, {self.model.upper()}, at most "
            f"{self.max_epochs} epochs per configuration, {self.budget} epochs in total"
        )


def default_budget(max_epochs: int, smoke: bool = False) -> int:
    """The total epochs each row may train (module docstring)."""
    return SMOKE_BUDGET if smoke else FULL_LENGTH_TRIALS * max_epochs


def tables(
    data: list[str],
    models: list[str],
    max_epochs: list[int],
    budget: int | None = None,
    train_limit: int | None = None,
    smoke: bool = False,
) -> list[Table]:
    """Every known (data, model) among those asked for, at each max_epochs; ``budget`` and
    ``train_limit`` override the defaults (the smoke run's when ``smoke``)."""
    chosen = [
        Table(
            name,
            model,
            epochs,
            budget if budget is not None else default_budget(epochs, smoke),
            train_limit if train_limit is not None else (SMOKE_TRAIN_LIMIT if smoke else None),
            SMOKE_VALIDATION_SPLIT if smoke else VALIDATION_SPLIT,
        )
        for epochs in max_epochs
        for name in data
        for model in models
        if (name, model) in SPACE_OF
    ]
    if not chosen:
        known = ", ".join(f"--data {d} --model {m}" for d, m in SPACE_OF)
        raise SystemExit(f"no table has that data and model; the tables are {known}")
    return chosen
