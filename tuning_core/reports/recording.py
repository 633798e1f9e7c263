"""Recordings: a finished study as one small JSON file that replays into any store.

``record`` (``python -m tuning_core record NAME --output FILE``) writes a study's spec and,
per trial, its params, how it ended, why it was pruned, and each epoch's metrics with the time
since the study began. ``replay`` writes those rows into a store as if the study were running
now, instantly or at a chosen speed, so every page draws it as it draws a live study; nothing is
trained and Keras is never imported. The lessons on the landing page ship as recordings
(``lessons/*.json``).

A recording is untrusted input (a file mailed with a course): plain JSON read only after its
size is checked, every field validated, any problem one sentence (:class:`RecordingError`).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuning_core.engine.errors import SpecError
from tuning_core.engine.pruners import PruneDecision
from tuning_core.engine.spec import StudySpec, parse_spec
from tuning_core.engine.states import StudyStatus, TrialState
from tuning_core.engine.storage import Store

FORMAT = "tuning-lab-recording"
VERSION = 1
MAX_BYTES = 2_000_000  # the lessons are ~10-40 kB; a bound, not a target
MAX_TRIALS = 500
MAX_EPOCHS = 500
MAX_BATCH_LOSSES = 2_000
MAX_METRICS = 20
SPEEDS = {"instant": None, "×10": 10.0, "real time": 1.0}


class RecordingError(SpecError):
    """A recording that cannot be read or replayed; the message is one sentence."""


@dataclass(frozen=True)
class RecordedEpoch:
    epoch: int
    at: float  # seconds since the study began
    metrics: dict[str, float | None]


@dataclass(frozen=True)
class RecordedTrial:
    number: int
    params: dict[str, Any]
    state: TrialState
    value: float | None
    error: str | None
    note: str | None
    started: float
    finished: float
    epochs: tuple[RecordedEpoch, ...]
    batch_losses: tuple[tuple[float, float | None], ...]
    pruned: PruneDecision | None


@dataclass(frozen=True)
class Recording:
    spec: StudySpec
    trials: tuple[RecordedTrial, ...]

    @property
    def seconds(self) -> float:
        """How long the recorded study ran."""
        return max((trial.finished for trial in self.trials), default=0.0)


# Recording -------------------------------------------------------------------------------


def record(store: Store, name: str) -> dict[str, Any]:
    """A finished or stopped study as a recording (plain JSON-able dict).

    The store keeps a trial's start and end but not each epoch's time, so epochs are placed
    evenly between them: each epoch of a trial takes the same share of its time.
    """
    study = store.get_study(name)
    if study is None:
        raise RecordingError(f"name: no study called {name!r} in this store.")
    trials = [t for t in store.trials(study.id) if t.state.is_finished()]
    if not trials:
        raise RecordingError(f"name: the study {name!r} has no finished trial to record.")
    origin = min(t.started_at for t in trials if t.started_at is not None)
    metrics: dict[int, dict[int, dict[str, float | None]]] = {}
    for number, epoch, metric, value in store.epoch_metrics(study.id, finished=True):
        metrics.setdefault(number, {}).setdefault(epoch, {})[metric] = value
    pruned = {decision.trial_number: decision for decision in store.prune_decisions(study.id)}
    rows = []
    for trial in trials:
        started = (trial.started_at or origin) - origin
        finished = max(started, (trial.finished_at or trial.started_at or origin) - origin)
        epochs = metrics.get(trial.number, {})
        count = max(epochs, default=-1) + 1
        decision = pruned.get(trial.number)
        rows.append(
            {
                "number": trial.number,
                "params": trial.params,
                "state": trial.state.value,
                "value": _finite(trial.value),
                "error": trial.error,
                "note": trial.note,
                "started": round(started, 3),
                "finished": round(finished, 3),
                "epochs": [
                    {
                        "epoch": epoch,
                        "at": round(started + (finished - started) * (epoch + 1) / count, 3),
                        "metrics": {k: _finite(v) for k, v in values.items()},
                    }
                    for epoch, values in sorted(epochs.items())
                ],
                "batch_losses": [
                    [round(progress, 4), _finite(loss)]
                    for progress, loss in store.batch_losses(study.id, trial.number)
                ]
                if trial.state == TrialState.DIVERGED
                else [],
                "pruned": None if decision is None else _decision_json(decision),
            }
        )
    return {"format": FORMAT, "version": VERSION, "spec": study.spec.to_json(), "trials": rows}


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _decision_json(decision: PruneDecision) -> dict[str, Any]:
    return {
        "epoch": decision.epoch,
        "value": decision.value,
        "cutoff": decision.cutoff,
        "rule": decision.rule,
        "rung": decision.rung,
        "bracket": decision.bracket,
        "compared": decision.compared,
        "kept": decision.kept,
    }


def write_recording(recording: dict[str, Any], path: Path) -> None:
    """Write compactly (one trial a line, so a diff of a re-recorded lesson stays readable)."""
    head = {k: v for k, v in recording.items() if k != "trials"}
    lines = ",\n".join(json.dumps(trial, separators=(",", ":")) for trial in recording["trials"])
    text = json.dumps(head, indent=1)[:-2] + ',\n "trials": [\n' + lines + "\n]}\n"
    path.write_text(text, encoding="utf-8")


# Loading ---------------------------------------------------------------------------------


def load_recording(path: Path | str) -> Recording:
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


def parse_recording(raw: Any) -> Recording:
    """Validate a decoded recording."""
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise RecordingError(f"recording: not a Tuning Lab recording (format must be {FORMAT!r}).")
    if raw.get("version") != VERSION:
        raise RecordingError(f"recording: version {raw.get('version')!r} is not {VERSION}.")
    try:
        spec = parse_spec(raw.get("spec"))
    except SpecError as error:
        raise RecordingError(f"recording: its spec is invalid ({error})") from None
    trials = raw.get("trials")
    if not isinstance(trials, list) or not 0 < len(trials) <= MAX_TRIALS:
        raise RecordingError(f"trials: a recording holds 1 to {MAX_TRIALS} trials.")
    parsed = tuple(_trial(item, index, spec) for index, item in enumerate(trials))
    if len({trial.number for trial in parsed}) != len(parsed):
        raise RecordingError("trials: two trials share a number.")
    return Recording(spec, parsed)


def _number(value: Any, where: str, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RecordingError(f"{where}: must be a finite number.")
    return float(value)


def _text(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 2_000:
        raise RecordingError(f"{where}: must be text of at most 2,000 characters.")
    return value


def _trial(item: Any, index: int, spec: StudySpec) -> RecordedTrial:
    where = f"trials[{index}]"
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
    started = _number(item.get("started"), f"{where}.started")
    finished = _number(item.get("finished"), f"{where}.finished")
    if not 0 <= started <= finished <= 86_400:
        raise RecordingError(f"{where}: started and finished must be 0 <= start <= end <= a day.")
    epochs = item.get("epochs")
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
        values = {k: _number(v, f"{at}.metrics.{k}", allow_none=True) for k, v in metrics.items()}
        moment = _number(epoch.get("at"), f"{at}.at")
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
                _number(pair[0], f"{where}.batch_losses"),
                _number(pair[1], f"{where}.batch_losses", True),
            )
        )
    return RecordedTrial(
        number=number,
        params=params,
        state=state,
        value=_number(item.get("value"), f"{where}.value", allow_none=True),
        error=_text(item.get("error"), f"{where}.error"),
        note=_text(item.get("note"), f"{where}.note"),
        started=started,
        finished=finished,
        epochs=tuple(sorted(recorded, key=lambda e: e.epoch)),
        batch_losses=tuple(pairs),
        pruned=_decision(item.get("pruned"), number, where),
    )


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

    rule = _text(raw.get("rule"), f"{where}.pruned.rule") or ""
    return PruneDecision(
        number,
        whole("epoch") or 0,
        _number(raw.get("value"), f"{where}.pruned.value") or 0.0,
        _number(raw.get("cutoff"), f"{where}.pruned.cutoff") or 0.0,
        rule[:40],
        whole("rung"),
        whole("bracket"),
        whole("compared") or 0,
        whole("kept"),
    )


# Replaying -------------------------------------------------------------------------------


def replay(
    store: Store,
    recording: Recording,
    speed: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    worker_pid: int | None = None,
    started: Callable[[], None] | None = None,
) -> None:
    """Write ``recording`` into ``store`` as a running study would: trial starts, epochs and
    ends in the recorded order, ``speed`` times faster than recorded (None: all at once), from
    the first epoch on (what came before it is written at once).

    A study of the same name is replaced (a lesson replayed again starts afresh). While it
    replays, the study is running with ``worker_pid`` as its worker, so pages show it live;
    ``started`` is called once the study and its first epoch are in the store.
    """
    existing = store.get_study(recording.spec.name)
    if existing is not None:
        store.delete_study(recording.spec.name)
    study_id = store.create_study(recording.spec)
    store.set_status(study_id, StudyStatus.RUNNING, worker_pid=worker_pid)
    events: list[tuple[float, int, RecordedTrial, RecordedEpoch | None]] = []
    for trial in recording.trials:
        events.append((trial.started, 0, trial, None))
        events += [(epoch.at, 1, trial, epoch) for epoch in trial.epochs]
        events.append((trial.finished, 2, trial, None))
    events.sort(key=lambda event: (event[0], event[1], event[2].number))
    # The replay starts at the first epoch: before it the recorded run only built its model,
    # and a lesson's first chart should not wait for that.
    head_start = min((e[0] for e in events if e[1] == 1), default=0.0)
    began = time.monotonic() - head_start / (speed or 1.0)
    ids: dict[int, int] = {}
    for at, kind, trial, epoch in events:
        if started is not None and at > head_start:
            started()  # the first epoch is in: a page drawn now has a chart to show
            started = None
        if speed is not None:
            wait = at / speed - (time.monotonic() - began)
            if wait > 0:
                sleep(wait)
            if store.stop_requested(study_id):
                store.interrupt_running_trials(study_id, "stopped during the replay")
                store.set_status(study_id, StudyStatus.STOPPED)
                return
        if kind == 0:
            ids[trial.number] = store.start_trial(study_id, trial.number, trial.params)
        elif kind == 1 and epoch is not None:
            store.add_epoch_metrics(ids[trial.number], epoch.epoch, epoch.metrics)
        else:
            for progress, loss in trial.batch_losses:
                store.add_batch_loss(ids[trial.number], progress, loss)
            store.finish_trial(
                ids[trial.number], trial.state, trial.value, trial.error, trial.note, trial.pruned
            )
    store.set_status(study_id, StudyStatus.FINISHED)
    if started is not None:
        started()
