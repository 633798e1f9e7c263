"""Worker memory over a long Keras study: RSS with process recycling against without.

Runs the same 100-trial study on bundled digits twice (`--recycle-every 20` and `0`), samples
the worker's resident memory (the PID survives the re-exec) and prints it at several trial
counts, plus the growth per trial between trial 20 and the end.
Usage: python -m benchmarks.worker_memory [--trials 100] [--recycle-every 20]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]

from tuning_core.engine.storage import Store  # noqa: E402


def measure(trials: int, recycle_every: int, work: Path) -> dict[int, float]:
    """Trial count -> worker RSS in MB, sampled while the study runs."""
    spec = {
        "name": f"memory-{recycle_every}",
        "objective": {
            "type": "keras",
            "dataset": "digits",
            "model": "mlp",
            "epochs": 1,
            "train_limit": 300,
        },
        "space": {
            "learning_rate": {"type": "float", "low": 0.001, "high": 0.5, "log": True},
            "units": 64,
        },
        "strategy": {"type": "random", "seed": 0},
        "budget": {"trials": trials},
    }
    path = work / f"{spec['name']}.json"
    path.write_text(json.dumps(spec))
    storage = work / f"{spec['name']}.db"
    env = dict(
        os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2", KERAS_HOME=str(work / "keras")
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tuning_core",
            "--storage",
            str(storage),
            "run",
            str(path),
            "--recycle-every",
            str(recycle_every),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    process = psutil.Process(worker.pid)
    samples: dict[int, float] = {}
    while worker.poll() is None:
        try:
            rss = process.memory_info().rss / 2**20
        except psutil.Error:
            break
        if storage.exists():
            with Store(storage) as store:
                study = store.get_study(spec["name"])
                done = sum(t.state.is_finished() for t in store.trials(study.id)) if study else 0
            samples[done] = max(samples.get(done, 0.0), rss)
        time.sleep(0.25)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--recycle-every", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="worker-memory-"))
    checkpoints = [c for c in (5, 10, 20, 40, 60, 80, args.trials - 1) if c < args.trials]
    print(
        f"{'recycle every':>14} "
        + " ".join(f"{'@' + str(c):>8}" for c in checkpoints)
        + f" {'peak':>8} {'MB/trial after 20':>18}"
    )
    for recycle in (args.recycle_every, 0):
        samples = measure(args.trials, recycle, work)

        def at(count: int, samples: dict[int, float] = samples) -> float:
            known = [n for n in samples if n <= count]
            return samples[max(known)] if known else float("nan")

        growth = (at(args.trials - 1) - at(20)) / max(args.trials - 21, 1)
        label = str(recycle) if recycle else "never"
        print(
            f"{label:>14} "
            + " ".join(f"{at(c):8.0f}" for c in checkpoints)
            + f" {max(samples.values()):8.0f} {growth:18.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
