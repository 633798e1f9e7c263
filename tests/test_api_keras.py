"""A user's Keras build_model(hp) tuned through the Python API on scikit-learn's breast-cancer
data: real fits, live rows in the store, the best epoch's model, and the one-sentence refusals
of a model that cannot be trained as asked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

import tuning_core
from tests.conftest import run_cli, write_spec
from tuning_core.engine.states import StudyStatus, TrialState
from tuning_core.engine.storage import Store, artifacts_dir
from tuning_core.reports.export import saved_model_problem
from tuning_core.training.keras_runtime import import_keras

pytestmark = pytest.mark.keras


class _Keras:
    """Keras, loaded on first use: collecting the fast tier does not load TensorFlow."""

    def __getattr__(self, name: str):
        if name.startswith("_"):  # pytest's probes while collecting (__test__, _pytestfixture…)
            raise AttributeError(name)
        return getattr(import_keras(), name)


keras = _Keras()


@pytest.fixture(scope="module")
def cancer() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_breast_cancer(return_X_y=True)
    return ((x - x.mean(0)) / x.std(0)).astype("float32"), y


def build_model(hp) -> keras.Model:
    model = keras.Sequential(
        [
            keras.Input(shape=(30,)),
            keras.layers.Dense(hp["units"], activation="relu"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(hp["learning_rate"]),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


SPACE = {
    "learning_rate": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True},
    "units": {"type": "int", "low": 4, "high": 32},
}


@pytest.mark.subprocess
def test_a_user_keras_model_trains_through_the_api_with_live_rows(
    storage: Path, cancer, tmp_path: Path
) -> None:
    x, y = cancer
    study = tuning_core.create_study("cancer", storage=storage, space=SPACE, budget=2)
    study.optimize_keras(build_model, x, y, epochs=2, batch_size=64, show_progress=False)
    with Store(storage) as store:
        record = store.get_study("cancer")
        trials = store.trials(record.id)
        rows = store.epoch_metrics(record.id)
        in_epoch = store.batch_losses(record.id, 0)
    assert record.status == StudyStatus.FINISHED
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2
    # Every trial wrote every epoch's metrics (the Live page's curves) and in-epoch losses.
    names = {"loss", "accuracy", "val_loss", "val_accuracy"}
    for trial in trials:
        assert {(e, n) for t, e, n, _ in rows if t == trial.number} == {
            (e, n) for e in (0, 1) for n in names
        }
    assert len(in_epoch) >= 2
    best = max(trials, key=lambda t: t.value)
    assert study.best_value == best.value and 0.5 < best.value <= 1.0
    assert set(study.best_params) == {"learning_rate", "units"}
    assert record.spec.objective["form"] == "build_model"
    assert record.spec.objective["target"].endswith(":build_model")
    # The best trial's best epoch is kept, as for the built-in models.
    saved = artifacts_dir(storage, "cancer") / "best.keras"
    assert saved.is_file() and saved_model_problem(saved) is None
    assert keras.models.load_model(saved).output_shape == (None, 2)
    copied = tmp_path / "cancer.keras"
    exported = run_cli(
        "export", "cancer", "--format", "keras-model", "--output", str(copied), storage=storage
    )
    assert exported.returncode == 0, exported.stderr
    assert copied.read_bytes() == saved.read_bytes()


def _uncompiled(hp) -> keras.Model:
    return keras.Sequential([keras.Input(shape=(30,)), keras.layers.Dense(2)])


def _three_outputs(hp) -> keras.Model:
    model = keras.Sequential([keras.Input(shape=(30,)), keras.layers.Dense(3, "softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _no_accuracy(hp) -> keras.Model:
    model = keras.Sequential([keras.Input(shape=(30,)), keras.layers.Dense(2, "softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


@pytest.mark.parametrize(
    ("builder", "expected"),
    [
        (_uncompiled, "build_model returned a model that is not compiled; call model.compile("),
        (
            _three_outputs,
            "build_model's output layer has 3 unit(s), but y holds 2 classes; end the model with "
            'Dense(2, activation="softmax")',
        ),
        (lambda hp: None, "build_model returned None (NoneType), not a keras.Model"),
        (_no_accuracy, "the study's metric val_accuracy is not among the metrics fit reports"),
    ],
)
def test_a_model_that_cannot_be_trained_as_asked_is_one_sentence(
    storage: Path, cancer, builder, expected: str
) -> None:
    x, y = cancer
    study = tuning_core.create_study("bad-model", storage=storage, space=SPACE, budget=5)
    with pytest.raises(tuning_core.ObjectiveError) as raised:
        study.optimize_keras(builder, x[:100], y[:100], epochs=1, show_progress=False)
    message = str(raised.value)
    assert message.startswith(expected) and "\n" not in message
    with Store(storage) as store:
        record = store.get_study("bad-model")
        trials = store.trials(record.id)
    # One trial tried it; the study stopped instead of spending its budget.
    assert [t.state for t in trials] == [TrialState.FAILED] and record.status == "failed"


def _auc_model(hp) -> keras.Model:
    model = keras.Sequential(
        [keras.Input(shape=(30,)), keras.layers.Dense(1, activation="sigmoid")]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(hp["learning_rate"]),
        loss="binary_crossentropy",
        metrics=[keras.metrics.AUC(name="auc")],
    )
    return model


def test_any_compiled_metric_can_be_the_study_metric_and_prunes(storage: Path, cancer) -> None:
    x, y = cancer
    study = tuning_core.create_study(
        "auc",
        storage=storage,
        space={"learning_rate": {"type": "float", "low": 1e-5, "high": 1.0, "log": True}},
        metric="val_auc",
        direction="maximize",
        pruner={"type": "successive_halving", "min_epochs": 1, "reduction_factor": 2},
        budget=4,
    )
    study.optimize_keras(_auc_model, x, y, epochs=3, batch_size=64, show_progress=False)
    with Store(storage) as store:
        record = store.get_study("auc")
        trials = store.trials(record.id)
        rows = store.epoch_metrics(record.id)
    assert {name for *_, name, _ in rows} >= {"auc", "val_auc", "loss", "val_loss"}
    # A sigmoid unit fits 2 classes; successive halving cut some trials at its rungs.
    assert TrialState.PRUNED in {t.state for t in trials}
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    assert 0.5 < study.best_value <= 1.0


DIGITS_MODEL = """
import keras


