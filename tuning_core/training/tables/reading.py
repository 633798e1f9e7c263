"""Which dataset is a table, and reading whichever kind it is: a CSV file, an .npz of 2-D
arrays, or a folder holding one. ``names_table`` decides from headers alone, without reading
the data.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from tuning_core.training.tables.arrays import npz_is_table, read_npz_table
from tuning_core.training.tables.csv_file import read_csv
from tuning_core.training.tables.table import Table


def is_table_path(dataset: str) -> bool:
    """Whether a dataset names a CSV file (an .npz is a table when its x arrays are 2-D)."""
    return dataset.lower().endswith(".csv")


def read_table(dataset: str) -> Table:
    """The table a spec's dataset names: a CSV file, an .npz file or a folder holding one."""
    path = Path(dataset).expanduser()
    if is_table_path(dataset):
        return read_csv(path, dataset)
    if path.is_dir():
        found = sorted(path.glob("*.npz"))
        path = found[0] if found else path
    return read_npz_table(path, dataset)


def names_table(dataset: str) -> bool:
    """Whether a dataset path is a table (a CSV, or an .npz whose x is 2-D), from headers."""
    if is_table_path(dataset):
        return True
    path = Path(dataset).expanduser()
    if path.is_dir():
        found = sorted(path.glob("*.npz"))
        if not found or any(path.glob("*-idx3-ubyte*")):
            return False
        path = found[0]
    if not (path.is_file() and path.suffix == ".npz"):
        return False
    try:
        return npz_is_table(path)
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        return False  # the image loader says what is wrong with it
