"""Reading a CSV safely: its size checked against the memory limit before it is read, its text
decoded as UTF-8, and each column typed (bool, integer, float or text) or refused in one
sentence naming the column.

The standard library reads it (no pandas), so the worker and the dashboard's upload preview
read a file the same way.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
from collections import Counter
from pathlib import Path

import numpy as np
import psutil

from tuning_core.engine.errors import DatasetError, SpecError, brief
from tuning_core.engine.memory import default_memory_limit, size_words
from tuning_core.training.tables.table import Table, TableColumn, _field

# How a cell reads as missing, case aside.
MISSING_TEXT = frozenset({"", "na", "n/a", "nan", "null", "none"})
BOOL_TEXT = {"true": True, "false": False}
# Reading a CSV holds its bytes, its text, and per cell a Python string and a float: measured
# 123 bytes a cell at the peak for 600,000 numeric cells, so 130 plus the file twice.
BYTES_PER_CELL = 130
# Lines sampled from the head of a CSV to estimate its rows before it is read.
SAMPLE_BYTES = 1 << 16
# A dataset may take at most this share of the memory free when it loads (as images do).
DATASET_MEMORY_SHARE = 0.5
# Divergence: a loss over this many times the loss of a model that knows nothing (uniform


def memory_limit_bytes() -> int:
    """What a dataset may take: half the free memory, and at most $TUNING_LAB_MEMORY_LIMIT."""
    limit = int(psutil.virtual_memory().available * DATASET_MEMORY_SHARE)
    with contextlib.suppress(SpecError):  # a malformed limit is reported where a study starts
        limit = min(limit, default_memory_limit())
    return limit


def csv_estimate(path: Path) -> tuple[int, int, int]:
    """(rows, columns, bytes needed to read) of a CSV, from its size and its first 64 kB."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    lines = head.splitlines()
    if not lines:
        return 0, 0, size
    columns = len(next(csv.reader([lines[0].decode("utf-8", errors="replace")]), []))
    body = lines[1:-1] if len(head) == SAMPLE_BYTES else lines[1:]
    per_line = (sum(len(line) + 1 for line in body) / len(body)) if body else size
    rows = int(math.ceil(max(size - len(lines[0]) - 1, 0) / max(per_line, 1.0)))
    return rows, columns, 2 * size + rows * max(columns, 1) * BYTES_PER_CELL


def check_csv_fits(path: Path, source: str) -> None:
    """Refuse, before the file is read, a CSV whose reading would pass the memory limit."""
    rows, columns, needed = csv_estimate(path)
    limit = memory_limit_bytes()
    if needed > limit:
        raise DatasetError(
            f"{_field(source)} is {size_words(path.stat().st_size)} (about {rows:,} rows of "
            f"{columns:,} columns), which needs about {size_words(needed)} to read, over the "
            f"{size_words(limit)} this process may use (half the free memory, or "
            "$TUNING_LAB_MEMORY_LIMIT); use fewer rows or a higher limit."
        )


def read_csv(path: str | Path, source: str | None = None) -> Table:
    """A CSV file with a header row, read and typed column by column (see :class:`Table`)."""
    path = Path(path).expanduser()
    source = source or str(path)
    if not path.is_file():
        raise DatasetError(f"{_field(source)} does not exist; give the path of a .csv file.")
    check_csv_fits(path, source)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise DatasetError(
            f"{_field(source)} is not UTF-8 text (byte {data[error.start]:#04x} on line {line}); "
            "save it as UTF-8 (in a spreadsheet: CSV UTF-8)."
        ) from None
    del data
    return table_from_csv_text(text, source)


def table_from_csv_text(text: str, source: str) -> Table:
    """A table from a CSV's text (the upload preview reads the same way the worker does)."""
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        raise DatasetError(f"{_field(source)} is not a readable CSV ({error}).") from None
    rows = [row for row in rows if row]  # blank lines carry nothing
    if not rows:
        raise DatasetError(f"{_field(source)} is empty; it needs a header row and data rows.")
    header = [name.strip() for name in rows[0]]
    body = rows[1:]
    if not body:
        raise DatasetError(f"{_field(source)} has a header but no rows of data; add the data rows.")
    for index, name in enumerate(header):
        if not name:
            raise DatasetError(
                f"{_field(source)}: column {index + 1} of the header has no name; name it."
            )
    duplicates = [name for name, count in Counter(header).items() if count > 1]
    if duplicates:
        raise DatasetError(
            f"{_field(source)}: the header names the column {brief(duplicates[0])} twice; "
            "give each column its own name."
        )
    for number, row in enumerate(body, start=1):
        if len(row) != len(header):
            raise DatasetError(
                f"{_field(source)}: data row {number} has {len(row)} fields, but the header "
                f"has {len(header)}; every row needs one value per column."
            )
    columns = [
        _typed_column(source, name, [row[index] for row in body])
        for index, name in enumerate(header)
    ]
    return Table(source, columns, len(body), "csv")


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _typed_column(source: str, name: str, cells: list[str]) -> TableColumn:
    """Type one CSV column: bool, integer, float or text; a mix of numbers and text refused."""
    stripped = [cell.strip() for cell in cells]
    missing = np.array([cell.lower() in MISSING_TEXT for cell in stripped], dtype=bool)
    present = [cell for cell, gone in zip(stripped, missing, strict=True) if not gone]
    if present and all(cell.lower() in BOOL_TEXT for cell in present):
        values = np.array(
            [
                math.nan if gone else float(BOOL_TEXT[cell.lower()])
                for cell, gone in zip(stripped, missing, strict=True)
            ]
        )
        return TableColumn(name, "bool", values, missing)
    numbers = [_number(cell) for cell in present]
    readable = sum(value is not None for value in numbers)
    if present and readable == len(present):
        values = np.full(len(stripped), math.nan)
        values[~missing] = numbers
        whole = bool(np.all(values[~missing] == np.round(values[~missing])))
        return TableColumn(name, "integer" if whole else "float", values, missing)
    if readable:
        number_at = next(i for i, value in enumerate(numbers) if value is not None)
        text_at = next(i for i, value in enumerate(numbers) if value is None)
        raise DatasetError(
            f"{_field(source)}: column {brief(name)} mixes numbers and text (such as "
            f"{brief(present[number_at])} and {brief(present[text_at])}); make every value a "
            "number, or every value text."
        )
    values = np.array(
        [None if gone else cell for cell, gone in zip(stripped, missing, strict=True)], dtype=object
    )
    return TableColumn(name, "text", values, missing)
