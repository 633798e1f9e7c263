"""A strategy race: what it is judged on (the best value, regret where the optimum is known,
hypervolume for several metrics), in the words of its charts, and its frame and verdict from
its rows.

The frames (:func:`trial_frame`, :func:`convergence_frame`, :func:`time_frame`) live in
race_frames, the verdict's words (:func:`verdict`) in race_verdict and the page's form in
race_form; they are re-exported here, where the pages, the CLI and the tests have always found
them.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from tuning_core.engine.objectives import TEST_FUNCTIONS
from tuning_core.engine.race import RaceTrialRow
from tuning_core.engine.race_spec import RaceSpec
from tuning_core.engine.spec_parts import FunctionObjectiveSpec, ObjectiveSpec

# Split out by what they hold; re-exported here (see above).
from tuning_core.views.race_form import (  # noqa: F401
    DEFAULT_STRATEGIES,
    DEFAULT_TRIALS,
    FUNCTION_SPACES,
    OBJECTIVES,
    PRUNED_FUNCTION_EPOCHS,
    PRUNED_KERAS_EPOCHS,
    STRATEGY_CHOICES,
    default_race_name,
    race_document,
)
from tuning_core.views.race_frames import (  # noqa: F401
    BAND_COLUMNS,
    REGRET_FLOOR,
    TIME_POINTS,
    TRIAL_COLUMNS,
    convergence_frame,
    hypervolume_trial_frame,
    seconds_per_trial,
    time_frame,
    trial_frame,
)
from tuning_core.views.race_verdict import (  # noqa: F401
    _fmt,
    final_values,
    has_clear_winner,
    seed_wins,
    time_title,
    verdict,
)

# What a race of several metrics is judged on (higher is better).
HYPERVOLUME = "hypervolume"


def judged_by_hypervolume(objective: ObjectiveSpec) -> bool:
    """Whether a race is judged by hypervolume: its objective has several metrics."""
    return len(objective.metrics) > 1


def measure_of(objective: ObjectiveSpec) -> str:
    """What a race is judged on: hypervolume for several metrics, regret where the optimum is
    known (test functions), else the objective's metric."""
    if judged_by_hypervolume(objective):
        return HYPERVOLUME
    return "regret" if isinstance(objective, FunctionObjectiveSpec) else str(objective.metric)


def judged_direction(objective: ObjectiveSpec) -> str:
    """Which way the race's measure is better, as :func:`verdict` takes it: a hypervolume is
    maximised; otherwise the objective's direction (regret, always minimised, is told by the
    measure's name)."""
    return "maximize" if judged_by_hypervolume(objective) else str(objective.direction)


def lower_is_better(objective: ObjectiveSpec) -> bool:
    """Whether a lower value of the race's measure is better."""
    return measure_of(objective) == "regret" or judged_direction(objective) == "minimize"


def measure_title(measure: str, log_y: bool) -> str:
    """The race charts' y-axis title."""
    if log_y:
        return "regret (best − optimum, log)"
    return "hypervolume so far" if measure == HYPERVOLUME else f"best {measure} so far"


def trial_chart_title(measure: str) -> str:
    """The by-trial chart's title."""
    what = "Hypervolume" if measure == HYPERVOLUME else "Best"
    return f"{what} so far by trial: median and middle half of the seeds"


def hypervolume_note(frame: pd.DataFrame) -> str:
    """The sentence under a hypervolume race's charts: what is measured, and from where
    (``frame.attrs["reference"]``); empty for a race of one metric."""
    reference = frame.attrs.get("reference")
    if not reference:
        return ""
    names = list(reference)
    at = ", ".join(f"{name} {_fmt(value)}" for name, value in reference.items())
    space = f"({', '.join(names)})" if len(names) > 2 else f"{names[0]} × {names[1]}"
    return (
        f"Hypervolume: how much of the {space} space a study's front dominates, measured from "
        f"one reference point for every study of the race ({at}, just beyond the worst value "
        "of each metric); it grows when a trial joins the front."
    )


def race_frame(race: RaceSpec, rows: Iterable[RaceTrialRow]) -> pd.DataFrame:
    """:func:`trial_frame` for a race, with regret when its objective's optimum is known; a
    race of several metrics gets :func:`hypervolume_trial_frame`."""
    objective = race.objective
    if judged_by_hypervolume(objective):
        return hypervolume_trial_frame(rows, objective.metrics)
    optimum = (
        TEST_FUNCTIONS[objective.name].optimum
        if isinstance(objective, FunctionObjectiveSpec)
        else None
    )
    return trial_frame(rows, objective.direction, optimum)


def race_verdict(race: RaceSpec, rows: Iterable[RaceTrialRow], finished: bool) -> str:
    """The verdict the page shows, from the race's rows (what ``race`` prints at the end)."""
    objective = race.objective
    frame = race_frame(race, rows)
    return verdict(
        frame, race.titles(), judged_direction(objective), measure_of(objective), finished
    )

