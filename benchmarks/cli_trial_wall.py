"""Wall time per trial of a whole ``python -m tuning_core run`` process: Hartmann-6, Bayesian.

Everything a user waits for is in the figure: process start, imports, the GP, store writes.
Prints seconds per trial and the best value for each seed, then the medians; with
``--compare PATH`` it also runs another checkout (for example a git worktree of an older
commit) on the same specs, alternating the two, so both see the same machine load.
Usage: python -m benchmarks.cli_trial_wall [--seeds 3] [--trials 100] [--compare /tmp/old]
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

ROOT = Path(__file__).resolve().parents[1]


def hartmann_spec(seed: int, trials: int) -> dict:
    unit = {"type": "float", "low": 0, "high": 1}
    return {
        "name": f"hartmann6-{seed}",
        "objective": {"type": "function", "name": "hartmann6"},
        "space": {f"x{i}": unit for i in range(1, 7)},
        "strategy": {"type": "bayesian", "seed": seed},
        "budget": {"trials": trials},
    }


def run_once(checkout: Path, spec_path: Path, storage: Path, trials: int) -> tuple[float, float]:
    """(seconds per trial, best value) for one fresh study."""
    env = dict(os.environ, PYTHONPATH=str(checkout))
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "tuning_core", "--storage", str(storage), "run", str(spec_path)],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - started
    best = float(result.stdout.strip().splitlines()[-2].split("best=")[1].split()[0])
    return seconds / trials, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--compare", type=Path, help="another checkout to time side by side")
    args = parser.parse_args()
    checkouts = {"this": ROOT} | ({"compare": args.compare} if args.compare else {})
    results: dict[str, list[tuple[float, float]]] = {label: [] for label in checkouts}
    with tempfile.TemporaryDirectory() as work:
        for seed in range(args.seeds):
            spec_path = Path(work) / f"h{seed}.json"
            spec_path.write_text(json.dumps(hartmann_spec(seed, args.trials)))
            for label, checkout in checkouts.items():
                storage = Path(work) / f"{label}-{seed}.db"
                per_trial, best = run_once(checkout, spec_path, storage, args.trials)
                results[label].append((per_trial, best))
                print(
                    f"{label:<8} seed {seed}: {per_trial:.4f} s/trial, best {best:.5f}", flush=True
                )
    for label, rows in results.items():
        wall = statistics.median(r[0] for r in rows)
        best = statistics.median(r[1] for r in rows)
        print(
            f"{label:<8} median {wall:.4f} s/trial (target <= 0.10), median best {best:.5f} "
            "(target <= -3.30)"
        )
    if args.compare:
        ratio = statistics.median(r[0] for r in results["this"]) / statistics.median(
            r[0] for r in results["compare"]
        )
        print(f"this / compare wall time per trial: {ratio:.3f}")


if __name__ == "__main__":
    main()
