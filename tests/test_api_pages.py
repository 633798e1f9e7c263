"""A study made through the Python API opens on the dashboard's pages (AppTest against the real
store): the Live page draws the curves the objective reported, pruning included."""

from __future__ import annotations

from pathlib import Path

import pytest

import tuning_core
from tests.test_api import SPACE, curve_objective
from tests.test_pages import charts_on, open_page


@pytest.mark.slow  # a Bayesian study and three pages, 5-15 s; test_pages opens each page fast
def test_an_api_study_shows_on_live_compare_and_why(storage: Path) -> None:
    study = tuning_core.create_study(
        "api-made",
        storage=storage,
        space=SPACE,
        strategy={"type": "bayesian", "initial_points": 3},
        pruner="successive_halving",
        budget=8,
    )
    study.optimize(curve_objective, epochs=5, show_progress=False)

    live = open_page("pages/live.py", study="api-made")
    assert live.get("progress")[0].proto.text.startswith("8 of 8 trials")
    assert any("recorded across 8 trials" in c.value for c in live.caption)
    charts = {
        next(
            layer["encoding"]["y"]["title"]
            for layer in spec["layer"]
            if "encoding" in layer and layer["encoding"].get("y", {}).get("title")
        ): data
        for spec, data in charts_on(live)
    }
    assert set(charts) == {"loss", "value"}  # the metrics trial.report wrote
    value = charts["value"]
    assert set(value.loc[value["kind"] == "curve", "number"]) == set(range(8))
    assert (value["kind"] == "pruned").any()  # the pruned trials' scissors

    open_page("pages/compare.py", study="api-made")  # opens without an exception
    why = open_page("pages/why.py", study="api-made")
    assert charts_on(why)  # the surrogate of a Bayesian API study is explained
