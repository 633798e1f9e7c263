"""Specs about the learning rate: the learning-rate lab's comparison (one trial per rate) and
the LR range test's "tune around it" study, with the log-scale ladders they snap to. Pure; no
Streamlit.
"""

from __future__ import annotations

import math
from typing import Any

from tuning_core.engine import hyperparams
from tuning_core.engine.errors import SpecError
from tuning_core.engine.space import ChoiceDimension
from tuning_core.engine.spec import StudySpec, parse_spec


def tune_around_spec(
    learning_rate: float, dataset: str, model: str, optimizer: str, epochs: int
) -> dict[str, Any]:
    """A Bayesian study tuning the learning rate from ``learning_rate``/10 to x10 (snapped to
    the slider's ladder), as the LR range test's "tune around it" button opens it."""
    ladder = hyperparams.REGISTRY["learning_rate"].ladder
    return {
        "name": f"tune-{dataset}-{model}",
        "objective": {"type": "keras", "dataset": dataset, "model": model, "epochs": int(epochs)},
        "space": {
            "learning_rate": {
                "type": "float",
                "low": nearest(learning_rate / 10, ladder),
                "high": nearest(learning_rate * 10, ladder),
                "log": True,
            },
            "optimizer": optimizer,
        },
        "strategy": {"type": "bayesian", "seed": 0},
        "budget": {"trials": 10},
    }


def nearest(value: float, ladder: list[float]) -> float:
    """The ladder value closest to ``value`` on a log scale (for snapping suggestions to
    sliders).
    """
    return min(
        ladder, key=lambda step: abs(math.log(step / value)) if step > 0 and value > 0 else math.inf
    )


def log_spaced(low: float, high: float, count: int) -> list[float]:
    """``count`` values from low to high, evenly spaced in log, rounded to 2 significant digits."""
    if count == 1:
        return [low]
    ratio = (high / low) ** (1 / (count - 1))
    return [float(f"{low * ratio**i:.2g}") for i in range(count)]


def learning_rate_comparison_spec(
    name: str,
    dataset: str,
    model: str,
    optimizer: str,
    learning_rates: list[float],
    epochs: int,
    batch_size: int,
    train_limit: int | None,
    seed: int = 0,
) -> dict[str, Any]:
    """One trial per learning rate, same model and seed: a grid over a learning-rate choice."""
    objective: dict[str, Any] = {
        "type": "keras",
        "dataset": dataset,
        "model": model,
        "epochs": int(epochs),
    }
    if train_limit:
        objective["train_limit"] = int(train_limit)
    return {
        "name": name,
        "objective": objective,
        "space": {
            "learning_rate": {"type": "choice", "values": [float(lr) for lr in learning_rates]},
            "optimizer": optimizer,
            "batch_size": int(batch_size),
        },
        "strategy": {"type": "grid", "seed": int(seed)},
        "budget": {"trials": len(learning_rates)},
    }


def learning_rate_comparison_problem(raw: dict[str, Any]) -> str | None:
    """Why a learning-rate comparison cannot start, in one sentence, or None."""
    try:
        spec = parse_spec(raw)
    except SpecError as error:
        return str(error)
    if (
        not is_learning_rate_comparison(spec)
        or len(spec.space.dimension("learning_rate").values) < 2
    ):
        return "Pick a range wide enough for at least two different learning rates."
    return None


def is_learning_rate_comparison(spec: StudySpec) -> bool:
    """A grid over a choice of learning rates, as the learning-rate lab starts them."""
    return spec.strategy.type == "grid" and isinstance(
        spec.space.dimension("learning_rate"), ChoiceDimension
    )
