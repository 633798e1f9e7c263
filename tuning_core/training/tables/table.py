"""A table as read, before any preparation: its typed columns, and the sentence helpers that
name a column or the dataset when something in it is refused.

A column's ``kind`` (bool, integer, float or text) is what the preparation and the checks go
by; ``_json_value`` writes a class or category back as that kind, so the stored preparation
(plain JSON) reads the same after a round trip.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tuning_core.engine.memory import dataset_words


@dataclass
class TableColumn:
    """One column as read: ``kind`` is bool, integer, float or text; ``values`` float64
    (NaN where missing) for the first three, an object array of str (None where missing)
    for text."""

    name: str
    kind: str
    values: np.ndarray
    missing: np.ndarray  # bool mask

    @property
    def numeric(self) -> bool:
        return self.kind in ("integer", "float")

    def present(self) -> np.ndarray:
        return self.values[~self.missing]

    def first_missing_row(self) -> int:
        """The 1-based data row of the first missing value (the header is row 0)."""
        return int(np.argmax(self.missing)) + 1


@dataclass
class Table:
    """A table as read, before any preparation."""

    source: str  # the dataset as the spec names it, for error sentences
    columns: list[TableColumn]
    rows: int
    kind: str  # csv or npz

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]

    def column(self, name: str) -> TableColumn | None:
        return next((column for column in self.columns if column.name == name), None)


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" + ("" if number == 1 else "s")


def _field(source: str) -> str:
    return f"objective.dataset: {dataset_words(source)}"


def _json_value(value: Any, kind: str) -> Any:
    """A class or category as JSON keeps it: bool, int, float or str."""
    if kind == "bool":
        return bool(value)
    if kind == "integer":
        return int(value)
    if kind == "float":
        return float(value)
    return str(value)
