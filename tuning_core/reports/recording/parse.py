"""Reading a recording file as untrusted input (a file mailed with a course): plain JSON read
only after its size is checked, every field validated, any problem one sentence
(:class:`RecordingError`)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from tuning_core.engine.errors import SpecError, brief
from tuning_core.engine.objective_spec import METRIC_PATTERN
from tuning_core.engine.pruners import PruneDecision
from tuning_core.engine.race_spec import parse_race_spec
from tuning_core.engine.spec import StudySpec, parse_spec
from tuning_core.engine.states import TrialState
from tuning_core.reports.recording.asks import parse_ask, with_told_points
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
    read_number,
    read_text,
)


def load_recording(path: Path | str) -> Recording | RaceRecording:
    """Read and validate a recording file; every problem is one :class:`RecordingError`."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError:
        raise RecordingError(f"recording: cannot read {path.name}.") from None
    if size > MAX_BYTES:
        raise RecordingError(
            f"recording: {path.name} is {size:,} bytes, over the {MAX_BYTES:,}-byte limit."
        )
    try:
        raw = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise RecordingError(f"recording: {path.name} is not a JSON file.") from None
    return parse_recording(raw)


def parse_recording(raw: Any) -> Recording | RaceRecording:
    """Validate a decoded recording (of a study, or of a race)."""
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise RecordingError(f"recording: not a Tuning Lab recording (format must be {FORMAT!r}).")
    if raw.get("version") != VERSION:
        raise RecordingError(f"recording: version {raw.get('version')!r} is not {VERSION}.")
    if "race" in raw:
        return _parse_race(raw)
    return _parse_study(raw.get("spec"), raw.get("trials"), "")


def _parse_study(raw_spec: Any, trials: Any, where: str) -> Recording:
    try:
        spec = parse_spec(raw_spec)
    except SpecError as error:
        raise RecordingError(f"{where or 'recording: its '}spec is invalid ({error})") from None
    if not isinstance(trials, list) or not 0 < len(trials) <= MAX_TRIALS:
        raise RecordingError(f"{where}trials: a recording holds 1 to {MAX_TRIALS} trials.")
    parsed = with_told_points(
        tuple(_trial(item, index, spec, where) for index, item in enumerate(trials)), where
    )
    if len({trial.number for trial in parsed}) != len(parsed):
        raise RecordingError(f"{where}trials: two trials share a number.")
    return Recording(spec, parsed)


def _parse_race(raw: dict[str, Any]) -> RaceRecording:
    try:
        race = parse_race_spec(raw["race"])
    except SpecError as error:
        raise RecordingError(f"race: the race spec is invalid ({error})") from None
    studies = raw.get("studies")
    if not isinstance(studies, list) or len(studies) != len(race.members):
        raise RecordingError(f"studies: the race runs {len(race.members)} studies; record each.")
    members = []
    for index, (item, member) in enumerate(zip(studies, race.members, strict=True)):
        where = f"studies[{index}]."
        if not isinstance(item, dict):
            raise RecordingError(f"{where[:-1]}: must be an object with a spec and trials.")
        recorded = _parse_study(item.get("spec"), item.get("trials"), where)
        if recorded.spec.to_json() != member.spec.to_json():
            raise RecordingError(f"{where}spec: not the race's study {member.spec.name}.")
        members.append(recorded)
    return RaceRecording(race, tuple(members))


