"""LR range test and gradient-descent playground."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import MNIST_DIR, digits_spec, run_cli, write_spec
from tuning_core.engine.spec import parse_spec
from tuning_core.training.lr_find import analyse, lr_schedule, smooth_losses
from tuning_core.views import playground


def test_schedule_and_smoothing() -> None:
    schedule = lr_schedule(1e-7, 10, 100)
    assert schedule[0] == pytest.approx(1e-7) and schedule[-1] == pytest.approx(10)
    assert np.allclose(np.diff(np.log(schedule)), np.log(1e8) / 99)
    assert smooth_losses([2.0, 2.0, 2.0]) == pytest.approx([2.0, 2.0, 2.0])  # bias-corrected


def test_analysis_cuts_at_divergence_and_suggests_inside_the_descent() -> None:
    lrs = list(lr_schedule(1e-7, 10, 100))
    # A synthetic curve: flat, then falling between 1e-4 and 1e-1, then exploding.
    losses = [
        2.3 - 2.0 / (1 + math.exp(-3 * (math.log10(lr) + 2.5)))
        if lr < 0.3
        else 2.3 * (lr / 0.3) ** 3
        for lr in lrs
    ]
    result = analyse(lrs, losses)
    assert "exceeded 4x" in result.stop_reason
    assert len(result.learning_rates) < 100
    assert max(result.smoothed) <= 4 * min(result.smoothed) * 1.000001 or result.smoothed[
        -1
    ] > 4 * min(result.smoothed)
    for suggestion in (result.valley, result.steep):
        assert 1e-5 < suggestion < 0.3
    assert result.minimum_div10 == pytest.approx(
        result.learning_rates[int(np.argmin(result.smoothed))] / 10
    )


@pytest.mark.subprocess
@pytest.mark.keras
def test_lr_find_on_digits_suggests_a_sensible_rate_and_stops_at_divergence(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        digits_spec(
            space={"learning_rate": {"type": "float", "low": 1e-4, "high": 1, "log": True}}
        ),
    )
    # A schedule that runs on to lr 1000, so that this small MLP surely diverges on the way.
    result = run_cli(
        "lr-find",
        str(spec),
        "--json",
        "--end",
        "1000",
        "--steps",
        "120",
        "--output",
        str(tmp_path / "lr.json"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no TensorFlow start-up chatter
    found = json.loads(result.stdout)
    assert set(found) >= {"valley", "steep", "minimum_div10", "curve"}
    assert json.loads((tmp_path / "lr.json").read_text()) == found
    assert 1e-3 <= found["valley"] <= 1.0
    curve = found["curve"]
    assert found["stop_reason"] != "reached the end of the schedule"
    assert (
        curve[-1]["learning_rate"] < 1000 and len(curve) < 120
    )  # stopped before the schedule's end
    assert curve[-1]["smoothed_loss"] > 2 * min(p["smoothed_loss"] for p in curve)


@pytest.mark.subprocess
@pytest.mark.keras
def test_valley_on_real_mnist_is_close_to_the_best_of_a_log_grid(
    tmp_path: Path, storage: Path
) -> None:
    """The valley suggestion, trained with SGD for 3 epochs, within 1.5 points of a 5-point grid's
    best.

    The grid's rates and the valley train in one study (one process, one TensorFlow import):
    every trial is seeded alike and differs only by its rate, so each trains as it would alone.
    """
    objective = {"dataset": str(MNIST_DIR), "epochs": 3, "train_limit": None}
    grid = digits_spec(
        name="grid",
        space={"learning_rate": {"type": "float", "low": 1e-4, "high": 1.0, "log": True}},
        trials=5,
        **objective,
    )
    grid["strategy"] = {"type": "grid", "levels": 5}
    found = run_cli("lr-find", str(write_spec(tmp_path, grid, "grid.json")), "--json")
    assert found.returncode == 0, found.stderr
    valley = json.loads(found.stdout)["valley"]
    grid_rates = parse_spec(grid).space.dimensions[0].grid(5)
    assert len(grid_rates) == 5 and valley not in grid_rates
    both = digits_spec(
        name="grid-and-valley",
        space={"learning_rate": {"type": "choice", "values": [*grid_rates, valley]}},
        trials=6,
        **objective,
    )
    both["strategy"] = {"type": "grid", "levels": 5}
    ran = run_cli("run", str(write_spec(tmp_path, both, "both.json")), storage=storage)
    assert ran.returncode == 0, ran.stderr
    exported = run_cli("export", "grid-and-valley", "--format", "json", storage=storage)
    value_at = {
        t["params"]["learning_rate"]: t["value"] for t in json.loads(exported.stdout)["trials"]
    }
    assert set(value_at) == {*grid_rates, valley}
    grid_best = max(value_at[rate] for rate in grid_rates if value_at[rate] is not None)
    valley_value = value_at[valley]
    print(f"valley lr={valley:.4g}: val_accuracy {valley_value:.4f}; grid best {grid_best:.4f}")
    assert valley_value >= grid_best - 0.015


@pytest.mark.parametrize("factor", [0.5, 0.9, 0.99])
def test_descent_converges_below_two_over_curvature(factor: float) -> None:
    function = playground.FUNCTIONS["quadratic"]
    limit = playground.stability_limit(function)
    assert limit == pytest.approx(2 / playground.QUADRATIC_CURVATURE)
    path = playground.gradient_descent(function, (4.0,), factor * limit, steps=2000)
    assert not path.diverged and abs(path.thetas[-1][0]) < 1e-3


@pytest.mark.parametrize("factor", [1.01, 1.2, 3.0])
def test_descent_diverges_above_two_over_curvature(factor: float) -> None:
    function = playground.FUNCTIONS["quadratic"]
    path = playground.gradient_descent(
        function, (4.0,), factor * playground.stability_limit(function), steps=2000
    )
    assert path.diverged and "Diverging" in playground.describe(path)


def test_bowl_limit_is_set_by_its_steepest_direction_and_presets_behave() -> None:
    bowl = playground.FUNCTIONS["bowl"]
    assert playground.stability_limit(bowl) == pytest.approx(0.2)
    assert not playground.gradient_descent(bowl, bowl.default_start, 0.19, 3000).diverged
    assert playground.gradient_descent(bowl, bowl.default_start, 0.21, 3000).diverged
    quadratic = playground.FUNCTIONS["quadratic"]
    described = {
        name: playground.describe(
            playground.gradient_descent(
                quadratic, quadratic.default_start, preset.learning_rate, 30
            )
        )
        for name, preset in playground.PRESETS.items()
    }
    assert described["too small"].startswith("Still descending")
    assert described["just right"] == "Converged to the minimum."
    assert described["oscillating"].startswith("Oscillating")
    assert described["diverging"].startswith("Diverging")
    rosenbrock = playground.FUNCTIONS["rosenbrock"]
    slow = playground.gradient_descent(
        rosenbrock, rosenbrock.default_start, 1e-3, 3000, momentum=0.9
    )
    assert slow.losses[-1] < slow.losses[0]
