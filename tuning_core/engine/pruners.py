"""Early stopping across trials: the median rule, asynchronous successive halving and Hyperband.

A pruner decides, after each of a trial's epochs, whether the trial goes on. The decision is a
pure function of finished epochs already in the store (the trial's own curve and the other
trials' curves), so it is the same after a resume and safe with workers running side by side:
an epoch's row is written only once that epoch has finished.

Epochs are 0-based as stored; "epochs done" after epoch ``e`` is ``e + 1``. A trial's value at
an epoch is its best value so far (running max or min), which smooths a noisy validation curve
and matches how a trial's final value is taken (its best epoch).

* ``median`` (as Optuna's MedianPruner): after ``warmup_epochs`` epochs, and once
  ``warmup_trials`` trials have completed, stop a trial whose value is worse than the median of
  the complete trials' values at the same epoch.
* ``successive_halving`` (ASHA, Li et al. 2020): rungs at ``min_epochs * reduction_factor**k``
  epochs done, below ``max_epochs``. At a rung a trial goes on only if it ranks in the top
  ``1 / reduction_factor`` of every trial that reached that rung (itself included); while fewer
  than ``reduction_factor`` trials have reached it, only a trial that is the best there goes on.
* ``hyperband``: several successive-halving brackets whose first rung is
  ``min_epochs * reduction_factor**b``; each trial joins one bracket by its number (the
  aggressive brackets get more trials, in Hyperband's proportions) and competes only within it.
  The last bracket's first rung is its only one, near the end (at 9 of 10 epochs with the
  defaults; none at all when ``max_epochs`` is an exact power, as 9 is), as Optuna does.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

from tuning_core.engine.states import Direction, TrialState

PRUNERS = ("none", "median", "successive_halving", "hyperband")
DEFAULT_PRUNER: dict[str, Any] = {
    "reduction_factor": 3,
    "min_epochs": 1,
    "warmup_trials": 5,
    "warmup_epochs": 1,
    "tell": "last",
}
# The options each pruner takes, besides its type.
OPTION_KEYS: dict[str, tuple[str, ...]] = {
    "none": (),
    "median": ("max_epochs", "warmup_trials", "warmup_epochs", "tell"),
    "successive_halving": ("max_epochs", "min_epochs", "reduction_factor", "tell"),
    "hyperband": ("max_epochs", "min_epochs", "reduction_factor", "tell"),
}
# What the strategy is told about a pruned trial (benchmarks/pruned_told.py measured both).
TELL_CHOICES = ("last", "worst")
# The states whose finished epochs a rung compares against. Interrupted and failed trials are
# left out: an interrupted trial is retried under a new number and would otherwise count twice.
_RUNG_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)


@dataclass(frozen=True)
class Curve:
    """One trial's stored curve of the study's metric: epoch -> value."""

    number: int
    state: TrialState
    values: dict[int, float]
    # Picks the Hyperband bracket: the trial's place among the study's original (not retried)
    # trials, so a retry keeps its original's bracket and interruptions shift no other trial.
    bracket_key: int


@dataclass(frozen=True)
class PruneDecision:
    """Why a trial stopped: at which epoch, its value then, and the cut-off it failed to reach."""

    trial_number: int
    epoch: int  # 0-based: the last epoch the trial trained
    value: float
    cutoff: float
    rule: str  # the pruner's type
    rung: int | None  # epochs done at the rung (successive halving and Hyperband)
    bracket: int | None  # Hyperband's bracket
    compared: int  # how many trials the cut-off was taken over (itself included at a rung)
    kept: int | None  # how many of those go on past the rung

    def sentence(self, metric: str) -> str:
        """One line for the CLI and the trial's note."""
        if self.rule == "median":
            why = f"the median of {self.compared} complete trials at that epoch"
        else:
            where = f" in bracket {self.bracket}" if self.bracket is not None else ""
            why = (
                f"only the best {self.kept} of {self.compared} trials at the {self.rung}-epoch "
                f"rung{where} go on"
            )
        return (
            f"pruned at epoch {self.epoch + 1}: {metric} {self.value:.4g} was worse than the "
            f"cut-off {self.cutoff:.4g} ({why})"
        )


