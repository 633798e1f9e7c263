"""An API study with parallel 2 runs its plain objective on two real local Dask workers: the
function is shipped to them by value (a lambda here), reports and pruning reach the store, and
the repeated-failure rule stops a parallel study as it does a sequential one."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

import tuning_core
from tests.conftest import run_cli, write_spec
from tuning_core.engine.states import StudyStatus, TrialState
from tuning_core.engine.storage import Store, artifacts_dir

SPACE = {"x": {"type": "float", "low": -3.0, "high": 3.0}}


@pytest.mark.dask
def test_an_api_study_runs_on_two_local_dask_workers(storage: Path) -> None:
    def objective(trial) -> float:  # nested: not importable, so Dask ships it by value
        for epoch in range(3):
            time.sleep(0.1)  # long enough for both workers to take trials
            trial.report(epoch, (trial.params["x"] - 1) ** 2 + 2 - epoch)
            if trial.should_prune():
                raise tuning_core.TrialPruned()
        return (trial.params["x"] - 1) ** 2

    study = tuning_core.create_study(
        "on-dask",
        storage=storage,
        space=SPACE,
        pruner={"type": "median", "warmup_trials": 2},
        budget=8,
        parallel=2,
    )
    study.optimize(objective, epochs=3, show_progress=False)
    with Store(storage) as store:
        record = store.get_study("on-dask")
        trials = store.trials(record.id)
        workers = store.trial_workers(record.id)
        rows = store.epoch_metrics(record.id)
    assert record.status == StudyStatus.FINISHED and len(trials) == 8
    assert {t.state for t in trials} <= {TrialState.COMPLETE, TrialState.PRUNED}
    assert TrialState.PRUNED in {t.state for t in trials}
    assert len({worker.worker for worker in workers.values()}) == 2
    assert {n for n, *_ in rows} == set(range(8))  # every trial's reports reached the store
    assert study.best_value == min(t.value for t in trials if t.state == TrialState.COMPLETE)


@pytest.mark.dask
def test_a_parallel_study_whose_every_trial_fails_stops_early(storage: Path) -> None:
    study = tuning_core.create_study(
        "dask-words", storage=storage, space=SPACE, budget=40, parallel=2
    )
    with pytest.raises(tuning_core.ObjectiveError) as raised:
        study.optimize(lambda trial: "0.5", show_progress=False)
    assert str(raised.value).startswith(
        "every trial fails: TypeError: the objective returned '0.5' (str); it must return a number"
    )
    with Store(storage) as store:
        record = store.get_study("dask-words")
        trials = store.trials(record.id)
    assert record.status == StudyStatus.FAILED and record.message == str(raised.value)
    # The driver reads the stop flag every half second, so instant trials run on a little past
    # the third; never the whole budget of 40.
    assert 3 <= len(trials) < 40


@pytest.mark.dask
@pytest.mark.keras
def test_optimize_keras_runs_build_model_on_two_local_dask_workers(storage: Path) -> None:
    x, y = load_breast_cancer(return_X_y=True)
    x = ((x - x.mean(0)) / x.std(0)).astype("float32")

    def build_model(hp):  # nested: shipped to the workers by value
        import keras

        model = keras.Sequential(
            [
                keras.Input(shape=(30,)),
                keras.layers.Dense(int(hp["units"]), activation="relu"),
                keras.layers.Dense(2, activation="softmax"),
            ]
        )
        model.compile(
            optimizer=keras.optimizers.Adam(float(hp["learning_rate"])),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    space = {"learning_rate": (1e-3, 0.1, "log"), "units": (4, 16)}
    study = tuning_core.create_study(
        "keras-on-dask", storage=storage, space=space, budget=4, parallel=2
    )
    study.optimize_keras(build_model, x, y, epochs=2, show_progress=False)
    with Store(storage) as store:
        record = store.get_study("keras-on-dask")
        trials = store.trials(record.id)
        workers = store.trial_workers(record.id)
        rows = store.epoch_metrics(record.id)
    assert record.status == StudyStatus.FINISHED
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4
    assert len({worker.worker for worker in workers.values()}) == 2
    # Every trial's epochs reached the store from its worker, and its value is its best one.
    for trial in trials:
        accuracy = [v for n, _, name, v in rows if n == trial.number and name == "val_accuracy"]
        assert len(accuracy) == 2 and trial.value == max(accuracy)
    # The arrays went to the workers as one file beside the store, not with every task.
    (data_file,) = artifacts_dir(storage, "keras-on-dask").glob("data-*.npz")
    assert np.array_equal(np.load(data_file)["x"], x)


@pytest.mark.dask
@pytest.mark.keras
def test_a_model_that_cannot_train_on_dask_is_one_sentence_not_a_worker_fault(
    storage: Path,
) -> None:
    def build_model(hp):  # returns the model uncompiled
        import keras

        return keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(2)])

    x, y = np.zeros((20, 2), "float32"), np.arange(20) % 2
    study = tuning_core.create_study(
        "uncompiled", storage=storage, space={"units": (2, 4)}, budget=4, parallel=2
    )
    with pytest.raises(tuning_core.ObjectiveError, match="^build_model returned a model that is"):
        study.optimize_keras(build_model, x, y, epochs=2, show_progress=False)
    with Store(storage) as store:
        record = store.get_study("uncompiled")
        trials = store.trials(record.id)
    assert record.status == StudyStatus.FAILED and "not compiled" in record.message
    assert TrialState.FAILED in {t.state for t in trials}


@pytest.mark.dask
@pytest.mark.subprocess
def test_a_python_target_spec_runs_on_two_dask_workers_that_import_it(tmp_path: Path) -> None:
    # The workers import my_objectives by its target: LocalCluster's worker processes start
    # with the driver's import path, which `run` extended with the spec file's folder.
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "my_objectives.py").write_text(
        "import os, time\n\n\n"
        "def objective(trial):\n"
        "    time.sleep(0.2)\n"
        "    trial.report(0, {'pid': os.getpid()})\n"
        "    return (trial.params['x'] - 1) ** 2\n"
    )
    spec = {
        "name": "target-on-dask",
        "objective": {"type": "python", "target": "my_objectives:objective"},
        "space": SPACE,
        "strategy": {"type": "random"},
        "budget": {"trials": 6},
        "parallel": 2,
    }
    storage = tmp_path / "store.db"
    result = run_cli("run", str(write_spec(folder, spec)), storage=storage)
    assert result.returncode == 0, result.stderr
    with Store(storage) as store:
        record = store.get_study("target-on-dask")
        trials = store.trials(record.id)
        pids = {value for *_, name, value in store.epoch_metrics(record.id) if name == "pid"}
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 6
    assert len(pids) == 2  # two worker processes ran the imported function


@pytest.mark.dask
@pytest.mark.subprocess
def test_a_python_target_spec_failing_alike_on_dask_stops_in_one_sentence(tmp_path: Path) -> None:
    # The CLI's Dask driver applies the sequential rule: the same error in each of the first 3
    # trials stops the study (exit 2, one sentence), whatever is still in flight interrupted.
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "broken_objective.py").write_text(
        "import time\n\n\n"
        "def objective(trial):\n"
        "    time.sleep(0.3)\n"
        "    raise KeyError('age')\n"
    )
    spec = {
        "name": "broken-on-dask",
        "objective": {"type": "python", "target": "broken_objective:objective"},
        "space": SPACE,
        "strategy": {"type": "random"},
        "budget": {"trials": 40},
        "parallel": 2,
    }
    storage = tmp_path / "store.db"
    started = time.monotonic()
    result = run_cli("run", str(write_spec(folder, spec)), storage=storage)
    assert result.returncode == 2, result.stdout + result.stderr
    sentence = (
        "every trial fails: KeyError: 'age' (the first 3 trials all failed this way, so the study "
        "stopped before spending its budget; fix the objective and run it again to resume)."
    )
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert errors[-1].endswith(sentence), result.stderr
    assert time.monotonic() - started < 60
    with Store(storage) as store:
        record = store.get_study("broken-on-dask")
        trials = store.trials(record.id)
    assert record.status == StudyStatus.FAILED and record.message == sentence
    states = [t.state for t in trials]
    assert states.count(TrialState.FAILED) == 3 and len(trials) <= 4  # not the budget of 40
    assert set(states) <= {TrialState.FAILED, TrialState.INTERRUPTED}  # none left running
