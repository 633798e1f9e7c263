"""What the training commands (run, race, lr-find) share: the memory refusals made before
anything is stored, the python target's folder kept beside the study, the Keras objective's
best-model hook, and how often a Keras worker is recycled."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from tuning_core.cli.store_args import storage_path
from tuning_core.engine.errors import SpecError
from tuning_core.engine.memory import MEMORY_LIMIT_ENV, default_memory_limit, memory_problem
from tuning_core.engine.records import best_trial
from tuning_core.engine.spec import StudySpec
from tuning_core.engine.spec_parts import KerasObjectiveSpec
from tuning_core.engine.storage import Store, artifacts_dir
from tuning_core.training.datasets import image_shape_of
from tuning_core.workers import remember_code_folder, specs_dir

if TYPE_CHECKING:  # importing it loads Keras; the annotation alone must not
    from tuning_core.training.keras_objective import KerasObjective


# Keras leaks ~2 MB per fit even after clear_session(); a fresh process every N trials keeps
# the worker's memory bounded, at the cost of one TensorFlow import (~4 s) per N trials.
DEFAULT_RECYCLE_EVERY = 20


def keep_code_folder(args: argparse.Namespace, name: str) -> None:
    """Keep the spec file's folder beside the study or race, so a Resume from the dashboard
    (which runs a copy of the spec from <store>.specs) imports the same python target; a
    spec the dashboard wrote is in that folder, and what it remembered stays."""
    folder = Path(args.spec).resolve().parent
    if folder != specs_dir(storage_path(args)).resolve():
        remember_code_folder(storage_path(args), name, str(folder))


def refuse_what_cannot_fit(spec: StudySpec, limit_gb: float | None) -> None:
    """Before any trial runs (and before anything is stored), refuse a built-in Keras model
    too large."""
    if limit_gb is not None:
        # The loader checks the data again against the same limit (in this process, a
        # recycled one and the Dask workers it starts; a table's reader too): it reads the
        # environment.
        os.environ[MEMORY_LIMIT_ENV] = f"{limit_gb:g}"
    if not isinstance(spec.objective, KerasObjectiveSpec):
        return
    image_shape = image_shape_of(spec.objective.dataset)
    if image_shape is None:
        return  # unreadable data is refused, in one sentence, when the first trial loads it
    limit = default_memory_limit() if limit_gb is None else int(limit_gb * 1e9)
    problem = memory_problem(spec, image_shape, limit)
    if problem:
        raise SpecError(problem)


def refuse_table_model_too_large(spec: StudySpec, limit_gb: float | None) -> None:
    """A table's largest MLP, counted as the image MLP is with one row of features as its
    input (the data is already bounded by the reader)."""
    table = spec.objective.table if isinstance(spec.objective, KerasObjectiveSpec) else None
    preparation = table.preparation if table else None
    if not preparation:
        return
    limit = default_memory_limit() if limit_gb is None else int(limit_gb * 1e9)
    problem = memory_problem(spec, (1, int(preparation["features"])), limit)
    if problem:
        raise SpecError(problem)


def attach_best_model(objective: KerasObjective, store: Store, spec: StudySpec) -> None:
    """Have the Keras objective save a trial's model whenever it beats the stored best."""

    study = store.get_study(spec.name)
    best = best_trial(store.trials(study.id), spec.direction) if study else None
    objective.best_model_path = artifacts_dir(store.path, spec.name) / "best.keras"
    objective.best_value = (
        None if best is None or not objective.best_model_path.is_file() else best.value
    )
