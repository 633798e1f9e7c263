"""The public Python API (tuning_core.create_study / load_study) and user objectives: plain
functions in process and ``module:function`` targets in spec files, with real stores and
real CLI subprocesses."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tuning_core
from tests.conftest import ROOT, cli_env, run_cli, write_spec
from tuning_core.engine.errors import SpecError
from tuning_core.engine.spec import parse_spec
from tuning_core.engine.states import StudyStatus, TrialState
from tuning_core.engine.storage import Store
from tuning_core.engine.study import STOP_POLL_SECONDS

SPACE = {"x": {"type": "float", "low": -5.0, "high": 5.0}}


def curve_objective(trial: tuning_core.Trial) -> float:
    """A "training" whose epoch e is (x - 2)^2 + (4 - e): good x stay good at every epoch."""
    x = trial.params["x"]
    value = math.inf
    for epoch in range(5):
        value = (x - 2) ** 2 + (4 - epoch)
        trial.report(epoch, {"value": value, "loss": value / 2})
        if trial.should_prune():
            raise tuning_core.TrialPruned()
    return value


def stored(storage: Path, name: str):
    with Store(storage) as store:
        record = store.get_study(name)
        return record, store.trials(record.id), store.epoch_metrics(record.id)


def test_a_plain_objective_is_pruned_by_the_study_pruner_and_resumes(storage: Path) -> None:
    study = tuning_core.create_study(
        "quad", storage=storage, space=SPACE, pruner="successive_halving", budget=8
    )
    study.optimize(curve_objective, epochs=5, show_progress=False)
    record, trials, metrics = stored(storage, "quad")
    states = [t.state for t in trials]
    assert len(trials) == 8 and record.status == StudyStatus.FINISHED
    assert TrialState.PRUNED in states and TrialState.COMPLETE in states
    pruned = next(t for t in trials if t.state == TrialState.PRUNED)
    assert pruned.note.startswith("pruned at epoch") and pruned.value is not None
    # Every reported epoch is a row the Live page draws; a pruned trial stops writing them.
    epochs_of = {t.number: {e for n, e, name, _ in metrics if n == t.number} for t in trials}
    assert {"value", "loss"} <= {name for *_, name, _ in metrics}
    assert len(epochs_of[pruned.number]) < 5
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert all(len(epochs_of[t.number]) == 5 for t in complete)
    best = min(complete, key=lambda t: t.value)
    assert study.best_params == {"x": best.params["x"]} and type(study.best_params) is dict
    assert study.best_value == best.value
    frame = study.trials_dataframe()
    assert list(frame["number"]) == list(range(8)) and "x" in frame.columns

    # The same call again resumes: the budget is spent, so nothing more runs.
    study.optimize(curve_objective, epochs=5, show_progress=False)
    assert len(stored(storage, "quad")[1]) == 8
    # n_trials runs that many more, on a handle loaded from the store.
    again = tuning_core.load_study("quad", storage=storage)
    again.optimize(curve_objective, n_trials=2, show_progress=False)
    _, trials, _ = stored(storage, "quad")
    assert len(trials) == 10 and again.best_value <= study.best_value


def test_a_memory_study_runs_resumes_and_reads_in_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    study = tuning_core.create_study(
        "quad", storage=":memory:", space=SPACE, pruner="successive_halving", budget=8
    )
    assert study.status is None
    study.optimize(curve_objective, epochs=5, show_progress=False)
    frame = study.trials_dataframe()
    assert study.status == StudyStatus.FINISHED and list(frame["number"]) == list(range(8))
    assert "pruned" in set(frame["state"]) and study.best_value == frame["value"].min()
    assert study.best_params == {"x": frame.loc[frame["value"].idxmin(), "x"]}
    # The handle keeps its store: a second call resumes it, as a file's would.
    study.optimize(curve_objective, epochs=5, n_trials=2, show_progress=False)
    assert len(study.trials_dataframe()) == 10
    # Another handle on ":memory:" is another store, and nothing was written to disk.
    other = tuning_core.create_study("quad", storage=":memory:", space=SPACE)
    assert other.status is None
    assert list(tmp_path.iterdir()) == []


@pytest.mark.subprocess
def test_importing_tuning_core_loads_no_tensorflow_or_pandas() -> None:
    probe = (
        "import sys, tuning_core\n"
        "tuning_core.create_study('s', storage=':memory:', space={'a': 1})\n"
        "print(sorted({'tensorflow', 'keras', 'pandas'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=cli_env(), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_stop_request_makes_should_prune_true_and_stops_the_study(storage: Path) -> None:
    seen: list[dict] = []

    def objective(trial: tuning_core.Trial) -> float:
        seen.append(trial.params)
        for epoch in range(3):
            trial.report(epoch, trial.params["x"])
            if trial.number == 1 and epoch == 1:
                with Store(storage) as other:  # as the dashboard's Stop button does
                    other.request_stop("stoppable")
                _let_the_stop_poll_pass()
            if trial.should_prune():
                raise tuning_core.TrialPruned()
        return trial.params["x"]

    study = tuning_core.create_study("stoppable", storage=storage, space=SPACE, budget=5)
    study.optimize(objective, show_progress=False)
    record, trials, _ = stored(storage, "stoppable")
    assert record.status == StudyStatus.STOPPED
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.INTERRUPTED]
    assert trials[1].error == "stopped on request"
    # Running it again retries the stopped trial first, with its params.
    study.optimize(objective, show_progress=False)
    record, trials, _ = stored(storage, "stoppable")
    assert record.status == StudyStatus.FINISHED and trials[2].retry_of == 1
    assert trials[2].params == trials[1].params and len(trials) == 6


def _let_the_stop_poll_pass() -> None:
    # The reporter reads the stop flag at most every STOP_POLL_SECONDS.
    time.sleep(STOP_POLL_SECONDS + 0.05)


def test_ctrl_c_stops_cleanly_and_the_next_call_resumes(storage: Path, capsys) -> None:
    calls = []

    def objective(trial: tuning_core.Trial) -> float:
        calls.append(trial.number)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return trial.params["x"] ** 2

    study = tuning_core.create_study("ctrl-c", storage=storage, space=SPACE, budget=3)
    study.optimize(objective)  # returns: Ctrl-C in a notebook cell must not lose the study
    assert "call optimize again to resume" in capsys.readouterr().out
    record, trials, _ = stored(storage, "ctrl-c")
    assert record.status == StudyStatus.STOPPED
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.INTERRUPTED]
    study.optimize(objective, show_progress=False)
    record, trials, _ = stored(storage, "ctrl-c")
    assert record.status == StudyStatus.FINISHED and len(trials) == 4
    assert trials[2].params == trials[1].params


# The bad-input table of issue 21, for a plain function.


def test_an_exception_fails_only_that_trial_with_its_last_line(storage: Path) -> None:
    def objective(trial: tuning_core.Trial) -> float:
        if trial.number == 1:
            raise ValueError("first line of detail\nthe shape (3,) does not fit (4,)")
        return trial.params["x"]

    study = tuning_core.create_study("raises", storage=storage, space=SPACE, budget=4)
    study.optimize(objective, show_progress=False)
    record, trials, _ = stored(storage, "raises")
    assert record.status == StudyStatus.FINISHED
    assert [t.state for t in trials].count(TrialState.FAILED) == 1
    assert trials[1].error == "ValueError: the shape (3,) does not fit (4,)"


def test_the_same_error_in_the_first_three_trials_stops_the_study(storage: Path) -> None:
    def objective(trial: tuning_core.Trial) -> float:
        return trial.params["y"]  # a typo: the space calls it x

    study = tuning_core.create_study("typo", storage=storage, space=SPACE, budget=50)
    with pytest.raises(tuning_core.ObjectiveError) as raised:
        study.optimize(objective, show_progress=False)
    message = str(raised.value)
    assert message.startswith("every trial fails: KeyError: 'y'") and "\n" not in message
    record, trials, _ = stored(storage, "typo")
    assert len(trials) == 3 and record.status == StudyStatus.FAILED
    assert record.message == message


def test_different_errors_do_not_stop_the_study(storage: Path) -> None:
    def objective(trial: tuning_core.Trial) -> float:
        if trial.number < 3:
            raise RuntimeError(f"out of memory at trial {trial.number}")
        return trial.params["x"]

    study = tuning_core.create_study("flaky", storage=storage, space=SPACE, budget=5)
    study.optimize(objective, show_progress=False)
    _, trials, _ = stored(storage, "flaky")
    assert len(trials) == 5


@pytest.mark.parametrize("returned", [math.nan, math.inf, -math.inf])
def test_nan_or_infinity_diverges_the_trial(storage: Path, returned: float) -> None:
    study = tuning_core.create_study("nan", storage=storage, space=SPACE, budget=2)
    study.optimize(lambda trial: returned, show_progress=False)
    _, trials, _ = stored(storage, "nan")
    assert [t.state for t in trials] == [TrialState.DIVERGED] * 2
    assert trials[0].value is None and "returned" in trials[0].error


# A dict is a dict of metrics (tests/test_multi_metric.py), not a wrong value.
@pytest.mark.parametrize("returned", ["0.9", None, [0.9], True])
def test_a_value_that_is_not_a_number_is_one_sentence(storage: Path, returned: object) -> None:
    study = tuning_core.create_study("words", storage=storage, space=SPACE, budget=5)
    with pytest.raises(tuning_core.ObjectiveError) as raised:
        study.optimize(lambda trial: returned, show_progress=False)
    message = str(raised.value)
    assert message.startswith(f"the objective returned {returned!r}")
    assert "must return a number" in message and "\n" not in message
    record, trials, _ = stored(storage, "words")
    assert [t.state for t in trials] == [TrialState.FAILED] and trials[0].error == message
    assert record.status == StudyStatus.FAILED


def test_numpy_scalars_count_as_numbers(storage: Path) -> None:
    import numpy as np

    study = tuning_core.create_study("numpy", storage=storage, space=SPACE, budget=2)
    study.optimize(lambda trial: np.float32(trial.params["x"]) ** 2, show_progress=False)
    assert math.isfinite(study.best_value)


# Options and spec fields: one sentence each.


def test_free_names_and_python_objectives_in_the_spec() -> None:
    spec = parse_spec(
        {
            "name": "free",
            "objective": {"type": "python", "target": "train:objective", "epochs": 4},
            "space": {"my_units": {"type": "int", "low": 4, "high": 64}, "anything": "relu"},
            "strategy": {"type": "random"},
            "pruner": {"type": "median"},
        }
    )
    assert spec.objective == {
        "type": "python",
        "target": "train:objective",
        "form": "function",
        "metric": "value",
        "direction": "minimize",
        "epochs": 4,
    }
    assert parse_spec(spec.to_json()) == spec
    assert spec.pruner["max_epochs"] == 4


@pytest.mark.parametrize(
    ("objective", "field"),
    [
        ({"type": "python"}, "objective.target"),
        ({"type": "python", "target": "no colon"}, "objective.target"),
        ({"type": "python", "target": "a:b", "metric": ""}, "objective.metric"),
        ({"type": "python", "target": "a:b", "direction": "up"}, "objective.direction"),
        ({"type": "python", "target": "a:b", "model": "mlp"}, "objective.model"),
        ({"type": "python", "target": "a:b", "dataset": "digits"}, "objective.dataset is for a"),
        (
            {"type": "python", "target": "a:b", "form": "build_model", "dataset": 3},
            "objective.dataset must be",
        ),
    ],
)
def test_bad_python_objective_fields_are_one_sentence(objective: dict, field: str) -> None:
    raw = {"name": "s", "objective": objective, "space": SPACE, "strategy": {"type": "random"}}
    with pytest.raises(SpecError, match=f"^{field}"):
        parse_spec(raw)


def test_a_pruner_without_epochs_asks_for_them(storage: Path) -> None:
    study = tuning_core.create_study("p", storage=storage, space=SPACE, pruner="median")
    with pytest.raises(SpecError, match="^epochs: .*optimize needs epochs=N"):
        study.optimize(curve_objective)
    assert not storage.exists()  # nothing was stored


def test_create_study_refuses_bad_options_in_one_sentence(storage: Path) -> None:
    with pytest.raises(SpecError, match="^strategy.type must be one of"):
        tuning_core.create_study("s", storage=storage, space=SPACE, strategy="annealing")
    with pytest.raises(SpecError, match="^space.x.low"):
        tuning_core.create_study("s", storage=storage, space={"x": {"type": "float", "low": "a"}})
    tuning_core.create_study("s", storage=storage, space=SPACE).optimize(
        lambda trial: 1.0, n_trials=1, show_progress=False
    )
    with pytest.raises(SpecError, match=r"^name: there is no study called 'nope' .*\(studies: s\)"):
        tuning_core.load_study("nope", storage=storage)


# Spec files with a python target, run by the CLI in a real subprocess.

MODULE = """
def objective(trial):
    for epoch in range(3):
        trial.report(epoch, {"value": (trial.params["x"] - 1) ** 2 + 2 - epoch})
    return (trial.params["x"] - 1) ** 2


