"""The learning-rate lab's bars as a DataFrame: each trial's last score with its learning
rate and outcome ("diverged", "ended at chance" or the score)."""

from __future__ import annotations

import pandas as pd

from tuning_core.engine.states import TrialState


def final_metrics(
    curves: pd.DataFrame, trials: pd.DataFrame, metric: str = "val_accuracy"
) -> pd.DataFrame:
    """Each trial's last recorded ``metric`` with its learning rate, state and outcome label
    (diverged runs score 0 and are labelled "diverged"; chance-level runs "ended at chance").
    """
    columns = ["number", "learning_rate", metric, "state"]
    if trials.empty or "learning_rate" not in trials:
        return pd.DataFrame(columns=[*columns, "outcome"])
    last = (
        curves[curves["metric"] == metric]
        .sort_values("epoch")
        .groupby("number", as_index=False)
        .last()[["number", "value"]]
        if not curves.empty
        else pd.DataFrame(columns=["number", "value"])
    )
    frame = trials[["number", "learning_rate", "state", "note", "error"]].merge(
        last, on="number", how="left"
    )
    frame = frame[frame["state"] != TrialState.RUNNING.value]
    frame[metric] = (
        frame["value"].where(frame["state"] != TrialState.DIVERGED.value, 0.0).fillna(0.0)
    )
    frame["outcome"] = [
        outcome_label(state, note, value)
        for state, note, value in zip(frame["state"], frame["note"], frame[metric], strict=True)
    ]
    return frame[[*columns, "outcome"]].reset_index(drop=True)


def outcome_label(state: str, note: str, value: float) -> str:
    """A bar's label in the lab: "diverged", "ended at chance", or the score as a percentage."""
    if state == TrialState.DIVERGED.value:
        return "diverged"
    if state != TrialState.COMPLETE.value:
        return state
    if "chance" in (note or ""):
        return "ended at chance"
    return f"{value:.0%}"
