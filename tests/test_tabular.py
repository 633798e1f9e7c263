"""Tables as datasets (issue 22): CSV and 2-D .npz files, the task inferred, the preparation
fitted on the training split and stored, the built-in MLP with the task's head, export that
reproduces the score, and every bad input refused in one sentence with nothing stored.

The data is real, shipped with scikit-learn (breast cancer, diabetes, iris), written to CSV
or .npz inside each test.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris

from tests.conftest import cli_env, run_cli, write_spec
from tuning_core.cli import main
from tuning_core.engine.errors import DatasetError, SpecError
from tuning_core.engine.spec import parse_spec
from tuning_core.engine.storage import Store
from tuning_core.engine.tasks import chance_note, infer_task, metric_sentence
from tuning_core.training import datasets, tables


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    lines = [",".join(header)] + [",".join(str(value) for value in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def breast_cancer_csv(path: Path) -> Path:
    """569 rows, 30 numeric features, the diagnosis as text (212 malignant, 357 benign)."""
    data = load_breast_cancer()
    names = ["malignant", "benign"]
    header = [name.replace(" ", "_") for name in data.feature_names] + ["diagnosis"]
    rows = [
        [*map(repr, map(float, x)), names[y]] for x, y in zip(data.data, data.target, strict=True)
    ]
    return _write_csv(path, header, rows)


def diabetes_csv(path: Path) -> Path:
    """442 rows: 9 numeric features, sex as text (F/M), the disease progression to predict."""
    data = load_diabetes(scaled=False)
    header = [*data.feature_names, "progression"]
    header[1] = "sex"
    rows = []
    for x, y in zip(data.data, data.target, strict=True):
        row: list[Any] = [repr(float(v)) for v in x]
        row[1] = "F" if x[1] == 1 else "M"
        rows.append([*row, repr(float(y))])
    return _write_csv(path, header, rows)


def table_spec(dataset: Path | str, name: str = "table", trials: int = 2, **objective: Any) -> dict:
    return {
        "name": name,
        "objective": {"type": "keras", "dataset": str(dataset), "epochs": 3, **objective},
        "space": {
            "learning_rate": {"type": "float", "low": 0.003, "high": 0.03, "log": True},
            "optimizer": "adam",
            "units": 32,
        },
        "strategy": {"type": "random", "seed": 0},
        "budget": {"trials": trials},
    }


def _stored(storage: Path, name: str) -> tuple[Any, list[Any]]:
    with Store(storage) as store:
        study = store.get_study(name)
        return study, store.trials(study.id)


def cli_in_this_process(command: str, spec: Path, storage: Path) -> int:
    """``run`` or ``race`` SPEC through the CLI's own main(), in this process: the training and
    what it stores are the CLI's, without a worker that imports TensorFlow again (~7 s); the
    classification and regression tests below keep a real worker. Never recycled: a recycle
    would exec this process."""
    return main(["--storage", str(storage), command, str(spec), "--recycle-every", "0"])


def _export_and_rerun(storage: Path, tmp_path: Path, name: str) -> str:
    script = tmp_path / f"{name}_best.py"
    exported = run_cli(
        "export", name, "--format", "keras-script", "--output", str(script), storage=storage
    )
    assert exported.returncode == 0, exported.stderr
    # Standalone: reading, preparing and splitting are copied from training/tables/, so it
    # runs from elsewhere with Tuning Lab not importable, and splits as the study did.
    assert "tuning_core" not in script.read_text()
    outside = tmp_path / "elsewhere"
    outside.mkdir(exist_ok=True)
    env = {key: value for key, value in cli_env().items() if key != "PYTHONPATH"}
    ran = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=outside,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stderr == ""  # as quiet as the CLI
    study, _ = _stored(storage, name)
    data = tables.prepare_objective_table(study.spec.objective, study.spec.seed)
    tests = 0 if data.x_test is None else len(data.x_test)
    first = " ".join(str(value) for value in data.y_val[:10].tolist())
    assert (
        f"{len(data.x_train)} training, {len(data.x_val)} validation and {tests} test rows; "
        f"the first validation targets: {first}"
    ) in ran.stdout.splitlines()
    return ran.stdout


# Through the CLI, to completion ---------------------------------------------------------


@pytest.mark.subprocess
@pytest.mark.keras
def test_a_classification_csv_trains_and_its_export_reproduces_the_score(
    storage: Path, tmp_path: Path
) -> None:
    csv_path = breast_cancer_csv(tmp_path / "cancer.csv")
    spec = table_spec(csv_path, "cancer", target="diagnosis", test_split=0.2)
    ran = run_cli("run", str(write_spec(tmp_path, spec)), storage=storage)
    assert ran.returncode == 0, ran.stderr
    study, trials = _stored(storage, "cancer")
    objective = study.spec.objective
    assert objective["task"] == "classification" and objective["metric"] == "val_accuracy"
    preparation = objective["preparation"]
    assert preparation["classes"] == ["benign", "malignant"]
    assert preparation["summary"] == (
        "binary classification of 'diagnosis' (inferred); standardised 30 numeric columns "
        "(mean and deviation of the training split); stratified 60/20/20 split (341 training, "
        "114 validation, 114 test rows, seed 0); the test rows score only the best trial, at "
        "the end"
    )
    # Fitted on the training split only: its mean is that split's, not the whole table's.
    radius = load_breast_cancer().data[:, 0]
    assert preparation["columns"][0]["mean"] != pytest.approx(radius.mean(), rel=1e-6)
    assert [t.state.value for t in trials] == ["complete", "complete"]
    assert all(t.value > 0.9 for t in trials)  # far above the majority rate, 0.63
    assert preparation["baseline"]["val_accuracy"] == pytest.approx(357 / 569, abs=0.01)
    assert "test split: the best trial" in ran.stdout and "test_accuracy" in ran.stdout
    kept = json.loads((Path(f"{storage}.artifacts") / "cancer" / "test_score.json").read_text())
    assert kept["rows"] == 114 and 0.8 < kept["test_accuracy"] <= 1
    best = max(t.value for t in trials)
    printed = _export_and_rerun(storage, tmp_path, "cancer")
    line = next(x for x in printed.splitlines() if x.startswith("best val_accuracy="))
    assert float(line.split("=")[1].split()[0]) == pytest.approx(best, abs=0.01)


@pytest.mark.subprocess
@pytest.mark.keras
def test_a_regression_csv_with_a_text_column_trains_and_exports(
    storage: Path, tmp_path: Path
) -> None:
    csv_path = diabetes_csv(tmp_path / "diabetes.csv")
    spec = table_spec(csv_path, "diabetes", target="progression", epochs=5)
    spec["space"]["learning_rate"] = 0.1
    ran = run_cli("run", str(write_spec(tmp_path, spec)), storage=storage)
    assert ran.returncode == 0, ran.stderr
    study, trials = _stored(storage, "diabetes")
    objective = study.spec.objective
    assert (objective["task"], objective["metric"], objective["direction"]) == (
        "regression",
        "val_mae",
        "minimize",
    )
    summary = objective["preparation"]["summary"]
    assert summary.startswith(
        "regression of 'progression' (inferred; trained on the standardised target, scored in "
        "its units)"
    )
    assert (
        "standardised 9 numeric columns" in summary
        and "one-hot 1 categorical column → 2" in summary
    )
    assert "shuffled 80/20 split (353 training, 89 validation rows, seed 0)" in summary
    assert objective["preparation"]["features"] == 11
    assert all(t.state.value == "complete" for t in trials)
    baseline = objective["preparation"]["baseline"]["val_mae"]
    assert min(t.value for t in trials) < baseline  # learned more than the training mean
    printed = _export_and_rerun(storage, tmp_path, "diabetes")
    line = next(x for x in printed.splitlines() if x.startswith("best val_mae="))
    assert float(line.split("=")[1].split()[0]) == pytest.approx(
        min(t.value for t in trials), rel=0.01
    )


@pytest.mark.keras
def test_a_race_over_a_csv_stores_each_studys_preparation(storage: Path, tmp_path: Path) -> None:
    raw = table_spec(breast_cancer_csv(tmp_path / "cancer.csv"), name="cancer", target="diagnosis")
    raw.update(seeds=1, strategies=[{"type": "random"}, {"type": "bayesian"}])
    raw["objective"]["epochs"] = 2
    del raw["strategy"]
    assert cli_in_this_process("race", write_spec(tmp_path, raw), storage) == 0
    for name in ("cancer.random.s0", "cancer.gp-ei.s0"):
        study, trials = _stored(storage, name)
        preparation = study.spec.objective.table.preparation
        # Each study's spec holds its fitted preparation, so Live shows it and export repeats it.
        assert "standardised 30 numeric columns" in preparation["summary"]
        assert study.spec.metric == "val_accuracy" and len(trials) == 2
        assert all(trial.value is not None and trial.value > 0.5 for trial in trials)


@pytest.mark.keras
def test_a_flat_npz_with_a_square_feature_count_is_a_table_never_reshaped(
    storage: Path, tmp_path: Path
) -> None:
    # Iris has 4 features (2x2) over 1.0: they used to be reshaped to 2x2 and divided by 255.
    iris = load_iris()
    np.savez(tmp_path / "iris.npz", x_train=iris.data, y_train=iris.target)
    spec = table_spec(tmp_path / "iris.npz", "iris", trials=1)
    assert cli_in_this_process("run", write_spec(tmp_path, spec), storage) == 0
    study, trials = _stored(storage, "iris")
    preparation = study.spec.objective["preparation"]
    assert preparation["features"] == 4 and preparation["classes"] == [0, 1, 2]
    assert preparation["summary"].startswith(
        "3-class classification of 'y' (inferred); standardised 4 numeric columns"
    )
    assert trials[0].state.value == "complete"
    with pytest.raises(DatasetError, match="a table rather than images"):
        datasets._as_images(iris.data)


# Bad input: one sentence naming the column or field, exit 2, nothing stored -----------------


def _bad(tmp_path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    return _write_csv(tmp_path / "bad.csv", header, rows)


def _latin1(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("latin-1"))
    return path


def _rows(n: int, **columns: Any) -> list[list[Any]]:
    return [[columns[name](i) for name in columns] for i in range(n)]


BAD_CASES: dict[str, tuple[Any, dict[str, Any], str]] = {
    "missing target": (
        lambda p: _bad(p, ["a", "b"], _rows(20, a=lambda i: i, b=lambda i: i % 2)),
        {"target": "label"},
        "objective.target: 'label' is not a column of",
    ),
    "one class": (
        lambda p: _bad(p, ["a", "y"], _rows(20, a=lambda i: i, y=lambda i: "yes")),
        {"target": "y"},
        "objective.target: column 'y' holds one class ('yes') in every row",
    ),
    "one example of a class": (
        lambda p: _bad(
            p, ["a", "y"], _rows(20, a=lambda i: i, y=lambda i: "rare" if i == 0 else f"c{i % 2}")
        ),
        {"target": "y"},
        "objective.target: class 'rare' of column 'y' has one example; a stratified split needs",
    ),
    "mixed types": (
        lambda p: _bad(
            p, ["a", "y"], _rows(20, a=lambda i: "x" if i == 3 else i, y=lambda i: i % 2)
        ),
        {"target": "y"},
        "column 'a' mixes numbers and text",
    ),
    "not utf-8": (
        lambda p: _latin1(p / "bad.csv", "a,y\ncafé,1\nthé,0\n"),
        {"target": "y"},
        "is not UTF-8 text (byte 0xe9 on line 2)",
    ),
    "header only": (
        lambda p: _bad(p, ["a", "y"], []),
        {"target": "y"},
        "has a header but no rows of data",
    ),
    "missing values": (
        lambda p: _bad(
            p, ["a", "y"], _rows(20, a=lambda i: "" if i == 4 else i, y=lambda i: i % 2)
        ),
        {"target": "y"},
        "column 'a' has 1 missing value (first in data row 5)",
    ),
    "near-unique text": (
        lambda p: _bad(
            p,
            ["name", "a", "y"],
            _rows(20, name=lambda i: f"n{i}", a=lambda i: i, y=lambda i: i % 2),
        ),
        {"target": "y"},
        "column 'name' is text with a different value in nearly every row (20 of 20)",
    ),
    "constant column": (
        lambda p: _bad(
            p, ["a", "b", "y"], _rows(20, a=lambda i: i, b=lambda i: 7, y=lambda i: i % 2)
        ),
        {"target": "y"},
        "column 'b' holds one value (7) in every row",
    ),
    "regression metric on classes": (
        lambda p: _bad(p, ["a", "y"], _rows(20, a=lambda i: i, y=lambda i: i % 2)),
        {"target": "y", "metric": "val_mae"},
        "objective.metric val_mae measures a regression, but this is a classification task",
    ),
    "classification metric on numbers": (
        lambda p: _bad(p, ["a", "y"], _rows(20, a=lambda i: i, y=lambda i: i * 0.37)),
        {"target": "y", "metric": "val_accuracy"},
        "objective.metric val_accuracy measures a classification, but this is a regression task",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_tables_are_refused_in_one_sentence_with_nothing_stored(
    case: str, storage: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through the CLI's main() in this process: eleven refusals, eleven process starts
    saved; the test below checks one in a real process, where import-time noise would show."""
    make, objective, expected = BAD_CASES[case]
    spec = write_spec(tmp_path, table_spec(make(tmp_path), **objective))
    assert main(["--storage", str(storage), "run", str(spec)]) == 2
    printed = capsys.readouterr()
    assert expected in printed.err
    assert printed.err.count("\n") == 1 and printed.err.startswith("error: ")
    assert printed.out == ""
    assert not storage.exists()  # no study left behind


