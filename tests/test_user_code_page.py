"""New study and a spec that runs the user's own code (objective type python): an upload or a
preset link shows which file would be imported, resolved as the worker will, and nothing is
imported or run until the user ticks the box naming that file and presses Start."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.test_pages import charts_on, open_page, shown
from tuning_core.engine.spec import parse_spec
from tuning_core.engine.states import StudyStatus, TrialState
from tuning_core.engine.storage import Store
from tuning_core.views.live import trains_keras
from tuning_core.views.user_code import resolve_user_code
from tuning_core.workers import code_folder_of, worker_import_path

# Importing the module leaves a mark, so a test can tell whether anything ran it.
MODULE = """
from pathlib import Path

Path(__file__).with_name("imported.txt").write_text("imported")


def objective(trial):
    for epoch in range(2):
        trial.report(epoch, {"value": (trial.params["x"] - 1.0) ** 2 + 1.0 / (epoch + 1)})
    return (trial.params["x"] - 1.0) ** 2
"""


def _user_code(tmp_path: Path, module: str) -> tuple[Path, dict]:
    folder = tmp_path / "my code"  # a space, as a user's folder may have
    folder.mkdir()
    (folder / f"{module}.py").write_text(MODULE)
    spec = {
        "name": f"{module}-study",
        "objective": {"type": "python", "target": f"{module}:objective", "epochs": 2},
        "space": {"x": {"type": "float", "low": -2.0, "high": 3.0}},
        "strategy": {"type": "random", "seed": 0},
        "budget": {"trials": 3},
    }
    return folder, spec


def _code_shown(at) -> list[str]:
    return [block.value for block in at.code]


def test_resolving_shows_the_file_and_runs_nothing(tmp_path: Path) -> None:
    folder, spec = _user_code(tmp_path, "tl_resolve_only")
    path = lambda resolved: worker_import_path(str(tmp_path / "store.db"), resolved)  # noqa: E731
    code = resolve_user_code(spec, str(folder), path)
    assert code.file == (folder / "tl_resolve_only.py").resolve() and code.problem is None
    assert str(code.file) in code.sentence() and "trust" in code.sentence()
    assert not (folder / "imported.txt").exists()  # found, not imported
    missing = resolve_user_code(spec, str(tmp_path), path)
    assert missing.file is None
    assert missing.problem.startswith("objective.target 'tl_resolve_only:objective': there is")
    not_a_folder = resolve_user_code(spec, str(tmp_path / "nowhere"), path)
    assert not_a_folder.problem.startswith("Folder of your code:")


def test_a_preset_link_shows_the_file_and_never_runs_it_unconfirmed(
    storage: Path, tmp_path: Path
) -> None:
    folder, spec = _user_code(tmp_path, "tl_linked_code")
    at = open_page("pages/new_study.py", spec=json.dumps(spec))
    assert not at.exception, at.exception
    assert any("This spec runs your code" in header.value for header in at.subheader)
    # The dashboard's own folder has no such module: one sentence, nothing to confirm.
    assert any("there is no file for module 'tl_linked_code'" in shown(e.value) for e in at.error)
    assert at.button(key="start_user_code").disabled
    at.text_input(key="code_folder").set_value(str(folder)).run()
    expected = str((folder / "tl_linked_code.py").resolve())
    assert _code_shown(at) == [expected]
    assert any(expected in shown(warning.value) for warning in at.warning)
    assert at.button(key="start_user_code").disabled  # not ticked yet
    assert at.checkbox(key=f"confirm_code:{expected}").value is False
    # The link opened the step and no more: nothing imported, nothing stored, no worker.
    assert not (folder / "imported.txt").exists()
    assert not Path(f"{storage}.specs").exists()
    assert not storage.exists() or Store(str(storage)).get_study(spec["name"]) is None
    at.button(key="cancel_user_code").click().run()  # back to the Keras form
    assert at.text_input(key="name") is not None and not at.get("code")


@pytest.mark.subprocess  # Start launches a real worker
def test_an_uploaded_spec_runs_only_after_the_file_is_ticked(storage: Path, tmp_path: Path) -> None:
    folder, spec = _user_code(tmp_path, "tl_uploaded_code")
    at = open_page("pages/new_study.py")
    at.file_uploader[0].set_value(("mine.json", json.dumps(spec).encode(), "application/json"))
    at.run()
    assert not at.exception, at.exception
    at.text_input(key="code_folder").set_value(str(folder)).run()
    expected = str((folder / "tl_uploaded_code.py").resolve())
    assert _code_shown(at) == [expected]
    assert at.button(key="start_user_code").disabled
    assert not (folder / "imported.txt").exists()
    at.checkbox(key=f"confirm_code:{expected}").check().run()
    start = at.button(key="start_user_code")
    assert not start.disabled
    start.click().run()
    # A real worker imports the file from the folder given and runs the study.
    assert code_folder_of(str(storage), spec["name"]) == str(folder.resolve())
    deadline = time.time() + 90
    status = None
    while time.time() < deadline:
        with Store(str(storage)) as store:
            record = store.get_study(spec["name"])
            status = record.status if record else None
        if status in (StudyStatus.FINISHED, StudyStatus.FAILED):
            break
        time.sleep(0.5)
    assert status == StudyStatus.FINISHED
    with Store(str(storage)) as store:
        trials = store.trials(store.get_study(spec["name"]).id)
    assert [t.state.value for t in trials] == ["complete"] * 3
    assert (folder / "imported.txt").read_text() == "imported"


def test_live_draws_in_epoch_losses_for_a_users_build_model(storage: Path) -> None:
    # A spec-file build_model study as the worker leaves it mid-trial: one trial done, one
    # running with the in-epoch losses Tuning Lab's callbacks write for any Keras fit.
    spec = parse_spec(
        {
            "name": "own-keras",
            "objective": {
                "type": "python",
                "form": "build_model",
                "target": "my_model:build_model",
                "dataset": "digits",
                "epochs": 3,
            },
            "space": {"units": {"type": "int", "low": 8, "high": 64}},
            "strategy": {"type": "random", "seed": 0},
            "budget": {"trials": 4},
        }
    )
    with Store(str(storage)) as store:
        study_id = store.create_study(spec)
        store.set_status(study_id, StudyStatus.RUNNING, worker_pid=os.getpid())
        done = store.start_trial(study_id, 0, {"units": 16})
        for epoch in range(3):
            store.add_epoch_metrics(done, epoch, {"loss": 1.0 - 0.2 * epoch, "val_accuracy": 0.5})
        store.finish_trial(done, TrialState.COMPLETE, 0.5)
        running = store.start_trial(study_id, 1, {"units": 32})
        store.add_epoch_metrics(running, 0, {"loss": 0.9, "val_accuracy": 0.6})
        for step in range(1, 4):
            store.add_batch_loss(running, 1 + step / 4, 0.9 - 0.1 * step)
    at = open_page("pages/live.py", study="own-keras")
    titles = [chart.get("title") for chart, _ in charts_on(at)]
    assert "running trial: training loss within epochs" in titles
    in_epoch = next(
        rows
        for chart, rows in charts_on(at)
        if chart.get("title") == "running trial: training loss within epochs"
    )
    assert in_epoch["progress"].tolist() == pytest.approx([1.25, 1.5, 1.75])
    # A plain function's study keeps its metric-per-epoch chart (it has no in-epoch rows).
    function = parse_spec({**spec.to_json(), "objective": {"type": "python", "target": "m:f"}})
    assert not trains_keras(function) and trains_keras(spec)
