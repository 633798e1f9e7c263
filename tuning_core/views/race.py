"""A strategy race as DataFrames, and its verdict in plain words (pure: rows in, frames out).

:func:`trial_frame` turns the race's finished trials (``engine.race.race_trial_rows``) into
the best value so far of each study after each trial; :func:`convergence_frame` and
:func:`time_frame` summarise those per strategy as median and interquartile range, against
the trial number and against wall-clock seconds; :func:`verdict` says who won and how soon.
A race of several metrics is judged by hypervolume instead (:func:`hypervolume_trial_frame`):
the same frames, with each study's hypervolume so far in place of its best value.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from tuning_core.engine import pareto
from tuning_core.engine.objectives import TEST_FUNCTIONS
from tuning_core.engine.race import RaceTrialRow
from tuning_core.engine.race_spec import RaceSpec
from tuning_core.engine.spec_parts import FunctionObjectiveSpec, MetricGoal, ObjectiveSpec
from tuning_core.engine.states import Direction

# Regret is drawn on a log axis; an optimum hit to machine precision is shown at this floor.
REGRET_FLOOR = 1e-6
TIME_POINTS = 80
BAND_COLUMNS = ["label", "strategy", "median", "q25", "q75", "studies"]
# What a race of several metrics is judged on (higher is better).
HYPERVOLUME = "hypervolume"
TRIAL_COLUMNS = ["study", "label", "seed", "trial", "value", "state", "elapsed_s", "best"]


def trial_frame(
    rows: Iterable[RaceTrialRow], direction: str, optimum: float | None = None
) -> pd.DataFrame:
    """One row per finished trial: study, label, seed, trial (1-based), value, elapsed_s and
    ``best`` (the best value so far, NaN before the first value); with a known ``optimum``,
    ``regret`` = best − optimum (at least :data:`REGRET_FLOOR`)."""
    frame = pd.DataFrame([asdict(row) for row in rows]).drop(columns="values", errors="ignore")
    if frame.empty:
        return pd.DataFrame(columns=TRIAL_COLUMNS + (["regret"] if optimum is not None else []))
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


def hypervolume_trial_frame(
    rows: Iterable[RaceTrialRow],
    goals: Sequence[MetricGoal],
    reference: Sequence[float] | None = None,
) -> pd.DataFrame:
    """:func:`trial_frame`'s rows for a race of several metrics, ``best`` being the study's
    hypervolume after each trial (of its complete trials so far, ``engine.pareto``).

    Every study is measured from one reference point, so their hypervolumes compare:
    ``reference`` if given, else ``pareto.reference_point`` over the complete trials of every
    study in the race (a point that lacks a metric adds nothing). It is kept in
    ``frame.attrs["reference"]`` (metric -> value). Before a study's first complete trial its
    hypervolume is 0; with no complete trial anywhere (and no ``reference``) it is NaN.
    """
    listed = list(rows)
    if not listed:
        return pd.DataFrame(columns=TRIAL_COLUMNS)
    frame = pd.DataFrame([asdict(row) for row in listed])
    frame = frame.sort_values(["study", "trial"], kind="stable").reset_index(drop=True)
    names = [goal.name for goal in goals]
    directions = [goal.direction for goal in goals]
    points = np.array(
        [[values.get(name, math.nan) for name in names] for values in frame["values"]],
        dtype=float,
    ).reshape(len(frame), len(names))
    finite = np.all(np.isfinite(points), axis=1)
    frame = frame.drop(columns="values")
    if reference is None:
        if not finite.any():
            frame["best"] = math.nan
            return frame
        reference = pareto.reference_point(points[finite], directions)
    best = np.zeros(len(frame))
    # Positions in trial order within each study (the frame is sorted by study, then trial).
    for positions in frame.groupby("study", sort=False).indices.values():
        best[positions] = pareto.hypervolume_by_trial(points[positions], directions, reference)
    frame["best"] = best
    frame.attrs["reference"] = dict(zip(names, (float(v) for v in reference), strict=True))
    return frame


def judged_by_hypervolume(objective: ObjectiveSpec) -> bool:
    """Whether a race is judged by hypervolume: its objective has several metrics."""
    return len(objective.metrics) > 1


def measure_of(objective: ObjectiveSpec) -> str:
    """What a race is judged on: hypervolume for several metrics, regret where the optimum is
    known (test functions), else the objective's metric."""
    if judged_by_hypervolume(objective):
        return HYPERVOLUME
    return "regret" if isinstance(objective, FunctionObjectiveSpec) else str(objective.metric)


