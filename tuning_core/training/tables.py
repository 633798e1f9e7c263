"""Tables for Keras trials: a CSV file with a target column, or an .npz of 2-D feature arrays.

Nothing is transformed without being said. The preparation (standardising numeric columns,
one-hot encoding categorical ones, optional imputation) is fitted on the training split only
and kept as plain JSON parameters (``objective.preparation`` in the stored spec), so a resume,
a Dask worker and the exported script apply exactly the same thing; its ``summary`` lists
every step in one sentence. Bad data is refused in one sentence naming the column.

No pandas and no Keras here: the CSV is read with the standard library (so the loader runs in
the worker and the dashboard alike), and the arithmetic is numpy's.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import zipfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from tuning_core.engine.errors import DatasetError, SpecError, brief
from tuning_core.engine.memory import dataset_words, default_memory_limit, size_words
from tuning_core.engine.spec import StudySpec, parse_spec
from tuning_core.engine.spec_parts import KerasObjectiveSpec, ObjectiveSpec, TableSpec
from tuning_core.engine.tasks import (
    CLASSIFICATION,
    MAX_CLASSES,
    REGRESSION,
    default_metric,
    infer_task,
)

# One-hot encoding stops being sensible beyond this many categories in one column.
MAX_CATEGORIES = 50
# A text column whose values differ in at least this share of rows (of at least
# NEAR_UNIQUE_MIN_ROWS) is an identifier or free text: nothing a model can learn from.
NEAR_UNIQUE_SHARE = 0.9
NEAR_UNIQUE_MIN_ROWS = 10
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
# guessing for classes; predicting 0 for numbers) counts as blown up.
DIVERGENCE_FACTOR = 20.0


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


def is_table_path(dataset: str) -> bool:
    """Whether a dataset names a CSV file (an .npz is a table when its x arrays are 2-D)."""
    return dataset.lower().endswith(".csv")


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" + ("" if number == 1 else "s")


def _field(source: str) -> str:
    return f"objective.dataset: {dataset_words(source)}"


# Reading -------------------------------------------------------------------------------


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
    from tuning_core.training.datasets import npz_header_shapes  # noqa: PLC0415 - no cycle

    shapes = npz_header_shapes(path)
    shape = shapes.get("x_train") or shapes.get("x_test")
    return shape is not None and len(shape) == 2


def read_npz_table(path: Path, source: str) -> Table:
    """An .npz of 2-D x_train and y_train (or only x_test and y_test) as a table."""
    from tuning_core.training.datasets import load_folder  # noqa: PLC0415 - no cycle

    arrays = load_folder(path)  # checks headers, pickles and the memory limit first
    split = "train" if "x_train" in arrays else "test"
    return table_from_arrays(source, arrays[f"x_{split}"], arrays[f"y_{split}"])


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


# Preparation -------------------------------------------------------------------------


@dataclass
class PreparedTable:
    """Arrays ready for Keras, and the preparation (plain JSON) that made them."""

    x_train: np.ndarray  # (rows, features) float32
    y_train: np.ndarray  # int64 class indices, or float32 targets
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    preparation: dict[str, Any]

    @property
    def task(self) -> str:
        return self.preparation["task"]

    @property
    def num_classes(self) -> int:
        return len(self.preparation.get("classes") or [])

    @property
    def features(self) -> int:
        return int(self.preparation["features"])


def _json_value(value: Any, kind: str) -> Any:
    """A class or category as JSON keeps it: bool, int, float or str."""
    if kind == "bool":
        return bool(value)
    if kind == "integer":
        return int(value)
    if kind == "float":
        return float(value)
    return str(value)


def _target_labels(table: Table, target: TableColumn, task: str | None) -> tuple[str, str]:
    """The task (given or inferred) and how it was decided, checking the target can serve it."""
    field = f"objective.target: column {brief(target.name)}"
    if target.missing.any():
        raise DatasetError(
            f"{field} has {_count(int(target.missing.sum()), 'missing value')} (first in data row "
            f"{target.first_missing_row()}); every row needs a target."
        )
    distinct = len(set(target.values.tolist()))
    inferred = infer_task(target.kind, distinct)
    # A task given that matches the inference reads the same, so a stored spec (which holds
    # the task) prepares exactly as the spec it came from.
    chosen = task or inferred
    how = "inferred" if chosen == inferred else "as objective.task says"
    if chosen == REGRESSION and not target.numeric:
        raise DatasetError(
            f"objective.task regression needs a numeric target, but column {brief(target.name)} "
            f"holds {target.kind} values; use classification."
        )
    if chosen == CLASSIFICATION:
        if distinct < 2:
            raise DatasetError(
                f"{field} holds one class ({brief(_json_value(target.values[0], target.kind))}) "
                "in every row; a classifier "
                "needs at least two."
            )
        if distinct > MAX_CLASSES:
            raise DatasetError(
                f"{field} holds {distinct:,} different values, over the {MAX_CLASSES:,} classes "
                "a classifier may have; use regression."
            )
    return chosen, how


def _feature_problem(table: Table, column: TableColumn, impute: bool) -> str | None:
    """Why a feature column cannot be used, in one sentence naming it, or None."""
    field = f"{_field(table.source)}: column {brief(column.name)}"
    if column.missing.all():
        return f"{field} is empty in every row; drop it."
    if column.missing.any() and not impute:
        return (
            f"{field} has {_count(int(column.missing.sum()), 'missing value')} (first in data row "
            f"{column.first_missing_row()}); fill them in, drop the column, or set "
            "objective.impute to true (the training split's median or most common value)."
        )
    present = column.present()
    distinct = len(set(present.tolist()))
    if distinct == 1:
        shown = brief(_json_value(present[0], column.kind))
        return f"{field} holds one value ({shown}) in every row; drop it."
    if column.kind == "text":
        if len(present) >= NEAR_UNIQUE_MIN_ROWS and distinct >= NEAR_UNIQUE_SHARE * len(present):
            return (
                f"{field} is text with a different value in nearly every row ({distinct:,} of "
                f"{len(present):,}), like a name or an identifier, which a model cannot learn "
                "from; drop it."
            )
        if distinct > MAX_CATEGORIES:
            return (
                f"{field} has {distinct:,} categories, more than the {MAX_CATEGORIES} one-hot "
                "encoding takes; group them or drop the column."
            )
    return None


def column_problems(table: Table, target: str, impute: bool = False) -> dict[str, str]:
    """Each feature column that would be refused, and why (the upload preview lists them)."""
    problems = {}
    for column in table.columns:
        if column.name != target:
            problem = _feature_problem(table, column, impute)
            if problem:
                problems[column.name] = problem
    return problems


def split_indices(
    labels: np.ndarray, split: Mapping[str, Any], stratify: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices of the training, validation and test parts: the test part (if any) is held
    out first, then the validation part from the rest; both stratified for classes when asked,
    shuffled and seeded (or, for split ``ordered``, the last rows, unshuffled)."""
    from sklearn.model_selection import train_test_split  # noqa: PLC0415 - UI imports this

    rows = np.arange(len(labels))
    seed = int(split["seed"])
    ordered = split.get("order") == "ordered"
    test, validation = float(split.get("test") or 0.0), float(split["validation"])
    held_out = np.array([], dtype=np.int64)
    if test > 0:
        if ordered:
            cut = int(round(len(rows) * (1 - test)))
            rows, held_out = rows[:cut], rows[cut:]
        else:
            rows, held_out = train_test_split(
                rows, test_size=test, stratify=labels if stratify else None, random_state=seed
            )
    # The validation share is of the whole table, so 80/10/10 means what it says.
    share = validation / (1 - test)
    if ordered:
        cut = int(round(len(rows) * (1 - share)))
        return rows[:cut], rows[cut:], held_out
    train, valid = train_test_split(
        rows, test_size=share, stratify=labels[rows] if stratify else None, random_state=seed
    )
    return np.asarray(train), np.asarray(valid), np.asarray(held_out)


