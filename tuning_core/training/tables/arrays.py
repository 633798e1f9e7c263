"""2-D arrays as a table: an .npz of x_train and y_train (or only x_test and y_test), or the
features and targets the API is given, as columns x1…xk and the target y.

The .npz itself is opened by ``training.datasets`` (its header, pickle and memory checks), so
those checks are written once.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from tuning_core.engine.errors import DatasetError
from tuning_core.training.tables.table import Table, TableColumn, _field


def _array_columns(source: str, x: np.ndarray, prefix: str) -> list[TableColumn]:
    """Columns ``prefix1``, ``prefix2``… of a 2-D numeric array (an .npz's or the API's)."""
    if x.dtype.kind not in "biuf":
        raise DatasetError(
            f"{_field(source)}: {prefix} must hold numbers, not {x.dtype}; encode text first."
        )
    columns = []
    for index in range(x.shape[1]):
        values = x[:, index].astype(np.float64)
        missing = ~np.isfinite(values)
        values[missing] = math.nan
        present = values[~missing]
        whole = x.dtype.kind in "biu" or bool(np.all(present == np.round(present)))
        kind = "bool" if x.dtype.kind == "b" else ("integer" if whole else "float")
        columns.append(TableColumn(f"{prefix}{index + 1}", kind, values, missing))
    return columns


def _target_column(source: str, y: np.ndarray) -> TableColumn:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DatasetError(
            f"{_field(source)}: y_train must be one value per row, not shape {y.shape}."
        )
    if y.dtype.kind in "US":
        values = np.array([str(value) for value in y], dtype=object)
        return TableColumn("y", "text", values, np.zeros(len(y), dtype=bool))
    column = _array_columns(source, y.reshape(-1, 1), "y")[0]
    column.name = "y"
    return column


def table_from_arrays(source: str, x: np.ndarray, y: np.ndarray, kind: str = "npz") -> Table:
    """A table from 2-D features and their targets: columns x1…xk and the target y."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise DatasetError(
            f"{_field(source)}: a table's x must be 2-D (rows, features), not shape {x.shape}."
        )
    if len(x) != len(y):
        raise DatasetError(f"{_field(source)}: x has {len(x)} rows but y has {len(y)}.")
    if len(x) == 0:
        raise DatasetError(f"{_field(source)} has no rows of data.")
    target = _target_column(source, y)
    return Table(source, [*_array_columns(source, x, "x"), target], len(x), kind)


def npz_is_table(path: Path) -> bool:
    """Whether an .npz's x_train (or x_test) is 2-D, read from its header alone."""
    from tuning_core.training.datasets.npz import npz_header_shapes  # noqa: PLC0415 - no cycle

    shapes = npz_header_shapes(path)
    shape = shapes.get("x_train") or shapes.get("x_test")
    return shape is not None and len(shape) == 2


def read_npz_table(path: Path, source: str) -> Table:
    """An .npz of 2-D x_train and y_train (or only x_test and y_test) as a table."""
    from tuning_core.training.datasets.folders import load_folder  # noqa: PLC0415 - no cycle

    arrays = load_folder(path)  # checks headers, pickles and the memory limit first
    split = "train" if "x_train" in arrays else "test"
    return table_from_arrays(source, arrays[f"x_{split}"], arrays[f"y_{split}"])
