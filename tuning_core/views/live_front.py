"""Live's Pareto front section, for a study of several metrics: which metrics pair up on the
chart, the front over all of them and its default best, and the sentences around the chart.
Pure; no Streamlit."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from tuning_core.engine.spec import StudySpec
from tuning_core.engine.states import Direction, TrialState
from tuning_core.reports.frames import metric_columns
from tuning_core.views import pareto_charts


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def front_goals(spec: StudySpec) -> list[tuple[str, Direction]]:
    """Each metric's (column in the trials frame, direction), in the spec's order
    (:func:`frames.metric_columns`); empty for a study of one metric, which has no front."""
    columns = metric_columns(spec)
    return [(columns[goal.name], goal.direction) for goal in spec.metrics] if columns else []


def front_pairs(spec: StudySpec) -> list[tuple[str, str]]:
    """The (x, y) column pairs the front can be drawn in, the first metric's pairs first and
    the first pair the default (:func:`pareto_charts.metric_pairs`)."""
    return pareto_charts.metric_pairs([column for column, _ in front_goals(spec)])


def pair_label(pair: tuple[str, str]) -> str:
    """A pair picker's option as a reader says it, the y axis first: 'val_accuracy against
    train_seconds'."""
    x_metric, y_metric = pair
    return f"{y_metric} against {x_metric}"


@dataclass(frozen=True)
class Front:
    """A study's Pareto front over all its metrics: the trials on it (by number), how many
    complete trials had a value of every metric, and the default best (the best on the first
    metric among the front, as ``records.study_best`` picks it)."""

    numbers: tuple[int, ...]
    measured: int
    default_best: int | None
    # Finished trials the chart cannot draw: failed, diverged or stopped before a value of
    # every metric, so the sentence accounts for every trial a class sees in the table.
    undrawn: int = 0


def study_front(trials: pd.DataFrame, spec: StudySpec) -> Front:
    """The front of ``trials`` (a trials frame with metric columns) over every metric of
    ``spec``; empty before a complete trial has a value of each."""
    goals = front_goals(spec)
    if trials.empty or not goals:
        return Front((), 0, None)
    marked = pareto_charts.front_frame(trials, goals)
    columns = [column for column, _ in goals]
    values = marked[columns].apply(pd.to_numeric, errors="coerce")
    measured = int(
        ((marked["state"] == TrialState.COMPLETE.value) & values.notna().all(axis=1)).sum()
    )
    undrawn = int((marked["state"] != TrialState.RUNNING.value).sum()) - measured
    front = marked[marked["on_front"]].sort_values("number")
    if front.empty:
        return Front((), measured, None, undrawn)
    first, direction = goals[0]
    best = front.loc[direction.best_index(front[first].astype(float)), "number"]
    return Front(tuple(int(n) for n in front["number"]), measured, int(best), undrawn)


def front_sentence(front: Front, spec: StudySpec) -> str:
    """What the front holds, in one or two sentences: "5 of 12 complete trials are on the
    front: no other trial is as good on every metric and better on one. The default best
    (the best val_accuracy among them; the best model and the export's) is trial 7."."""
    if front.measured == 0:
        return "No complete trial yet: the front appears as trials finish." + undrawn_sentence(
            front.undrawn
        )
    metrics = [goal.name for goal in spec.metrics]
    every = "both metrics" if len(metrics) == 2 else f"all {len(metrics)} metrics"
    count = len(front.numbers)
    verb = "is" if count == 1 else "are"
    text = (
        f"{count} of {front.measured} complete trial{'s' if front.measured != 1 else ''} "
        f"{verb} on the front: no other trial is as good on {every} and better on one."
    )
    if front.default_best is not None:
        text += (
            f" The default best (the best {metrics[0]} among them, which the best model and "
            f"the export use) is trial {front.default_best}."
        )
    return text + undrawn_sentence(front.undrawn)


def undrawn_sentence(undrawn: int) -> str:
    """Why some finished trials are not on the chart (empty when all are)."""
    if undrawn <= 0:
        return ""
    trials = "trial is" if undrawn == 1 else "trials are"
    return (
        f" {undrawn} finished {trials} not drawn: failed, diverged or stopped before every "
        "metric was measured (see the table)."
    )


def front_pair_caption(spec: StudySpec, curves_below: bool) -> str:
    """How to read the front chart (with more than two metrics: that it draws one pair);
    ``curves_below``: the page draws curves a click picks out."""
    text = (
        "Each point is a complete trial; the thick line joins the front, the trials no other "
        "beats on both axes, and pale points are dominated. Click a point to "
        f"{'pick out its curves below' if curves_below else 'read its settings'} "
        "(double-click clears)."
    )
    if len(spec.metrics) > 2:
        text += (
            " The front drawn is this pair's: a trial on the front of all the metrics may look "
            "dominated here."
        )
    return text


def picked_point_text(
    trials: pd.DataFrame, number: int, spec: StudySpec, front: Front, curves_below: bool = False
) -> str:
    """One clicked trial in words: its metrics, whether it is on the front, and its
    settings: "Trial 7 (on the front): val_accuracy 0.951, train_seconds 3.2; learning_rate
    0.01, units 128."; with ``curves_below``, that its curves are the solid ones below.
    Empty when the trials do not hold it."""
    rows = trials[trials["number"] == number] if not trials.empty else trials
    if rows.empty:
        return ""
    row = rows.iloc[0]
    where = "on the front" if number in front.numbers else "dominated"
    if row["state"] != TrialState.COMPLETE.value:
        where = str(row["state"])
    measured = [
        f"{goal.name} {_fmt(float(row[column]))}"
        for goal, (column, _) in zip(spec.metrics, front_goals(spec), strict=True)
        if column in row.index and not pd.isna(row[column])
    ]
    settings = [
        f"{name} {_fmt(row[name])}"
        for name in spec.space.names
        if name in row.index and not (isinstance(row[name], float) and math.isnan(row[name]))
    ]
    text = f"Trial {number} ({where})"
    if measured:
        text += ": " + ", ".join(measured)
    if settings:
        text += "; " + ", ".join(settings)
    return text + (". Its curves are the solid lines below." if curves_below else ".")
