"""A short study on whatever accelerator Keras sees, timed: for GPU machines.

Runs a 6-trial random search (MLP on the 8k/2k MNIST split, 10 epochs, learning rate and
optimizer tuned) through `python -m tuning_core run`, then prints the per-trial lines, the
wall time and the backend's devices. Works with any Keras 3 backend (set KERAS_BACKEND).
Usage: python -m benchmarks.device_study [--mnist tests/data/mnist] [--trials 6]
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

from tuning_core.training.datasets import REPOSITORY_MNIST

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default=str(REPOSITORY_MNIST))
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="device-study-"))
    spec = {
        "name": "device-study",
        "objective": {
            "type": "keras",
            "dataset": args.mnist,
            "model": "mlp",
            "epochs": args.epochs,
        },
        "space": {
            "learning_rate": {"type": "float", "low": 1e-4, "high": 1.0, "log": True},
            "optimizer": {"type": "choice", "values": ["sgd", "adam"]},
        },
        "strategy": {"type": "random", "seed": 0},
        "budget": {"trials": args.trials},
    }
    path = work / "spec.json"
    path.write_text(json.dumps(spec))
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        KERAS_HOME=str(work / "keras"),
    )
    probe = "import keras; print('keras', keras.__version__, 'backend', keras.backend.backend())"
    if os.environ.get("KERAS_BACKEND") == "jax":
        probe += "; import jax; print('devices', jax.devices())"
    print(
        subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True
        ).stdout.strip(),
        flush=True,
    )
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tuning_core",
            "--storage",
            str(work / "store.db"),
            "run",
            str(path),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    print(result.stdout, result.stderr[-3000:] if result.returncode else "", sep="\n", flush=True)
    print(
        f"{args.trials} trials x {args.epochs} epochs on 8k images: {seconds:.1f} s wall (process "
        f"start and imports included), exit {result.returncode}"
    )


if __name__ == "__main__":
    main()