@pytest.mark.subprocess
def test_a_bad_table_is_one_line_on_stderr_from_a_real_cli_process(
    storage: Path, tmp_path: Path
) -> None:
    make, objective, expected = BAD_CASES["missing values"]
    ran = run_cli(
        "run", str(write_spec(tmp_path, table_spec(make(tmp_path), **objective))), storage=storage
    )
    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert expected in ran.stderr
    assert ran.stderr.count("\n") == 1 and ran.stderr.startswith("error: ")
    assert ran.stdout == ""
    assert not storage.exists()


@pytest.mark.subprocess
def test_a_csv_over_the_memory_limit_is_refused_before_it_is_read(
    storage: Path, tmp_path: Path
) -> None:
    csv_path = breast_cancer_csv(tmp_path / "cancer.csv")  # ~120 kB, ~17,000 cells
    spec = write_spec(tmp_path, table_spec(csv_path, target="diagnosis"))
    ran = run_cli("run", str(spec), "--memory-limit", "0.001", storage=storage)
    assert ran.returncode == 2
    assert (
        "objective.dataset:" in ran.stderr and "over the 1.0 MB this process may use" in ran.stderr
    )
    assert not storage.exists()


def test_a_metric_that_does_not_fit_a_given_task_is_refused_by_the_spec() -> None:
    raw = table_spec("data.csv", target="y", task="regression", metric="val_auc")
    with pytest.raises(SpecError, match="val_auc measures a classification"):
        parse_spec(raw)
    with pytest.raises(SpecError, match="objective.model cnn needs images"):
        parse_spec(table_spec("data.csv", target="y", model="cnn"))
    assert parse_spec(table_spec("data.csv", target="y", task="regression")).metric == "val_mae"


