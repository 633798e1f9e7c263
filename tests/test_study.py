"""The study loop and store, driven in-process and through real worker subprocesses."""

from __future__ import annotations

import json
import math
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.background_cli import cli_in_background
from tests.conftest import ROOT, branin_spec, cli_env, kill_worker_when, run_cli, write_spec
from tuning_core.engine.objectives import TrialOutcome, function_objective
from tuning_core.engine.records import study_summaries
from tuning_core.engine.spec import parse_spec
from tuning_core.engine.states import StudyStatus, TrialState
from tuning_core.engine.storage import Store
from tuning_core.engine.study import run_study


def _quiet(_: str) -> None:
    pass


def test_failed_and_diverged_trials_are_recorded_and_the_search_goes_on(storage: Path) -> None:
    spec = parse_spec(
        branin_spec(strategy={"type": "bayesian", "initial_points": 3, "seed": 0}, trials=12)
    )
    branin = function_objective("branin")

    def flaky(params, reporter):
        if params["x1"] > 6:
            raise RuntimeError("simulated out-of-memory")
        outcome = branin(params, reporter)
        return TrialOutcome(math.nan) if params["x2"] > 12 else outcome

    with Store(storage) as store:
        progress_lines: list[str] = []
        outcome = run_study(spec, store, flaky, log=progress_lines.append)
        trials = store.trials(outcome.study_id)
    assert len(trials) == 12
    states = {t.state for t in trials}
    assert TrialState.FAILED in states and TrialState.COMPLETE in states
    failed = next(t for t in trials if t.state == TrialState.FAILED)
    assert failed.value is None and "simulated out-of-memory" in failed.error
    for trial in trials:
        if trial.state == TrialState.COMPLETE:
            assert math.isfinite(trial.value)
    assert len(progress_lines) == 12  # one progress line per trial
    assert any(t.state == TrialState.DIVERGED and "returned nan" in t.error for t in trials)


def test_finished_trials_are_never_modified(storage: Path) -> None:
    spec = parse_spec(branin_spec(trials=2))
    with Store(storage) as store:
        outcome = run_study(spec, store, function_objective("branin"), log=_quiet)
        trial = store.trials(outcome.study_id)[0]
        with pytest.raises(sqlite3.IntegrityError, match="never modified"):
            store.connection.execute("UPDATE trials SET value = 0 WHERE id = ?", (trial.id,))
        with pytest.raises(sqlite3.IntegrityError, match="never modified"):
            store.add_epoch_metrics(trial.id, 5, {"loss": 1.0})
        assert store.trials(outcome.study_id)[0] == trial


@pytest.mark.subprocess
def test_same_spec_twice_resumes_one_study_and_extends_the_budget(
    storage: Path, tmp_path: Path
) -> None:
    raw = branin_spec(strategy={"type": "bayesian", "initial_points": 3, "seed": 2}, trials=5)
    path = write_spec(tmp_path, raw)
    first = run_cli("run", str(path), storage=storage)
    assert first.returncode == 0, first.stderr
    assert len([line for line in first.stdout.splitlines() if line.startswith("trial ")]) == 5
    again = run_cli("run", str(path), storage=storage)
    assert again.returncode == 0 and not any(
        line.startswith("trial ") for line in again.stdout.splitlines()
    )
    raw["budget"]["trials"] = 8
    write_spec(tmp_path, raw)
    extended = run_cli("run", str(path), storage=storage)
    assert [
        line.split()[1] for line in extended.stdout.splitlines() if line.startswith("trial ")
    ] == ["5", "6", "7"]
    with Store(storage) as store:
        assert [s.name for s in store.studies()] == ["branin"]
        assert len(store.trials(store.get_study("branin").id)) == 8
    raw["space"]["x1"]["high"] = 9
    write_spec(tmp_path, raw)
    clash = run_cli("run", str(path), storage=storage)
    assert clash.returncode == 2 and "already exists with a different" in clash.stderr


