"""Random search: independent, seeded draws from each dimension."""

from __future__ import annotations

import math

import numpy as np

from tuning_core.engine.space import ChoiceDimension, NumericDimension, Scalar, SearchSpace
from tuning_core.engine.strategies.protocol import Loss


class RandomStrategy:
    """Independent draws from each dimension (log-uniform for log dimensions), seeded."""

    def __init__(self, space: SearchSpace, seed: int) -> None:
        self.space = space
        self.rng = np.random.default_rng(seed)

    def _draw(self, dimension: NumericDimension | ChoiceDimension) -> Scalar:
        if isinstance(dimension, ChoiceDimension):
            return dimension.values[int(self.rng.integers(len(dimension.values)))]
        if dimension.kind == "int" and not dimension.log:
            return int(self.rng.integers(int(dimension.low), int(dimension.high) + 1))
        if dimension.log:
            value = math.exp(self.rng.uniform(math.log(dimension.low), math.log(dimension.high)))
        else:
            value = float(self.rng.uniform(dimension.low, dimension.high))
        if dimension.kind == "int":
            return int(min(max(round(value), dimension.low), dimension.high))
        return value

    def ask(self) -> dict[str, Scalar] | None:
        return {dimension.name: self._draw(dimension) for dimension in self.space.dimensions}

    def tell(self, params: dict[str, Scalar], loss: Loss, failed: bool = False) -> None:
        pass
