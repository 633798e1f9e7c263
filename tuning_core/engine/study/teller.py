"""Telling the strategy how each finished trial went: the loss it is told (a float, or a
tuple for a study of several metrics), and the finite penalty a failed or diverged trial is
told instead of NaN or inf. Used by the loop, the replay on resume and the Dask driver alike,
so the strategy hears the same story however the study ran.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tuning_core.engine.space import SearchSpace
from tuning_core.engine.spec_parts import MetricGoal
from tuning_core.engine.states import Direction, TrialState
from tuning_core.engine.strategies import Strategy

Loss = float | tuple[float, ...]


def _worse(a: Loss, b: Loss) -> Loss:
    """The worse of two losses; for several metrics, the worse of each component."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        return tuple(max(x, y) for x, y in zip(a, b, strict=True))
    return max(a, b)  # type: ignore[type-var]


@dataclass
class _Teller:
    """Tells the strategy each finished trial; failures become a finite penalty.

    A failed or diverged trial is told as the worst loss seen so far (over complete and pruned
    trials), never NaN or inf, so the surrogate stays well-defined. Failures before any finite
    loss wait until one arrives. A pruned trial is told its value when it stopped
    (``pruned_told`` "last") or, like a failure, the worst loss ("worst");
    benchmarks/pruned_told.py compares the two.

    With several ``goals`` (a study of several metrics) the loss told is a tuple, one
    component per metric in the spec's order (minimised metrics as they are, maximised ones
    negated), read from the trial's ``values``; a failure, or a trial missing a finite value
    of one of them, is told the worst of each component seen so far, with the same waiting
    rule. One metric tells a float, exactly as before.
    """

    strategy: Strategy
    space: SearchSpace
    direction: Direction
    pruned_told: str = "last"
    worst_loss: Loss | None = None
    waiting_penalties: list[dict[str, Any]] = field(default_factory=list)
    goals: tuple[MetricGoal, ...] = ()

    def tuned(self, params: dict[str, Any]) -> dict[str, Any]:
        return {name: params[name] for name in self.space.names}

    def _loss(
        self, state: TrialState, value: float | None, values: Mapping[str, float] | None
    ) -> Loss | None:
        """What a complete or pruned trial is told, or None when it has no finite loss."""
        if state not in (TrialState.PRUNED, TrialState.COMPLETE):
            return None
        if len(self.goals) <= 1:
            finite = value is not None and math.isfinite(value)
            return self.direction.sign * value if finite else None  # type: ignore[operator]
        numbers = [(values or {}).get(goal.name) for goal in self.goals]
        if any(number is None or not math.isfinite(number) for number in numbers):
            return None
        return tuple(
            goal.direction.sign * number  # type: ignore[operator]
            for goal, number in zip(self.goals, numbers, strict=True)
        )

    def tell(
        self,
        params: dict[str, Any],
        state: TrialState,
        value: float | None,
        record_only: bool = False,
        values: Mapping[str, float] | None = None,
    ) -> None:
        """Tell the strategy; ``record_only`` keeps the bookkeeping (worst loss, penalties
        waiting for one) for a trial a restored snapshot has already told. ``values`` (every
        metric by name) is read only for a study of several metrics."""
        tell = (lambda *_, **__: None) if record_only else self.strategy.tell
        loss = self._loss(state, value, values)
        if loss is not None:
            # A pruned trial's value is a real (partial) observation too: it joins the worst
            # loss, so a failure is never told a better score than a trial that was cut.
            self.worst_loss = loss if self.worst_loss is None else _worse(self.worst_loss, loss)
            told_worst = state == TrialState.PRUNED and self.pruned_told == "worst"
            tell(self.tuned(params), self.worst_loss if told_worst else loss)
            for waiting in self.waiting_penalties:
                tell(self.tuned(waiting), self.worst_loss, failed=True)
            self.waiting_penalties.clear()
        elif self.worst_loss is None:
            self.waiting_penalties.append(params)
        else:
            tell(self.tuned(params), self.worst_loss, failed=True)
