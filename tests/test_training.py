"""Real Keras trials on small subsets: builders, live metrics, divergence, stops, export."""

from __future__ import annotations

import inspect
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import MNIST_DIR, ROOT, cli_env, digits_spec, run_cli, write_spec
from tuning_core.cli import main
from tuning_core.engine.spec import parse_spec
from tuning_core.engine.states import StudyStatus, TrialState
from tuning_core.engine.storage import Store
from tuning_core.engine.study import run_study

# Every test here trains Keras (slow tier anyway); several also run the CLI in a worker.
pytestmark = [pytest.mark.keras, pytest.mark.subprocess]


def _run_in_process(raw: dict, storage: Path):
    from tuning_core.training.keras_objective import KerasObjective

    spec = parse_spec(raw)
    with Store(storage) as store:
        outcome = run_study(spec, store, KerasObjective(spec), log=lambda _: None)
        return store.trials(outcome.study_id), store.epoch_metrics(outcome.study_id)


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_models_build_and_train_one_epoch(model: str, storage: Path) -> None:
    space = {"learning_rate": 0.05, "batch_size": 32}
    if model == "cnn":
        space.update(filters=8, dense_units=16, conv_blocks=2, pooling="avg")
    raw = digits_spec(space=space, trials=1, model=model, epochs=1, train_limit=400)
    trials, metrics = _run_in_process(raw, storage)
    assert trials[0].state == TrialState.COMPLETE
    assert 0.1 < trials[0].value <= 1.0
    assert sorted(name for _, epoch, name, _ in metrics if epoch == 0) == [
        "accuracy",
        "loss",
        "val_accuracy",
        "val_loss",
    ]


def test_mlp_learns_real_mnist(storage: Path) -> None:
    raw = digits_spec(
        space={"learning_rate": 0.1, "units": 64},
        trials=1,
        epochs=2,
        train_limit=2000,
        dataset=str(MNIST_DIR),
    )
    trials, _ = _run_in_process(raw, storage)
    assert trials[0].value > 0.8  # far above chance (0.1) after 2 short epochs


def test_divergence_is_detected_and_the_search_goes_on(storage: Path) -> None:
    raw = digits_spec(
        space={"learning_rate": {"type": "choice", "values": [1000.0, 0.1]}, "units": 32},
        trials=2,
        epochs=3,
    )
    raw["strategy"] = {"type": "grid"}
    trials, metrics = _run_in_process(raw, storage)
    diverged, fine = trials
    assert diverged.params["learning_rate"] == 1000.0 and diverged.state == TrialState.DIVERGED
    assert "diverged at epoch 0" in diverged.error and "exploded" in diverged.error
    assert fine.state == TrialState.COMPLETE and fine.value > 0.3
    assert not [m for m in metrics if m[0] == diverged.number and m[1] > 0]  # stopped at once
    # The in-epoch losses a trial holds back are written when it ends, diverged or not: the
    # chart draws a diverged run up to the loss that blew up, though it wrote no epoch row.
    with Store(storage) as store:
        study_id = store.get_study(raw["name"]).id
        exploded = store.batch_losses(study_id, diverged.number)
        assert exploded and (exploded[-1][1] is None or exploded[-1][1] > 40)
        assert store.batch_losses(study_id, fine.number)


def test_chance_accuracy_is_flagged(storage: Path) -> None:
    # The seed's classroom case: SGD at lr 5.0 neither NaNs nor explodes, it just ends at chance.
    raw = digits_spec(
        space={"learning_rate": {"type": "choice", "values": [5.0, 0.1]}, "units": 512},
        trials=2,
        epochs=3,
    )
    raw["strategy"] = {"type": "grid"}
    raw["objective"]["train_limit"] = None
    (too_large, fine), _ = _run_in_process(raw, storage)
    assert too_large.state == TrialState.COMPLETE
    assert too_large.note.startswith("ended at chance accuracy")
    assert fine.note is None and fine.value > 0.8