# The preparation, pure -------------------------------------------------------------------


def test_the_task_is_inferred_from_the_target() -> None:
    assert infer_task("bool", 2) == infer_task("text", 40) == "classification"
    assert infer_task("integer", 50) == "classification"
    assert infer_task("integer", 51) == infer_task("float", 3) == "regression"


def test_preparation_is_fitted_on_the_training_split_and_repeats_exactly(tmp_path: Path) -> None:
    rows = _rows(
        60,
        size=lambda i: i + 0.5,
        colour=lambda i: ["red", "green", "blue"][i % 3],
        ok=lambda i: "true" if i % 4 else "false",
        y=lambda i: "a" if i % 3 else "b",
    )
    table = tables.read_csv(_bad(tmp_path, ["size", "colour", "ok", "y"], rows))
    assert [c.kind for c in table.columns] == ["float", "text", "bool", "text"]
    preparation = tables.fit_preparation(table, "y", seed=3)
    prepared = tables.apply_preparation(table, preparation)
    assert prepared.x_train.shape == (48, 1 + 3 + 2) and prepared.x_val.shape == (12, 6)
    assert prepared.x_train[:, 0].mean() == pytest.approx(0, abs=1e-6)
    assert prepared.x_train[:, 0].std() == pytest.approx(1, abs=1e-5)
    assert abs(prepared.x_val[:, 0].mean()) > 1e-6  # the validation rows were not fitted on
    assert np.all(prepared.x_train[:, 1:4].sum(axis=1) == 1)  # one-hot
    assert "one-hot 2 categorical columns → 5" in preparation["summary"]
    # JSON round trip: the stored parameters make the same arrays.
    again = tables.apply_preparation(table, json.loads(json.dumps(preparation)))
    assert np.array_equal(again.x_val, prepared.x_val) and np.array_equal(
        again.y_val, prepared.y_val
    )