@pytest.mark.subprocess
def test_resume_after_sigkill_matches_an_uninterrupted_run(storage: Path, tmp_path: Path) -> None:
    raw = branin_spec(
        strategy={"type": "bayesian", "initial_points": 3, "seed": 4}, trials=9, trial_seconds=0.4
    )
    path = write_spec(tmp_path, raw)
    reference_store = tmp_path / "reference.db"
    # The uninterrupted run, in its own store, runs while the other worker is killed and resumed.
    with cli_in_background("run", str(path), storage=reference_store) as reference:
        killed = kill_worker_when(
            path,
            storage,
            "branin",
            lambda trials: (
                sum(t.state == TrialState.COMPLETE for t in trials) >= 4
                and trials[-1].state == TrialState.RUNNING
            ),
            timeout=60,
        )
        assert killed[-1].state == TrialState.RUNNING  # the worker died mid-trial

        resumed = run_cli("run", str(path), storage=storage)
        assert resumed.returncode == 0, resumed.stderr
        assert "interrupted" in resumed.stdout
        assert reference.result().returncode == 0

    def finished(db: Path) -> list[tuple]:
        with Store(db) as store:
            trials = store.trials(store.get_study("branin").id)
        return [
            (round(t.params["x1"], 9), round(t.params["x2"], 9), t.value)
            for t in trials
            if t.state != TrialState.INTERRUPTED
        ]

    with Store(storage) as store:
        after = store.trials(store.get_study("branin").id)
    interrupted = [t for t in after if t.state == TrialState.INTERRUPTED]
    assert len(interrupted) == 1 and interrupted[0].number == killed[-1].number
    assert any(t.retry_of == interrupted[0].number for t in after)
    assert finished(storage) == finished(reference_store)


@pytest.mark.subprocess
def test_reader_polls_while_a_worker_writes(storage: Path, tmp_path: Path) -> None:
    path = write_spec(tmp_path, branin_spec(trials=150, trial_seconds=0.02))
    worker = subprocess.Popen(
        [sys.executable, "-m", "tuning_core", "run", str(path)],
        cwd=ROOT,
        env=cli_env(storage),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[int] = []
    listed = exported = 0
    try:
        while worker.poll() is None:
            if storage.exists():
                with Store(storage) as reader:
                    study = reader.get_study("branin")
                    if study:
                        seen.append(len(reader.trials(study.id)))
                        reader.epoch_metrics(study.id)
                if seen and seen[-1] > 0 and listed < 2:
                    listing = run_cli("list", storage=storage, timeout=60)
                    assert listing.returncode == 0, listing.stderr
                    export = run_cli(
                        "export", "branin", "--format", "json", storage=storage, timeout=60
                    )
                    assert export.returncode == 0, export.stderr
                    json.loads(export.stdout)
                    listed += 1
                    exported += 1
    finally:
        worker.wait(timeout=60)
    assert worker.returncode == 0, worker.stderr.read()
    assert len(set(seen)) > 2  # the reader saw the study grow, not just its end
    assert listed >= 1


@pytest.mark.subprocess
def test_stop_request_ends_a_running_study(storage: Path, tmp_path: Path) -> None:
    path = write_spec(tmp_path, branin_spec(trials=50, trial_seconds=0.3))
    worker = subprocess.Popen(
        [sys.executable, "-m", "tuning_core", "run", str(path)],
        cwd=ROOT,
        env=cli_env(storage),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 30
    while time.time() < deadline and "trial 1 " not in (
        Path(storage).exists() and _trial_lines(storage) or ""
    ):
        time.sleep(0.1)
    assert run_cli("stop", "branin", storage=storage).returncode == 0
    out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    assert "stopped" in out
    with Store(storage) as store:
        study = store.get_study("branin")
        assert study.status == StudyStatus.STOPPED
        assert len(store.trials(study.id)) < 50


def _trial_lines(storage: Path) -> str:
    with Store(storage) as store:
        study = store.get_study("branin")
        return (
            "" if study is None else " ".join(f"trial {t.number} " for t in store.trials(study.id))
        )


def test_a_grid_of_fewer_points_than_its_budget_counts_its_points_everywhere() -> None:
    """Run to its end, a grid of 4 points with a budget of 9 is 4 of 4: the CLI's lines, the
    Studies list and the store's summaries (it read 4 of 9)."""
    spec = parse_spec(branin_spec(strategy={"type": "grid", "levels": 2}, trials=9))
    points = spec.space.grid_size(2)
    assert points < 9 and spec.planned_trials == points
    with Store(":memory:") as store:
        lines: list[str] = []
        run_study(spec, store, function_objective("branin"), log=lines.append)
        (summary,) = study_summaries(store)
    assert (summary.done, summary.budget) == (points, points)
    assert [line.split("]")[0].split("[")[1] for line in lines if line.startswith("trial ")] == [
        f"{done}/{points}" for done in range(1, points + 1)
    ]
