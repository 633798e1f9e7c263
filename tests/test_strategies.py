from __future__ import annotations

import statistics

import numpy as np
import pytest

from tests.conftest import branin_spec
from tuning_core.engine.objectives import TEST_FUNCTIONS, branin, hartmann6
from tuning_core.engine.space import parse_space
from tuning_core.engine.spec import ACQUISITIONS, SURROGATES, parse_spec
from tuning_core.engine.strategies import BayesianStrategy, RandomStrategy, make_strategy


def _search(strategy, trials: int) -> float:
    best = float("inf")
    for _ in range(trials):
        params = strategy.ask()
        value = branin(np.array([params["x1"], params["x2"]]))
        strategy.tell(params, value)
        best = min(best, value)
    return best


def test_known_optima() -> None:
    assert branin(np.array([np.pi, 2.275])) == pytest.approx(
        TEST_FUNCTIONS["branin"].optimum, abs=1e-5
    )
    x = [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573]
    assert hartmann6(np.array(x)) == pytest.approx(TEST_FUNCTIONS["hartmann6"].optimum, abs=1e-4)


def test_random_search_is_reproducible_from_its_seed() -> None:
    space = parse_spec(branin_spec()).space

    def draws(seed: int) -> list[dict]:
        strategy = RandomStrategy(space, seed)
        return [strategy.ask() for _ in range(5)]

    assert draws(3) == draws(3)
    assert draws(3) != draws(4)
    for params in draws(5):
        assert -5 <= params["x1"] <= 10 and 0 <= params["x2"] <= 15


@pytest.mark.slow  # 6 searches of 30 trials, 3 with a GP: 10-20 s
def test_bayesian_beats_random_on_branin_at_30_trials() -> None:
    space = parse_spec(branin_spec()).space
    optimum = TEST_FUNCTIONS["branin"].optimum
    seeds = range(3)
    bayes = [_search(BayesianStrategy(space, "GP", "EI", 5, seed), 30) - optimum for seed in seeds]
    random = [_search(RandomStrategy(space, seed), 30) - optimum for seed in seeds]
    assert statistics.median(bayes) < statistics.median(random)
    assert statistics.median(bayes) < 0.1


def test_bayesian_search_is_reproducible_from_its_seed() -> None:
    space = parse_spec(branin_spec()).space
    first, second = (
        BayesianStrategy(space, "GP", "EI", 3, 7),
        BayesianStrategy(space, "GP", "EI", 3, 7),
    )
    for _ in range(8):
        a, b = first.ask(), second.ask()
        assert a == b
        value = branin(np.array([a["x1"], a["x2"]]))
        first.tell(a, value)
        second.tell(b, value)


@pytest.mark.parametrize("surrogate", SURROGATES)
@pytest.mark.parametrize("acquisition", ACQUISITIONS)
@pytest.mark.slow  # 16 searches, 15-25 s in all
def test_every_surrogate_and_acquisition_runs(surrogate: str, acquisition: str) -> None:
    space = parse_space(
        {
            "x1": {"type": "float", "low": -5, "high": 10},
            "x2": {"type": "int", "low": 0, "high": 15},
            "shift": {"type": "choice", "values": ["none", "up"]},
        }
    )
    config = {
        "type": "bayesian",
        "surrogate": surrogate,
        "acquisition": acquisition,
        "initial_points": 3,
        "seed": 1,
    }
    strategy = make_strategy(space, config)
    for _ in range(6):
        params = strategy.ask()
        assert params["shift"] in ("none", "up") and isinstance(params["x2"], int)
        value = branin(np.array([params["x1"], params["x2"]])) + (
            5.0 if params["shift"] == "up" else 0.0
        )
        strategy.tell(params, value)