def test_imputation_is_asked_for_and_said(tmp_path: Path) -> None:
    rows = _rows(30, a=lambda i: "" if i in (2, 9) else float(i), y=lambda i: i % 2)
    table = tables.read_csv(_bad(tmp_path, ["a", "y"], rows))
    with pytest.raises(DatasetError, match="set objective.impute to true"):
        tables.fit_preparation(table, "y")
    preparation = tables.fit_preparation(table, "y", impute=True)
    assert "imputed 2 missing values in 1 column" in preparation["summary"]
    assert not np.isnan(tables.apply_preparation(table, preparation).x_train).any()


def test_a_category_unseen_in_training_is_all_zeros(tmp_path: Path) -> None:
    table = tables.read_csv(
        _bad(tmp_path, ["c", "y"], _rows(40, c=lambda i: ["p", "q"][i % 2], y=lambda i: i % 2))
    )
    preparation = tables.fit_preparation(table, "y")
    preparation["columns"][0]["categories"] = ["p"]  # as if q had never been in training
    prepared = tables.apply_preparation(table, preparation)
    assert set(prepared.x_train[:, 0].tolist()) == {0.0, 1.0}


def test_images_are_scaled_only_when_8_bit() -> None:
    eight_bit = np.full((2, 3, 3), 255, dtype=np.uint8)
    assert datasets._as_images(eight_bit).max() == 1.0
    wide = np.full((2, 3, 3), 300.0)
    assert datasets._as_images(wide).max() == 300.0  # used as stored, never divided silently