def judged_direction(objective: ObjectiveSpec) -> str:
    """Which way the race's measure is better, as :func:`verdict` takes it: a hypervolume is
    maximised; otherwise the objective's direction (regret, always minimised, is told by the
    measure's name)."""
    return "maximize" if judged_by_hypervolume(objective) else str(objective.direction)


def lower_is_better(objective: ObjectiveSpec) -> bool:
    """Whether a lower value of the race's measure is better."""
    return measure_of(objective) == "regret" or judged_direction(objective) == "minimize"


def measure_title(measure: str, log_y: bool) -> str:
    """The race charts' y-axis title."""
    if log_y:
        return "regret (best − optimum, log)"
    return "hypervolume so far" if measure == HYPERVOLUME else f"best {measure} so far"


def trial_chart_title(measure: str) -> str:
    """The by-trial chart's title."""
    what = "Hypervolume" if measure == HYPERVOLUME else "Best"
    return f"{what} so far by trial: median and middle half of the seeds"


def hypervolume_note(frame: pd.DataFrame) -> str:
    """The sentence under a hypervolume race's charts: what is measured, and from where
    (``frame.attrs["reference"]``); empty for a race of one metric."""
    reference = frame.attrs.get("reference")
    if not reference:
        return ""
    names = list(reference)
    at = ", ".join(f"{name} {_fmt(value)}" for name, value in reference.items())
    space = f"({', '.join(names)})" if len(names) > 2 else f"{names[0]} × {names[1]}"
    return (
        f"Hypervolume: how much of the {space} space a study's front dominates, measured from "
        f"one reference point for every study of the race ({at}, just beyond the worst value "
        "of each metric); it grows when a trial joins the front."
    )


def race_frame(race: RaceSpec, rows: Iterable[RaceTrialRow]) -> pd.DataFrame:
    """:func:`trial_frame` for a race, with regret when its objective's optimum is known; a
    race of several metrics gets :func:`hypervolume_trial_frame`."""
    objective = race.objective
    if judged_by_hypervolume(objective):
        return hypervolume_trial_frame(rows, objective.metrics)
    optimum = (
        TEST_FUNCTIONS[objective.name].optimum
        if isinstance(objective, FunctionObjectiveSpec)
        else None
    )
    return trial_frame(rows, objective.direction, optimum)


def race_verdict(race: RaceSpec, rows: Iterable[RaceTrialRow], finished: bool) -> str:
    """The verdict the page shows, from the race's rows (what ``race`` prints at the end)."""
    objective = race.objective
    frame = race_frame(race, rows)
    return verdict(
        frame, race.titles(), judged_direction(objective), measure_of(objective), finished
    )


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


