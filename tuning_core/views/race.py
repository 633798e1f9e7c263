"""A strategy race as DataFrames, and its verdict in plain words (pure: rows in, frames out).

:func:`trial_frame` turns the race's finished trials (``engine.race.race_trial_rows``) into
the best value so far of each study after each trial; :func:`convergence_frame` and
:func:`time_frame` summarise those per strategy as median and interquartile range, against
the trial number and against wall-clock seconds; :func:`verdict` says who won and how soon.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from tuning_core.engine.race import RaceTrialRow
from tuning_core.engine.states import Direction

# Regret is drawn on a log axis; an optimum hit to machine precision is shown at this floor.
REGRET_FLOOR = 1e-6
TIME_POINTS = 80
BAND_COLUMNS = ["label", "strategy", "median", "q25", "q75", "studies"]


def trial_frame(
    rows: Iterable[RaceTrialRow], direction: str, optimum: float | None = None
) -> pd.DataFrame:
    """One row per finished trial: study, label, seed, trial (1-based), value, elapsed_s and
    ``best`` (the best value so far, NaN before the first value); with a known ``optimum``,
    ``regret`` = best − optimum (at least :data:`REGRET_FLOOR`)."""
    frame = pd.DataFrame([asdict(row) for row in rows])
    if frame.empty:
        columns = ["study", "label", "seed", "trial", "value", "state", "elapsed_s", "best"]
        return pd.DataFrame(columns=columns + (["regret"] if optimum is not None else []))
    frame = frame.sort_values(["study", "trial"], kind="stable").reset_index(drop=True)
    values = frame["value"].astype(float)
    # A pruned, failed or diverged trial has no value: the best so far carries over it, so
    # every study that reached a trial counts in that trial's band.
    running = values.groupby(frame["study"]).transform(Direction(direction).running_best)
    frame["best"] = running.groupby(frame["study"]).ffill()
    if optimum is not None:
        gap = frame["best"] - optimum if direction == "minimize" else optimum - frame["best"]
        frame["regret"] = gap.clip(lower=REGRET_FLOOR)
    return frame


def _measure(frame: pd.DataFrame) -> str:
    return "regret" if "regret" in frame.columns else "best"


def _summarise(groups: pd.core.groupby.DataFrameGroupBy, column: str) -> pd.DataFrame:
    summary = groups[column].agg(
        median="median",
        q25=lambda s: s.quantile(0.25),
        q75=lambda s: s.quantile(0.75),
        studies="count",
    )
    return summary.reset_index()


def convergence_frame(frame: pd.DataFrame, titles: Mapping[str, str]) -> pd.DataFrame:
    """Per strategy and trial number: the median, 25th and 75th percentiles of the best so far
    (of the regret, where the optimum is known) over the studies that reached that trial."""
    column = _measure(frame)
    known = frame.dropna(subset=[column])
    if known.empty:
        return pd.DataFrame(columns=["label", "trial", *BAND_COLUMNS[1:]])
    bands = _summarise(known.groupby(["label", "trial"]), column)
    bands["strategy"] = bands["label"].map(lambda label: titles.get(label, label))
    return bands[["label", "trial", *BAND_COLUMNS[1:]]]


def time_frame(
    frame: pd.DataFrame, titles: Mapping[str, str], points: int = TIME_POINTS
) -> pd.DataFrame:
    """The same bands against wall-clock seconds since each study began, on a log-spaced grid
    of times: at time t a study counts with its best value of the trials that ended by t."""
    column = _measure(frame)
    known = frame.dropna(subset=[column])
    if known.empty:
        return pd.DataFrame(columns=["label", "seconds", *BAND_COLUMNS[1:]])
    positive = known.loc[known["elapsed_s"] > 0, "elapsed_s"]
    first = max(float(positive.min()) if len(positive) else 1e-3, 1e-4)
    last = max(float(known["elapsed_s"].max()), first * 1.01)
    grid = np.geomspace(first, last, points)
    samples = []
    for label, strategy_rows in known.groupby("label"):
        # A band starts once every study of the strategy has a value: a median over the few
        # studies that had one would jump up as slower ones join.
        begins = float(strategy_rows.groupby("study")["elapsed_s"].min().max())
        for study, rows in strategy_rows.groupby("study"):
            ends = rows["elapsed_s"].to_numpy()
            values = rows[column].to_numpy()
            positions = np.searchsorted(ends, grid, side="right") - 1
            # A study that has ended holds its final value.
            for seconds, position in zip(grid, positions, strict=True):
                if position >= 0 and seconds >= begins:
                    samples.append((label, study, seconds, values[position]))
    sampled = pd.DataFrame(samples, columns=["label", "study", "seconds", column])
    bands = _summarise(sampled.groupby(["label", "seconds"]), column)
    bands["strategy"] = bands["label"].map(lambda label: titles.get(label, label))
    return bands[["label", "seconds", *BAND_COLUMNS[1:]]]


def _reached_by(curve: pd.DataFrame, target: float, lower_is_better: bool) -> int | None:
    hit = curve["median"] <= target if lower_is_better else curve["median"] >= target
    return int(curve.loc[hit, "trial"].iloc[0]) if hit.any() else None


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def verdict(
    bands: pd.DataFrame,
    titles: Mapping[str, str],
    direction: str,
    measure: str,
    finished: bool = True,
) -> str:
    """Who ended best, in the median, and by which trial it reached the runner-up's final
    median (random's where random ran); ``measure`` names the value ("regret",
    "val_accuracy"). ``finished=False`` says "so far"."""
    if bands.empty or bands["label"].nunique() < 1:
        return "No trial has finished yet."
    lower_is_better = measure == "regret" or direction == "minimize"
    curves = {label: rows.sort_values("trial") for label, rows in bands.groupby("label")}
    finals = {label: float(curve["median"].iloc[-1]) for label, curve in curves.items()}
    ranked = sorted(finals, key=lambda label: finals[label], reverse=not lower_is_better)
    name = {label: titles.get(label, label) for label in finals}
    so_far = "" if finished else " so far"
    winner = ranked[0]
    if len(ranked) == 1:
        return f"Only {name[winner]} has results{so_far}: median {measure} {_fmt(finals[winner])}."
    baseline = "random" if "random" in finals and winner != "random" else ranked[1]
    won, lost = finals[winner], finals[baseline]
    trials = int(curves[winner]["trial"].iloc[-1])
    how = "ended best" if finished else "leads so far"
    text = (
        f"{name[winner]} {how}: median {measure} {_fmt(won)} after {trials} trials, "
        f"against {_fmt(lost)} for {name[baseline]}."
    )
    if won == lost:
        text = f"{name[winner]} and {name[baseline]} tied{so_far} at median {measure} {_fmt(won)}."
    else:
        reached = _reached_by(curves[winner], lost, lower_is_better)
        needed = _reached_by(curves[baseline], lost, lower_is_better)
        if reached is not None and needed is not None and reached < needed:
            text += (
                f" It reached {name[baseline]}'s final median by trial {reached} in the median; "
                f"{name[baseline]} needed {needed}."
            )
        elif reached is not None and needed is not None and reached == needed:
            text += (
                f" Both reached {name[baseline]}'s final median by trial {needed} in the median; "
                f"{name[winner]} kept improving."
            )
        elif reached is not None and needed is not None:
            text += (
                f" {name[baseline]} reached its final median by trial {needed} in the median, "
                f"{name[winner]} by trial {reached}, and kept improving."
            )
    others = [label for label in ranked if label not in (winner, baseline)]
    if others:
        rest = ", ".join(f"{name[label]} {_fmt(finals[label])}" for label in others)
        text += f" Others: {rest}."
    return text


# The Strategy race page's form: presets in, a race spec document out -----------------------

FUNCTION_SPACES: dict[str, dict[str, Any]] = {
    "branin": {
        "x1": {"type": "float", "low": -5.0, "high": 10.0},
        "x2": {"type": "float", "low": 0.0, "high": 15.0},
    },
    "hartmann6": {f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(1, 7)},
}
OBJECTIVES = {
    "branin": "Branin (2-D function, known optimum: a race in seconds)",
    "hartmann6": "Hartmann-6 (6-D function, known optimum)",
    "digits": "Keras MLP on digits (1 epoch a trial, learning rate and width tuned)",
}
DEFAULT_TRIALS = {"branin": 30, "hartmann6": 60, "digits": 8}
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


def race_document(
    name: str, objective: str, strategies: list[str], seeds: int, trials: int, parallel: int = 1
) -> dict[str, Any]:
    """The race spec the form describes (validated by ``engine.race.parse_race_spec``)."""
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
