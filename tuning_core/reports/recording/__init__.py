"""Recordings: a finished study as one small JSON file that replays into any store.

``record`` (``python -m tuning_core record NAME --output FILE``) writes a study's spec and,
per trial, its params, how it ended, every metric it measured (``values``; absent from
recordings made before studies kept them), why it was pruned, and each epoch's metrics with
the time since the study began. ``replay`` writes those rows into a store as if the study
were running now, so every page draws it as it draws a live study. The lessons on the landing
page ship as recordings (``lessons/*.json``). A race records all its studies in one file.

One idea a module:

- ``schema``: the file's form, its limits, the validated types and :class:`RecordingError`;
- ``from_store``: recording a study or a race from a store, and writing the file;
- ``parse``: reading a file as untrusted input, every field validated;
- ``asks``: a Bayesian study's asks as plain numbers, and their rebuilding and signing;
- ``to_store``: replaying a recording into a store, at once or at a speed.

The names below are the package's public ones; callers import them from here.
"""

from __future__ import annotations

from tuning_core.reports.recording.asks import signed_asks
from tuning_core.reports.recording.from_store import record, write_recording
from tuning_core.reports.recording.parse import load_recording, parse_recording
from tuning_core.reports.recording.schema import (
    FORMAT,
    MAX_BATCH_LOSSES,
    MAX_BYTES,
    MAX_EPOCHS,
    MAX_METRICS,
    MAX_TRIALS,
    VERSION,
    RaceRecording,
    RecordedEpoch,
    RecordedTrial,
    Recording,
    RecordingError,
)
from tuning_core.reports.recording.to_store import RACE_GAP_S, delete_replayed, replay

__all__ = [
    "FORMAT",
    "MAX_BATCH_LOSSES",
    "MAX_BYTES",
    "MAX_EPOCHS",
    "MAX_METRICS",
    "MAX_TRIALS",
    "RACE_GAP_S",
    "VERSION",
    "RaceRecording",
    "RecordedEpoch",
    "RecordedTrial",
    "Recording",
    "RecordingError",
    "delete_replayed",
    "load_recording",
    "parse_recording",
    "record",
    "replay",
    "signed_asks",
    "write_recording",
]
