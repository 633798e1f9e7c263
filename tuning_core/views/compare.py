"""The Compare page's words and choices: a plain-language summary of a study, and which
studies' hypervolumes compare. Pure; no Streamlit."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from tuning_core.engine.spec import StudySpec
from tuning_core.engine.states import Direction, TrialState
from tuning_core.reports.frames import MIN_TRIALS_FOR_IMPORTANCE, metric_columns
from tuning_core.views.forms import format_number

NAMES = {"learning_rate": "the learning rate", "batch_size": "the batch size"}
OPTIMIZER_NAMES = {"sgd": "SGD", "adam": "Adam", "rmsprop": "RMSprop"}


def _setting(name: str, value: object) -> str:
    if isinstance(value, float):
        value = format_number(float(f"{value:.2g}"))
    return f"{name.replace('_', ' ')} {value}"


def plain_summary(spec: StudySpec, trials: pd.DataFrame, importance: pd.DataFrame) -> str | None:
    """E.g. "The best trial (4) used Adam at learning rate 0.002 and reached val_accuracy
    0.951; the learning rate mattered most: its value alone explains 71% of the score's
    variance (η²). 1 of 12 trials diverged." (the importance chart's bar reads 71% too)
    None before a complete trial.
    """
    complete = trials[(trials["state"] == TrialState.COMPLETE.value) & trials["value"].notna()]
    if complete.empty:
        return None
    best = complete.loc[spec.direction.best_index(complete["value"].astype(float))]
    tuned = [name for name in spec.space.names if name in best.index]
    settings = [_setting(n, best[n]) for n in tuned if n not in ("optimizer", "learning_rate")]
    if "optimizer" in tuned and "learning_rate" in tuned:
        optimizer = OPTIMIZER_NAMES.get(str(best["optimizer"]), str(best["optimizer"]))
        settings.insert(0, f"{optimizer} at {_setting('learning_rate', best['learning_rate'])}")
    elif "optimizer" in tuned:
        settings.insert(0, OPTIMIZER_NAMES.get(str(best["optimizer"]), str(best["optimizer"])))
    elif "learning_rate" in tuned:
        settings.insert(0, _setting("learning_rate", best["learning_rate"]))
    used = f" used {', '.join(settings)} and" if settings else ""
    text = (
        f"The best trial ({int(best['number'])}){used} reached {spec.metric} "
        f"{float(best['value']):.3f}"
    )
    if len(complete) >= MIN_TRIALS_FOR_IMPORTANCE and not importance.empty:
        top = importance.iloc[0]
        name = NAMES.get(top["hyperparameter"], f"the {top['hyperparameter'].replace('_', ' ')}")
        share = f"{float(top['eta_squared']):.0%}"  # as the importance bar labels it
        text += (
            f"; {name} mattered most: its value alone explains {share} of the score's variance (η²)"
        )
    elif len(spec.space.names) > 1:
        text += f"; {len(complete)} complete trials are too few to say what mattered most"
    text += "."
    diverged = int((trials["state"] == TrialState.DIVERGED.value).sum())
    if diverged:
        text += f" {diverged} of {len(trials)} trials diverged."
    pruned = int((trials["state"] == TrialState.PRUNED.value).sum())
    if pruned:
        # Only complete trials take part above: a pruned trial's value is where it stopped.
        text += f" {pruned} of {len(trials)} trials were pruned early and are left out here."
    return text


def noted_trials(trials: pd.DataFrame, notes: dict[int, str]) -> pd.DataFrame:
    """The trials that carry a person's note: number, state, value and the note."""
    if trials.empty or not notes:
        return pd.DataFrame(columns=["number", "state", "value", "note"])
    rows = trials[trials["number"].isin(list(notes))][["number", "state", "value"]]
    return rows.assign(note=rows["number"].map(notes)).reset_index(drop=True)


def shared_goals(specs: Sequence[StudySpec]) -> list[tuple[str, Direction]] | None:
    """The (metric, direction) goals of studies of several metrics that all optimise the same
    metrics the same way (in the first study's order), so their hypervolumes compare; None
    when there is no study, one optimises a single metric, or their metrics differ."""
    if not specs or not all(spec.multi_metric for spec in specs):
        return None
    goals = [(goal.name, goal.direction) for goal in specs[0].metrics]
    if any({(g.name, g.direction) for g in spec.metrics} != set(goals) for spec in specs[1:]):
        return None
    return goals


def metric_values(trials: pd.DataFrame, spec: StudySpec) -> pd.DataFrame:
    """number, state and one column per metric named by the metric itself, from a trials
    frame with metric columns (``frames.trials_frame(..., with_metrics=True)``), so studies
    whose columns were named apart (a metric named like a parameter) line up."""
    columns = metric_columns(spec)
    if trials.empty:
        return pd.DataFrame(columns=["number", "state", *columns])
    shown = trials[["number", "state", *columns.values()]]
    return shown.set_axis(["number", "state", *columns], axis=1)


def hypervolume_caption(reference_sentence: str) -> str:
    """What the hypervolume chart shows and where it is measured from."""
    return (
        "Each line is one study's hypervolume after each finished trial: a line that climbs "
        f"higher and sooner found a better, wider front faster. {reference_sentence}"
    ).strip()
