"""Live study's own charts: the workers' timeline, the running trials' losses, the best so
far (Compare redraws the timeline and the best so far for a finished study).

Pure functions from DataFrames to Altair charts; tests assert on ``chart.to_dict()``.
"""

from __future__ import annotations

import functools

import altair as alt
import pandas as pd

from tuning_core.views.chart_style import STATE_COLOURS

# Streamlit fits title, legend and axes into a chart's height: at CURVE_HEIGHT the Compare
# convergence plot, under its title and legend, kept ~90 px for a 0.2-1.0 range.
CONVERGENCE_HEIGHT = 400

TIMELINE_LANE_HEIGHT = 36
# Bars are labelled with their trial number only while there are few enough to read.
TIMELINE_MAX_LABELS = 40


def timeline_chart(bars: pd.DataFrame, unit: str = "seconds") -> alt.LayerChart:
    """One lane per worker (``lane``, in ``lane_order``), each trial a bar from its ``start``
    to its ``finish`` (``unit`` since the first trial began; a running trial's ends now),
    coloured by ``state``, with its trial number on it: gaps in a lane are a worker that sat
    idle. ``bars`` is :attr:`frames.Timeline.bars`.
    """
    lanes = list(dict.fromkeys(bars.sort_values(["lane_order", "start"])["lane"]))
    y = alt.Y(
        "lane:N",
        sort=lanes,
        title=None,
        axis=alt.Axis(labelLimit=220, labelFontSize=12, ticks=False, domain=False),
        scale=alt.Scale(paddingInner=0.25),
    )
    x = alt.X("start:Q", title=f"{unit} since the first trial began", scale=alt.Scale(zero=True))
    colour = alt.Color(
        "state:N",
        title="trial state",
        scale=alt.Scale(domain=list(STATE_COLOURS), range=list(STATE_COLOURS.values())),
        legend=alt.Legend(orient="bottom", direction="horizontal", symbolType="square"),
    )
    base = alt.Chart(bars).encode(
        y=y,
        tooltip=[
            alt.Tooltip("number:Q", title="trial"),
            alt.Tooltip("lane:N", title="worker"),
            alt.Tooltip("state:N"),
            alt.Tooltip("duration_s:Q", title="seconds", format=".1f"),
        ],
    )
    blocks = base.mark_bar(cornerRadius=2, stroke="white", strokeWidth=1).encode(
        x=x, x2="finish:Q", color=colour
    )
    layers = [blocks]
    if len(bars) <= TIMELINE_MAX_LABELS:
        # In the middle of the bar; a bar too short for its number lets it spill over a little.
        labels = (
            base.transform_calculate(middle="(datum.start + datum.finish) / 2")
            .mark_text(color="white", fontSize=11, fontWeight="bold")
            .encode(x="middle:Q", text="number:Q")
        )
        layers.append(labels)
    # A fixed band per lane: a fixed total height (Streamlit fits the title, axis and legend
    # into it) left the lanes no room at all in the browser.
    return alt.layer(*layers, title="worker timeline").properties(
        height=alt.Step(TIMELINE_LANE_HEIGHT)
    )


# Distinct, strong colours for the running trials' lines (no greys or pale tints: a running
# line must stand out), picked by trial number so a trial keeps its colour while others start
# and finish around it.
TRIAL_PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
)  # fmt: skip


def running_losses_chart(
    losses: pd.DataFrame,
    title: str,
    y_title: str = "training loss",
    x_title: str = "epoch (in-epoch points)",
) -> alt.LayerChart:
    """Every running trial's live loss at once: one line per trial (``number``, labelled
    ``trial``) of ``loss`` against ``progress`` in epochs, its label at the line's end.
    ``losses`` is :func:`frames.running_losses_frame`.
    """
    numbers = tuple(sorted({int(n) for n in losses["number"]}))
    # Building the layers took ~0.1-0.3 s of every Live rerun at which an epoch arrived; they
    # depend only on the titles and the running trials, so they are built once for those and
    # each call gets a shallow copy carrying its own rows.
    chart = _running_losses_layers(numbers, title, y_title, x_title).copy(deep=False)
    chart.data = losses
    return chart


