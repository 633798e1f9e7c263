"""Study exports: CSV and JSON tables of trials, built from the store alone.

:func:`trial_row` is the one path from a trial record to a table row: the exports and the
dashboard's DataFrames (reports.frames) all use it, so they agree to the digit.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from tuning_core.engine.spec import StudySpec
from tuning_core.engine.storage import Store, StudyRecord, TrialRecord

# Durations are kept to the millisecond in every table.
DURATION_DECIMALS = 3


def param_names(trials: list[TrialRecord], spec: StudySpec) -> list[str]:
    """Param names in spec order, then any others the trials hold."""
    names = list(spec.space.to_json())
    for trial in trials:
        names += [name for name in trial.params if name not in names]
    return names


def metrics_by_trial(store: Store, study: StudyRecord) -> dict[int, list[dict[str, Any]]]:
    """Trial number -> [{"epoch": 0, "loss": ..., ...}, ...] in epoch order."""
    grouped: dict[int, dict[int, dict[str, Any]]] = {}
    for number, epoch, name, value in store.epoch_metrics(study.id):
        grouped.setdefault(number, {}).setdefault(epoch, {"epoch": epoch})[name] = value
    return {number: [epochs[e] for e in sorted(epochs)] for number, epochs in grouped.items()}


def trial_row(trial: TrialRecord, names: list[str]) -> dict[str, Any]:
    """number, state, value, duration_s, note, error, then each param (None where absent)."""
    duration = trial.duration_s
    row: dict[str, Any] = {
        "number": trial.number,
        "state": trial.state.value,
        "value": trial.value,
        "duration_s": None if duration is None else round(duration, DURATION_DECIMALS),
        "note": trial.note,
        "error": trial.error,
    }
    row.update({name: trial.params.get(name) for name in names})
    return row


def export_csv(store: Store, study: StudyRecord) -> str:
    """``number,state,value,duration_s,params_<name>...,user_note``, one row per trial
    (``user_note``: the note a person wrote on the trial in the dashboard, else empty)."""
    trials = store.trials(study.id)
    names = param_names(trials, study.spec)
    notes = store.trial_notes(study.id)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "number",
            "state",
            "value",
            "duration_s",
            *[f"params_{name}" for name in names],
            "user_note",
        ]
    )
    for trial in trials:
        row = trial_row(trial, names)
        cells = [row["number"], row["state"], row["value"], row["duration_s"]]
        cells += [row[name] for name in names]
        cells.append(notes.get(trial.number))
        writer.writerow(
            [
                "" if cell is None else repr(cell) if isinstance(cell, float) else cell
                for cell in cells
            ]
        )
    return buffer.getvalue()


def trial_values(trial: TrialRecord, spec: StudySpec) -> dict[str, float]:
    """Every metric the trial measured, by name; a trial that stored none (a function of one
    metric, an older store) has its value under the study's first metric, when it has one."""
    if trial.values:
        return dict(trial.values)
    return {} if trial.value is None else {spec.metric: trial.value}


def export_json(store: Store, study: StudyRecord) -> str:
    """``{"study": spec, "note": the study's note, "trials": [{number, state, value, params,
    duration_s, note, error, user_note, values, metrics}]}`` (``note`` on a trial is the
    engine's, ``user_note`` a person's; both notes are null when absent; ``values`` is every
    metric the trial measured, name -> value, ``value`` the study's first metric's).
    """
    metrics = metrics_by_trial(store, study)
    notes = store.trial_notes(study.id)
    trials = [
        {
            **trial_row(trial, []),
            "user_note": notes.get(trial.number),
            "params": trial.params,
            "values": trial_values(trial, study.spec),
            "metrics": metrics.get(trial.number, []),
        }
        for trial in store.trials(study.id)
    ]
    note = store.study_note(study.id) or None
    return json.dumps({"study": study.spec.to_json(), "note": note, "trials": trials}, indent=2)


# What every file that Keras 3's model.save(...".keras") writes holds.
KERAS_ARCHIVE_MEMBERS = ("config.json", "metadata.json", "model.weights.h5")


def saved_model_problem(path: Path) -> str | None:
    """Why ``path`` is not a loadable ``.keras`` archive, in a few words, or None.

    Checked without Keras: a zip holding the config, metadata and weights, every member's
    checksum intact (a save killed half-way leaves a truncated or non-zip file).
    """
    if not zipfile.is_zipfile(path):
        return "not a zip archive"
    try:
        with zipfile.ZipFile(path) as archive:
            missing = [name for name in KERAS_ARCHIVE_MEMBERS if name not in archive.namelist()]
            if missing:
                return f"{missing[0]} is missing"
            broken = archive.testzip()
    except (zipfile.BadZipFile, OSError) as error:
        return str(error)
    return None if broken is None else f"{broken} fails its checksum"