def broken(trial):
    raise ZeroDivisionError("division by zero")
"""


def _python_spec(folder: Path, target: str, name: str = "from-file") -> Path:
    (folder / "my_objectives.py").write_text(MODULE)
    spec = {
        "name": name,
        "objective": {"type": "python", "target": target, "epochs": 3},
        "space": SPACE,
        "strategy": {"type": "random", "seed": 1},
        "budget": {"trials": 4},
    }
    return write_spec(folder, spec)


@pytest.mark.subprocess
def test_cli_runs_a_python_target_from_the_spec_files_folder(tmp_path: Path) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    storage = tmp_path / "store.db"
    result = run_cli("run", str(_python_spec(folder, "my_objectives:objective")), storage=storage)
    assert result.returncode == 0, result.stderr
    assert "study from-file: finished" in result.stdout
    record, trials, metrics = stored(storage, "from-file")
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4
    assert len(metrics) == 4 * 3 and record.spec.objective["target"] == "my_objectives:objective"


@pytest.mark.parametrize(
    ("target", "module_text", "expected"),
    [
        ("missing_module:objective", None, "there is no module named 'missing_module'"),
        ("my_objectives:nothing_here", None, "my_objectives has no attribute 'nothing_here'"),
        ("bad_syntax:objective", "def objective(trial)\n    return 1\n", "a syntax error in "),
    ],
)
@pytest.mark.subprocess
def test_a_target_that_cannot_be_imported_is_one_sentence_and_nothing_is_stored(
    tmp_path: Path, target: str, module_text: str | None, expected: str
) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    if module_text is not None:
        (folder / f"{target.partition(':')[0]}.py").write_text(module_text)
    storage = tmp_path / "store.db"
    result = run_cli("run", str(_python_spec(folder, target)), storage=storage)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert lines[0].startswith(f"error: objective.target '{target}' cannot be imported")
    assert not storage.exists()


@pytest.mark.subprocess
def test_cli_stops_a_study_whose_every_trial_fails_with_exit_2(tmp_path: Path) -> None:
    storage = tmp_path / "store.db"
    spec = _python_spec(tmp_path, "my_objectives:broken", name="broken")
    data = json.loads(spec.read_text())
    data["budget"]["trials"] = 40
    spec.write_text(json.dumps(data))
    result = run_cli("run", str(spec), storage=storage)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: every trial fails: ZeroDivisionError: division by zero (the first 3 trials all "
        "failed this way, so the study stopped before spending its budget; fix the objective "
        "and run it again to resume)."
    )
    record, trials, _ = stored(storage, "broken")
    assert len(trials) == 3 and record.status == StudyStatus.FAILED


def test_short_space_forms_are_stored_as_the_specs_ranges(storage: Path) -> None:
    study = tuning_core.create_study(
        "short",
        storage=storage,
        space={
            "learning_rate": (1e-4, 0.1, "log"),
            "units": (8, 128),
            "dropout": (0, 0.5),
            "activation": ["relu", "tanh"],
            "epochs": 3,
        },
        budget=2,
    )
    study.optimize(lambda trial: trial.params["dropout"], show_progress=False)
    record, trials, _ = stored(storage, "short")
    assert record.spec.to_json()["space"] == {
        "learning_rate": {"type": "float", "low": 1e-4, "high": 0.1, "log": True},
        "units": {"type": "int", "low": 8, "high": 128, "log": False},
        "dropout": {"type": "float", "low": 0.0, "high": 0.5, "log": False},
        "activation": {"type": "choice", "values": ["relu", "tanh"]},
        "epochs": 3,
    }
    assert all(isinstance(t.params["units"], int) and t.params["epochs"] == 3 for t in trials)
    with pytest.raises(
        SpecError, match=r'^space.units must be \(low, high\) or \(low, high, "log"\)'
    ):
        tuning_core.create_study("bad", storage=storage, space={"units": (8, 128, "linear")})
