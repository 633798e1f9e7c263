"""The curve charts' cached specs (dashboard.chart_views): a layout is built once and each
chart's metric and title are put in its JSON text, which must give the spec that building
the chart for that metric gives."""

from __future__ import annotations

import re
from typing import Any

import altair as alt
import pandas as pd
import pytest

from dashboard import chart_views
from tuning_core.reports import frames
from tuning_core.views import chart_style, curve_charts, live

COLUMNS = ("number", "epoch", "metric", "value", "state", "learning_rate")
GRADIENT = live.Colouring("learning_rate", True, (1e-4, 1.0))


def _built(metric: str, title: str, layout: dict[str, Any]) -> dict:
    """The spec of the chart built for ``metric`` itself, as the template was before."""
    empty = pd.DataFrame(
        {c: pd.Series(dtype="object" if c in ("metric", "state") else "float64") for c in COLUMNS}
    )
    chart = curve_charts.curves_chart(
        empty,
        metric,
        GRADIENT.field,
        GRADIENT.log,
        chart_style.trial_selection(),
        title=title,
        color_domain=GRADIENT.domain,
        best_number=layout["best_number"],
        highlight_column=True,
        pruned=frames.pruning_frame([], metric) if layout["pruning"] else None,
        guides=pd.DataFrame(columns=frames.GUIDE_COLUMNS) if layout["pruning"] else None,
        direct_labels=layout["direct_labels"],
        band=curve_charts.band_frame(empty, metric) if layout["banded"] else None,
        trial_numbers=layout["trial_numbers"],
    )
    return chart_style.spec_without_data(chart)


def _named_views_apart(spec: dict) -> str:
    # Altair names each layer's view afresh on each build; the names only tie a selection to
    # its layer within one spec.
    return re.sub(r"view_[0-9a-f]+_\d+|view_\d+", "view", repr(spec))


LAYOUTS = [
    {"best_number": 7, "pruning": False, "direct_labels": False, "banded": True,
     "trial_numbers": ()},
    {"best_number": None, "pruning": True, "direct_labels": True, "banded": False,
     "trial_numbers": (0, 1, 2)},
]  # fmt: skip


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_template_is_the_spec_of_its_metrics_chart(layout: dict[str, Any]) -> None:
    # Quotes and a backslash: the metric and title go into JSON text, escaped.
    for metric, title in [("val_accuracy", "validation accuracy"), ('odd "m\\', 'it\'s "odd"')]:
        template = chart_views._curves_template(
            metric, GRADIENT, title, None, layout["best_number"], COLUMNS, layout["pruning"],
            layout["direct_labels"], layout["banded"], layout["trial_numbers"],
        )  # fmt: skip
        assert _named_views_apart(template) == _named_views_apart(_built(metric, title, layout))
        assert chart_views._METRIC_SLOT not in repr(template)


def test_two_metrics_of_one_layout_build_one_chart(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    real = curve_charts.curves_chart

    def counting(curves: pd.DataFrame, metric: str, *args: Any, **kwargs: Any) -> Any:
        built.append(metric)
        return real(curves, metric, *args, **kwargs)

    monkeypatch.setattr(curve_charts, "curves_chart", counting)
    # A layout no other test asks for, so the cache holds nothing of it yet.
    layout = (GRADIENT, None, 4242, COLUMNS, False, False, True, ())
    loss = chart_views._curves_template("loss", layout[0], "loss", *layout[1:])
    accuracy = chart_views._curves_template("val_accuracy", layout[0], "accuracy", *layout[1:])
    assert len(built) == 1
    assert loss["layer"][1]["encoding"]["y"]["title"] == "loss"
    assert accuracy["layer"][1]["encoding"]["y"]["title"] == "val_accuracy"
    assert (loss["title"], accuracy["title"]) == ("loss", "accuracy")


def test_a_chart_without_a_title_is_titled_by_its_metric() -> None:
    layout = (None, 7, COLUMNS, False, False, True, ())
    template = chart_views._curves_template("val_loss", GRADIENT, "", *layout)
    assert template["title"] == "val_loss"


@pytest.mark.parametrize(
    "test",
    ["datum.pruned", chart_style.trial_selection(), alt.selection_point(name="s", empty=False)],
    ids=["expression", "selection", "selection-empty-false"],
)
def test_when_gives_the_spec_alt_condition_gives(test: Any) -> None:
    chart = alt.Chart().mark_line()
    expected = chart.encode(opacity=alt.condition(test, alt.value(1.0), alt.value(0.1)))
    typed = chart.encode(opacity=chart_style.when(test, 1.0, 0.1, alt.OpacityValue))
    assert typed.to_dict()["encoding"] == expected.to_dict()["encoding"]
