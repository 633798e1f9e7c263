"""Charts of a strategy race: pure functions, a band DataFrame in, an Altair chart out.

Each strategy has one colour, the same on every chart of the race (the domain is the
strategies in the race's order): a line for the median over seeds and a shaded band for the
interquartile range. Regret (function objectives, whose optimum is known) is drawn on a log
axis, where "ten times closer" reads as one step.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

# Streamlit fits the title, legend and axes into this height: the plot gets about 60%.
CHART_HEIGHT = 440
# Ticks and grid lines at whole decades only: the in-between lines crowd a projected chart.
DECADES = [10.0**k for k in range(-6, 7)]
BAND_OPACITY = 0.22


def _colour(strategies: Sequence[str]) -> alt.Color:
    """One colour per strategy. Both layers carry the same legend (Vega-Lite merges them; a
    null one would hide it), drawn as solid strokes, not as the band's faint fill."""
    return alt.Color(
        "strategy:N",
        title="strategy",
        scale=alt.Scale(domain=list(strategies), scheme="tableau10"),
        legend=alt.Legend(
            orient="top",
            labelFontSize=16,
            titleFontSize=15,
            labelLimit=400,
            symbolType="stroke",
            symbolStrokeWidth=5,
            symbolSize=400,
            symbolOpacity=1,
        ),
    )


def _bands(
    frame: pd.DataFrame,
    strategies: Sequence[str],
    x: alt.X,
    x_field: str,
    y_title: str,
    log_y: bool,
    title: str | list[str],
) -> alt.LayerChart:
    y_scale = alt.Scale(type="log") if log_y else alt.Scale(zero=False)
    y_axis = alt.Axis(values=DECADES, format="~g") if log_y else alt.Axis()
    base = alt.Chart(frame).encode(x=x)
    band = base.mark_area(opacity=BAND_OPACITY, interpolate="step-after").encode(
        y=alt.Y("q25:Q", title=y_title, scale=y_scale, axis=y_axis),
        y2="q75:Q",
        color=_colour(strategies),
    )
    line = base.mark_line(strokeWidth=3, interpolate="step-after").encode(
        y=alt.Y("median:Q", title=y_title, scale=y_scale, axis=y_axis),
        color=_colour(strategies),
        tooltip=[
            alt.Tooltip("strategy:N"),
            alt.Tooltip(f"{x_field}:Q", format=".3~g"),
            alt.Tooltip("median:Q", format=".4~g"),
            alt.Tooltip("q25:Q", title="25th percentile", format=".4~g"),
            alt.Tooltip("q75:Q", title="75th percentile", format=".4~g"),
            alt.Tooltip("studies:Q", title="seeds"),
        ],
    )
    return (
        alt.layer(band, line)
        .properties(title=title, height=CHART_HEIGHT, width="container")
        .configure_axis(labelFontSize=15, titleFontSize=16)
        .configure_title(fontSize=18, anchor="start")
    )


def convergence_by_trial(
    bands: pd.DataFrame,
    strategies: Sequence[str],
    y_title: str,
    log_y: bool = False,
    title: str | list[str] = "Best so far by trial: median and middle half of the seeds",
) -> alt.LayerChart:
    """Median (line) and interquartile range (band) of the best so far (or, for a race of
    several metrics, of the hypervolume so far: ``views.race.trial_chart_title``), by trial
    number."""
    x = alt.X(
        "trial:Q",
        title="trial",
        axis=alt.Axis(tickMinStep=1, format="d"),
        scale=alt.Scale(domainMin=1, nice=False),
    )
    return _bands(bands, strategies, x, "trial", y_title, log_y, title)


def convergence_by_time(
    bands: pd.DataFrame,
    strategies: Sequence[str],
    y_title: str,
    log_y: bool = False,
    title: str | list[str] = "Best so far by wall-clock time",
) -> alt.LayerChart:
    """The same against wall-clock seconds since each study began (log axis: a fast
    strategy's first second and a slow one's minute both stay readable). ``title`` should be
    read off the bands (``views.race.time_title``), never assumed."""
    # nice=False: a race that ended at 2 s ran its axis on to 10 s, a quarter of it empty.
    x = alt.X(
        "seconds:Q", title="wall-clock seconds (log)", scale=alt.Scale(type="log", nice=False)
    )
    return _bands(bands, strategies, x, "seconds", y_title, log_y, title)
