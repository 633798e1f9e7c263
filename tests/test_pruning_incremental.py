"""A trial's pruner reads the store incrementally (pruners/curves.py): its decisions must be the
ones a full reread of every curve gives, with several writers on one store, rewritten rows,
non-finite values, state changes and retries."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from tests.conftest import branin_spec
from tuning_core.engine.pruners import StudyCurves, StudyPruning, pruner_for, read_curves
from tuning_core.engine.spec import StudySpec, parse_spec
from tuning_core.engine.states import TrialState
from tuning_core.engine.storage import Store

EPOCHS = 12
TRIALS = 60


def _spec(kind: str) -> StudySpec:
    raw = branin_spec(name=kind, trials=TRIALS, epochs=EPOCHS)
    raw["pruner"] = {"type": kind, **({"warmup_trials": 2} if kind == "median" else {})}
    return parse_spec(raw)


@pytest.mark.parametrize("kind", ["median", "successive_halving", "hyperband"])
def test_incremental_decisions_are_a_full_rereads_with_writers_interleaved(
    kind: str, tmp_path: Path
) -> None:
    spec = _spec(kind)
    rule = pruner_for(spec.pruner)
    path = tmp_path / "store.db"
    rng = random.Random(7)
    # Two writers (as a resumed run and a driver, or two processes) and one reader, each with
    # its own connection to the same file; the reader's pruning lives across all of them.
    with Store(path) as first, Store(path) as second, Store(path) as reader:
        study_id = first.create_study(spec)
        pruning = StudyPruning(rule, spec.direction, study_id, spec.metric)
        tracked = StudyCurves(study_id, spec.metric)
        running: dict[int, tuple[int, int, Store]] = {}  # number -> trial id, next epoch, writer
        retries: list[int] = []  # interrupted trials, retried later under a new number
        number, decided, checked = 0, 0, 0
        while number < TRIALS or running:
            if number < TRIALS and len(running) < 4:
                writer = rng.choice([first, second])
                retry_of = retries.pop(0) if retries and rng.random() < 0.5 else None
                trial_id = writer.start_trial(study_id, number, {"x1": 0.0}, retry_of=retry_of)
                running[number] = (trial_id, 0, writer)
                number += 1
            own = rng.choice(sorted(running))
            trial_id, epoch, writer = running[own]
            value = 10.0 / (epoch + 1) + rng.uniform(0.0, 8.0)
            if rng.random() < 0.05:
                value = math.nan  # stored as NULL: not a finished value
            writer.add_epoch_metrics(trial_id, epoch, {spec.metric: value})
            if epoch and rng.random() < 0.1:  # a row written again, with a new value
                writer.add_epoch_metrics(trial_id, epoch - 1, {spec.metric: value + 0.5})
            incremental = pruning.decide(reader, own, epoch)
            curves = read_curves(reader, study_id, spec.metric)
            mine = next(curve for curve in curves if curve.number == own)
            assert incremental == rule.decide(spec.direction, mine, epoch, curves)
            assert tracked.refresh(reader) == curves
            checked += 1
            decided += incremental is not None
            ending = rng.random()
            if incremental is not None:
                writer.finish_trial(trial_id, TrialState.PRUNED, value, pruned=incremental)
            elif epoch + 1 == EPOCHS or ending < 0.03:
                writer.finish_trial(trial_id, TrialState.COMPLETE, value)
            elif ending < 0.06:
                writer.finish_trial(trial_id, TrialState.INTERRUPTED)
                retries.append(own)
            elif ending < 0.07:
                writer.finish_trial(trial_id, TrialState.FAILED, error="boom")
            else:
                running[own] = (trial_id, epoch + 1, writer)
                continue
            del running[own]
    assert checked > 150 and decided >= 10  # the comparisons were not all trivial


def test_a_curve_handed_out_never_changes_and_an_unchanged_one_is_kept(tmp_path: Path) -> None:
    spec = _spec("successive_halving")
    with Store(tmp_path / "store.db") as store:
        study_id = store.create_study(spec)
        done = store.start_trial(study_id, 0, {"x1": 0.0})
        store.add_epoch_metrics(done, 0, {"value": 3.0})
        store.finish_trial(done, TrialState.COMPLETE, 3.0)
        live = store.start_trial(study_id, 1, {"x1": 1.0})
        store.add_epoch_metrics(live, 0, {"value": 5.0})
        curves = StudyCurves(study_id, spec.metric)
        before = curves.refresh(store)
        store.add_epoch_metrics(live, 1, {"value": 4.0})
        after = curves.refresh(store)
    assert before[1].values == {0: 5.0} and after[1].values == {0: 5.0, 1: 4.0}
    assert after[0] is before[0]  # the finished trial's curve (and what it computed) is reused
