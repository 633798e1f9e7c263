"""What every pruner shares: the curves it reads, the decision it records, the guides it draws,
the plan it shows, and the small protocol each rule implements (:class:`Pruner`).

Epochs are 0-based as stored; "epochs done" after epoch ``e`` is ``e + 1``. A trial's value at
an epoch is its best value so far (running max or min), which smooths a noisy validation curve
and matches how a trial's final value is taken (its best epoch).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from tuning_core.engine.errors import SpecError, brief
from tuning_core.engine.states import Direction, TrialState

# What the strategy is told about a pruned trial (benchmarks/pruned_told.py measured both).
TELL_CHOICES = ("last", "worst")
DEFAULT_TELL = "last"


@dataclass(frozen=True)
class Curve:
    """One trial's stored curve of the study's metric: epoch -> value."""

    number: int
    state: TrialState
    values: dict[int, float]
    # Picks the Hyperband bracket: the trial's place among the study's original (not retried)
    # trials, so a retry keeps its original's bracket and interruptions shift no other trial.
    bracket_key: int
    # best_until's answers: a finished trial's curve is read once and asked at every rung.
    _best: dict[tuple[int, Direction], float | None] = field(
        default_factory=dict, compare=False, repr=False
    )

    def best_until(self, epoch: int, direction: Direction) -> float | None:
        """The best finite value at epochs up to ``epoch``; None unless ``epoch`` itself has
        finished (a trial that has not reached an epoch is not compared there)."""
        key = (epoch, direction)
        if key not in self._best:
            seen = [v for e, v in self.values.items() if e <= epoch and math.isfinite(v)]
            self._best[key] = direction.best(seen) if seen and epoch in self.values else None
        return self._best[key]


def bracket_keys(retry_of: Mapping[int, int | None]) -> dict[int, int]:
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
        why = Pruner.types[self.rule].reason(self)
        return (
            f"pruned at epoch {self.epoch + 1}: {metric} {self.value:.4g} was worse than the "
            f"cut-off {self.cutoff:.4g} ({why})"
        )


@dataclass(frozen=True)
class Guide:
    """A line a pruner draws behind the curves: a ``rung`` (a vertical rule at ``epoch``,
    value NaN) or a ``median`` point (the cut-off at ``epoch``, in the study's metric)."""

    kind: str
    epoch: int  # 0-based
    value: float
    label: str
    why: str  # a sentence for the tooltip


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


class Pruner:
    """The protocol of an early-stopping rule. Each subclass is one rule, a frozen dataclass
    of its options; ``Pruner.types`` maps each ``type`` to its class.

    A decision is a pure function of finished epochs (the trial's own curve and the other
    trials'), so it is the same after a resume and with workers running side by side: an
    epoch's row is written only once that epoch has finished.
    """

    types: ClassVar[dict[str, type[Pruner]]] = {}
    type: ClassVar[str]
    label: ClassVar[str]  # for menus: "Median rule"
    help: ClassVar[str]  # one sentence, for the New-study page
    short: ClassVar[str]  # a race's strategy label suffix: "random-sh"
    in_title: ClassVar[str]  # a race's strategy title: "Random + successive halving"
    option_keys: ClassVar[tuple[str, ...]]  # the options it takes, besides its type
    defaults: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Pruner.types[cls.type] = cls

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        """The rule with a parsed spec's options (a missing one takes its default)."""
        return cls(**{key: options[key] for key in cls.option_keys if key in options})

    @classmethod
    def parse_options(
        cls, raw: Mapping[str, Any], most_epochs: int, epochs_source: str, max_trials: int
    ) -> dict[str, Any]:
        """The spec's ``pruner`` object checked and filled in (its options, in stored order,
        without ``type``), or SpecError in one sentence naming the field. ``most_epochs`` is
        the most epochs a trial can train, set by ``epochs_source`` (a spec field)."""
        raise NotImplementedError

    @classmethod
    def reason(cls, decision: PruneDecision) -> str:
        """Why the cut-off of ``decision`` applied, for its sentence."""
        raise NotImplementedError

    def decides_after(self, epoch: int) -> bool:
        """Whether the rule can stop some trial after ``epoch``: everywhere else should_prune
        reads nothing."""
        raise NotImplementedError

    def decide(
        self, direction: Direction, trial: Curve, epoch: int, others: list[Curve]
    ) -> PruneDecision | None:
        """Whether ``trial`` stops after ``epoch``; None means it goes on. ``others`` are the
        study's trials as stored (any state, ``trial`` itself may be among them); only their
        finished epochs are read."""
        raise NotImplementedError

    def guides(self, direction: Direction, curves: list[Curve]) -> list[Guide]:
        """What the rule measures trials against, to draw behind the study's curves."""
        raise NotImplementedError

    def epoch_fraction(self) -> float:
        """The share of a full search's epochs a pruned search trains, if trials arrive in
        random order of quality: for the run-time estimate, not a promise."""
        raise NotImplementedError

    def plan(self, trials: int) -> list[PlanStage]:
        """What the rule will do with ``trials`` trials, before any run (empty when its cuts
        depend on the scores)."""
        return []


def parse_common(
    cls: type[Pruner], raw: Mapping[str, Any], most_epochs: int, epochs_source: str
) -> tuple[int, str]:
    """The checks every rule shares, in the order a spec reports them: unknown keys, enough
    epochs to prune, ``max_epochs`` and ``tell``; returns max_epochs and tell."""
    keys = {"type", *cls.option_keys}
    unknown = sorted(set(raw) - keys)
    expect(
        not unknown,
        f"pruner.{unknown[0] if unknown else ''} is not a key of the {cls.type} pruner; use "
        f"{', '.join(sorted(keys - {'type'}))}.",
    )
    expect(
        most_epochs >= 2,
        f"pruner.type {cls.type} stops trials between epochs, so it needs at least 2 epochs a "
        f"trial; set {epochs_source} to 2 or more.",
    )
    max_epochs = whole_number(raw, "max_epochs", most_epochs, 2, most_epochs)
    tell = raw.get("tell", DEFAULT_TELL)
    expect(
        tell in TELL_CHOICES,
        f"pruner.tell must be one of {', '.join(TELL_CHOICES)}, not {brief(tell)}.",
    )
    return max_epochs, tell


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise SpecError(message)


def whole_number(raw: Mapping[str, Any], key: str, default: int, minimum: int, maximum: int) -> int:
    """``pruner.<key>``: a whole number in range; missing or null takes the default. The
    sentence is spec.py's for every whole-number field."""
    value = raw.get(key)
    value = default if value is None else value
    expect(
        isinstance(value, int) and not isinstance(value, bool) and minimum <= value <= maximum,
        f"pruner.{key} must be a whole number from {minimum} to {maximum:,}, not {brief(value)}.",
    )
    return value


@dataclass(frozen=True)
class NoPruner(Pruner):
    """No early stopping: every trial trains all its epochs."""

    type: ClassVar[str] = "none"
    label: ClassVar[str] = "None"
    help: ClassVar[str] = "Every trial trains all its epochs."
    short: ClassVar[str] = ""
    in_title: ClassVar[str] = ""
    option_keys: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def parse_options(
        cls, raw: Mapping[str, Any], most_epochs: int, epochs_source: str, max_trials: int
    ) -> dict[str, Any]:
        expect(set(raw) <= {"type"}, "pruner: a pruner of type none takes no other keys.")
        return {}

    def decides_after(self, epoch: int) -> bool:
        return False

    def decide(
        self, direction: Direction, trial: Curve, epoch: int, others: list[Curve]
    ) -> PruneDecision | None:
        return None

    def guides(self, direction: Direction, curves: list[Curve]) -> list[Guide]:
        return []

    def epoch_fraction(self) -> float:
        return 1.0
