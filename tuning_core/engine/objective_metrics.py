"""An objective's metrics in a spec: a metric name's form and the ``metrics`` list of one or
more goals (a name and a direction each), checked against what the objective can report."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tuning_core.engine.errors import brief
from tuning_core.engine.pareto import MAX_METRICS
from tuning_core.engine.spec_fields import expect
from tuning_core.engine.spec_parts import MetricGoal
from tuning_core.engine.states import Direction

# A user metric name: what trial.report writes and pruners compare trials by.
METRIC_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$")
METRICS_SHAPE = '{"name": ..., "direction": "minimize" or "maximize"}'


def parse_metric_list(
    raw: dict[str, Any], problem: Callable[[str, str], str | None]
) -> tuple[str, Direction, tuple[MetricGoal, ...]]:
    """The objective's ``metrics`` list as (first metric, its direction, the other goals).

    ``problem(name, field)`` says in one sentence why the objective cannot produce ``name``
    (``field`` names it, e.g. ``objective.metrics[1].name``), or None. A list of one metric is
    the single ``metric``/``direction`` form exactly (same stored JSON, same study).
    """
    expect(
        "metric" not in raw and "direction" not in raw,
        "objective.metrics replaces metric and direction; give one or the other.",
    )
    listed = raw["metrics"]
    expect(
        isinstance(listed, list) and len(listed) > 0,
        f"objective.metrics must list one or more metrics as {METRICS_SHAPE}, not {brief(listed)}.",
    )
    expect(
        len(listed) <= MAX_METRICS,
        f"objective.metrics lists {len(listed)} metrics; a study trades at most {MAX_METRICS} "
        "(its hypervolume is measured exactly, at a cost that grows steeply with each metric).",
    )
    goals: list[MetricGoal] = []
    for index, item in enumerate(listed):
        field = f"objective.metrics[{index}]"
        expect(
            isinstance(item, dict) and set(item) <= {"name", "direction"} and "name" in item,
            f"{field} must be an object {METRICS_SHAPE}, not {brief(item)}.",
        )
        name = item["name"]
        expect(
            isinstance(name, str) and bool(METRIC_PATTERN.fullmatch(name)),
            f"{field}.name must be a metric name of 1 to 64 letters, digits, _, . or -, not "
            f"{brief(name)}.",
        )
        sentence = problem(name, f"{field}.name")
        expect(sentence is None, sentence or "")
        expect(
            name not in [goal.name for goal in goals],
            f"{field}.name repeats {name!r}; list each metric once.",
        )
        direction = item.get("direction", Direction.natural_for(name).value)
        expect(
            direction in {member.value for member in Direction},
            f"{field}.direction must be minimize or maximize, not {brief(direction)}.",
        )
        goals.append(MetricGoal(name, Direction(direction)))
    return goals[0].name, goals[0].direction, tuple(goals[1:])
