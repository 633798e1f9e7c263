"""Pure functions from DataFrames to Altair charts; no Streamlit, no store access.

Tests assert on ``chart.to_dict()``: encodings, scale types (log for learning rates), data.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from tuning_core.engine.pruners import PruneDecision
from tuning_core.engine.states import TrialState
from tuning_core.reports import frames

# A study of 200 trials x 30 epochs has 6,000 points per curve chart; the data goes to the
# browser as Arrow through Streamlit, so Altair's 5,000-row guard for inline JSON does not apply.
alt.data_transformers.disable_max_rows()

CURVE_HEIGHT = 260
# Streamlit fits title, legend and axes into a chart's height: at CURVE_HEIGHT the Compare
# convergence plot, under its title and legend, kept ~90 px for a 0.2-1.0 range.
CONVERGENCE_HEIGHT = 400
LINKED_WIDTH = 640
DIVERGED_DASH = [4, 3]
LEARNING_RATE_TITLE = "learning rate"


# Presenter mode's chart text, the one place it is set: read from the back of a room, nothing
# under 16 px (tick labels, axis titles, legends, line labels), titles larger still.
PROJECTOR_CONFIG: dict[str, dict[str, Any]] = {
    "axis": {"labelFontSize": 16, "titleFontSize": 18},
    "legend": {"labelFontSize": 16, "titleFontSize": 16, "symbolSize": 120},
    "header": {"labelFontSize": 16, "titleFontSize": 18},
    "title": {"fontSize": 22},
    "text": {"fontSize": 16},
}
# A full-width chart at its laptop height is a strip: on the projector it is at least this tall.
PROJECTOR_MIN_HEIGHT = 380


def for_projector(
    chart: alt.TopLevelMixin | dict, min_height: int = PROJECTOR_MIN_HEIGHT
) -> alt.TopLevelMixin | dict:
    """``chart`` (an Altair chart or a Vega-Lite dict) with PROJECTOR_CONFIG laid over its own
    config; a chart's explicit sizes below 16 px are raised too, since config only fills gaps,
    and its height to at least ``min_height``."""
    if not isinstance(chart, dict):
        # Altair's own API: a round trip through a dict cost ~0.2 s a chart on a lesson's
        # first view.
        return _projected_chart(chart, min_height)
    spec = dict(chart)
    config = {key: dict(value) for key, value in spec.get("config", {}).items()}
    for part, sizes in PROJECTOR_CONFIG.items():
        config[part] = {**config.get(part, {}), **sizes}
    spec["config"] = config
    if isinstance(spec.get("height"), (int, float)):
        spec["height"] = max(spec["height"], min_height)
    _raise_mark_fonts(spec)
    return spec


def _projected_chart(chart: alt.TopLevelMixin, min_height: int) -> alt.TopLevelMixin:
    """for_projector on an Altair chart: its config merged part by part (a race chart's
    title anchor stays), text marks raised, the height raised; ``chart`` is left as it was."""
    shown = chart.copy(deep=False)
    config = shown.config.to_dict() if shown.config is not alt.Undefined else {}
    for part, sizes in PROJECTOR_CONFIG.items():
        config[part] = {**config.get(part, {}), **sizes}
    shown.config = alt.Config(**config)
    height = getattr(shown, "height", alt.Undefined)
    if isinstance(height, (int, float)):
        shown.height = max(height, min_height)
    _raise_chart_fonts(shown)
    return shown


def _raise_chart_fonts(chart: Any) -> None:
    """Raise text marks' explicit fontSize in ``chart``'s own (copied) sub-charts."""
    for key in ("layer", "hconcat", "vconcat", "concat"):
        parts = getattr(chart, key, alt.Undefined)
        if parts is alt.Undefined:
            continue
        copies = [part.copy(deep=False) for part in parts]
        for part in copies:
            _raise_chart_fonts(part)
        setattr(chart, key, copies)
    mark = getattr(chart, "mark", alt.Undefined)
    if isinstance(mark, alt.MarkDef) and mark.type == "text":
        size = mark.fontSize if isinstance(mark.fontSize, (int, float)) else 0
        if size < PROJECTOR_CONFIG["text"]["fontSize"]:
            chart.mark = alt.MarkDef(
                **{**mark.to_dict(), "fontSize": PROJECTOR_CONFIG["text"]["fontSize"]}
            )


def _raise_mark_fonts(node: Any) -> None:
    """Raise every text mark's explicit fontSize to the projector's minimum, in place."""
    if isinstance(node, dict):
        mark = node.get("mark")
        if isinstance(mark, dict) and mark.get("type") == "text":
            mark["fontSize"] = max(mark.get("fontSize", 0), PROJECTOR_CONFIG["text"]["fontSize"])
        for key, value in node.items():
            if key not in ("datasets", "data"):
                _raise_mark_fonts(value)
    elif isinstance(node, list):
        for item in node:
            _raise_mark_fonts(item)


def _color(
    field: str,
    log: bool,
    title: str | None = None,
    legend: bool = True,
    domain: tuple[float, float] | None = None,
) -> alt.Color:
    """A continuous colour, on a log scale for log-scaled hyperparameters such as the learning
    rate; with ``domain`` (the study's range) a curve keeps its colour as trials arrive.
    """
    scale_options: dict = {"scheme": "viridis"}
    if log:
        scale_options["type"] = "log"
    if domain is not None:
        scale_options["domain"] = list(domain)
    # A short gradient, so it fits beside a 260 px chart under a shape legend.
    shown = alt.Legend(format="~g", gradientLength=100) if legend else None
    return alt.Color(
        f"{field}:Q", scale=alt.Scale(**scale_options), title=title or field, legend=shown
    )


def trial_selection() -> alt.Parameter:
    """Clicking (shift-click for more) a trial selects it; empty selection means all."""
    return alt.selection_point(fields=["number"], name="trials", on="click", clear="dblclick")


def _short(value: float | None) -> str:
    """A loss as a label shows it: 353, 2.3, 1e+14, or NaN."""
    if value is None or not np.isfinite(value):
        return "NaN"
    return f"{value:.3g}"


def curves_data(
    curves: pd.DataFrame,
    metric: str,
    color_field: str | None,
    shape_field: str | None = None,
    pruned: pd.DataFrame | None = None,
    guides: pd.DataFrame | None = None,
    best_number: int | None = None,
) -> pd.DataFrame:
    """The rows :func:`curves_chart` draws for one metric.

    Columns: number, epoch (counted from 1, as Keras prints it; in-epoch losses fall between),
    value, state, the colour field, kind, diverged, pruned, marker (any row that is not a
    trial's curve), label and why. ``kind`` says which layer draws a row:

    * ``curve``: a trial's points. Diverged ones are clipped to 1.5x the other trials' highest
      loss, so that they neither flatten the others nor leave the chart.
    * ``diverged``: one row per diverged trial where it blew up (its last in-epoch loss),
      labelled "diverged at epoch 1: loss 353"; on charts of other metrics it sits at the top
      (losses) or bottom (scores) of the other trials' range, at the epoch it blew up.
    * ``pruned``: one row per pruned trial (from :func:`frames.pruning_frame`) at the end of
      its curve, ``why`` the pruner's sentence; the first of each epoch's group carries the
      label ("pruned at epoch 3", "5 pruned at epoch 1").
    * ``cutoff``: on the chart of the metric the pruner compared, the cut-off each pruned trial
      failed to reach, at its last epoch; ``why`` again.
    * ``rung`` and ``median`` (from :func:`frames.pruning_guides`): the rung epochs, and the
      median of complete trials the median rule compares against.
    * ``end``: a line's direct label ("lr = 0.1") at its last point (see :func:`end_labels`).
    """
    keep = ["number", "epoch", "value", "state"] + [
        field for field in dict.fromkeys([color_field, shape_field]) if field and field in curves
    ]
    data = curves[curves["metric"] == metric]
    diverged = data["state"] == TrialState.DIVERGED.value
    data = data[keep].assign(
        epoch=data["epoch"].astype(float) + 1,
        kind="curve",
        diverged=diverged,
        pruned=data["state"] == TrialState.PRUNED.value,
        marker=False,
        label="",
        why="",
    )
    lossy = metric.endswith("loss")
    others = data.loc[~diverged, "value"].dropna()
    ceiling = 1.5 * float(others.max()) if lossy and len(others) else None
    if ceiling is not None:
        data["value"] = data["value"].where(~diverged, data["value"].clip(upper=ceiling))
    markers = []
    all_losses = curves[
        (curves["metric"] == "loss") & (curves["state"] == TrialState.DIVERGED.value)
    ]
    for number, losses in all_losses.sort_values("epoch").groupby("number", sort=True):
        last = losses.iloc[-1]
        blown = None if pd.isna(last["value"]) else float(last["value"])
        epoch = float(last["epoch"]) + 1
        label = f"diverged at epoch {max(1, int(np.ceil(epoch - 1e-9)))}"
        if metric == "loss":
            label += f": loss {_short(blown)}"
            top = ceiling if ceiling is not None else blown
            shown = top if blown is None or top is None else min(blown, top)
        elif lossy:
            shown = ceiling
        else:
            shown = float(others.min()) if len(others) else 0.0
        if shown is None:  # a lone run whose only loss is NaN: nothing to measure it against
            shown = 0.0
        row = {column: last[column] for column in keep if column in last}
        # The line's name leads its blow-up label: a diverged line has no other end label.
        named = line_label(color_field, row.get(color_field), int(number))
        row.update(
            epoch=epoch, value=shown, kind="diverged", diverged=True, marker=True, number=number,
            label=f"{named}, {label}",
        )  # fmt: skip
        markers.append(row)
    markers += _pruning_rows(data, metric, pruned, guides)
    # Lines are named by their colour's hyperparameter, else by their shape's (the optimizer).
    name_field = next((f for f in (color_field, shape_field) if f and f in data), None)
    markers += end_labels(data, name_field, best_number)
    if markers:
        extra = pd.DataFrame(markers)
        for column, blank in (
            ("diverged", False),
            ("pruned", False),
            ("stacked", False),
            ("label", ""),
            ("why", ""),
        ):
            extra[column] = extra.get(column, pd.Series(blank, index=extra.index)).fillna(blank)
        data = pd.concat([data, extra], ignore_index=True)
    return data.reset_index(drop=True)


# Up to this many lines, each is named at its end in its own colour; beyond it a gradient
# carries the colour and only the best and the running trials are named.
MAX_LABELLED_LINES = 10


def line_label(color_field: str | None, value: Any, number: int) -> str:
    """How a line is named at its end: "lr = 0.1", "batch_size = 64", "adam" (a choice of
    names names itself), or "trial 3"."""
    if color_field is None or value is None or (not isinstance(value, str) and pd.isna(value)):
        return f"trial {int(number)}"
    if isinstance(value, str):
        return value
    name = "lr" if color_field == "learning_rate" else color_field
    shown = f"{float(value):.3g}" if isinstance(value, (int, float, np.number)) else str(value)
    return f"{name} = {shown}"


def direct_labels_fit(curves: pd.DataFrame) -> bool:
    """Whether a chart of ``curves`` names every line (at most MAX_LABELLED_LINES trials)."""
    return curves.empty or curves["number"].nunique() <= MAX_LABELLED_LINES


def end_labels(
    data: pd.DataFrame, color_field: str | None, best_number: int | None = None
) -> list[dict]:
    """The ``end`` rows of :func:`curves_data`: every line's label when there are at most
    MAX_LABELLED_LINES, else only the best and the running trials' (never a diverged or pruned
    line's: their markers name them). ``label_value`` nudges
    labels apart vertically (at least 10% of the range), so ends that meet stay readable."""
    lines = data[data["kind"] == "curve"].dropna(subset=["value"])
    if lines.empty:
        return []
    every_line = lines["number"].nunique()
    # A diverged line is named in its blow-up label instead, and pruned lines by their rung's
    # one label ("5 pruned at epoch 1"): named one by one, they piled up at the rung.
    lines = lines[~lines["state"].isin([TrialState.DIVERGED.value, TrialState.PRUNED.value])]
    if lines.empty:
        return []
    ends = lines.sort_values("epoch").groupby("number", sort=True).last().reset_index()
    if every_line > MAX_LABELLED_LINES:
        keep = ends["state"] == TrialState.RUNNING.value
        if best_number is not None:
            keep |= ends["number"] == best_number
        ends = ends[keep]
    if ends.empty:
        return []
    span = float(lines["value"].max() - lines["value"].min()) or 1.0
    gap = 0.1 * span
    ends = ends.sort_values("value")
    placed: list[float] = []
    for value in ends["value"].astype(float):
        placed.append(max(value, placed[-1] + gap) if placed else value)
    rows = []
    for (_, end), label_value in zip(ends.iterrows(), placed, strict=True):
        row = {column: end[column] for column in ends.columns if column != "kind"}
        row.update(
            kind="end", marker=True, label_value=label_value,
            label=line_label(color_field, end.get(color_field), int(end["number"])),
        )  # fmt: skip
        rows.append(row)
    return rows


def _pruning_rows(
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


def spec_without_data(chart: alt.TopLevelMixin) -> dict:
    """A chart's Vega-Lite spec with its data removed, to be reused with fresh data.

    Building and validating an Altair chart costs ~100 ms; a live page that redraws every
    second builds the spec once and only swaps the rows (st.vega_lite_chart(data, spec)).
    """
    spec = chart.to_dict()
    spec.pop("data", None)
    spec.pop("datasets", None)
    return spec


PRUNED_COLOUR = "#d95f02"
GUIDE_COLOUR = "#777"
# Scissors where a pruned curve was cut (an SVG path, so no font needs the ✂ glyph): blades
# crossing at the curve's end and reaching back over it, handles to the right.
SCISSORS_SHAPE = (
    "M0.4,0.35L-0.7,-0.5M0.4,-0.35L-0.7,0.5"
    "M0.93,0.5A0.28,0.28 0 1,1 0.37,0.5A0.28,0.28 0 1,1 0.93,0.5"
    "M0.93,-0.5A0.28,0.28 0 1,1 0.37,-0.5A0.28,0.28 0 1,1 0.93,-0.5"
)
# An ×, as the captions say (Vega's "cross" is a +), drawn as a stroke.
DIVERGED_SHAPE = "M-1,-1L1,1M-1,1L1,-1"
# A level dash for the cut-off a pruned trial had to reach.
CUTOFF_SHAPE = "M-1,0H1"


def curves_chart(
    curves: pd.DataFrame,
    metric: str,
    color_field: str | None = "learning_rate",
    color_log: bool = True,
    selection: alt.Parameter | None = None,
    title: str | None = None,
    define_selection: bool = True,
    color_domain: tuple[float, float] | None = None,
    shape_field: str | None = None,
    best_number: int | None = None,
    highlight_column: bool = False,
    pruned: pd.DataFrame | None = None,
    guides: pd.DataFrame | None = None,
    direct_labels: bool | None = None,
) -> alt.LayerChart:
    """One line per trial of ``metric`` against epoch (from 1); diverged trials dashed up to
    their blow-up, with a red × and a "diverged at epoch N: loss X" label there.

    With ``direct_labels`` (default: at most MAX_LABELLED_LINES trials in ``curves``) each
    line has its own colour and its name at its end ("lr = 0.1"), and no legend; otherwise the
    colour is a gradient with its bar, and only the best and running trials are named.

    ``curves`` is the long form from :func:`frames.curves_frame`. Lines take their colour from
    ``color_field`` (log scale if asked, fixed to ``color_domain`` when given), the points'
    shape from ``shape_field`` (e.g. the optimizer); ``best_number``'s line is drawn thicker
    with a diamond at its end. With ``highlight_column`` the rows' ``highlighted`` flag (set by
    the page from a selection made on another chart) fades the other trials.

    With ``pruned`` (:func:`frames.pruning_frame`, possibly empty) a pruned trial's line is thin
    and pale and ends in an orange bar labelled "pruned at epoch N"; on the pruner's metric an
    orange dash marks the cut-off it failed to reach, joined to the bar by a dotted rule.
    ``guides`` (:func:`frames.pruning_guides`) adds the rungs as grey vertical rules and the
    median rule's median as a grey dashed line.
    """
    data = curves_data(curves, metric, color_field, shape_field, pruned, guides, best_number)
    if direct_labels is None:
        direct_labels = direct_labels_fit(curves)
    pruning = pruned is not None or guides is not None
    tooltip = [
        alt.Tooltip("number:Q", title="trial"),
        alt.Tooltip("epoch:Q", format=".3~g"),
        alt.Tooltip("value:Q", title=metric, format=".4~g"),
    ]
    if shape_field and shape_field in data:
        tooltip.append(alt.Tooltip(f"{shape_field}:N"))
    else:
        shape_field = None
    legend_layer = None
    if direct_labels:
        # Named at their ends, the lines need distinct colours, not a legend to decode.
        color = alt.Color("number:N", scale=alt.Scale(scheme="tableau10"), legend=None)
        if color_field and color_field in data:
            tooltip.append(alt.Tooltip(f"{color_field}:Q", format=".3~g"))
    elif color_field and color_field in data:
        color_title = LEARNING_RATE_TITLE if color_field == "learning_rate" else color_field
        # Line marks can only have a symbol legend (one entry per tick, which overflows); the
        # colour's gradient legend comes from an invisible point layer instead.
        color = _color(color_field, color_log, color_title, legend=False, domain=color_domain)
        legend_layer = (
            alt.Chart(data)
            .transform_filter("datum.kind == 'curve'")
            .mark_point(opacity=0)
            .encode(color=_color(color_field, color_log, color_title, domain=color_domain))
        )
        tooltip.append(alt.Tooltip(f"{color_field}:Q", format=".3~g"))
    else:
        color = alt.Color("number:N", title="trial")
    x = alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1), scale=alt.Scale(zero=False))
    y = alt.Y("value:Q", title=metric, scale=alt.Scale(zero=False))
    base = alt.Chart(data, title=title or metric).encode(
        x=x, y=y, detail="number:N", tooltip=tooltip
    )
    line_encoding: dict = {
        "color": color,
        "strokeDash": alt.condition("datum.diverged", alt.value(DIVERGED_DASH), alt.value([1, 0])),
    }
    widths = []
    if best_number is not None:
        widths.append({"test": f"datum.number == {int(best_number)}", "value": 4})
    if pruning:
        widths.append({"test": "datum.pruned", "value": 1})
        line_encoding["strokeOpacity"] = alt.condition(
            "datum.pruned", alt.value(0.5), alt.value(1.0)
        )
    if widths:
        line_encoding["strokeWidth"] = {"condition": widths, "value": 1.5}
    curve_rows = "datum.kind == 'curve'"
    lines = base.transform_filter(curve_rows).mark_line().encode(**line_encoding)
    points = base.transform_filter(curve_rows).mark_point(size=22, filled=True).encode(color=color)
    if pruning:
        points = points.encode(
            fillOpacity=alt.condition("datum.pruned", alt.value(0.4), alt.value(1.0))
        )
    if shape_field:
        # Two entries a row: stacked one a row over the colour gradient, the legends were
        # taller than the 260 px chart and the gradient's lowest label was cut off.
        # Named lines need no shape legend either (it sat on their labels).
        shape_legend = None if direct_labels else alt.Legend(orient="right", columns=2)
        points = points.encode(shape=alt.Shape(f"{shape_field}:N", legend=shape_legend))
    crosses = base.transform_filter("datum.kind == 'diverged'").mark_point(
        shape=DIVERGED_SHAPE, size=140, color="#d62728", filled=False, strokeWidth=3, opacity=1
    )
    labels = (
        base.transform_filter("datum.kind == 'diverged'")
        .mark_text(align="left", dx=8, dy=-10, color="#d62728", fontWeight="bold")
        .encode(text="label:N")
    )
    if highlight_column:
        faded = alt.condition("datum.highlighted !== false", alt.value(1.0), alt.value(0.12))
        lines, points = lines.encode(opacity=faded), points.encode(opacity=faded)
    if selection is not None:
        # With define_selection False the selection lives in a sibling chart (see
        # linked_parallel_and_curves).
        if not highlight_column:
            faded = alt.condition(selection, alt.value(1.0), alt.value(0.12))
            lines, points = lines.encode(opacity=faded), points.encode(opacity=faded)
        if define_selection:
            lines = lines.add_params(selection)
    behind, in_front = _pruning_layers(data, x, y, metric) if pruning else ([], [])
    ends = base.transform_filter("datum.kind == 'end'").encode(
        y=alt.Y("label_value:Q", title=metric, scale=alt.Scale(zero=False)), text="label:N"
    )
    end_text = {"align": "left", "dx": 7, "fontWeight": "bold"}
    end_halo = ends.mark_text(**end_text, color="white", stroke="white", strokeWidth=4)
    end_names = ends.mark_text(**end_text).encode(color=color)
    layers = [*behind, lines, points, crosses, labels, *in_front, end_halo, end_names]
    if best_number is not None:
        best_end = (
            base.transform_filter(f"datum.number == {int(best_number)} && {curve_rows}")
            .transform_window(
                rank="rank()", sort=[alt.SortField("epoch", order="descending")], groupby=["number"]
            )
            .transform_filter("datum.rank == 1")
            .mark_point(shape="diamond", size=160, filled=True, color="#e45756")
        )
        layers.append(best_end)
    if legend_layer is not None:
        layers.append(legend_layer)
    # Independent legends: the lines' (switched off) must not suppress the gradient one.
    return alt.layer(*layers).resolve_legend(color="independent").properties(height=CURVE_HEIGHT)


def _pruning_layers(
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


# One colour per trial state, fixed, so a state reads the same on every timeline: the pruned
# orange is the curves' scissors colour, running is the only green.
STATE_COLOURS = {
    TrialState.COMPLETE.value: "#4c78a8",
    TrialState.RUNNING.value: "#54a24b",
    TrialState.PRUNED.value: PRUNED_COLOUR,
    TrialState.FAILED.value: "#d62728",
    TrialState.DIVERGED.value: "#9d2a6b",
    TrialState.INTERRUPTED.value: "#9e9e9e",
}
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
    numbers = sorted({int(n) for n in losses["number"]})
    colour = alt.Color(
        "trial:N",
        title="running trial",
        scale=alt.Scale(
            domain=[f"trial {n}" for n in numbers],
            range=[TRIAL_PALETTE[n % len(TRIAL_PALETTE)] for n in numbers],
        ),
        legend=None,  # each line is named at its end instead
    )
    base = alt.Chart(losses).encode(
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
) -> alt.LayerChart:
    """A line per trial across its hyperparameters, each axis labelled with real values
    (``ticks`` from :func:`parallel_ticks`), coloured like the curves (``colour_field``, same
    scale and domain) so a trial has one colour on the page; else by score.
    """
    if colour_field and colour_field in parallel:
        title = LEARNING_RATE_TITLE if colour_field == "learning_rate" else colour_field
        colour = _color(colour_field, colour_log, title, domain=colour_domain)
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
    return alt.layer(
        *layers, title="parallel coordinates (click a line; double-click clears)"
    ).properties(height=CURVE_HEIGHT)


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
) -> alt.VConcatChart:
    """Parallel coordinates above the loss curves, both coloured by ``colour_field`` on one
    scale; selecting trials in one highlights them in both. With ``pruned`` the pruned trials'
    curves are pale and end in scissors, as on the live page.
    """
    selection = trial_selection()
    # Concatenated views cannot stretch to their container, so both get the same fixed width.
    top = parallel_coordinates_chart(
        parallel, order, selection, ticks, colour_field, colour_log, colour_domain
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
        shape=DIVERGED_SHAPE, size=160, color="#d62728", filled=False, strokeWidth=3, opacity=1
    )
    # Above the bar, and clear of a diverged run's × on the axis.
    labels = base.mark_text(dy=-16, fontWeight="bold").encode(
        text="outcome:N",
        color=alt.condition("datum.diverged", alt.value("#d62728"), alt.value("#333")),
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
