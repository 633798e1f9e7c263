"""The strategy interface: ``ask()`` proposes params, ``tell()`` learns their loss.

Every strategy minimises: the study loop negates values of maximised metrics before telling.
A single-metric study tells one float; a multi-metric study tells a tuple of losses, one per
metric in the spec's order, each to be minimised (see :data:`Loss`).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from tuning_core.engine.space import Scalar

# What a tell carries: one loss, or one loss per metric (a multi-metric study), each minimised.
Loss = float | tuple[float, ...]


class Strategy(Protocol):
    def ask(self) -> dict[str, Scalar] | None:
        """The next tuned params to try, or None when the strategy has nothing left."""

    def tell(self, params: dict[str, Scalar], loss: Loss, failed: bool = False) -> None:
        """Record the (finite) loss of params that ``ask`` proposed, a float or a tuple of one
        loss per metric; ``failed`` says the trial failed or diverged and ``loss`` is the
        penalty the study chose for it."""


@runtime_checkable
class SnapshotStrategy(Strategy, Protocol):
    """A strategy whose state is worth keeping: replaying it costs a surrogate fit a trial."""

    def snapshot(self) -> bytes: ...

    def restore(self, blob: bytes) -> None: ...


def python_scalar(value: Any) -> Scalar:
    """numpy scalars to plain Python, so params serialise to JSON unchanged."""
    if isinstance(value, np.generic):
        return value.item()
    return value
