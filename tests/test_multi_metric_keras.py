"""Studies of several metrics on Keras (issue 26): a two-metric digits study run through the
CLI (val_accuracy against train_seconds), every trial carrying both values and the measures,
``export --format json`` giving each trial its ``values``, ``export --trial N`` picking a
point of the front; and a user's build_model through the API recording the measures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import tuning_core
from tests.conftest import digits_spec, run_cli, write_spec
from tuning_core.cli import main

pytestmark = pytest.mark.keras

MEASURES = ("train_seconds", "parameters", "predict_ms")


@pytest.mark.subprocess
def test_a_two_metric_digits_study_through_the_cli(
    tmp_path: Path, storage: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = digits_spec(
        "trade-off",
        space={
            "units": {"type": "int", "low": 8, "high": 128, "log": True},
            "optimizer": "adam",
            "epochs": 2,
        },
        trials=4,
        metrics=[
            {"name": "val_accuracy", "direction": "maximize"},
            {"name": "train_seconds", "direction": "minimize"},
        ],
    )
    # The run goes through the CLI's main() in this process (a worker would import TensorFlow
    # again, ~7 s); what it stored is read back by real CLI processes below.
    spec_path = str(write_spec(tmp_path, spec))
    assert main(["--storage", str(storage), "run", spec_path, "--recycle-every", "0"]) == 0
    printed = capsys.readouterr().out
    assert "val_accuracy=" in printed and "train_seconds=" in printed
    assert "front (" in printed

    exported = run_cli("export", "trade-off", "--format", "json", storage=storage)
    assert exported.returncode == 0, exported.stderr
    trials = json.loads(exported.stdout)["trials"]
    assert len(trials) == 4, printed
    assert all(t["state"] == "complete" for t in trials)
    for trial in trials:
        values = trial["values"]
        assert {"val_accuracy", "train_seconds", *MEASURES} <= set(values)
        # The value is the first metric's, read at the trial's best epoch.
        assert trial["value"] == values["val_accuracy"]
        assert values["val_accuracy"] == max(e["val_accuracy"] for e in trial["metrics"])
        assert 0 < values["train_seconds"] < trial["duration_s"]
        assert values["predict_ms"] > 0
        units = trial["params"]["units"]
        assert values["parameters"] == 64 * units + units + units * 10 + 10  # the MLP's weights

    listed = run_cli("list", storage=storage).stdout
    assert "with train_seconds: front of" in listed
    front_line = next(line for line in printed.splitlines() if line.startswith("front ("))
    front = [
        int(line.split("trial ")[1].split(":")[0])
        for line in printed.splitlines()
        if line.startswith(("   trial ", " * trial "))
    ]
    assert front and front_line
    chosen = front[-1]
    params = run_cli(
        "export", "trade-off", "--format", "params", "--trial", str(chosen), storage=storage
    )
    assert params.returncode == 0, params.stderr
    assert json.loads(params.stdout)["trial"] == chosen
    refused = run_cli("export", "trade-off", "--format", "json", "--trial", "0", storage=storage)
    assert refused.returncode == 2 and "--trial: the json export holds every trial" in (
        refused.stderr + refused.stdout
    )


def build_model(hp):
    import keras

    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(int(hp["units"]), activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_a_user_build_model_records_the_measures(storage: Path) -> None:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)[:400]
    y = y[:400]
    study = tuning_core.create_study(
        "own-model",
        storage=storage,
        space={"units": [4, 64]},
        strategy="grid",
        metrics=["val_accuracy", "parameters"],
    )
    study.optimize_keras(build_model, x, y, epochs=2, show_progress=False)
    frame = study.trials_dataframe()
    assert [v["parameters"] for v in frame["values"]] == [
        64 * u + u + u * 10 + 10 for u in frame["units"]
    ]
    assert all(v["predict_ms"] > 0 and v["train_seconds"] > 0 for v in frame["values"])
    smallest = frame.loc[frame["units"].idxmin(), "number"]
    assert smallest in {t["number"] for t in study.best_trials}  # no trial has fewer weights
