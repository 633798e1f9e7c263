"""``export --format keras-script`` for a table study: a standalone script that reads the same
file, repeats the stored preparation (the parameters fitted on the study's training split,
not fitted again), makes the same split and trains the same model. It needs keras, numpy and
scikit-learn, not Tuning Lab.
"""

from __future__ import annotations

import json
from typing import Any

from tuning_core.engine.model_plan import table_plan
from tuning_core.engine.records import TrialRecord
from tuning_core.engine.spec_parts import KerasObjectiveSpec
from tuning_core.engine.states import Direction
from tuning_core.engine.storage import StudyRecord
from tuning_core.engine.tasks import REGRESSION
from tuning_core.reports.model_source import compile_source, plan_lines

_TEMPLATE = '''\
#!/usr/bin/env python3
"""Rebuild and train trial {number} of the Tuning Lab study {study!r} on its table.

It scored {metric} = {value:.6g} (best epoch). Hyperparameters:
{param_lines}
Preparation (fitted on the study's training split; repeated here from its stored parameters):
{summary_lines}
Run: python {filename} [--epochs N] [--save model.keras]
"""
import argparse
import csv
import json
import math
import pathlib

import numpy as np
from sklearn.model_selection import train_test_split

{quiet_import}

keras = import_keras()

DATASET = {dataset!r}
SEED = {seed!r}
EPOCHS = {epochs!r}
BATCH_SIZE = {batch_size!r}
METRIC = {metric!r}
MAXIMIZE = {maximize!r}
# The preparation as the study stored it: the task, the classes, each feature column's
# mean and deviation or categories, and the split.
PREPARATION = json.loads(
    {preparation!r}
)
MISSING = {{"", "na", "n/a", "nan", "null", "none"}}
BOOLS = {{"true": True, "false": False}}


def read_columns():
    """Each column's cells: text from a CSV, numbers from an .npz (columns x1.., y)."""
    path = pathlib.Path(DATASET).expanduser()
    if path.suffix.lower() == ".csv":
        with open(path, encoding="utf-8-sig", newline="") as handle:
            rows = [row for row in csv.reader(handle) if row]
        header = [name.strip() for name in rows[0]]
        return {{name: [row[i].strip() for row in rows[1:]] for i, name in enumerate(header)}}
    if path.is_dir():
        path = sorted(path.glob("*.npz"))[0]
    with np.load(path, allow_pickle=False) as archive:
        split = "train" if "x_train" in archive.files else "test"
        x, y = archive["x_" + split], archive["y_" + split]
    columns = {{"x" + str(i + 1): list(x[:, i]) for i in range(x.shape[1])}}
    columns["y"] = list(np.asarray(y).reshape(len(y)))
    return columns


def missing(cell):
    if isinstance(cell, str):
        return cell.lower() in MISSING
    return not math.isfinite(float(cell))


def value_of(cell, kind):
    """A cell as the study read it: a number, a bool or text."""
    if kind == "bool":
        return BOOLS[cell.lower()] if isinstance(cell, str) else bool(cell)
    if kind in ("integer", "float"):
        return float(cell)
    return str(cell)


def features(columns):
    """Standardise numeric columns and one-hot categorical ones with the stored parameters."""
    blocks = []
    for entry in PREPARATION["columns"]:
        cells = columns[entry["name"]]
        values = [entry["fill"] if missing(c) else value_of(c, entry["kind"]) for c in cells]
        if entry["kind"] in ("integer", "float"):
            numbers = np.array(values, dtype=np.float64)
            blocks.append(((numbers - entry["mean"]) / entry["std"]).reshape(-1, 1))
        else:
            # A category the training split never saw is all zeros.
            blocks.append(
                np.array([[v == c for c in entry["categories"]] for v in values], dtype=np.float64)
            )
    return np.concatenate(blocks, axis=1).astype(np.float32)


def targets(columns):
    """Class indices in the stored order of the classes, or the numbers themselves."""
    kind_of = {{bool: "bool", int: "integer", float: "float", str: "text"}}
    cells = columns[PREPARATION["target"]]
    if PREPARATION["task"] == "regression":
        return np.array([float(c) for c in cells], dtype=np.float64)
    classes = PREPARATION["classes"]
    kind = kind_of[type(classes[0])]
    lookup = {{(c if kind == "text" else float(c)): i for i, c in enumerate(classes)}}
    return np.array(
        [lookup[value_of(c, kind) if kind == "text" else float(value_of(c, kind))] for c in cells],
        dtype=np.int64,
    )


def split_rows(labels):
    """Training, validation and test row indices, as the study split them."""
    split = PREPARATION["split"]
    stratify = PREPARATION["task"] == "classification" and split["order"] != "ordered"
    rows, test, validation = np.arange(len(labels)), split["test"], split["validation"]
    held_out = np.array([], dtype=np.int64)
    if test > 0:
        if split["order"] == "ordered":
            cut = int(round(len(rows) * (1 - test)))
            rows, held_out = rows[:cut], rows[cut:]
        else:
            rows, held_out = train_test_split(
                rows, test_size=test, stratify=labels if stratify else None, random_state=SEED
            )
    share = validation / (1 - test)
    if split["order"] == "ordered":
        cut = int(round(len(rows) * (1 - share)))
        return rows[:cut], rows[cut:], held_out
    train, valid = train_test_split(
        rows, test_size=share, stratify=labels[rows] if stratify else None, random_state=SEED
    )
    return train, valid, held_out


def build_model():
    model = keras.Sequential(
        [
{layers}
        ]
    )
    model.compile(
        optimizer={optimizer}, loss={loss}, loss_weights={loss_weights}, metrics={metrics}
    )
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--save", help="write the trained model to this .keras file")
    args = parser.parse_args()
    columns = read_columns()
    x, labels = features(columns), targets(columns)
    train, valid, held_out = split_rows(labels)
    y = {target_shape}
    keras.utils.set_random_seed(SEED)
    model = build_model()
    history = model.fit(
        x[train],
        y[train],
        batch_size=BATCH_SIZE,
        epochs=args.epochs,
        validation_data=(x[valid], y[valid]),
        verbose=2,
    ).history
    scores = history[METRIC]
    best = max(scores) if MAXIMIZE else min(scores)
    print(f"best {{METRIC}}={{best:.6g}} (epoch {{scores.index(best) + 1}})")
    if len(held_out):
        tested = model.evaluate(x[held_out], y[held_out], verbose=0, return_dict=True)
        print("test " + " ".join(f"{{k}}={{v:.4g}}" for k, v in tested.items()))
    if args.save:
        model.save(args.save)


if __name__ == "__main__":
    main()
'''