def test_the_chance_note_uses_the_majority_class_and_the_mean() -> None:
    # The case: 67.5% on data whose majority class is 62.7% is near chance, not 50%.
    note = chance_note("classification", {"val_accuracy": 0.64}, {"val_accuracy": 0.627})
    assert note == (
        "ended at chance accuracy (64.0% validation accuracy; always predicting the most "
        "common class scores 62.7%)"
    )
    assert chance_note("classification", {"val_accuracy": 0.9}, {"val_accuracy": 0.627}) is None
    assert chance_note("regression", {"val_mae": 60.0}, {"val_mae": 59.2}).startswith(
        "ended at chance (validation mean absolute error 60; predicting the training mean"
    )
    assert chance_note("regression", {"val_mae": 40.0}, {"val_mae": 59.2}) is None


def test_metrics_are_labelled_in_words() -> None:
    assert (
        metric_sentence("val_mae", "minimize") == "validation mean absolute error, lower is better"
    )
    assert metric_sentence("val_auc", "maximize") == (
        "validation area under the ROC curve, higher is better"
    )


def test_live_and_compare_say_what_the_data_went_through() -> None:
    from tuning_core.views.live import curve_panels, data_sentence

    digits = parse_spec(table_spec("digits", target=None) | {"space": {"units": 32}})
    assert data_sentence(digits) == (
        "Data: 8x8 images scaled from 0-16 to 0-1 (scikit-learn's digits); stratified 80/20 "
        "split, seed 0. Tuning for validation accuracy, higher is better."
    )
    preparation = {
        "task": "regression",
        "summary": "regression of 'y' (inferred; the target is not scaled); shuffled 80/20 split",
        "columns": [],
        "split": {},
        "classes": [],
    }
    table = parse_spec(table_spec("t.csv", target="y", preparation=preparation))
    assert data_sentence(table) == (
        f"Data: {preparation['summary']}. Tuning for validation mean absolute error, lower is "
        "better."
    )
    panels = curve_panels(table, {"loss", "val_mae"})
    assert [panel.title for panel in panels] == ["training loss", "validation mean absolute error"]


# New study's "Your data (CSV)" --------------------------------------------------------------


def test_the_upload_preview_shows_rows_task_balance_and_refused_columns(tmp_path: Path) -> None:
    from tuning_core.views import table_form

    rows = _rows(
        30,
        name=lambda i: f"person {i}",
        age=lambda i: 20.5 + i,
        city=lambda i: ["Oslo", "Lima"][i % 2],
        bought=lambda i: "yes" if i % 3 else "no",
    )
    table = tables.read_csv(_bad(tmp_path, ["name", "age", "city", "bought"], rows))
    info = table_form.preview(table, "bought")
    assert len(info.head) == 5 and list(info.head.columns) == ["name", "age", "city", "bought"]
    assert info.task_text.startswith("binary classification (inferred: text values, 2 distinct")
    assert info.target_values.to_dict("list") == {"class": ["yes", "no"], "count": [20, 10]}
    assert list(info.refused) == ["name"] and "nearly every row" in info.refused["name"]
    assert info.problem is not None and "'name'" in info.problem and info.summary is None
    chart = table_form.target_chart(info).to_dict()
    assert chart["mark"]["type"] == "bar" and chart["encoding"]["y"]["field"] == "class"
    regression = table_form.preview(table, "age")
    assert regression.task_text.startswith("regression (inferred: float values, 30 distinct")
    histogram = table_form.target_chart(regression).to_dict()
    assert histogram["encoding"]["x"]["bin"] == {"maxbins": 30}
    assert table_form.upload_problem("big.csv", 25_000_000) == (
        "Your data (CSV): 'big.csv' is 25.0 MB, over the 20.0 MB an upload may be; run it with "
        "python -m tuning_core run, which reads larger files."
    )


