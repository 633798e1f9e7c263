"""What the pages may name of the engine: its errors and states, the choices a spec offers, the
hyperparameter registry, the pruners and a race's limits.

Pages import these from here and nothing from ``tuning_core.engine`` (tests/test_architecture.py),
so the engine's modules can move without touching a page: this list is the engine's surface
the UI draws. Each name is the engine's own object, re-exported, not a copy.
"""

from __future__ import annotations

from tuning_core.engine import hyperparams
from tuning_core.engine.errors import SpecError
from tuning_core.engine.hyperparams import HyperParameter
from tuning_core.engine.pruners import PRUNERS, pruner_class
from tuning_core.engine.race_spec import MAX_SEEDS, parse_race_spec
from tuning_core.engine.spec import (
    ACQUISITIONS,
    DEFAULT_BAYESIAN,
    MAX_GRID_LEVELS,
    MAX_TRIALS,
    STRATEGIES,
    SURROGATES,
)
from tuning_core.engine.states import StudyStatus, TrialState

__all__ = [
    "ACQUISITIONS",
    "DEFAULT_BAYESIAN",
    "MAX_GRID_LEVELS",
    "MAX_SEEDS",
    "MAX_TRIALS",
    "PRUNERS",
    "STRATEGIES",
    "SURROGATES",
    "HyperParameter",
    "SpecError",
    "StudyStatus",
    "TrialState",
    "hyperparams",
    "parse_race_spec",
    "pruner_class",
]