def _label_indices(target: TableColumn, classes: list[Any]) -> np.ndarray:
    """Class indices of a target's values, in the stored order of ``classes``."""
    lookup = {value: index for index, value in enumerate(classes)}
    if target.kind != "text":
        lookup = {float(value): index for value, index in lookup.items()}
    try:
        return np.array([lookup[value] for value in target.values.tolist()], dtype=np.int64)
    except KeyError as error:
        raise DatasetError(
            f"objective.target: column {brief(target.name)} holds the class "
            f"{brief(error.args[0])}, which the study's stored preparation does not know; "
            "the data changed since the study began, so start a new study."
        ) from None


def fit_preparation(
    table: Table,
    target: str,
    *,
    task: str | None = None,
    impute: bool = False,
    validation_split: float = 0.2,
    test_split: float = 0.0,
    seed: int = 0,
    order: str = "stratified",
) -> dict[str, Any]:
    """Fit the preparation of ``table`` for predicting ``target``: the task, the classes, each
    feature column's standardisation or categories (on the training split only), the split,
    the baselines a trial is judged against, and the summary sentence. Plain JSON."""
    column = table.column(target)
    if column is None:
        shown = ", ".join(table.names[:8]) + (", …" if len(table.names) > 8 else "")
        raise DatasetError(
            f"objective.target: {brief(target)} is not a column of "
            f"{dataset_words(table.source)}; its columns are {shown}."
        )
    chosen, how = _target_labels(table, column, task)
    features = [c for c in table.columns if c.name != target]
    if not features:
        raise DatasetError(
            f"{_field(table.source)} has no columns besides the target {brief(target)}."
        )
    for feature in features:
        problem = _feature_problem(table, feature, impute)
        if problem:
            raise DatasetError(problem)
    classes: list[Any] = []
    if chosen == CLASSIFICATION:
        classes = [_json_value(v, column.kind) for v in sorted(set(column.values.tolist()))]
        labels = _label_indices(column, classes)
    else:
        labels = column.values.astype(np.float64)
    stratify = chosen == CLASSIFICATION and order != "ordered"
    split = {"validation": validation_split, "test": test_split, "seed": seed, "order": order}
    if stratify:
        counts = np.bincount(labels, minlength=len(classes))
        rare = int(np.argmin(counts))
        parts = 3 if test_split > 0 else 2
        if counts[rare] < parts:
            raise DatasetError(
                f"objective.target: class {brief(classes[rare])} of column {brief(target)} has "
                f"{'one example' if counts[rare] == 1 else f'{counts[rare]} examples'}; a "
                f"stratified split needs at least {parts} of each class, so add examples or "
                "drop that class."
            )
    try:
        train, valid, test = split_indices(labels, split, stratify)
    except ValueError as error:  # too few rows of some class for the shares asked
        raise DatasetError(
            f"objective.validation_split: the {table.rows:,} rows cannot be split as asked "
            f"({brief(str(error).splitlines()[0])}); use larger shares or more rows."
        ) from None
    columns: list[dict[str, Any]] = []
    for feature in features:
        train_values = feature.values[train]
        train_present = train_values[~feature.missing[train]]
        entry: dict[str, Any] = {"name": feature.name, "kind": feature.kind}
        if feature.numeric:
            fill = float(np.median(train_present)) if feature.missing.any() else None
            filled = np.where(np.isnan(train_values), fill if fill is not None else 0, train_values)
            std = float(filled.std())
            entry.update(mean=float(filled.mean()), std=std if std > 0 else 1.0)
        else:
            seen = Counter(train_present.tolist())
            entry["categories"] = [_json_value(v, feature.kind) for v in sorted(seen)]
            fill = (
                _json_value(seen.most_common(1)[0][0], feature.kind)
                if feature.missing.any()
                else None
            )
        entry["fill"] = fill
        entry["missing"] = int(feature.missing.sum())
        columns.append(entry)
    width = sum(1 if c["kind"] in ("integer", "float") else len(c["categories"]) for c in columns)
    preparation: dict[str, Any] = {
        "source": table.kind,
        "target": target,
        "task": chosen,
        "task_from": how,
        "classes": classes,
        "columns": columns,
        "features": width,
        "rows": {"train": len(train), "validation": len(valid), "test": len(test)},
        "split": split,
    }
    preparation.update(_baselines(chosen, labels[train], labels[valid], len(classes)))
    preparation["summary"] = summary_sentence(preparation)
    return preparation


