"""How long a stop request takes to end a Keras trial: batch size 1, a big MLP, on digits.

Starts a worker (``python -m tuning_core run``), waits for its first in-epoch loss, asks it to
stop through the store (as the dashboard's Stop button does), and prints the seconds until the
trial is recorded as interrupted and until the process exits. Before the stop was checked per
batch and raised out of ``fit``, this case took 13.5 s here (the rest of the epoch's batches
until the next poll, then the epoch's validation pass); the probe saw over 30 s.
Usage: python -m benchmarks.stop_latency [--units 4096] [--layers 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tuning_core.engine.storage import Store

ROOT = Path(__file__).resolve().parents[1]


def measure(work: Path, units: int, layers: int, run: int) -> tuple[float, float]:
    storage = work / f"stop-{run}.db"
    spec = {
        "name": "stop",
        "objective": {"type": "keras", "dataset": "digits", "model": "mlp", "epochs": 5},
        "space": {"learning_rate": 0.001, "units": units, "hidden_layers": layers, "batch_size": 1},
        "strategy": {"type": "random"},
        "budget": {"trials": 1},
    }
    spec_path = work / "stop.json"
    spec_path.write_text(json.dumps(spec))
    env = dict(os.environ, PYTHONPATH=str(ROOT), TUNING_LAB_STORAGE=str(storage))
    worker = subprocess.Popen(
        [sys.executable, "-m", "tuning_core", "run", str(spec_path)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    while True:
        time.sleep(0.2)
        if storage.exists():
            with Store(storage) as store:
                study = store.get_study("stop")
                if study and store.batch_losses(study.id, 0):
                    break
    requested = time.monotonic()
    with Store(storage) as store:
        store.request_stop("stop")
    trial_end = None
    while worker.poll() is None or trial_end is None:
        with Store(storage) as store:
            (trial,) = store.trials(store.get_study("stop").id)
        if trial_end is None and trial.state.is_finished():
            trial_end = time.monotonic() - requested
        time.sleep(0.05)
    return trial_end, time.monotonic() - requested


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=4096)
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        runs = [measure(Path(work), args.units, args.layers, run) for run in range(args.repeats)]
    for index, (trial_end, exit_after) in enumerate(runs):
        print(
            f"run {index}: trial interrupted after {trial_end:.2f} s, process exited after "
            f"{exit_after:.2f} s"
        )
    print(
        f"median: trial {statistics.median(r[0] for r in runs):.2f} s, process "
        f"{statistics.median(r[1] for r in runs):.2f} s (target: about 0.5 s plus one batch)"
    )


if __name__ == "__main__":
    main()
