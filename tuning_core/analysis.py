"""Pure functions from store rows to pandas DataFrames, for the CLI, charts and pages."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from tuning_core.export import param_names
from tuning_core.storage import Store, StudyRecord, TrialRecord, TrialState
from tuning_core.study import best_trial, counts_against_budget

# Below this many complete trials an importance estimate is mostly noise.
MIN_TRIALS_FOR_IMPORTANCE = 8


def study_summaries(store: Store) -> list[dict[str, Any]]:
    """One dict per study: name, status, done, budget, best_value, metric, direction."""
    rows = []
    for study in store.studies():
        trials = store.trials(study.id)
        objective = study.spec["objective"]
        best = best_trial(trials, objective["direction"])
        rows.append(
            {
                "name": study.name,
                "status": study.status,
                "done": sum(counts_against_budget(t) for t in trials),
                "budget": study.spec["budget"]["trials"],
                "best_value": None if best is None else best.value,
                "metric": objective["metric"],
                "direction": objective["direction"],
                "strategy": study.spec["strategy"]["type"],
                "created_at": study.created_at,
                "message": study.message,
            }
        )
    return rows


def trials_frame(trials: list[TrialRecord], spec: dict[str, Any]) -> pd.DataFrame:
    """One row per trial: number, state, value, duration_s, note, error and one column per param."""
    names = param_names(trials, spec)
    records = []
    for trial in trials:
        record: dict[str, Any] = {
            "number": trial.number,
            "state": trial.state.value,
            "value": trial.value,
            "duration_s": None if trial.duration_s is None else round(trial.duration_s, 2),
            "note": trial.note or "",
            "error": trial.error or "",
        }
        record.update({name: trial.params.get(name) for name in names})
        records.append(record)
    columns = ["number", "state", "value", "duration_s", "note", "error", *names]
    return pd.DataFrame.from_records(records, columns=columns)


def curves_frame(metric_rows: list[tuple[int, int, str, float | None]], trials: pd.DataFrame) -> pd.DataFrame:
    """Long form per-epoch curves: number, epoch, metric, value, state, and each param column."""
    curves = pd.DataFrame(metric_rows, columns=["number", "epoch", "metric", "value"])
    if trials.empty:
        return curves
    extra = trials.drop(columns=["value", "duration_s", "error"], errors="ignore")
    return curves.merge(extra, on="number", how="left")


def convergence_frame(trials: pd.DataFrame, direction: str) -> pd.DataFrame:
    """Complete trials with the best value so far: number, value, best_so_far."""
    done = trials[(trials["state"] == TrialState.COMPLETE.value) & trials["value"].notna()][["number", "value"]].copy()
    done["value"] = done["value"].astype(float)
    done["best_so_far"] = done["value"].cummax() if direction == "maximize" else done["value"].cummin()
    return done.reset_index(drop=True)


def importance(trials: pd.DataFrame, dimensions: list[str]) -> pd.DataFrame:
    """Share of the score's variance each tuned hyperparameter explains, on its own.

    For each dimension the complete trials are split into bins (quartiles of its rank for
    numbers, one bin per value for choices); the importance is the between-bin variance of
    the score over its total variance (the correlation ratio, eta squared), normalised to sum
    to 1. Returns hyperparameter, importance, eta_squared; empty with fewer than two trials.
    """
    done = trials[(trials["state"] == TrialState.COMPLETE.value) & trials["value"].notna()]
    rows = []
    scores = done["value"].astype(float)
    total = float(((scores - scores.mean()) ** 2).sum())
    for name in dimensions:
        if name not in done or len(done) < 2 or total == 0:
            continue
        column = done[name]
        if pd.api.types.is_numeric_dtype(column) and column.nunique() > 4:
            groups = pd.qcut(column.rank(method="first"), q=4, labels=False)
        else:
            groups = column.astype(str)
        between = sum(len(g) * (g.mean() - scores.mean()) ** 2 for _, g in scores.groupby(groups.values))
        rows.append({"hyperparameter": name, "eta_squared": float(between / total)})
    frame = pd.DataFrame(rows, columns=["hyperparameter", "eta_squared"])
    share = frame["eta_squared"].sum()
    frame["importance"] = frame["eta_squared"] / share if share > 0 else 0.0
    return frame.sort_values("importance", ascending=False).reset_index(drop=True)


def log_scaled_dimensions(spec: dict[str, Any]) -> list[str]:
    return [name for name, entry in spec.get("space", {}).items() if isinstance(entry, dict) and entry.get("log")]


def tuned_dimensions(spec: dict[str, Any]) -> list[str]:
    return [name for name, entry in spec.get("space", {}).items() if isinstance(entry, dict)]


def finite(value: Any) -> bool:
    return isinstance(value, (int, float, np.floating)) and math.isfinite(float(value))


def load_study_frames(store: Store, study: StudyRecord) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(trials, curves) DataFrames for one study, from two queries."""
    trials = trials_frame(store.trials(study.id), study.spec)
    curves = curves_frame(store.epoch_metrics(study.id), trials)
    return trials, curves