def _baselines(task: str, y_train: np.ndarray, y_val: np.ndarray, classes: int) -> dict[str, Any]:
    """What a model that learned nothing scores on the validation split (the chance note's
    yardstick), and the loss above which a trial has diverged."""
    if task == CLASSIFICATION:
        majority = int(np.bincount(y_train, minlength=classes).argmax())
        rate = float(np.mean(y_val == majority)) if len(y_val) else 0.0
        return {
            "baseline": {"val_accuracy": rate, "majority_class": majority},
            "loss_limit": DIVERGENCE_FACTOR * math.log(max(classes, 2)),
        }
    mean = float(np.mean(y_train))
    # The model learns the standardised target (model_plan.table_plan): its loss is the MSE
    # over the training variance, so predicting the mean scores 1 whatever the target's units.
    std = max(float(np.std(y_train)), 1e-12)
    error = y_val - mean
    return {
        "baseline": {
            "val_mae": float(np.mean(np.abs(error))),
            "val_rmse": float(np.sqrt(np.mean(error**2))),
            "val_loss": float(np.mean(error**2)) / std**2,
            "mean": mean,
        },
        "target_scale": {"mean": mean, "std": std},
        # Twenty times the loss of predicting the mean: a net that starts off is not diverged.
        "loss_limit": DIVERGENCE_FACTOR,
    }


