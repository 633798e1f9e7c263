"""Compare's charts of a finished study: slices, parallel coordinates linked to the curves,
hyperparameter importance, partial dependence, and several studies' best so far.

Pure functions from DataFrames to Altair charts; tests assert on ``chart.to_dict()``.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from tuning_core.engine.states import TrialState
from tuning_core.reports import frames
from tuning_core.views.chart_style import (
    CURVE_HEIGHT,
    colour_scale,
    colour_title,
    trial_selection,
)
from tuning_core.views.curve_charts import CurveSample, curves_chart, sampled_title

LINKED_WIDTH = 640


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
    trials: pd.DataFrame,
    dimensions: list[str],
    log_dimensions: list[str],
    colour_field: str | None = None,
) -> pd.DataFrame:
    """Long form for parallel coordinates: number, value, dimension, position in [0, 1], label
    (the real value), and the ``colour_field`` column when given (to colour as the curves do).
    """
    done = trials[(trials["state"] == TrialState.COMPLETE.value) & trials["value"].notna()]
    rows = []
    for name in [*dimensions, "value"]:
        if name not in done:
            continue
        column = done[name]
        position = _axis_positions(column, name in log_dimensions)
        colours = done[colour_field] if colour_field and colour_field in done else column * 0
        for number, value, pos, raw, colour in zip(
            done["number"], done["value"], position, column, colours, strict=True
        ):
            row = {
                "number": number,
                "value": value,
                "dimension": name,
                "position": float(pos),
                "label": _tick_label(raw),
            }
            if colour_field:
                row[colour_field] = colour
            rows.append(row)
    columns = ["number", "value", "dimension", "position", "label"]
    if colour_field:
        columns.append(colour_field)
    return pd.DataFrame(rows, columns=columns)


def _axis_positions(column: pd.Series, log: bool) -> pd.Series:
    """Where each value sits on its axis, 0 (lowest) to 1 (highest); log axes in log10."""
    if pd.api.types.is_numeric_dtype(column):
        numbers = np.log10(column.astype(float)) if log else column.astype(float)
        low, high = numbers.min(), numbers.max()
        return (numbers - low) / (high - low) if high > low else numbers * 0 + 0.5
    categories = sorted(column.astype(str).unique())
    index = column.astype(str).map({c: i for i, c in enumerate(categories)})
    return index / max(len(categories) - 1, 1)


def _tick_label(value: object) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.3g}"
    return str(value)


def parallel_ticks(
    trials: pd.DataFrame, dimensions: list[str], log_dimensions: list[str]
) -> pd.DataFrame:
    """Real-value labels for each parallel axis: its lowest, middle and highest value (each
    category for choices), at their positions: dimension, position, label."""
    done = trials[(trials["state"] == TrialState.COMPLETE.value) & trials["value"].notna()]
    rows = []
    for name in [*dimensions, "value"]:
        if name not in done or done.empty:
            continue
        column = done[name]
        positions = _axis_positions(column, name in log_dimensions)
        if pd.api.types.is_numeric_dtype(column):
            low, high = float(column.min()), float(column.max())
            middle = (low * high) ** 0.5 if name in log_dimensions and low > 0 else (low + high) / 2
            ticks = [(0.0, low), (0.5, middle), (1.0, high)] if high > low else [(0.5, low)]
            rows += [
                {"dimension": name, "position": pos, "label": _tick_label(v)} for pos, v in ticks
            ]
        else:
            seen = pd.DataFrame({"position": positions, "label": column.astype(str)})
            for position, label in seen.drop_duplicates("label").itertuples(index=False):
                rows.append({"dimension": name, "position": float(position), "label": label})
    return pd.DataFrame(rows, columns=["dimension", "position", "label"])


def parallel_coordinates_chart(
    parallel: pd.DataFrame,
    order: list[str],
    selection: alt.Parameter | None = None,
    ticks: pd.DataFrame | None = None,
    colour_field: str | None = None,
    colour_log: bool = False,
    colour_domain: tuple[float, float] | None = None,
    sample: CurveSample | None = None,
) -> alt.LayerChart:
    """A line per trial across its hyperparameters, each axis labelled with real values
    (``ticks`` from :func:`parallel_ticks`), coloured like the curves (``colour_field``, same
    scale and domain) so a trial has one colour on the page; else by score. With ``sample``
    (:func:`curve_charts.sample_trials`) only its trials are drawn, and the subtitle says so.
    """
    if sample is not None and sample.numbers is not None:
        parallel = parallel[parallel["number"].isin(sample.numbers)]
    if colour_field and colour_field in parallel:
        title = colour_title(colour_field)
        colour = colour_scale(colour_field, colour_log, title, domain=colour_domain)
    else:
        colour = alt.Color("value:Q", scale=alt.Scale(scheme="viridis"), title="value")
    x = alt.X("dimension:N", sort=order, title=None, axis=alt.Axis(labelAngle=0, orient="top"))
    y = alt.Y("position:Q", axis=None, scale=alt.Scale(domain=[0, 1]))
    lines = (
        alt.Chart(parallel)
        .mark_line(strokeWidth=2)
        .encode(
            x=x,
            y=y,
            detail="number:N",
            color=colour,
            tooltip=["number:Q", "dimension:N", "label:N", alt.Tooltip("value:Q", format=".4f")],
        )
    )
    if selection is not None:
        lines = lines.encode(
            opacity=alt.condition(selection, alt.value(0.9), alt.value(0.1))
        ).add_params(selection)
    layers = [lines]
    if ticks is not None and not ticks.empty:
        axes = alt.Chart(ticks).mark_rule(color="#999").encode(x=x)
        labels = (
            alt.Chart(ticks)
            .mark_text(align="left", dx=4, fontSize=11, color="#333")
            .encode(x=x, y=y, text="label:N")
        )
        layers = [axes, lines, labels]
    title = sampled_title("parallel coordinates (click a line; double-click clears)", sample)
    return alt.layer(*layers, title=title).properties(height=CURVE_HEIGHT)


def linked_parallel_and_curves(
    parallel: pd.DataFrame,
    order: list[str],
    curves: pd.DataFrame,
    metric: str,
    ticks: pd.DataFrame | None = None,
    colour_field: str | None = "learning_rate",
    colour_log: bool = True,
    colour_domain: tuple[float, float] | None = None,
    pruned: pd.DataFrame | None = None,
    sample: CurveSample | None = None,
) -> alt.VConcatChart:
    """Parallel coordinates above the loss curves, both coloured by ``colour_field`` on one
    scale; selecting trials in one highlights them in both. With ``pruned`` the pruned trials'
    curves are pale and end in scissors, as on the live page. With ``sample``
    (:func:`curve_charts.sample_trials`) both draw only its trials and say so.
    """
    selection = trial_selection()
    # Concatenated views cannot stretch to their container, so both get the same fixed width.
    top = parallel_coordinates_chart(
        parallel, order, selection, ticks, colour_field, colour_log, colour_domain, sample
    ).properties(width=LINKED_WIDTH)
    bottom = curves_chart(
        curves,
        metric,
        colour_field,
        colour_log,
        selection=selection,
        define_selection=False,
        color_domain=colour_domain,
        pruned=pruned,
        sample=sample,
    ).properties(width=LINKED_WIDTH)
    return alt.vconcat(top, bottom).resolve_scale(color="independent")


def importance_chart(importance: pd.DataFrame) -> alt.LayerChart:
    """One labelled bar per hyperparameter: η², its share of the score's variance that its
    value alone explains (0-100%), the number the Compare summary quotes.

    Each bar gets a fixed band (alt.Step) rather than a share of a fixed height, so bars never
    collapse to a line, and the share is written at the bar's end instead of crowding the axis.
    """
    base = alt.Chart(importance).encode(
        x=alt.X(
            "eta_squared:Q",
            axis=alt.Axis(format="%", tickCount=5),
            scale=alt.Scale(domain=[0, 1]),
            title=f"{frames.IMPORTANCE_MEANING} (η²)",
        ),
        y=alt.Y("hyperparameter:N", sort="-x", title=None, axis=alt.Axis(labelLimit=200)),
        tooltip=[
            "hyperparameter:N",
            alt.Tooltip("eta_squared:Q", format=".0%", title="η²"),
        ],
    )
    bars = base.mark_bar(color="#4c78a8")
    labels = base.mark_text(align="left", dx=4).encode(text=alt.Text("eta_squared:Q", format=".0%"))
    return alt.layer(bars, labels, title="hyperparameter importance").properties(
        height=alt.Step(34)
    )


FLAT_SHARE = 0.05


def partial_dependence_panels(frame: pd.DataFrame) -> pd.DataFrame:
    """Per dimension: its predicted-score range and whether it is flat.

    Flat means its range is under 5% of the largest range of any dimension (or under 0.001 on
    the score's scale): a 0.00001 rise drawn on its own axis looked steep.
    """
    spans = frame.groupby("dimension", sort=False)["score"].agg(lambda v: v.max() - v.min())
    largest = float(spans.max()) if len(spans) else 0.0
    flat = (spans < FLAT_SHARE * largest) | (spans < 1e-3)
    return pd.DataFrame({"dimension": spans.index, "span": spans.values, "flat": flat.values})


def partial_dependence_chart(
    frame: pd.DataFrame, log_dimensions: list[str], columns: int = 3
) -> alt.ConcatChart:
    """The surrogate's predicted score against each dimension, averaged over the others.

    All panels share one y scale, so a steep panel is steep on the same scale as the others;
    a flat one says "flat" in its title. ``columns`` panels per row, 220 px each, fit the main
    area at 1366 px.
    """
    panels = partial_dependence_panels(frame).set_index("dimension")
    low, high = float(frame["score"].min()), float(frame["score"].max())
    pad = max((high - low) * 0.1, 1e-3)
    y_scale = alt.Scale(domain=[low - pad, high + pad], zero=False)
    charts = []
    for name, group in frame.groupby("dimension", sort=False):
        numeric = pd.api.types.is_numeric_dtype(group["x"].infer_objects())
        # The axis spans the search range exactly: a "nice" log scale rounded 16-256 out to
        # 10-1000, drawing a range that was never searched.
        searched = [float(group["x"].min()), float(group["x"].max())] if numeric else None
        x = (
            alt.X(
                "x:Q",
                title=name,
                scale=alt.Scale(
                    type="log" if name in log_dimensions else "linear",
                    zero=False,
                    nice=False,
                    domain=searched,
                ),
                axis=alt.Axis(format="~g", labelOverlap=True),
            )
            if numeric
            else alt.X("x:N", title=name, axis=alt.Axis(labelAngle=0))
        )
        # A choice is a dot per value, not a bar: bars start at zero, which the shared,
        # non-zero scale would cut off.
        mark = (
            alt.Chart(group.infer_objects()).mark_line(point=True, clip=True)
            if numeric
            else alt.Chart(group.astype({"x": str})).mark_point(size=90, filled=True, clip=True)
        )
        title = f"{name} (flat)" if bool(panels.loc[name, "flat"]) else name
        charts.append(
            mark.encode(
                x=x,
                y=alt.Y("score:Q", scale=y_scale, title="predicted score"),
                tooltip=["x", alt.Tooltip("score:Q", format=".4f")],
            ).properties(width=220, height=170, title=title)
        )
    return alt.concat(*charts, columns=columns).resolve_scale(y="shared")
