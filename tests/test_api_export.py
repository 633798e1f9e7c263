"""Exports of studies that tuned the user's own code never pretend it was a built-in model:
keras-script is refused in one sentence; params and script say what is true."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tuning_core
from tests.conftest import ROOT, cli_env, run_cli
from tuning_core.engine.spec import parse_spec
from tuning_core.engine.states import TrialState
from tuning_core.engine.storage import Store

pytestmark = pytest.mark.subprocess

SPACE = {"x": {"type": "float", "low": -3.0, "high": 3.0}, "scale": 2}


def objective(trial) -> float:
    """Importable as tests.test_api_export:objective, so the exported script can call it."""
    trial.report(0, {"value": 1.0})
    return trial.params["scale"] * (trial.params["x"] - 1) ** 2


def test_a_plain_objective_study_exports_params_and_a_script_that_calls_it(
    tmp_path: Path, storage: Path
) -> None:
    study = tuning_core.create_study("own", storage=storage, space=SPACE, budget=5)
    study.optimize(objective, show_progress=False)

    # The target is the function's module as this process imported it.
    target = f"{objective.__module__}:objective"
    refused = run_cli("export", "own", "--format", "keras-script", storage=storage)
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.strip() == (
        f"error: name: the study 'own' tuned your own objective {target}, not a built-in model, "
        f"so no Keras script is written for it; export --format script writes one that calls "
        f"{target} with the best params, and --format params the params as JSON."
    )

    params = run_cli("export", "own", "--format", "params", storage=storage)
    assert params.returncode == 0, params.stderr
    document = json.loads(params.stdout)
    assert document["params"] == study.best_params and document["value"] == study.best_value
    assert document["metric"] == "value"

    script = tmp_path / "own_best.py"
    written = run_cli(
        "export", "own", "--format", "script", "--output", str(script), storage=storage
    )
    assert written.returncode == 0, written.stderr
    text = script.read_text()
    assert f"from {objective.__module__} import objective" in text
    env = cli_env()  # where that module can be imported, as the script's docstring asks
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), str(ROOT)])
    ran = subprocess.run(
        [sys.executable, str(script)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines() == ["epoch 0: {'value': 1.0}", f"value: {study.best_value!r}"]


def test_a_build_model_study_gets_a_script_that_builds_the_users_model(storage: Path) -> None:
    spec = parse_spec(
        {
            "name": "keras-own",
            "objective": {
                "type": "python",
                "target": "my_models:build_model",
                "form": "build_model",
                "epochs": 5,
                "validation_split": 0.2,
            },
            "space": {"units": {"type": "int", "low": 4, "high": 64}},
            "strategy": {"type": "random"},
        }
    )
    with Store(storage) as store:  # a stored trial: what the export reads, no Keras needed
        study_id = store.create_study(spec)
        trial_id = store.start_trial(study_id, 0, {"units": 17})
        store.finish_trial(trial_id, TrialState.COMPLETE, 0.93)
    refused = run_cli("export", "keras-own", "--format", "keras-script", storage=storage)
    assert refused.returncode == 2
    assert "tuned your own build_model my_models:build_model, not a built-in" in refused.stderr
    script = run_cli("export", "keras-own", "--format", "script", storage=storage)
    assert script.returncode == 0, script.stderr
    assert "from my_models import build_model" in script.stdout
    assert "BEST_PARAMS = {'units': 17}" in script.stdout
    assert "model.fit(x, y, epochs=5, batch_size=32, validation_split=0.2)" in script.stdout
    compile(script.stdout, "keras-own_best.py", "exec")


def test_a_notebook_objective_is_said_to_be_unimportable(storage: Path) -> None:
    study = tuning_core.create_study("notebook", storage=storage, space=SPACE, budget=2)
    study.optimize(lambda trial: trial.params["x"] ** 2, show_progress=False)
    script = run_cli("export", "notebook", "--format", "script", storage=storage)
    assert script.returncode == 0, script.stderr
    assert ":test_a_notebook_objective_is_said_to_be_unimportable.<locals>.<lambda>" in (
        script.stdout
    )
    assert "so it cannot be imported: paste its definition here as objective" in script.stdout
    assert "BEST_PARAMS = {" in script.stdout and "print(\"value:\", objective(Trial()))" in (
        script.stdout
    )
