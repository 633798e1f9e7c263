"""Readers of one spec field each: a value that breaks the field's rule raises
:class:`SpecError` with one sentence naming the field. Shared by every spec parser."""

from __future__ import annotations

import math
from typing import Any

from tuning_core.engine.errors import SpecError, brief

MAX_EXAMPLES = 100_000_000  # a batch size or a train limit, in examples


def expect(condition: bool, message: str) -> None:
    """Raise ``SpecError(message)`` unless ``condition`` holds."""
    if not condition:
        raise SpecError(message)


def int_field(
    raw: dict[str, Any], key: str, field: str, default: Any, minimum: int, maximum: int
) -> Any:
    """A whole number from ``minimum`` to ``maximum``, or None when missing or null and the
    default is None."""
    value = raw.get(key, default)
    if value is None:
        return None
    expect(
        isinstance(value, int) and not isinstance(value, bool) and minimum <= value <= maximum,
        f"{field}.{key} must be a whole number from {minimum} to {maximum:,}, not {brief(value)}.",
    )
    return value


def count_field(
    raw: dict[str, Any], key: str, field: str, default: int, minimum: int, maximum: int
) -> int:
    """A whole number that always has a value: missing or null takes the default."""
    value = raw.get(key)
    return int_field(
        {key: default if value is None else value}, key, field, default, minimum, maximum
    )


def is_finite_number(value: Any) -> bool:
    """A real number, not a bool, NaN or infinity."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
