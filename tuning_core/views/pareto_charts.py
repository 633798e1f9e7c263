"""Charts of studies with several metrics: the Pareto front two metrics at a time, and the
hypervolume over trials by study (Compare, races).

Pure functions from DataFrames to Altair charts; tests assert on ``chart.to_dict()``. The
front and the hypervolume are computed by ``engine.pareto``, the one place for their rules.

A trials frame has one row per finished trial: ``number``, ``state`` and one column per
metric (``val_accuracy``, ``train_seconds``, ...). Only complete trials with finite values in
the metrics at hand can be on a front.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import altair as alt
import numpy as np
import pandas as pd

from tuning_core.engine import pareto
from tuning_core.engine.states import Direction, TrialState
from tuning_core.views.chart_style import STATE_COLOURS, trial_selection

# Streamlit fits title, axes and legend into a chart's height: at the projector's minimum
# (380) a full-width front kept a 150 px strip, its steps flattened. The hypervolume lines
# get the Compare convergence plot's height.
PARETO_HEIGHT = 480
HYPERVOLUME_HEIGHT = 400
FRONT_COLOUR = STATE_COLOURS[TrialState.COMPLETE.value]
DOMINATED_COLOUR = "#9e9e9e"
SELECTED_COLOUR = "#000000"
DOMINATED_OPACITY = 0.4
# Up to this many front points, each is labelled with its trial number.
FRONT_LABELS_MAX = 12

Goals = Sequence[tuple[str, Direction | str]]


def direction_words(direction: Direction | str) -> str:
    """How an axis says which way is better."""
    return "higher is better" if Direction(direction) is Direction.MAXIMIZE else "lower is better"


def metric_title(metric: str, direction: Direction | str) -> str:
    """An axis title that names the metric and its direction: 'val_accuracy (higher is
    better)'."""
    return f"{metric} ({direction_words(direction)})"


