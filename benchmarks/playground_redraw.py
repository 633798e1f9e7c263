"""Server-side redraw time of the gradient-descent playground (learning-rate lab).

Times AppTest reruns of the lab page, as the server runs them, when a teacher clicks each
preset of each function and when an α slider is dragged; and, separately, the playground's own
work (descent, frames, chart specs) without Streamlit. Target: <= 200 ms per redraw.
With ``--compare PATH`` it runs the same measurements in another checkout (e.g. main before
this change, unpacked with ``git archive``) and prints both side by side.
Usage: python -m benchmarks.playground_redraw [--repeats 5] [--compare PATH]
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
PRESETS = ["too small", "just right", "oscillating", "diverging"]


def seed_comparison(storage: Path) -> None:
    """A finished lab comparison (0.001 / 0.1 / 10, 10 epochs), as the lab shows during a
    lesson: the page draws its curves on every rerun that is not limited to a fragment."""
    from tuning_core.engine.spec import parse_spec
    from tuning_core.engine.states import StudyStatus, TrialState
    from tuning_core.engine.storage import Store

    spec = parse_spec(
        {
            "name": "lr-digits-mlp-sgd",
            "objective": {"type": "keras", "dataset": "digits", "model": "mlp", "epochs": 10},
            "space": {
                "learning_rate": {"type": "choice", "values": [0.001, 0.1, 10.0]},
                "optimizer": "sgd",
                "batch_size": 32,
            },
            "strategy": {"type": "grid"},
            "budget": {"trials": 3},
        }
    )
    with Store(storage) as store:
        study_id = store.create_study(spec)
        for number, rate in enumerate([0.001, 0.1]):
            trial_id = store.start_trial(study_id, number, {"learning_rate": rate})
            for epoch in range(10):
                fall = (epoch + 1) / 10 * (number + 0.1)
                store.add_epoch_metrics(
                    trial_id,
                    epoch,
                    {"loss": 2.3 - fall, "accuracy": 0.1 + fall / 2, "val_loss": 2.3 - fall,
                     "val_accuracy": 0.1 + fall / 2},
                )  # fmt: skip
            store.finish_trial(trial_id, TrialState.COMPLETE, 0.1 + (number + 0.1) / 2)
        trial_id = store.start_trial(study_id, 2, {"learning_rate": 10.0})
        for step in range(1, 8):
            store.add_batch_loss(trial_id, step / 7, 2.3 * 3**step)
        store.finish_trial(trial_id, TrialState.DIVERGED, error="diverged at epoch 0")
        store.set_status(study_id, StudyStatus.FINISHED)


def measure(root: Path, repeats: int) -> dict[str, float]:
    """Median milliseconds per redraw: a preset click, an α drag, and the pure work."""
    sys.path.insert(0, str(root))
    storage = Path(tempfile.mkdtemp()) / "store.db"
    os.environ["TUNING_LAB_STORAGE"] = str(storage)
    seed_comparison(storage)
    from streamlit.testing.v1 import AppTest

    from tuning_core.views import lab_charts, playground

    at = AppTest.from_file(str(root / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/lr_lab.py").run()
    assert not at.exception, [e.value for e in at.exception]
    presets, drags = [], []
    for _ in range(repeats):
        for function in playground.FUNCTIONS:
            at.selectbox(key="pg_function").set_value(function).run()
            for preset in PRESETS:
                started = time.perf_counter()
                at.radio(key="pg_preset").set_value(preset).run()
                presets.append(time.perf_counter() - started)
            alpha = next(s for s in at.select_slider if s.key.startswith("pg_alpha"))
            ladder = list(alpha.options)
            started = time.perf_counter()
            alpha.set_value(float(ladder[len(ladder) // 3])).run()
            drags.append(time.perf_counter() - started)
            assert not at.exception, [e.value for e in at.exception]
    pure = []
    for _ in range(repeats):
        for function in playground.FUNCTIONS.values():
            started = time.perf_counter()
            path = playground.gradient_descent(function, function.default_start, 0.001, 300)
            frame = playground.path_frame(path)
            surface = playground.surface_frame(function)
            chart = (
                lab_charts.descent_curve_chart(surface, frame)
                if function.dimensions == 1
                else lab_charts.descent_contour_chart(surface, frame)
            )
            chart.to_dict()
            lab_charts.loss_per_step_chart(frame).to_dict()
            pure.append(time.perf_counter() - started)
    return {
        "preset_ms": statistics.median(presets) * 1000,
        "drag_ms": statistics.median(drags) * 1000,
        "pure_ms": statistics.median(pure) * 1000,
        "runs": len(presets) + len(drags),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--compare", type=Path, help="another checkout to measure beside this")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.json:
        print(json.dumps(measure(args.root.resolve(), args.repeats)))
        return
    checkouts = [ROOT] + ([args.compare.resolve()] if args.compare else [])
    results = {}
    for root in checkouts:
        # Each in its own process, so neither inherits the other's imports or caches.
        output = subprocess.run(
            [
                sys.executable,
                __file__,
                "--root",
                str(root),
                "--repeats",
                str(args.repeats),
                "--json",
            ],
            cwd=root,
            env=dict(os.environ, PYTHONPATH=str(root)),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        results[root] = json.loads(output.strip().splitlines()[-1])
    print(f"{'checkout':<40} {'preset click':>13} {'alpha drag':>11} {'pure work':>10}")
    for root, result in results.items():
        print(
            f"{str(root)[-40:]:<40} {result['preset_ms']:10.0f} ms {result['drag_ms']:8.0f} ms "
            f"{result['pure_ms']:7.0f} ms"
        )
    print(f"medians of {results[ROOT]['runs']} reruns per checkout; target <= 200 ms per redraw")


if __name__ == "__main__":
    main()
