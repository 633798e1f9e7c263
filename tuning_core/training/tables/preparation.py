"""A table's preparation: fitted on the training split only (standardising numeric columns,
one-hot encoding categorical ones, optional imputation), kept as plain JSON parameters
(``objective.preparation`` in the stored spec), and applied from them, so a resume, a Dask
worker and the exported script make the same arrays. ``summary_sentence`` lists every step in
one sentence; the baselines say what a model that learned nothing scores.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tuning_core.engine.errors import DatasetError, brief
from tuning_core.engine.memory import dataset_words
from tuning_core.engine.tasks import CLASSIFICATION
from tuning_core.training.tables.checks import _feature_problem, _target_labels
from tuning_core.training.tables.split import split_indices
from tuning_core.training.tables.table import Table, TableColumn, _field, _json_value

# Divergence: a loss over this many times the loss of a model that knows nothing (uniform
# guessing for classes; predicting 0 for numbers) counts as blown up.
DIVERGENCE_FACTOR = 20.0


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
