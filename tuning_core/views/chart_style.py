"""What every chart of the dashboard shares: one place for each rule.

Sizes, the presenter's projector config, the colour scale of a hyperparameter, the trial
selection, the colours and shapes of states (pruned orange, the diverged ×), and the spec
reuse of the live pages. Pure: no Streamlit, no store access.
"""

from __future__ import annotations

from typing import Any

import altair as alt

from tuning_core.engine.states import TrialState

# A study of 200 trials x 30 epochs has 6,000 points per curve chart; the data goes to the
# browser as Arrow through Streamlit, so Altair's 5,000-row guard for inline JSON does not apply.
alt.data_transformers.disable_max_rows()

CURVE_HEIGHT = 260
LEARNING_RATE_TITLE = "learning rate"


def colour_title(field: str) -> str:
    """The title of a colour scale over ``field``: the learning rate in words."""
    return LEARNING_RATE_TITLE if field == "learning_rate" else field


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


def colour_scale(
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


def when(
    test: str | alt.Parameter, if_true: Any, otherwise: Any, channel: type[alt.SchemaBase]
) -> alt.SchemaBase:
    """``alt.condition(test, alt.value(if_true), alt.value(otherwise))`` as the typed value
    ``channel`` (e.g. ``alt.OpacityValue``): the same spec, built faster.

    Altair resolves a condition's dict, as it does a shorthand string ("number:N"), by trying
    it against the schema's candidates when it is encoded: ~16 ms a condition and ~8 ms a
    string, most of a curves chart's ~130 ms build. A typed channel is taken as it is.
    """
    condition = alt.condition(test, alt.value(if_true), alt.value(otherwise))["condition"]
    return channel(otherwise, condition=condition)


def trial_selection() -> alt.Parameter:
    """Clicking (shift-click for more) a trial selects it; empty selection means all."""
    return alt.selection_point(fields=["number"], name="trials", on="click", clear="dblclick")


def spec_without_data(chart: alt.TopLevelMixin) -> dict:
    """A chart's Vega-Lite spec with its data removed, to be reused with fresh data.

    Building and validating an Altair chart costs ~100 ms; a live page that redraws every
    second builds the spec once and only swaps the rows (st.vega_lite_chart(data, spec)).
    Not validated against Vega-Lite's schema (~50 of to_dict's ~70 ms for a curves chart):
    the chart functions' tests validate the same charts with ``chart.to_dict()``.
    """
    spec = chart.to_dict(validate=False)
    spec.pop("data", None)
    spec.pop("datasets", None)
    return spec


PRUNED_COLOUR = "#d95f02"
# A diverged run's × and its label, wherever a chart marks one.
DIVERGED_COLOUR = "#d62728"
# An ×, as the captions say (Vega's "cross" is a +), drawn as a stroke.
DIVERGED_SHAPE = "M-1,-1L1,1M-1,1L1,-1"


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
