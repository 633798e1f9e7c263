"""Learning curves: one line per trial of a metric against epoch, as Live, Compare, the
lessons and the Learning-rate lab draw them, with diverged runs, pruned trials' marks
(:mod:`tuning_core.views.pruning_marks`) and the lines' names at their ends
(:mod:`tuning_core.views.curve_labels`); a sample of a study too big to draw whole, with its
band, is chosen in :mod:`tuning_core.views.curve_sample`.

Pure functions from DataFrames to Altair charts; tests assert on ``chart.to_dict()``.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

from tuning_core.engine.states import TrialState
from tuning_core.views.chart_style import (
    CURVE_HEIGHT,
    DIVERGED_COLOUR,
    DIVERGED_SHAPE,
    colour_scale,
    colour_title,
    when,
)

# Split out by what they hold; re-exported here, where the pages and the tests have always
# found them.
from tuning_core.views.curve_labels import (  # noqa: F401
    MAX_LABELLED_LINES,
    direct_labels_fit,
    end_labels,
    label_gap,
    line_label,
    line_range,
)
from tuning_core.views.curve_sample import (  # noqa: F401
    BAND_QUANTILES,
    BEST_SHARE,
    MAX_DRAWN_TRIALS,
    CurveSample,
    band_frame,
    sample_trials,
    sampled_title,
)
from tuning_core.views.pruning_marks import audit_layers, audit_rows, pruning_layers, pruning_rows

DIVERGED_DASH = [4, 3]


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
    audited: pd.DataFrame | None = None,
    band: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The rows :func:`curves_chart` draws for one metric.

    Columns: number, epoch (counted from 1, as Keras prints it; in-epoch losses fall between),
    value, state, the colour field, kind, diverged, pruned, marker (any row that is not a
    trial's curve), label and why. ``kind`` says which layer draws a row:

    * ``curve``: a trial's points. Diverged ones are clipped to 1.5x the other trials' highest
      loss, so that they neither flatten the others nor leave the chart.
    * ``diverged``: one row per diverged trial where it blew up (its last in-epoch loss),
      labelled "diverged at epoch 1: loss 353"; on charts of other metrics it sits at the top
      (losses) or bottom (scores) of the other trials' range, at the epoch it blew up. Trials
      that blew up at the same spot share one label (see :func:`_one_label_a_spot`).
    * ``pruned``: one row per pruned trial (from :func:`frames.pruning_frame`) at the end of
      its curve, ``why`` the pruner's sentence; the first of each epoch's group carries the
      label ("pruned at epoch 3", "5 pruned at epoch 1").
    * ``cutoff``: on the chart of the metric the pruner compared, the cut-off each pruned trial
      failed to reach, at its last epoch; ``why`` again.
    * ``rung`` and ``median`` (from :func:`frames.pruning_guides`): the rung epochs, and the
      median of complete trials the median rule compares against.
    * ``end``: a line's direct label ("lr = 0.1") at its last point (see :func:`end_labels`).
    * ``audit`` and ``audit_end`` (from :func:`pruning_marks.audited_frame`): a pruned trial's
      audited run to the end, and its last point with its label.
    * ``band`` (from :func:`band_frame`): per epoch, the ``low`` and ``high`` percentile of
      every finished trial, drawn behind a sample of curves.
    """
    keep = ["number", "epoch", "value", "state"] + [
        field for field in dict.fromkeys([color_field, shape_field]) if field and field in curves
    ]
    # Rows and columns in one take: the long form's other columns are never drawn.
    data = curves.loc[curves["metric"] == metric, keep]
    diverged = data["state"] == TrialState.DIVERGED.value
    data = data.assign(
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
    markers: list[dict] = []
    # Each diverged row's line name, loss and epoch in words (counted from 1).
    blow_ups: list[tuple[str, float | None, int]] = []
    blew_up = (curves["metric"] == "loss") & (curves["state"] == TrialState.DIVERGED.value)
    # Most charts have no diverged trial: no copy of every row to find none.
    all_losses = curves[blew_up] if blew_up.any() else curves.iloc[:0]
    for number, losses in all_losses.sort_values("epoch").groupby("number", sort=True):
        last = losses.iloc[-1]
        blown = None if pd.isna(last["value"]) else float(last["value"])
        epoch = float(last["epoch"]) + 1
        at_epoch = max(1, int(np.ceil(epoch - 1e-9)))
        label = f"diverged at epoch {at_epoch}"
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
        blow_ups.append((named, blown, at_epoch))
    markers = _one_label_a_spot(markers, blow_ups, metric)
    markers += pruning_rows(data, metric, pruned, guides)
    # Lines are named by their colour's hyperparameter, else by their shape's (the optimizer).
    name_field = next((f for f in (color_field, shape_field) if f and f in data), None)
    ends = end_labels(data, name_field, best_number)
    markers += ends
    # Audited runs' labels keep off the lines' own, as far apart as those are.
    labelled = [row["label_value"] for row in ends]
    lines = line_range(data)
    top = lines[1] if lines else None
    markers += audit_rows(audited, metric, labelled, label_gap(data), top)
    if band is not None and not band.empty:
        markers += band.assign(kind="band", marker=True).to_dict("records")
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


def _one_label_a_spot(
    rows: list[dict], blow_ups: list[tuple[str, float | None, int]], metric: str
) -> list[dict]:
    """The ``diverged`` rows with one label for the trials that blew up at the same spot (the
    same epoch, clipped to the same height): "lr = 100: 2 diverged at epoch 1, loss up to
    1.5e+05" on the first, none on the others. Two such labels were drawn over each other,
    unreadable, as the pruned trials of one rung are counted in one label."""
    spots: dict[tuple[int, float], list[int]] = {}
    for index, (row, (_, _, at_epoch)) in enumerate(zip(rows, blow_ups, strict=True)):
        spots.setdefault((at_epoch, round(float(row["value"]), 9)), []).append(index)
    for (at_epoch, _), indexes in spots.items():
        if len(indexes) < 2:
            continue
        names = ", ".join(dict.fromkeys(blow_ups[i][0] for i in indexes))
        label = f"{names}: {len(indexes)} diverged at epoch {at_epoch}"
        losses = [blow_ups[i][1] for i in indexes if blow_ups[i][1] is not None]
        if metric == "loss" and losses:
            label += f", loss up to {_short(max(losses))}"
        for order, i in enumerate(indexes):
            rows[i] = {**rows[i], "label": label if order == 0 else ""}
    return rows


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
    audited: pd.DataFrame | None = None,
    sample: CurveSample | None = None,
    band: pd.DataFrame | None = None,
    trial_numbers: Sequence[int] | None = None,
) -> alt.LayerChart:
    """One line per trial of ``metric`` against epoch (from 1); diverged trials dashed up to
    their blow-up, with a red × and a "diverged at epoch N: loss X" label there.

    With ``direct_labels`` (default: at most MAX_LABELLED_LINES trials in ``curves``) each
    line has its own colour and its name at its end ("lr = 0.1"), and no legend; otherwise the
    colour is a gradient with its bar, and only the best and running trials are named. The own
    colours are assigned over ``trial_numbers`` (default: every trial in ``curves``, whatever
    its metric), so a trial keeps its colour on each chart of the same curves, even where
    another trial has no line (one that diverged in its first epoch has no validation line).

    ``curves`` is the long form from :func:`frames.curves_frame`. Lines take their colour from
    ``color_field`` (log scale if asked, fixed to ``color_domain`` when given), the points'
    shape from ``shape_field`` (e.g. the optimizer); ``best_number``'s line is drawn thicker
    with a diamond at its end. With ``highlight_column`` the rows' ``highlighted`` flag (set by
    the page from a selection made on another chart) fades the other trials.

    With ``pruned`` (:func:`frames.pruning_frame`, possibly empty) a pruned trial's line is thin
    and pale and ends in an orange bar labelled "pruned at epoch N"; on the pruner's metric an
    orange dash marks the cut-off it failed to reach, joined to the bar by a dotted rule.
    ``guides`` (:func:`frames.pruning_guides`) adds the rungs as grey vertical rules and the
    median rule's median as a grey dashed line. ``audited`` (:func:`pruning_marks.audited_frame`)
    draws pruned trials' audited runs to the end over their cuts, labelled at their ends.

    With ``sample`` (:func:`sample_trials`) only its trials are drawn and the chart's subtitle
    says so ("300 of 10,000 trials drawn"); ``band`` (:func:`band_frame`) is drawn behind.
    """
    if trial_numbers is None:
        trial_numbers = sorted(int(n) for n in curves["number"].unique())
    if sample is not None and sample.numbers is not None:
        curves = curves[curves["number"].isin(sample.numbers)]
        if pruned is not None:  # no scissors without their line
            pruned = pruned[pruned["number"].isin(sample.numbers)]
    data = curves_data(
        curves, metric, color_field, shape_field, pruned, guides, best_number, audited, band
    )
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
        color = alt.Color(
            "number:N",
            scale=alt.Scale(scheme="tableau10", domain=list(trial_numbers)),
            legend=None,
        )
        if color_field and color_field in data:
            tooltip.append(alt.Tooltip(f"{color_field}:Q", format=".3~g"))
    elif color_field and color_field in data:
        color_title = colour_title(color_field)
        # Line marks can only have a symbol legend (one entry per tick, which overflows); the
        # colour's gradient legend comes from an invisible point layer instead.
        color = colour_scale(color_field, color_log, color_title, legend=False, domain=color_domain)
        legend_layer = (
            alt.Chart(data)
            .transform_filter("datum.kind == 'curve'")
            .mark_point(opacity=0)
            .encode(color=colour_scale(color_field, color_log, color_title, domain=color_domain))
        )
        tooltip.append(alt.Tooltip(f"{color_field}:Q", format=".3~g"))
    else:
        color = alt.Color("number:N", title="trial")
    x = alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1), scale=alt.Scale(zero=False))
    y = alt.Y("value:Q", title=metric, scale=alt.Scale(zero=False))
    base = alt.Chart(data).encode(x=x, y=y, detail=alt.Detail("number:N"), tooltip=tooltip)
    line_encoding: dict = {
        "color": color,
        "strokeDash": when("datum.diverged", DIVERGED_DASH, [1, 0], alt.StrokeDashValue),
    }
    widths = []
    if best_number is not None:
        widths.append({"test": f"datum.number == {int(best_number)}", "value": 4})
    if pruning:
        widths.append({"test": "datum.pruned", "value": 1})
        line_encoding["strokeOpacity"] = when("datum.pruned", 0.5, 1.0, alt.StrokeOpacityValue)
    if widths:
        line_encoding["strokeWidth"] = alt.StrokeWidthValue(1.5, condition=widths)
    curve_rows = "datum.kind == 'curve'"
    lines = base.transform_filter(curve_rows).mark_line().encode(**line_encoding)
    points = base.transform_filter(curve_rows).mark_point(size=22, filled=True).encode(color=color)
    if pruning:
        points = points.encode(fillOpacity=when("datum.pruned", 0.4, 1.0, alt.FillOpacityValue))
    if shape_field:
        # Two entries a row: stacked one a row over the colour gradient, the legends were
        # taller than the 260 px chart and the gradient's lowest label was cut off.
        # Named lines need no shape legend either (it sat on their labels).
        shape_legend = None if direct_labels else alt.Legend(orient="right", columns=2)
        points = points.encode(shape=alt.Shape(f"{shape_field}:N", legend=shape_legend))
    crosses = base.transform_filter("datum.kind == 'diverged'").mark_point(
        shape=DIVERGED_SHAPE,
        size=140,
        color=DIVERGED_COLOUR,
        filled=False,
        strokeWidth=3,
        opacity=1,
    )
    labels = (
        base.transform_filter("datum.kind == 'diverged'")
        .mark_text(align="left", dx=8, dy=-10, color=DIVERGED_COLOUR, fontWeight="bold")
        .encode(text=alt.Text("label:N"))
    )
    if highlight_column:
        faded = when("datum.highlighted !== false", 1.0, 0.12, alt.OpacityValue)
        lines, points = lines.encode(opacity=faded), points.encode(opacity=faded)
    if selection is not None:
        # With define_selection False the selection lives in a sibling chart (see
        # linked_parallel_and_curves).
        if not highlight_column:
            faded = when(selection, 1.0, 0.12, alt.OpacityValue)
            lines, points = lines.encode(opacity=faded), points.encode(opacity=faded)
        if define_selection:
            lines = lines.add_params(selection)
    behind, in_front = pruning_layers(data, x, y, metric) if pruning else ([], [])
    ends = base.transform_filter("datum.kind == 'end'").encode(
        y=alt.Y("label_value:Q", title=metric, scale=alt.Scale(zero=False)),
        text=alt.Text("label:N"),
    )
    end_text = {"align": "left", "dx": 7, "fontWeight": "bold"}
    end_halo = ends.mark_text(**end_text, color="white", stroke="white", strokeWidth=4)
    end_names = ends.mark_text(**end_text).encode(color=color)
    layers = [*behind, lines, points, crosses, labels, *in_front, end_halo, end_names]
    if band is not None:
        layers.insert(0, _band_layer(base, metric))
    if audited is not None:
        layers += audit_layers(data, x, y, metric)
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
    return (
        alt.layer(*layers, title=sampled_title(title or metric, sample, band))
        .resolve_legend(color="independent")
        .properties(height=CURVE_HEIGHT)
    )


def _band_layer(base: alt.Chart, metric: str) -> alt.Chart:
    """The grey band behind a sample of curves: the ``band`` rows of :func:`curves_data`."""
    low, high = (round(100 * q) for q in BAND_QUANTILES)
    return (
        base.transform_filter("datum.kind == 'band'")
        .mark_area(color="#9e9e9e", opacity=0.25)
        .encode(
            y=alt.Y("low:Q", title=metric, scale=alt.Scale(zero=False)),
            y2=alt.Y2("high:Q"),
            detail=alt.Detail("kind:N"),  # one band, not one per trial number (NaN here)
            tooltip=[
                alt.Tooltip("epoch:Q", format=".3~g"),
                alt.Tooltip("low:Q", title=f"{low}th percentile", format=".4~g"),
                alt.Tooltip("high:Q", title=f"{high}th percentile", format=".4~g"),
                alt.Tooltip("trials:Q", title="finished trials"),
            ],
        )
    )
