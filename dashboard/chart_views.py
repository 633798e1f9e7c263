"""Charts drawn with a cached spec and each run's rows: the curves (Live, LR lab), the Pareto
front (Live), the clicked trials they share, and the playground's fixed grids.

Building and validating an Altair chart costs more than the rest of a rerun, so a spec is
built once per layout and only its rows change (:func:`chart_style.spec_without_data`).
"""

from __future__ import annotations

import json
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from dashboard.presenter import for_room
from dashboard.read_model import StudyRecord, storage_path
from dashboard.study_frames import Pruning
from tuning_core.engine.spec import StudySpec
from tuning_core.reports import frames
from tuning_core.views import (
    chart_style,
    curve_charts,
    forms,
    live,
    live_front,
    pareto_charts,
    playground,
)

# Where a curves template's metric and title go, in the JSON text of a layout built once:
# the spec uses the metric only in titles, so Live's two charts (the loss and the study's
# metric) share one build. Building one took ~90 ms, a third of a 10,000-trial first render.
_METRIC_SLOT = "@@curves-metric@@"
_TITLE_SLOT = "@@curves-title@@"


@st.cache_data(max_entries=32, show_spinner=False)
def _curves_layout(
    colouring: live.Colouring,
    shape_field: str | None,
    best_number: int | None,
    columns: tuple[str, ...],
    pruning: bool,
    direct_labels: bool,
    banded: bool,
    trial_numbers: tuple[int, ...],
) -> str:
    text_columns = ("metric", "state", shape_field)
    empty = pd.DataFrame(
        {
            column: pd.Series(dtype="object" if column in text_columns else "float64")
            for column in columns
        }
    )
    # Empty frames switch the pruning layers on; their rows come with each rerun's data.
    pruned = frames.pruning_frame([], _METRIC_SLOT) if pruning else None
    guides = pd.DataFrame(columns=frames.GUIDE_COLUMNS) if pruning else None
    spec = chart_style.spec_without_data(
        curve_charts.curves_chart(
            empty,
            _METRIC_SLOT,
            colouring.field,
            colouring.log,
            chart_style.trial_selection(),
            title=_TITLE_SLOT,
            color_domain=colouring.domain,
            shape_field=shape_field,
            best_number=best_number,
            highlight_column=True,
            pruned=pruned,
            guides=guides,
            direct_labels=direct_labels,
            # An empty band switches its layer on; its rows come with each rerun's data.
            band=curve_charts.band_frame(empty, _METRIC_SLOT) if banded else None,
            trial_numbers=trial_numbers,
        )
    )
    return json.dumps(spec)


def _in_json_string(text: str) -> str:
    """``text`` as it reads inside a JSON string (quotes and backslashes escaped)."""
    return json.dumps(text)[1:-1]


@st.cache_data(max_entries=64, show_spinner=False)
def _curves_template(
    metric: str,
    colouring: live.Colouring,
    title: str,
    shape_field: str | None,
    best_number: int | None,
    columns: tuple[str, ...],
    pruning: bool = False,
    direct_labels: bool = True,
    banded: bool = False,
    trial_numbers: tuple[int, ...] = (),
) -> dict:
    """The data-free spec of :func:`curve_charts.curves_chart` for ``metric`` with this
    layout: its layout's (:func:`_curves_layout`) with the metric and title put in."""
    layout = _curves_layout(
        colouring, shape_field, best_number, columns, pruning, direct_labels, banded,
        trial_numbers,
    )  # fmt: skip
    filled = layout.replace(_METRIC_SLOT, _in_json_string(metric))
    # curves_chart titles a chart without one by its metric.
    return json.loads(filled.replace(_TITLE_SLOT, _in_json_string(title or metric)))


