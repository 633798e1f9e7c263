"""A study spec's objective: :func:`parse_objective` validates its JSON into one of the typed
objective parts (engine/spec_parts.py), checking it against the search space: a test
function's inputs, a built-in Keras model's hyperparameters, a table's fields, a user's
function or build_model. Each kind's parsing lives in its own module (keras_objective_spec,
table_objective_spec, python_objective_spec; the metrics list in objective_metrics), and their
public names are re-exported here.
"""

from __future__ import annotations

from typing import Any

from tuning_core.engine.errors import SpecError, brief

# Split out by what they parse; re-exported here, where the spec and the recordings have always
# found them.
from tuning_core.engine.keras_objective_spec import _parse_keras_objective
from tuning_core.engine.objective_metrics import (  # noqa: F401
    METRIC_PATTERN,
    METRICS_SHAPE,
    parse_metric_list,
)
from tuning_core.engine.objectives import (
    MAX_FUNCTION_EPOCHS,
    MULTI_TEST_FUNCTIONS,
    TEST_FUNCTIONS,
    input_names,
)
from tuning_core.engine.python_objective_spec import (  # noqa: F401
    KERAS_BUILD_MODEL_KEYS,
    PYTHON_FORMS,
    _parse_keras_build_model,
    _parse_python_objective,
)
from tuning_core.engine.space import NumericDimension, SearchSpace
from tuning_core.engine.spec_fields import (
    MAX_EXAMPLES,  # noqa: F401
    count_field,
    expect,
    is_finite_number,
)
from tuning_core.engine.spec_parts import FunctionObjectiveSpec, MetricGoal, ObjectiveSpec
from tuning_core.engine.states import Direction
from tuning_core.engine.table_objective_spec import MAX_TARGET_CHARS, TABLE_KEYS  # noqa: F401


def parse_objective(raw: Any, space: SearchSpace) -> ObjectiveSpec:
    """The spec's ``objective`` object as its typed part, checked against ``space``."""
    expect(
        isinstance(raw, dict),
        "objective must be an object with a type of keras, function or python.",
    )
    kind = raw.get("type")
    if kind == "function":
        name = raw.get("name")
        functions = [*TEST_FUNCTIONS, *MULTI_TEST_FUNCTIONS]
        expect(
            name in functions,
            f"objective.name must be one of {', '.join(functions)}, not {brief(name)}.",
        )
        test_function = TEST_FUNCTIONS.get(name) or MULTI_TEST_FUNCTIONS[name]
        names = space.all_names()
        inputs = input_names({n: 0 for n in names})
        extra = [n for n in names if n not in inputs]
        expect(
            not extra,
            f"space.{extra[0] if extra else ''} is not an input of {name}; name its inputs x1, "
            "x2, ….",
        )
        expected = test_function.dimensions or max(len(inputs), test_function.min_dimensions)
        wanted = [f"x{i}" for i in range(1, expected + 1)]
        expect(inputs == wanted, f"space must define exactly {', '.join(wanted)} for {name}.")
        for dimension in space.dimensions:
            expect(
                isinstance(dimension, NumericDimension),
                f"space.{dimension.name} must be a float or int range for {name}, not a choice.",
            )
            if name in MULTI_TEST_FUNCTIONS:  # ZDT's definition holds on [0, 1] only
                expect(
                    dimension.low >= 0 and dimension.high <= 1,
                    f"space.{dimension.name} must lie within 0 and 1 for {name}, not "
                    f"{dimension.low:g} to {dimension.high:g}.",
                )
        direction = raw.get("direction", Direction.MINIMIZE.value)
        expect(
            direction == Direction.MINIMIZE,
            f"objective.direction must be minimize for {name}, not {brief(direction)}.",
        )
        metric, more = _function_metrics(raw, name)
        trial_seconds = raw.get("trial_seconds", 0)
        expect(
            is_finite_number(trial_seconds) and 0 <= trial_seconds <= 60,
            "objective.trial_seconds must be a number of seconds from 0 to 60, not "
            f"{brief(trial_seconds)}.",
        )
        epochs = count_field(raw, "epochs", "objective", 1, 1, MAX_FUNCTION_EPOCHS)
        return FunctionObjectiveSpec(name, trial_seconds, epochs, metric, more)
    if kind == "keras":
        if "build_model" in raw:
            return _parse_keras_build_model(raw)
        return _parse_keras_objective(raw, space)
    if kind == "python":
        return _parse_python_objective(raw)
    raise SpecError(f"objective.type must be keras, function or python, not {brief(kind)}.")


def _function_metrics(raw: dict[str, Any], name: str) -> tuple[str, tuple[MetricGoal, ...]]:
    """A test function's metrics: ``value`` for a function of one, else the ones the spec
    lists (``metrics``, or one ``metric``), all of the function's by default; all minimised."""
    produced = MULTI_TEST_FUNCTIONS[name].metrics if name in MULTI_TEST_FUNCTIONS else ("value",)

    def problem(metric: str, field: str) -> str | None:
        if metric in produced:
            return None
        return f"{field} must be one of {', '.join(produced)} for {name}, not {brief(metric)}."

    if "metrics" in raw:
        first, direction, more = parse_metric_list(raw, problem)
        for index, goal in enumerate((MetricGoal(first, direction), *more)):
            expect(
                goal.direction is Direction.MINIMIZE,
                f"objective.metrics[{index}].direction must be minimize for {name}, not "
                f"{goal.direction.value!r}.",
            )
        return first, more
    if name not in MULTI_TEST_FUNCTIONS:
        return "value", ()  # as before: a function of one metric reports value
    metric = raw.get("metric")
    if metric is None:
        return produced[0], tuple(MetricGoal(m, Direction.MINIMIZE) for m in produced[1:])
    sentence = problem(metric, "objective.metric")
    expect(sentence is None, sentence or "")
    return metric, ()
