"""The classroom lesson's pure pieces: worker-log errors, exact learning rates, fresh comparison
names, the range test's clipped axis and explained suggestions, playground presets and verdicts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import digits_spec
from tuning_core.engine.spec import parse_spec
from tuning_core.engine.states import TrialState
from tuning_core.engine.storage import Store, TrialRecord
from tuning_core.engine.study.progress import _progress_line
from tuning_core.views import forms, lab, lab_charts, live, playground

ONEDNN_NOTICE = (
    "2026-11-28 04:00:00.000000: I tensorflow/core/util/port.cc:153] oneDNN custom operations "
    "are on. You may see slightly different numerical results due to floating-point round-off "
    "errors from different computation orders. To turn them off, set the environment variable "
    "`TF_ENABLE_ONEDNN_OPTS=0`."
)


def test_a_worker_log_shows_only_its_last_real_error() -> None:
    assert live.last_error_line(ONEDNN_NOTICE + "\ntrial 0 complete 0.91\n") is None
    log = "\n".join(
        [
            ONEDNN_NOTICE,
            "Traceback (most recent call last):",
            '  File "x.py", line 1, in <module>',
            "ValueError: objective.dataset: the folder '/nope' does not exist.",
            ONEDNN_NOTICE,
        ]
    )
    assert live.last_error_line(log) == (
        "ValueError: objective.dataset: the folder '/nope' does not exist."
    )
    assert live.last_error_line("error: name: a study called 'x' already exists.") == (
        "error: name: a study called 'x' already exists."
    )


def test_epochs_in_messages_are_counted_from_one() -> None:
    assert live.epochs_from_one("diverged at epoch 0: the loss exploded to 353") == (
        "diverged at epoch 1: the loss exploded to 353"
    )


def test_the_clis_line_for_a_diverged_trial_counts_epochs_as_the_pages_do() -> None:
    """The store says epoch 0; the CLI's line, like Live's table and the lab's notes, says 1
    (it printed "diverged at epoch 0" beside pages that said "epoch 1")."""
    spec = parse_spec(digits_spec(trials=3))
    diverged = TrialRecord(
        id=1, number=0, params={"learning_rate": 60.0}, state=TrialState.DIVERGED, value=None,
        error="diverged at epoch 0: the loss exploded to 3.71e+06", note=None, retry_of=None,
        started_at=0.0, finished_at=1.0,
    )  # fmt: skip
    line = _progress_line(spec, diverged, None, 1)
    assert line.endswith("error: diverged at epoch 1: the loss exploded to 3.71e+06"), line
    assert line.startswith("trial 0 [1/3] diverged: "), line


def test_exact_learning_rates_are_typed_or_picked() -> None:
    assert lab.parse_learning_rates(["0.001", "0.1", "10"]) == ([0.001, 0.1, 10.0], None)
    assert lab.parse_learning_rates("0.0003, 1e-3, 0.0003") == ([0.0003, 0.001], None)
    rates, problem = lab.parse_learning_rates(["0.1", "abc"])
    assert rates == [] and problem.startswith("Learning rates: 'abc' is not a number")
    assert lab.parse_learning_rates(["0.1"])[1].startswith("Learning rates: pick at least two")
    assert "out of range" in lab.parse_learning_rates(["0.1", "-1"])[1]
    assert lab.rates_query([0.001, 0.1, 10.0]) == "0.001,0.1,10"
    # One notation on the ladder: no "5e+0" beside "0.001".
    ladder = lab.rate_ladder(extra=["0.0003"])
    assert "0.0003" in ladder and "5" in ladder and not any("e" in rate for rate in ladder)
    assert [float(rate) for rate in ladder] == sorted(float(rate) for rate in ladder)


def test_a_new_comparison_never_reuses_a_name_held_by_other_rates(storage: Path) -> None:
    first = forms.learning_rate_comparison_spec(
        "lr-digits-mlp-sgd", "digits", "mlp", "sgd", [0.001, 0.1, 10.0], 2, 32, 200
    )
    with Store(storage) as store:
        store.create_study(parse_spec(first))
        existing = {study.name: study.spec for study in store.studies()}
    assert lab.comparison_name(first, existing) == "lr-digits-mlp-sgd"  # the same: shown again
    other = dict(first, space=dict(first["space"]))
    other["space"]["learning_rate"] = {"type": "choice", "values": [0.01, 0.0003]}
    assert lab.comparison_name(other, existing) == "lr-digits-mlp-sgd-2"


def test_the_range_test_axis_shows_the_dip_not_the_blow_up() -> None:
    rates = np.geomspace(1e-7, 10, 100)
    smoothed = np.concatenate([np.linspace(2.38, 2.20, 80), np.linspace(2.3, 30.0, 20)])
    curve = pd.DataFrame({"learning_rate": rates, "loss": smoothed, "smoothed_loss": smoothed})
    low, high = lab_charts.lr_range_domain(curve)
    assert 2.1 < low < 2.2 and 2.38 < high < 2.5
    suggestions = lab.explain_suggestions(
        {"valley": 1e-3, "steep": 1e-2, "minimum_div10": 3e-4, "stop_reason": "x"}
    )
    assert [s.key for s in suggestions][0] == lab.RECOMMENDED
    assert all(s.explanation.endswith(".") and len(s.explanation) < 120 for s in suggestions)
    spec = lab_charts.lr_range_chart(
        curve, {s.title: s.learning_rate for s in suggestions}
    ).to_dict()
    line, dots = spec["layer"]
    assert line["encoding"]["y"]["scale"]["domain"] == [low, high]
    assert line["mark"]["clip"] is True
    points = pd.DataFrame(spec["datasets"][dots["data"]["name"]])
    assert points["suggestion"].tolist() == [
        "valley (recommended)",
        "steepest fall",
        "minimum ÷ 10",
    ]
    # Each dot sits on the curve.
    assert points["smoothed_loss"].between(2.2, 2.38).all()


@pytest.mark.parametrize("function_name", list(playground.PRESETS_BY_FUNCTION))
def test_every_function_has_presets_that_teach_their_lesson(function_name: str) -> None:
    function = playground.FUNCTIONS[function_name]
    verdicts = {}
    for name in playground.PRESET_NAMES:
        preset = playground.preset_for(function_name, name)
        path = playground.gradient_descent(
            function, function.default_start, preset.learning_rate, preset.steps
        )
        verdicts[name] = (path.diverged, playground.describe(path))
    assert verdicts["diverging"][0] and verdicts["diverging"][1].startswith("Diverging")
    assert not any(verdicts[name][0] for name in ("too small", "just right", "oscillating"))
    assert verdicts["too small"][1].startswith("Still descending")
    assert verdicts["oscillating"][1].startswith("Oscillating")


def test_a_huge_fall_is_called_converged_not_still_descending() -> None:
    quadratic = playground.FUNCTIONS["quadratic"]
    path = playground.gradient_descent(quadratic, (4.0,), 0.1, 30)
    assert 3e5 < path.losses[0] / path.losses[-1] < 1e6  # what the old verdict missed
    assert playground.describe(path).startswith("Converged to the minimum")


def test_a_diverging_path_is_clipped_to_the_surface_window() -> None:
    rosenbrock = playground.FUNCTIONS["rosenbrock"]
    path = playground.gradient_descent(rosenbrock, rosenbrock.default_start, 0.007, 300)
    spec = lab_charts.descent_contour_chart(
        playground.surface_frame(rosenbrock), playground.path_frame(path)
    ).to_dict()
    background, trail = spec["layer"]
    assert trail["mark"]["clip"] is True
    assert trail["encoding"]["x"]["scale"]["domain"] == [-2.0, 2.0]
