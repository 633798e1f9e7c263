"""The Learning-rate lab's charts: final accuracy by learning rate, the LR range test, and
the gradient-descent playground (the path over a surface or a curve, the loss per step).

Pure functions from DataFrames to Altair charts; tests assert on ``chart.to_dict()``.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from tuning_core.engine.states import TrialState
from tuning_core.views.chart_style import (
    CURVE_HEIGHT,
    DIVERGED_COLOUR,
    DIVERGED_SHAPE,
    LEARNING_RATE_TITLE,
)


def final_accuracy_bars(finals: pd.DataFrame) -> alt.LayerChart:
    """Validation accuracy per learning rate on a log x-axis, each bar labelled with its outcome
    ("94%", "ended at chance", "diverged"); a diverged run, which has no accuracy, is a red ×
    on the axis rather than an invisible zero-height bar.
    """
    data = finals.assign(diverged=finals["state"] == TrialState.DIVERGED.value)
    base = alt.Chart(data).encode(
        x=alt.X(
            "learning_rate:Q",
            scale=alt.Scale(type="log"),
            title=LEARNING_RATE_TITLE,
            axis=alt.Axis(format="~g", grid=False),
        ),
        y=alt.Y(
            "val_accuracy:Q",
            scale=alt.Scale(domain=[0, 1.1]),
            axis=alt.Axis(format="%", values=[0, 0.25, 0.5, 0.75, 1]),
            title="validation accuracy",
        ),
        tooltip=[
            alt.Tooltip("learning_rate:Q", format="~g", title=LEARNING_RATE_TITLE),
            alt.Tooltip("val_accuracy:Q", format=".1%"),
            "outcome:N",
        ],
    )
    bars = base.transform_filter("!datum.diverged").mark_bar(size=24, color="#4c78a8")
    crosses = base.transform_filter("datum.diverged").mark_point(
        shape=DIVERGED_SHAPE,
        size=160,
        color=DIVERGED_COLOUR,
        filled=False,
        strokeWidth=3,
        opacity=1,
    )
    # Above the bar, and clear of a diverged run's × on the axis.
    labels = base.mark_text(dy=-16, fontWeight="bold").encode(
        text="outcome:N",
        color=alt.condition("datum.diverged", alt.value(DIVERGED_COLOUR), alt.value("#333")),
    )
    return alt.layer(
        bars, crosses, labels, title="final validation accuracy by learning rate"
    ).properties(height=240)


def _suggestion_points(curve: pd.DataFrame, suggestions: dict[str, float]) -> pd.DataFrame:
    """Each suggestion placed on the smoothed curve (interpolated in log learning rate)."""
    log_rates = np.log10(curve["learning_rate"].astype(float).to_numpy())
    losses = curve["smoothed_loss"].astype(float).to_numpy()
    return pd.DataFrame(
        [
            {
                "suggestion": name,
                "learning_rate": value,
                "smoothed_loss": float(np.interp(np.log10(value), log_rates, losses)),
                "label": f"{name} {value:.1e}",
            }
            for name, value in suggestions.items()
            if value and value > 0
        ],
        columns=["suggestion", "learning_rate", "smoothed_loss", "label"],
    )


def lr_range_domain(curve: pd.DataFrame) -> tuple[float, float]:
    """The y range that shows the dip: from just under the minimum to just over the highest
    loss before it; the final blow-up (up to 4x the minimum, or NaN) runs off the top.
    """
    losses = curve["smoothed_loss"].astype(float).replace([np.inf, -np.inf], np.nan)
    if losses.dropna().empty:
        return 0.0, 1.0
    lowest_at = int(np.nanargmin(losses.to_numpy()))
    low = float(losses.iloc[lowest_at])
    high = float(losses.iloc[: lowest_at + 1].max())
    pad = max((high - low) * 0.25, abs(low) * 0.02, 1e-3)
    return low - pad, high + pad


def lr_range_chart(curve: pd.DataFrame, suggestions: dict[str, float]) -> alt.LayerChart:
    """Smoothed loss against learning rate (log x), its y-axis clipped to the dip
    (:func:`lr_range_domain`), each suggestion a labelled dot on the curve.
    """
    domain = lr_range_domain(curve)
    x = alt.X(
        "learning_rate:Q",
        scale=alt.Scale(type="log"),
        title=LEARNING_RATE_TITLE,
        axis=alt.Axis(format="~g", grid=False),
    )
    y = alt.Y(
        "smoothed_loss:Q", title="smoothed loss", scale=alt.Scale(domain=list(domain), zero=False)
    )
    line = (
        alt.Chart(curve)
        .mark_line(clip=True)
        .encode(
            x=x,
            y=y,
            tooltip=[
                alt.Tooltip("learning_rate:Q", format=".2e"),
                alt.Tooltip("smoothed_loss:Q", format=".4f"),
            ],
        )
    )
    marks = _suggestion_points(curve, suggestions)
    colour = alt.Color(
        "suggestion:N",
        title="suggestion",
        sort=list(suggestions),
        legend=alt.Legend(orient="bottom", labelLimit=300, symbolSize=120),
    )
    dots = (
        alt.Chart(marks)
        .mark_point(size=160, filled=True, clip=True, stroke="white", strokeWidth=1)
        .encode(
            x=x,
            y=y,
            color=colour,
            # The same field, sort and title as the colour: Vega-Lite merges them into one
            # legend whose symbols match the dots.
            shape=alt.Shape(
                "suggestion:N",
                title="suggestion",
                sort=list(suggestions),
                scale=alt.Scale(range=["circle", "square", "triangle-up"]),
                legend=alt.Legend(orient="bottom", labelLimit=300, symbolSize=120),
            ),
            tooltip=["suggestion:N", alt.Tooltip("learning_rate:Q", format=".2e")],
        )
    )
    # Named by the legend, not by text on the curve: suggestions often sit close together
    # (valley 0.14, minimum/10 0.13) and their labels would overlap.
    # Taller than the curves: the legend below takes its share of the fitted height.
    return alt.layer(line, dots, title="LR range test").properties(height=CURVE_HEIGHT + 80)


def descent_contour_chart(grid: pd.DataFrame, path: pd.DataFrame) -> alt.LayerChart:
    """A 2-D function as a grid of dots shaded by log loss, with the descent path drawn over it.

    The axes stay on the grid's window and the path is clipped to it: a diverging path leaves
    through the edge instead of shrinking the surface to a dot.
    """
    x_scale = alt.Scale(domain=[float(grid["x"].min()), float(grid["x"].max())], nice=False)
    y_scale = alt.Scale(domain=[float(grid["y"].min()), float(grid["y"].max())], nice=False)
    background = (
        alt.Chart(grid)
        .mark_circle(size=30, opacity=0.5)
        .encode(
            x=alt.X("x:Q", scale=x_scale),
            y=alt.Y("y:Q", scale=y_scale),
            color=alt.Color(
                "log_loss:Q", scale=alt.Scale(scheme="greys", reverse=True), title="log10 loss"
            ),
        )
    )
    trail = (
        alt.Chart(path)
        .mark_line(point=True, color="#d62728", clip=True)
        .encode(
            x=alt.X("x:Q", scale=x_scale),
            y=alt.Y("y:Q", scale=y_scale),
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
        height=320
    )


def descent_curve_chart(function_points: pd.DataFrame, path: pd.DataFrame) -> alt.Chart:
    """A 1-D function with the descent path's points on it."""
    x_scale = alt.Scale(
        domain=[float(function_points["x"].min()), float(function_points["x"].max())], nice=False
    )
    y_scale = alt.Scale(domain=[0, float(function_points["loss"].max())], nice=False)
    curve = (
        alt.Chart(function_points)
        .mark_line(color="#888")
        .encode(
            x=alt.X("x:Q", title="θ", scale=x_scale),
            y=alt.Y("loss:Q", title="f(θ)", scale=y_scale),
        )
    )
    trail = (
        alt.Chart(path)
        .mark_line(point=True, color="#d62728", clip=True)
        .encode(
            x=alt.X("x:Q", scale=x_scale),
            y=alt.Y("loss:Q", scale=y_scale),
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
            y=alt.Y(
                "loss:Q",
                scale=alt.Scale(type="symlog"),
                # One notation: plain numbers, powers of ten once they get long.
                axis=alt.Axis(
                    labelExpr="abs(datum.value) >= 1e5 ? format(datum.value, '.0e') "
                    ": format(datum.value, '~g')"
                ),
            ),
            tooltip=["step:Q", alt.Tooltip("loss:Q", format=".3g")],
        )
        .properties(height=300)
    )