@functools.lru_cache(maxsize=16)
def _running_losses_layers(
    numbers: tuple[int, ...], title: str, y_title: str, x_title: str
) -> alt.LayerChart:
    colour = alt.Color(
        "trial:N",
        title="running trial",
        scale=alt.Scale(
            domain=[f"trial {n}" for n in numbers],
            range=[TRIAL_PALETTE[n % len(TRIAL_PALETTE)] for n in numbers],
        ),
        legend=None,  # each line is named at its end instead
    )
    # Every field is typed, so the spec needs no rows: the layers share the top-level data.
    base = alt.Chart(pd.DataFrame(columns=["number", "trial", "progress", "loss"])).encode(
        x=alt.X(
            "progress:Q",
            title=x_title,
            scale=alt.Scale(zero=False),
            axis=alt.Axis(format="~g", tickMinStep=0.5),
        ),
        y=alt.Y("loss:Q", title=y_title, scale=alt.Scale(zero=False)),
        color=colour,
        tooltip=[
            alt.Tooltip("trial:N"),
            alt.Tooltip("progress:Q", title="epoch", format=".2f"),
            alt.Tooltip("loss:Q", title=y_title, format=".4f"),
        ],
    )
    lines = base.mark_line(point=alt.OverlayMarkDef(size=14)).encode(detail="number:N")
    ends = base.transform_window(
        rank="rank()", sort=[alt.SortField("progress", order="descending")], groupby=["number"]
    ).transform_filter("datum.rank == 1")
    halo = ends.mark_text(
        align="left", dx=6, fontWeight="bold", color="white", stroke="white", strokeWidth=4
    ).encode(text="trial:N", color=alt.value("white"))
    labels = ends.mark_text(align="left", dx=6, fontWeight="bold").encode(text="trial:N")
    return alt.layer(lines, halo, labels, title=title).properties(height=220)


def convergence_chart(
    convergence: pd.DataFrame, direction: str, initial: set[int] | None = None
) -> alt.Chart:
    """Every complete trial as a dot and the best value so far as a step line. With
    ``initial`` (a Bayesian study's initial random trials), those show as grey triangles and
    the model's choices as dots, with a legend."""
    base = alt.Chart(convergence).encode(
        x=alt.X("number:Q", title="trial", axis=alt.Axis(tickMinStep=1, format="d"))
    )
    tooltip = [
        "number:Q",
        alt.Tooltip("value:Q", format=".4f"),
        alt.Tooltip("best_so_far:Q", format=".4f"),
    ]
    y = alt.Y("value:Q", title="value", scale=alt.Scale(zero=False))
    if initial is None:
        dots = base.mark_circle(size=45, opacity=0.6).encode(y=y, tooltip=tooltip)
    else:
        kinds = ["initial random", "model's choice"]
        data = convergence.assign(
            kind=[kinds[0] if int(n) in initial else kinds[1] for n in convergence["number"]]
        )
        dots = (
            alt.Chart(data)
            .mark_point(size=70, opacity=0.75, filled=True)
            .encode(
                x=alt.X("number:Q", title="trial", axis=alt.Axis(tickMinStep=1, format="d")),
                y=y,
                shape=alt.Shape(
                    "kind:N",
                    title=None,
                    scale=alt.Scale(domain=kinds, range=["triangle-up", "circle"]),
                    legend=alt.Legend(orient="top"),
                ),
                color=alt.Color(
                    "kind:N",
                    title=None,
                    scale=alt.Scale(domain=kinds, range=["#8c8c8c", "#1f77b4"]),
                    legend=alt.Legend(orient="top"),
                ),
                tooltip=[*tooltip, "kind:N"],
            )
        )
    best = base.mark_line(interpolate="step-after", color="#d62728").encode(y="best_so_far:Q")
    return alt.layer(dots, best, title=f"best so far ({direction})").properties(
        height=CONVERGENCE_HEIGHT
    )
