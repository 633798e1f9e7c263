"""Dask faults that must end: a stopped worker, workers that keep dying, a dead scheduler,
addresses that cannot work, and SIGTERM to a driver (issue 20, item 5).

Real ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1, as in test_parallel.py;
the heartbeat timeout is set short through the CLI flag and the spec so the tests stay fast.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.conftest import ROOT, cli_env, run_cli, write_spec
from tests.test_parallel import (
    DaskProcesses,
    parallel_spec,
    start_run,
    trials_of,
    wait_until,
)
from tuning_core.engine.states import StudyStatus, TrialState
from tuning_core.engine.storage import Store


def _study_status(storage: Path, name: str) -> StudyStatus | None:
    with Store(storage) as store:
        study = store.get_study(name)
        return None if study is None else study.status


def _running_trials(storage: Path, name: str) -> list[int]:
    return [t.number for t in trials_of(storage, name) if t.state == TrialState.RUNNING]


# Addresses that cannot work -------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "named"),
    [
        ("tls://127.0.0.1:{port}", "no TLS certificates"),
        ("ucx://127.0.0.1:{port}", "UCX"),
        ("inproc://127.0.0.1/{port}/1", "inproc://"),
    ],
)
def test_an_address_that_cannot_work_gets_one_sentence_and_exit_2_within_5_s(
    tmp_path: Path, address: str, named: str
) -> None:
    from tests.test_parallel import _free_port

    address = address.format(port=_free_port())
    storage = tmp_path / "store.db"
    spec_path = write_spec(tmp_path, parallel_spec("nowhere", 2))
    started = time.monotonic()
    result = run_cli("run", str(spec_path), "--dask", address, storage=storage, timeout=60)
    took = time.monotonic() - started
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --dask: "), result.stderr
    assert named in lines[0]
    assert took < 5.0, f"took {took:.1f} s"
    assert not storage.exists()  # refused before any store was created


# SIGTERM to a driver --------------------------------------------------------------------


def _terminate_once_running(run: subprocess.Popen[str], storage: Path, name: str, count: int) -> None:
    wait_until(lambda: len(_running_trials(storage, name)) >= count, 90, f"{count} running trial(s)")
    run.send_signal(signal.SIGTERM)


def test_sigterm_to_a_sequential_run_stops_the_study_and_interrupts_its_trial(
    tmp_path: Path, storage: Path
) -> None:
    spec = parallel_spec("sequential-term", 1, trial_seconds=60.0, epochs=60, trials=3)
    run = start_run(storage, write_spec(tmp_path, spec))
    try:
        _terminate_once_running(run, storage, "sequential-term", 1)
        stopped_at = time.monotonic()
        _, stderr = run.communicate(timeout=30)
        took = time.monotonic() - stopped_at
    finally:
        run.kill()
    assert run.returncode == 128 + signal.SIGTERM, stderr
    assert "SIGTERM" in stderr and "Traceback" not in stderr
    assert took < 10
    assert _study_status(storage, "sequential-term") == StudyStatus.STOPPED
    states = [t.state for t in trials_of(storage, "sequential-term")]
    assert states == [TrialState.INTERRUPTED]
