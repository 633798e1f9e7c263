"""A pruner's marks on a curve chart: scissors where a trial was cut, the cut-off it failed
to reach, the rungs and the median rule's median; their rows and their layers.

Pure: rows from :func:`frames.pruning_frame` and :func:`frames.pruning_guides` in, Altair
layers out, for :func:`tuning_core.views.curve_charts.curves_chart`.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from tuning_core.engine.pruners import PruneDecision
from tuning_core.views.chart_style import PRUNED_COLOUR


def pruning_rows(
    data: pd.DataFrame, metric: str, pruned: pd.DataFrame | None, guides: pd.DataFrame | None
) -> list[dict]:
    """The ``pruned``, ``cutoff``, ``rung`` and ``median`` rows of :func:`curves_data`."""
    rows: list[dict] = []
    if pruned is not None and not pruned.empty:
        ends = data[data["kind"] == "curve"].sort_values("epoch").groupby("number").last()
        groups: dict[float, list[dict]] = {}
        for decision in pruned.itertuples(index=False):
            epoch = float(decision.epoch) + 1
            why = _prune_sentence(decision)
            # The cut-off is in the pruner's metric: on another metric's chart it has no place.
            cutoff = float(decision.cutoff) if decision.metric == metric else np.nan
            if decision.number in ends.index:
                end = ends.loc[decision.number]
                row = {column: end[column] for column in ends.columns if column != "kind"}
                row.update(
                    number=decision.number, epoch=epoch, kind="pruned", pruned=True, marker=True,
                    why=why, cutoff=cutoff,
                )  # fmt: skip
                groups.setdefault(epoch, []).append(row)
            if decision.metric == metric:
                rows.append(
                    {"number": decision.number, "epoch": epoch, "value": cutoff, "kind": "cutoff",
                     "pruned": True, "marker": True, "why": why}
                )  # fmt: skip
        curve_values = data.loc[data["kind"] == "curve", "value"].dropna()
        span = float(curve_values.max() - curve_values.min()) if len(curve_values) else 0.0
        for epoch, group in sorted(groups.items()):
            _stack_close_cuts(group, STACK_SHARE * span)
            # One label per epoch, on the group's worst curve end: furthest from the curves that
            # went on, so it covers the least.
            worst = max(group, key=lambda row: _shortfall(row))
            count = len(group)
            worst["label"] = (
                f"pruned at epoch {int(epoch)}"
                if count == 1
                else f"{count} pruned at epoch {int(epoch)}"
            )
            rows += group
    if guides is not None and not guides.empty:
        for guide in guides.itertuples(index=False):
            if guide.kind == "median" and guide.metric != metric:
                continue
            rows.append(
                {"epoch": float(guide.epoch) + 1, "value": guide.value, "kind": guide.kind,
                 "marker": True, "label": guide.label, "why": guide.why}
            )  # fmt: skip
    return rows


# Pruned ends at one rung closer than this share of the value range draw one pair of scissors
# (the rung's label counts them): five at epoch 1 were a pile.
STACK_SHARE = 0.05


def _stack_close_cuts(group: list[dict], gap: float) -> None:
    """Mark ``stacked`` the rows of one rung whose scissors would sit on another's; ``count``
    on the one drawn says how many it stands for (in its tooltip)."""
    ordered = sorted(group, key=lambda row: (pd.isna(row.get("value")), row.get("value") or 0.0))
    shown: dict | None = None
    for row in ordered:
        value = row.get("value")
        close = (
            shown is not None
            and not pd.isna(value)
            and not pd.isna(shown.get("value"))
            and abs(float(value) - float(shown["value"])) <= gap
        )
        row["stacked"] = bool(close)
        if close:
            shown["count"] = shown.get("count", 1) + 1
        else:
            shown = row
            shown["count"] = 1  # the tooltip says 1, not null, for a mark of its own


def _shortfall(row: dict) -> float:
    """How far a pruned curve's end lies beyond its cut-off, on the worse side of it."""
    value, cutoff = row.get("value"), row["cutoff"]
    if value is None or pd.isna(value) or pd.isna(cutoff):
        return 0.0
    return abs(float(value) - float(cutoff))


def _prune_sentence(decision: Any) -> str:
    """The pruner's own sentence ("pruned at epoch 3: val_accuracy 0.81 was worse than ..."),
    from a row of :func:`frames.pruning_frame`."""

    def whole(value: Any) -> int | None:
        return None if value is None or pd.isna(value) else int(value)

    return PruneDecision(
        trial_number=int(decision.number),
        epoch=int(decision.epoch),
        value=float(decision.value),
        cutoff=float(decision.cutoff),
        rule=str(decision.rule),
        rung=whole(decision.rung),
        bracket=whole(decision.bracket),
        compared=int(decision.compared),
        kept=whole(decision.kept),
    ).sentence(str(decision.metric))


