"""Bayesian search over several metrics (ParEGO, engine/strategies/parego.py and bayesian.py):
reproducible weights, the augmented Chebyshev scalarisation, a front better than random's on
ZDT1, resume and snapshots asking what one run asked, and ask records naming the weights."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tuning_core.engine import explain, snapshots
from tuning_core.engine.objectives import function_objective, zdt1
from tuning_core.engine.pareto import hypervolume
from tuning_core.engine.space import parse_space
from tuning_core.engine.spec import parse_spec
from tuning_core.engine.storage import Store
from tuning_core.engine.strategies import (
    PAREGO_RHO,
    BayesianStrategy,
    GridStrategy,
    RandomStrategy,
    ask_facts,
    ask_record_from_facts,
    load_ask_record,
    parego_weights,
    ranks,
    scalarise,
)
from tuning_core.engine.study import run_study
from tuning_core.views import why_sentences

NAMES = [f"x{i}" for i in range(1, 7)]
SPACE = parse_space({name: {"type": "float", "low": 0, "high": 1} for name in NAMES})
# Beyond the worst value any point of [0, 1]^6 takes: f1 <= 1, f2 <= g <= 10.
REFERENCE = (1.1, 11.0)


def _losses(params: dict[str, Any]) -> tuple[float, float]:
    values = zdt1(np.array([params[name] for name in NAMES]))
    return values["f1"], values["f2"]


def _search(strategy: Any, trials: int) -> list[tuple[float, float]]:
    points = []
    for _ in range(trials):
        params = strategy.ask()
        losses = _losses(params)
        strategy.tell(params, losses)
        points.append(losses)
    return points


def test_parego_weights_are_reproducible_from_the_seed_and_the_ask() -> None:
    first = [parego_weights(7, ask, 2) for ask in range(20)]
    again = [parego_weights(7, ask, 2) for ask in range(20)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(parego_weights(7, 0, 2), parego_weights(8, 0, 2))
    assert len({tuple(w) for w in first}) == 20  # a new direction at every ask
    for weights in [*first, parego_weights(1, 3, 4)]:
        assert np.all(weights >= 0) and math.isclose(weights.sum(), 1.0)
    # Spread over the simplex, not clustered: both extremes are visited.
    share = np.array([w[0] for w in first])
    assert share.min() < 0.25 and share.max() > 0.75
    with pytest.raises(ValueError, match="metrics"):
        parego_weights(0, 0, 0)


def test_the_scalarisation_normalises_then_takes_the_augmented_chebyshev() -> None:
    losses = np.array([[0.0, 10.0], [1.0, 0.0], [0.5, 5.0], [0.25, 5.0]])
    weights = np.array([0.25, 0.75])
    # Normalised: [0, 1], [1, 0], [0.5, 0.5], [0.25, 0.5]; then max(w f) + rho sum(w f).
    expected = [
        0.75 + PAREGO_RHO * 0.75,
        0.25 + PAREGO_RHO * 0.25,
        0.375 + PAREGO_RHO * (0.125 + 0.375),
        0.375 + PAREGO_RHO * (0.0625 + 0.375),
    ]
    assert scalarise(losses, weights) == pytest.approx(expected)
    # The augmentation breaks the max's tie: the point better in f1 alone scores lower.
    values = scalarise(losses, weights)
    assert values[3] < values[2]
    # A metric whose losses are all equal adds nothing: its normalised column is 0.
    flat = scalarise(np.array([[0.0, 3.0], [2.0, 3.0]]), np.array([0.5, 0.5]))
    assert flat == pytest.approx([0.0, 0.5 + PAREGO_RHO * 0.5])


def test_ranks_keep_the_order_share_ties_and_drop_the_tail() -> None:
    values = np.array([3.0, 1.0, 2.0, 2.0, 1000.0])
    assert ranks(values) == pytest.approx([0.7, 0.1, 0.4, 0.4, 0.9])
    # The point 1000 scores counts as one step above the next, as 4 would.
    assert ranks(values) == pytest.approx(ranks(np.array([3.0, 1.0, 2.0, 2.0, 4.0])))


def test_each_ask_records_its_weights_and_the_scalarised_losses() -> None:
    strategy = BayesianStrategy(SPACE, "GP", "EI", 4, 11)
    _search(strategy, 6)
    strategy.take_ask_record()
    params = strategy.ask()  # the 7th ask (index 6), chosen by the surrogate
    record = load_ask_record(strategy.take_ask_record().state)
    assert not record["initial"]
    assert record["weights"] == pytest.approx(list(parego_weights(11, 6, 2)))
    assert len(record["losses"]) == 6
    expected = scalarise(np.array(record["losses"]), np.array(record["weights"]))
    assert record["yi"] == pytest.approx(list(ranks(expected)))  # what the GP was fitted to
    values = BayesianStrategy(SPACE, "GP", "EI", 4, 11, scalarised_fit="values")
    _search(values, 6)
    values.ask()
    told = load_ask_record(values.take_ask_record().state)
    assert told["yi"] == pytest.approx(
        list(scalarise(np.array(told["losses"]), np.array(told["weights"])))
    )
    # A recording's facts carry them, and a replay's record is rebuilt with them.
    facts = ask_facts(record)
    assert facts["weights"] == record["weights"]
    rebuilt = load_ask_record(
        ask_record_from_facts(BayesianStrategy(SPACE, "GP", "EI", 4, 11), facts).state
    )
    assert rebuilt["weights"] == record["weights"] and rebuilt["losses"] == record["losses"]
    assert [rebuilt["point"][i] for i in range(6)] == [params[name] for name in NAMES]


def test_same_seed_same_proposals_and_grid_and_random_take_tuples() -> None:
    first = _search(BayesianStrategy(SPACE, "GP", "EI", 4, 5), 8)
    second = _search(BayesianStrategy(SPACE, "GP", "EI", 4, 5), 8)
    assert first == second
    # Grid and random ignore what they are told: a tuple proposes what a float would.
    for make in (lambda: RandomStrategy(SPACE, 3), lambda: GridStrategy(SPACE, 2)):
        told_tuples, told_floats = make(), make()
        for _ in range(5):
            a, b = told_tuples.ask(), told_floats.ask()
            assert a == b
            told_tuples.tell(a, _losses(a))
            told_floats.tell(b, _losses(b)[0])


def test_the_kind_of_loss_cannot_change_within_a_search() -> None:
    strategy = BayesianStrategy(SPACE, "GP", "EI", 4, 0)
    params = strategy.ask()
    strategy.tell(params, (1.0, 2.0))
    with pytest.raises(ValueError, match="one loss per metric"):
        strategy.tell(params, 1.0)
    with pytest.raises(ValueError, match="3 losses told where 2 metrics"):
        strategy.tell(params, (1.0, 2.0, 3.0))
    single = BayesianStrategy(SPACE, "GP", "EI", 4, 0)
    single.tell(params, 1.0)
    with pytest.raises(ValueError, match="single losses"):
        single.tell(params, (1.0, 2.0))


def test_a_single_metric_snapshot_keeps_its_shape() -> None:
    strategy = BayesianStrategy(SPACE, "GP", "EI", 3, 0)
    for _ in range(4):
        params = strategy.ask()
        strategy.tell(params, _losses(params)[1])
    assert len(snapshots.load(strategy.snapshot())) == 3  # (optimizer, told, failed), as before


def test_a_snapshot_restores_what_one_run_asks_next_failures_and_pending_included() -> None:
    def play(strategy: BayesianStrategy, trials: int) -> list[dict[str, Any]]:
        asked = []
        for trial in range(trials):
            params = strategy.ask()
            asked.append(params)
            failed = trial in (2, 7)  # told, as the study tells failures, the worst of each
            strategy.tell(params, (1.0, 10.0) if failed else _losses(params), failed=failed)
        return asked

    whole = BayesianStrategy(SPACE, "GP", "EI", 5, 9)
    play(whole, 9)
    blob = whole.snapshot()
    after = play(whole, 6)
    pending = [whole.ask()]
    parallel = whole.ask_with_pending(pending)

    restored = BayesianStrategy(SPACE, "GP", "EI", 5, 9)
    restored.restore(blob)
    assert play(restored, 6) == after
    assert [restored.ask()] == pending
    assert restored.ask_with_pending(pending) == parallel
    assert parallel not in pending


def _zdt_study(store: Store, trials: int) -> list[dict[str, Any]]:
    spec = parse_spec(
        {
            "name": "zdt",
            "objective": {"type": "function", "name": "zdt1"},
            "space": {name: {"type": "float", "low": 0, "high": 1} for name in NAMES[:3]},
            "strategy": {"type": "bayesian", "initial_points": 4, "seed": 3},
            "budget": {"trials": trials},
        }
    )
    run_study(spec, store, function_objective("zdt1"), log=lambda _: None)
    return [t.params for t in store.trials(store.get_study("zdt").id)]


def test_a_resumed_two_metric_study_proposes_what_one_run_did(tmp_path: Path) -> None:
    with Store(tmp_path / "whole.db") as store:
        whole = _zdt_study(store, 12)
    with Store(tmp_path / "resumed.db") as store:
        _zdt_study(store, 7)  # from its snapshot: past the initial points, mid-search
        resumed = _zdt_study(store, 12)
    with Store(tmp_path / "replayed.db") as store:
        _zdt_study(store, 7)
        study = store.get_study("zdt")
        store.save_snapshot(study.id, 6, b"not a signed snapshot")  # refused: replays all
        replayed = _zdt_study(store, 12)
    assert resumed == whole
    assert replayed == whole


def test_why_this_point_names_the_weights_of_a_two_metric_ask(tmp_path: Path) -> None:
    with Store(tmp_path / "why.db") as store:
        _zdt_study(store, 6)
        record = load_ask_record(store.load_ask(store.get_study("zdt").id, 5))
        why = explain.explain(store, "zdt", 5).to_json()
    assert not why["initial"] and "true_value" not in why  # two metrics: no one surface
    assert why["weights"] == record["weights"]
    assert why["weights"] == pytest.approx(list(parego_weights(3, 5, 2)))
    # The surrogate models the scalarised score, lower is better: the page names it so, and
    # its observed values are the values the GP was fitted to, not the first metric's.
    assert (why["metric"], why["direction"], why["metrics"]) == (
        explain.SCALARISED_METRIC,
        "minimize",
        ["f1", "f2"],
    )
    assert [point["value"] for point in why["observed"]] == pytest.approx(record["yi"])
    sentence = why_sentences.summary_sentence(why)
    first, second = (f"{weight:.0%}" for weight in why["weights"])
    assert f"f1 at {first} and f2 at {second}" in sentence


@pytest.mark.slow  # 3 seeds x 2 searches x 30 trials, ~2.2 s; ParEGO's unit tests stay fast
def test_parego_reaches_a_larger_hypervolume_than_random_on_zdt1() -> None:
    """At 30 trials on six inputs ParEGO's front is well ahead of random's on each seed: over
    seeds 0-7 10.95-11.59 against 7.85-9.35 (11.77 at most), the smallest lead 2.0. Three
    searches with a GP, about 2 s."""
    directions = ["minimize", "minimize"]
    for seed in range(3):
        bayes = _search(BayesianStrategy(SPACE, "GP", "EI", 10, seed), 30)
        random = _search(RandomStrategy(SPACE, seed), 30)
        ours = hypervolume(bayes, directions, REFERENCE)
        theirs = hypervolume(random, directions, REFERENCE)
        assert ours > theirs + 0.5, (seed, ours, theirs)
