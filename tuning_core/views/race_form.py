"""The Strategy race page's form: presets in (objectives, their spaces and trial budgets, the
strategies to pick from), a race spec document out. Pure; no Streamlit."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FUNCTION_SPACES: dict[str, dict[str, Any]] = {
    "branin": {
        "x1": {"type": "float", "low": -5.0, "high": 10.0},
        "x2": {"type": "float", "low": 0.0, "high": 15.0},
    },
    "hartmann6": {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(1, 7)},
    "zdt1": {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(1, 7)},
}
OBJECTIVES = {
    "branin": "Branin (2-D function, known optimum: a race in seconds)",
    "hartmann6": "Hartmann-6 (6-D function, known optimum)",
    "zdt1": "ZDT1 (two metrics, 6-D: ranked by hypervolume)",
    "digits": "Keras MLP on digits (1 epoch a trial, learning rate and width tuned)",
}
DEFAULT_TRIALS = {"branin": 30, "hartmann6": 60, "zdt1": 30, "digits": 8}
STRATEGY_CHOICES: dict[str, dict[str, Any]] = {
    "Grid": {"type": "grid"},
    "Random": {"type": "random"},
    "Bayesian (GP, EI)": {"type": "bayesian", "surrogate": "GP", "acquisition": "EI"},
    "Bayesian (GP, LCB)": {"type": "bayesian", "surrogate": "GP", "acquisition": "LCB"},
    "Bayesian (GP, gp_hedge)": {"type": "bayesian", "surrogate": "GP", "acquisition": "gp_hedge"},
    "Bayesian (RF, EI)": {"type": "bayesian", "surrogate": "RF", "acquisition": "EI"},
    "Bayesian (ET, EI)": {"type": "bayesian", "surrogate": "ET", "acquisition": "EI"},
    "Bayesian (GBRT, EI)": {"type": "bayesian", "surrogate": "GBRT", "acquisition": "EI"},
    "Random + successive halving": {
        "type": "random",
        "pruner": {"type": "successive_halving"},
    },
    "Bayesian (GP, EI) + median pruner": {
        "type": "bayesian",
        "surrogate": "GP",
        "acquisition": "EI",
        "pruner": {"type": "median"},
    },
}
DEFAULT_STRATEGIES = ["Grid", "Random", "Bayesian (GP, EI)"]
# A pruner stops trials between epochs, so a race with one gives every trial this many.
PRUNED_FUNCTION_EPOCHS = 10
PRUNED_KERAS_EPOCHS = 4


def default_race_name(objective: str, taken: Iterable[str]) -> str:
    """``<objective>-race-<k>`` with the smallest k from 1 that no race has taken."""
    used = set(taken)
    k = 1
    while f"{objective}-race-{k}" in used:
        k += 1
    return f"{objective}-race-{k}"


def race_document(
    name: str, objective: str, strategies: list[str], seeds: int, trials: int, parallel: int = 1
) -> dict[str, Any]:
    """The race spec the form describes (validated by ``engine.race_spec.parse_race_spec``)."""
    entries = [dict(STRATEGY_CHOICES[choice]) for choice in strategies]
    pruned = any("pruner" in entry for entry in entries)
    if objective == "digits":
        objective_spec: dict[str, Any] = {
            "type": "keras",
            "dataset": "digits",
            "model": "mlp",
            "epochs": PRUNED_KERAS_EPOCHS if pruned else 1,
            "train_limit": 1000,
        }
        space: dict[str, Any] = {
            "learning_rate": {"type": "float", "low": 0.0001, "high": 1.0, "log": True},
            "units": {"type": "int", "low": 8, "high": 128, "log": True},
        }
    else:
        objective_spec = {"type": "function", "name": objective}
        if pruned:
            objective_spec["epochs"] = PRUNED_FUNCTION_EPOCHS
        space = FUNCTION_SPACES[objective]
    return {
        "name": name,
        "objective": objective_spec,
        "space": space,
        "budget": {"trials": trials},
        "seeds": seeds,
        "strategies": entries,
        **({"parallel": parallel} if parallel > 1 else {}),
    }
