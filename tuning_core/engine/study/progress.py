"""The CLI's line for each finished trial: its state and value (each metric's, for a study
of several), the best so far (or the trials on the front), its params and its time."""

from __future__ import annotations

from typing import Any

from tuning_core.engine.epoch_text import epochs_from_one
from tuning_core.engine.spec import StudySpec
from tuning_core.engine.states import TrialState
from tuning_core.engine.storage import TrialRecord


def _format_params(params: dict[str, Any], names: list[str]) -> str:
    def fmt(value: Any) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    return ", ".join(f"{name}={fmt(params[name])}" for name in names if name in params)


def _multi_progress_line(spec: StudySpec, trial: TrialRecord, front: list[int], done: int) -> str:
    """The CLI's line for a finished trial of a study of several metrics: each metric's
    value, the trials on the front so far, params, time."""
    complete = trial.state == TrialState.COMPLETE and trial.value is not None
    if complete:
        shown = ", ".join(
            f"{goal.name}={trial.values[goal.name]:.6g}"
            for goal in spec.metrics
            if goal.name in trial.values
        )
    else:
        shown = ", ".join(goal.name for goal in spec.metrics) + "=" + trial.state.value
    listed = ", ".join(str(number) for number in front[:10]) + (" …" if len(front) > 10 else "")
    line = (
        f"trial {trial.number} [{done}/{spec.planned_trials}] {trial.state.value}: {shown}  "
        f"front={'trials ' + listed if front else 'none yet'}  "
        f"{_format_params(trial.params, spec.space.all_names())}  ({trial.duration_s or 0.0:.1f} s)"
    )
    if trial.note:
        line += f"  note: {trial.note}"
    if trial.error and not complete:
        line += f"  error: {epochs_from_one(trial.error)}"
    return line


def _progress_line(spec: StudySpec, trial: TrialRecord, best: TrialRecord | None, done: int) -> str:
    """The CLI's line for a finished trial: state, value, best so far, params, time."""
    complete = trial.state == TrialState.COMPLETE and trial.value is not None
    shown = f"{trial.value:.6g}" if complete else trial.state.value
    how, why = trial.state.value, ""
    if trial.state == TrialState.PRUNED and trial.value is not None and trial.note:
        # The note begins "pruned at epoch e: <why>"; the line says where, then the value.
        how, _, why = trial.note.partition(": ")
        shown = f"{trial.value:.6g}"
    best_text = (
        f"{best.value:.6g} (trial {best.number})" if best and best.value is not None else "none yet"
    )
    line = (
        f"trial {trial.number} [{done}/{spec.planned_trials}] {how}: "
        f"{spec.metric}={shown}  best={best_text}  "
        f"{_format_params(trial.params, spec.space.all_names())}  ({trial.duration_s or 0.0:.1f} s)"
    )
    if why:
        line += f"  why: {why}"
    elif trial.note:
        line += f"  note: {trial.note}"
    if trial.error and not complete:
        line += f"  error: {epochs_from_one(trial.error)}"
    return line
