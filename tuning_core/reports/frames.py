"""Pure functions from store rows to pandas DataFrames, for the CLI, charts and pages: the
trials, their curves and the running trials' live losses. What pruning did (pruning_frames),
what the study found (analysis_frames), the lab's bars (lab_frames) and the worker timeline
(timeline_frames) live beside it and are re-exported here."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tuning_core.engine.spec import StudySpec
from tuning_core.engine.storage import TrialRecord

# Split out by what they hold; re-exported here, where the pages and the tests have always
# found them.
from tuning_core.reports.analysis_frames import (  # noqa: F401
    IMPORTANCE_MEANING,
    MIN_TRIALS_FOR_IMPORTANCE,
    convergence_frame,
    importance,
    log_scaled_dimensions,
    partial_dependence_frame,
    tuned_dimensions,
)
from tuning_core.reports.export import param_names, trial_row
from tuning_core.reports.lab_frames import final_metrics, outcome_label  # noqa: F401
from tuning_core.reports.pruning_frames import (  # noqa: F401
    GUIDE_COLUMNS,
    PRUNING_COLUMNS,
    EpochsSaved,
    epochs_by_trial,
    epochs_saved,
    has_pruner,
    pruning_frame,
    pruning_guides,
)
from tuning_core.reports.timeline_frames import (  # noqa: F401
    TIMELINE_COLUMNS,
    Timeline,
    lane_label,
    timeline_frame,
)

TRIAL_COLUMNS = ("number", "state", "value", "duration_s", "note", "error")
# Columns a curves frame has of its own, which a metric column merged into it must not take.
_CURVE_COLUMNS = ("epoch", "metric", "within_epoch")


def metric_columns(spec: StudySpec) -> dict[str, str]:
    """Metric name -> its column in :func:`trials_frame` (``with_metrics``), for a study of
    several metrics; empty for one metric, whose ``value`` column is all it has.

    A column is named by its metric, unless a trial column or a tuned hyperparameter already
    has that name (a metric called ``value``, or ``x`` beside a parameter ``x``): then
    ``"<name> (metric)"``.
    """
    if not spec.multi_metric:
        return {}
    taken = {*TRIAL_COLUMNS, *_CURVE_COLUMNS, *spec.space.names}
    return {
        goal.name: goal.name if goal.name not in taken else f"{goal.name} (metric)"
        for goal in spec.metrics
    }


def trials_frame(
    trials: list[TrialRecord], spec: StudySpec, with_metrics: bool = False
) -> pd.DataFrame:
    """One row per trial (as the exports write it): number, state, value, duration_s, note,
    error and one column per param; a missing note or error is an empty string.

    ``with_metrics``: a study of several metrics also gets one float column per metric
    (:func:`metric_columns`, after the params) from each trial's stored values, NaN where a
    trial has none (running, failed, or from before values were stored); their names are in
    ``frame.attrs["metric_columns"]``. A study of one metric gets nothing more.
    """
    names = param_names(trials, spec)
    columns = [*TRIAL_COLUMNS, *names]
    frame = pd.DataFrame.from_records(
        [trial_row(trial, names) for trial in trials], columns=columns
    )
    frame[["note", "error"]] = frame[["note", "error"]].fillna("")
    if with_metrics:
        by_metric = metric_columns(spec)
        for metric, column in by_metric.items():
            frame[column] = np.array(
                [trial.values.get(metric, np.nan) for trial in trials], dtype=float
            )
        frame.attrs["metric_columns"] = tuple(by_metric.values())
    return frame


def curves_frame(
    metric_rows: list[tuple[int, int, str, float | None]],
    trials: pd.DataFrame,
    diverged_batch_rows: list[tuple[int, float, float | None]] | None = None,
) -> pd.DataFrame:
    """Long form per-epoch curves: number, epoch, metric, value, within_epoch, state, and each
    param column. Epochs are 0-based, as stored.

    ``diverged_batch_rows`` (trial number, progress in epochs, loss) are the in-epoch losses of
    diverged trials: a trial that blows up stops mid-epoch and often writes no epoch row, so
    the losses after its last whole epoch are added as ``loss`` rows (``within_epoch`` True,
    epoch = progress - 1, so that the end of epoch e lands on e like an epoch row).
    """
    curves = pd.DataFrame(metric_rows, columns=["number", "epoch", "metric", "value"])
    curves["within_epoch"] = False
    if diverged_batch_rows:
        batches = pd.DataFrame(diverged_batch_rows, columns=["number", "progress", "value"])
        last_epoch = curves.groupby("number")["epoch"].max()
        whole_epochs_done = batches["number"].map(last_epoch).fillna(-1) + 1
        batches = batches[batches["progress"] > whole_epochs_done]
        extra = pd.DataFrame(
            {
                "number": batches["number"],
                "epoch": batches["progress"] - 1,
                "metric": "loss",
                "value": batches["value"],
                "within_epoch": True,
            }
        )
        curves = pd.concat([curves, extra], ignore_index=True) if len(extra) else curves
    if trials.empty:
        return curves
    # A trial's metrics are one number each; every epoch row of it need not carry them.
    dropped = {"value", "duration_s", "error", *trials.attrs.get("metric_columns", ())}
    # Only the trials drawn: merging all of 10,000 trials into a sample's rows cost more than
    # the rows themselves, on every Live rerun.
    wanted = trials["number"].isin(curves["number"].unique())
    extra = trials.loc[wanted, [c for c in trials.columns if c not in dropped]]
    return curves.merge(extra, on="number", how="left")


RUNNING_LOSS_COLUMNS = ["number", "trial", "progress", "loss"]


def running_losses_frame(
    batch_rows: list[tuple[int, float, float | None]],
    curves: pd.DataFrame,
    running: list[int],
    metric: str,
) -> pd.DataFrame:
    """The running trials' live losses, one line each: number, trial ("trial 3"), progress (in
    epochs) and loss.

    ``batch_rows`` (trial number, progress, loss) are the in-epoch training losses a Keras
    trial writes; a running trial without any (a function objective reports only whole
    epochs) contributes its ``metric`` per epoch from ``curves`` instead, at progress epoch+1,
    where an in-epoch loss at the end of that epoch would be.
    """
    batches = pd.DataFrame(batch_rows, columns=["number", "progress", "loss"])
    batches = batches[batches["number"].isin(running)]
    without = [n for n in running if n not in set(batches["number"])]
    parts = [batches] if len(batches) else []
    if without and not curves.empty:
        epochs = curves[
            curves["number"].isin(without)
            & (curves["metric"] == metric)
            & ~curves.get("within_epoch", pd.Series(False, index=curves.index)).astype(bool)
        ]
        parts.append(
            pd.DataFrame(
                {
                    "number": epochs["number"],
                    "progress": epochs["epoch"].astype(float) + 1,
                    "loss": epochs["value"],
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=RUNNING_LOSS_COLUMNS)
    frame = pd.concat(parts, ignore_index=True).astype(
        {"number": int, "progress": float, "loss": float}
    )
    frame["trial"] = "trial " + frame["number"].astype(str)
    return frame.sort_values(["number", "progress"]).reset_index(drop=True)[RUNNING_LOSS_COLUMNS]
