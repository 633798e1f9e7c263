"""Parallel trials on Dask: a real ``dask scheduler`` with two ``dask worker`` processes on
127.0.0.1, and the LocalCluster a driver starts itself.

Function objectives with ``trial_seconds`` and ``epochs`` give trials that last long enough
to watch, kill and stop; one Keras study on digits checks that trials really overlap.
"""

from __future__ import annotations

import ast
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.conftest import ROOT, branin_spec, cli_env, digits_spec, run_cli, write_spec
from tuning_core import cli
from tuning_core.engine.records import IN_PROCESS_LANE, worker_timeline
from tuning_core.engine.space import parse_space
from tuning_core.engine.spec import parse_spec
from tuning_core.engine.states import StudyStatus, TrialState
from tuning_core.engine.storage import Store, TrialRecord, TrialWorker
from tuning_core.engine.strategies import BayesianStrategy


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class DaskProcesses:
    """A scheduler and named workers, each a real ``dask`` process on 127.0.0.1."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.port = _free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self.scheduler = self._start(
            "scheduler",
            ["scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard"],
        )

    def _start(self, name: str, arguments: list[str]) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        # The project on the workers' path is what "installed on every worker" means here.
        return subprocess.Popen(
            [sys.executable, "-m", "dask", *arguments],
            cwd=ROOT,
            env=cli_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )

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
                "--no-nanny",
                "--no-dashboard",
                "--host",
                "127.0.0.1",
            ],
        )

    def wait_for(self, names: set[str], timeout: float = 90) -> None:
        from distributed import Client

        def ready() -> bool:
            try:
                with Client(self.address, timeout=5, set_as_default=False) as client:
                    info = client.scheduler_info(n_workers=-1)["workers"].values()
                    return names <= {str(worker["name"]) for worker in info}
            except OSError:
                return False

        wait_until(ready, timeout, f"dask workers {sorted(names)}")

    def idle(self) -> bool:
        """Whether no task runs on any worker (by the workers' own account: the scheduler
        forgets a cancelled task at once, while its thread may still run)."""
        from distributed import Client

        with Client(self.address, timeout=5, set_as_default=False) as client:
            executing = client.run(lambda dask_worker: len(dask_worker.state.tasks))
            return not any(executing.values())

    def kill(self, name: str) -> None:
        os.kill(self.workers[name].pid, signal.SIGKILL)
        self.workers.pop(name).wait(timeout=10)

    def close(self) -> None:
        # The workers before their scheduler: a worker whose scheduler went first waits to
        # reconnect until it is killed (about 10 s for two, against 3 s in this order).
        for processes in (list(self.workers.values()), [self.scheduler]):
            for process in processes:
                if process.poll() is None:
                    process.terminate()
            for process in processes:
                try:
                    # A worker whose task thread is still running may not exit on SIGTERM.
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskProcesses]:
    cluster = DaskProcesses(tmp_path_factory.mktemp("dask-logs"))
    try:
        cluster.start_worker("w1")
        cluster.start_worker("w2")
        cluster.wait_for({"w1", "w2"})
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def both_workers(dask_cluster: DaskProcesses) -> DaskProcesses:
    """The module's cluster with w1 and w2 up (a test before may have killed one)."""
    for name in ("w1", "w2"):
        if name not in dask_cluster.workers:
            dask_cluster.start_worker(name)
    dask_cluster.wait_for({"w1", "w2"})
    return dask_cluster


def parallel_spec(name: str, parallel: int, **objective: Any) -> dict[str, Any]:
    spec = branin_spec(name, trials=objective.pop("trials", 4), **objective)
    spec["parallel"] = parallel
    return spec


