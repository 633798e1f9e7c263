"""Which columns can serve, each refusal one sentence naming the column: the target (the task
given or inferred, and whether its values fit it) and every feature (empty, missing values
without imputation, one value throughout, an identifier, too many categories).
"""

from __future__ import annotations

from tuning_core.engine.errors import DatasetError, brief
from tuning_core.engine.tasks import CLASSIFICATION, MAX_CLASSES, REGRESSION, infer_task
from tuning_core.training.tables.table import Table, TableColumn, _count, _field, _json_value

# One-hot encoding stops being sensible beyond this many categories in one column.
MAX_CATEGORIES = 50
# A text column whose values differ in at least this share of rows (of at least
# NEAR_UNIQUE_MIN_ROWS) is an identifier or free text: nothing a model can learn from.
NEAR_UNIQUE_SHARE = 0.9
NEAR_UNIQUE_MIN_ROWS = 10
# How a cell reads as missing, case aside.


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