GUIDE_COLOUR = "#777"
# Scissors where a pruned curve was cut (an SVG path, so no font needs the ✂ glyph): blades
# crossing at the curve's end and reaching back over it, handles to the right.
SCISSORS_SHAPE = (
    "M0.4,0.35L-0.7,-0.5M0.4,-0.35L-0.7,0.5"
    "M0.93,0.5A0.28,0.28 0 1,1 0.37,0.5A0.28,0.28 0 1,1 0.93,0.5"
    "M0.93,-0.5A0.28,0.28 0 1,1 0.37,-0.5A0.28,0.28 0 1,1 0.93,-0.5"
)
# A level dash for the cut-off a pruned trial had to reach.
CUTOFF_SHAPE = "M-1,0H1"


def pruning_layers(
    data: pd.DataFrame, x: alt.X, y: alt.Y, metric: str
) -> tuple[list[alt.Chart], list[alt.Chart]]:
    """The layers drawn behind the curves (rungs, the median) and in front (cuts, cut-offs)."""
    why = alt.Tooltip("why:N", title="why it stopped")
    trial = alt.Tooltip("number:Q", title="trial")
    chart = alt.Chart(data)
    rungs = chart.transform_filter("datum.kind == 'rung'")
    rung_rules = rungs.mark_rule(color=GUIDE_COLOUR, strokeDash=[2, 3], strokeWidth=1.5).encode(
        x=x, tooltip=[alt.Tooltip("epoch:Q"), alt.Tooltip("why:N", title="rule")]
    )
    # Above the plot, where no curve or scissors can hide them; only the last rung's label is
    # long, since no rung follows it for the text to run into.
    rung_labels = rungs.mark_text(
        align="left", baseline="bottom", dx=-2, dy=-3, color=GUIDE_COLOUR
    ).encode(x=x, y=alt.value(0), text="label:N")
    median = chart.transform_filter("datum.kind == 'median'")
    median_line = median.mark_line(color=GUIDE_COLOUR, strokeDash=[6, 3], strokeWidth=2.5).encode(
        x=x,
        y=y,
        tooltip=[
            alt.Tooltip("epoch:Q"),
            alt.Tooltip("value:Q", title=metric, format=".4~g"),
            alt.Tooltip("why:N", title="rule"),
        ],
    )
    median_end = median.transform_window(
        rank="rank()", sort=[alt.SortField("epoch", order="descending")]
    ).transform_filter("datum.rank == 1")
    # In front of the curves, on a white halo: the median runs among the best curves.
    median_text = {"align": "left", "dx": 6, "dy": -8, "fontWeight": "bold"}
    median_halo = median_end.mark_text(
        **median_text, color="white", stroke="white", strokeWidth=4, strokeJoin="round"
    ).encode(x=x, y=y, text="label:N")
    median_label = median_end.mark_text(**median_text, color=GUIDE_COLOUR).encode(
        x=x, y=y, text="label:N"
    )
    cuts = chart.transform_filter("datum.kind == 'pruned'")
    shortfall = (
        cuts.transform_filter("isValid(datum.cutoff)")
        .mark_rule(color=PRUNED_COLOUR, strokeDash=[1, 2], strokeWidth=1.5)
        .encode(x=x, y=y, y2="cutoff:Q")
    )
    cut_marks = (
        cuts.transform_filter("!datum.stacked")
        .mark_point(
            shape=SCISSORS_SHAPE,
            size=260,
            strokeWidth=1.8,
            color=PRUNED_COLOUR,
            filled=False,
            opacity=1,
        )
        .encode(
            x=x,
            y=y,
            tooltip=[trial, why, alt.Tooltip("count:Q", title="pruned trials at this mark")],
        )
    )
    labelled = cuts.transform_filter("datum.label != ''")
    text = {"align": "left", "dx": 7, "dy": 8, "fontWeight": "bold"}
    # A white halo under the label keeps it readable where it crosses a curve.
    cut_halo = labelled.mark_text(
        **text, color="white", stroke="white", strokeWidth=4, strokeJoin="round"
    ).encode(x=x, y=y, text="label:N")
    cut_labels = labelled.mark_text(**text, color=PRUNED_COLOUR).encode(x=x, y=y, text="label:N")
    cutoffs = (
        chart.transform_filter("datum.kind == 'cutoff'")
        .mark_point(shape=CUTOFF_SHAPE, size=220, strokeWidth=3, color=PRUNED_COLOUR, opacity=1)
        .encode(
            x=x,
            y=y,
            tooltip=[trial, alt.Tooltip("value:Q", title="cut-off", format=".4~g"), why],
        )
    )
    return [rung_rules, rung_labels, median_line], [
        shortfall, cut_marks, cutoffs, cut_halo, cut_labels, median_halo, median_label,
    ]  # fmt: skip
