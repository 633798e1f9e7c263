"""The table a study's spec names: whether an objective trains on a table, its preparation
fitted from the objective's fields or applied as stored, and the completed spec ``run``
stores (the preparation, the task and the task's metric filled in).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from tuning_core.engine.errors import SpecError
from tuning_core.engine.memory import dataset_words
from tuning_core.engine.spec import StudySpec, parse_spec
from tuning_core.engine.spec_parts import KerasObjectiveSpec, ObjectiveSpec, TableSpec
from tuning_core.engine.tasks import default_metric
from tuning_core.training.tables.preparation import (
    PreparedTable,
    apply_preparation,
    fit_preparation,
)
from tuning_core.training.tables.reading import names_table, read_table
from tuning_core.training.tables.table import Table


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
