"""A hyperparameter's control on the New-study form: :class:`Control` (fixed at one value, or
tuned over a range or a set) and the values a numeric slider offers, in the words it shows.
Pure; no Streamlit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from tuning_core.engine import hyperparams


def format_number(value: float) -> str:
    """1e-05 -> '0.00001'; 0.0005 -> '0.0005'; 1.0 -> '1'; 512 -> '512'."""
    if value == 0:
        return "0"
    if float(value).is_integer():
        return str(int(value))
    decimals = max(0, -math.floor(math.log10(abs(value)))) + 2
    return f"{value:.{decimals}f}".rstrip("0").rstrip(".")


@dataclass
class Control:
    """One hyperparameter's setting on the form."""

    name: str
    tuned: bool
    value: Any = None  # fixed value
    low: Any = None  # tuned numeric range
    high: Any = None
    values: list[Any] | None = None  # tuned choice set
    log: bool | None = None  # a range's scale; None: the registry's, where the range allows

    def to_space_entry(self) -> Any:
        if not self.tuned:
            return self.value
        if self.values is not None:
            return {"type": "choice", "values": list(self.values)}
        entry = hyperparams.REGISTRY[self.name]
        kind = "int" if entry.kind == "int" else "float"
        # A log range cannot start at 0 (l2's ladder does): such a range is searched linearly.
        log = (entry.log if self.log is None else self.log) and float(self.low) > 0
        low, high = (
            (int(self.low), int(self.high))
            if kind == "int"
            else (float(self.low), float(self.high))
        )
        return {"type": kind, "low": low, "high": high, "log": log}


def value_ladder(entry: hyperparams.HyperParameter) -> tuple[float, ...]:
    """The values a numeric control offers: its ladder, or its slider's steps."""
    if entry.ladder:
        return entry.ladder
    low, high, step = entry.slider
    steps = round((high - low) / step)
    values = (round(low + index * step, 10) for index in range(steps + 1))
    return tuple(int(v) if entry.kind == "int" else float(v) for v in values)


def slider_options(ladder: tuple[float, ...], *loaded: Any) -> list[Any]:
    """A select slider's values: the ladder plus any loaded value that is not on it, so a
    spec with, say, a learning rate of 0.0003 loads exactly."""
    extra = [value for value in loaded if isinstance(value, (int, float)) and value not in ladder]
    return sorted({*ladder, *extra})
