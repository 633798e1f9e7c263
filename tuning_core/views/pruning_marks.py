"""A pruner's marks on a curve chart: scissors where a trial was cut, the cut-off it failed
to reach, the rungs and the median rule's median, and an audit's full runs of pruned trials
drawn over their cuts; their rows and their layers.

Pure: rows from :func:`frames.pruning_frame` and :func:`frames.pruning_guides` in, Altair
layers out, for :func:`tuning_core.views.curve_charts.curves_chart`.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from tuning_core.engine.audit import AuditReport
from tuning_core.engine.pruners import PruneDecision
from tuning_core.views.chart_style import PRUNED_COLOUR, when


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
    ).encode(x=x, y=alt.YValue(0), text=alt.Text("label:N"))
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
    ).encode(x=x, y=y, text=alt.Text("label:N"))
    median_label = median_end.mark_text(**median_text, color=GUIDE_COLOUR).encode(
        x=x, y=y, text=alt.Text("label:N")
    )
    cuts = chart.transform_filter("datum.kind == 'pruned'")
    shortfall = (
        cuts.transform_filter("isValid(datum.cutoff)")
        .mark_rule(color=PRUNED_COLOUR, strokeDash=[1, 2], strokeWidth=1.5)
        .encode(x=x, y=y, y2=alt.Y2("cutoff:Q"))
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
    ).encode(x=x, y=y, text=alt.Text("label:N"))
    cut_labels = labelled.mark_text(**text, color=PRUNED_COLOUR).encode(
        x=x, y=y, text=alt.Text("label:N")
    )
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


# Audited runs (engine/audit.py): a pruned trial trained to the end, drawn over its cut. A run
# that would have beaten the study's best is purple, the false prune the audit looks for; one
# that would not keeps the pruned orange.
AUDIT_WON_COLOUR = "#6a3d9a"
# Dashed: the part of a run that the pruned study never saw.
AUDIT_DASH = [6, 3]
AUDIT_COLUMNS = ["number", "epoch", "value", "metric", "won", "label", "why"]


def audited_frame(report: AuditReport, curves: pd.DataFrame) -> pd.DataFrame:
    """The audited runs' curves of the study's metric from each trial's cut on (before it, the
    run retraced the pruned curve: same params, same seed), by the number of the pruned trial
    each audits: number, epoch (0-based, as stored), value, metric, won (it would have beaten the
    study's best), label ("trial 3 in full", ": would have won" added for a false prune) and why
    (the audit's sentence on the trial). ``curves`` is the audit study's
    :func:`frames.curves_frame`."""
    if curves.empty or not report.trials:
        return pd.DataFrame(columns=AUDIT_COLUMNS)
    runs = {trial.audit_number: trial for trial in report.trials}
    within = curves.get("within_epoch", pd.Series(False, index=curves.index)).astype(bool)
    rows = curves[(curves["metric"] == report.metric) & ~within & curves["number"].isin(runs)]
    cut = rows["number"].map({n: t.cut_epoch or 1 for n, t in runs.items()})
    rows = rows[rows["epoch"] + 1 >= cut]  # the cut's own point joins the line to the scissors
    audited = [runs[int(number)] for number in rows["number"]]
    return pd.DataFrame(
        {
            "number": [trial.number for trial in audited],
            "epoch": rows["epoch"].astype(float).to_numpy(),
            "value": rows["value"].astype(float).to_numpy(),
            "metric": report.metric,
            "won": [trial.beats_best for trial in audited],
            # The line names its trial; only a false prune says more, so labels stay short.
            "label": [
                f"trial {t.number} in full" + (": would have won" if t.beats_best else "")
                for t in audited
            ],
            "why": [report.trial_sentence(trial) for trial in audited],
        }
    )


def audit_rows(
    audited: pd.DataFrame | None,
    metric: str,
    taken: list[float] | None = None,
    gap: float = 0.0,
    ceiling: float | None = None,
) -> list[dict]:
    """The ``audit`` rows of :func:`curves_data` (each audited run's points, epochs from 1) and
    one ``audit_end`` row per run at its last epoch, carrying its label; none on the chart of
    another metric. A label's height ``label_value`` is moved up, in steps of ``gap``, off the
    ``taken`` heights (the lines' own end labels) and the labels placed before it; down
    instead where up would take it above ``ceiling`` (the highest line) and its own run."""
    if audited is None or audited.empty:
        return []
    placed = list(taken or [])
    runs = audited[audited["metric"] == metric].dropna(subset=["value"])
    rows = [
        {"number": row.number, "epoch": float(row.epoch) + 1, "value": float(row.value),
         "kind": "audit", "marker": True, "won": bool(row.won), "why": row.why}
        for row in runs.itertuples(index=False)
    ]  # fmt: skip
    ends = runs.sort_values("epoch").groupby("number").last().reset_index()
    for last in ends.sort_values("value").itertuples(index=False):
        height = _free_height(float(last.value), placed, gap, +1)
        if ceiling is not None and height > max(ceiling, float(last.value)):
            height = _free_height(float(last.value), placed, gap, -1)
        placed.append(height)
        rows.append(
            {"number": last.number, "epoch": float(last.epoch) + 1, "value": float(last.value),
             "label_value": height, "kind": "audit_end", "marker": True, "won": bool(last.won),
             "label": last.label, "why": last.why}
        )  # fmt: skip
    return rows


def _free_height(height: float, placed: list[float], gap: float, direction: int) -> float:
    """``height``, or the nearest one up (``direction`` +1) or down (-1) at least ``gap`` from
    every ``placed`` height."""
    # 0.999: one step of gap clears a label even where float rounding leaves it short.
    while clash := [h for h in placed if abs(h - height) < 0.999 * gap]:
        height = max(clash) + gap if direction > 0 else min(clash) - gap
    return height


def audit_layers(data: pd.DataFrame, x: alt.X, y: alt.Y, metric: str) -> list[alt.Chart]:
    """The audited runs in front of the pruned curves and their cut-offs: a dashed line per run
    from its cut to its end, a dot there and its label beside it, purple where it would have
    won."""
    colour = when("datum.won", AUDIT_WON_COLOUR, PRUNED_COLOUR, alt.ColorValue)
    tooltip = [
        alt.Tooltip("number:Q", title="trial"),
        alt.Tooltip("epoch:Q"),
        alt.Tooltip("value:Q", title=metric, format=".4~g"),
        alt.Tooltip("why:N", title="audited"),
    ]
    chart = alt.Chart(data)
    runs = (
        chart.transform_filter("datum.kind == 'audit'")
        .mark_line(strokeWidth=2, strokeDash=AUDIT_DASH, opacity=0.95)
        .encode(x=x, y=y, detail=alt.Detail("number:N"), color=colour, tooltip=tooltip)
    )
    ends = chart.transform_filter("datum.kind == 'audit_end'")
    dots = ends.mark_point(shape="circle", filled=True, size=90, opacity=1).encode(
        x=x, y=y, color=colour, tooltip=tooltip
    )
    text = {"align": "left", "dx": 8, "fontWeight": "bold"}
    # At its nudged height, as the lines' own end labels are, so that neither hides the other.
    height = alt.Y("label_value:Q", title=metric, scale=alt.Scale(zero=False))
    halo = ends.mark_text(
        **text, color="white", stroke="white", strokeWidth=4, strokeJoin="round"
    ).encode(x=x, y=height, text=alt.Text("label:N"))
    labels = ends.mark_text(**text).encode(x=x, y=height, text=alt.Text("label:N"), color=colour)
    return [runs, dots, halo, labels]


def audit_caption(report: AuditReport) -> str:
    """What the audited runs on the chart are, for the caption under it."""
    return (
        f"The dashed lines continue {len(report.trials)} pruned trials from their cut to the end, "
        f"as an audit trained them (the study {report.audit_study}: same params and seed, no "
        "pruner): orange where the trial still fell short of the study's best, purple where it "
        "would have beaten it (a false prune). Hover a line for its cut and its final value."
    )
