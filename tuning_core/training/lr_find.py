"""LR range test (Smith 2015; fastai's ``lr_find``): raise the learning rate exponentially
batch by batch, record the loss, and read good learning rates off the curve.

The learning rate goes from ``start`` to ``end`` over ``steps`` batches. The loss is smoothed
with a bias-corrected exponential moving average (β = 0.98); the test stops once the smoothed
loss exceeds 4× its minimum or becomes NaN. Three suggestions come from the smoothed curve:

- ``minimum_div10``: the learning rate at the lowest loss, divided by 10;
- ``steep``: where the loss falls fastest per decade of learning rate (before the minimum);
- ``valley``: the middle of the longest stretch over which the loss keeps falling.

The curve analysis is pure numpy; only :func:`lr_range_test` trains (in the worker process).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tuning_core.engine.errors import SpecError
from tuning_core.engine.hyperparams import trial_hyperparams
from tuning_core.engine.spec import StudySpec
from tuning_core.engine.spec_parts import KerasObjectiveSpec
from tuning_core.training.datasets import dataset_for
from tuning_core.training.keras_runtime import import_keras

START_LR, END_LR, STEPS, BETA, STOP_FACTOR = 1e-7, 10.0, 100, 0.98, 4.0
# The first points of a bias-corrected average rest on a handful of noisy batches; slopes
# there mean nothing, so the steep and valley searches start after them.
WARMUP_POINTS = 10


@dataclass
class LRRangeResult:
    learning_rates: list[float]
    losses: list[float]
    smoothed: list[float]
    valley: float
    steep: float
    minimum_div10: float
    stop_reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "valley": self.valley,
            "steep": self.steep,
            "minimum_div10": self.minimum_div10,
            "stop_reason": self.stop_reason,
            "curve": [
                {"learning_rate": lr, "loss": loss, "smoothed_loss": smooth}
                for lr, loss, smooth in zip(
                    self.learning_rates, self.losses, self.smoothed, strict=True
                )
            ],
        }


def lr_schedule(start: float = START_LR, end: float = END_LR, steps: int = STEPS) -> np.ndarray:
    """``steps`` learning rates rising geometrically from start to end."""
    return np.geomspace(start, end, steps)


def smooth_losses(losses: list[float], beta: float = BETA) -> list[float]:
    """Bias-corrected exponential moving average, as Adam corrects its moments."""
    average, smoothed = 0.0, []
    for step, loss in enumerate(losses, start=1):
        average = beta * average + (1 - beta) * loss
        smoothed.append(average / (1 - beta**step))
    return smoothed


def suggest(learning_rates: list[float], smoothed: list[float]) -> tuple[float, float, float]:
    """(valley, steep, minimum_div10) from a smoothed curve; see the module docstring."""
    lrs, loss = np.asarray(learning_rates), np.asarray(smoothed)
    lowest = int(np.nanargmin(loss))
    minimum_div10 = float(lrs[lowest] / 10)
    first = min(WARMUP_POINTS, max(lowest - 2, 0))
    descent, descent_lrs = loss[first : lowest + 1], lrs[first : lowest + 1]
    if len(descent) < 3:
        return float(lrs[lowest]), float(lrs[lowest]), minimum_div10
    slopes = np.gradient(descent, np.log10(descent_lrs))
    steep = float(descent_lrs[int(np.argmin(slopes))])
    # Longest run of consecutive decreases before the minimum.
    best_start, best_length, run_start = 0, 0, 0
    for index in range(1, len(descent)):
        if descent[index] >= descent[index - 1]:
            run_start = index
        if index - run_start > best_length:
            best_start, best_length = run_start, index - run_start
    valley = float(descent_lrs[best_start + best_length // 2]) if best_length else steep
    return valley, steep, minimum_div10


def analyse(
    learning_rates: list[float],
    losses: list[float],
    beta: float = BETA,
    stop_factor: float = STOP_FACTOR,
) -> LRRangeResult:
    """Smooth a raw (learning rate, loss) curve, cut it at divergence, and suggest."""
    smoothed_all = smooth_losses(losses, beta)
    kept, best, reason = 0, math.inf, "reached the end of the schedule"
    for kept, value in enumerate(smoothed_all, start=1):
        if not math.isfinite(value):
            kept -= 1
            reason = "the loss became NaN or infinite"
            break
        best = min(best, value)
        if value > stop_factor * best:
            reason = f"the smoothed loss exceeded {stop_factor:g}x its minimum"
            break
    lrs, raw, smoothed = list(learning_rates[:kept]), list(losses[:kept]), smoothed_all[:kept]
    valley, steep, minimum_div10 = suggest(lrs, smoothed)
    return LRRangeResult(lrs, raw, smoothed, valley, steep, minimum_div10, reason)


def lr_range_test(
    model: str,
    hp: dict[str, Any],
    dataset: Any,
    seed: int = 0,
    start: float = START_LR,
    end: float = END_LR,
    steps: int = STEPS,
) -> LRRangeResult:
    """Train ``steps`` batches with a rising learning rate and analyse the loss curve."""
    keras = import_keras()
    # The curve analysis above needs no Keras; the CLI and tests import it without TensorFlow.
    from tuning_core.training.keras_objective import build_model, prepare_inputs  # noqa: PLC0415

    keras.utils.set_random_seed(seed)
    network = build_model(
        model, {**hp, "learning_rate": start}, dataset.image_shape, dataset.num_classes
    )
    x = prepare_inputs(model, dataset.x_train)
    y = dataset.y_train
    batch_size = int(hp["batch_size"])
    order = np.random.default_rng(seed).permutation(len(x))
    learning_rates, losses = [], []
    best = math.inf
    for step, learning_rate in enumerate(lr_schedule(start, end, steps)):
        batch = order[(np.arange(batch_size) + step * batch_size) % len(x)]
        network.optimizer.learning_rate.assign(float(learning_rate))
        # reset_metrics: the loss of this batch alone, not a running mean.
        loss = float(network.train_on_batch(x[batch], y[batch], return_dict=True)["loss"])
        network.reset_metrics()
        learning_rates.append(float(learning_rate))
        losses.append(loss)
        smoothed = smooth_losses(losses)[-1]
        best = min(best, smoothed)
        if not math.isfinite(smoothed) or smoothed > STOP_FACTOR * best:
            break
    keras.backend.clear_session()
    return analyse(learning_rates, losses)


def lr_range_test_for_spec(
    spec: StudySpec, start: float = START_LR, end: float = END_LR, steps: int = STEPS
) -> LRRangeResult:
    """Run the range test for a Keras spec: its dataset and model, fixed values or defaults."""
    objective = spec.objective
    if not isinstance(objective, KerasObjectiveSpec):
        raise SpecError("objective.type must be keras for an LR range test.")
    dataset = dataset_for(objective, spec.seed)
    params = dict(spec.space.fixed)
    for dimension in spec.space.dimensions:
        if dimension.name != "learning_rate":
            params[dimension.name] = dimension.grid(1)[0]  # the middle of each tuned range
    hp = trial_hyperparams(objective.model, objective.epochs, params)
    return lr_range_test(
        objective.model, hp, dataset, seed=spec.seed, start=start, end=end, steps=steps
    )