def _target_shape(task: str, classes: int) -> str:
    """The targets as the model's output takes them (``table_objective.targets_for``)."""
    if task == REGRESSION:
        return 'labels.reshape(-1, 1).astype("float32")  # one linear output'
    if classes == 2:
        return 'labels.reshape(-1, 1).astype("float32")  # one sigmoid output'
    return "labels  # class indices"


def table_script(
    study: StudyRecord,
    best: TrialRecord,
    hp: dict[str, Any],
    filename: str,
    quiet_import: str,
) -> str:
    """The script's source text for a table study's best trial (``hp``: its hyperparameters
    with the model's defaults)."""
    objective = study.spec.objective
    # keras_script sends only a Keras objective whose table has its stored preparation.
    assert isinstance(objective, KerasObjectiveSpec) and objective.table is not None
    preparation = objective.table.preparation
    assert preparation is not None
    task, classes = preparation["task"], len(preparation["classes"] or [])
    plan = table_plan(
        hp, int(preparation["features"]), task, classes, preparation.get("target_scale")
    )
    summary = preparation["summary"].split("; ")
    return _TEMPLATE.format(
        number=best.number,
        study=study.name,
        metric=objective.metric,
        value=best.value,
        param_lines="\n".join(f"  {name} = {value!r}" for name, value in sorted(hp.items())),
        summary_lines="\n".join(f"  {part}" for part in summary),
        filename=filename,
        quiet_import=quiet_import,
        dataset=objective.dataset,
        seed=study.spec.seed,
        epochs=int(hp["epochs"]),
        batch_size=int(hp["batch_size"]),
        maximize=objective.direction is Direction.MAXIMIZE,
        preparation=json.dumps(preparation),
        layers="\n".join(" " * 12 + line for line in plan_lines(plan)),
        **compile_source(plan.optimizer, plan.loss, plan.metrics, plan.loss_weight),
        target_shape=_target_shape(task, classes),
    )
