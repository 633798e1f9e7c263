"""What the New-study form says about a spec before it starts: the search space's size in
words and a rough run time. Pure; no Streamlit.
"""

from __future__ import annotations

import math
from typing import Any

from tuning_core.engine import hyperparams
from tuning_core.engine.errors import SpecError
from tuning_core.engine.pruners import expected_epoch_fraction
from tuning_core.engine.spec import parse_spec
from tuning_core.training import datasets


def count_training_examples(dataset: str, validation_split: float = 0.2) -> int | None:
    """Training examples after the split, from the dataset's headers; None if unknown."""
    count = datasets.example_count(dataset)
    return None if count is None else int(count * (1 - validation_split))


def space_size(raw: dict[str, Any]) -> str:
    """How big the search space is, in words (the exact point count for grid search)."""
    try:
        spec = parse_spec(raw)
    except SpecError:
        return "—"
    if spec.strategy.type == "grid":
        points = spec.space.grid_size(int(spec.strategy.levels or 0))
        return f"{points:,} grid points, {min(points, spec.budget.trials):,} will run"
    if not spec.space.dimensions:
        return "one configuration (nothing tuned)"
    if any(d.to_json()["type"] == "float" for d in spec.space.dimensions):
        count = len(spec.space.dimensions)
        return f"continuous, {count} tuned dimension{'s' if count > 1 else ''}"
    finite = 1
    for dimension in spec.space.dimensions:
        finite *= (
            len(dimension.values)
            if hasattr(dimension, "values")
            else int(dimension.high - dimension.low + 1)
        )
    return f"{finite:,} distinct configurations"


def estimate_seconds(
    raw: dict[str, Any],
    seconds_per_sample_unit: float = 3.4e-10,
    seconds_per_step: float = 2.5e-3,
    seconds_per_trial: float = 1.0,
) -> float | None:
    """A rough run time: 5 s to start, then per trial a second to build the model plus
    epochs x (steps x per-step overhead + examples x model size x cost per weight).

    With ``parallel`` N the trials run N at a time: the time of ceil(trials / N) trials in a
    row, plus a few seconds to start the Dask workers (each imports TensorFlow). On one machine
    the N trials share its cores, so the real gain is smaller than N (benchmarks/parallel.py
    measured 1.3x for 2 Keras trials at once on 2 cores); the page says it is an estimate.

    The constants were fitted to four digits studies timed on this project's 2-core CPU
    (MLPs of 64 to 2x1024 units at batch 16-128, and a CNN), each then within 10%; the page
    labels the result as an estimate. None when the dataset size is unknown.
    """
    try:
        spec = parse_spec(raw)
    except SpecError:
        return None
    objective = spec.objective  # the form's: a built-in Keras model
    examples = count_training_examples(objective.dataset, objective.validation_split)
    if examples is None:
        return None
    if objective.train_limit:
        examples = min(examples, objective.train_limit)
    pixels = 64 if objective.dataset == "digits" else 784

    def typical(name: str) -> float:
        dimension = spec.space.dimension(name)
        if dimension is None:
            value = hyperparams.trial_hyperparams(
                objective.model, objective.epochs, spec.space.fixed
            )[name]
            return float(value) if isinstance(value, (int, float)) else 1.0
        grid = dimension.grid(3)
        return float(grid[len(grid) // 2]) if isinstance(grid[0], (int, float)) else 1.0

    if objective.model == "mlp":
        weights = pixels * typical("units") + typical("units") ** 2 * max(
            typical("hidden_layers") - 1, 0
        )
    else:
        weights = pixels * typical("filters") * 9 * 4  # convolutions cost more per weight
    epochs = typical("epochs") if "epochs" in spec.space.names else objective.epochs
    # A pruner stops most trials early: count the share of epochs it is expected to train.
    epochs *= expected_epoch_fraction(spec.pruner)
    steps = examples / typical("batch_size")
    per_epoch = steps * seconds_per_step + examples * weights * seconds_per_sample_unit
    trials = spec.planned_trials
    if spec.budget.epochs:
        # An epoch budget ends the study once that many epochs are trained, whatever the
        # trial budget: the trials it allows at the expected epochs a trial.
        trials = min(trials, math.ceil(spec.budget.epochs / epochs))
    at_once = min(spec.parallel, trials)
    # Trials in a row: each wave of N takes as long as one trial.
    waves = math.ceil(trials / at_once)
    start = 5.0 + (DASK_START_SECONDS if spec.parallel > 1 else 0.0)  # + TensorFlow import
    total = waves * (epochs * per_epoch + seconds_per_trial) + start
    if spec.budget.seconds:
        total = min(total, float(spec.budget.seconds))
    return total


# Starting a LocalCluster's worker processes (each then imports TensorFlow on its own).
DASK_START_SECONDS = 5.0


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
