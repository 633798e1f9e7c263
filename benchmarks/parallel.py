"""Parallel trials on Dask against sequential ones, measured side by side in one run.

Cases (``--cases`` picks some; all by default):

- ``function``: 16 function trials of ``trial_seconds`` 1.0, ``parallel`` 4 against 1, each a
  whole ``python -m tuning_core run`` process (target: at least 3.3x faster wall time). Also
  prints the study's own wall time (first trial's start to last trial's end, from the store),
  which leaves out the process and the LocalCluster starting and closing.
- ``keras``: 8 Keras trials on digits, ``parallel`` 2 against 1, whole processes (aim: 1.3x on
  a 2-core machine; ``--keras-epochs``, ``--keras-units`` size them).
- ``quality``: Branin, 30 Bayesian trials, 4 in flight against sequential, median regret over
  5 seeds. Simulated with the real strategy code and equal trial times (the oldest pending
  trial finishes first, its result is told, and a new point is asked with the other 3
  pending), so timing noise cannot change it. "believer" is what the driver does (a copy of
  the optimizer is told the surrogate's prediction at each pending point); "cl_min" is
  scikit-optimize's constant liar (told the best value so far); "ignore" asks without
  telling the pending points (target: median regret at most 2x sequential's).
- ``overhead``: a real ``dask scheduler`` with 2 ``dask worker`` processes against a
  LocalCluster of 2: time until ready, and wall time per trial of 20 zero-second function
  trials, 2 at a time (report).

Usage: python -m benchmarks.parallel [--cases function,keras,quality,overhead] [--quick]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from tuning_core.engine.objectives import TEST_FUNCTIONS
from tuning_core.engine.space import parse_space
from tuning_core.engine.spec import parse_spec
from tuning_core.engine.storage import Store
from tuning_core.engine.strategies import BayesianStrategy

ROOT = Path(__file__).resolve().parents[1]
BRANIN_SPACE = {
    "x1": {"type": "float", "low": -5, "high": 10},
    "x2": {"type": "float", "low": 0, "high": 15},
}


def branin_spec(name: str, trials: int, parallel: int, trial_seconds: float) -> dict[str, Any]:
    return {
        "name": name,
        "objective": {"type": "function", "name": "branin", "trial_seconds": trial_seconds},
        "space": BRANIN_SPACE,
        "strategy": {"type": "random", "seed": 0},
        "budget": {"trials": trials},
        "parallel": parallel,
    }


def run_process(spec: dict[str, Any], folder: Path) -> tuple[float, float]:
    """Run ``spec`` in a fresh store as a whole CLI process; returns (process wall seconds,
    study wall seconds from the first trial's start to the last trial's end)."""
    spec_path = folder / f"{spec['name']}.json"
    spec_path.write_text(json.dumps(spec))
    storage = folder / f"{spec['name']}.db"
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "tuning_core", "--storage", str(storage), "run", str(spec_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    process_wall = time.perf_counter() - started
    with Store(storage) as store:
        trials = store.trials(store.get_study(spec["name"]).id)
    study_wall = max(t.finished_at or 0 for t in trials) - min(t.started_at or 0 for t in trials)
    return process_wall, study_wall


def case_function(folder: Path, trials: int) -> None:
    print(f"function: {trials} branin trials of trial_seconds 1.0, whole processes")
    results = {}
    for parallel in (1, 4):
        spec = branin_spec(f"function-p{parallel}", trials, parallel, 1.0)
        results[parallel] = run_process(spec, folder)
        process_wall, study_wall = results[parallel]
        print(f"  parallel {parallel}: process {process_wall:6.2f} s   study {study_wall:6.2f} s")
    print(
        f"  speed-up: process {results[1][0] / results[4][0]:.2f}x   "
        f"study {results[1][1] / results[4][1]:.2f}x   (target: 3.3x)"
    )


def case_keras(folder: Path, trials: int, epochs: int, units: int) -> None:
    print(f"keras: {trials} MLP trials on digits ({epochs} epochs, {units} units), processes")
    results = {}
    for parallel in (1, 2):
        spec = {
            "name": f"keras-p{parallel}",
            "objective": {"type": "keras", "dataset": "digits", "model": "mlp", "epochs": epochs},
            "space": {
                "learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True},
                "units": units,
            },
            "strategy": {"type": "random", "seed": 0},
            "budget": {"trials": trials},
            "parallel": parallel,
        }
        results[parallel] = run_process(spec, folder)
        process_wall, study_wall = results[parallel]
        print(f"  parallel {parallel}: process {process_wall:6.2f} s   study {study_wall:6.2f} s")
    print(
        f"  speed-up: process {results[1][0] / results[2][0]:.2f}x   "
        f"study {results[1][1] / results[2][1]:.2f}x   (aim: 1.3x)"
    )


def _ask_cl_min(strategy: BayesianStrategy, pending: list[dict[str, Any]]) -> dict[str, Any]:
    """scikit-optimize's constant liar: pending points told at the best loss so far."""
    optimizer = strategy.optimizer
    if not pending or optimizer._n_initial_points > 0 or not optimizer.models:
        return strategy.ask()
    points = [[p[name] for name in strategy.space.names] for p in pending]
    liar = optimizer.copy(random_state=optimizer.rng.randint(0, 2**31 - 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        liar.tell(points, [min(optimizer.yi)] * len(points))
        point = liar.ask()
    return dict(zip(strategy.space.names, (float(v) for v in point), strict=True))


def simulate(seed: int, trials: int, in_flight: int, asking: str) -> float:
    """Best Branin value of a Bayesian search with ``in_flight`` trials pending at each ask,
    finishing in the order they started (equal trial times)."""
    function = TEST_FUNCTIONS["branin"].function
    strategy = BayesianStrategy(parse_space(BRANIN_SPACE), "GP", "EI", 10, seed)
    pending: list[dict[str, Any]] = []
    asked = told = 0
    best = float("inf")
    while told < trials:
        while len(pending) < in_flight and asked < trials:
            if asking == "believer":
                point = strategy.ask_with_pending(pending)
            elif asking == "cl_min":
                point = _ask_cl_min(strategy, pending)
            else:
                point = strategy.ask()
            pending.append(point)
            asked += 1
        point = pending.pop(0)
        value = function([point["x1"], point["x2"]])
        strategy.tell(point, value)
        told += 1
        best = min(best, value)
    return best


def case_quality(seeds: int, trials: int) -> None:
    optimum = TEST_FUNCTIONS["branin"].optimum
    print(f"quality: branin, {trials} Bayesian trials, median regret over {seeds} seeds")
    medians = {}
    for label, in_flight, asking in (
        ("sequential", 1, "believer"),
        ("4 in flight, believer", 4, "believer"),
        ("4 in flight, cl_min", 4, "cl_min"),
        ("4 in flight, ignore", 4, "ignore"),
    ):
        started = time.perf_counter()
        regrets = [simulate(seed, trials, in_flight, asking) - optimum for seed in range(seeds)]
        medians[label] = statistics.median(regrets)
        seconds = (time.perf_counter() - started) / (seeds * trials)
        print(
            f"  {label:<22} median regret {medians[label]:.4f}   "
            f"(seeds: {', '.join(f'{r:.3f}' for r in regrets)})   tuner {seconds:.3f} s/trial"
        )
    ratio = medians["4 in flight, believer"] / max(medians["sequential"], 1e-12)
    print(f"  4 in flight (believer) / sequential: {ratio:.2f}x   (target: at most 2x)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _overhead_trials(client: Any, folder: Path, name: str, trials: int) -> float:
    from tuning_core.engine.parallel import run_parallel_study
    from tuning_core.training.factory import objective_for

    spec = parse_spec(branin_spec(name, trials, 2, 0.0))
    with Store(folder / f"{name}.db") as store:
        started = time.perf_counter()
        run_parallel_study(spec, store, objective_for, log=lambda _: None, client=client)
        return (time.perf_counter() - started) / trials


def case_overhead(folder: Path, trials: int) -> None:
    from distributed import Client, LocalCluster

    print(f"overhead: {trials} zero-second function trials, 2 at a time")
    started = time.perf_counter()
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
    )
    client = Client(cluster)
    local_ready = time.perf_counter() - started
    local_trial = _overhead_trials(client, folder, "overhead-local", trials)
    client.close()
    cluster.close()

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = [sys.executable, "-m", "dask"]
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            [*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        for name in ("a", "b"):
            processes.append(
                subprocess.Popen(
                    [*dask, "worker", address, "--name", name, "--nthreads", "1"]
                    + ["--no-dashboard", "--host", "127.0.0.1"],
                    cwd=ROOT,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        client = Client(address, timeout=30)
        client.wait_for_workers(2, timeout=120)
        remote_ready = time.perf_counter() - started
        remote_trial = _overhead_trials(client, folder, "overhead-remote", trials)
        client.close()
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
    for label, ready, per_trial in (
        ("LocalCluster", local_ready, local_trial),
        ("scheduler + 2 workers", remote_ready, remote_trial),
    ):
        print(f"  {label:<22} ready {ready:5.2f} s   {per_trial * 1000:6.1f} ms/trial")
    print(f"  ratio per trial: {remote_trial / local_trial:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="function,keras,quality,overhead")
    parser.add_argument("--quick", action="store_true", help="fewer trials, epochs and seeds")
    parser.add_argument("--keras-epochs", type=int, default=None)
    parser.add_argument("--keras-units", type=int, default=256)
    parser.add_argument("--seeds", type=int, default=5, help="seeds of the quality case")
    args = parser.parse_args()
    cases = set(args.cases.split(","))
    with tempfile.TemporaryDirectory(prefix="parallel-bench-") as name:
        folder = Path(name)
        if "function" in cases:
            case_function(folder, 8 if args.quick else 16)
        if "keras" in cases:
            epochs = args.keras_epochs or (2 if args.quick else 5)
            case_keras(folder, 4 if args.quick else 8, epochs, args.keras_units)
        if "quality" in cases:
            case_quality(2 if args.quick else args.seeds, 30)
        if "overhead" in cases:
            case_overhead(folder, 10 if args.quick else 20)


if __name__ == "__main__":
    main()
