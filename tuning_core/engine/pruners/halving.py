"""Asynchronous successive halving and Hyperband: trials compete at rungs.

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
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

from tuning_core.engine.pruners.base import (
    DEFAULT_TELL,
    Curve,
    Guide,
    PlanStage,
    PruneDecision,
    Pruner,
    parse_common,
    whole_number,
)
from tuning_core.engine.states import Direction, TrialState

# The states whose finished epochs a rung compares against. Interrupted and failed trials are
# left out: an interrupted trial is retried under a new number and would otherwise count twice.
RUNG_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)


def rung_epochs(first_rung: int, reduction_factor: int, max_epochs: int) -> list[int]:
    """Epochs done at each rung: first_rung * reduction_factor**k while under max_epochs."""
    rungs, epochs = [], first_rung
    while epochs < max_epochs:
        rungs.append(epochs)
        epochs *= reduction_factor
    return rungs


@dataclass(frozen=True)
class SuccessiveHalving(Pruner):
    max_epochs: int
    min_epochs: int = 1
    reduction_factor: int = 3
    tell: str = DEFAULT_TELL

    type: ClassVar[str] = "successive_halving"
    label: ClassVar[str] = "Successive halving"
    help: ClassVar[str] = (
        "At 1, 3, 9… epochs (rungs), only the best third of the trials that reached a rung go "
        "on; the rest stop there (asynchronous successive halving, ASHA)."
    )
    short: ClassVar[str] = "sh"
    in_title: ClassVar[str] = "successive halving"
    option_keys: ClassVar[tuple[str, ...]] = (
        "max_epochs",
        "min_epochs",
        "reduction_factor",
        "tell",
    )
    defaults: ClassVar[dict[str, Any]] = {"reduction_factor": 3, "min_epochs": 1}

    @classmethod
    def parse_options(
        cls, raw: Mapping[str, Any], most_epochs: int, epochs_source: str, max_trials: int
    ) -> dict[str, Any]:
        max_epochs, tell = parse_common(cls, raw, most_epochs, epochs_source)
        reduction_factor = whole_number(
            raw, "reduction_factor", cls.defaults["reduction_factor"], 2, 100
        )
        min_epochs = whole_number(raw, "min_epochs", cls.defaults["min_epochs"], 1, max_epochs - 1)
        return {
            "max_epochs": max_epochs,
            "reduction_factor": reduction_factor,
            "min_epochs": min_epochs,
            "tell": tell,
        }

    @classmethod
    def reason(cls, decision: PruneDecision) -> str:
        where = f" in bracket {decision.bracket}" if decision.bracket is not None else ""
        return (
            f"only the best {decision.kept} of {decision.compared} trials at the "
            f"{decision.rung}-epoch rung{where} go on"
        )

    # Brackets: successive halving is Hyperband with one bracket, None.

    @property
    def brackets(self) -> list[int | None]:
        return [None]

    def bracket_of(self, bracket_key: int) -> int | None:
        """The bracket a trial competes in, from its bracket key (see Curve)."""
        return None

    def first_rung(self, bracket: int | None) -> int:
        return int(self.min_epochs * self.reduction_factor ** (bracket or 0))

    @cached_property
    def _rungs(self) -> dict[int | None, list[int]]:
        return {
            bracket: rung_epochs(self.first_rung(bracket), self.reduction_factor, self.max_epochs)
            for bracket in self.brackets
        }

    def rungs(self, bracket: int | None = None) -> list[int]:
        """Epochs done at each of the bracket's rungs."""
        return self._rungs[bracket]

    @cached_property
    def _all_rungs(self) -> frozenset[int]:
        return frozenset(rung for rungs in self._rungs.values() for rung in rungs)

    def decides_after(self, epoch: int) -> bool:
        return epoch + 1 in self._all_rungs

    def decide(
        self, direction: Direction, trial: Curve, epoch: int, others: list[Curve]
    ) -> PruneDecision | None:
        own = trial.best_until(epoch, direction)
        bracket = self.bracket_of(trial.bracket_key)
        if own is None or epoch + 1 not in self.rungs(bracket):
            return None
        rivals = [
            value
            for other in others
            if other.number != trial.number
            and other.state in RUNG_STATES
            and self.bracket_of(other.bracket_key) == bracket
            and (value := other.best_until(epoch, direction)) is not None
        ]
        ranked = sorted([*rivals, own], key=lambda value: direction.sign * value)
        keep = max(1, len(ranked) // self.reduction_factor)
        cutoff = ranked[keep - 1]
        if not direction.better(cutoff, own):
            return None
        return PruneDecision(
            trial.number, epoch, own, cutoff, self.type, epoch + 1, bracket, len(ranked), keep
        )

    def guides(self, direction: Direction, curves: list[Curve]) -> list[Guide]:
        """One rule per rung, at its last epoch; the last labelled "rung: top 1/3 go on" (it
        has room to the right). Hyperband's brackets have different rungs: all are drawn."""
        rungs = sorted(self._all_rungs)
        share = f"1/{self.reduction_factor}"
        return [
            Guide(
                "rung",
                rung - 1,
                math.nan,
                f"rung: top {share} go on" if rung == rungs[-1] else "rung",
                f"a rung: after epoch {rung} only the top {share} of the trials that reached it "
                "go on",
            )
            for rung in rungs
        ]

    def bracket_weights(self) -> list[int]:
        """Trials per bracket in one round, in the order of ``brackets``."""
        return [1]

    def _halving_fraction(self, bracket: int | None) -> float:
        """Share of the full epochs trained in one bracket: each rung keeps 1/eta."""
        epochs, surviving, trained = 0, 1.0, 0.0
        for rung in [*self.rungs(bracket), self.max_epochs]:
            trained += surviving * (rung - epochs)
            epochs, surviving = rung, surviving / self.reduction_factor
        return trained / self.max_epochs

    def epoch_fraction(self) -> float:
        """Each rung keeps 1/eta; Hyperband averages its brackets by weight."""
        weights = self.bracket_weights()
        total = sum(weights)
        return sum(
            weight / total * self._halving_fraction(bracket)
            for bracket, weight in zip(self.brackets, weights, strict=True)
        )

    def plan(self, trials: int) -> list[PlanStage]:
        """Each bracket's stages between rungs and how many trials reach each (a rung keeps
        the top 1/reduction_factor, at least one). The counts are the rule's intent; an
        asynchronous rung decides on the trials that reached it so far, so a run can keep a
        few more."""
        if trials < 1:
            return []
        members: dict[int | None, int] = {}
        for number in range(trials):
            bracket = self.bracket_of(number)
            members[bracket] = members.get(bracket, 0) + 1
        stages = []
        for bracket, count in sorted(members.items(), key=lambda item: item[0] or 0):
            start, reaching = 0, count
            for end in [*self.rungs(bracket), self.max_epochs]:
                stages.append(PlanStage(bracket, start, end, reaching))
                start, reaching = end, max(1, reaching // self.reduction_factor)
        return stages


@dataclass(frozen=True)
class Hyperband(SuccessiveHalving):
    type: ClassVar[str] = "hyperband"
    label: ClassVar[str] = "Hyperband"
    help: ClassVar[str] = (
        "Successive halving in several brackets whose first rung comes later and later, in "
        "case a few epochs say too little about a trial."
    )
    short: ClassVar[str] = "hyperband"
    in_title: ClassVar[str] = "Hyperband"

    @property
    def brackets(self) -> list[int | None]:
        """One per power of the reduction factor from min to max epochs."""
        ratio = self.max_epochs / self.min_epochs
        # The small epsilon keeps an exact power (max 9, min 1, factor 3) from rounding down.
        count = int(math.floor(math.log(ratio, self.reduction_factor) + 1e-9)) + 1
        return list(range(count))

    def bracket_weights(self) -> list[int]:
        """Trials per bracket in one Hyperband round (Li et al. 2018): most in the aggressive
        ones."""
        last = len(self.brackets) - 1
        eta = self.reduction_factor
        return [math.ceil((last + 1) / (last - b + 1) * eta ** (last - b)) for b in range(last + 1)]

    @cached_property
    def _order(self) -> list[int]:
        """One round of brackets, interleaved by weight; trials take them in turn."""
        return [
            bracket
            for _, bracket in sorted(
                ((i + 0.5) / weight, bracket)
                for bracket, weight in enumerate(self.bracket_weights())
                for i in range(weight)
            )
        ]

    def bracket_of(self, bracket_key: int) -> int:
        return self._order[bracket_key % len(self._order)]
