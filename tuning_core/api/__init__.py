"""The public Python API: tune your own function or Keras model, watch it on the dashboard.

    study = tuning_core.create_study("my-study", storage="tuning_lab.db", space={...})
    study.optimize(objective)            # objective(trial) -> number
    study.optimize_keras(build_model, x, y, epochs=10)
    study.optimize_table(frame, target="label")   # the built-in MLP for tables
    study.best_params, study.best_value, study.trials_dataframe()
    study.best_trials, study.best_values   # several metrics: the Pareto front

A :class:`Study` is a handle on a study in the SQLite store, the same file the dashboard
reads; it holds no results of its own. ``optimize`` builds the study spec (the JSON the CLI
runs) from the handle's options and the objective, and calls the engine's ``run_study`` in
this process, so a study run here shows live on the Live page, can be stopped from the
dashboard or ``python -m tuning_core stop``, and resumes when ``optimize`` is called again.

The handle in modules, one idea each, re-exported here (``tuning_core.api`` is the module to
import): ``options`` (the API's short forms as the spec's), ``stored`` (the handle's reading
side), ``study`` (:class:`Study`: the spec and running it), ``running`` (the progress line,
the best model's file, a Dask worker's objective) and ``open_study`` (``create_study``,
``load_study``).
"""

from __future__ import annotations

from tuning_core.api.open_study import create_study, load_study
from tuning_core.api.study import Study
from tuning_core.engine.errors import ObjectiveError
from tuning_core.engine.user_objectives import Trial, TrialPruned

__all__ = [
    "ObjectiveError",
    "Study",
    "Trial",
    "TrialPruned",
    "create_study",
    "load_study",
]
