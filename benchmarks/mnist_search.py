"""Bayesian vs random search on the 8k/2k split of real MNIST (MLP, 10 epochs), over seeds.

Each (strategy, seed) is a whole `python -m tuning_core run` of 20 trials. The seed's config
(SGD lr 0.01, batch 32, Dense 512, dropout 0.2) and Adam at 1e-3 are trained once as baselines.
Prints each run's best validation accuracy and the medians (target: >= 0.968).
Usage: python -m benchmarks.mnist_search [--seeds 3] [--trials 20] [--epochs 10]
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

# "wide": every optimizer over four decades of learning rate. "focused": what the worked example
# already teaches (adaptive optimizers win at 1e-3-ish, wider layers help), as a user would narrow
# it.
SPACES = {}
SPACES["wide"] = {
    "learning_rate": {"type": "float", "low": 1e-4, "high": 1.0, "log": True},
    "optimizer": {"type": "choice", "values": ["sgd", "adam", "rmsprop"]},
    "batch_size": {"type": "int", "low": 16, "high": 256, "log": True},
    "units": {"type": "int", "low": 64, "high": 1024, "log": True},
    "dropout": {"type": "float", "low": 0.0, "high": 0.5},
}
SPACES["focused"] = {
    "learning_rate": {"type": "float", "low": 1e-4, "high": 3e-2, "log": True},
    "optimizer": {"type": "choice", "values": ["adam", "rmsprop"]},
    "batch_size": {"type": "int", "low": 32, "high": 256, "log": True},
    "units": {"type": "int", "low": 256, "high": 2048, "log": True},
    "hidden_layers": {"type": "int", "low": 1, "high": 2},
    "dropout": {"type": "float", "low": 0.0, "high": 0.5},
}


def run(spec: dict, work: Path, env: dict[str, str]) -> tuple[float, float, list[dict]]:
    """Run a spec to the end; returns (best val_accuracy, seconds, trials)."""
    path = work / f"{spec['name']}.json"
    path.write_text(json.dumps(spec))
    storage = work / "store.db"
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "tuning_core", "--storage", str(storage), "run", str(path)],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    seconds = time.perf_counter() - started
    exported = subprocess.run(
        [
            sys.executable,
            "-m",
            "tuning_core",
            "--storage",
            str(storage),
            "export",
            spec["name"],
            "--format",
            "json",
        ],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    trials = json.loads(exported.stdout)["trials"]
    return (
        max((t["value"] for t in trials if t["value"] is not None), default=float("nan")),
        seconds,
        trials,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--strategies", default="bayesian,random")
    parser.add_argument("--space", default="wide", choices=list(SPACES))
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument(
        "--split",
        default="stratified",
        choices=["stratified", "ordered"],
        help="validation split: stratified (the default) or ordered, the last 2,000 images "
        "as Keras' validation_split takes them",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mnist-search-"))
    env = dict(
        os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2", KERAS_HOME=str(work / "keras")
    )
    objective = {
        "type": "keras",
        "dataset": str(MNIST),
        "model": "mlp",
        "epochs": args.epochs,
        "split": args.split,
    }
    print(f"split: {args.split}, space: {args.space}")
    for label, space in (
        ()
        if args.no_baselines
        else (
            ("seed config (SGD 0.01)", {"learning_rate": 0.01}),
            ("Adam 1e-3", {"learning_rate": 0.001, "optimizer": "adam"}),
        )
    ):
        name = "baseline-" + label.split()[0].lower()
        best, seconds, _ = run(
            {
                "name": name,
                "objective": objective,
                "space": space,
                "strategy": {"type": "grid"},
                "budget": {"trials": 1},
            },
            work,
            env,
        )
        print(f"baseline {label:<24} val_accuracy {best:.4f}  ({seconds:.0f} s)", flush=True)
    results: dict[str, list[float]] = {}
    for strategy in args.strategies.split(","):
        for seed in range(args.seeds):
            config = {"type": strategy, "seed": seed}
            if strategy == "bayesian":
                config.update(surrogate="GP", acquisition="EI", initial_points=6)
            spec = {
                "name": f"{strategy}-{args.space}-{seed}",
                "objective": objective,
                "space": SPACES[args.space],
                "strategy": config,
                "budget": {"trials": args.trials},
            }
            best, seconds, trials = run(spec, work, env)
            results.setdefault(strategy, []).append(best)
            top = max((t for t in trials if t["value"] is not None), key=lambda t: t["value"])
            params = ", ".join(
                f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                for k, v in top["params"].items()
            )
            print(
                f"{strategy:<9} seed {seed}: best val_accuracy {best:.4f} in {seconds:.0f} s  "
                f"({params})",
                flush=True,
            )
    for strategy, values in results.items():
        print(
            f"{strategy:<9} median best over {len(values)} seeds: {statistics.median(values):.4f} "
            "(target >= 0.968)"
        )


if __name__ == "__main__":
    main()
