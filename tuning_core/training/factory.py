"""The objective a spec names, built where the trial runs: in the study's process, or on a
Dask worker from the spec alone (engine/parallel/ ships this function by reference)."""

from __future__ import annotations

from tuning_core.engine.errors import SpecError
from tuning_core.engine.objectives import Objective, function_objective
from tuning_core.engine.spec import StudySpec
from tuning_core.engine.spec_parts import FunctionObjectiveSpec, UserFunctionSpec, UserModelSpec
from tuning_core.engine.user_objectives import import_target, plain_objective
from tuning_core.training.tables import objective_is_table


def objective_for(spec: StudySpec) -> Objective:
    """The objective a validated spec names; Keras (and TensorFlow) load only for Keras studies."""
    objective = spec.objective
    if isinstance(objective, FunctionObjectiveSpec):
        return function_objective(objective.name, float(objective.trial_seconds), objective.epochs)
    if isinstance(objective, UserModelSpec):
        if objective.dataset is None:
            raise SpecError(
                "objective.dataset: a build_model objective in a spec file needs its data: "
                "digits, mnist, fashion_mnist or a folder path (the Python API's "
                "optimize_keras passes arrays instead)."
            )
        build_model = import_target(objective.target)
        # Keras (and TensorFlow, ~4 s) load only for Keras studies.
        from tuning_core.training.user_model import DatasetBuildModelObjective  # noqa: PLC0415

        return DatasetBuildModelObjective(spec, build_model)
    if isinstance(objective, UserFunctionSpec):
        # Imported where the trial runs: this process, or a Dask worker that has the module.
        # On Dask a value that is not a number fails the trial (an exception escaping a task
        # reads as a broken worker); in this process it stops the study.
        return plain_objective(
            import_target(objective.target),
            spec.metric,
            stop_on_bad_value=spec.parallel == 1,
        )
    # Keras (and TensorFlow, ~4 s) load only for Keras studies, never for list or export.
    if objective_is_table(objective):
        from tuning_core.training.table_objective import TableObjective  # noqa: PLC0415

        return TableObjective(spec)
    from tuning_core.training.keras_objective import KerasObjective  # noqa: PLC0415

    return KerasObjective(spec)