def bracket_keys(retry_of: dict[int, int | None]) -> dict[int, int]:
    """Each trial's bracket key, from every trial's ``retry_of`` (trial number -> the number it
    retries, or None): the position of its original trial among the originals, in order."""
    originals = sorted(number for number, retried in retry_of.items() if retried is None)
    position = {number: index for index, number in enumerate(originals)}

    def original(number: int) -> int:
        seen = set()
        while retry_of.get(number) is not None and number not in seen:
            seen.add(number)
            number = retry_of[number]  # type: ignore[assignment]
        return number

    return {number: position.get(original(number), number) for number in retry_of}


def rung_epochs(first_rung: int, reduction_factor: int, max_epochs: int) -> list[int]:
    """Epochs done at each rung: first_rung * reduction_factor**k while under max_epochs."""
    rungs, epochs = [], first_rung
    while epochs < max_epochs:
        rungs.append(epochs)
        epochs *= reduction_factor
    return rungs


def bracket_count(pruner: dict[str, Any]) -> int:
    """Hyperband's brackets: one per power of the reduction factor from min to max epochs."""
    ratio = pruner["max_epochs"] / pruner["min_epochs"]
    # The small epsilon keeps an exact power (max 9, min 1, factor 3) from rounding down.
    return int(math.floor(math.log(ratio, pruner["reduction_factor"]) + 1e-9)) + 1


def bracket_weights(pruner: dict[str, Any]) -> list[int]:
    """Trials per bracket in one Hyperband round (Li et al. 2018): most in the aggressive ones."""
    last = bracket_count(pruner) - 1
    eta = pruner["reduction_factor"]
    return [math.ceil((last + 1) / (last - b + 1) * eta ** (last - b)) for b in range(last + 1)]


def bracket_of(pruner: dict[str, Any], trial_number: int) -> int:
    """The Hyperband bracket of a trial, from its number: brackets interleaved by weight."""
    weights = bracket_weights(pruner)
    order = sorted(
        ((i + 0.5) / weight, bracket)
        for bracket, weight in enumerate(weights)
        for i in range(weight)
    )
    return order[trial_number % len(order)][1]


def first_rung_of(pruner: dict[str, Any], bracket: int | None) -> int:
    return int(pruner["min_epochs"] * pruner["reduction_factor"] ** (bracket or 0))


def _best_until(values: dict[int, float], epoch: int, direction: Direction) -> float | None:
    seen = [value for e, value in values.items() if e <= epoch and math.isfinite(value)]
    return direction.best(seen) if seen and epoch in values else None


