"""What the live view shows, computed from the study's DataFrames: pure and testable."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from tuning_core.engine.records import worker_running
from tuning_core.engine.space import NumericDimension
from tuning_core.engine.spec import StudySpec
from tuning_core.engine.states import StudyStatus, TrialState
from tuning_core.engine.storage import StudyRecord
from tuning_core.views.forms import format_duration

FINISHED = [s.value for s in TrialState if s.is_finished() and s != TrialState.INTERRUPTED]


@dataclass
class LiveSummary:
    """What the live view's header shows for a study at one moment."""

    running: bool
    done: int
    budget: int
    progress: float
    progress_text: str
    status_line: str
    best_text: str
    best_help: str
    current_number: int | None
    current_params: dict[str, Any] | None
    current_text: str


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def live_summary(study: StudyRecord, trials: pd.DataFrame, now: float) -> LiveSummary:
    """Progress, elapsed and remaining time, best so far and the running trial."""
    spec = study.spec
    budget = int(spec.budget["trials"])
    if trials.empty:
        done, running_rows = 0, trials
    else:
        done = int(trials["state"].isin(FINISHED).sum())
        running_rows = trials[trials["state"] == TrialState.RUNNING.value]
    running = worker_running(study)
    durations = (
        trials.loc[trials["state"].isin(FINISHED), "duration_s"].dropna()
        if not trials.empty
        else pd.Series(dtype=float)
    )
    elapsed = float(trials["duration_s"].fillna(0).sum()) if not trials.empty else 0.0
    remaining = None
    if running and len(durations):
        remaining = float(durations.mean()) * max(budget - done, 0)
        seconds_budget = spec.budget.get("seconds")
        if seconds_budget:
            remaining = min(remaining, max(float(seconds_budget) - elapsed, 0.0))
    progress_text = f"{done} of {budget} trials · {format_duration(elapsed)} elapsed"
    if running:
        progress_text += (
            f" · about {format_duration(remaining)} left"
            if remaining is not None
            else " · time left: after the first trial"
        )
    if study.status == StudyStatus.RUNNING and not running:
        status_line = "status: stopped (its worker is gone; start the same spec again to resume)"
    else:
        status_line = f"status: {study.status}" + (f" ({study.message})" if study.message else "")
    complete = (
        trials[(trials["state"] == TrialState.COMPLETE.value) & trials["value"].notna()]
        if not trials.empty
        else trials
    )
    best_text, best_help = "—", "No complete trial yet."
    if not complete.empty:
        best = complete.loc[spec.direction.best_index(complete["value"])]
        best_text = f"{best['value']:.4f}"
        best_help = f"Trial {int(best['number'])}: {spec.metric} ({spec.direction})"
    current_number, current_params, current_text = None, None, ""
    if running and not running_rows.empty:
        row = running_rows.iloc[-1]
        current_number = int(row["number"])
        params = {
            k: row[k]
            for k in trials.columns
            if k not in ("number", "state", "value", "duration_s", "note", "error")
        }
        current_params = {
            k: v for k, v in params.items() if not (isinstance(v, float) and math.isnan(v))
        }
        current_text = f"{current_number}: " + ", ".join(
            f"{k} = {_fmt(v)}" for k, v in current_params.items()
        )
    return LiveSummary(
        running,
        done,
        budget,
        min(done / budget, 1.0) if budget else 0.0,
        progress_text,
        status_line,
        best_text,
        best_help,
        current_number,
        current_params,
        current_text,
    )


def curve_colouring(spec: StudySpec) -> tuple[str | None, bool]:
    """Colour curves by learning rate (log scale) when it varies, else by trial."""
    dimension = spec.space.dimension("learning_rate")
    if isinstance(dimension, NumericDimension):
        return "learning_rate", dimension.log
    if dimension is not None:  # a choice of rates, as the learning-rate lab compares them
        return "learning_rate", True
    return None, False


def epochs_recorded(curves: pd.DataFrame) -> int:
    """How many (trial, epoch) points the curves hold."""
    if curves.empty:
        return 0
    return int(curves[["number", "epoch"]].drop_duplicates().shape[0])


def trial_table(trials: pd.DataFrame) -> pd.DataFrame:
    """The trial table as shown: newest first, error and note merged into one column."""
    table = trials.copy()
    table["flag"] = (table["error"].fillna("") + " " + table["note"].fillna("")).str.strip()
    return (
        table.drop(columns=["error", "note"])
        .sort_values("number", ascending=False)
        .reset_index(drop=True)
    )