def start_run(storage: Path, spec_path: Path, *extra: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tuning_core", "run", str(spec_path), *extra],
        cwd=ROOT,
        env={**cli_env(storage), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def trials_of(storage: Path, name: str) -> list[TrialRecord]:
    with Store(storage) as store:
        study = store.get_study(name)
        return [] if study is None else store.trials(study.id)


def finished(trials: list[TrialRecord]) -> dict[int, tuple[str, float | None, dict[str, Any]]]:
    return {t.number: (t.state.value, t.value, t.params) for t in trials if t.state.is_finished()}


@pytest.mark.dask
@pytest.mark.subprocess
def test_a_study_across_real_dask_workers_shows_live_epochs_and_survives_a_kill_9(
    tmp_path: Path, storage: Path, both_workers: DaskProcesses
) -> None:
    spec = parallel_spec("across", 2, trial_seconds=4.0, epochs=8, trials=3)
    run = start_run(storage, write_spec(tmp_path, spec), "--dask", both_workers.address)
    try:

        def running_with_epochs() -> list[tuple[TrialRecord, TrialWorker]]:
            with Store(storage) as store:
                study = store.get_study("across")
                if study is None:
                    return []
                workers = store.trial_workers(study.id)
                live = {number for number, _, _, _ in store.epoch_metrics(study.id, False)}
                return [
                    (t, workers[t.number])
                    for t in store.trials(study.id)
                    if t.state == TrialState.RUNNING and t.number in live and t.number in workers
                ]

        # Epochs reach the store while their trials still run.
        running = wait_until(running_with_epochs, 60, "a running trial with stored epochs")
        victim, ran_on = running[0]
        before = finished(trials_of(storage, "across"))
        both_workers.kill(ran_on.worker)
        stdout, stderr = run.communicate(timeout=120)
    finally:
        run.kill()
    assert run.returncode == 0, stderr
    trials = {t.number: t for t in trials_of(storage, "across")}
    assert trials[victim.number].state == TrialState.INTERRUPTED
    assert "died" in (trials[victim.number].error or "")
    retries = [t for t in trials.values() if t.retry_of == victim.number]
    assert [t.state for t in retries] == [TrialState.COMPLETE]
    assert retries[0].params == victim.params
    states = [t.state for t in trials.values()]
    assert states.count(TrialState.COMPLETE) == 3
    assert len(states) == 3 + states.count(TrialState.INTERRUPTED)
    # Nothing finished before the kill changed, and every complete trial kept all its epochs.
    assert {n: finished(list(trials.values()))[n] for n in before} == before
    with Store(storage) as store:
        study = store.get_study("across")
        rows = store.epoch_metrics(study.id, True)
        workers = store.trial_workers(study.id)
    for trial in trials.values():
        if trial.state == TrialState.COMPLETE:
            assert sorted(e for n, e, _, _ in rows if n == trial.number) == list(range(8))
    bars = worker_timeline(list(trials.values()), workers)
    assert {bar.number for bar in bars} == set(trials)
    assert {bar.worker for bar in bars} <= {"w1", "w2"}
    assert "study across: finished" in stdout


@pytest.mark.dask
@pytest.mark.subprocess
def test_a_stop_from_the_store_reaches_running_tasks_within_seconds(
    tmp_path: Path, storage: Path, both_workers: DaskProcesses
) -> None:
    spec = parallel_spec("stopped", 2, trial_seconds=40.0, epochs=40, trials=4)
    run = start_run(storage, write_spec(tmp_path, spec), "--dask", both_workers.address)
    try:

        def two_started() -> bool:
            with Store(storage) as store:
                study = store.get_study("stopped")
                return study is not None and len(store.trial_workers(study.id)) == 2

        wait_until(two_started, 60, "two trials started on workers")
        assert run_cli("stop", "stopped", storage=storage).returncode == 0
        asked = time.monotonic()
        wait_until(
            lambda: all(t.state.is_finished() for t in trials_of(storage, "stopped")),
            10,
            "the running trials to end",
        )
        latency = time.monotonic() - asked
        stdout, stderr = run.communicate(timeout=60)
    finally:
        run.kill()
    assert run.returncode == 0, stderr
    assert latency < 3.0, latency
    trials = trials_of(storage, "stopped")
    assert [(t.state, t.error) for t in trials] == [
        (TrialState.INTERRUPTED, "stopped on request")
    ] * 2
    with Store(storage) as store:
        assert store.get_study("stopped").status == StudyStatus.STOPPED
    assert "stopped (stopped on request)" in stdout


@pytest.mark.dask
@pytest.mark.subprocess
def test_pruning_across_workers_decides_from_the_driver(
    tmp_path: Path, storage: Path, both_workers: DaskProcesses
) -> None:
    spec = parallel_spec("pruned", 2, trial_seconds=0.6, epochs=4, trials=10)
    spec["pruner"] = {"type": "median", "warmup_trials": 2, "warmup_epochs": 0}
    result = run_cli(
        "run", str(write_spec(tmp_path, spec)), "--dask", both_workers.address, storage=storage
    )
    assert result.returncode == 0, result.stderr
    with Store(storage) as store:
        study = store.get_study("pruned")
        decisions = {d.trial_number: d for d in store.prune_decisions(study.id)}
        rows = store.epoch_metrics(study.id)
        trials = store.trials(study.id)
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    assert pruned and set(decisions) == {t.number for t in pruned}
    for trial in pruned:
        epoch = decisions[trial.number].epoch
        # The task stopped after the epoch it was pruned at, and its value is that cut's.
        assert max(e for n, e, _, _ in rows if n == trial.number) == epoch < 3
        assert trial.value == pytest.approx(decisions[trial.number].value)
        assert decisions[trial.number].compared >= 2
    assert sum(t.state.counts_against_budget() for t in trials) == 10


def test_a_bayesian_search_never_proposes_a_pending_point_twice() -> None:
    space = parse_space(
        {
            "x1": {"type": "float", "low": -5, "high": 10},
            "x2": {"type": "float", "low": 0, "high": 15},
        }
    )
    strategy = BayesianStrategy(space, "GP", "EI", 3, 0)
    for _ in range(4):
        point = strategy.ask()
        strategy.tell(point, point["x1"] ** 2 + point["x2"])
    # Once the surrogate proposes, a plain ask repeats itself until the next tell ...
    assert strategy.ask() == strategy.ask()
    # ... so a copy is told its own predictions at pending points; the strategy learns nothing.
    pending: list[dict[str, Any]] = []
    for _ in range(4):
        pending.append(strategy.ask_with_pending(pending))
    assert len({tuple(p.values()) for p in pending}) == 4
    assert len(strategy.optimizer.Xi) == 4


@pytest.mark.dask
@pytest.mark.subprocess
def test_a_bayesian_parallel_study_proposes_distinct_points(
    tmp_path: Path, storage: Path, both_workers: DaskProcesses
) -> None:
    spec = parallel_spec("bayes", 2, trial_seconds=0.5, trials=8)
    spec["strategy"] = {"type": "bayesian", "initial_points": 2, "seed": 1}
    result = run_cli(
        "run", str(write_spec(tmp_path, spec)), "--dask", both_workers.address, storage=storage
    )
    assert result.returncode == 0, result.stderr
    trials = trials_of(storage, "bayes")
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 8
    assert len({(t.params["x1"], t.params["x2"]) for t in trials}) == 8
    with Store(storage) as store:  # the Why this point? page has every proposal to explain
        asks = store.asks(store.get_study("bayes").id)
    assert sorted(asks) == list(range(8)) and asks[0][0] and not asks[7][0]


def _worker_pid_listening_on(driver: int, address: str) -> int:
    port = int(address.rsplit(":", 1)[1])
    for child in psutil.Process(driver).children(recursive=True):
        with_port = [c for c in child.net_connections("tcp") if c.laddr.port == port]
        if any(c.status == psutil.CONN_LISTEN for c in with_port):
            return child.pid
    raise AssertionError(f"no worker process listens on {address}")


@pytest.mark.dask
@pytest.mark.subprocess
def test_a_local_cluster_worker_killed_mid_trial_gets_the_trial_retried(
    tmp_path: Path, storage: Path
) -> None:
    # With no failures allowed, Dask reports the death as KilledWorker instead of rerunning
    # the task: the driver's other path.
    spec = parallel_spec("killed", 2, trial_seconds=3.0, epochs=6, trials=3)
    run = start_run(
        storage,
        write_spec(tmp_path, spec),
        DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="0",
    )
    try:

        def started() -> dict[int, TrialWorker]:
            with Store(storage) as store:
                study = store.get_study("killed")
                return {} if study is None else store.trial_workers(study.id)

        workers = wait_until(started, 90, "a trial to start on a local worker")
        number, ran_on = next(iter(workers.items()))
        os.kill(_worker_pid_listening_on(run.pid, ran_on.address), signal.SIGKILL)
        stdout, stderr = run.communicate(timeout=120)
    finally:
        run.kill()
    assert run.returncode == 0, stderr
    trials = {t.number: t for t in trials_of(storage, "killed")}
    assert trials[number].state == TrialState.INTERRUPTED
    assert "gave up" in (trials[number].error or "")
    retry = [t for t in trials.values() if t.retry_of == number]
    assert [t.state for t in retry] == [TrialState.COMPLETE]
    assert [t.state for t in trials.values()].count(TrialState.COMPLETE) == 3
    assert "it will be retried" in stdout


@pytest.mark.dask
@pytest.mark.subprocess
def test_a_killed_driver_resumes_and_keeps_every_finished_trial(
    tmp_path: Path, storage: Path
) -> None:
    spec = parallel_spec("resumed", 2, trial_seconds=1.5, epochs=3, trials=5)
    spec["strategy"] = {"type": "bayesian", "initial_points": 2, "seed": 0}
    spec_path = write_spec(tmp_path, spec)
    run = start_run(storage, spec_path)
    try:
        wait_until(
            lambda: (
                len(finished(trials_of(storage, "resumed"))) >= 3
                and any(t.state == TrialState.RUNNING for t in trials_of(storage, "resumed"))
            ),
            120,
            "three finished trials and one running",
        )
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=10)
    finally:
        run.kill()
    before = trials_of(storage, "resumed")
    left_running = {t.number for t in before if t.state == TrialState.RUNNING}
    result = run_cli("run", str(spec_path), storage=storage, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "from the snapshot" in result.stdout
    after = trials_of(storage, "resumed")
    assert {n: finished(after)[n] for n in finished(before)} == finished(before)
    by_number = {t.number: t for t in after}
    for number in left_running:
        assert by_number[number].state == TrialState.INTERRUPTED
        assert any(t.retry_of == number and t.state.is_finished() for t in after)
    assert sum(t.state.counts_against_budget() for t in after) == 5
    assert len({(t.params["x1"], t.params["x2"]) for t in after if t.retry_of is None}) == len(
        [t for t in after if t.retry_of is None]
    )


@pytest.mark.dask
@pytest.mark.subprocess
@pytest.mark.keras
def test_keras_trials_on_digits_run_at_once_on_a_local_cluster(
    tmp_path: Path, storage: Path
) -> None:
    spec = digits_spec("digits-parallel", trials=2)
    spec["parallel"] = 2
    run = start_run(storage, write_spec(tmp_path, spec))
    try:
        # Handed out at once: the driver stores a trial when it submits it, so both rows
        # unfinished together means the second went out before the first came back (a run one
        # at a time never shows that). The workers' own starts need not overlap: one may still
        # be importing TensorFlow when the other has trained.
        handed_out = two_unfinished_before_the_end(storage, "digits-parallel", run)
        stdout, stderr = run.communicate(timeout=300)
    finally:
        run.kill()
    assert handed_out, stdout
    assert run.returncode == 0, stderr
    with Store(storage) as store:
        study = store.get_study("digits-parallel")
        trials = store.trials(study.id)
        workers = store.trial_workers(study.id)
        epochs = store.epoch_metrics(study.id)
        batches = [store.batch_losses(study.id, t.number) for t in trials]
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2
    assert {(n, e) for n, e, name, _ in epochs if name == "val_accuracy"} == {
        (t.number, e) for t in trials for e in (0, 1)
    }
    assert all(len(losses) >= 2 for losses in batches)
    assert len({bar.worker for bar in worker_timeline(trials, workers)}) == 2


def two_unfinished_before_the_end(
    storage: Path, name: str, run: subprocess.Popen[str], timeout: float = 300
) -> bool:
    """Whether, before ``run`` ended, the study held two trials and neither had finished."""
    deadline = time.monotonic() + timeout
    while run.poll() is None and time.monotonic() < deadline:
        trials = trials_of(storage, name)
        if len(trials) == 2 and not any(t.state.is_finished() for t in trials):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize(
    ("parallel", "shown"), [(0, "0"), (65, "65"), ("2", "'2'"), (True, "True"), (1.5, "1.5")]
)
def test_a_bad_parallel_value_gets_one_sentence_naming_it(
    tmp_path: Path,
    storage: Path,
    capsys: pytest.CaptureFixture[str],
    parallel: Any,
    shown: str,
) -> None:
    spec = parallel_spec("bad", 2)
    spec["parallel"] = parallel
    assert cli.main(["run", str(write_spec(tmp_path, spec))]) == 2
    error = capsys.readouterr().err
    assert error == (
        "error: parallel must be a whole number of trials to run at once, from 1 to 64, not "
        f"{shown}.\n"
    )


@pytest.mark.parametrize(
    "address", ["http://127.0.0.1:8786", "scheduler", "tcp://127.0.0.1", "tcp://a b:1"]
)
def test_an_address_that_is_not_a_dask_url_gets_one_sentence(
    tmp_path: Path, storage: Path, capsys: pytest.CaptureFixture[str], address: str
) -> None:
    spec_path = write_spec(tmp_path, parallel_spec("bad-address", 2))
    assert cli.main(["run", str(spec_path), "--dask", address]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: --dask must be a Dask scheduler address such as tcp://")
    assert error.count("\n") == 1
    assert not storage.exists()


@pytest.mark.subprocess
def test_an_unreachable_scheduler_gets_one_sentence_and_exit_2(
    tmp_path: Path, storage: Path
) -> None:
    spec_path = write_spec(tmp_path, parallel_spec("nobody-home", 2))
    address = f"tcp://127.0.0.1:{_free_port()}"
    started = time.monotonic()
    run = start_run(storage, spec_path, TUNING_LAB_DASK=address)
    stdout, stderr = run.communicate(timeout=60)
    assert run.returncode == 2
    assert stderr.startswith(f"error: --dask: no Dask scheduler answered at '{address}'")
    assert "Traceback" not in stderr
    assert time.monotonic() - started < 30
    assert "nobody-home" not in {s.name for s in Store(storage).studies()}


@pytest.mark.subprocess
def test_parallel_1_never_imports_dask_and_only_the_parallel_package_does(
    tmp_path: Path, storage: Path
) -> None:
    spec_path = write_spec(tmp_path, branin_spec("sequential", trials=2))
    probe = (
        "import sys; from tuning_core.cli import main; "
        f"code = main(['run', {str(spec_path)!r}]); "
        "print(code, sorted(m for m in ('dask', 'distributed') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=cli_env(storage),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.strip().splitlines()[-1] == "0 []", result.stderr
    importers = []
    for path in sorted((ROOT / "tuning_core").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(name.split(".")[0] in ("dask", "distributed") for name in names):
                importers.append(path.relative_to(ROOT).as_posix())
    assert importers and all(p.startswith("tuning_core/engine/parallel/") for p in importers)


def _trial(number: int, state: TrialState, started: float, ended: float | None) -> TrialRecord:
    return TrialRecord(number + 100, number, {}, state, None, None, None, None, started, ended)


def test_the_worker_timeline_has_one_lane_per_worker_ordered_by_start() -> None:
    trials = [
        _trial(0, TrialState.COMPLETE, 10.0, 20.0),
        _trial(1, TrialState.INTERRUPTED, 11.0, 15.0),
        _trial(2, TrialState.RUNNING, 12.0, None),
        _trial(3, TrialState.COMPLETE, 1.0, 5.0),
    ]
    workers = {
        0: TrialWorker("0", "tcp://127.0.0.1:1", 10.5),
        1: TrialWorker("1", "tcp://127.0.0.1:2", 11.0),
        2: TrialWorker("1", "tcp://127.0.0.1:3", 16.0),  # restarted: same name, new address
    }
    bars = worker_timeline(trials, workers)
    assert [(b.number, b.worker, b.started_at, b.finished_at, b.state) for b in bars] == [
        (3, IN_PROCESS_LANE, 1.0, 5.0, TrialState.COMPLETE),
        (0, "0", 10.5, 20.0, TrialState.COMPLETE),
        (1, "1", 11.0, 15.0, TrialState.INTERRUPTED),
        (2, "1", 16.0, None, TrialState.RUNNING),
    ]


def test_a_store_from_before_parallel_trials_gains_the_worker_table(storage: Path) -> None:
    with Store(storage) as store:
        study_id = store.create_study(parse_spec(branin_spec()))
        trial_id = store.start_trial(study_id, 0, {"x1": 0.0, "x2": 0.0})
        store.connection.execute("DROP TABLE trial_workers")
    with Store(storage) as store:
        store.record_trial_worker(trial_id, "w1", "tcp://127.0.0.1:9", 5.0)
        assert store.trial_workers(study_id) == {0: TrialWorker("w1", "tcp://127.0.0.1:9", 5.0)}
        assert store.trials(study_id)[0].started_at == 5.0


@pytest.mark.dask
@pytest.mark.subprocess
def test_a_killed_drivers_trials_stop_on_remote_workers(
    tmp_path: Path, storage: Path, both_workers: DaskProcesses
) -> None:
    # Dask cannot interrupt a running task: without the task noticing that its driver is
    # gone, both workers would train the orphans for 60 s before the next driver's trials.
    spec_path = write_spec(tmp_path, parallel_spec("orphans", 2, trial_seconds=60.0, epochs=60))
    first = start_run(storage, spec_path, "--dask", both_workers.address)

    def started_on_workers() -> int:
        with Store(storage) as store:
            study = store.get_study("orphans")
            return 0 if study is None else len(store.trial_workers(study.id))

    try:
        wait_until(lambda: started_on_workers() == 2, 60, "two trials on the two workers")
    finally:
        first.kill()
        first.wait()
    second = start_run(storage, spec_path, "--dask", both_workers.address)
    try:
        killed = time.monotonic()
        wait_until(lambda: started_on_workers() == 4, 30, "the next driver's trials to start")
        assert time.monotonic() - killed < 15
    finally:
        second.kill()
        second.wait()
    wait_until(both_workers.idle, 15, "the second driver's orphans to stop too")
    states = [t.state for t in trials_of(storage, "orphans")]
    assert states[:2] == [TrialState.INTERRUPTED] * 2


def _run_in_process(storage: Path, spec: dict[str, Any], **options: Any) -> list[str]:
    from tuning_core.engine.parallel import run_parallel_study
    from tuning_core.training.factory import objective_for

    lines: list[str] = []
    with Store(storage) as store:
        run_parallel_study(parse_spec(spec), store, objective_for, log=lines.append, **options)
    return lines


@pytest.mark.dask
def test_local_workers_restart_after_their_trial_count_keeping_their_lanes(storage: Path) -> None:
    spec = parallel_spec("recycled", 2, trial_seconds=0.3, trials=6)
    lines = _run_in_process(storage, spec, restart_every=2)
    assert not [line for line in lines if "could not restart" in line]
    with Store(storage) as store:
        workers = store.trial_workers(store.get_study("recycled").id)
    # Each worker process served at most 2 trials; a restarted worker keeps its name (lane).
    per_address: dict[str, int] = {}
    for ran_on in workers.values():
        per_address[ran_on.address] = per_address.get(ran_on.address, 0) + 1
    assert max(per_address.values()) <= 2 and len(per_address) >= 3
    assert {ran_on.worker for ran_on in workers.values()} == {"0", "1"}


@pytest.mark.dask
@pytest.mark.subprocess
def test_workers_without_a_nanny_are_not_restarted_and_the_study_goes_on(
    storage: Path, both_workers: DaskProcesses
) -> None:
    spec = parallel_spec("no-nanny", 2, trial_seconds=0.2, trials=4)
    lines = _run_in_process(storage, spec, address=both_workers.address, restart_every=1)
    refusals = [line for line in lines if "could not restart" in line]
    assert 1 <= len(refusals) <= 2 and "nanny" in refusals[0]
    assert [t.state for t in trials_of(storage, "no-nanny")] == [TrialState.COMPLETE] * 4


def test_the_time_budget_counts_the_wall_time_trials_covered_not_their_sum() -> None:
    from tuning_core.engine.study import _busy_seconds

    one_after_another = [
        _trial(0, TrialState.COMPLETE, 0.0, 1.0),
        _trial(1, TrialState.FAILED, 1.5, 3.0),
    ]
    overlapping = [
        _trial(0, TrialState.COMPLETE, 0.0, 4.0),
        _trial(1, TrialState.COMPLETE, 1.0, 3.0),
        _trial(2, TrialState.INTERRUPTED, 2.0, 6.0),
        _trial(3, TrialState.COMPLETE, 10.0, 11.0),
    ]
    assert _busy_seconds(one_after_another) == pytest.approx(2.5)
    assert _busy_seconds(overlapping) == pytest.approx(7.0)