def _trial(item: Any, index: int, spec: StudySpec, prefix: str = "") -> RecordedTrial:
    where = f"{prefix}trials[{index}]"
    if not isinstance(item, dict):
        raise RecordingError(f"{where}: must be an object.")
    number = item.get("number")
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number < MAX_TRIALS:
        raise RecordingError(f"{where}.number: must be a whole number from 0 to {MAX_TRIALS - 1}.")
    params = item.get("params")
    # The tuned names, and the fixed values a trial carries too (optimizer "sgd").
    if (
        not isinstance(params, dict)
        or not set(spec.space.names) <= set(params)
        or len(params) > 100
        or not all(isinstance(key, str) and len(key) <= 60 for key in params)
    ):
        raise RecordingError(f"{where}.params: must name every hyperparameter the spec tunes.")
    for key, value in params.items():
        if not isinstance(value, (int, float, str, bool)) or (
            isinstance(value, float) and not math.isfinite(value)
        ):
            raise RecordingError(f"{where}.params.{key}: must be a number or text.")
    try:
        state = TrialState(item.get("state"))
    except ValueError:
        raise RecordingError(f"{where}.state: not a trial state.") from None
    if not state.is_finished():
        raise RecordingError(f"{where}.state: a recorded trial must have finished.")
    started = read_number(item.get("started"), f"{where}.started")
    finished = read_number(item.get("finished"), f"{where}.finished")
    if not 0 <= started <= finished <= 86_400:
        raise RecordingError(f"{where}: started and finished must be 0 <= start <= end <= a day.")
    epochs = item.get("epochs", [])
    if not isinstance(epochs, list) or len(epochs) > MAX_EPOCHS:
        raise RecordingError(f"{where}.epochs: a list of at most {MAX_EPOCHS} epochs.")
    recorded = []
    for position, epoch in enumerate(epochs):
        at = f"{where}.epochs[{position}]"
        if not isinstance(epoch, dict) or not isinstance(epoch.get("metrics"), dict):
            raise RecordingError(f"{at}: must be an object with metrics.")
        count = epoch.get("epoch")
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count < MAX_EPOCHS:
            raise RecordingError(f"{at}.epoch: must be a whole number from 0.")
        metrics = epoch["metrics"]
        if len(metrics) > MAX_METRICS or not all(
            isinstance(k, str) and len(k) <= 40 for k in metrics
        ):
            raise RecordingError(f"{at}.metrics: at most {MAX_METRICS} short names.")
        values = {
            k: read_number(v, f"{at}.metrics.{k}", allow_none=True) for k, v in metrics.items()
        }
        moment = read_number(epoch.get("at"), f"{at}.at")
        recorded.append(RecordedEpoch(count, min(max(moment, started), finished), values))
    losses = item.get("batch_losses", [])
    if not isinstance(losses, list) or len(losses) > MAX_BATCH_LOSSES:
        raise RecordingError(f"{where}.batch_losses: at most {MAX_BATCH_LOSSES} pairs.")
    pairs = []
    for pair in losses:
        if not isinstance(pair, list) or len(pair) != 2:
            raise RecordingError(f"{where}.batch_losses: each must be [progress, loss].")
        pairs.append(
            (
                read_number(pair[0], f"{where}.batch_losses"),
                read_number(pair[1], f"{where}.batch_losses", True),
            )
        )
    return RecordedTrial(
        number=number,
        params=params,
        state=state,
        value=read_number(item.get("value"), f"{where}.value", allow_none=True),
        error=read_text(item.get("error"), f"{where}.error"),
        note=read_text(item.get("note"), f"{where}.note"),
        started=started,
        finished=finished,
        epochs=tuple(sorted(recorded, key=lambda e: e.epoch)),
        batch_losses=tuple(pairs),
        pruned=_decision(item.get("pruned"), number, where),
        ask=parse_ask(item.get("ask"), f"{where}.ask", len(spec.space.names)),
        values=_values(item.get("values", {}), f"{where}.values"),
    )


def _values(raw: Any, where: str) -> dict[str, float | None]:
    """A trial's metrics (name -> finite number or null); absent in older recordings."""
    if not isinstance(raw, dict) or len(raw) > MAX_METRICS:
        raise RecordingError(f"{where}: must map at most {MAX_METRICS} metric names to numbers.")
    for name in raw:
        if not isinstance(name, str) or not METRIC_PATTERN.fullmatch(name):
            raise RecordingError(
                f"{where}: {brief(name)} is not a metric name (1 to 64 letters, digits, "
                "underscores, dots or dashes, starting with a letter or underscore)."
            )
    return {name: read_number(v, f"{where}.{name}", allow_none=True) for name, v in raw.items()}


def _decision(raw: Any, number: int, where: str) -> PruneDecision | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise RecordingError(f"{where}.pruned: must be an object or null.")

    def whole(key: str) -> int | None:
        value = raw.get(key)
        if value is None and key in ("rung", "bracket", "kept"):
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 100_000:
            raise RecordingError(f"{where}.pruned.{key}: must be a whole number.")
        return value

    rule = read_text(raw.get("rule"), f"{where}.pruned.rule") or ""
    return PruneDecision(
        number,
        whole("epoch") or 0,
        read_number(raw.get("value"), f"{where}.pruned.value") or 0.0,
        read_number(raw.get("cutoff"), f"{where}.pruned.cutoff") or 0.0,
        rule[:40],
        whole("rung"),
        whole("bracket"),
        whole("compared") or 0,
        whole("kept"),
    )
