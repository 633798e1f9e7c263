"""Study exports: CSV and JSON tables of trials, built from the store alone."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from tuning_core.engine.storage import Store, StudyRecord, TrialRecord


def param_names(trials: list[TrialRecord], spec: dict[str, Any]) -> list[str]:
    """Param names in spec order, then any others the trials hold."""
    names = list(spec.get("space", {}))
    for trial in trials:
        names += [name for name in trial.params if name not in names]
    return names


def metrics_by_trial(store: Store, study: StudyRecord) -> dict[int, list[dict[str, Any]]]:
    """Trial number -> [{"epoch": 0, "loss": ..., ...}, ...] in epoch order."""
    grouped: dict[int, dict[int, dict[str, Any]]] = {}
    for number, epoch, name, value in store.epoch_metrics(study.id):
        grouped.setdefault(number, {}).setdefault(epoch, {"epoch": epoch})[name] = value
    return {number: [epochs[e] for e in sorted(epochs)] for number, epochs in grouped.items()}


def _round_duration(trial: TrialRecord) -> float | None:
    duration = trial.duration_s
    return None if duration is None else round(duration, 3)


def export_csv(store: Store, study: StudyRecord) -> str:
    """``number,state,value,duration_s,params_<name>...``, one row per trial."""
    trials = store.trials(study.id)
    names = param_names(trials, study.spec)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        ["number", "state", "value", "duration_s", *[f"params_{name}" for name in names]]
    )
    for trial in trials:
        writer.writerow(
            [
                trial.number,
                trial.state.value,
                "" if trial.value is None else repr(trial.value),
                "" if trial.duration_s is None else _round_duration(trial),
                *["" if trial.params.get(name) is None else trial.params[name] for name in names],
            ]
        )
    return buffer.getvalue()


def export_json(store: Store, study: StudyRecord) -> str:
    """``{"study": spec, "trials": [{number, state, value, params, duration_s, error, metrics}]}``."""
    metrics = metrics_by_trial(store, study)
    trials = [
        {
            "number": trial.number,
            "state": trial.state.value,
            "value": trial.value,
            "params": trial.params,
            "duration_s": _round_duration(trial),
            "error": trial.error,
            "note": trial.note,
            "metrics": metrics.get(trial.number, []),
        }
        for trial in store.trials(study.id)
    ]
    return json.dumps({"study": study.spec, "trials": trials}, indent=2)
