"""Grid search: every combination of a few levels per numeric dimension and every choice."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from tuning_core.engine.space import Scalar, SearchSpace
from tuning_core.engine.strategies.protocol import Loss


class GridStrategy:
    """Every combination of ``levels`` points per numeric dimension and every choice."""

    def __init__(self, space: SearchSpace, levels: int) -> None:
        self.space = space
        axes = [dimension.grid(levels) for dimension in space.dimensions]
        self._points: Iterator[tuple[Scalar, ...]] = itertools.product(*axes)

    def ask(self) -> dict[str, Scalar] | None:
        point = next(self._points, None)
        return None if point is None else dict(zip(self.space.names, point, strict=True))

    def tell(self, params: dict[str, Scalar], loss: Loss, failed: bool = False) -> None:
        pass
