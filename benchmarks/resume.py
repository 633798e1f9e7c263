"""How long a resume takes before the next trial: snapshot restore against full replay.

Runs a Bayesian (GP) study of ``--trials`` Hartmann-6 trials through the CLI, then runs it
again with one more trial in the budget twice: once as shipped (the strategy restored from the
snapshot taken at its last ask), once with the snapshot deleted (every stored trial replayed
through a fresh scikit-optimize Optimizer, as before). Prints the worker's own "resumed … in
X s" figure and the whole process's wall time for both, side by side.
Usage: python -m benchmarks.resume [--trials 200]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tuning_core.engine.storage import Store

ROOT = Path(__file__).resolve().parents[1]


def run(spec: dict, spec_path: Path, storage: Path) -> tuple[float | None, float]:
    spec_path.write_text(json.dumps(spec))
    env = dict(os.environ, PYTHONPATH=str(ROOT), TUNING_LAB_STORAGE=str(storage))
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "tuning_core", "run", str(spec_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    wall = time.perf_counter() - started
    found = re.search(r"resumed \d+ stored trials .* in ([\d.]+) s", result.stdout)
    return (float(found.group(1)) if found else None), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    args = parser.parse_args()
    unit = {"type": "float", "low": 0, "high": 1}
    spec = {
        "name": "resume",
        "objective": {"type": "function", "name": "hartmann6"},
        "space": {f"x{i}": unit for i in range(1, 7)},
        "strategy": {"type": "bayesian", "seed": 0},
        "budget": {"trials": args.trials},
    }
    with tempfile.TemporaryDirectory() as work:
        storage, spec_path = Path(work) / "resume.db", Path(work) / "resume.json"
        _, first = run(spec, spec_path, storage)
        print(f"{args.trials} trials from scratch: {first:.1f} s", flush=True)
        spec["budget"]["trials"] = args.trials + 1
        restored, restored_wall = run(spec, spec_path, storage)
        with Store(storage) as store:
            store.connection.execute("DELETE FROM strategy_snapshots")
        spec["budget"]["trials"] = args.trials + 2
        replayed, replayed_wall = run(spec, spec_path, storage)
    print(
        f"resume from the snapshot: {restored:.2f} s before the next trial "
        f"({restored_wall:.1f} s for the whole one-trial run)"
    )
    print(
        f"resume by full replay:    {replayed:.2f} s before the next trial "
        f"({replayed_wall:.1f} s for the whole one-trial run)"
    )
    print(
        f"whole one-trial run, replay / snapshot: {replayed_wall / restored_wall:.1f}x "
        "(target: snapshot < 2 s before the next trial)"
    )


if __name__ == "__main__":
    main()
