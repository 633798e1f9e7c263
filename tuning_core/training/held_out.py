"""A table's held-out test rows, scored once at the end of a study, for its best trial: the
same step after ``run`` and after the API's ``optimize_table``.

Keras loads only when there is a test split to score (``held_out_share`` is Keras-free).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from tuning_core.engine.records import best_trial
from tuning_core.engine.spec import StudySpec
from tuning_core.engine.spec_parts import KerasObjectiveSpec
from tuning_core.engine.storage import Store, artifacts_dir


def held_out_share(spec: StudySpec) -> float:
    """The share of a table held out for the end (0 for images and other objectives)."""
    objective = spec.objective
    if not isinstance(objective, KerasObjectiveSpec) or objective.table is None:
        return 0.0
    return objective.table.test_split


def report_held_out(spec: StudySpec, store: Store, log: Callable[[str], None]) -> None:
    """Score the best trial's saved model on the table's held-out test rows: one line to
    ``log``, kept beside the model as test_score.json. Nothing when nothing is held out."""
    if not held_out_share(spec):
        return
    folder = artifacts_dir(store.path, spec.name)
    model = folder / "best.keras"
    if not model.is_file():
        log("test split: no saved best model to score (parallel studies keep none)")
        return
    from tuning_core.training.table_objective import held_out_score  # noqa: PLC0415 - Keras

    scores = held_out_score(str(model), spec)
    study = store.get_study(spec.name)
    best = best_trial(store.trials(study.id), spec.direction) if study else None
    table = spec.objective.table if isinstance(spec.objective, KerasObjectiveSpec) else None
    rows = table.preparation["rows"]["test"] if table and table.preparation else None
    (folder / "test_score.json").write_text(
        json.dumps({"trial": best.number if best else None, "rows": rows, **scores}),
        encoding="utf-8",
    )
    shown = ", ".join(f"{name} {value:.4g}" for name, value in scores.items())
    number = f" ({best.number})" if best else ""
    log(f"test split: the best trial{number} scores {shown} on {rows} held-out rows")
