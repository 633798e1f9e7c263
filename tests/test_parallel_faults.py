"""Dask faults that must end: a stopped worker, workers that keep dying, a dead scheduler,
addresses that cannot work, and SIGTERM to a driver (issue 20, item 5).

Real ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1, as in test_parallel.py;
the heartbeat timeout is set short through the CLI flag and the spec so the tests stay fast.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.conftest import run_cli, write_spec
from tests.test_parallel import (
    DaskProcesses,
    parallel_spec,
    start_run,
    trials_of,
    wait_until,
)
from tuning_core.engine.errors import SpecError
from tuning_core.engine.states import StudyStatus, TrialState
from tuning_core.engine.storage import Store


class NannyDask(DaskProcesses):
    """The scheduler of test_parallel.py with workers under nannies, as ``dask worker``
    starts them by default: a killed worker process comes back under the same name."""

    def start_worker(self, name: str) -> None:
        self.workers[name] = self._start(
            name,
            [
                "worker",
                self.address,
                "--name",
                name,
                "--nthreads",
                "1",
                "--no-dashboard",
                "--host",
                "127.0.0.1",
            ],
        )

    def worker_pids(self) -> dict[str, int]:
        """The pid of each worker process (the nanny's child) by worker name."""
        from distributed import Client

        with Client(self.address, timeout=5, set_as_default=False) as client:
            names = {
                a: str(w["name"]) for a, w in client.scheduler_info(n_workers=-1)["workers"].items()
            }
            pids = client.run(os.getpid)
        return {names[address]: pid for address, pid in pids.items() if address in names}


@pytest.fixture(scope="module")
def nanny_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NannyDask]:
    cluster = NannyDask(tmp_path_factory.mktemp("dask-fault-logs"))
    try:
        cluster.start_worker("w1")
        cluster.start_worker("w2")
        cluster.wait_for({"w1", "w2"})
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def cluster(nanny_cluster: NannyDask) -> NannyDask:
    """The module's cluster with w1 and w2 up and running nothing (a test before may have
    stopped or killed one)."""
    for name, process in list(nanny_cluster.workers.items()):
        if process.poll() is not None:
            del nanny_cluster.workers[name]
    for name in ("w1", "w2"):
        if name not in nanny_cluster.workers:
            nanny_cluster.start_worker(name)
    for process in nanny_cluster.workers.values():
        # A worker a test stopped (with SIGSTOP) must answer again before anything asks it.
        for child in psutil.Process(process.pid).children(recursive=True):
            child.send_signal(signal.SIGCONT)
    nanny_cluster.wait_for({"w1", "w2"})
    wait_until(nanny_cluster.idle, 30, "idle workers")
    return nanny_cluster


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
@pytest.mark.timing
@pytest.mark.subprocess
def test_an_address_that_cannot_work_gets_one_sentence_and_exit_2_at_once(
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
    # The whole command, Python's start and imports included, in well under the 10 s that
    # Dask's Client waited (bounded loosely: this machine's cores are shared)...
    assert took < 8.0, f"took {took:.1f} s"
    assert not storage.exists()  # refused before any store was created
    # ... and the refusal itself at once.
    from tuning_core.engine import parallel

    started = time.monotonic()
    with pytest.raises(SpecError, match="^--dask: "):
        parallel.refuse_unreachable(address)
    assert time.monotonic() - started < 2.0


# SIGTERM to a driver --------------------------------------------------------------------


def _terminate_once_running(
    run: subprocess.Popen[str], storage: Path, name: str, count: int
) -> None:
    wait_until(
        lambda: len(_running_trials(storage, name)) >= count, 90, f"{count} running trial(s)"
    )
    run.send_signal(signal.SIGTERM)


@pytest.mark.timing
@pytest.mark.subprocess
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


@pytest.mark.timing
@pytest.mark.dask
@pytest.mark.subprocess
def test_sigterm_to_a_dask_driver_stops_the_study_and_interrupts_its_trials(
    tmp_path: Path, storage: Path, cluster: NannyDask
) -> None:
    spec = parallel_spec("parallel-term", 2, trial_seconds=60.0, epochs=60, trials=4)
    run = start_run(storage, write_spec(tmp_path, spec), "--dask", cluster.address)
    try:
        _terminate_once_running(run, storage, "parallel-term", 2)
        stopped_at = time.monotonic()
        _, stderr = run.communicate(timeout=30)
        took = time.monotonic() - stopped_at
    finally:
        run.kill()
    assert run.returncode == 128 + signal.SIGTERM, stderr
    assert "SIGTERM" in stderr and "Traceback" not in stderr
    assert took < 10
    assert _study_status(storage, "parallel-term") == StudyStatus.STOPPED
    trials = trials_of(storage, "parallel-term")
    assert [t.state for t in trials] == [TrialState.INTERRUPTED] * 2
    assert all("SIGTERM" in (t.error or "") for t in trials)
    # The cancelled tasks end on the workers too, not training on, orphaned.
    wait_until(cluster.idle, 20, "the workers to drop the cancelled trials")


# A stopped worker ---------------------------------------------------------------------


def _started_trials(storage: Path, name: str) -> dict[int, str]:
    """Running trials by number, with the name of the worker that started each."""
    with Store(storage) as store:
        study = store.get_study(name)
        if study is None:
            return {}
        workers = store.trial_workers(study.id)
        running = {t.number for t in store.trials(study.id) if t.state == TrialState.RUNNING}
    return {n: w.worker for n, w in workers.items() if n in running}


@pytest.mark.parametrize(
    ("in_spec", "flags"),
    [
        (3, []),  # the spec's field
        (600, ["--heartbeat-seconds", "3"]),  # the flag wins over the spec
    ],
    ids=["spec", "flag"],
)
@pytest.mark.dask
@pytest.mark.subprocess
def test_a_stopped_worker_is_given_up_after_the_heartbeat_and_its_trial_runs_elsewhere(
    tmp_path: Path, storage: Path, cluster: NannyDask, in_spec: float, flags: list[str]
) -> None:
    spec = parallel_spec("stalled", 2, trial_seconds=3.0, epochs=3, trials=3)
    spec["dask"] = {"heartbeat_seconds": in_spec}
    pids = cluster.worker_pids()
    run = start_run(storage, write_spec(tmp_path, spec), "--dask", cluster.address, *flags)
    stopped: int | None = None
    try:
        started = wait_until(lambda: _started_trials(storage, "stalled"), 60, "a trial to start")
        victim, worker = next(iter(started.items()))
        stopped = pids[worker]
        os.kill(stopped, signal.SIGSTOP)
        stopped_at = time.monotonic()
        stdout, stderr = run.communicate(timeout=90)
        took = time.monotonic() - stopped_at
    finally:
        run.kill()
        if stopped is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(stopped, signal.SIGCONT)
    assert run.returncode == 0, stderr
    trials = {t.number: t for t in trials_of(storage, "stalled")}
    assert trials[victim].state == TrialState.INTERRUPTED
    assert "sent nothing for 3 s" in (trials[victim].error or "")
    retries = [t for t in trials.values() if t.retry_of == victim]
    assert [t.state for t in retries] == [TrialState.COMPLETE]
    assert [t.state for t in trials.values()].count(TrialState.COMPLETE) == 3
    assert not [t for t in trials.values() if t.state == TrialState.RUNNING]
    assert _study_status(storage, "stalled") == StudyStatus.FINISHED
    assert took < 40, f"the study took {took:.0f} s after the stop"
    assert "study stalled: finished" in stdout


# The spec's dask object and the flags ---------------------------------------------------


def test_the_dask_field_takes_a_heartbeat_and_retries_and_refuses_bad_ones_in_a_sentence() -> None:
    from tuning_core.engine.spec import parse_spec

    plain = parse_spec(parallel_spec("fields", 2))
    assert (plain.heartbeat_seconds, plain.max_retries) == (60.0, 3)
    assert "dask" not in plain.to_json()  # specs from before the field read the same
    given = parse_spec({**parallel_spec("fields", 2), "dask": {"heartbeat_seconds": 5}})
    assert (given.heartbeat_seconds, given.max_retries) == (5.0, 3)
    assert parse_spec(given.to_json()) == given
    assert given.search_identity() == plain.search_identity()  # a resume may change them
    for dask, named in [
        ({"heartbeat_seconds": 0.5}, "dask.heartbeat_seconds"),
        ({"heartbeat_seconds": float("inf")}, "dask.heartbeat_seconds"),
        ({"max_retries": -1}, "dask.max_retries"),
        ({"max_retries": 2.5}, "dask.max_retries"),
        ({"retries": 2}, "dask.retries"),
        ([3], "dask must be an object"),
    ]:
        with pytest.raises(SpecError, match=named.replace(".", r"\.")):
            parse_spec({**parallel_spec("fields", 2), "dask": dask})


@pytest.mark.parametrize(("flag", "value"), [("--heartbeat-seconds", "0"), ("--max-retries", "-1")])
@pytest.mark.subprocess
def test_a_bad_fault_flag_gets_one_sentence_naming_it(
    tmp_path: Path, flag: str, value: str
) -> None:
    spec_path = write_spec(tmp_path, parallel_spec("flags", 2))
    result = run_cli("run", str(spec_path), flag, value, storage=tmp_path / "s.db")
    assert result.returncode == 2
    assert (
        result.stderr.startswith(f"error: {flag} must be from ")
        and len(result.stderr.strip().splitlines()) == 1
    )


# Workers that keep dying ----------------------------------------------------------------


class Killer:
    """Kills every worker process of ``cluster`` with SIGKILL every ``every`` seconds, in a
    thread, until stopped (their nannies start them again)."""

    def __init__(self, cluster: NannyDask, every: float) -> None:
        self.cluster, self.every, self.kills = cluster, every, 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.wait(self.every):
            try:
                pids = self.cluster.worker_pids()
            except Exception:  # noqa: BLE001 - the scheduler may be between workers
                continue
            for pid in pids.values():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                    self.kills += 1

    def stop(self) -> None:
        self.done.set()
        self.thread.join()


@pytest.mark.dask
@pytest.mark.subprocess
def test_workers_that_keep_dying_fail_their_trials_after_the_retries_and_end_the_study(
    tmp_path: Path, storage: Path, cluster: NannyDask
) -> None:
    spec = parallel_spec("dying", 2, trial_seconds=6.0, epochs=6, trials=6)
    spec_path = write_spec(tmp_path, spec)
    run = start_run(storage, spec_path, "--dask", cluster.address, "--max-retries", "1")
    killer: Killer | None = None
    try:
        wait_until(lambda: _started_trials(storage, "dying"), 60, "a trial to start")
        killer = Killer(cluster, every=2.0)
        started = time.monotonic()
        stdout, stderr = run.communicate(timeout=120)
        took = time.monotonic() - started
    finally:
        if killer is not None:
            killer.stop()
        run.kill()
    assert run.returncode == 2, stderr
    lines = stderr.strip().splitlines()
    assert lines[-1].startswith("error: the Dask workers keep dying"), stderr
    assert "Traceback" not in stderr
    trials = trials_of(storage, "dying")
    failed = [t for t in trials if t.state == TrialState.FAILED]
    assert len(failed) >= 2
    for trial in failed:
        assert "lost 2 times, more than the 1 retries allowed" in (trial.error or "")
        # Each failed trial retried one that was interrupted, with the same params.
        original = next(t for t in trials if t.number == trial.retry_of)
        assert original.state == TrialState.INTERRUPTED and original.params == trial.params
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    assert _study_status(storage, "dying") == StudyStatus.FAILED
    assert took < 90, f"the driver took {took:.0f} s to give up"
    print(f"{killer.kills} kills; the driver gave up after {took:.1f} s; {len(trials)} trials")


# A dead scheduler -----------------------------------------------------------------------


@pytest.mark.dask
@pytest.mark.subprocess
def test_a_dead_scheduler_is_named_and_the_study_stops_with_its_trials_interrupted(
    tmp_path: Path, storage: Path
) -> None:
    own = NannyDask(tmp_path)  # its own: this test kills the scheduler
    try:
        own.start_worker("w1")
        own.wait_for({"w1"})
        spec = parallel_spec("orphaned", 1, trial_seconds=60.0, epochs=60, trials=2)
        run = start_run(storage, write_spec(tmp_path, spec), "--dask", own.address)
        try:
            wait_until(lambda: _started_trials(storage, "orphaned"), 60, "a trial to start")
            own.scheduler.kill()
            started = time.monotonic()
            _, stderr = run.communicate(timeout=60)
            took = time.monotonic() - started
        finally:
            run.kill()
    finally:
        # Its worker still runs the orphaned trial, and its nanny waits 5 s on SIGTERM.
        for process in own.workers.values():
            for child in psutil.Process(process.pid).children(recursive=True):
                child.kill()
            process.kill()
        own.close()
    assert run.returncode == 2, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: the Dask scheduler at {own.address} stopped answering"), stderr
    assert "installed" not in stderr and "Traceback" not in stderr, stderr
    assert took < 20
    assert _study_status(storage, "orphaned") == StudyStatus.FAILED
    assert [t.state for t in trials_of(storage, "orphaned")] == [TrialState.INTERRUPTED]
