"""A strategy race as DataFrames (pure: rows in, frames out): :func:`trial_frame` turns the
race's finished trials (``engine.race.race_trial_rows``) into the best value so far of each
study after each trial (:func:`hypervolume_trial_frame`: its hypervolume so far, for several
metrics); :func:`convergence_frame` and :func:`time_frame` summarise those per strategy as
median and interquartile range, against the trial number and against wall-clock seconds."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict

import numpy as np
import pandas as pd

from tuning_core.engine import pareto
from tuning_core.engine.race import RaceTrialRow
from tuning_core.engine.spec_parts import MetricGoal
from tuning_core.engine.states import Direction

# Regret is drawn on a log axis; an optimum hit to machine precision is shown at this floor.
REGRET_FLOOR = 1e-6
TIME_POINTS = 80
BAND_COLUMNS = ["label", "strategy", "median", "q25", "q75", "studies"]


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
