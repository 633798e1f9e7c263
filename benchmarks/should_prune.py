"""What asking the pruner costs a trial after each epoch: 100 trials x 50 epochs of Hyperband.

Trials write their epochs to a temporary store one after another, as a sequential study does
(a curve falls from a random start towards a random floor, with noise), and the pruner is asked
after every epoch. Two ways of asking are timed on the same curves:

* ``reread``: read every curve of the study from the store at each ask and decide on them (what
  should_prune did before pruners/curves.py);
* ``incremental``: ``StoreReporter.should_prune`` as trials call it (pruners/curves.py: nothing
  read where the rule cannot decide, then only the rows written since the last read).

Both must take the same decisions; the script checks it. By default a pruned trial stops, as
in a study; ``--no-stop`` lets every trial train all its epochs (5,000 asks, a store that grows
to 5,000 rows). Prints the seconds spent asking, the asks and the trials pruned.

Usage: python -m benchmarks.should_prune [--trials 100] [--epochs 50] [--no-stop]
"""

from __future__ import annotations

import argparse
import math
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tuning_core.engine.pruners import PruneDecision, pruner_for, read_curves
from tuning_core.engine.spec import StudySpec, parse_spec
from tuning_core.engine.states import TrialState
from tuning_core.engine.storage import Store
from tuning_core.engine.study import StoreReporter

Asker = Callable[[Store, int, StoreReporter, int, int], PruneDecision | None]


def study_spec(trials: int, epochs: int) -> StudySpec:
    return parse_spec(
        {
            "name": "should-prune",
            "objective": {"type": "function", "name": "branin", "epochs": epochs},
            "space": {
                "x1": {"type": "float", "low": -5, "high": 10},
                "x2": {"type": "float", "low": 0, "high": 15},
            },
            "strategy": {"type": "random", "seed": 0},
            "budget": {"trials": trials},
            "pruner": {"type": "hyperband"},
        }
    )


def reread(spec: StudySpec) -> Asker:
    """The old should_prune: every curve read again at every ask."""
    rule = pruner_for(spec.pruner)

    def ask(
        store: Store, study_id: int, reporter: StoreReporter, number: int, epoch: int
    ) -> PruneDecision | None:
        curves = read_curves(store, study_id, spec.metric)
        own = next(curve for curve in curves if curve.number == number)
        return rule.decide(spec.direction, own, epoch, curves)

    return ask


def incremental(
    store: Store, study_id: int, reporter: StoreReporter, number: int, epoch: int
) -> PruneDecision | None:
    reporter.should_prune(epoch)
    return reporter.prune_decision


def run(spec: StudySpec, ask: Asker, stop: bool) -> tuple[float, int, list[PruneDecision]]:
    """Seconds spent asking, asks, and every decision taken (in order)."""
    rng = random.Random(0)
    epochs = spec.pruner["max_epochs"]
    spent, asks, decisions = 0.0, 0, []
    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "store.db") as store:
        study_id = store.create_study(spec)
        for number in range(spec.budget["trials"]):
            trial_id = store.start_trial(study_id, number, {"x1": 0.0, "x2": 0.0})
            reporter = StoreReporter(store, study_id, trial_id, None, spec, number)
            floor, start = rng.uniform(0, 10), rng.uniform(10, 30)
            pruned = None
            for epoch in range(epochs):
                value = floor + (start - floor) * math.exp(-epoch / 8) + rng.gauss(0, 0.3)
                store.add_epoch_metrics(trial_id, epoch, {spec.metric: value})
                began = time.perf_counter()
                decision = ask(store, study_id, reporter, number, epoch)
                spent += time.perf_counter() - began
                asks += 1
                if decision is not None:
                    decisions.append(decision)
                    if stop:
                        pruned = decision
                        break
            state = TrialState.PRUNED if pruned else TrialState.COMPLETE
            store.finish_trial(trial_id, state, value, pruned=pruned)
    return spent, asks, decisions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--no-stop", action="store_true", help="pruned trials train on")
    args = parser.parse_args()
    spec = study_spec(args.trials, args.epochs)
    results = {}
    for name, ask in (("reread", reread(spec)), ("incremental", incremental)):
        spent, asks, decisions = run(spec, ask, not args.no_stop)
        results[name] = decisions
        print(f"{name:>12}: {spent:6.3f} s over {asks:,} asks, {len(decisions)} prune decisions")
    assert results["reread"] == results["incremental"], "the two ways decided differently"
    print("same decisions: yes")


if __name__ == "__main__":
    main()
