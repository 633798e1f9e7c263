"""What the Live page's rerun reuses keeps each call's own rows: the running-losses chart built
once per set of running trials, and curves merged with only the trials they draw."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tuning_core.engine.states import TrialState
from tuning_core.reports import frames
from tuning_core.views import curve_charts, live_charts


def _losses(numbers: list[int], points: int) -> pd.DataFrame:
    rows = [
        (n, f"trial {n}", (p + 1) / 4, 1.0 / (n + p + 1)) for n in numbers for p in range(points)
    ]
    return pd.DataFrame(rows, columns=frames.RUNNING_LOSS_COLUMNS)


def _rows(spec: dict) -> list[dict]:
    return spec["datasets"][spec["data"]["name"]]


def test_each_running_losses_chart_carries_its_own_rows_and_trials() -> None:
    first = live_charts.running_losses_chart(_losses([3, 5], 2), "2 running trials")
    later = live_charts.running_losses_chart(_losses([3, 5], 6), "2 running trials")
    other = live_charts.running_losses_chart(_losses([7], 1), "running trial")
    # The first chart, drawn again after the others were built, still holds only its rows.
    first_spec, later_spec, other_spec = (c.to_dict() for c in (first, later, other))
    assert len(_rows(first_spec)) == 4 and len(_rows(later_spec)) == 12
    assert {row["number"] for row in _rows(other_spec)} == {7}
    domains = [spec["layer"][0]["encoding"]["color"]["scale"]["domain"] for spec in
               (first_spec, later_spec, other_spec)]  # fmt: skip
    assert domains == [["trial 3", "trial 5"], ["trial 3", "trial 5"], ["trial 7"]]
    assert other_spec["title"] == "running trial"
    # Everything but the rows is the same for the same running trials and titles.
    assert {**first_spec, "datasets": None, "data": None} == {
        **later_spec,
        "datasets": None,
        "data": None,
    }


def test_curves_carry_the_params_of_their_own_trials_only() -> None:
    trials = pd.DataFrame(
        {
            "number": np.arange(1000),
            "state": TrialState.COMPLETE.value,
            "value": np.linspace(0, 1, 1000),
            "duration_s": 1.0,
            "note": "",
            "error": "",
            "units": np.arange(1000) * 2,
        }
    )
    rows = [(n, e, "loss", 1.0 / (e + 1)) for n in (4, 900) for e in range(3)]
    curves = frames.curves_frame(rows, trials)
    assert len(curves) == 6
    assert curves.groupby("number")["units"].first().to_dict() == {4: 8, 900: 1800}
    assert list(curves.columns) == [
        "number", "epoch", "metric", "value", "within_epoch", "state", "note", "units",
    ]  # fmt: skip
    # A trial with rows but no trial row (deleted since) keeps its rows, without params.
    lone = frames.curves_frame([(5000, 0, "loss", 1.0)], trials)
    assert len(lone) == 1 and pd.isna(lone["units"].iloc[0])


def test_a_sample_of_many_lines_names_only_the_best_and_the_running() -> None:
    numbers = list(range(40))
    trials = pd.DataFrame(
        {
            "number": numbers,
            "state": [
                TrialState.RUNNING.value if n == 39 else TrialState.COMPLETE.value for n in numbers
            ],  # fmt: skip
            "value": [float(n) for n in numbers],
            "duration_s": 1.0,
            "note": "",
            "error": "",
        }
    )
    rows = [(n, e, "loss", 1.0 / (n + e + 1)) for n in numbers for e in range(5)]
    data = curve_charts.curves_data(frames.curves_frame(rows, trials), "loss", None, best_number=2)
    ends = data[data["kind"] == "end"]
    assert sorted(ends["number"]) == [2, 39]
    assert set(ends["epoch"]) == {5.0}
    assert set(ends["label"]) == {"trial 2", "trial 39"}
