"""Pruners: their decisions on hand-built curves and stores, in real studies, and on resume."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from tests.background_cli import cli_in_background
from tests.conftest import branin_spec, digits_spec, kill_worker_when, run_cli, write_spec
from tuning_core.engine.errors import SpecError
from tuning_core.engine.objectives import TEST_FUNCTIONS, fidelity_curve, function_objective
from tuning_core.engine.pruners import (
    Curve,
    Hyperband,
    bracket_keys,
    pruner_for,
    read_curves,
    rung_epochs,
)
from tuning_core.engine.spec import parse_spec
from tuning_core.engine.states import Direction, TrialState
from tuning_core.engine.storage import MEMORY, Store
from tuning_core.engine.strategies import make_strategy
from tuning_core.engine.study import _Teller, run_study

MINIMIZE = Direction.MINIMIZE


def _pruner(kind: str, **options: Any) -> dict[str, Any]:
    """The pruner as the spec fills it in, for a 9-epoch function study."""
    raw = branin_spec(epochs=9)
    raw["pruner"] = {"type": kind, **options}
    return parse_spec(raw).pruner


def _store_with_curves(
    path: Path | str, curves: list[tuple[TrialState, list[float]]]
) -> tuple[Store, int]:
    """A store holding one study whose trials have exactly these curves and states."""
    store = Store(path)
    raw = branin_spec(epochs=9)
    raw["pruner"] = {"type": "successive_halving"}
    study_id = store.create_study(parse_spec(raw))
    for number, (state, values) in enumerate(curves):
        trial_id = store.start_trial(study_id, number, {"x1": 0.0, "x2": float(number)})
        for epoch, value in enumerate(values):
            store.add_epoch_metrics(trial_id, epoch, {"value": value})
        if state != TrialState.RUNNING:
            store.finish_trial(trial_id, state, min(values))
    return store, study_id


def test_successive_halving_keeps_the_top_third_at_each_rung() -> None:
    pruner = _pruner("successive_halving")
    rule = pruner_for(pruner)
    assert pruner["max_epochs"] == 9 and rung_epochs(1, 3, 9) == [1, 3]
    # Six complete trials; a seventh is still running with two finished epochs (it counts too:
    # a rung compares every trial that reached it, as ASHA does).
    finished = [[10.0 * k, 9.0 * k, 8.0 * k] + [7.0 * k] * 6 for k in range(1, 7)]
    store, study_id = _store_with_curves(
        MEMORY,
        [(TrialState.COMPLETE, c) for c in finished] + [(TrialState.RUNNING, [5.0, 4.0])],
    )
    curves = read_curves(store, study_id, "value")
    assert [c.state for c in curves][-1] == TrialState.RUNNING and len(curves[-1].values) == 2

    def newcomer(values: list[float]) -> Curve:
        return Curve(99, TrialState.RUNNING, dict(enumerate(values)), 99)

    # Rung 1 (epoch index 0): 8 values {5, 10..60, own}; keep 8 // 3 = 2 -> cut-off is the
    # 2nd best, 10. 25 falls under it; 9 clears it; an epoch that is not a rung decides nothing.
    decision = rule.decide(MINIMIZE, newcomer([25.0]), 0, curves)
    assert decision is not None and decision.cutoff == 10.0 and decision.rung == 1
    assert (decision.compared, decision.kept, decision.epoch) == (8, 2, 0)
    assert "pruned at epoch 1" in decision.sentence("value")
    assert rule.decide(MINIMIZE, newcomer([9.0]), 0, curves) is None
    assert rule.decide(MINIMIZE, newcomer([9.0, 1.0]), 1, curves) is None
    # Rung 3 (epoch index 2): the running trial has not reached it, so 7 values; keep 2. The
    # trial's best so far counts (20 at its first epoch), against 8 and 16 for the leaders.
    late = rule.decide(MINIMIZE, newcomer([20.0, 30.0, 30.0]), 2, curves)
    assert late is not None and late.cutoff == 16.0 and late.value == 20.0
    assert rule.decide(MINIMIZE, newcomer([15.0, 30.0, 30.0]), 2, curves) is None
    assert rule.decide(MINIMIZE, newcomer([9.0, 8.0, 7.0]), 2, curves) is None
    # The last epoch is never cut: there is nothing left to save.
    assert rule.decide(MINIMIZE, newcomer([99.0] * 9), 8, curves) is None
    # With fewer than eta trials at a rung, only a trial that is the best there goes on.
    assert rule.decide(MINIMIZE, newcomer([11.0]), 0, curves[:1]) is not None
    assert rule.decide(MINIMIZE, newcomer([9.0]), 0, curves[:1]) is None


def test_median_rule_waits_for_its_warm_up_then_cuts_below_the_median() -> None:
    rule = pruner_for(_pruner("median", warmup_trials=3, warmup_epochs=1))
    store, study_id = _store_with_curves(
        MEMORY,
        [
            (TrialState.COMPLETE, [10.0, 6.0, 5.0]),
            (TrialState.COMPLETE, [12.0, 8.0, 7.0]),
            (TrialState.PRUNED, [1.0, 1.0]),  # pruned trials are not in the median's sample
            (TrialState.COMPLETE, [14.0, 10.0, 9.0]),
        ],
    )
    curves = read_curves(store, study_id, "value")
    bad = Curve(9, TrialState.RUNNING, {0: 30.0, 1: 9.0}, 9)
    assert rule.decide(MINIMIZE, bad, 0, curves) is None  # warm-up epoch
    decision = rule.decide(MINIMIZE, bad, 1, curves)
    assert decision is not None and decision.cutoff == 8.0 and decision.compared == 3
    assert (
        rule.decide(MINIMIZE, Curve(9, TrialState.RUNNING, {0: 30.0, 1: 7.5}, 9), 1, curves) is None
    )
    # Fewer complete trials than the warm-up asks for: nothing is pruned yet.
    assert rule.decide(MINIMIZE, bad, 1, curves[:2]) is None
    # Maximising flips the comparison.
    assert rule.decide(Direction.MAXIMIZE, bad, 1, curves) is None


def test_hyperband_brackets_compete_apart_and_start_at_their_own_rung() -> None:
    rule = Hyperband.from_options(_pruner("hyperband"))
    assert rule.bracket_weights() == [9, 5, 3]  # brackets starting at 1, 3 and 9 epochs
    brackets = [rule.bracket_of(n) for n in range(17)]
    assert [brackets.count(b) for b in range(3)] == [9, 5, 3]
    assert brackets[:6] != sorted(brackets[:6])  # interleaved, not in blocks
    in_bracket = {b: [n for n in range(17) if brackets[n] == b] for b in range(3)}
    rivals = [
        Curve(n, TrialState.COMPLETE, {e: 1.0 + n / 100 for e in range(9)}, n) for n in range(17)
    ]
    worst = {e: 50.0 for e in range(9)}
    # A hopeless trial in bracket 0 is cut at its first epoch; in bracket 1 it survives until
    # the 3-epoch rung, where it meets only bracket 1's trials; bracket 2 trains in full.
    first = rule.decide(
        MINIMIZE, Curve(100, TrialState.RUNNING, worst, in_bracket[0][0]), 0, rivals
    )
    assert first is not None and first.bracket == 0 and first.rung == 1
    second_key = in_bracket[1][0]
    assert (
        rule.decide(MINIMIZE, Curve(100, TrialState.RUNNING, worst, second_key), 0, rivals) is None
    )
    third = rule.decide(MINIMIZE, Curve(100, TrialState.RUNNING, worst, second_key), 2, rivals)
    assert third is not None and third.rung == 3 and third.compared == len(in_bracket[1]) + 1
    for epoch in range(9):
        assert (
            rule.decide(
                MINIMIZE,
                Curve(100, TrialState.RUNNING, worst, in_bracket[2][0]),
                epoch,
                rivals,
            )
            is None
        )


def test_the_fidelity_curve_ends_at_the_function_and_narrows() -> None:
    x = [1.0, 2.0]
    curve = fidelity_curve(TEST_FUNCTIONS["branin"], x, 9)
    final = TEST_FUNCTIONS["branin"].function(x)
    assert curve[-1] == pytest.approx(final) and all(v >= final for v in curve)
    assert curve[0] - final > curve[5] - final  # the gap to the final value falls
    assert fidelity_curve(TEST_FUNCTIONS["branin"], x, 9) == curve  # the same x, the same curve
    assert fidelity_curve(TEST_FUNCTIONS["branin"], x, 1) == [pytest.approx(final)]


@pytest.mark.parametrize("kind", ["median", "successive_halving", "hyperband"])
def test_a_pruned_study_stops_the_right_trials_and_keeps_their_curves(
    kind: str,
) -> None:
    raw = branin_spec(name=kind, trials=30, epochs=9)
    raw["pruner"] = {"type": kind}
    spec = parse_spec(raw)
    lines: list[str] = []
    with Store(MEMORY) as store:
        run = run_study(spec, store, function_objective("branin", 0, 9), log=lines.append)
        trials = store.trials(run.study_id)
        decisions = {d.trial_number: d for d in store.prune_decisions(run.study_id)}
        curves = {c.number: c for c in read_curves(store, run.study_id, "value")}
        trained = store.epochs_trained(run.study_id)
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    assert len(pruned) >= 5 and set(decisions) == {t.number for t in pruned}
    assert trained == sum(len(c.values) for c in curves.values()) < 30 * 9
    for trial in pruned:
        decision = decisions[trial.number]
        # The curve is kept up to the epoch it was cut at, and no further.
        assert sorted(curves[trial.number].values) == list(range(decision.epoch + 1))
        assert trial.value == decision.value == min(curves[trial.number].values.values())
        assert MINIMIZE.better(decision.cutoff, decision.value)
        assert trial.note.startswith(f"pruned at epoch {decision.epoch + 1}:")
        # The decision replays from the store: the trials before it, as they stood then.
        # One worker: every earlier trial had finished, with the curve and state stored now.
        earlier = [curve for number, curve in curves.items() if number < trial.number]
        own = Curve(trial.number, TrialState.RUNNING, curves[trial.number].values, trial.number)
        assert pruner_for(spec.pruner).decide(MINIMIZE, own, decision.epoch, earlier) == decision
        if kind != "median":
            assert decision.rung in rung_epochs(
                spec.pruner["min_epochs"] * 3 ** (decision.bracket or 0), 3, 9
            )
    assert any(
        f"pruned at epoch {decisions[pruned[0].number].epoch + 1}: " in line for line in lines
    )
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert all(len(curves[t.number].values) == 9 for t in complete)


def test_expected_epoch_fraction_matches_what_a_random_study_spends() -> None:
    for kind in ("successive_halving", "hyperband"):
        raw = branin_spec(name=kind, trials=60, epochs=9)
        raw["pruner"] = {"type": kind}
        spec = parse_spec(raw)
        with Store(MEMORY) as store:
            run = run_study(spec, store, function_objective("branin", 0, 9), log=lambda _: None)
            spent = store.epochs_trained(run.study_id) / (60 * 9)
        assert pruner_for(spec.pruner).epoch_fraction() == pytest.approx(spent, abs=0.12), kind


@pytest.mark.subprocess
def test_resume_after_sigkill_keeps_every_rung_decision(storage: Path, tmp_path: Path) -> None:
    raw = branin_spec(
        strategy={"type": "bayesian", "initial_points": 4, "seed": 2},
        trials=14,
        epochs=9,
        trial_seconds=0.45,
    )
    raw["pruner"] = {"type": "successive_halving"}
    path = write_spec(tmp_path, raw)
    reference = tmp_path / "reference.db"
    # The uninterrupted run, in its own store, runs while the other worker is killed and resumed.
    with cli_in_background("run", str(path), storage=reference) as uninterrupted:
        killed = kill_worker_when(
            path,
            storage,
            "branin",
            lambda trials: (
                sum(t.state == TrialState.PRUNED for t in trials) >= 2
                and trials[-1].state == TrialState.RUNNING
            ),
        )
        assert killed[-1].state == TrialState.RUNNING  # the worker died in the middle of a trial
        with Store(storage) as store:
            before = store.prune_decisions(store.get_study("branin").id)
        resumed = run_cli("run", str(path), storage=storage)
        assert resumed.returncode == 0, resumed.stderr
        assert uninterrupted.result().returncode == 0

    def outcomes(db: Path) -> list[tuple]:
        with Store(db) as store:
            study_id = store.get_study("branin").id
            decisions = {d.trial_number: d for d in store.prune_decisions(study_id)}
            trials = store.trials(study_id)
        return [
            (
                round(t.params["x1"], 9),
                t.state.value,
                t.value,
                decisions[t.number].cutoff if t.number in decisions else None,
            )
            for t in trials
            if t.state != TrialState.INTERRUPTED
        ]

    with Store(storage) as store:
        study_id = store.get_study("branin").id
        after = store.prune_decisions(study_id)
        retried = [t.retry_of for t in store.trials(study_id) if t.retry_of is not None]
    assert retried == [killed[-1].number]
    assert before and after[: len(before)] == before  # the decisions already made stand
    assert outcomes(storage) == outcomes(reference)


@pytest.mark.keras
def test_keras_median_pruner_cuts_a_learning_rate_that_is_too_small(storage: Path) -> None:
    raw = digits_spec(
        space={
            "learning_rate": {"type": "choice", "values": [0.05, 0.1, 0.2, 0.0001]},
            "units": 32,
            "optimizer": "sgd",
        },
        trials=4,
        epochs=4,
        train_limit=600,
    )
    raw["strategy"] = {"type": "grid"}
    raw["pruner"] = {"type": "median", "warmup_trials": 3, "warmup_epochs": 1}
    spec = parse_spec(raw)
    # Imported here: it loads TensorFlow, which the other tests here do not need.
    from tuning_core.training.keras_objective import KerasObjective

    with Store(storage) as store:
        run = run_study(spec, store, KerasObjective(spec), log=lambda _: None)
        trials = {t.params["learning_rate"]: t for t in store.trials(run.study_id)}
        decisions = store.prune_decisions(run.study_id)
        curves = {c.number: c for c in read_curves(store, run.study_id, "val_accuracy")}
    slow = trials[0.0001]
    assert slow.state == TrialState.PRUNED
    assert [d.trial_number for d in decisions] == [slow.number]
    assert decisions[0].epoch == 1 and len(curves[slow.number].values) == 2
    assert decisions[0].value < decisions[0].cutoff  # accuracy: worse is lower
    assert all(trials[lr].state == TrialState.COMPLETE for lr in (0.05, 0.1, 0.2))


@pytest.mark.parametrize(
    ("pruner", "objective", "field"),
    [
        ({"type": "asha"}, {}, "pruner.type"),
        ({"type": "median"}, {"epochs": 1}, "pruner.type median"),
        ({"type": "median", "reduction_factor": 3}, {}, "pruner.reduction_factor"),
        ({"type": "hyperband", "reduction_factor": 1}, {}, "pruner.reduction_factor"),
        ({"type": "hyperband", "min_epochs": 9}, {}, "pruner.min_epochs"),
        ({"type": "successive_halving", "max_epochs": 20}, {}, "pruner.max_epochs"),
        ({"type": "median", "tell": "nothing"}, {}, "pruner.tell"),
        ({"type": "none", "warmup_trials": 2}, {}, "pruner:"),
        ("median", {}, "pruner must be an object"),
    ],
)
def test_bad_pruners_get_one_sentence_naming_the_field(
    pruner: Any, objective: dict[str, Any], field: str
) -> None:
    raw = branin_spec(**{"epochs": 9, **objective})
    raw["pruner"] = pruner
    with pytest.raises(SpecError) as error:
        parse_spec(raw)
    message = str(error.value)
    assert message.startswith(field) and message.count(".") <= 3 and "\n" not in message


@pytest.mark.subprocess
def test_cli_refuses_a_bad_pruner_with_exit_2(storage: Path, tmp_path: Path) -> None:
    raw = branin_spec(epochs=9)
    raw["pruner"] = {"type": "successive_halving", "reduction_factor": 0}
    result = run_cli("run", str(write_spec(tmp_path, raw)), storage=storage)
    assert result.returncode == 2
    assert "pruner.reduction_factor must be a whole number from 2" in result.stderr
    assert "Traceback" not in result.stderr


def test_epoch_budget_stops_starting_trials() -> None:
    raw = branin_spec(trials=1000, epochs=9)
    raw["budget"]["epochs"] = 40
    raw["pruner"] = {"type": "successive_halving"}
    spec = parse_spec(raw)
    with Store(MEMORY) as store:
        run = run_study(spec, store, function_objective("branin", 0, 9), log=lambda _: None)
        spent = store.epochs_trained(run.study_id)
        count = len(store.trials(run.study_id))
    assert run.message == "the epoch budget is spent"
    assert 40 <= spent < 40 + 9 and count > 40 // 9


@pytest.mark.subprocess
def test_cli_says_where_each_trial_was_pruned_and_list_counts_them(
    storage: Path, tmp_path: Path
) -> None:
    raw = branin_spec(trials=12, epochs=9)
    raw["pruner"] = {"type": "successive_halving"}
    result = run_cli("run", str(write_spec(tmp_path, raw)), storage=storage)
    assert result.returncode == 0, result.stderr
    pruned_lines = [line for line in result.stdout.splitlines() if "] pruned at epoch " in line]
    with Store(storage) as store:
        study_id = store.get_study("branin").id
        decisions = store.prune_decisions(study_id)
    assert len(pruned_lines) == len(decisions) > 0
    for line, decision in zip(pruned_lines, decisions, strict=True):
        assert line.startswith(f"trial {decision.trial_number} ")
        assert f"pruned at epoch {decision.epoch + 1}: value={decision.value:.6g}" in line
        assert f"cut-off {decision.cutoff:.4g}" in line
    listed = run_cli("list", storage=storage).stdout
    assert f"value (minimize, {len(decisions)} pruned)" in listed


@pytest.mark.parametrize("tell", ["last", "worst"])
def test_the_gaussian_process_is_told_every_pruned_trial_as_a_finite_value(
    tell: str,
) -> None:
    raw = branin_spec(
        strategy={"type": "bayesian", "initial_points": 4, "seed": 1}, trials=16, epochs=9
    )
    raw["pruner"] = {"type": "successive_halving", "tell": tell}
    spec = parse_spec(raw)
    with Store(MEMORY) as store:
        run = run_study(spec, store, function_objective("branin", 0, 9), log=lambda _: None)
        trials = store.trials(run.study_id)
        _, blob = store.load_snapshot(run.study_id)
    strategy = make_strategy(spec.space, spec.strategy)
    strategy.restore(blob)
    told = strategy.optimizer.yi
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    complete = [t.value for t in trials if t.state == TrialState.COMPLETE]
    assert pruned and len(told) == len(trials) and all(math.isfinite(y) for y in told)
    for trial, value in zip(trials, told, strict=True):
        if trial.state == TrialState.COMPLETE:
            assert value == trial.value
        elif tell == "last":
            assert value == trial.value  # its best value when it stopped
        else:  # the worst value seen so far, its own included (a minimised loss: the largest)
            seen = [t.value for t in trials[: trial.number + 1] if t.value is not None]
            assert value == max(seen)
    assert len(complete) + len(pruned) == len(trials)


def test_a_failure_is_never_told_a_better_score_than_a_pruned_trial() -> None:
    raw = digits_spec(space={"learning_rate": {"type": "float", "low": 0.001, "high": 1.0}})
    raw["objective"]["epochs"] = 4
    raw["strategy"] = {"type": "bayesian", "initial_points": 2, "seed": 0}
    raw["pruner"] = {"type": "median"}
    spec = parse_spec(raw)
    strategy = make_strategy(spec.space, spec.strategy)
    teller = _Teller(strategy, spec.space, spec.direction, "last")
    # Maximised accuracy: complete 0.97, pruned at 0.40, complete 0.96, then a divergence.
    outcomes = [
        (TrialState.COMPLETE, 0.97),
        (TrialState.PRUNED, 0.40),
        (TrialState.COMPLETE, 0.96),
        (TrialState.DIVERGED, None),
    ]
    for state, value in outcomes:
        teller.tell(spec.space.full_params(strategy.ask()), state, value)
    assert strategy.optimizer.yi == [-0.97, -0.40, -0.96, -0.40]


def test_null_options_take_their_defaults_and_a_zero_warm_up_prunes_nothing_too_soon() -> None:
    raw = branin_spec(trials=8, epochs=None)
    raw["pruner"] = {"type": "median", "warmup_trials": None, "max_epochs": None}
    with pytest.raises(SpecError, match=r"^pruner.type median .* set objective.epochs to 2"):
        parse_spec(raw)  # a null objective.epochs is the default, 1: too few to prune
    raw["objective"]["epochs"] = 6
    assert parse_spec(raw).pruner == {
        "type": "median",
        "max_epochs": 6,
        "warmup_trials": 5,
        "warmup_epochs": 1,
        "tell": "last",
    }
    raw["pruner"] = {"type": "median", "warmup_trials": 0, "warmup_epochs": 0}
    with Store(MEMORY) as store:
        run = run_study(
            parse_spec(raw), store, function_objective("branin", 0, 6), log=lambda _: None
        )
        states = [t.state for t in store.trials(run.study_id)]
    assert TrialState.FAILED not in states and TrialState.PRUNED in states


@pytest.mark.parametrize(
    ("epochs", "expected"),
    [
        ({"type": "choice", "values": [2, 12]}, 12),
        ({"type": "int", "low": 2, "high": 7}, 7),
        (5, 5),
    ],
)
def test_max_epochs_follows_a_tuned_or_fixed_epochs(epochs: Any, expected: int) -> None:
    raw = digits_spec(space={"epochs": epochs}, epochs=4)
    raw["pruner"] = {"type": "successive_halving"}
    assert parse_spec(raw).pruner["max_epochs"] == expected
    raw["space"]["epochs"] = 1
    with pytest.raises(SpecError, match=r"set space.epochs to 2 or more"):
        parse_spec(raw)


def test_a_retry_of_a_retry_keeps_its_original_trials_bracket() -> None:
    # Trial 0 was interrupted twice (retried as 1, then as 2); 3 and 4 are new trials.
    keys = bracket_keys({0: None, 1: 0, 2: 1, 3: None, 4: None})
    assert keys == {0: 0, 1: 0, 2: 0, 3: 1, 4: 2}
    rule = Hyperband.from_options(_pruner("hyperband"))
    assert {rule.bracket_of(keys[n]) for n in (0, 1, 2)} == {rule.bracket_of(0)}
