""" "Why this point?" charts: what the Bayesian search believed when it chose a trial.

Pure functions: an ``explain`` result (``Explanation.to_json()``) becomes DataFrames
(why_frames), and DataFrames become Altair charts (here). No Streamlit, no Keras.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

# The words under the chart live in why_captions; they are re-exported here, where the page
# and the tests have always found them.
from tuning_core.views.why_captions import (  # noqa: F401
    ACQUISITION_WORDS,
    CAPTIONS,
    FLAT_FRACTION,
    PEAK_FRACTION,
    acquisition_is_flat,
    acquisition_label,
    captions,
    is_flat,
    latest_informative,
)

# The rows the charts draw live in why_frames; re-exported here, as the words are.
from tuning_core.views.why_frames import (  # noqa: F401
    chosen_frame,
    curve_frame,
    heatmaps_frame,
    observed_frame,
    surface_frame,
)

CHART_HEIGHT = 260
CHART_WIDTH = 640  # wide enough to read from the back of a room, narrow enough for 1366 px
HEATMAP_SIZE = 270
# A panel's height on the page, title and legend included (Streamlit fits the chart in it):
# about square plots in half of the main column (~440 px wide at 1366 px).
PANEL_HEIGHT = 480
CHOSEN_COLOR = "#d62728"
OBSERVED_COLOR = "#111111"
FAILED_COLOR = "#ff7f0e"  # a failed trial, at the penalty the search was told
BAND_COLOR = "#1f77b4"
ACQUISITION_COLOR = "#2ca02c"


def _failed_shape() -> Any:
    """Failed trials are crosses, the others circles (a chart's observed points)."""
    return alt.condition("datum.failed", alt.value("cross"), alt.value("circle"))


def _x(dim: str, log: bool, title: str | None = None) -> alt.X:
    return alt.X(
        f"{dim}:Q",
        title=title or dim,
        scale=alt.Scale(type="log" if log else "linear", zero=False, nice=False),
    )


def curve_chart(
    frame: pd.DataFrame,
    dim: str,
    log: bool,
    metric: str,
    acquisition: str | None,
) -> alt.VConcatChart:
    """1-D: the surrogate's mean ± 2σ with the observed points above, the acquisition below
    with its maximum and the chosen point marked. ``frame`` is :func:`curve_frame`; every
    layer picks its rows by ``role``. Built through constructors (chained calls deep-copy)."""
    x = _x(dim, log)

    def layer(role: str, mark: alt.MarkDef, **encoding: Any) -> alt.Chart:
        return alt.Chart(
            mark=mark, encoding=alt.FacetedEncoding(x=x, **encoding), transform=_role(role)
        )

    rule = layer("chosen", alt.MarkDef(type="rule", color=CHOSEN_COLOR, strokeDash=[6, 4], size=2))
    top = alt.LayerChart(
        layer=[
            layer(
                "grid",
                alt.MarkDef(type="area", opacity=0.25, color=BAND_COLOR),
                y=alt.Y("lower:Q", title=metric, scale=alt.Scale(zero=False)),
                y2=alt.Y2("upper:Q"),
            ),
            layer(
                "grid",
                alt.MarkDef(type="line", color=BAND_COLOR, strokeWidth=2.5),
                y=alt.Y("mean:Q"),
                tooltip=[alt.Tooltip(f"{dim}:Q"), alt.Tooltip("mean:Q", format=".4g")],
            ),
            layer(
                "observed",
                alt.MarkDef(type="point", size=70, filled=True, opacity=0.85),
                y=alt.Y("value:Q"),
                shape=_failed_shape(),
                color=alt.condition(
                    "datum.failed", alt.value(FAILED_COLOR), alt.value(OBSERVED_COLOR)
                ),
                tooltip=[
                    alt.Tooltip("seen:Q", title="seen #"),
                    alt.Tooltip(f"{dim}:Q"),
                    alt.Tooltip("value:Q", format=".4g"),
                    alt.Tooltip("failed:N"),
                ],
            ),
            rule,
        ],
        title="what the model believed",
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
    )
    line = {"color": ACQUISITION_COLOR}
    bottom = alt.LayerChart(
        layer=[
            layer(
                "grid",
                alt.MarkDef(type="area", color=ACQUISITION_COLOR, opacity=0.35, line=line),
                y=alt.Y("acquisition:Q", title=acquisition_label(acquisition)),
                tooltip=[alt.Tooltip(f"{dim}:Q"), alt.Tooltip("acquisition:Q", format=".4g")],
            ),
            rule,
            layer(
                "peak",
                alt.MarkDef(
                    type="point", shape="diamond", size=120, filled=True, color=ACQUISITION_COLOR
                ),
                y=alt.Y("acquisition:Q"),
            ),
            layer(
                "chosen",
                alt.MarkDef(
                    type="point", shape="triangle-down", size=220, filled=True, color=CHOSEN_COLOR
                ),
                y=alt.Y("acquisition:Q"),
                tooltip=[alt.Tooltip("trial:Q"), alt.Tooltip(f"{dim}:Q")],
            ),
        ],
        title="how promising each value looked",
        width=CHART_WIDTH,
        height=int(CHART_HEIGHT * 0.6),
    )
    return alt.VConcatChart(
        data=frame,
        vconcat=[top, bottom],
        resolve=alt.Resolve(scale=alt.ScaleResolveMap(x="shared")),
    )


def bars_chart(
    surface: pd.DataFrame,
    chosen: pd.DataFrame,
    dim: str,
    metric: str,
    acquisition: str | None,
) -> alt.VConcatChart:
    """1-D over a choice: one bar per value for the mean (±2σ) and for the acquisition; the
    chosen value in red."""
    chosen_value = chosen[dim].iloc[0]
    frame = surface.assign(
        chosen=surface[dim].astype(str) == str(chosen_value), value_label=surface[dim].astype(str)
    )
    x = alt.X("value_label:N", title=dim, sort=None)
    color = alt.condition(alt.datum.chosen, alt.value(CHOSEN_COLOR), alt.value(BAND_COLOR))
    bars = (
        alt.Chart(frame)
        .mark_bar(opacity=0.7)
        .encode(
            x=x,
            y=alt.Y("mean:Q", title=metric, scale=alt.Scale(zero=False)),
            color=color,
            tooltip=[dim, alt.Tooltip("mean:Q", format=".4g"), alt.Tooltip("std:Q", format=".3g")],
        )
    )
    errors = alt.Chart(frame).mark_rule(size=2).encode(x=x, y="lower:Q", y2="upper:Q")
    top = alt.layer(bars, errors, title="what the model believed").properties(
        width=CHART_WIDTH, height=CHART_HEIGHT
    )
    bottom = (
        alt.Chart(frame, title="how promising each value looked")
        .mark_bar()
        .encode(
            x=x,
            y=alt.Y("acquisition:Q", title=acquisition_label(acquisition)),
            color=alt.condition(
                alt.datum.chosen, alt.value(CHOSEN_COLOR), alt.value(ACQUISITION_COLOR)
            ),
            tooltip=[dim, alt.Tooltip("acquisition:Q", format=".4g")],
        )
        .properties(width=CHART_WIDTH, height=int(CHART_HEIGHT * 0.6))
    )
    return alt.vconcat(top, bottom)


def _scale(log: bool) -> alt.Scale:
    return alt.Scale(type="log" if log else "linear", zero=False, nice=False)


def _role(name: str) -> list[alt.FilterTransform]:
    return [alt.FilterTransform(filter=f"datum.role === '{name}'")]


def heatmap_panels(
    frame: pd.DataFrame,
    dims: list[str],
    log_dims: list[str],
    categorical_dims: list[str],
    metric: str,
    acquisition: str | None,
    show_true: bool = True,
    width: int | str = "container",
    height: int = PANEL_HEIGHT,
) -> list[alt.LayerChart]:
    """2-D: heatmaps of the mean, the std and the acquisition (and, for function objectives,
    the true function first), each with the observed points (white) and the chosen one
    (red ×), each its own chart: ``width="container"`` lets a page's columns size them to the
    screen, which a concatenated chart cannot do. ``frame`` is :func:`heatmaps_frame`; every
    layer picks its rows by ``role``.

    Built through constructors, not chained methods: each chained call deep-copies the chart
    (~0.4 s for four panels). The page builds the specs once per layout and swaps the rows.
    """
    first, second = dims
    cell_encoding: dict[str, Any] = {}
    point_encoding: dict[str, Any] = {}
    for dim, axis in ((first, "x"), (second, "y")):
        channel = alt.X if axis == "x" else alt.Y
        if dim in categorical_dims:
            nominal = channel(f"{dim}_label:N", title=dim, sort=None)
            cell_encoding[axis] = point_encoding[axis] = nominal
            continue
        scale = _scale(dim in log_dims)
        cell_encoding[axis] = channel(f"{dim}_lo:Q", title=dim, scale=scale)
        cell_encoding[f"{axis}2"] = (alt.X2 if axis == "x" else alt.Y2)(f"{dim}_hi:Q")
        point_encoding[axis] = channel(f"{dim}:Q", title=dim, scale=scale)
    kind = {d: ("N" if d in categorical_dims else "Q") for d in dims}
    observed_points = alt.Chart(
        mark=alt.MarkDef(
            type="point",
            filled=True,
            stroke=OBSERVED_COLOR,
            strokeWidth=1.5,
            opacity=1,
        ),
        encoding=alt.FacetedEncoding(
            **point_encoding,
            shape=_failed_shape(),
            size=alt.condition("datum.failed", alt.value(130), alt.value(45)),
            fill=alt.condition("datum.failed", alt.value(FAILED_COLOR), alt.value("white")),
            tooltip=[
                alt.Tooltip("seen:Q", title="seen #"),
                alt.Tooltip(f"{first}:{kind[first]}"),
                alt.Tooltip(f"{second}:{kind[second]}"),
                alt.Tooltip("value:Q", format=".4g"),
                alt.Tooltip("failed:N"),
            ],
        ),
        transform=_role("observed"),
    )
    chosen_point = alt.Chart(
        mark=alt.MarkDef(
            type="point",
            shape="cross",
            size=420,
            filled=True,
            color=CHOSEN_COLOR,
            stroke="white",
            strokeWidth=1.5,
        ),
        encoding=alt.FacetedEncoding(
            **point_encoding,
            tooltip=[
                alt.Tooltip("trial:Q"),
                alt.Tooltip(f"{first}:{kind[first]}"),
                alt.Tooltip(f"{second}:{kind[second]}"),
            ],
        ),
        transform=_role("chosen"),
    )

    def heatmap(field: str, title: str, scheme: str) -> alt.LayerChart:
        rect = alt.Chart(
            mark=alt.MarkDef(type="rect"),
            encoding=alt.FacetedEncoding(
                **cell_encoding,
                color=alt.Color(
                    f"{field}:Q",
                    title=None,
                    scale=alt.Scale(scheme=scheme),
                    # "~g": a flat acquisition's 1e-21 reads as such, not as 0.000…0.
                    legend=alt.Legend(
                        orient="bottom", gradientLength=HEATMAP_SIZE - 40, format=".3~g"
                    ),
                ),
                tooltip=[
                    alt.Tooltip(f"{first}:{kind[first]}"),
                    alt.Tooltip(f"{second}:{kind[second]}"),
                    alt.Tooltip(f"{field}:Q", format=".4g"),
                ],
            ),
            transform=_role("cell"),
        )
        return alt.LayerChart(
            data=frame,  # each panel is drawn alone on the page: its layers read these rows
            layer=[rect, observed_points, chosen_point],
            title=title,
            width=width,
            height=height,
        )

    panels = [
        heatmap("mean", f"model's belief ({metric})", "viridis"),
        heatmap("std", "model's uncertainty (σ)", "greys"),
        heatmap("acquisition", acquisition_label(acquisition), "greens"),
    ]
    if show_true and "true_value" in frame:
        panels.insert(0, heatmap("true_value", f"true {metric}", "viridis"))
    return panels


def heatmaps_chart(
    frame: pd.DataFrame,
    dims: list[str],
    log_dims: list[str],
    categorical_dims: list[str],
    metric: str,
    acquisition: str | None,
    show_true: bool = True,
) -> alt.VConcatChart:
    """The :func:`heatmap_panels` as one chart of fixed-size panels in rows of two (for a
    file or a notebook; the page lays the panels out in columns instead)."""
    panels = heatmap_panels(
        frame,
        dims,
        log_dims,
        categorical_dims,
        metric,
        acquisition,
        show_true,
        HEATMAP_SIZE,
        HEATMAP_SIZE,
    )
    independent = alt.Resolve(scale=alt.ScaleResolveMap(color="independent"))
    rows = [panels[i : i + 2] for i in range(0, len(panels), 2)]
    return alt.VConcatChart(
        data=frame,
        vconcat=[alt.HConcatChart(hconcat=row, resolve=independent) for row in rows],
        resolve=independent,
    )


def why_chart(explanation: dict[str, Any]) -> tuple[alt.TopLevelMixin, list[str]]:
    """The chart for an explanation and the captions to show under it."""
    dims = explanation["dims"]
    metric = explanation["metric"]
    acquisition = explanation.get("acquisition")
    if len(dims) == 1:
        dim = dims[0]
        if dim in explanation["categorical_dims"]:
            surface, chosen = surface_frame(explanation), chosen_frame(explanation)
            chart = bars_chart(surface, chosen, dim, metric, acquisition)
        else:
            chart = curve_chart(
                curve_frame(explanation), dim, dim in explanation["log_dims"], metric, acquisition
            )
        return chart, captions(explanation)
    chart = heatmaps_chart(
        heatmaps_frame(explanation),
        dims,
        explanation["log_dims"],
        explanation["categorical_dims"],
        metric,
        acquisition,
    )
    return chart, captions(explanation)
