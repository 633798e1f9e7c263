"""The hardening probe's cases, through the real CLI and store: each once broke something.

Bad input gets one sentence naming the field (exit 2), nothing stored is lost, a start that
crashes never leaves a study running, locks and twin workers cost no trial, a resume restores
the strategy from its snapshot, and a damaged model is never exported.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.bad_data_files import DATA_CASES, write_bad_data
from tests.conftest import ROOT, branin_spec, cli_env, digits_spec, run_cli, write_spec
from tests.test_cli_bad_input import _assert_one_sentence_error, run_cli_listing_imports
from tuning_core.cli import main
from tuning_core.engine import snapshots
from tuning_core.engine.objectives import function_objective
from tuning_core.engine.spec import parse_spec
from tuning_core.engine.states import StudyStatus, TrialState
from tuning_core.engine.storage import Store
from tuning_core.engine.study import run_study


def _spec_file(tmp_path: Path, raw: dict | str, name: str = "spec.json") -> Path:
    path = tmp_path / name
    path.write_text(raw if isinstance(raw, str) else json.dumps(raw))
    return path


def _with(raw: dict, path: str, value: object) -> dict:
    *parents, last = path.split(".")
    target = raw
    for key in parents:
        target = target[key]
    target[last] = value
    return raw


_HUGE_GRID = digits_spec(
    space={
        "units": {"type": "int", "low": 1, "high": 60000},
        "learning_rate": {"type": "float", "low": 0.001, "high": 1},
        "dropout": {"type": "float", "low": 0, "high": 0.9},
        "l2": {"type": "float", "low": 0, "high": 1},
    }
)
_WIDE = {"type": "float", "low": -1e308, "high": 1e308}
_HUGE_SEED = {"type": "bayesian", "seed": 10**30}


def _GRID_OF(levels: int) -> dict:
    return {"type": "grid", "levels": levels}


_INFINITE_SECONDS = json.dumps(branin_spec()).replace(
    '"trials": 10}', '"trials": 10, "seconds": Infinity}'
)
# (case, spec text or dict, the field the sentence must name)
SPEC_CASES = [
    ("100k-deep nesting", '{"name": "n", "space": ' + "[" * 100_000 + "]" * 100_000 + "}", "nests"),
    ("bounds of +-1e308", _with(branin_spec(), "space.x1", _WIDE), "space.x1"),
    ("seed 10^30, Bayesian", _with(branin_spec(), "strategy", _HUGE_SEED), "strategy.seed"),
    ("seed 10^30, Keras", _with(digits_spec(), "strategy.seed", 10**30), "strategy.seed"),
    ("units 1e308", digits_spec(space={"units": 1e308}), "space.units"),
    ("grid levels 10^7", _with(branin_spec(), "strategy", _GRID_OF(10**7)), "strategy.levels"),
    ("a grid too large", _with(_HUGE_GRID, "strategy", _GRID_OF(100)), "strategy.levels"),
    ("budget.seconds Infinity", _INFINITE_SECONDS, "Infinity"),
    ("trials 1e308", _with(branin_spec(), "budget.trials", 1e308), "budget.trials"),
    ("learning rate 1e-300", digits_spec(space={"learning_rate": 1e-300}), "space.learning_rate"),
    ("a 5,000-character name", _with(branin_spec(), "name", "x" * 5000), "name"),
    ("a name ending in a newline", _with(branin_spec(), "name", "abc\n"), "name"),
    ("a 50 MB spec", _with(branin_spec(), "name", "x" * 50_000_000), "too large for a spec"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "raw", "field"), SPEC_CASES, ids=[c for c, _, _ in SPEC_CASES])
@pytest.mark.subprocess
def test_bad_specs_get_one_short_sentence(
    storage: Path, tmp_path: Path, case: str, raw, field: str
) -> None:
    result = run_cli("run", str(_spec_file(tmp_path, raw)), storage=storage)
    _assert_one_sentence_error(result, field)
    assert len(result.stderr) < 500  # echoed values are clipped
    assert not storage.exists() or "no studies" in run_cli("list", storage=storage).stdout


@pytest.mark.subprocess
def test_a_directory_given_as_the_spec_says_so(tmp_path: Path, storage: Path) -> None:
    _assert_one_sentence_error(run_cli("run", str(tmp_path), storage=storage), "is a directory")


@pytest.mark.keras
def test_bayesian_search_over_choices_alone_runs(storage: Path, tmp_path: Path) -> None:
    raw = {
        "name": "allcat",
        "objective": {"type": "function", "name": "quadratic"},
        "space": {"x1": {"type": "float", "low": -1, "high": 1}},
        "strategy": {"type": "bayesian", "initial_points": 2},
        "budget": {"trials": 4},
    }
    # Function inputs must be ranges, so the all-choice case is a Keras space.
    keras = digits_spec(
        name="allcat",
        space={
            "optimizer": {"type": "choice", "values": ["sgd", "adam"]},
            "units": {"type": "choice", "values": [16, 32]},
        },
        trials=4,
        epochs=1,
    )
    keras["strategy"] = {"type": "bayesian", "initial_points": 2}
    assert raw  # (a function study needs a range; see above)
    # Through the CLI's main() in this process: a worker would import TensorFlow again (~7 s).
    spec_path = str(_spec_file(tmp_path, keras))
    assert main(["--storage", str(storage), "run", spec_path, "--recycle-every", "0"]) == 0
    with Store(storage) as store:
        study = store.get_study("allcat")
        assert study.status == StudyStatus.FINISHED
        assert [t.state for t in store.trials(study.id)] == [TrialState.COMPLETE] * 4


# Data whose headers declare more than the memory limit is refused before the store is opened.
OVERSIZE_CASES = {"npz header of 10^13 rows", "npz member without .npy"}
# Every other case leaves the same store behind (the study failed, its one trial interrupted),
# so one of them shows that the study, corrected under the same name, runs (~7 s of Keras).
RERUN_CASE = "labels of -1"


@pytest.mark.parametrize("case", DATA_CASES)
@pytest.mark.subprocess
@pytest.mark.keras
def test_bad_data_stops_the_study_at_its_first_trial(
    storage: Path, tmp_path: Path, case: str
) -> None:
    folder = write_bad_data(tmp_path / "data", case)
    raw = digits_spec(name="bad-data", dataset=str(folder), trials=5, epochs=1)
    result, imported = run_cli_listing_imports(
        "run", str(_spec_file(tmp_path, raw)), storage=storage
    )
    _assert_one_sentence_error(result, "objective.dataset")
    # The data is read and refused before Keras loads (TensorFlow's import is ~7 s).
    assert "numpy" in imported and not imported & {"keras", "tensorflow"}, sorted(imported)
    with Store(storage) as store:
        study = store.get_study("bad-data")
        trials = store.trials(study.id) if study else []
    if case in OVERSIZE_CASES:
        # The headers declare more than the memory limit: refused before anything is stored.
        assert study is None
        assert "over the" in result.stderr and "limit" in result.stderr
    else:
        assert study.status == StudyStatus.FAILED  # never left "running"
        assert [t.state for t in trials] == [TrialState.INTERRUPTED]  # stopped at the first try
    if case != RERUN_CASE:
        return
    # Corrected under the same name (the data now digits), the study runs.
    fixed = digits_spec(name="bad-data", trials=1, epochs=1)
    rerun = run_cli("run", str(_spec_file(tmp_path, fixed, "fixed.json")), storage=storage)
    assert rerun.returncode == 0, rerun.stderr
    with Store(storage) as store:
        trials = store.trials(store.get_study("bad-data").id)
    assert [t.state for t in trials] == [TrialState.COMPLETE]


@pytest.fixture(scope="module")
def small_digits_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store the CLI's main() ran ``digits_spec(trials=1, epochs=1)`` into, with its best
    model; tests read it, or copy it before changing it."""
    folder = tmp_path_factory.mktemp("small-digits")
    storage = folder / "store.db"
    small = str(_spec_file(folder, digits_spec(trials=1, epochs=1), "small.json"))
    # Through the CLI's main() in this process: a worker would import TensorFlow again (~7 s).
    assert main(["--storage", str(storage), "run", small, "--recycle-every", "0"]) == 0
    return storage


