"""Engine overhead: N fixed-config fits through `python -m tuning_core run` vs a plain Keras script.

Both are whole processes, timed as a user waits for them (TensorFlow import included), on the
same data: the 8k/2k split of real MNIST in tests/data/mnist, with the seed's MLP
(Dense 512 relu, Dropout 0.2, SGD lr 0.01, batch 32). The engine runs with live metrics on.
Prints each wall time and the ratio engine / plain (target <= 1.05).
Usage: python -m benchmarks.engine_overhead [--fits 3] [--epochs 3] [--repeats 2]
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

from tuning_core.training.datasets import REPOSITORY_MNIST

ROOT = Path(__file__).resolve().parents[1]
MNIST = REPOSITORY_MNIST

PLAIN = """
import keras
# The same loader and split, so only training differs.
from tuning_core.training.datasets import load_dataset
data = load_dataset({mnist!r}, validation_split=0.2, seed=0)
x_train = data.x_train.reshape(len(data.x_train), -1)
x_val = data.x_val.reshape(len(data.x_val), -1)
for fit in range({fits}):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input(shape=(784,)),
        keras.layers.Dense(512, activation="relu"),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(
        x_train, data.y_train, batch_size=32, epochs={epochs},
        validation_data=(x_val, data.y_val), verbose=0,
    )
    print("fit", fit, history.history["val_accuracy"][-1], flush=True)
    keras.backend.clear_session()
"""


def timed(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    return time.perf_counter() - started, result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fits", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--mnist", default=str(MNIST), help="folder with the MNIST IDX files")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="engine-overhead-"))
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = dict(
        os.environ, PYTHONPATH=path, TF_CPP_MIN_LOG_LEVEL="2", KERAS_HOME=str(work / "keras")
    )
    plain = work / "plain.py"
    plain.write_text(
        PLAIN.format(
            root=str(ROOT),
            mnist=str(Path(args.mnist).resolve()),
            fits=args.fits,
            epochs=args.epochs,
        )
    )
    engine_times, plain_times = [], []
    for repeat in range(args.repeats):
        spec = {
            "name": f"overhead-{repeat}",
            "objective": {
                "type": "keras",
                "dataset": str(Path(args.mnist).resolve()),
                "model": "mlp",
                "epochs": args.epochs,
            },
            # Everything fixed: random search over an empty space proposes the same config each
            # time.
            "space": {
                "units": 512,
                "dropout": 0.2,
                "learning_rate": 0.01,
                "batch_size": 32,
                "optimizer": "sgd",
            },
            "strategy": {"type": "random", "seed": 0},
            "budget": {"trials": args.fits},
        }
        spec_path = work / f"spec-{repeat}.json"
        spec_path.write_text(json.dumps(spec))
        storage = work / f"store-{repeat}.db"
        # Alternate the order so that neither side always runs on a warmer machine.
        runs = [
            ("plain", [sys.executable, str(plain)]),
            (
                "engine",
                [
                    sys.executable,
                    "-m",
                    "tuning_core",
                    "--storage",
                    str(storage),
                    "run",
                    str(spec_path),
                ],
            ),
        ]
        for name, command in runs if repeat % 2 == 0 else runs[::-1]:
            seconds, _ = timed(command, env)
            (plain_times if name == "plain" else engine_times).append(seconds)
            print(f"repeat {repeat}: {name:<6} {seconds:6.1f} s", flush=True)
    engine, plain_median = statistics.median(engine_times), statistics.median(plain_times)
    print(
        f"fits={args.fits} epochs={args.epochs}: engine {engine:.1f} s, plain Keras "
        f"{plain_median:.1f} s, ratio {engine / plain_median:.3f} (target <= 1.05)"
    )


if __name__ == "__main__":
    main()
