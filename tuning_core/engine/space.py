"""Hyperparameter dimensions and the search space they form.

A space in the study spec maps each hyperparameter name to either a plain value (fixed)
or a dimension: ``{"type": "float"|"int", "low", "high", "log"}`` or
``{"type": "choice", "values": [...]}``. Parsing validates everything and raises
:class:`SpecError` with a sentence naming the field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from tuning_core.engine.errors import SpecError, brief

Scalar = int | float | str | bool


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class NumericDimension:
    """A float or int range; ``log`` means sampled and gridded on a log scale."""

    name: str
    kind: str  # "float" or "int"
    low: float
    high: float
    log: bool = False

    def grid(self, levels: int) -> list[Scalar]:
        """``levels`` points from low to high inclusive, log-spaced for log dimensions."""
        if levels == 1:
            points = [math.sqrt(self.low * self.high) if self.log else (self.low + self.high) / 2]
        elif self.log:
            ratio = (self.high / self.low) ** (1 / (levels - 1))
            points = [self.low * ratio**i for i in range(levels)]
            points[-1] = self.high
        else:
            step = (self.high - self.low) / (levels - 1)
            points = [self.low + step * i for i in range(levels)]
        if self.kind == "int":
            # Rounding can merge neighbouring levels of a narrow int range; keep each once.
            return list(dict.fromkeys(int(round(p)) for p in points))
        return [float(p) for p in points]

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind, "low": self.low, "high": self.high, "log": self.log}


@dataclass(frozen=True)
class ChoiceDimension:
    """A categorical dimension over strings or numbers."""

    name: str
    values: tuple[Scalar, ...]

    def grid(self, levels: int) -> list[Scalar]:
        return list(self.values)

    def to_json(self) -> dict[str, Any]:
        return {"type": "choice", "values": list(self.values)}


Dimension = NumericDimension | ChoiceDimension


@dataclass(frozen=True)
class SearchSpace:
    """Tuned dimensions (in spec order) plus fixed values."""

    dimensions: tuple[Dimension, ...]
    fixed: dict[str, Scalar]

    @property
    def names(self) -> list[str]:
        return [dimension.name for dimension in self.dimensions]

    def all_names(self) -> list[str]:
        return self.names + [name for name in self.fixed if name not in self.names]

    def dimension(self, name: str) -> Dimension | None:
        for dimension in self.dimensions:
            if dimension.name == name:
                return dimension
        return None

    def full_params(self, tuned: dict[str, Scalar]) -> dict[str, Scalar]:
        """The params a trial trains with: the fixed values plus the tuned ones."""
        return {**self.fixed, **tuned}

    def grid_size(self, levels: int) -> int:
        size = 1
        for dimension in self.dimensions:
            size *= len(dimension.grid(levels))
        return size

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {d.name: d.to_json() for d in self.dimensions}
        out.update(self.fixed)
        return out


def parse_dimension(name: str, raw: Any) -> Dimension | Scalar:
    """Parse one entry of ``space``: a dimension dict or a fixed plain value."""
    field = f"space.{name}"
    if isinstance(raw, (str, bool)) or _is_number(raw):
        return raw
    if not isinstance(raw, dict):
        raise SpecError(
            f"{field} must be a plain value (fixed) or an object with a type of float, int or "
            "choice."
        )
    kind = raw.get("type")
    if kind == "choice":
        values = raw.get("values")
        if not isinstance(values, list) or not values:
            raise SpecError(f"{field}.values must be a non-empty list of strings or numbers.")
        for value in values:
            if not (isinstance(value, (str, bool)) or _is_number(value)):
                raise SpecError(
                    f"{field}.values may hold only strings and numbers, not {brief(value)}."
                )
        if len(set(map(repr, values))) != len(values):
            raise SpecError(f"{field}.values must not repeat a value.")
        return ChoiceDimension(name, tuple(values))
    if kind in ("float", "int"):
        unknown = set(raw) - {"type", "low", "high", "log"}
        if unknown:
            raise SpecError(
                f"{field} has unknown key {brief(sorted(unknown)[0])}; use low, high and log."
            )
        low, high, log = raw.get("low"), raw.get("high"), raw.get("log", False)
        for key, value in (("low", low), ("high", high)):
            if not _is_number(value):
                raise SpecError(f"{field}.{key} must be a finite number, not {brief(value)}.")
            if kind == "int" and float(value) != int(value):
                raise SpecError(
                    f"{field}.{key} must be a whole number for an int dimension, not "
                    f"{brief(value)}."
                )
        if not isinstance(log, bool):
            raise SpecError(f"{field}.log must be true or false, not {brief(log)}.")
        if not math.isfinite(float(high) - float(low)):
            raise SpecError(
                f"{field}: the range from low to high must be narrower than about 1e308 "
                "(a float's largest finite width)."
            )
        if low > high:
            raise SpecError(f"{field}.low ({low}) must not be greater than {field}.high ({high}).")
        if log and low <= 0:
            raise SpecError(f"{field}.low must be greater than 0 for a log range, not {low}.")
        if low == high:
            return int(low) if kind == "int" else float(low)
        if kind == "int":
            return NumericDimension(name, kind, int(low), int(high), log)
        return NumericDimension(name, kind, float(low), float(high), log)
    raise SpecError(f"{field}.type must be one of float, int or choice, not {brief(kind)}.")


def parse_space(raw: Any, field: str = "space") -> SearchSpace:
    """Parse and validate the spec's ``space`` object."""
    if not isinstance(raw, dict) or not raw:
        raise SpecError(
            f"{field} must be a non-empty object mapping hyperparameter names to ranges or values."
        )
    dimensions: list[Dimension] = []
    fixed: dict[str, Scalar] = {}
    for name, entry in raw.items():
        parsed = parse_dimension(name, entry)
        if isinstance(parsed, (NumericDimension, ChoiceDimension)):
            dimensions.append(parsed)
        else:
            fixed[name] = parsed
    return SearchSpace(tuple(dimensions), fixed)