def decide(
    pruner: dict[str, Any],
    direction: Direction,
    trial: Curve,
    epoch: int,
    others: list[Curve],
) -> PruneDecision | None:
    """Whether ``trial`` stops after ``epoch``; None means it goes on.

    ``others`` are the study's other trials as stored (any state); only their finished epochs
    are read.
    """
    rule = pruner["type"]
    own = _best_until(trial.values, epoch, direction)
    if rule == "none" or own is None or epoch + 1 >= pruner["max_epochs"]:
        return None
    others = [other for other in others if other.number != trial.number]
    if rule == "median":
        if epoch + 1 <= pruner["warmup_epochs"]:
            return None
        complete = [
            value
            for other in others
            if other.state == TrialState.COMPLETE
            and (value := _best_until(other.values, epoch, direction)) is not None
        ]
        if not complete or len(complete) < pruner["warmup_trials"]:
            return None
        cutoff = statistics.median(complete)
        if not direction.better(cutoff, own):
            return None
        return PruneDecision(
            trial.number, epoch, own, cutoff, rule, None, None, len(complete), None
        )
    bracket = bracket_of(pruner, trial.bracket_key) if rule == "hyperband" else None
    rungs = rung_epochs(
        first_rung_of(pruner, bracket), pruner["reduction_factor"], pruner["max_epochs"]
    )
    if epoch + 1 not in rungs:
        return None
    rivals = [
        value
        for other in others
        if other.state in _RUNG_STATES
        and (bracket is None or bracket_of(pruner, other.bracket_key) == bracket)
        and (value := _best_until(other.values, epoch, direction)) is not None
    ]
    ranked = sorted([*rivals, own], key=lambda value: direction.sign * value)
    keep = max(1, len(ranked) // pruner["reduction_factor"])
    cutoff = ranked[keep - 1]
    if not direction.better(cutoff, own):
        return None
    return PruneDecision(
        trial.number, epoch, own, cutoff, rule, epoch + 1, bracket, len(ranked), keep
    )


def expected_epoch_fraction(pruner: dict[str, Any]) -> float:
    """The share of a full search's epochs a pruned search trains, if trials arrive in random
    order of quality: for the run-time estimate, not a promise.

    Successive halving keeps 1/eta at each rung; Hyperband averages its brackets by weight; the
    median rule stops about half the trials after their warm-up epochs.
    """
    rule = pruner["type"]
    if rule == "none":
        return 1.0
    most = pruner["max_epochs"]
    if rule == "median":
        after_warmup = min(most, pruner["warmup_epochs"] + 1)
        return 0.5 + 0.5 * after_warmup / most

    def halving_fraction(first_rung: int) -> float:
        epochs, surviving, trained = 0, 1.0, 0.0
        for rung in [*rung_epochs(first_rung, pruner["reduction_factor"], most), most]:
            trained += surviving * (rung - epochs)
            epochs, surviving = rung, surviving / pruner["reduction_factor"]
        return trained / most

    if rule == "successive_halving":
        return halving_fraction(pruner["min_epochs"])
    weights = bracket_weights(pruner)
    total = sum(weights)
    return sum(
        weight / total * halving_fraction(first_rung_of(pruner, bracket))
        for bracket, weight in enumerate(weights)
    )


@dataclass(frozen=True)
class PlanStage:
    """One step of a pruner's plan: within ``bracket`` (None: successive halving's only one),
    about ``trials`` trials train from ``start_epoch`` to ``end_epoch`` epochs done."""

    bracket: int | None
    start_epoch: int
    end_epoch: int
    trials: int

    @property
    def epochs(self) -> int:
        return self.trials * (self.end_epoch - self.start_epoch)


def pruner_plan(pruner: dict[str, Any], trials: int) -> list[PlanStage]:
    """What successive halving or Hyperband will do with ``trials`` trials, before any runs:
    each bracket's stages between rungs and how many trials reach each (a rung keeps the top
    1/reduction_factor, at least one). Empty for no pruner and for the median rule, whose cuts
    depend on the scores. The counts are the rule's intent; an asynchronous rung decides on the
    trials that reached it so far, so a run can keep a few more."""
    rule = pruner["type"]
    if rule not in ("successive_halving", "hyperband") or trials < 1:
        return []
    most, eta = pruner["max_epochs"], pruner["reduction_factor"]
    if rule == "successive_halving":
        members = {None: trials}
    else:
        members = {}
        for number in range(trials):
            bracket = bracket_of(pruner, number)
            members[bracket] = members.get(bracket, 0) + 1
    stages = []
    for bracket, count in sorted(members.items(), key=lambda item: item[0] or 0):
        start, reaching = 0, count
        for end in [*rung_epochs(first_rung_of(pruner, bracket), eta, most), most]:
            stages.append(PlanStage(bracket, start, end, reaching))
            start, reaching = end, max(1, reaching // eta)
    return stages
