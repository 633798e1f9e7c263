"""The "Why this point?" page's reads and drawing: cached explanations and chart specs.

A recorded ask never changes while its study lives, so an explanation is cached on (store,
study, trial, dims) and on the study's identity: a study deleted and run again under the same
name, or restarted with a new spec, gets a new id, creation time or spec, so a new entry. A
chart's spec depends only on its layout, so it is built once per layout and each trial's rows
are swapped in (building and validating the Altair chart costs more than the rest). A lesson's
charts are built ahead, on a thread, from its recording (:func:`prepare_lesson`).
"""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from dashboard.presenter import for_room
from dashboard.read_model import ReadModel, StudyRecord
from tuning_core.engine.errors import SpecError
from tuning_core.reports.recording import RaceRecording, Recording
from tuning_core.views import chart_style, why_charts


def study_identity(study: StudyRecord) -> tuple[int, float, str]:
    """What tells one study from another of the same name: id, creation time and spec."""
    return study.id, study.created_at, json.dumps(study.spec.to_json(), sort_keys=True)


@st.cache_data(max_entries=64, show_spinner=False)
def _explanation(
    path: str,
    name: str,
    trial: int,
    dims: tuple[str, ...],
    identity: tuple[int, float, str],
    _reads: ReadModel,
) -> dict[str, Any]:
    return _reads.explain(name, trial, list(dims))


def why_explanation(
    reads: ReadModel,
    name: str,
    trial: int,
    dims: tuple[str, ...],
    identity: tuple[int, float, str],
) -> dict[str, Any]:
    """The "Why this point?" data of one trial (``explain`` as JSON), cached; ``identity`` is
    :func:`study_identity` of the study, part of the cache key only. Raises SpecError for a
    record it cannot read or trust."""
    return _explanation(reads.path, name, trial, dims, identity, reads)


def lesson_trial(
    reads: ReadModel,
    name: str,
    asks: dict[int, tuple[bool, str | None]],
    dims: tuple[str, ...],
    identity: tuple[int, float, str],
) -> int | None:
    """The latest model-chosen trial whose acquisition (over ``dims``) is not flat: the one
    that shows why a point was chosen. Each look is a cached explanation."""

    def flat(trial: int) -> bool:
        try:
            return why_charts.acquisition_is_flat(
                why_explanation(reads, name, trial, dims, identity)
            )
        except SpecError:  # a record it cannot read or trust teaches nothing either
            return True

    initial = {number for number, (is_initial, _) in asks.items() if is_initial}
    return why_charts.latest_informative(list(asks), initial, flat)


@st.cache_data(max_entries=32, show_spinner=False)
def _heatmap_templates(layout: tuple[Any, ...], _explanation: dict[str, Any]) -> list[dict]:
    # ``layout`` holds everything the specs depend on; the explanation only supplies columns.
    dims, log_dims, categorical_dims, metric, acquisition, _ = layout
    panels = why_charts.heatmap_panels(
        why_charts.heatmaps_frame(_explanation),
        list(dims),
        list(log_dims),
        list(categorical_dims),
        metric,
        acquisition,
    )
    return [chart_style.spec_without_data(panel) for panel in panels]


@st.cache_data(max_entries=32, show_spinner=False)
def _curve_template(layout: tuple[Any, ...], _explanation: dict[str, Any]) -> dict:
    dim, log, metric, acquisition = layout
    chart = why_charts.curve_chart(
        why_charts.curve_frame(_explanation), dim, log, metric, acquisition
    )
    return chart_style.spec_without_data(chart)


def _heatmap_layout(explanation: dict[str, Any]) -> tuple[Any, ...]:
    """What a two-dimension explanation's heatmap specs depend on (their cache key)."""
    return (
        tuple(explanation["dims"]),
        tuple(explanation["log_dims"]),
        tuple(explanation["categorical_dims"]),
        explanation["metric"],
        explanation["acquisition"],
        "true_value" in explanation,
    )


def build_heatmap_specs(explanation: dict[str, Any]) -> None:
    """Build (and cache) the heatmap specs of a two-dimension explanation's layout ahead of
    its page: validating them takes ~0.4 s once a server. Calls no Streamlit element, so a
    thread may call it (the Why lesson's, while the landing page is read)."""
    _heatmap_templates(_heatmap_layout(explanation), explanation)


def draw_why_chart(explanation: dict[str, Any]) -> list[str]:
    """Draw the chart of one explanation; returns the captions to show under it."""
    dims = explanation["dims"]
    if len(dims) == 2:
        layout = _heatmap_layout(explanation)
        frame = why_charts.heatmaps_frame(explanation)
        templates = _heatmap_templates(layout, explanation)
        # Two panels a row, each as wide as its column: together they fill the page.
        for start in range(0, len(templates), 2):
            for column, spec in zip(st.columns(2), templates[start : start + 2], strict=False):
                column.vega_lite_chart(frame, for_room(spec, min_height=0), width="stretch")
        return why_charts.captions(explanation)
    if dims[0] not in explanation["categorical_dims"]:
        layout = (
            dims[0],
            dims[0] in explanation["log_dims"],
            explanation["metric"],
            explanation["acquisition"],
        )
        spec = _curve_template(layout, explanation)
        st.vega_lite_chart(
            why_charts.curve_frame(explanation), for_room(spec, min_height=0), width="content"
        )
        return why_charts.captions(explanation)
    chart, captions = why_charts.why_chart(explanation)
    st.altair_chart(for_room(chart, min_height=0), width="content")
    return captions


def import_explainer() -> None:
    """Import scikit-optimize (~2 s), or wait for an import already under way: a thread calls
    it while the landing page is read, so the Why lesson need not."""
    from tuning_core.engine.strategies import import_scikit_optimize  # noqa: PLC0415 - skopt

    import_scikit_optimize()


def prepare_lesson(recording: Recording | RaceRecording, asks: dict[tuple[str, int], Any]) -> None:
    """The Why page's heatmap specs for the recording's first model-chosen trial (its layout is
    every trial's), built before the lesson is opened. Calls no Streamlit element."""
    from tuning_core.engine.explain import explain_record  # noqa: PLC0415 - scikit-optimize
    from tuning_core.engine.strategies import load_ask_record  # noqa: PLC0415 - beside explain

    study = recording.studies[0]
    chosen = [(n, a) for (name, n), a in sorted(asks.items()) if not a.initial]
    if not chosen or len(study.spec.space.names) < 2:
        return
    number, ask = chosen[0]
    record = load_ask_record(ask.state)
    build_heatmap_specs(explain_record(study.spec, record, number).to_json())
