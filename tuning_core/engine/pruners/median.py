"""The median rule (as Optuna's MedianPruner): after ``warmup_epochs`` epochs, and once
``warmup_trials`` trials have completed, stop a trial whose value is worse than the median of
the complete trials' values at the same epoch."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from tuning_core.engine.pruners.base import (
    DEFAULT_TELL,
    Curve,
    Guide,
    PruneDecision,
    Pruner,
    parse_common,
    whole_number,
)
from tuning_core.engine.states import Direction, TrialState


@dataclass(frozen=True)
class MedianRule(Pruner):
    max_epochs: int
    warmup_trials: int = 5
    warmup_epochs: int = 1
    tell: str = DEFAULT_TELL

    type: ClassVar[str] = "median"
    label: ClassVar[str] = "Median rule"
    help: ClassVar[str] = (
        "After a warm-up, a trial stops at any epoch where its best score so far is worse "
        "than the median of the finished trials at that epoch."
    )
    short: ClassVar[str] = "median"
    in_title: ClassVar[str] = "median pruner"
    option_keys: ClassVar[tuple[str, ...]] = (
        "max_epochs",
        "warmup_trials",
        "warmup_epochs",
        "tell",
    )
    defaults: ClassVar[dict[str, Any]] = {"warmup_trials": 5, "warmup_epochs": 1}

    @classmethod
    def parse_options(
        cls, raw: Mapping[str, Any], most_epochs: int, epochs_source: str, max_trials: int
    ) -> dict[str, Any]:
        max_epochs, tell = parse_common(cls, raw, most_epochs, epochs_source)
        warmup_trials = whole_number(
            raw, "warmup_trials", cls.defaults["warmup_trials"], 0, max_trials
        )
        # Warm-up epochs at or past the last one would switch the rule off without a word.
        warmup_epochs = whole_number(
            raw,
            "warmup_epochs",
            min(cls.defaults["warmup_epochs"], max_epochs - 2),
            0,
            max_epochs - 2,
        )
        return {
            "max_epochs": max_epochs,
            "warmup_trials": warmup_trials,
            "warmup_epochs": warmup_epochs,
            "tell": tell,
        }

    @classmethod
    def reason(cls, decision: PruneDecision) -> str:
        return f"the median of {decision.compared} complete trials at that epoch"

    def decides_after(self, epoch: int) -> bool:
        return self.warmup_epochs < epoch + 1 < self.max_epochs

    def cutoff(
        self, direction: Direction, epoch: int, curves: list[Curve]
    ) -> tuple[float, int] | None:
        """The median of the complete trials' best values at ``epoch`` and how many they
        are; None while fewer than ``warmup_trials`` (or none) have reached it."""
        complete = [
            value
            for curve in curves
            if curve.state == TrialState.COMPLETE
            and (value := curve.best_until(epoch, direction)) is not None
        ]
        if not complete or len(complete) < self.warmup_trials:
            return None
        return statistics.median(complete), len(complete)

    def decide(
        self, direction: Direction, trial: Curve, epoch: int, others: list[Curve]
    ) -> PruneDecision | None:
        own = trial.best_until(epoch, direction)
        if own is None or not self.decides_after(epoch):
            return None
        found = self.cutoff(direction, epoch, [c for c in others if c.number != trial.number])
        if found is None or not direction.better(found[0], own):
            return None
        cutoff, compared = found
        return PruneDecision(
            trial.number, epoch, own, cutoff, self.type, None, None, compared, None
        )

    def guides(self, direction: Direction, curves: list[Curve]) -> list[Guide]:
        """At each epoch where the rule applies, the cut-off a trial there meets now; a trial
        pruned earlier met the trials complete then, which its own cut-off shows exactly."""
        found = {
            epoch: self.cutoff(direction, epoch, curves)
            for epoch in range(self.warmup_epochs, self.max_epochs - 1)
        }
        return [
            Guide(
                "median",
                epoch,
                cutoff[0],
                "median",
                "the median of the complete trials' best so far: a trial worse than this at "
                "that epoch was pruned",
            )
            for epoch, cutoff in found.items()
            if cutoff is not None
        ]

    def epoch_fraction(self) -> float:
        """About half the trials stop right after their warm-up epochs."""
        after_warmup = min(self.max_epochs, self.warmup_epochs + 1)
        return 0.5 + 0.5 * after_warmup / self.max_epochs
