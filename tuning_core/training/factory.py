"""The objective a spec names, built where the trial runs: in the study's process, or on a
Dask worker from the spec alone (engine/parallel.py ships this function by reference)."""

from __future__ import annotations

from tuning_core.engine.objectives import Objective, function_objective
from tuning_core.engine.spec import StudySpec


def objective_for(spec: StudySpec) -> Objective:
    """The objective a validated spec names; Keras (and TensorFlow) load only for Keras studies."""
    if spec.objective["type"] == "function":
        return function_objective(
            spec.objective["name"],
            float(spec.objective.get("trial_seconds", 0)),
            int(spec.objective.get("epochs", 1)),
        )
    # Keras (and TensorFlow, ~4 s) load only for Keras studies, never for list or export.
    from tuning_core.training.keras_objective import KerasObjective  # noqa: PLC0415

    return KerasObjective(spec)
