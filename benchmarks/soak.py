"""Soak: a fast function study under random ``kill -9``s, with readers polling all along.

A worker (``python -m tuning_core run``) runs a Bayesian Branin study whose trials take
``--trial-seconds``; every 0.5-2.5 s it is killed with SIGKILL and started again (which
resumes the study). Reader threads meanwhile list studies and read trials and metrics, as the
dashboard and CLI do. At the end it prints: kills survived, finished trials lost or changed
(every finished trial seen is remembered and checked again), "database is locked" errors
seen by readers, trials left running, SQLite's integrity check, and the WAL file's size.
Usage: python -m benchmarks.soak [--seconds 60] [--readers 2] [--trials 400]
"""

from __future__ import annotations

import argparse
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
    parser.add_argument("--trials", type=int, default=400)
    parser.add_argument("--trial-seconds", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