def summary_sentence(preparation: Mapping[str, Any]) -> str:
    """Every step the preparation takes, in one sentence: "binary classification of
    'diagnosis' (inferred); standardised 30 numeric columns; stratified 80/20 split ..."."""
    task, target = preparation["task"], preparation["target"]
    classes = preparation.get("classes") or []
    if task == CLASSIFICATION:
        kind = "binary" if len(classes) == 2 else f"{len(classes)}-class"
        parts = [f"{kind} classification of {target!r} ({preparation['task_from']})"]
    else:
        scaled = (
            "trained on the standardised target, scored in its units"
            if preparation.get("target_scale")
            else "the target is not scaled"
        )
        parts = [f"regression of {target!r} ({preparation['task_from']}; {scaled})"]
    columns = preparation["columns"]
    numeric = [c for c in columns if c["kind"] in ("integer", "float")]
    categorical = [c for c in columns if c["kind"] not in ("integer", "float")]
    if numeric:
        parts.append(
            f"standardised {len(numeric)} numeric column{'s' if len(numeric) != 1 else ''} "
            "(mean and deviation of the training split)"
        )
    if categorical:
        width = sum(len(c["categories"]) for c in categorical)
        parts.append(
            f"one-hot {len(categorical)} categorical column{'s' if len(categorical) != 1 else ''}"
            f" → {width}"
        )
    imputed = [c for c in columns if c.get("missing")]
    if imputed:
        total = sum(c["missing"] for c in imputed)
        parts.append(
            f"imputed {total} missing value{'s' if total != 1 else ''} in {len(imputed)} "
            f"column{'s' if len(imputed) != 1 else ''} (training split's median or most common)"
        )
    split, rows = preparation["split"], preparation["rows"]
    how = (
        "ordered (last rows)"
        if split.get("order") == "ordered"
        else ("stratified" if task == CLASSIFICATION else "shuffled")
    )
    test = float(split.get("test") or 0.0)
    shares = [1 - split["validation"] - test, split["validation"]] + ([test] if test else [])
    ratio = "/".join(f"{round(100 * share):g}" for share in shares)
    counts = f"{rows['train']:,} training, {rows['validation']:,} validation"
    counts += f", {rows['test']:,} test rows" if test else " rows"
    seeded = "" if split.get("order") == "ordered" else f", seed {split['seed']}"
    parts.append(f"{how} {ratio} split ({counts}{seeded})")
    if test:
        parts.append("the test rows score only the best trial, at the end")
    return "; ".join(parts)


def _feature_matrix(table: Table, preparation: Mapping[str, Any]) -> np.ndarray:
    """The feature matrix the stored preparation makes of ``table``."""
    blocks = []
    for entry in preparation["columns"]:
        column = table.column(entry["name"])
        if column is None:
            raise DatasetError(
                f"{_field(table.source)} has no column {brief(entry['name'])}, which the "
                "study's stored preparation uses; the data changed since the study began, so "
                "start a new study."
            )
        if entry["kind"] in ("integer", "float"):
            values = column.values.astype(np.float64)
            if entry.get("fill") is not None:
                values = np.where(column.missing, entry["fill"], values)
            blocks.append(((values - entry["mean"]) / entry["std"]).reshape(-1, 1))
            continue
        values = column.values
        if column.kind == "bool":
            values = np.array(
                [None if m else bool(v) for v, m in zip(values, column.missing, strict=True)],
                dtype=object,
            )
        if entry.get("fill") is not None:
            values = np.where(column.missing, entry["fill"], values)
        categories = entry["categories"]
        # A category the training split never saw gets all zeros, as scikit-learn's
        # OneHotEncoder(handle_unknown="ignore") does.
        blocks.append(
            np.stack([(values == category) for category in categories], axis=1).astype(np.float64)
        )
    return np.concatenate(blocks, axis=1).astype(np.float32)