def final_values(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per study: label, seed, trials reached and ``final``, its last best so far (its
    regret, where the optimum is known); studies without a value yet are left out."""
    column = _measure(frame)
    known = frame.dropna(subset=[column]).sort_values(["study", "trial"], kind="stable")
    if known.empty:
        return pd.DataFrame(columns=["study", "label", "seed", "trials", "final"])
    last = known.groupby("study", sort=False).tail(1)
    finals = last[["study", "label", "seed", "trial", column]]
    return finals.rename(columns={"trial": "trials", column: "final"}).reset_index(drop=True)


def seed_wins(finals: pd.DataFrame, lower_is_better: bool) -> tuple[dict[str, int], int, int]:
    """(seeds won per label, seeds tied, seeds compared): on each seed the strategies' final
    values meet; a strategy run once (grid, deterministic) meets every seed with its one value.
    A seed where some strategy has no value yet is not compared."""
    labels = list(dict.fromkeys(finals["label"]))
    wins = dict.fromkeys(labels, 0)
    once = {label for label in labels if (finals["label"] == label).sum() == 1}
    seeded = finals[~finals["label"].isin(once)]
    seeds = sorted(set(seeded["seed"])) if len(seeded) else sorted(set(finals["seed"]))
    ties = compared = 0
    for seed in seeds:
        values = {}
        for label in labels:
            rows = finals[finals["label"] == label]
            match = rows if label in once else rows[rows["seed"] == seed]
            if len(match):
                values[label] = float(match["final"].iloc[0])
        if len(values) < len(labels) or len(values) < 2:
            continue
        compared += 1
        best = min(values.values()) if lower_is_better else max(values.values())
        winners = [label for label, value in values.items() if value == best]
        if len(winners) > 1:
            ties += 1
        else:
            wins[winners[0]] += 1
    return wins, ties, compared


def _band(values: pd.Series) -> tuple[float, float]:
    """The middle half of the seeds' final values, as the chart's band draws it."""
    return float(values.quantile(0.25)), float(values.quantile(0.75))


def _span(low: float, high: float) -> str:
    return _fmt(low) if _fmt(low) == _fmt(high) else f"{_fmt(low)}–{_fmt(high)}"


def has_clear_winner(frame: pd.DataFrame, direction: str, measure: str) -> bool:
    """Whether :func:`verdict` names a winner: over two seeds or more, the best median's band
    does not overlap the runner-up's."""
    finals = final_values(frame)
    lower_is_better = measure == "regret" or direction == "minimize"
    by_label = {label: rows["final"] for label, rows in finals.groupby("label", sort=False)}
    if len(by_label) < 2 or max(len(values) for values in by_label.values()) < 2:
        return False
    medians = {label: float(values.median()) for label, values in by_label.items()}
    winner, runner = sorted(medians, key=medians.__getitem__, reverse=not lower_is_better)[:2]
    (low_w, high_w), (low_r, high_r) = _band(by_label[winner]), _band(by_label[runner])
    return medians[winner] != medians[runner] and max(low_w, low_r) > min(high_w, high_r)


def verdict(
    frame: pd.DataFrame,
    titles: Mapping[str, str],
    direction: str,
    measure: str,
    finished: bool = True,
) -> str:
    """Who ended best in the median over seeds, and whether that is clear: the winner's and
    the runner-up's bands (the middle half of their seeds' final values) overlap or not, how
    many seeds each strategy won, and by which trial the winner reached the runner-up's final
    median. ``frame`` is :func:`trial_frame`'s; ``measure`` names the value ("regret",
    "val_accuracy"); ``finished=False`` says "so far"."""
    finals = final_values(frame)
    if finals.empty:
        return "No trial has finished yet."
    lower_is_better = measure == "regret" or direction == "minimize"
    so_far = "" if finished else " so far"
    by_label = {label: rows["final"] for label, rows in finals.groupby("label", sort=False)}
    medians = {label: float(values.median()) for label, values in by_label.items()}
    ranked = sorted(medians, key=medians.__getitem__, reverse=not lower_is_better)
    name = {label: titles.get(label, label) for label in medians}
    seeds = max(len(values) for values in by_label.values())
    over = "one seed" if seeds == 1 else f"{seeds} seeds"
    winner = ranked[0]
    if len(ranked) == 1:
        return (
            f"Only {name[winner]} has results{so_far}: median {measure} "
            f"{_fmt(medians[winner])} over {over}."
        )
    runner = ranked[1]
    won, lost = medians[winner], medians[runner]
    (low_w, high_w), (low_r, high_r) = _band(by_label[winner]), _band(by_label[runner])
    bands = f"{_span(low_w, high_w)} and {_span(low_r, high_r)}"
    clear = has_clear_winner(frame, direction, measure)
    if won == lost:
        text = (
            f"No clear winner over {over}{so_far}: {name[winner]} and {name[runner]} tie at "
            f"median {measure} {_fmt(won)}."
        )
    elif seeds == 1:
        text = (
            f"{name[winner]} is ahead{so_far} on one seed: {measure} {_fmt(won)} against "
            f"{_fmt(lost)} for {name[runner]}; one seed cannot tell a better strategy from a "
            "luckier one."
        )
    elif not clear:
        text = (
            f"No clear winner over {over}{so_far}: {name[winner]}'s median {measure} "
            f"{_fmt(won)} and {name[runner]}'s {_fmt(lost)} have overlapping bands ({bands}, "
            "the middle half of the seeds)."
        )
    else:
        how = "ended best" if finished else "leads so far"
        text = (
            f"{name[winner]} {how} over {over}: median {measure} {_fmt(won)} against "
            f"{_fmt(lost)} for {name[runner]}, and their bands do not overlap ({bands}, the "
            "middle half of the seeds)."
        )
    wins, ties, compared = seed_wins(finals, lower_is_better)
    if seeds > 1 and compared:
        counts = ", ".join(f"{name[label]} {wins[label]}" for label in ranked)
        tied = f", {ties} tied" if ties else ""
        once = [name[label] for label in ranked if len(by_label[label]) == 1]
        note = f" ({' and '.join(once)} ran once and meets every seed)" if once else ""
        text += f" Seeds won of {compared}: {counts}{tied}{note}."
    if clear:
        # How soon, only for a clear winner: with overlapping bands the pace is noise too.
        curves = {
            label: rows.sort_values("trial")
            for label, rows in convergence_frame(frame, titles).groupby("label")
        }
        reached = _reached_by(curves[winner], lost, lower_is_better)
        needed = _reached_by(curves[runner], lost, lower_is_better)
        if reached is not None and needed is not None and reached < needed:
            text += (
                f" In the median, {name[winner]} reached {name[runner]}'s final {_fmt(lost)} by "
                f"trial {reached}; {name[runner]} needed {needed}."
            )
        elif reached is not None and reached == needed:
            text += (
                f" In the median, {name[winner]} and {name[runner]} both reached {_fmt(lost)} by "
                f"trial {needed}; {name[winner]} kept improving."
            )
    others = ranked[2:]
    if others:
        rest = ", ".join(f"{name[label]} {_fmt(medians[label])}" for label in others)
        text += f" Others (median): {rest}."
    return text


def time_title(time_bands: pd.DataFrame, measure: str, lower_is_better: bool) -> list[str]:
    """The wall-clock chart's title lines, read off its own lines: which strategy's median
    first reached the level every strategy reached (the worst final median), and when; and,
    when another ended lower, a second line saying when that one reached its final median."""
    if time_bands.empty:
        return ["Best so far by wall-clock time"]
    curves = {
        str(rows["strategy"].iloc[0]): rows.sort_values("seconds")
        for _, rows in time_bands.groupby("label")
    }
    finals = {title: float(curve["median"].iloc[-1]) for title, curve in curves.items()}
    worst = max if lower_is_better else min
    target = worst(finals.values())

    def first_at(title: str, level: float) -> float:
        curve = curves[title]
        hit = curve["median"] <= level if lower_is_better else curve["median"] >= level
        return float(curve.loc[hit, "seconds"].iloc[0])

    when = {title: first_at(title, target) for title in curves}
    first = min(when, key=when.__getitem__)
    text = (
        f"By wall-clock time, {first} reached {measure} {_fmt(target)} first ({when[first]:.2g} s"
    )
    others = sorted((t for t in when if t != first), key=when.__getitem__)
    text += f"; {others[0]} {when[others[0]]:.2g} s)" if others else ")"
    best = (min if lower_is_better else max)(finals, key=finals.__getitem__)
    if best != first and finals[best] != finals[first]:
        at = first_at(best, finals[best])
        return [text, f"{best} ended best: {measure} {_fmt(finals[best])}, reached at {at:.2g} s"]
    return [text]


def seconds_per_trial(frame: pd.DataFrame, titles: Mapping[str, str]) -> dict[str, float]:
    """Median wall seconds a trial took, per strategy title (proposal time included)."""
    if frame.empty:
        return {}
    per_study = frame.groupby("study").agg(
        label=("label", "first"), seconds=("elapsed_s", "max"), trials=("trial", "max")
    )
    per_study["each"] = per_study["seconds"] / per_study["trials"].clip(lower=1)
    medians = per_study.groupby("label", sort=False)["each"].median()
    return {titles.get(label, label): float(value) for label, value in medians.items()}


# The Strategy race page's form: presets in, a race spec document out -----------------------

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
