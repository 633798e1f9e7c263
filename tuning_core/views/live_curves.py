"""The Live page's learning curves: which charts it draws for a study, how their lines are
coloured (on a domain fixed by the space, so a line keeps its colour as trials arrive), the best
trial drawn thicker, and the sentence that says what a pruned study's marks mean. Pure."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from tuning_core.engine.space import ChoiceDimension, NumericDimension
from tuning_core.engine.spec import StudySpec
from tuning_core.engine.spec_parts import FunctionObjectiveSpec
from tuning_core.engine.states import Direction, TrialState
from tuning_core.engine.tasks import METRIC_WORDS


@dataclass(frozen=True)
class Colouring:
    """How curves are coloured: by a numeric hyperparameter on a fixed domain, else by trial."""

    field: str | None
    log: bool
    domain: tuple[float, float] | None


def colour_choices(spec: StudySpec) -> list[str]:
    """The hyperparameters curves can be coloured by: the tuned numeric ones and numeric choices
    (a learning-rate choice, as the lab compares them), learning rate first."""
    names = []
    for dimension in spec.space.dimensions:
        if isinstance(dimension, NumericDimension) or (
            isinstance(dimension, ChoiceDimension)
            and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in dimension.values
            )
        ):
            names.append(dimension.name)
    return sorted(names, key=lambda name: name != "learning_rate")


def curve_colouring(spec: StudySpec, field: str | None = None) -> Colouring:
    """Colour by ``field`` (default: the learning rate when tuned, else by trial).

    The domain comes from the study's space, not from the trials so far, so a curve keeps its
    colour while trials arrive (a range's low and high; a choice's smallest and largest value).
    """
    choices = colour_choices(spec)
    if field is None:
        field = choices[0] if choices else None
    if field not in choices:
        return Colouring(None, False, None)
    dimension = spec.space.dimension(field)
    if isinstance(dimension, NumericDimension):
        return Colouring(field, dimension.log, (float(dimension.low), float(dimension.high)))
    values = [float(v) for v in dimension.values]
    low, high = min(values), max(values)
    # A choice of rates spans decades, so it is coloured on a log scale like a log range.
    log = low > 0 and (field == "learning_rate" or high / low >= 100)
    return Colouring(field, log, (low, high))


def best_trial_number(trials: pd.DataFrame, direction: Direction) -> int | None:
    """The complete trial with the best value, or None."""
    if trials.empty:
        return None
    complete = trials[(trials["state"] == TrialState.COMPLETE.value) & trials["value"].notna()]
    if complete.empty:
        return None
    return int(complete.loc[direction.best_index(complete["value"].astype(float)), "number"])


def epochs_recorded(curves: pd.DataFrame) -> int:
    """How many whole (trial, epoch) points the curves hold (a diverged run's in-epoch losses
    are not epochs)."""
    if curves.empty:
        return 0
    whole = curves[~curves["within_epoch"]] if "within_epoch" in curves else curves
    return int(whole[["number", "epoch"]].drop_duplicates().shape[0])


# Metric names in words: the one table, in engine/tasks.py.
METRIC_TITLES = METRIC_WORDS


@dataclass(frozen=True)
class CurvePanel:
    """One learning-curves chart on the live page: which metric, its title, its widget key."""

    metric: str
    title: str
    key: str


def curve_panels(spec: StudySpec, metrics: set[str]) -> list[CurvePanel]:
    """The curve charts the live page draws, given the metrics recorded so far.

    A Keras study: the training loss, and beside it the study's own metric (validation
    accuracy unless it tunes for another; the pruner's cut-offs are in that metric). A function
    with a fidelity (``objective.epochs`` above 1): its value per epoch. Otherwise none, and
    the page shows only the convergence chart.
    """
    if isinstance(spec.objective, FunctionObjectiveSpec):
        if spec.objective.epochs > 1 and spec.metric in metrics:
            return [CurvePanel(spec.metric, f"{spec.metric} per epoch", "value_chart")]
        return []
    right = "val_accuracy" if spec.metric == "loss" else spec.metric
    if not {"loss", right} <= metrics:
        return []
    return [
        CurvePanel("loss", METRIC_TITLES["loss"], "loss_chart"),
        CurvePanel(right, METRIC_TITLES.get(right, right), "accuracy_chart"),
    ]


def pruning_caption(spec: StudySpec) -> str:
    """What to look at on a pruned study's curves, in one or two sentences; empty without a
    pruner."""
    rule = spec.pruner.type
    if rule == "none":
        return ""
    side = "under" if spec.direction == Direction.MAXIMIZE else "over"
    cut = (
        f"Pale curves ending in orange scissors were pruned: on the {spec.metric} chart the orange "
        f"dash at that epoch is the cut-off the trial had to reach, and its curve ended {side} it."
    )
    if rule == "median":
        return (
            f"{cut} The cut-off is the median (grey dashed line) of the complete trials' best "
            f"so far at that epoch, from epoch {int(spec.pruner.options['warmup_epochs']) + 1} on."
        )
    share = f"1/{spec.pruner.options['reduction_factor']}"
    where = " of its bracket" if rule == "hyperband" else ""
    return (
        f"{cut} Grey dotted rules are the rungs: there only the top {share} of the trials{where} "
        "that reached the rung go on, so the cut-off is the worst score still in that top share."
    )
