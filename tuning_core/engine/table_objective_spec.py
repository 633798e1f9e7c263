"""A table objective's fields in a spec (a Keras objective on a CSV or a 2-D .npz): the column
to predict, the task, imputation, the held-out test share and the stored preparation, and the
metric a table study defaults to."""

from __future__ import annotations

from typing import Any

from tuning_core.engine.errors import brief
from tuning_core.engine.spec_fields import expect, is_finite_number
from tuning_core.engine.spec_parts import TableSpec
from tuning_core.engine.tasks import default_metric, task_problem

# A Keras objective's fields for tables (see training/tables/): the column to predict, the
# task when not inferred, imputation, a held-out test share, and the fitted preparation that
# `run` stores so that a resume, a Dask worker and the export repeat it.
TABLE_KEYS = ("target", "task", "impute", "test_split", "preparation")
MAX_TARGET_CHARS = 200


def _is_table(raw: dict[str, Any], dataset: str) -> bool:
    """Whether the objective describes a table: a CSV, or any table field given."""
    return dataset.lower().endswith(".csv") or any(raw.get(key) is not None for key in TABLE_KEYS)


def _default_keras_metric(table: TableSpec | None) -> str:
    """Accuracy for images; for a table, its task's metric, or the loss (which every task
    has) until the task is known (`run` infers it and fills the metric in)."""
    if table is None:
        return "val_accuracy"
    return default_metric(table.task) if table.task else "val_loss"


def _parse_table_fields(raw: dict[str, Any], dataset: str, model: str) -> TableSpec | None:
    """A table objective's own fields, validated; None for images."""
    if not _is_table(raw, dataset):
        return None
    expect(
        model == "mlp",
        f"objective.model {model} needs images; a table trains the mlp model on its features.",
    )
    target = raw.get("target")
    expect(
        target is None or (isinstance(target, str) and 0 < len(target) <= MAX_TARGET_CHARS),
        f"objective.target must be the name of the column to predict, not {brief(target)}.",
    )
    preparation = raw.get("preparation")
    expect(
        preparation is None
        or (
            isinstance(preparation, dict)
            and isinstance(preparation.get("summary"), str)
            and isinstance(preparation.get("columns"), list)
            and isinstance(preparation.get("split"), dict)
            and isinstance(preparation.get("classes"), list)
            and task_problem(preparation.get("task")) is None
        ),
        "objective.preparation is written by run (the fitted preparation of the table); leave "
        "it out, or keep it as a stored study has it.",
    )
    task = raw.get("task", preparation["task"] if preparation else None)
    if task is not None:
        problem = task_problem(task)
        expect(problem is None, problem or "")
    impute = raw.get("impute", False)
    expect(
        isinstance(impute, bool), f"objective.impute must be true or false, not {brief(impute)}."
    )
    test_split = raw.get("test_split")
    expect(
        test_split is None or (is_finite_number(test_split) and 0 <= test_split <= 0.5),
        f"objective.test_split must be a share from 0 to 0.5 held out for the end, not "
        f"{brief(test_split)}.",
    )
    if preparation is not None:
        expect(
            preparation["task"] == task,
            f"objective.preparation was fitted for {preparation['task']}, not {brief(task)}; "
            "leave the preparation out to fit it again.",
        )
    return TableSpec(impute, float(test_split or 0.0), target, task, preparation)