def build_model(hp):
    model = keras.Sequential([
        keras.Input(shape=(8, 8)),
        keras.layers.Flatten(),
        keras.layers.Dense(hp["units"], activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(keras.optimizers.Adam(hp["learning_rate"]),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
"""


@pytest.mark.subprocess
def test_a_spec_file_runs_a_users_build_model_on_a_dataset_through_the_cli(
    tmp_path: Path,
) -> None:
    (tmp_path / "digits_model.py").write_text(DIGITS_MODEL)
    spec = {
        "name": "own-digits",
        "objective": {
            "type": "python",
            "form": "build_model",
            "target": "digits_model:build_model",
            "dataset": "digits",
            "train_limit": 300,
            "epochs": 2,
        },
        "space": SPACE,
        "strategy": {"type": "random"},
        "budget": {"trials": 2},
    }
    storage = tmp_path / "store.db"
    result = run_cli("run", str(write_spec(tmp_path, spec)), storage=storage)
    assert result.returncode == 0, result.stderr
    with Store(storage) as store:
        record = store.get_study("own-digits")
        trials = store.trials(record.id)
        rows = store.epoch_metrics(record.id)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2
    assert len({(n, e) for n, e, name, _ in rows if name == "val_accuracy"}) == 2 * 2
    assert 0.1 < max(t.value for t in trials) <= 1.0
    assert (artifacts_dir(storage, "own-digits") / "best.keras").is_file()

    spec["name"], spec["objective"] = "no-data", {**spec["objective"], "dataset": None}
    del spec["objective"]["dataset"], spec["objective"]["train_limit"]
    refused = run_cli("run", str(write_spec(tmp_path, spec)), storage=tmp_path / "other.db")
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: objective.dataset: a build_model objective in a spec")
    assert not (tmp_path / "other.db").exists()


def test_the_model_check_accepts_what_keras_accepts_and_names_what_it_cannot_take() -> None:
    from tuning_core.training.user_model import model_problem

    images = np.zeros((1, 8, 8), "float32")
    cnn = keras.Sequential(
        [
            keras.Input(shape=(8, 8, 1)),  # one rank more than the rows: Keras adds the axis
            keras.layers.Conv2D(2, 3),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    cnn.compile("adam", "sparse_categorical_crossentropy")
    assert model_problem(cnn, 10, images) is None
    wide = keras.Sequential([keras.Input(shape=(31,)), keras.layers.Dense(2, "softmax")])
    wide.compile("adam", "sparse_categorical_crossentropy")
    problem = model_problem(wide, 2, np.zeros((1, 30), "float32"))
    assert problem is not None and problem.startswith("build_model's model cannot take x's rows")
