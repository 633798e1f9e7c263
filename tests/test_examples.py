"""The scripts in examples/ run as written, in a fresh process, with the store and Keras' home in
a temporary folder, and leave a study the dashboard can read."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, cli_env, run_cli
from tuning_core.engine.states import StudyStatus, TrialState
from tuning_core.engine.storage import Store, artifacts_dir

pytestmark = pytest.mark.subprocess


def run_example(name: str, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    storage = tmp_path / "tuning_lab.db"
    env = cli_env(storage)
    env["KERAS_HOME"] = str(tmp_path / "keras")
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / name)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result, storage


@pytest.mark.keras
def test_own_model_api_example_tunes_a_keras_model_into_the_store(tmp_path: Path) -> None:
    result, storage = run_example("own_model_api.py", tmp_path)
    with Store(storage) as store:
        record = store.get_study("breast-cancer")
        trials = store.trials(record.id)
        rows = store.epoch_metrics(record.id)
    assert record.status == StudyStatus.FINISHED and len(trials) == 8
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert len({(n, e) for n, e, name, _ in rows if name == "val_accuracy"}) == 8 * 5
    assert max(t.value for t in trials) > 0.9  # breast cancer is easy: a sanity floor
    assert (artifacts_dir(storage, "breast-cancer") / "best.keras").is_file()
    assert "study breast-cancer: finished" in result.stdout


def test_plain_objective_example_prunes_sgd_trials(tmp_path: Path) -> None:
    result, storage = run_example("plain_objective.py", tmp_path)
    with Store(storage) as store:
        record = store.get_study("sgd-breast-cancer")
        trials = store.trials(record.id)
        rows = store.epoch_metrics(record.id)
    states = [t.state for t in trials]
    assert len(trials) == 30 and record.spec.pruner["type"] == "successive_halving"
    assert states.count(TrialState.PRUNED) >= 10 and TrialState.COMPLETE in states
    # One row an epoch: pruned trials stopped early, complete ones reported all 20 epochs.
    epochs = {t.number: len({e for n, e, _, _ in rows if n == t.number}) for t in trials}
    assert all(epochs[t.number] == 20 for t in trials if t.state == TrialState.COMPLETE)
    assert all(epochs[t.number] < 20 for t in trials if t.state == TrialState.PRUNED)
    assert "best: {'loss'" in result.stdout


def test_plain_objective_spec_runs_the_same_function_through_the_cli(tmp_path: Path) -> None:
    storage = tmp_path / "tuning_lab.db"
    result = run_cli("run", str(ROOT / "examples" / "plain_objective.json"), storage=storage)
    assert result.returncode == 0, result.stderr
    with Store(storage) as store:
        record = store.get_study("sgd-breast-cancer-cli")
        trials = store.trials(record.id)
    assert record.spec.objective["target"] == "plain_objective:objective"
    assert len(trials) == 20 and TrialState.PRUNED in {t.state for t in trials}
