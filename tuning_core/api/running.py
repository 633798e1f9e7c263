"""What running a study in this process needs besides the handle: the progress line printed
for each trial, a Keras objective told where the best epoch's model goes, and the objective a
Dask worker builds for a user's function (shipped to workers by reference, so it lives at
module level).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tuning_core.engine.objectives import Objective
from tuning_core.engine.records import best_trial
from tuning_core.engine.spec import StudySpec
from tuning_core.engine.storage import Store
from tuning_core.engine.user_objectives import Trial, plain_objective


def shipped_objective(function: Callable[[Trial], float], spec: StudySpec) -> Objective:
    """The objective a Dask worker builds for ``function`` (the parallel factory's shape).

    A value that is not a number fails the trial there (an exception escaping a task reads as
    a broken worker); the Dask driver stops the study when that, or any error, repeats.
    """
    return plain_objective(function, spec.metric, stop_on_bad_value=False)


class _Progress:
    """Prints the engine's line for each trial behind a bar of the trial budget."""

    WIDTH = 20

    def __init__(self, show: bool) -> None:
        self.show = show

    def __call__(self, line: str) -> None:
        if not self.show:
            return
        done, _, rest = line.partition("] ")
        count = done.rpartition("[")[2]
        if rest and "/" in count and all(part.isdigit() for part in count.split("/")):
            finished, budget = (int(part) for part in count.split("/"))
            filled = self.WIDTH * min(finished, budget) // max(budget, 1)
            line = f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {line}"
        print(line, file=sys.stdout, flush=True)


def _keep_best_model(objective: Any, store: Store, spec: StudySpec, folder: Path) -> None:
    """Have a Keras objective keep a trial's best-epoch model whenever it beats the stored best
    (as ``run`` does for the built-in models)."""
    study = store.get_study(spec.name)
    best = best_trial(store.trials(study.id), spec.direction) if study else None
    objective.best_model_path = folder / "best.keras"
    saved = objective.best_model_path.is_file()
    objective.best_value = best.value if best is not None and saved else None