def _complete_finite(trials: pd.DataFrame, metrics: Sequence[str]) -> np.ndarray:
    """Rows that can be on a front: complete, with a finite value in every metric."""
    complete = (trials["state"] == TrialState.COMPLETE.value).to_numpy()
    values = trials[list(metrics)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    return complete & np.all(np.isfinite(values), axis=1)


def _check_goals(trials: pd.DataFrame, goals: Goals) -> list[tuple[str, Direction]]:
    checked = []
    for name, direction in goals:
        if name not in trials.columns:
            raise ValueError(f"the trials have no column for the metric {name!r}.")
        checked.append((name, Direction(direction)))
    if len({name for name, _ in checked}) != len(checked):
        raise ValueError(f"goals name a metric twice: {[name for name, _ in checked]}.")
    return checked


def front_frame(trials: pd.DataFrame, goals: Goals) -> pd.DataFrame:
    """``trials`` with ``on_front`` (bool) and ``front_rank`` (nullable int) added.

    ``on_front``: the trial is complete, finite in every goal's metric, and no such trial
    dominates it over ``goals`` (metric, direction); copies of a front point are all on it.
    ``front_rank``: 0, 1, ... along the front in ascending order of the first goal's metric,
    then the next ones (the order a line joins the points), <NA> off the front.
    """
    checked = _check_goals(trials, goals)
    metrics = [name for name, _ in checked]
    shown = trials.copy()
    eligible = np.flatnonzero(_complete_finite(trials, metrics))
    values = trials[metrics].iloc[eligible].astype(float).to_numpy()
    front = eligible[pareto.front_indices(values, [d for _, d in checked])]
    on_front = np.zeros(len(trials), dtype=bool)
    on_front[front] = True
    shown["on_front"] = on_front
    rank = pd.Series(pd.NA, index=shown.index, dtype="Int64")
    if len(front):
        order = front[np.lexsort(trials[metrics].iloc[front].astype(float).to_numpy().T[::-1])]
        rank.iloc[order] = np.arange(len(order))
    shown["front_rank"] = rank
    return shown


def metric_pairs(metric_names: Sequence[str]) -> list[tuple[str, str]]:
    """Every pair of metrics as ``(x_metric, y_metric)``, for a pair picker.

    The earlier metric of a pair goes on y (the study's first metric reads as the height);
    pairs come in the metrics' order: for a, b, c: (b, a), (c, a), (c, b). Fewer than two
    metrics give no pair; a name given twice gets one sentence.
    """
    names = list(metric_names)
    if len(set(names)) != len(names):
        raise ValueError(f"metric names must differ, not {names}.")
    return [(x, y) for y, x in itertools.combinations(names, 2)]


def _pair_directions(
    x_metric: str, y_metric: str, directions: Mapping[str, Direction | str] | Sequence
) -> tuple[Direction, Direction]:
    if isinstance(directions, Mapping):
        return Direction(directions[x_metric]), Direction(directions[y_metric])
    x_direction, y_direction = directions
    return Direction(x_direction), Direction(y_direction)


def pareto_chart(
    frame: pd.DataFrame,
    x_metric: str,
    y_metric: str,
    directions: Mapping[str, Direction | str] | Sequence[Direction | str],
    selected: int | None = None,
) -> alt.LayerChart:
    """Two metrics of the complete trials, the front of that pair highlighted.

    ``directions`` is a mapping metric -> direction, or the pair (x's, y's). Front points
    are strong and joined by a staircase (the edge of what the front attains); dominated
    trials are pale grey. With more than two metrics the front drawn is this pair's: a trial
    on the full front may look dominated here. Clicking a point selects its trial through the
    ``trials`` point selection on ``number`` (``chart_style.trial_selection``, which
    ``st.altair_chart(..., on_select="rerun")`` reports); ``selected`` rings that trial.
    Axis and tooltip titles name the metric and which way is better.
    """
    x_direction, y_direction = _pair_directions(x_metric, y_metric, directions)
    marked = front_frame(frame, [(x_metric, x_direction), (y_metric, y_direction)])
    # Only plottable rows; fields x and y, since a metric's name may hold '.' or '[' that
    # Vega-Lite would read as a path. Titles carry the names.
    shown = marked[_complete_finite(marked, [x_metric, y_metric])]
    data = pd.DataFrame(
        {
            "number": shown["number"].astype(int),
            "x": shown[x_metric].astype(float),
            "y": shown[y_metric].astype(float),
            "on_front": shown["on_front"].astype(bool),
            "front_rank": shown["front_rank"],
            "role": np.where(shown["on_front"], "on the front", "dominated"),
        }
    )
    x_title, y_title = metric_title(x_metric, x_direction), metric_title(y_metric, y_direction)
    # The data's own range and 20 px to spare: a "nice" domain stretched 1.8-15.4 s to 0-16.
    scale = alt.Scale(zero=False, nice=False, padding=20)
    # About a tick per 120 px: half-second steps ran together at the projector's 16 px.
    x = alt.X("x:Q", title=x_title, scale=scale, axis=alt.Axis(tickCount=8, labelOverlap=True))
    y = alt.Y("y:Q", title=y_title, scale=scale)
    tooltip = [
        alt.Tooltip("number:Q", title="trial"),
        alt.Tooltip("x:Q", title=x_metric, format=".4~f"),
        alt.Tooltip("y:Q", title=y_metric, format=".4~f"),
        alt.Tooltip("role:N", title="Pareto"),
    ]
    base = alt.Chart(data).encode(x=x, y=y)
    on_front = alt.datum.on_front
    # The staircase turns at the corner a front point attains: with x minimised a point's
    # y holds until the next point (step-after), with x maximised from the previous one.
    step = "step-after" if x_direction is Direction.MINIMIZE else "step-before"
    line = (
        base.transform_filter(on_front)
        .mark_line(interpolate=step, color=FRONT_COLOUR, strokeWidth=3)
        .encode(order=alt.Order("front_rank:Q"))
    )
    points = base.mark_point(filled=True, size=110, strokeWidth=0).encode(
        color=alt.Color(
            "role:N",
            title=None,
            scale=alt.Scale(
                domain=["on the front", "dominated"], range=[FRONT_COLOUR, DOMINATED_COLOUR]
            ),
            # On the right: the width is to spare, the height is not.
            legend=alt.Legend(orient="right"),
        ),
        opacity=alt.condition(on_front, alt.value(1.0), alt.value(DOMINATED_OPACITY)),
        size=alt.condition(on_front, alt.value(150), alt.value(90)),
        tooltip=tooltip,
    )
    points = points.add_params(trial_selection())
    layers: list[alt.Chart] = [line, points]
    if int(data["on_front"].sum()) <= FRONT_LABELS_MAX:
        labels = (
            base.transform_filter(on_front)
            .transform_calculate(label="'#' + datum.number")
            .mark_text(align="left", dx=9, dy=-9, fontSize=13, color=FRONT_COLOUR)
            .encode(text="label:N")
        )
        layers.append(labels)
    if selected is not None:
        ring = (
            base.transform_filter(alt.datum.number == int(selected))
            .mark_point(size=420, strokeWidth=3, color=SELECTED_COLOUR, filled=False)
            .encode(tooltip=tooltip)
        )
        layers.append(ring)
    # No subtitle: the projector's config raises titles, not subtitles, which stayed at 11 px.
    title = f"Pareto front: {int(data['on_front'].sum())} of {len(data)} complete trials"
    return alt.layer(*layers, title=title).properties(height=PARETO_HEIGHT)


def hypervolume_frame(
    trials_by_study: Mapping[str, pd.DataFrame],
    goals: Goals,
    reference: Sequence[float] | None = None,
) -> pd.DataFrame:
    """The hypervolume after each finished trial of each study: ``study``, ``trial`` (1 for
    the first finished trial), ``number`` and ``hypervolume``.

    One reference point for all studies, so their lines compare: ``reference`` if given, else
    ``engine.pareto.reference_point`` over every study's complete, finite trials. It is kept
    in ``frame.attrs["reference"]`` (metric -> value). Running trials are left out; failed,
    pruned and dominated trials keep the line level. No complete trial anywhere (and no
    ``reference``) gives an empty frame.
    """
    columns = ["study", "trial", "number", "hypervolume"]
    finished: dict[str, pd.DataFrame] = {}
    checked: list[tuple[str, Direction]] = []
    for study, trials in trials_by_study.items():
        checked = _check_goals(trials, goals)
        done = trials[trials["state"] != TrialState.RUNNING.value].sort_values("number")
        finished[study] = done
    checked = checked or [(name, Direction(d)) for name, d in goals]
    metrics, directions = [n for n, _ in checked], [d for _, d in checked]

    def points(trials: pd.DataFrame) -> np.ndarray:
        values = trials[metrics].apply(pd.to_numeric, errors="coerce").to_numpy(float, copy=True)
        values[~_complete_finite(trials, metrics)] = np.nan  # counted as a trial, adds nothing
        return values

    if reference is None:
        pooled = [points(trials) for trials in finished.values()]
        everything = np.vstack(pooled) if pooled else np.empty((0, len(metrics)))
        everything = everything[np.all(np.isfinite(everything), axis=1)]
        if len(everything) == 0:
            return pd.DataFrame(columns=columns)
        reference = pareto.reference_point(everything, directions)
    rows = []
    for study, trials in finished.items():
        volumes = pareto.hypervolume_by_trial(points(trials), directions, reference)
        for k, (number, volume) in enumerate(zip(trials["number"], volumes, strict=True)):
            rows.append(
                {"study": study, "trial": k + 1, "number": int(number), "hypervolume": volume}
            )
    frame = pd.DataFrame(rows, columns=columns)
    frame.attrs["reference"] = dict(zip(metrics, map(float, reference), strict=True))
    return frame


def hypervolume_chart(frame: pd.DataFrame) -> alt.Chart:
    """One step line per study: its hypervolume after its n-th finished trial.

    ``frame`` is :func:`hypervolume_frame`'s; a page says its reference point with
    :func:`reference_caption`, since hypervolumes compare only under one.
    """
    return (
        alt.Chart(
            frame[["study", "trial", "number", "hypervolume"]],
            title="hypervolume over trials, by study",
        )
        .mark_line(interpolate="step-after", point=True, strokeWidth=2.5)
        .encode(
            x=alt.X("trial:Q", title="finished trial", axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y(
                "hypervolume:Q",
                title="hypervolume (higher is better)",
                scale=alt.Scale(zero=False),
            ),
            # Distinct hues as on the race charts (Streamlit's theme gave two studies two blues).
            color=alt.Color(
                "study:N",
                scale=alt.Scale(domain=list(dict.fromkeys(frame["study"])), scheme="tableau10"),
                legend=alt.Legend(orient="right", labelLimit=300),
            ),
            tooltip=[
                "study:N",
                alt.Tooltip("trial:Q", title="finished trial"),
                alt.Tooltip("number:Q", title="trial number"),
                alt.Tooltip("hypervolume:Q", format=".4g"),
            ],
        )
        .properties(height=HYPERVOLUME_HEIGHT)
    )


def reference_caption(frame: pd.DataFrame) -> str:
    """The sentence under a hypervolume chart naming the reference point it is measured from
    (``frame.attrs["reference"]`` from :func:`hypervolume_frame`); empty without one."""
    reference = frame.attrs.get("reference")
    if not reference:
        return ""
    corner = ", ".join(f"{name} {value:.4g}" for name, value in reference.items())
    return (
        f"Hypervolume: the area (volume) the trials beat, measured from one corner for all "
        f"studies: {corner}."
    )
