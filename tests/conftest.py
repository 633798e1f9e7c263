"""Shared fixtures: a private store and Keras home per test, and a real CLI runner; the test
tiers' markers, and a guard that keeps them honest."""

from __future__ import annotations

import atexit
import json
import multiprocessing.process
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tuning_core.engine.storage import Store, TrialRecord

ROOT = Path(__file__).resolve().parents[1]
# The last lines of a script that runs AppTest in a fresh interpreter and prints its finding:
# leave without the interpreter's teardown, where a pyarrow thread still alive can abort the
# process ("terminate called without an active exception", exit -6, apache/arrow#34314):
# once in a full run here, after the script had done and printed everything.
APP_TEST_SCRIPT_EXIT = """
import os as _os, sys as _sys
_sys.stdout.flush()
_sys.stderr.flush()
_os._exit(0)
"""
MNIST_DIR = ROOT / "tests" / "data" / "mnist"

# Keras writes ~/.keras on import; keep every test (and every worker it starts) away from it.
if "KERAS_HOME" not in os.environ:
    os.environ["KERAS_HOME"] = tempfile.mkdtemp(prefix="keras-home-")
    atexit.register(shutil.rmtree, os.environ["KERAS_HOME"], ignore_errors=True)
# The key that signs strategy snapshots lives in the user's config folder: tests (and the
# workers they start) make their own, never touching the real one.
if "TUNING_LAB_CONFIG_DIR" not in os.environ:
    os.environ["TUNING_LAB_CONFIG_DIR"] = tempfile.mkdtemp(prefix="tuning-lab-config-")
    atexit.register(shutil.rmtree, os.environ["TUNING_LAB_CONFIG_DIR"], ignore_errors=True)

# Test tiers: a test is marked by what it starts, and `slow` is their union, so
# `python -m pytest -m "not slow"` is the fast tier. A long test that starts none of them may
# carry `@pytest.mark.slow` itself.
SLOW_MARKERS = ("keras", "dask", "browser", "subprocess")
PROCESS_MARKERS = ("subprocess", "dask", "browser")
# The guard below refuses processes; `uname -p` is one that platform starts (once, then cached)
# for whoever asks first, TensorFlow's import among them: ask here, before any test.
platform.processor()


@pytest.hookimpl(tryfirst=True)  # before -m deselects by the marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.get_closest_marker(name) for name in SLOW_MARKERS):
            item.add_marker(pytest.mark.slow)


def _marked(item: pytest.Item, *names: str) -> bool:
    return any(item.get_closest_marker(name) for name in names)


def _no_child(self: subprocess.Popen[Any], args: Any, *rest: Any, **options: Any) -> None:
    raise RuntimeError(
        f"this test starts a process ({args!r}): mark it subprocess (or dask, browser), which "
        "puts it in the slow tier"
    )


def _no_process(self: multiprocessing.process.BaseProcess) -> None:
    raise RuntimeError(
        f"this test starts a process ({self.name}): mark it dask (or subprocess), which puts it "
        "in the slow tier"
    )


def _no_fit(*args: Any, **kwargs: Any) -> None:
    raise RuntimeError("this test trains a Keras model: mark it keras")


_GUARD = pytest.StashKey[tuple[pytest.MonkeyPatch, bool]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    """Keep the marks honest, from before the test's fixtures (module-scoped ones included) are
    set up until after they are torn down: a test not marked subprocess, dask or browser cannot
    start a process, and one not marked keras cannot train a Keras model or load Keras."""
    patches = pytest.MonkeyPatch()
    if not _marked(item, *PROCESS_MARKERS):
        # Every Popen (subprocess.run, asyncio's, Playwright's) goes through _execute_child.
        patches.setattr(subprocess.Popen, "_execute_child", _no_child)
        patches.setattr(multiprocessing.process.BaseProcess, "start", _no_process)
    keras_loaded = "keras" in sys.modules
    if keras_loaded and not _marked(item, "keras"):  # loaded by an earlier test
        patches.setattr(sys.modules["keras"].Model, "fit", _no_fit)
    item.stash[_GUARD] = (patches, keras_loaded)
    return (yield)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    try:
        return (yield)
    finally:
        patches, keras_loaded = item.stash.get(_GUARD, (pytest.MonkeyPatch(), True))
        patches.undo()
        if not keras_loaded and "keras" in sys.modules and not _marked(item, "keras"):
            pytest.fail("this test loads Keras (TensorFlow): mark it keras", pytrace=False)


@pytest.fixture
def storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "store.db"
    monkeypatch.setenv("TUNING_LAB_STORAGE", str(path))
    return path


def cli_env(storage: Path | None = None) -> dict[str, str]:
    """The environment a user's shell would give the CLI: no TF_* settings that quieten
    TensorFlow.
    """
    env = {name: value for name, value in os.environ.items() if not name.startswith("TF_")}
    env.update(PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    if storage is not None:
        env["TUNING_LAB_STORAGE"] = str(storage)
    return env


def run_cli(
    *args: str, storage: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m tuning_core ARGS`` in a real subprocess and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "tuning_core", *args],
        cwd=ROOT,
        env=cli_env(storage),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_spec(directory: Path, spec: dict[str, Any], name: str = "spec.json") -> Path:
    path = directory / name
    path.write_text(json.dumps(spec))
    return path


def branin_spec(
    name: str = "branin", strategy: dict[str, Any] | None = None, trials: int = 10, **objective: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "objective": {"type": "function", "name": "branin", **objective},
        "space": {
            "x1": {"type": "float", "low": -5, "high": 10},
            "x2": {"type": "float", "low": 0, "high": 15},
        },
        "strategy": strategy or {"type": "random", "seed": 0},
        "budget": {"trials": trials},
    }


def digits_spec(
    name: str = "digits", space: dict[str, Any] | None = None, trials: int = 2, **objective: Any
) -> dict[str, Any]:
    """A small, fast Keras study on the bundled digits."""
    return {
        "name": name,
        "objective": {
            "type": "keras",
            "dataset": "digits",
            "model": "mlp",
            "epochs": 2,
            "train_limit": 300,
            **objective,
        },
        "space": space
        or {"learning_rate": {"type": "float", "low": 0.01, "high": 0.5, "log": True}, "units": 32},
        "strategy": {"type": "random", "seed": 0},
        "budget": {"trials": trials},
    }


def kill_worker_when(
    spec_path: Path,
    storage: Path,
    study: str,
    ready: Callable[[list[TrialRecord]], bool],
    timeout: float = 90,
) -> list[TrialRecord]:
    """Start ``run SPEC`` in a real worker, SIGKILL it once ``ready(trials)`` holds (or at the
    timeout), and return the study's trials as the kill left them."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "tuning_core", "run", str(spec_path)],
        cwd=ROOT,
        env=cli_env(storage),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + timeout
        while time.time() < deadline:
            time.sleep(0.05)
            if not storage.exists():
                continue
            with Store(storage) as store:
                record = store.get_study(study)
                trials = store.trials(record.id) if record else []
            if trials and ready(trials):
                break
        worker.send_signal(signal.SIGKILL)
    finally:
        worker.wait(timeout=10)
    with Store(storage) as store:
        return store.trials(store.get_study(study).id)
