"""Search strategies behind one interface: ``ask()`` proposes params, ``tell()`` learns a loss.

One module per idea: protocol.py (the interface, and what a tell carries), grid.py,
random_search.py, bayesian.py (scikit-optimize behind one adapter, the only module that
imports it), parego.py (several losses scalarised for it), feasibility.py (the failure model
beside its surrogate) and ask_records.py (what it knew at each ask, for "Why this point?").
This package re-exports their public names, so ``tuning_core.engine.strategies`` stays the
one import path; :func:`make_strategy` builds a spec's strategy.
"""

from __future__ import annotations

from typing import Any

from tuning_core.engine.space import Scalar, SearchSpace
from tuning_core.engine.strategies.ask_records import (
    AskRecord,
    ask_facts,
    ask_record,
    ask_record_from_facts,
    load_ask_record,
)
from tuning_core.engine.strategies.bayesian import (
    GP_ACQUISITION_OPTIMIZER,
    GP_KERNEL_FIT_RESTARTS,
    GP_KERNEL_REFIT_EVERY,
    SCALARISED_FITS,
    BayesianStrategy,
    import_scikit_optimize,
)
from tuning_core.engine.strategies.feasibility import (
    FAILURE_MODES,
    FEASIBILITY_BANDWIDTH,
    FEASIBILITY_CANDIDATES,
    FEASIBILITY_PRIOR,
    FEASIBLE_AT,
    SAFE_AT,
    Feasibility,
    feasibility_model,
)
from tuning_core.engine.strategies.grid import GridStrategy
from tuning_core.engine.strategies.parego import PAREGO_RHO, parego_weights, ranks, scalarise
from tuning_core.engine.strategies.protocol import Loss, SnapshotStrategy, Strategy
from tuning_core.engine.strategies.random_search import RandomStrategy

__all__ = [
    "FAILURE_MODES",
    "FEASIBILITY_BANDWIDTH",
    "FEASIBILITY_CANDIDATES",
    "FEASIBILITY_PRIOR",
    "FEASIBLE_AT",
    "GP_ACQUISITION_OPTIMIZER",
    "GP_KERNEL_FIT_RESTARTS",
    "GP_KERNEL_REFIT_EVERY",
    "PAREGO_RHO",
    "SAFE_AT",
    "SCALARISED_FITS",
    "AskRecord",
    "BayesianStrategy",
    "Feasibility",
    "GridStrategy",
    "Loss",
    "RandomStrategy",
    "SnapshotStrategy",
    "Strategy",
    "ask_facts",
    "ask_record",
    "ask_record_from_facts",
    "ask_with_pending",
    "feasibility_model",
    "import_scikit_optimize",
    "load_ask_record",
    "make_strategy",
    "parego_weights",
    "ranks",
    "scalarise",
]


def ask_with_pending(
    strategy: Strategy, pending: list[dict[str, Scalar]]
) -> dict[str, Scalar] | None:
    """The strategy's next params while ``pending`` ones run: grid and random proposals never
    repeat a pending one on their own; a Bayesian search believes its own prediction for
    them (see :meth:`BayesianStrategy.ask_with_pending`)."""
    if isinstance(strategy, BayesianStrategy):
        return strategy.ask_with_pending(pending)
    return strategy.ask()


def make_strategy(space: SearchSpace, config: dict[str, Any]) -> Strategy:
    """Build the strategy that a spec's ``strategy`` object (already validated) names."""
    kind = config["type"]
    if kind == "grid":
        return GridStrategy(space, int(config["levels"]))
    if kind == "random":
        return RandomStrategy(space, int(config["seed"]))
    return BayesianStrategy(
        space,
        config["surrogate"],
        config["acquisition"],
        int(config["initial_points"]),
        int(config["seed"]),
    )
