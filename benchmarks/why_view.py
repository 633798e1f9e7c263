"""Server-side time of the "Why this point?" view at trial 50 of a 6-D study (Hartmann-6).

For a GP and a random-forest surrogate: runs 51 Bayesian trials (10 initial), then times, for
trial 50, reading the recorded ask from the store and evaluating the surrogate and the
acquisition on the grid (``explain``), and the whole server side of a slider move: an AppTest
rerun of the page (pages/why.py, as the server runs it) after the slider moves to a trial not
drawn yet (nothing cached for it), in 1-D (200 points) and 2-D (30 x 30).
Also the record's size and the cost of writing it at each ask (pickling). Target: <= 300 ms.
Usage: python -m benchmarks.why_view [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

from tuning_core.engine import explain, strategies
from tuning_core.engine.objectives import function_objective
from tuning_core.engine.spec import parse_spec
from tuning_core.engine.storage import Store
from tuning_core.engine.study import run_study

ROOT = Path(__file__).resolve().parents[1]

TRIAL = 50


def _spec(surrogate: str) -> dict:
    return {
        "name": f"h6-{surrogate.lower()}",
        "objective": {"type": "function", "name": "hartmann6"},
        "space": {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(1, 7)},
        "strategy": {"type": "bayesian", "surrogate": surrogate, "initial_points": 10, "seed": 0},
        "budget": {"trials": TRIAL + 1},
    }


def _median_ms(action: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _page_rerun_ms(path: Path, name: str, dims: list[str], repeats: int) -> float:
    """Median AppTest rerun of the why page after moving the slider to trials 49, 48, ...
    (each drawn for the first time; the chart spec of this layout is cached after the first)."""
    os.environ["TUNING_LAB_STORAGE"] = str(path)
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    app.query_params["study"] = name
    app.run()
    app.switch_page("pages/why.py").run()
    app.multiselect(key="why_dims").set_value(dims).run()
    times = []
    for trial in range(TRIAL - 1, TRIAL - 1 - repeats, -1):
        started = time.perf_counter()
        app.select_slider(key="why_trial").set_value(trial).run()
        times.append((time.perf_counter() - started) * 1000)
        assert not app.exception, [e.value for e in app.exception]
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "why.db"
        print(f"why view at trial {TRIAL} of Hartmann-6 (6-D), median of {args.repeats}")
        print(
            f"{'surrogate':<10}{'record kB':>10}{'pickle ms':>10}{'1-D explain':>13}"
            f"{'1-D page':>12}{'2-D explain':>13}{'2-D page':>12}"
        )
        for surrogate in ("GP", "RF"):
            spec = parse_spec(_spec(surrogate))
            with Store(path) as store:
                run_study(spec, store, function_objective("hartmann6"), log=lambda _: None)
                blob = store.load_ask(store.get_study(spec.name).id, TRIAL)
            # The write cost at an ask: the record of the optimizer as it stands now.
            strategy = strategies.make_strategy(spec.space, spec.strategy)
            with Store(path) as store:
                for trial in store.trials(store.get_study(spec.name).id)[:TRIAL]:
                    strategy.tell(trial.params, float(trial.value))
            optimizer = strategy.optimizer
            point = optimizer.ask()
            pickle_ms = _median_ms(
                lambda optimizer=optimizer, point=point: strategies.ask_record(
                    optimizer, point, False
                ),
                args.repeats,
            )
            row = [f"{surrogate:<10}", f"{len(blob) / 1000:>10.0f}", f"{pickle_ms:>10.2f}"]
            for dims in (["x1"], ["x1", "x2"]):

                def explain_only(dims: list[str] = dims, name: str = spec.name) -> dict:
                    with Store(path) as store:
                        return explain.explain(store, name, TRIAL, dims).to_json()

                explain_only()  # imports scikit-optimize once, as the page's first draw does
                row.append(f"{_median_ms(explain_only, args.repeats):>11.0f}ms")
                row.append(f"{_page_rerun_ms(path, spec.name, dims, args.repeats):>10.0f}ms")
            print("".join(row))


if __name__ == "__main__":
    main()
