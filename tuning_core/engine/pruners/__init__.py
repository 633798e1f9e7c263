"""Early stopping across trials: the median rule, asynchronous successive halving and Hyperband.

A pruner decides, after each of a trial's epochs, whether the trial goes on. Each rule is one
class behind the :class:`Pruner` protocol (pruners/base.py), owning its options and their
checks, its label and one-sentence help, its decision, its rungs or brackets, the guide lines
it draws and its plan: :class:`MedianRule` (median.py), :class:`SuccessiveHalving` and
:class:`Hyperband` (halving.py), and :class:`NoPruner`. A spec keeps a rule as its ``type`` and
options; :func:`pruner_for` makes the rule from them. pruners/curves.py reads the store for
the decisions a running trial asks for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tuning_core.engine.errors import brief
from tuning_core.engine.pruners.base import (
    DEFAULT_TELL,
    TELL_CHOICES,
    Curve,
    Guide,
    NoPruner,
    PlanStage,
    PruneDecision,
    Pruner,
    bracket_keys,
    expect,
)
from tuning_core.engine.pruners.curves import StudyCurves, StudyPruning, read_curves
from tuning_core.engine.pruners.halving import Hyperband, SuccessiveHalving, rung_epochs
from tuning_core.engine.pruners.median import MedianRule

__all__ = [
    "DEFAULT_PRUNER",
    "OPTION_KEYS",
    "PRUNERS",
    "TELL_CHOICES",
    "Curve",
    "Guide",
    "Hyperband",
    "MedianRule",
    "NoPruner",
    "PlanStage",
    "PruneDecision",
    "Pruner",
    "StudyCurves",
    "StudyPruning",
    "SuccessiveHalving",
    "bracket_keys",
    "bracket_of",
    "expected_epoch_fraction",
    "parse_pruner",
    "pruner_for",
    "pruner_class",
    "read_curves",
    "rung_epochs",
]

# Every rule's type, in the order menus list them.
PRUNERS = ("none", "median", "successive_halving", "hyperband")
assert set(PRUNERS) == set(Pruner.types), "every rule is listed once"
# The options each rule takes, besides its type (each class's option_keys).
OPTION_KEYS: dict[str, tuple[str, ...]] = {kind: Pruner.types[kind].option_keys for kind in PRUNERS}
# Each option's default (each class's defaults): for spec.py until it calls parse_pruner.
DEFAULT_PRUNER: dict[str, Any] = {
    **MedianRule.defaults,
    **SuccessiveHalving.defaults,
    "tell": DEFAULT_TELL,
}


def pruner_class(kind: str) -> type[Pruner]:
    """The class of the rule named ``kind`` (a spec's ``pruner.type``)."""
    return Pruner.types[kind]


def pruner_for(options: Mapping[str, Any]) -> Pruner:
    """The rule a parsed spec's ``pruner`` names (its ``type`` and options; a missing type is
    none)."""
    return pruner_class(options.get("type", "none")).from_options(options)


def parse_pruner(
    raw: Any, most_epochs: int, epochs_source: str, max_trials: int
) -> tuple[str, dict[str, Any]]:
    """A spec's ``pruner`` object checked and filled in: its type and its options, in stored
    order; or SpecError in one sentence naming the field. ``most_epochs`` is the most epochs a
    trial can train, set by the spec field ``epochs_source``; ``max_trials`` bounds
    ``warmup_trials``."""
    raw = {"type": "none"} if raw is None else raw
    expect(
        isinstance(raw, dict),
        f"pruner must be an object with a type of {', '.join(PRUNERS)}.",
    )
    kind = raw.get("type", "none")
    expect(kind in PRUNERS, f"pruner.type must be one of {', '.join(PRUNERS)}, not {brief(kind)}.")
    return kind, pruner_class(kind).parse_options(raw, most_epochs, epochs_source, max_trials)


def expected_epoch_fraction(options: Mapping[str, Any]) -> float:
    """The share of a full search's epochs the spec's pruner trains (see Pruner.epoch_fraction)."""
    return pruner_for(options).epoch_fraction()


def bracket_of(options: Mapping[str, Any], bracket_key: int) -> int:
    """The Hyperband bracket of a trial, from its bracket key (its place among the trials)."""
    return Hyperband.from_options(options).bracket_of(bracket_key)
