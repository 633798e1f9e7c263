"""Pure functions from DataFrames to Altair charts; no Streamlit, no store access.

Tests assert on ``chart.to_dict()``: encodings, scale types (log for learning rates), data.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from tuning_core.engine.states import TrialState

# A study of 200 trials x 30 epochs has 6,000 points per curve chart; the data goes to the
# browser as Arrow through Streamlit, so Altair's 5,000-row guard for inline JSON does not apply.
alt.data_transformers.disable_max_rows()

CURVE_HEIGHT = 260
LINKED_WIDTH = 640
DIVERGED_DASH = [4, 3]
LEARNING_RATE_TITLE = "learning rate"


def _color(field: str, log: bool, title: str | None = None, legend: bool = True) -> alt.Color:
    """A continuous colour, on a log scale for log-scaled hyperparameters such as the learning
    rate.
    """
    scale = alt.Scale(type="log", scheme="viridis") if log else alt.Scale(scheme="viridis")
    shown = alt.Legend(format=".0e" if log else "") if legend else None
    return alt.Color(f"{field}:Q", scale=scale, title=title or field, legend=shown)


def trial_selection() -> alt.Parameter:
    """Clicking (shift-click for more) a trial selects it; empty selection means all."""
    return alt.selection_point(fields=["number"], name="trials", on="click", clear="dblclick")


def curves_data(curves: pd.DataFrame, metric: str, color_field: str | None) -> pd.DataFrame:
    """The rows :func:`curves_chart` draws: one metric, the columns it encodes, a diverged flag."""
    data = curves[curves["metric"] == metric]
    keep = ["number", "epoch", "value", "state"] + (
        [color_field] if color_field and color_field in data else []
    )
    diverged = data["state"] == TrialState.DIVERGED.value
    data = data[keep].assign(diverged=diverged)
    if metric.endswith("loss") and (~diverged).any() and diverged.any():
        # A diverged loss (up to ~1e14) would flatten every other curve: draw it at the top of
        # the others' range, where its dashed line and × still say what happened.
        ceiling = 1.5 * float(data.loc[~diverged, "value"].max())
        data["value"] = data["value"].where(~diverged, data["value"].clip(upper=ceiling))
    return data


def spec_without_data(chart: alt.TopLevelMixin) -> dict:
    """A chart's Vega-Lite spec with its data removed, to be reused with fresh data.

    Building and validating an Altair chart costs ~100 ms; a live page that redraws every
    second builds the spec once and only swaps the rows (st.vega_lite_chart(data, spec)).
    """
    spec = chart.to_dict()
    spec.pop("data", None)
    spec.pop("datasets", None)
    return spec


def curves_chart(
    curves: pd.DataFrame,
    metric: str,
    color_field: str | None = "learning_rate",
    color_log: bool = True,
    selection: alt.Parameter | None = None,
    title: str | None = None,
    define_selection: bool = True,
) -> alt.Chart:
    """One line per trial of ``metric`` against epoch; diverged trials dashed and marked with an ×.

    ``curves`` is the long form from :func:`analysis.curves_frame` (number, epoch, metric, value,
    state and param columns). Lines take their colour from ``color_field`` (log scale if asked).
    """
    data = curves_data(curves, metric, color_field)
    tooltip = [
        alt.Tooltip("number:Q", title="trial"),
        alt.Tooltip("epoch:Q"),
        alt.Tooltip("value:Q", title=metric, format=".4f"),
    ]
    legend_layer = None
    if color_field and color_field in data:
        color_title = LEARNING_RATE_TITLE if color_field == "learning_rate" else color_field
        # Line marks can only have a symbol legend (one entry per tick, which overflows); the
        # colour's gradient legend comes from an invisible point layer instead.
        color = _color(color_field, color_log, color_title, legend=False)
        legend_layer = (
            alt.Chart(data)
            .transform_filter("datum.epoch == 0")
            .mark_point(opacity=0)
            .encode(color=_color(color_field, color_log, color_title))
        )
        tooltip.append(alt.Tooltip(f"{color_field}:Q", format=".3g"))
    else:
        color = alt.Color("number:N", title="trial")
    base = alt.Chart(data, title=title or metric).encode(
        x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1)),
        y=alt.Y("value:Q", title=metric, scale=alt.Scale(zero=False)),
        detail="number:N",
        tooltip=tooltip,
    )
    lines = base.mark_line(point=alt.OverlayMarkDef(size=18)).encode(
        color=color,
        strokeDash=alt.condition("datum.diverged", alt.value(DIVERGED_DASH), alt.value([1, 0])),
    )
    last_points = (
        base.transform_filter("datum.diverged")
        .transform_window(
            rank="rank()", sort=[alt.SortField("epoch", order="descending")], groupby=["number"]
        )
        .transform_filter("datum.rank == 1")
        .mark_point(shape="cross", size=120, color="#d62728", filled=True)
    )
    if selection is not None:
        # With define_selection False the selection lives in a sibling chart (see
        # linked_parallel_and_curves).
        lines = lines.encode(opacity=alt.condition(selection, alt.value(1.0), alt.value(0.12)))
        if define_selection:
            lines = lines.add_params(selection)
    layers = [lines, last_points] + ([legend_layer] if legend_layer is not None else [])
    # Independent legends: the lines' (switched off) must not suppress the gradient one.
    return alt.layer(*layers).resolve_legend(color="independent").properties(height=CURVE_HEIGHT)


def batch_loss_chart(losses: pd.DataFrame, title: str) -> alt.Chart:
    """The running training loss within epochs (x in fractional epochs), for the current trial."""
    return (
        alt.Chart(losses, title=title)
        .mark_line(point=alt.OverlayMarkDef(size=12))
        .encode(
            x=alt.X("progress:Q", title="epoch (within-epoch points)"),
            y=alt.Y("loss:Q", title="training loss", scale=alt.Scale(zero=False)),
            tooltip=[alt.Tooltip("progress:Q", format=".2f"), alt.Tooltip("loss:Q", format=".4f")],
        )
        .properties(height=200)
    )


def convergence_chart(convergence: pd.DataFrame, direction: str) -> alt.Chart:
    """Every complete trial as a dot and the best value so far as a step line."""
    base = alt.Chart(convergence).encode(
        x=alt.X("number:Q", title="trial", axis=alt.Axis(tickMinStep=1, format="d"))
    )
    dots = base.mark_circle(size=45, opacity=0.6).encode(
        y=alt.Y("value:Q", title="value", scale=alt.Scale(zero=False)),
        tooltip=[
            "number:Q",
            alt.Tooltip("value:Q", format=".4f"),
            alt.Tooltip("best_so_far:Q", format=".4f"),
        ],
    )
    best = base.mark_line(interpolate="step-after", color="#d62728").encode(y="best_so_far:Q")
    return alt.layer(dots, best, title=f"best so far ({direction})").properties(height=CURVE_HEIGHT)


def studies_convergence_chart(convergence: pd.DataFrame) -> alt.Chart:
    """Best-so-far lines of several studies, one colour each (``study`` column)."""
    return (
        alt.Chart(convergence, title="best so far, by study")
        .mark_line(interpolate="step-after", point=True)
        .encode(
            x=alt.X("number:Q", title="trial", axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y("best_so_far:Q", title="best value so far", scale=alt.Scale(zero=False)),
            color=alt.Color("study:N"),
            tooltip=["study:N", "number:Q", alt.Tooltip("best_so_far:Q", format=".4f")],
        )
        .properties(height=CURVE_HEIGHT)
    )


def slice_chart(trials: pd.DataFrame, parameter: str, log: bool) -> alt.Chart:
    """The score of each complete trial against one hyperparameter (log x-axis for log
    dimensions).
    """
    done = trials[(trials["state"] == TrialState.COMPLETE.value) & trials["value"].notna()]
    numeric = pd.api.types.is_numeric_dtype(done[parameter]) if parameter in done else False
    x = (
        alt.X(
            f"{parameter}:Q",
            scale=alt.Scale(type="log" if log else "linear", zero=False),
            title=parameter,
        )
        if numeric
        else alt.X(f"{parameter}:N", title=parameter)
    )
    return (
        alt.Chart(done[["number", "value", parameter]], title=parameter)
        .mark_circle(size=60)
        .encode(
            x=x,
            y=alt.Y("value:Q", scale=alt.Scale(zero=False)),
            color=alt.Color("number:Q", title="trial", scale=alt.Scale(scheme="viridis")),
            tooltip=[
                "number:Q",
                alt.Tooltip("value:Q", format=".4f"),
                f"{parameter}:{'Q' if numeric else 'N'}",
            ],
        )
        .properties(height=220, width=260)
    )


def parallel_frame(
    trials: pd.DataFrame, dimensions: list[str], log_dimensions: list[str]
) -> pd.DataFrame:
    """Long form for parallel coordinates: number, value, dimension, position in [0, 1], label."""
    done = trials[(trials["state"] == TrialState.COMPLETE.value) & trials["value"].notna()]
    rows = []
    for name in [*dimensions, "value"]:
        if name not in done:
            continue
        column = done[name]
        if pd.api.types.is_numeric_dtype(column):
            numbers = (
                np.log10(column.astype(float)) if name in log_dimensions else column.astype(float)
            )
            low, high = numbers.min(), numbers.max()
            position = (numbers - low) / (high - low) if high > low else numbers * 0 + 0.5
        else:
            categories = sorted(column.astype(str).unique())
            index = column.astype(str).map({c: i for i, c in enumerate(categories)})
            position = index / max(len(categories) - 1, 1)
        for number, value, pos, raw in zip(
            done["number"], done["value"], position, column, strict=True
        ):
            rows.append(
                {
                    "number": number,
                    "value": value,
                    "dimension": name,
                    "position": float(pos),
                    "label": str(raw),
                }
            )
    return pd.DataFrame(rows, columns=["number", "value", "dimension", "position", "label"])


def parallel_coordinates_chart(
    parallel: pd.DataFrame, order: list[str], selection: alt.Parameter | None = None
) -> alt.Chart:
    """A line per trial across its hyperparameters (each scaled to [0, 1]), coloured by score."""
    chart = (
        alt.Chart(parallel, title="parallel coordinates (click a line; double-click clears)")
        .mark_line(strokeWidth=2)
        .encode(
            x=alt.X("dimension:N", sort=order, title=None),
            y=alt.Y("position:Q", title="position in range", axis=alt.Axis(format="%")),
            detail="number:N",
            color=alt.Color("value:Q", scale=alt.Scale(scheme="viridis"), title="value"),
            tooltip=["number:Q", "dimension:N", "label:N", alt.Tooltip("value:Q", format=".4f")],
        )
        .properties(height=CURVE_HEIGHT)
    )
    if selection is not None:
        chart = chart.encode(
            opacity=alt.condition(selection, alt.value(0.9), alt.value(0.1))
        ).add_params(selection)
    return chart


def linked_parallel_and_curves(
    parallel: pd.DataFrame, order: list[str], curves: pd.DataFrame, metric: str
) -> alt.VConcatChart:
    """Parallel coordinates above the loss curves; selecting trials in one highlights them in
    both.
    """
    selection = trial_selection()
    # Concatenated views cannot stretch to their container, so both get the same fixed width.
    top = parallel_coordinates_chart(parallel, order, selection).properties(width=LINKED_WIDTH)
    bottom = curves_chart(curves, metric, selection=selection, define_selection=False).properties(
        width=LINKED_WIDTH
    )
    return alt.vconcat(top, bottom).resolve_scale(color="independent")


def importance_chart(importance: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(importance, title="hyperparameter importance")
        .mark_bar()
        .encode(
            x=alt.X("importance:Q", axis=alt.Axis(format="%")),
            y=alt.Y("hyperparameter:N", sort="-x", title=None),
            tooltip=[
                "hyperparameter:N",
                alt.Tooltip("importance:Q", format=".1%"),
                alt.Tooltip("eta_squared:Q", format=".3f"),
            ],
        )
        .properties(height=max(60, 28 * len(importance)))
    )


def partial_dependence_chart(frame: pd.DataFrame, log_dimensions: list[str]) -> alt.HConcatChart:
    """The surrogate's predicted score against each dimension, averaged over the others."""
    charts = []
    for name, group in frame.groupby("dimension", sort=False):
        numeric = pd.api.types.is_numeric_dtype(group["x"].infer_objects())
        x = (
            alt.X(
                "x:Q",
                title=name,
                scale=alt.Scale(type="log" if name in log_dimensions else "linear", zero=False),
            )
            if numeric
            else alt.X("x:N", title=name)
        )
        mark = (
            alt.Chart(group.infer_objects()).mark_line(point=True)
            if numeric
            else alt.Chart(group).mark_bar()
        )
        charts.append(
            mark.encode(
                x=x,
                y=alt.Y("score:Q", scale=alt.Scale(zero=False), title="predicted score"),
                tooltip=["x", alt.Tooltip("score:Q", format=".4f")],
            ).properties(width=220, height=180)
        )
    return alt.hconcat(*charts)