def apply_preparation(table: Table, preparation: Mapping[str, Any]) -> PreparedTable:
    """The arrays a stored preparation makes of ``table``: the same columns, the same split."""
    column = table.column(preparation["target"])
    if column is None:
        raise DatasetError(
            f"objective.target: {brief(preparation['target'])} is not a column of "
            f"{dataset_words(table.source)}."
        )
    x = _feature_matrix(table, preparation)
    if preparation["task"] == CLASSIFICATION:
        labels = _label_indices(column, list(preparation["classes"]))
        y: np.ndarray = labels
    else:
        labels = column.values.astype(np.float64)
        y = labels.astype(np.float32)
    stratify = preparation["task"] == CLASSIFICATION and preparation["split"].get("order") != (
        "ordered"
    )
    train, valid, test = split_indices(labels, preparation["split"], stratify)
    return PreparedTable(
        x[train],
        y[train],
        x[valid],
        y[valid],
        x[test] if len(test) else None,
        y[test] if len(test) else None,
        dict(preparation),
    )


def prepare_objective_table(objective: KerasObjectiveSpec, seed: int) -> PreparedTable:
    """The prepared table a validated Keras objective names: its stored preparation applied,
    or (when it has none yet, as in lr-find) one fitted now."""
    table = read_table(objective.dataset)
    preparation = objective.table.preparation if objective.table is not None else None
    if not preparation:
        preparation = fit_objective_preparation(table, objective, seed)
    return apply_preparation(table, preparation)


def fit_objective_preparation(
    table: Table, objective: KerasObjectiveSpec, seed: int
) -> dict[str, Any]:
    """:func:`fit_preparation` with the objective's fields."""
    fields = objective.table or TableSpec()  # a 2-D .npz gives none until run prepares it
    target = fields.target
    if table.kind == "npz" and not target:
        target = "y"
    if not target:
        raise SpecError(
            f"objective.target: {dataset_words(objective.dataset)} is a table; name the "
            'column to predict, e.g. "target": "price".'
        )
    return fit_preparation(
        table,
        target,
        task=fields.task,
        impute=fields.impute,
        validation_split=float(objective.validation_split),
        test_split=fields.test_split,
        seed=seed,
        order=objective.split,
    )


def class_balance(labels: Sequence[Any]) -> list[tuple[Any, int]]:
    """(class, count) pairs, most common first, for the form's preview."""
    return Counter(labels).most_common()


def objective_is_table(objective: ObjectiveSpec) -> bool:
    """Whether a validated objective is a built-in Keras model trained on a table (a CSV, a
    2-D .npz, or any table field given)."""
    if not isinstance(objective, KerasObjectiveSpec):
        return False
    if objective.table is not None:
        return True
    return names_table(objective.dataset)


def complete_table_spec(spec: StudySpec, given: Mapping[str, Any]) -> StudySpec:
    """The spec `run` stores for a table: the data read (bounded), the preparation fitted on
    the training split and kept in ``objective.preparation``, the task filled in, and, when
    the spec file (whose objective is ``given``) named no metric, the task's own metric. Every
    problem with the data is one sentence here, before anything is stored."""
    objective = spec.objective
    if not isinstance(objective, KerasObjectiveSpec) or not objective_is_table(objective):
        return spec
    table = read_table(objective.dataset)
    preparation = fit_objective_preparation(table, objective, spec.seed)
    raw = spec.to_json()
    stored = raw["objective"]  # the JSON the store keeps, completed and parsed again
    stored["task"] = preparation["task"]
    stored["preparation"] = preparation
    if table.kind == "npz":
        stored["target"] = preparation["target"]
    if "metric" not in given and "metrics" not in given:
        stored["metric"] = default_metric(preparation["task"])
        if "direction" not in given:
            stored.pop("direction", None)
    return parse_spec(raw)
