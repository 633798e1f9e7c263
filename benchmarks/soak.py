"""Soak: a fast function study under random ``kill -9``s, with readers polling all along.

A worker (``python -m tuning_core run``) runs a Bayesian Branin study whose trials take
``--trial-seconds``; every 0.5-2.5 s it is killed with SIGKILL and started again (which
resumes the study). Reader threads meanwhile list studies and read trials and metrics, as the
dashboard and CLI do. At the end it prints: kills survived, finished trials lost or changed
(every finished trial seen is remembered and checked again), "database is locked" errors
seen by readers, trials left running, SQLite's integrity check, and the WAL file's size.
Usage: python -m benchmarks.soak [--seconds 60] [--readers 2] [--trials 400]

With ``--parallel N`` it soaks a Dask study instead: a real ``dask scheduler`` and N ``dask
worker`` processes (with nannies) on 127.0.0.1, and one driver (``run --dask``) running N
trials at once. Every 1.5-4 s one worker process, at random, is killed with SIGKILL (its
nanny starts it again) or stopped with SIGSTOP for 1 s to twice the heartbeat, then
continued (if the driver has not had it dropped by then). After ``--seconds`` the faults
stop and the driver finishes the study. It prints the faults, trials lost (finished trials
that changed, plus interrupted trials whose params never finished in a retry), trials left
running, the study's state and the driver's exit code, and the time to finish.
Usage: python -m benchmarks.soak --parallel 3 [--seconds 60] [--trials 60] [--heartbeat 5]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from tuning_core.engine.states import TrialState
from tuning_core.engine.storage import Store

ROOT = Path(__file__).resolve().parents[1]


def start_worker(spec_path: Path, storage: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), TUNING_LAB_STORAGE=str(storage))
    return subprocess.Popen(
        [sys.executable, "-m", "tuning_core", "run", str(spec_path)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def finished_trials(storage: Path) -> dict[int, tuple]:
    with Store(storage) as store:
        study = store.get_study("soak")
        if study is None:
            return {}
        return {
            t.number: (t.state, t.value, json.dumps(t.params, sort_keys=True))
            for t in store.trials(study.id)
            if t.state.is_finished()
        }


def reader(storage: Path, stop: threading.Event, errors: list[str], reads: list[int]) -> None:
    """Read as the dashboard does, counting any lock error (WAL readers should see none)."""
    while not stop.is_set():
        try:
            with Store(storage) as store:
                for study in store.studies():
                    store.trials(study.id)
                    store.epoch_metrics(study.id)
                    store.fingerprint(study.id)
            reads.append(1)
        except sqlite3.OperationalError as error:
            errors.append(str(error))
        time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--trials", type=int, default=None, help="400; 60 with --parallel")
    parser.add_argument("--trial-seconds", type=float, default=None, help="0.1; 2 with --parallel")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--parallel", type=int, default=0, help="soak a Dask study on this many workers"
    )
    parser.add_argument(
        "--heartbeat", type=float, default=5.0, help="the driver's --heartbeat-seconds"
    )
    parser.add_argument(
        "--logs", type=Path, default=None, help="with --parallel, keep the processes' logs here"
    )
    args = parser.parse_args()
    if args.parallel:
        soak_dask(args)
        return
    args.trials = args.trials or 400
    args.trial_seconds = args.trial_seconds or 0.1
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as work:
        storage = Path(work) / "soak.db"
        spec_path = Path(work) / "soak.json"
        unit = {"type": "float", "low": -5, "high": 10}
        spec_path.write_text(json.dumps({
            "name": "soak",
            "objective": {
                "type": "function", "name": "branin", "trial_seconds": args.trial_seconds
            },
            "space": {"x1": unit, "x2": {"type": "float", "low": 0, "high": 15}},
            "strategy": {"type": "bayesian", "initial_points": 5, "seed": 1},
            "budget": {"trials": args.trials},
        }))  # fmt: skip
        Store(storage).close()
        stop, errors, reads = threading.Event(), [], []
        threads = [
            threading.Thread(target=reader, args=(storage, stop, errors, reads), daemon=True)
            for _ in range(args.readers)
        ]
        for thread in threads:
            thread.start()
        seen: dict[int, tuple] = {}
        lost, kills, deadline = 0, 0, time.monotonic() + args.seconds
        worker = start_worker(spec_path, storage)
        while time.monotonic() < deadline:
            time.sleep(rng.uniform(0.5, 2.5))
            if worker.poll() is None:
                worker.send_signal(signal.SIGKILL)
                worker.wait()
                kills += 1
            now = finished_trials(storage)
            lost += sum(1 for n, row in seen.items() if now.get(n) != row)
            seen.update(now)
            worker = start_worker(spec_path, storage)
        worker.wait(timeout=600)  # the last run finishes the study, unkilled
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        final = finished_trials(storage)
        lost += sum(1 for n, row in seen.items() if final.get(n) != row)
        with Store(storage) as store:
            study = store.get_study("soak")
            trials = store.trials(study.id)
            integrity = store.connection.execute("PRAGMA integrity_check").fetchone()[0]
        wal = Path(f"{storage}-wal")
        running = sum(t.state == TrialState.RUNNING for t in trials)
        complete = sum(t.state == TrialState.COMPLETE for t in trials)
        interrupted = sum(t.state == TrialState.INTERRUPTED for t in trials)
        print(f"kills survived: {kills}")
        print(f"finished trials lost or changed: {lost} (of {len(final)} finished)")
        print(f"complete {complete}, interrupted (retried) {interrupted}, left running {running}")
        print(f"reader passes: {len(reads)}, 'database is locked' errors: {len(errors)}")
        print(f"study status: {study.status}; integrity check: {integrity}")
        print(
            f"WAL size: {wal.stat().st_size / 1e6:.2f} MB" if wal.exists() else "WAL: checkpointed"
        )


# The parallel mode -----------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _dask(arguments: list[str], log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "dask", *arguments],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def _worker_processes(nannies: list[subprocess.Popen[bytes]]) -> list[psutil.Process]:
    """The processes that run tasks: each nanny's spawned child (not its resource tracker).
    Found from the process tree, because a stopped worker cannot answer ``client.run``."""
    found = []
    for nanny in nannies:
        with contextlib.suppress(psutil.NoSuchProcess):
            for child in psutil.Process(nanny.pid).children():
                with contextlib.suppress(psutil.NoSuchProcess):
                    if "spawn_main" in " ".join(child.cmdline()):
                        found.append(child)
    return found


class Chaos:
    """Kills or stops a random worker process every 1.5-4 s, in a thread, until stopped."""

    def __init__(self, nannies: list[subprocess.Popen[bytes]], heartbeat: float, seed: int) -> None:
        self.nannies, self.heartbeat = nannies, heartbeat
        self.rng = random.Random(seed)
        self.kills = self.stops = self.stops_past_heartbeat = 0
        self.stopped: dict[int, float] = {}  # pid -> when to continue it
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _continue_due(self, everything: bool = False) -> None:
        for pid, due in list(self.stopped.items()):
            if everything or time.monotonic() >= due:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)  # it may have been dropped (killed) already
                del self.stopped[pid]

    def _run(self) -> None:
        next_fault = time.monotonic() + self.rng.uniform(1.5, 4.0)
        while not self.done.wait(0.1):
            self._continue_due()
            if time.monotonic() < next_fault:
                continue
            next_fault = time.monotonic() + self.rng.uniform(1.5, 4.0)
            running = [p for p in _worker_processes(self.nannies) if p.pid not in self.stopped]
            if not running:
                continue
            victim = self.rng.choice(running)
            with contextlib.suppress(ProcessLookupError):
                if self.rng.random() < 0.5:
                    os.kill(victim.pid, signal.SIGKILL)
                    self.kills += 1
                else:
                    pause = self.rng.uniform(1.0, 2 * self.heartbeat)
                    os.kill(victim.pid, signal.SIGSTOP)
                    self.stopped[victim.pid] = time.monotonic() + pause
                    self.stops += 1
                    self.stops_past_heartbeat += pause > self.heartbeat

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.done.set()
        self.thread.join()
        self._continue_due(everything=True)


def soak_dask(args: argparse.Namespace) -> None:
    """The parallel mode: see the module's docstring."""
    trials = args.trials or 60
    trial_seconds = args.trial_seconds or 2.0
    with tempfile.TemporaryDirectory() as work:
        storage, spec_path = Path(work) / "soak.db", Path(work) / "soak.json"
        spec_path.write_text(json.dumps({
            "name": "soak",
            "objective": {
                "type": "function", "name": "branin", "trial_seconds": trial_seconds, "epochs": 4
            },
            "space": {
                "x1": {"type": "float", "low": -5, "high": 10},
                "x2": {"type": "float", "low": 0, "high": 15},
            },
            "strategy": {"type": "random", "seed": args.seed},
            "budget": {"trials": trials},
            "parallel": args.parallel,
        }))  # fmt: skip
        address = f"tcp://127.0.0.1:{_free_port()}"
        logs = args.logs or Path(work)
        logs.mkdir(parents=True, exist_ok=True)
        scheduler = _dask(
            ["scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
             "--no-dashboard"],
            logs / "scheduler.log",
        )  # fmt: skip
        nannies = [
            _dask(
                [
                    "worker",
                    address,
                    "--name",
                    f"w{i}",
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                ],
                logs / f"w{i}.log",
            )  # fmt: skip
            for i in range(args.parallel)
        ]
        chaos = Chaos(nannies, args.heartbeat, args.seed)
        try:
            while len(_worker_processes(nannies)) < args.parallel:
                time.sleep(0.5)
            time.sleep(3)  # the workers register with the scheduler
            env = dict(os.environ, PYTHONPATH=str(ROOT), TUNING_LAB_STORAGE=str(storage))
            started = time.monotonic()
            with (logs / "driver.log").open("w") as out:
                driver = subprocess.Popen(
                    [sys.executable, "-m", "tuning_core", "run", str(spec_path), "--dask",
                     address, "--heartbeat-seconds", f"{args.heartbeat:g}"],
                    cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                )  # fmt: skip
            chaos.start()
            seen: dict[int, tuple] = {}
            changed = 0
            deadline = started + args.seconds
            while time.monotonic() < deadline and driver.poll() is None:
                time.sleep(1.0)
                with contextlib.suppress(sqlite3.OperationalError):
                    now = finished_trials(storage)
                    changed += sum(1 for n, row in seen.items() if now.get(n) != row)
                    seen.update(now)
            chaos.stop()
            faults_ended = time.monotonic()
            try:
                code = driver.wait(timeout=600)
            except subprocess.TimeoutExpired:
                driver.kill()
                code = driver.wait()
            finished_at = time.monotonic()
        finally:
            chaos.stop() if chaos.thread.is_alive() else chaos._continue_due(everything=True)
            for process in [*nannies, scheduler]:
                process.terminate()
            for process in [*nannies, scheduler]:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
        final = finished_trials(storage)
        changed += sum(1 for n, row in seen.items() if final.get(n) != row)
        with Store(storage) as store:
            study = store.get_study("soak")
            rows = store.trials(study.id) if study else []
        by_state = {state: sum(t.state == state for t in rows) for state in TrialState}
        # An interrupted trial is lost unless a retry of it (or of its retry...) finished.
        retried_by = {t.retry_of: t for t in rows if t.retry_of is not None}
        unfinished = 0
        for trial in rows:
            if trial.state != TrialState.INTERRUPTED:
                continue
            follow = trial
            while follow.state == TrialState.INTERRUPTED and follow.number in retried_by:
                follow = retried_by[follow.number]
            unfinished += follow.state in (TrialState.INTERRUPTED, TrialState.RUNNING)
        tail = (logs / "driver.log").read_text().strip().splitlines()[-1:]
        print(f"workers: {args.parallel}, trial: {trial_seconds:g} s, budget: {trials} trials")
        print(
            f"faults over {faults_ended - started:.0f} s: {chaos.kills} kills, {chaos.stops} "
            f"stops ({chaos.stops_past_heartbeat} longer than the {args.heartbeat:g} s heartbeat)"
        )
        print(
            f"trials lost: {changed + unfinished} ({changed} finished trials changed, "
            f"{unfinished} interrupted trials never finished in a retry)"
        )
        print(f"trials left running: {by_state[TrialState.RUNNING]}")
        print(
            "trials: "
            + ", ".join(f"{state.value} {count}" for state, count in by_state.items() if count)
        )
        print(
            f"study: {study.status.value if study else 'none'}; driver exit code {code}: "
            f"{tail[0] if tail else ''}"
        )
        print(
            f"time to finish: {finished_at - started:.1f} s ({finished_at - faults_ended:.1f} s "
            "after the faults stopped)"
        )


if __name__ == "__main__":
    main()