def final_accuracy_bars(finals: pd.DataFrame) -> alt.Chart:
    """Validation accuracy per learning rate on a log x-axis; diverged runs in red."""
    return (
        alt.Chart(finals, title="final validation accuracy by learning rate")
        .mark_bar(size=24)
        .encode(
            x=alt.X("learning_rate:Q", scale=alt.Scale(type="log"), title=LEARNING_RATE_TITLE),
            y=alt.Y("val_accuracy:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
            color=alt.condition(
                alt.datum.state == TrialState.DIVERGED.value,
                alt.value("#d62728"),
                alt.value("#4c78a8"),
            ),
            tooltip=[
                alt.Tooltip("learning_rate:Q", format=".1e"),
                alt.Tooltip("val_accuracy:Q", format=".1%"),
                "state:N",
            ],
        )
        .properties(height=220)
    )


def lr_range_chart(curve: pd.DataFrame, suggestions: dict[str, float]) -> alt.Chart:
    """Smoothed loss against learning rate (log x) with the suggestions as labelled rules."""
    line = (
        alt.Chart(curve)
        .mark_line()
        .encode(
            x=alt.X("learning_rate:Q", scale=alt.Scale(type="log"), title=LEARNING_RATE_TITLE),
            y=alt.Y("smoothed_loss:Q", title="smoothed loss", scale=alt.Scale(zero=False)),
            tooltip=[
                alt.Tooltip("learning_rate:Q", format=".2e"),
                alt.Tooltip("smoothed_loss:Q", format=".4f"),
            ],
        )
    )
    marks = pd.DataFrame(
        [{"suggestion": name, "learning_rate": value} for name, value in suggestions.items()]
    )
    rules = (
        alt.Chart(marks)
        .mark_rule(strokeDash=[4, 2], size=2)
        .encode(
            x="learning_rate:Q",
            color=alt.Color("suggestion:N"),
            tooltip=["suggestion:N", alt.Tooltip("learning_rate:Q", format=".2e")],
        )
    )
    return alt.layer(line, rules, title="LR range test").properties(height=CURVE_HEIGHT)


def descent_contour_chart(grid: pd.DataFrame, path: pd.DataFrame) -> alt.Chart:
    """A 2-D function as a grid of dots shaded by log loss, with the descent path drawn over it."""
    background = (
        alt.Chart(grid)
        .mark_circle(size=30, opacity=0.5)
        .encode(
            x=alt.X("x:Q", scale=alt.Scale(zero=False, nice=False)),
            y=alt.Y("y:Q", scale=alt.Scale(zero=False, nice=False)),
            color=alt.Color(
                "log_loss:Q", scale=alt.Scale(scheme="greys", reverse=True), title="log10 loss"
            ),
        )
    )
    trail = (
        alt.Chart(path)
        .mark_line(point=True, color="#d62728")
        .encode(
            x="x:Q",
            y="y:Q",
            order="step:Q",
            tooltip=[
                "step:Q",
                alt.Tooltip("x:Q", format=".3f"),
                alt.Tooltip("y:Q", format=".3f"),
                alt.Tooltip("loss:Q", format=".3g"),
            ],
        )
    )
    return alt.layer(background, trail, title="descent path over the loss surface").properties(
        height=320, width=420
    )


def descent_curve_chart(function_points: pd.DataFrame, path: pd.DataFrame) -> alt.Chart:
    """A 1-D function with the descent path's points on it."""
    curve = (
        alt.Chart(function_points)
        .mark_line(color="#888")
        .encode(x=alt.X("x:Q", title="θ"), y=alt.Y("loss:Q", title="f(θ)"))
    )
    trail = (
        alt.Chart(path)
        .mark_line(point=True, color="#d62728")
        .encode(
            x="x:Q",
            y="loss:Q",
            order="step:Q",
            tooltip=[
                "step:Q",
                alt.Tooltip("x:Q", format=".3f"),
                alt.Tooltip("loss:Q", format=".3g"),
            ],
        )
    )
    return alt.layer(curve, trail, title="descent path on f(θ)").properties(height=300)


def loss_per_step_chart(path: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(path, title="loss per step")
        .mark_line(point=True)
        .encode(
            x=alt.X("step:Q"),
            y=alt.Y("loss:Q", scale=alt.Scale(type="symlog")),
            tooltip=["step:Q", alt.Tooltip("loss:Q", format=".3g")],
        )
        .properties(height=300)
    )