def curves_view(
    curves: pd.DataFrame,
    metric: str,
    colouring: live.Colouring,
    title: str,
    key: str,
    highlighted: set[int] | None = None,
    shape_field: str | None = None,
    best_number: int | None = None,
    pruning: Pruning | None = None,
    sample: curve_charts.CurveSample | None = None,
    band: pd.DataFrame | None = None,
    band_of: int | None = None,
) -> set[int]:
    """Draw :func:`curve_charts.curves_chart` with a cached spec and this rerun's rows; returns the
    trial numbers clicked on it (shift-click adds), so the page can highlight them on its other
    charts too. ``highlighted`` trials are drawn solid and the rest faded; None or empty: all.
    With ``pruning`` the pruned trials' cuts, cut-offs, rungs and median are drawn too.
    With ``sample`` (:func:`curve_charts.sample_trials`) only its trials are drawn, over
    ``band`` (:func:`curve_charts.band_frame`), and the title says how many of how many
    (``band_of``: the band is a sample of that many finished trials).
    """
    sampled = sample is not None and sample.numbers is not None
    if sampled:
        curves = curves[curves["number"].isin(sample.numbers)]
    columns = tuple(
        c
        for c in dict.fromkeys(
            ("number", "epoch", "metric", "value", "state", colouring.field, shape_field)
        )
        if c
    )
    direct_labels = curve_charts.direct_labels_fit(curves)
    # Named lines take their colours over these trials (at most MAX_LABELLED_LINES, so the
    # spec is rebuilt only while a small study grows), the same on every chart of the page.
    numbers = tuple(sorted(int(n) for n in curves["number"].unique())) if direct_labels else ()
    spec = _curves_template(
        metric, colouring, title, shape_field, best_number, columns, pruning is not None,
        direct_labels, sampled and band is not None, numbers,
    )  # fmt: skip
    if sampled:
        # The counts change as trials arrive: only the title is swapped, not the cached spec.
        shown = curve_charts.sampled_title(title, sample, band, band_of)
        spec = {**spec, "title": shown.to_dict() if isinstance(shown, alt.TitleParams) else shown}
    pruned = pruning.pruned if pruning else None
    if sampled and pruned is not None:
        pruned = pruned[pruned["number"].isin(sample.numbers)]  # no scissors without a line
    data = curve_charts.curves_data(
        curves,
        metric,
        colouring.field,
        shape_field,
        pruned,
        pruning.guides if pruning else None,
        best_number,
        band=band if sampled else None,
    )
    data["highlighted"] = data["number"].isin(highlighted) if highlighted else True
    event = st.vega_lite_chart(
        data, for_room(spec), width="stretch", on_select="rerun", selection_mode="trials", key=key
    )
    return _trials_in(event)


@st.cache_data(max_entries=16, show_spinner=False)
def _pareto_parts(
    path: str,
    name: str,
    trials_key: tuple[Any, ...],
    pair: tuple[str, str],
    directions: tuple[str, str],
    selected: int | None,
    _trials: pd.DataFrame,
) -> tuple[dict, pd.DataFrame]:
    # Keyed on the trials' part of the fingerprint: an epoch of a running trial leaves the
    # front as it was. At 10,000 trials the chart took ~0.4 s to build, and its rows inline
    # ~0.07 s to serialise as JSON on every rerun: they go apart, as a frame.
    spec = pareto_charts.pareto_chart(_trials, *pair, directions, selected).to_dict(validate=False)
    rows = pd.DataFrame(spec.pop("datasets")[spec.pop("data")["name"]])
    return spec, rows


def pareto_view(
    name: str,
    trials: pd.DataFrame,
    fingerprint: tuple[Any, ...],
    pair: tuple[str, str],
    directions: tuple[str, str],
    key: str,
    selected: int | None = None,
) -> set[int]:
    """Draw :func:`pareto_charts.pareto_chart` of ``pair`` (x, y columns of ``trials``, with
    their ``directions``), built once per finished trial and ``selected`` ring; returns the
    trial numbers clicked on it (shift-click adds), read the same way as the curve charts'
    (:func:`selected_trials` with ``key``)."""
    spec, rows = _pareto_parts(
        storage_path(), name, tuple(fingerprint[:4]), pair, directions, selected, trials
    )
    event = st.vega_lite_chart(
        rows, for_room(spec), width="stretch", on_select="rerun", selection_mode="trials", key=key
    )
    return _trials_in(event)


@st.cache_data(max_entries=16, show_spinner=False)
def _front(
    path: str, name: str, trials_key: tuple[Any, ...], _trials: pd.DataFrame, _spec: StudySpec
) -> live_front.Front:
    return live_front.study_front(_trials, _spec)


def study_front(
    study: StudyRecord, trials: pd.DataFrame, fingerprint: tuple[Any, ...]
) -> live_front.Front:
    """:func:`live_front.study_front`, computed once per finished trial (~0.07 s at 10,000)."""
    return _front(storage_path(), study.name, tuple(fingerprint[:4]), trials, study.spec)


def _trials_in(event: Any) -> set[int]:
    points = (event or {}).get("selection", {}).get("trials", []) if event else []
    return {int(point["number"]) for point in points if "number" in point}


def selected_trials(*keys: str) -> set[int]:
    """The trials clicked on the charts drawn under ``keys``, read before they are drawn again,
    so a click highlights its trial on every chart in the very rerun it causes."""
    return set().union(*(_trials_in(st.session_state.get(key)) for key in keys))


@st.cache_data(max_entries=8, show_spinner=False)
def playground_surface(function_name: str) -> pd.DataFrame:
    """The playground function's surface grid: fixed per function, so computed once."""
    return playground.surface_frame(playground.FUNCTIONS[function_name])


@st.cache_data(max_entries=8, show_spinner=False)
def playground_ladder(function_name: str) -> list[float]:
    """The α slider's steps: 40 per log range plus the function's preset rates exactly."""
    presets = playground.PRESETS_BY_FUNCTION.get(function_name, {}).values()
    return sorted({*forms.log_spaced(1e-4, 2.0, 40), *(p.learning_rate for p in presets)})
