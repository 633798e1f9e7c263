"""Tables through the Python API: a DataFrame and a target column, or x and y arrays, tuned
by the built-in MLP for tables with the same reader and preparation as ``run``; real fits on
scikit-learn's bundled iris and diabetes data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_iris

import tuning_core
from tuning_core.engine.errors import SpecError
from tuning_core.engine.states import TrialState
from tuning_core.engine.storage import Store, artifacts_dir

pytestmark = pytest.mark.keras


def _iris_frame():
    frame = load_iris(as_frame=True).frame
    names = load_iris().target_names
    # A text target, as a real table has: classes by name, not by index.
    frame["species"] = [str(names[index]) for index in frame.pop("target")]
    return frame


def _stored(storage: Path, name: str):
    with Store(storage) as store:
        study = store.get_study(name)
        return study, store.trials(study.id) if study else []


def test_a_dataframe_and_its_target_column_are_tuned_and_resumed(tmp_path: Path) -> None:
    storage = tmp_path / "api.db"
    frame = _iris_frame()
    space = {"learning_rate": (0.01, 0.3, "log"), "units": (8, 32), "optimizer": "adam"}
    study = tuning_core.create_study("iris", storage=storage, space=space, budget=2)
    study.optimize_table(frame, target="species", epochs=3, show_progress=False)

    record, trials = _stored(storage, "iris")
    objective = record.spec.objective
    assert objective.metric == "val_accuracy" and objective.table.task == "classification"
    summary = objective.table.preparation["summary"]
    assert "standardised 4 numeric columns" in summary and "stratified 80/20 split" in summary
    assert [trial.state for trial in trials] == [TrialState.COMPLETE] * 2
    assert study.best_value == max(trial.value for trial in trials)
    assert set(study.best_params) == {"learning_rate", "units", "optimizer"}
    # The data is a file beside the store that the spec names, read again on resume.
    data_file = Path(objective.dataset)
    assert data_file.parent == artifacts_dir(storage, "iris") and data_file.suffix == ".csv"
    assert (artifacts_dir(storage, "iris") / "best.keras").is_file()

    study.optimize_table(frame, target="species", epochs=3, n_trials=1, show_progress=False)
    _, trials = _stored(storage, "iris")
    assert len(trials) == 3
    assert sorted(artifacts_dir(storage, "iris").glob("data-*")) == [data_file]

    # Other data is another file: the stored study's file is never overwritten.
    before = data_file.read_bytes()
    changed = frame.assign(**{"sepal length (cm)": frame["sepal length (cm)"] * 2})
    with pytest.raises(SpecError, match="iris"):
        study.optimize_table(changed, target="species", epochs=3, show_progress=False)
    assert data_file.read_bytes() == before
    assert len(_stored(storage, "iris")[1]) == 3


def test_x_and_y_arrays_of_numbers_are_a_regression(tmp_path: Path) -> None:
    storage = tmp_path / "api.db"
    x, y = load_diabetes(return_X_y=True)
    # Plain SGD on targets in the hundreds: the net learns the standardised target, so this
    # trains (on the raw target every rate tried diverged in the first epoch).
    space = {"learning_rate": 0.05, "optimizer": "sgd", "units": 32}
    study = tuning_core.create_study("diabetes", storage=storage, space=space, budget=1)
    study.optimize_table(x, y, epochs=5, show_progress=False)

    record, (trial,) = _stored(storage, "diabetes")
    objective = record.spec.objective
    assert objective.table.task == "regression" and objective.metric == "val_mae"
    assert record.spec.direction.value == "minimize"
    assert trial.state == TrialState.COMPLETE
    # Scored in the target's units, and better than predicting the training mean.
    assert trial.value < objective.table.preparation["baseline"]["val_mae"]
    assert objective.table.preparation["summary"].startswith("regression of 'y'")
    assert Path(objective.dataset).suffix == ".npz"


@pytest.mark.parametrize(
    ("data", "target", "words"),
    [
        ("frame", "colour", "target must name one of the DataFrame's columns"),
        ("arrays", "y", "target: a column name needs a pandas DataFrame"),
        ("flat", None, "2-D"),
        ("constant", "species", "'constant'"),
    ],
)
def test_bad_tables_are_one_sentence_and_store_nothing(
    tmp_path: Path, data: str, target: str | None, words: str
) -> None:
    storage = tmp_path / "api.db"
    frame = _iris_frame()
    given = {
        "frame": frame,
        "arrays": frame.drop(columns="species").to_numpy(),
        "flat": np.arange(10.0),
        "constant": frame.assign(constant=1.0),
    }[data]
    target_value = np.zeros(10) if target is None else target
    study = tuning_core.create_study("bad", storage=storage, space={"units": 8}, budget=1)
    with pytest.raises(SpecError) as raised:
        study.optimize_table(given, target_value, epochs=2, show_progress=False)
    message = str(raised.value)
    assert words in message and "\n" not in message
    assert _stored(storage, "bad")[0] is None if storage.exists() else True
    assert not list(artifacts_dir(storage, "bad").glob("data-*"))  # no file left behind


def test_a_relative_store_resumes_from_another_folder_and_scores_the_test_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = _iris_frame()
    space = {"learning_rate": 0.05, "units": 16, "optimizer": "adam"}
    monkeypatch.chdir(tmp_path)
    study = tuning_core.create_study("iris", storage="api.db", space=space, budget=1)
    study.optimize_table(frame, target="species", epochs=2, test_split=0.2, show_progress=False)
    # The best trial is scored once on the held-out rows, beside its model.
    scored = json.loads((artifacts_dir("api.db", "iris") / "test_score.json").read_text())
    assert scored["trial"] == 0 and scored["rows"] == 30 and 0 <= scored["test_accuracy"] <= 1
    # The spec names the data by its absolute path: the same store opened from elsewhere
    # resumes with the same data rather than calling it changed.
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    again = tuning_core.create_study("iris", storage=tmp_path / "api.db", space=space, budget=2)
    again.optimize_table(frame, target="species", epochs=2, test_split=0.2, show_progress=False)
    assert len(_stored(tmp_path / "api.db", "iris")[1]) == 2


def test_a_wide_net_with_a_large_weight_penalty_is_not_called_diverged(tmp_path: Path) -> None:
    # 3 x 1024 units at l2 = 0.01: Keras' logged loss starts at ~21 from the penalty alone,
    # above 20x the loss of predicting the mean; that is not divergence.
    x, y = load_diabetes(return_X_y=True)
    space = {"units": 1024, "hidden_layers": 3, "l2": 0.01, "learning_rate": 1e-3}
    study = tuning_core.create_study(
        "wide", storage=tmp_path / "api.db", space={**space, "optimizer": "adam"}, budget=1
    )
    study.optimize_table(x, y, epochs=1, show_progress=False)
    (trial,) = _stored(tmp_path / "api.db", "wide")[1]
    assert trial.state == TrialState.COMPLETE, trial.error
