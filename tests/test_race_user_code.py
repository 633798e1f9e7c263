"""A race over the user's own code: a race spec whose objective is a python target (a plain
function beside the spec file) races strategies through the CLI, sequentially and on two real
local Dask workers, and shows on the Strategy race page; a target that cannot be imported is
one sentence with nothing stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli, write_spec
from tests.test_pages import charts_on, shown
from tests.test_race_page import open_race_page
from tuning_core import workers
from tuning_core.engine import race as races
from tuning_core.engine.states import StudyStatus, TrialState
from tuning_core.engine.storage import Store

# Three epochs of a shifted quadratic: a pruner has something to cut.
OBJECTIVE = """
import tuning_core


def objective(trial):
    x = trial.params["x"]
    for epoch in range(3):
        trial.report(epoch, {"value": (x - 1) ** 2 + 1.0 / (epoch + 1)})
        if trial.should_prune():
            raise tuning_core.TrialPruned()
    return (x - 1) ** 2
"""


def _race(folder: Path, name: str, parallel: int = 1, seeds: int = 2) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "own_quadratic.py").write_text(OBJECTIVE)
    spec = {
        "name": name,
        "objective": {"type": "python", "target": "own_quadratic:objective", "epochs": 3},
        "space": {"x": {"type": "float", "low": -3.0, "high": 3.0}},
        "budget": {"trials": 8},
        "seeds": seeds,
        "parallel": parallel,
        "strategies": [
            {"type": "random"},
            {"type": "bayesian"},
            {"type": "random", "pruner": {"type": "successive_halving"}},
        ],
    }
    return write_spec(folder, spec, name="race.json")


@pytest.mark.subprocess
@pytest.mark.parametrize(
    "parallel", [1, pytest.param(2, marks=pytest.mark.dask)], ids=["sequential", "dask"]
)
def test_a_race_over_a_python_target_runs_every_strategy(tmp_path: Path, parallel: int) -> None:
    storage = tmp_path / "store.db"
    spec_path = _race(tmp_path / "project", "own-race", parallel=parallel, seeds=2 // parallel)
    # Run from elsewhere: the target is found beside the race spec, not in the working folder.
    result = run_cli("race", str(spec_path), storage=storage, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "race own-race: finished (all" in result.stdout
    assert "verdict: " in result.stdout
    with Store(storage) as store:
        record = races.get_race(store, "own-race")
        members = races.race_studies(store, record.id)
        states: dict[str, list[TrialState]] = {}
        for member in members:
            study = store.get_study(member.study_name)
            assert study.status == StudyStatus.FINISHED
            assert study.spec.objective["type"] == "python"
            states[member.label] = [t.state for t in store.trials(study.id)]
        rows = races.race_trial_rows(store, record.id)
    assert record.status == StudyStatus.FINISHED
    assert len(members) == 3 * (2 // parallel)
    assert all(len(s) == 8 for s in states.values())
    assert TrialState.PRUNED in states["random-sh"]  # the pruner cut the plain function
    assert {row.label for row in rows} == {"random", "gp-ei", "random-sh"}


@pytest.mark.subprocess
def test_the_race_page_shows_a_python_race(tmp_path: Path, storage: Path) -> None:
    result = run_cli("race", str(_race(tmp_path / "project", "page-race")), storage=storage)
    assert result.returncode == 0, result.stderr
    at = open_race_page(race="page-race")
    # Green for a clear winner, blue for "no clear winner": either way the verdict is there.
    verdicts = [shown(s.value) for s in [*at.success, *at.info]]
    assert any("over 2 seeds" in verdict for verdict in verdicts), verdicts
    charts = charts_on(at)
    assert len(charts) == 2
    strategies = set(charts[0][1]["strategy"])
    assert strategies == {"Random", "Bayesian (GP, EI)", "Random + successive halving"}
    # Not a known function: the bands are the best value so far, not a regret.
    assert charts[0][0]["layer"][1]["encoding"]["y"]["title"] != "regret"


@pytest.mark.subprocess
def test_a_race_whose_target_cannot_be_imported_is_one_sentence(tmp_path: Path) -> None:
    storage = tmp_path / "store.db"
    spec_path = _race(tmp_path / "project", "no-module")
    (tmp_path / "project" / "own_quadratic.py").unlink()
    result = run_cli("race", str(spec_path), storage=storage)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: objective.target 'own_quadratic:objective' cannot be imported: there is no "
        "module named 'own_quadratic' in the spec file's folder or on the Python path."
    )
    assert not storage.exists()  # nothing stored


@pytest.mark.subprocess
def test_the_dashboard_resumes_a_cli_race_and_study_over_a_python_target(tmp_path: Path) -> None:
    # The dashboard's Resume runs a copy of the spec from <store>.specs: the CLI remembered the
    # spec's folder, so that copy imports the same target (without it: exit 2, no module).
    storage = tmp_path / "store.db"
    spec_path = _race(tmp_path / "project", "resumed")
    assert run_cli("race", str(spec_path), storage=storage).returncode == 0
    assert workers.code_folder_of(str(storage), "resumed") == str((tmp_path / "project").resolve())
    race = workers.launch_race(str(storage), json.loads(spec_path.read_text()))
    assert race.wait(timeout=120) == 0, workers.worker_log_tail(
        str(storage), "resumed", "race.log", lines=5
    )
    study = {
        "name": "one-study",
        "objective": {"type": "python", "target": "own_quadratic:objective", "epochs": 3},
        "space": {"x": {"type": "float", "low": -3.0, "high": 3.0}},
        "strategy": {"type": "random", "seed": 0},
        "budget": {"trials": 2},
    }
    study_path = write_spec(tmp_path / "project", study, name="study.json")
    assert run_cli("run", str(study_path), storage=storage).returncode == 0
    study["budget"]["trials"] = 4  # Resume with a larger budget: two more trials
    child = workers.launch_study(str(storage), study)
    assert child.wait(timeout=120) == 0, workers.worker_log_tail(str(storage), "one-study")
    with Store(storage) as store:
        trials = store.trials(store.get_study("one-study").id)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 4