@pytest.mark.subprocess
@pytest.mark.keras
def test_a_model_too_large_is_refused_before_anything_is_stored(
    storage: Path, tmp_path: Path, small_digits_store: Path
) -> None:
    cnn = digits_spec(
        name="huge",
        model="cnn",
        space={
            "filters": 4096,
            "conv_blocks": 3,
            "kernel_size": 7,
            "dense_units": 65536,
            "batch_size": 1,
        },
    )
    result = run_cli("run", str(_spec_file(tmp_path, cnn)), storage=storage)
    _assert_one_sentence_error(result, "space.filters")
    assert "GB" in result.stderr and not storage.exists()
    # The limit is the flag's when given: the small test MLP (~60 kB) is refused under 20 kB.
    small = _spec_file(tmp_path, digits_spec(trials=1, epochs=1), "small.json")
    tight = run_cli("run", str(small), "--memory-limit", "0.00002", storage=storage)
    _assert_one_sentence_error(tight, "space.")
    assert not storage.exists()
    # Without the flag the same spec runs: the module's store is that run.
    with Store(small_digits_store) as store:
        trials = store.trials(store.get_study("digits").id)
    assert [t.state for t in trials] == [TrialState.COMPLETE]


@pytest.mark.slow  # waits out the store's busy timeout on purpose, ~1.6 s
def test_a_write_lock_held_past_the_busy_timeout_costs_no_trial(storage: Path) -> None:
    spec = parse_spec(branin_spec(trials=6))
    with Store(storage) as store:
        store.create_study(spec)
    holder = sqlite3.connect(storage, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    release = threading.Timer(1.5, lambda: holder.execute("COMMIT"))
    release.start()
    try:
        with Store(storage, busy_timeout_s=0.2) as store:
            outcome = run_study(spec, store, function_objective("branin"), log=lambda _: None)
            trials = store.trials(outcome.study_id)
    finally:
        release.join()
        holder.close()
    assert outcome.status == StudyStatus.FINISHED
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 6


@pytest.mark.subprocess
def test_two_workers_started_together_never_both_run_the_study(
    storage: Path, tmp_path: Path
) -> None:
    spec_path = write_spec(tmp_path, branin_spec(trials=6, trial_seconds=0.5))
    with Store(storage):
        pass
    holder = sqlite3.connect(storage, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # both workers start while the lock is held
    command = [sys.executable, "-m", "tuning_core", "run", str(spec_path)]
    workers = [
        subprocess.Popen(
            command,
            cwd=ROOT,
            env=cli_env(storage),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    time.sleep(3.0)
    holder.execute("COMMIT")
    holder.close()
    results = [worker.communicate(timeout=120) for worker in workers]
    codes = sorted(worker.returncode for worker in workers)
    assert codes == [0, 2], results
    refused = next(err for (out, err), w in zip(results, workers, strict=True) if w.returncode == 2)
    assert "Traceback" not in refused and "already running" in refused
    with Store(storage) as store:
        trials = store.trials(store.get_study("branin").id)
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 6
    assert len({t.number for t in trials}) == 6


@pytest.mark.subprocess
def test_resume_restores_the_strategy_from_its_snapshot(storage: Path, tmp_path: Path) -> None:
    strategy = {"type": "bayesian", "initial_points": 3, "seed": 2}
    short = write_spec(tmp_path, branin_spec(strategy=strategy, trials=6), "short.json")
    full = write_spec(tmp_path, branin_spec(strategy=strategy, trials=10), "full.json")
    assert run_cli("run", str(short), storage=storage).returncode == 0
    resumed = run_cli("run", str(full), storage=storage)
    assert resumed.returncode == 0, resumed.stderr
    assert "from the snapshot at trial 5" in resumed.stdout, resumed.stdout
    reference = tmp_path / "reference.db"
    assert run_cli("run", str(full), storage=reference).returncode == 0

    def params(db: Path) -> list[tuple[float, float]]:
        with Store(db) as store:
            return [
                (t.params["x1"], t.params["x2"]) for t in store.trials(store.get_study("branin").id)
            ]

    assert params(storage) == params(reference)  # the same proposals as a run that never stopped


@pytest.mark.subprocess
def test_a_snapshot_that_would_run_code_is_refused_and_the_study_replays(
    storage: Path, tmp_path: Path
) -> None:
    strategy = {"type": "bayesian", "initial_points": 3, "seed": 2}
    spec_path = write_spec(tmp_path, branin_spec(strategy=strategy, trials=5))
    assert run_cli("run", str(spec_path), storage=storage).returncode == 0
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    class FileWriter:  # numpy.memmap would create and fill any file
        def __reduce__(self):
            import numpy as np

            return (np.memmap, (str(marker), "uint8", "w+", 0, (4,)))

    for exploit in (Exploit(), FileWriter()):
        with pytest.raises(snapshots.SnapshotError):
            snapshots.load(pickle.dumps((exploit, 1)))
    with Store(storage) as store:
        study = store.get_study("branin")
        store.save_snapshot(study.id, 4, pickle.dumps((Exploit(), 1)))
    more = write_spec(tmp_path, branin_spec(strategy=strategy, trials=7), "more.json")
    resumed = run_cli("run", str(more), storage=storage)
    assert resumed.returncode == 0, resumed.stderr
    assert "by replaying every trial" in resumed.stdout
    assert not marker.exists()


@pytest.mark.subprocess
@pytest.mark.keras
def test_a_damaged_best_model_is_not_exported(
    storage: Path, tmp_path: Path, small_digits_store: Path
) -> None:
    # A copy to damage: the module's store stays as the CLI left it.
    source, copy = sqlite3.connect(small_digits_store), sqlite3.connect(storage)
    source.backup(copy)
    source.close()
    copy.close()
    shutil.copytree(f"{small_digits_store}.artifacts", f"{storage}.artifacts")
    best = Path(f"{storage}.artifacts") / "digits" / "best.keras"
    assert best.stat().st_size > 1000
    best.write_bytes(best.read_bytes()[:8192])  # what a worker killed mid-save used to leave
    target = tmp_path / "out.keras"
    result = run_cli(
        "export", "digits", "--format", "keras-model", "--output", str(target), storage=storage
    )
    _assert_one_sentence_error(result, "damaged")
    assert not target.exists()


@pytest.mark.subprocess
def test_list_shows_a_killed_worker_s_study_as_stopped(storage: Path, tmp_path: Path) -> None:
    spec_path = write_spec(tmp_path, branin_spec(trials=50, trial_seconds=0.5))
    worker = subprocess.Popen(
        [sys.executable, "-m", "tuning_core", "run", str(spec_path)],
        cwd=ROOT, env=cli_env(storage), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.time() + 60
        while time.time() < deadline and "running" not in run_cli("list", storage=storage).stdout:
            time.sleep(0.2)
        assert "running" in run_cli("list", storage=storage).stdout
    finally:
        worker.kill()
        worker.wait(timeout=10)
    listing = run_cli("list", storage=storage).stdout
    assert "running" not in listing and "stopped" in listing