def test_same_seed_trains_the_same_weights(storage: Path, tmp_path: Path) -> None:
    raw = digits_spec(space={"learning_rate": 0.05, "units": 32}, trials=1, epochs=2)
    first, _ = _run_in_process(raw, storage)
    second, _ = _run_in_process(raw, tmp_path / "other.db")
    assert math.isclose(first[0].value, second[0].value, abs_tol=1e-6)


def test_epoch_rows_appear_live_and_a_stop_is_honoured_between_batches(
    storage: Path, tmp_path: Path
) -> None:
    raw = digits_spec(
        space={"learning_rate": 0.01, "units": 32, "batch_size": 8},
        trials=3,
        epochs=400,
        train_limit=None,
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "tuning_core", "run", str(write_spec(tmp_path, raw))],
        cwd=ROOT,
        env=cli_env(storage),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen_epochs: list[int] = []
    try:
        deadline = time.time() + 120
        while time.time() < deadline and len(set(seen_epochs)) < 3:
            time.sleep(0.2)
            if storage.exists():
                with Store(storage) as reader:  # a second connection, as the dashboard has
                    study = reader.get_study("digits")
                    if study:
                        rows = reader.epoch_metrics(study.id)
                        trials = reader.trials(study.id)
                        if rows:
                            assert (
                                trials[-1].state == TrialState.RUNNING
                            )  # rows arrive during the trial
                            seen_epochs.append(max(r[1] for r in rows))
                            batch_rows = reader.batch_losses(study.id, 0)
        assert len(set(seen_epochs)) >= 3, seen_epochs
        assert batch_rows and all(progress > 0 for progress, _ in batch_rows)
        requested = time.monotonic()
        assert run_cli("stop", "digits", storage=storage).returncode == 0
        out, err = worker.communicate(timeout=60)
        stopped_after = time.monotonic() - requested
    finally:
        worker.kill()
    assert worker.returncode == 0, err
    assert stopped_after < 15  # well inside one 400-epoch trial
    with Store(storage) as store:
        study = store.get_study("digits")
        trials = store.trials(study.id)
    assert study.status == StudyStatus.STOPPED
    assert [t.state for t in trials] == [TrialState.INTERRUPTED]
    assert trials[0].error == "stopped on request"


def test_exported_script_retrains_the_best_trial(storage: Path, tmp_path: Path) -> None:
    raw = digits_spec(
        space={
            "learning_rate": {"type": "float", "low": 0.05, "high": 0.2, "log": True},
            "units": 32,
        },
        trials=2,
        epochs=2,
    )
    ran = run_cli("run", str(write_spec(tmp_path, raw)), storage=storage)
    assert ran.returncode == 0 and ran.stderr == ""  # no TensorFlow start-up chatter
    script = tmp_path / "best.py"
    exported = run_cli(
        "export", "digits", "--format", "keras-script", "--output", str(script), storage=storage
    )
    assert exported.returncode == 0, exported.stderr
    source = script.read_text()
    assert "keras.optimizers.SGD(learning_rate=" in source and "reshape(len(x_train), -1)" in source
    assert "Run: python best.py " in source  # the name it was saved under
    # The model comes first; the log filtering (plumbing) after main(), not in the way.
    lines = source.splitlines()
    assert lines.index("def build_model(image_shape, num_classes):") < 40
    assert lines.index("def build_model(image_shape, num_classes):") < lines.index("def main():")
    assert lines.index("def main():") < lines.index("def import_keras() -> ModuleType:")
    # Standalone: its loader and split are copied from training/datasets/, not imported;
    # run from elsewhere with Tuning Lab not importable, it splits as the study did.
    assert "tuning_core" not in source
    from tuning_core.training import datasets

    for copied in (datasets.load_digits_arrays, datasets.stratified_split, datasets._as_images):
        assert inspect.getsource(copied) in source, copied.__name__
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {name: value for name, value in cli_env().items() if name != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, str(script), "--epochs", "2", "--save", str(tmp_path / "m.keras")],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=outside,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # the script starts as quietly as the CLI
    data = datasets.dataset_for(parse_spec(raw).objective, seed=parse_spec(raw).seed)
    first = " ".join(str(label) for label in data.y_val[:10])
    assert (
        f"{len(data.x_train)} training and {len(data.x_val)} validation images; the first "
        f"validation labels: {first}"
    ) in result.stdout.splitlines()
    accuracy = float(result.stdout.strip().splitlines()[-1].split("val_accuracy=")[1])
    with Store(storage) as store:
        study = store.get_study("digits")
        best = max(t.value for t in store.trials(study.id) if t.value is not None)
    assert accuracy == pytest.approx(best, abs=0.05)  # same data, model and optimizer as the engine
    assert (tmp_path / "m.keras").stat().st_size > 0
    model_out = tmp_path / "best.keras"
    assert (
        run_cli(
            "export",
            "digits",
            "--format",
            "keras-model",
            "--output",
            str(model_out),
            storage=storage,
        ).returncode
        == 0
    )
    assert model_out.stat().st_size > 0