def test_the_form_reads_tables_only_from_uploads_or_the_project(tmp_path: Path) -> None:
    from tuning_core.views import table_form

    outside = breast_cancer_csv(tmp_path / "cancer.csv")
    spec = parse_spec(table_spec(outside, target="diagnosis"))
    problem = table_form.table_problem(spec, str(tmp_path / "other.db"))
    assert problem is not None and "cannot be read here" in problem  # says nothing of its content
    storage = str(tmp_path / "store.db")
    saved = table_form.save_upload(outside.read_bytes(), "my cancer.csv", storage)
    assert saved.parent == table_form.uploads_dir(storage).resolve()
    assert saved.name.startswith("my-cancer-") and saved.suffix == ".csv"
    assert (
        table_form.table_problem(parse_spec(table_spec(saved, target="diagnosis")), storage) is None
    )
    wrong = parse_spec(table_spec(saved, target="nope"))
    assert "objective.target: 'nope' is not a column" in table_form.table_problem(wrong, storage)


def test_new_study_page_builds_a_table_spec_from_the_saved_upload(
    storage: Path, tmp_path: Path
) -> None:
    from streamlit.testing.v1 import AppTest

    from tuning_core.views import table_form

    saved = table_form.save_upload(
        breast_cancer_csv(tmp_path / "c.csv").read_bytes(), "c.csv", str(storage)
    )
    at = AppTest.from_file(str(Path(__file__).parents[1] / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/new_study.py").run()
    at.session_state["uploaded_table"] = str(saved)  # what the uploader leaves behind
    at.selectbox(key="dataset").set_value("csv").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="table_target").value == "diagnosis"
    shown = [re.sub(r"\\(.)", r"\1", m.value) for m in at.markdown]
    assert "**Task:** binary classification (inferred: text values, 2 distinct" in " ".join(shown)
    spec = at.session_state["form_spec"]
    assert spec["objective"]["dataset"] == str(saved)
    assert spec["objective"]["target"] == "diagnosis"
    assert not at.button(key="start").disabled, [e.value for e in at.error]


@pytest.mark.subprocess
def test_a_table_model_too_large_is_refused_before_anything_is_stored(
    storage: Path, tmp_path: Path
) -> None:
    csv_path = breast_cancer_csv(tmp_path / "cancer.csv")
    spec = table_spec(csv_path, target="diagnosis")
    spec["space"] = {"units": 65536, "hidden_layers": 8}
    ran = run_cli("run", str(write_spec(tmp_path, spec)), "--memory-limit", "1", storage=storage)
    assert ran.returncode == 2
    assert ran.stderr.startswith("error: space.") and "over the 1.0 GB limit" in ran.stderr
    assert not storage.exists()


@pytest.mark.keras
def test_a_pruner_stops_regression_trials_on_their_error(storage: Path, tmp_path: Path) -> None:
    csv_path = diabetes_csv(tmp_path / "diabetes.csv")
    spec = table_spec(csv_path, "pruned-table", trials=4, target="progression", epochs=3)
    spec["space"]["learning_rate"] = {"type": "float", "low": 0.001, "high": 0.3, "log": True}
    spec["pruner"] = {"type": "successive_halving"}
    assert cli_in_this_process("run", write_spec(tmp_path, spec), storage) == 0
    _, trials = _stored(storage, "pruned-table")
    pruned = [t for t in trials if t.state.value == "pruned"]
    assert pruned, [(t.state.value, t.value) for t in trials]
    # Lower is better for an error: the cut-off a pruned trial missed is below its value.
    assert all("val_mae" in t.note and "worse than" in t.note for t in pruned)