def test_worker_recycles_its_process_and_keeps_going(storage: Path, tmp_path: Path) -> None:
    raw = digits_spec(trials=3, epochs=1)
    result = run_cli("run", str(write_spec(tmp_path, raw)), "--recycle-every", "2", storage=storage)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("recycling the worker") == 1
    with Store(storage) as store:
        trials = store.trials(store.get_study("digits").id)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3


def test_saved_best_model_is_the_best_epoch_not_the_last(storage: Path, tmp_path: Path) -> None:
    # SGD at 1.5 on 300 digits climbs unevenly: its best epoch is not its last one.
    raw = digits_spec(space={"learning_rate": 1.5, "units": 64}, trials=1, epochs=10)
    # Through the CLI's main() in this process (a worker would import TensorFlow again, ~7 s);
    # the export below is a real CLI process.
    spec_path = str(write_spec(tmp_path, raw))
    assert main(["--storage", str(storage), "run", spec_path, "--recycle-every", "0"]) == 0
    with Store(storage) as store:
        study = store.get_study("digits")
        (trial,) = store.trials(study.id)
        val_accuracy = [
            v for _, _, name, v in store.epoch_metrics(study.id) if name == "val_accuracy"
        ]
    assert val_accuracy[-1] < trial.value  # so the last epoch's model would score less
    model_file = tmp_path / "best.keras"
    exported = run_cli(
        "export", "digits", "--format", "keras-model", "--output", str(model_file), storage=storage
    )
    assert exported.returncode == 0, exported.stderr

    from tuning_core.training.datasets import dataset_for
    from tuning_core.training.keras_fit import keras
    from tuning_core.training.keras_objective import prepare_inputs

    data = dataset_for(parse_spec(raw).objective, seed=0)
    model = keras.saving.load_model(model_file)
    _, accuracy = model.evaluate(prepare_inputs("mlp", data.x_val), data.y_val, verbose=0)
    assert accuracy == pytest.approx(trial.value, abs=1e-6)
    assert not list(model_file.parent.glob("checkpoint-*.keras"))
    assert not list((storage.parent / f"{storage.name}.artifacts" / "digits").glob("checkpoint-*"))


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_build_model_reads_every_registry_entry(model: str) -> None:
    from tuning_core.engine import hyperparams
    from tuning_core.training.keras_objective import build_model

    class RecordingDict(dict):
        def __init__(self, *args: object) -> None:
            super().__init__(*args)
            self.read: set[str] = set()

        def __getitem__(self, key: str) -> object:
            self.read.add(key)
            return super().__getitem__(key)

        def get(self, key: str, default: object = None) -> object:
            self.read.add(key)
            return super().get(key, default)

    hp = RecordingDict(hyperparams.trial_hyperparams(model, 1, {}))
    build_model(model, hp, (8, 8), 10)
    # fit() takes batch_size and epochs; every other entry must shape the model or optimizer.
    assert set(hyperparams.names_for(model)) - {"batch_size", "epochs"} <= hp.read
