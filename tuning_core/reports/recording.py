"""Recordings: a finished study as one small JSON file that replays into any store.

``record`` (``python -m tuning_core record NAME --output FILE``) writes a study's spec and,
per trial, its params, how it ended, why it was pruned, and each epoch's metrics with the time
since the study began. ``replay`` writes those rows into a store as if the study were running
now, instantly or at a chosen speed, so every page draws it as it draws a live study; nothing is
trained and Keras is never imported. The lessons on the landing page ship as recordings
(``lessons/*.json``).

A Bayesian study's recording also carries, per trial, what the search knew when it proposed
it (the told points, the GP's fitted kernel hyperparameters, the acquisition): plain numbers,
since the store's ask records are pickles signed with the recording user's key, which no one
else may open. The replay rebuilds each record from those numbers (the same surrogate,
conditioned on the same points with the same kernel: the same numbers, see
``strategies.ask_record_from_facts``) and signs it with this user's key, so "Why this point?"
reads a replayed study as it reads one run here. A race records all its studies in one file.

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

from tuning_core.engine import race as races
from tuning_core.engine import snapshots, strategies
from tuning_core.engine.errors import SpecError
from tuning_core.engine.pruners import PruneDecision
from tuning_core.engine.race_spec import RaceSpec, parse_race_spec
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
    ask: dict[str, Any] | None = None  # strategies.ask_facts: what the search knew


@dataclass(frozen=True)
class Recording:
    spec: StudySpec
    trials: tuple[RecordedTrial, ...]

    @property
    def seconds(self) -> float:
        """How long the recorded study ran."""
        return max((trial.finished for trial in self.trials), default=0.0)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def studies(self) -> tuple[Recording, ...]:
        return (self,)


@dataclass(frozen=True)
class RaceRecording:
    """A strategy race: its spec and each member study's recording, in the race's order."""

    race: RaceSpec
    members: tuple[Recording, ...]

    @property
    def name(self) -> str:
        return self.race.name

    @property
    def studies(self) -> tuple[Recording, ...]:
        return self.members

    @property
    def trials(self) -> tuple[RecordedTrial, ...]:
        return tuple(trial for member in self.members for trial in member.trials)


# Recording -------------------------------------------------------------------------------


def record(store: Store, name: str, asks: bool = True) -> dict[str, Any]:
    """A finished or stopped study, or a race of them, as a recording (plain JSON-able dict).

    The store keeps a trial's start and end but not each epoch's time, so epochs are placed
    evenly between them: each epoch of a trial takes the same share of its time. With
    ``asks``, a Bayesian study's trials carry what the search knew (see the module docstring).
    """
    study = store.get_study(name)
    if study is None and races.get_race(store, name) is not None:
        return _record_race(store, name)
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
    facts = _ask_facts(store, study.id) if asks else {}
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
        if trial.number in facts:
            rows[-1]["ask"] = facts[trial.number]
    _share_told_points(rows)
    for row in rows:  # what a trial lacks is left out: a race's 200 trials stay small
        for key in ("error", "note", "pruned", "epochs", "batch_losses"):
            if row[key] in (None, []):
                del row[key]
    return {"format": FORMAT, "version": VERSION, "spec": study.spec.to_json(), "trials": rows}


def _record_race(store: Store, name: str) -> dict[str, Any]:
    """A race: its spec and its member studies (their asks left out: the race page reads
    none, and each Bayesian member's would double the file)."""
    race = races.get_race(store, name)
    assert race is not None
    members = []
    for member in races.race_studies(store, race.id):
        if store.get_study(member.study_name) is None:
            raise RecordingError(f"name: the race {name!r} has not started {member.study_name}.")
        study = record(store, member.study_name, asks=False)
        if study["spec"]["objective"]["type"] == "function":
            for trial in study["trials"]:  # one epoch that repeats the value: the page reads none
                trial.pop("epochs", None)
        members.append({"spec": study["spec"], "trials": study["trials"]})
    return {"format": FORMAT, "version": VERSION, "race": race.spec.raw, "studies": members}


def _ask_facts(store: Store, study_id: int) -> dict[int, dict[str, Any]]:
    """Each trial's ask facts; a record this user's key did not sign is left out (the Why
    page then says the trial has no recorded proposal)."""
    found = {}
    for number in store.asked_trials(study_id):
        blob = store.load_ask(study_id, number)
        try:
            found[number] = strategies.ask_facts(strategies.load_ask_record(blob))
        except snapshots.SnapshotError:
            continue
    return found


def _share_told_points(rows: list[dict[str, Any]]) -> None:
    """Write each ask's told points as those of the ask before it plus the new ones: a
    sequential study tells one point between asks, so each is written once, not once per
    later ask (``told_before`` counts the points taken from the previous ask)."""
    previous_x: list[Any] = []
    previous_y: list[float] = []
    for row in rows:
        ask = row.get("ask")
        if ask is None:
            continue
        xs, ys = ask["Xi"], ask["yi"]
        shared = 0
        while (
            shared < min(len(xs), len(previous_x))
            and xs[shared] == previous_x[shared]
            and ys[shared] == previous_y[shared]
        ):
            shared += 1
        ask["told_before"] = shared
        ask["Xi"], ask["yi"] = xs[shared:], ys[shared:]
        previous_x, previous_y = xs, ys


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

    def trials(rows: list[dict[str, Any]]) -> str:
        return ",\n".join(json.dumps(trial, separators=(",", ":")) for trial in rows)

    if "studies" in recording:  # a race: each member's spec on a line, then its trials
        head = json.dumps({k: v for k, v in recording.items() if k != "studies"}, indent=1)
        members = ",\n".join(
            '{"spec": ' + json.dumps(member["spec"], separators=(",", ":"))
            + ', "trials": [\n' + trials(member["trials"]) + "\n]}"
            for member in recording["studies"]
        )  # fmt: skip
        text = head[:-2] + ',\n "studies": [\n' + members + "\n]}\n"
    else:
        head = json.dumps({k: v for k, v in recording.items() if k != "trials"}, indent=1)
        text = head[:-2] + ',\n "trials": [\n' + trials(recording["trials"]) + "\n]}\n"
    path.write_text(text, encoding="utf-8")


# Loading ---------------------------------------------------------------------------------


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
    parsed = _with_told_points(
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
    started = _number(item.get("started"), f"{where}.started")
    finished = _number(item.get("finished"), f"{where}.finished")
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
        ask=_ask(item.get("ask"), f"{where}.ask", len(spec.space.names)),
    )


ACQUISITIONS = ("EI", "PI", "LCB")


def _ask(raw: Any, where: str, dims: int) -> dict[str, Any] | None:
    """Validate a trial's ask facts (``strategies.ask_facts``, told points shared with the
    ask before, see ``_share_told_points``); whether they fit the study's space is checked
    when the replay rebuilds them."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("initial"), bool):
        raise RecordingError(f"{where}: must be an object saying whether it is initial.")

    def point(value: Any, at: str) -> list[Any]:
        if (
            not isinstance(value, list)
            or len(value) != dims
            or not all(isinstance(v, (int, float, str)) and not isinstance(v, bool) for v in value)
            or any(isinstance(v, float) and not math.isfinite(v) for v in value)
            or any(isinstance(v, str) and len(v) > 200 for v in value)
        ):
            raise RecordingError(f"{at}: must give {dims} numbers or texts, one a hyperparameter.")
        return value

    xs, ys = raw.get("Xi"), raw.get("yi")
    if not isinstance(xs, list) or not isinstance(ys, list) or len(xs) != len(ys):
        raise RecordingError(f"{where}: Xi and yi must be lists of the same length.")
    if len(xs) > 2 * MAX_TRIALS:
        raise RecordingError(f"{where}.Xi: at most {2 * MAX_TRIALS} told points.")
    before = raw.get("told_before", 0)
    if isinstance(before, bool) or not isinstance(before, int) or not 0 <= before <= MAX_TRIALS:
        raise RecordingError(f"{where}.told_before: must be a whole number from 0.")
    facts: dict[str, Any] = {
        "initial": raw["initial"],
        "point": point(raw.get("point"), f"{where}.point"),
        "Xi": [point(x, f"{where}.Xi") for x in xs],
        "yi": [_number(y, f"{where}.yi") for y in ys],
        "told_before": before,
    }
    if raw["initial"]:
        return facts
    acquisition = raw.get("acquisition")
    if acquisition is not None and acquisition not in ACQUISITIONS:
        raise RecordingError(f"{where}.acquisition: must be one of {', '.join(ACQUISITIONS)}.")
    options = raw.get("acq_func_kwargs", {})
    if not isinstance(options, dict) or len(options) > 10:
        raise RecordingError(f"{where}.acq_func_kwargs: at most 10 named numbers.")
    facts.update(
        acquisition=acquisition,
        replaced=raw.get("replaced") is True,
        acq_func_kwargs={
            str(k)[:40]: _number(v, f"{where}.acq_func_kwargs") for k, v in options.items()
        },
    )
    if "kernel_theta" in raw:
        theta = raw["kernel_theta"]
        if not isinstance(theta, list) or not 0 < len(theta) <= 200:
            raise RecordingError(f"{where}.kernel_theta: a list of at most 200 numbers.")
        facts["kernel_theta"] = [_number(v, f"{where}.kernel_theta") for v in theta]
        facts["noise"] = _number(raw.get("noise"), f"{where}.noise", allow_none=True)
    return facts


def _with_told_points(trials: tuple[RecordedTrial, ...], where: str) -> tuple[RecordedTrial, ...]:
    """Each ask's whole told points again: the previous ask's first ``told_before`` ones,
    then its own (undoing ``_share_told_points``)."""
    previous_x: list[Any] = []
    previous_y: list[float] = []
    rebuilt = []
    for trial in trials:
        ask = trial.ask
        if ask is not None:
            before = ask.pop("told_before")
            if before > len(previous_x):
                raise RecordingError(
                    f"{where}trials: trial {trial.number}'s ask shares {before} told points "
                    f"with the ask before it, which had {len(previous_x)}."
                )
            ask["Xi"] = previous_x[:before] + ask["Xi"]
            ask["yi"] = previous_y[:before] + ask["yi"]
            previous_x, previous_y = ask["Xi"], ask["yi"]
        rebuilt.append(trial)
    return tuple(rebuilt)


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


# Replaying ------------------------------------------------------------------------------

# Between two studies of a replayed race: the worker's gap while it opens the next one.
RACE_GAP_S = 0.2


def signed_asks(recording: Recording | RaceRecording) -> dict[tuple[str, int], Any]:
    """Every recorded ask rebuilt and signed with this user's key (study name, trial number)
    -> ``strategies.AskRecord``; a RecordingError names the first that does not fit its spec.
    Done before a replay writes anything, so a bad file changes nothing."""
    rebuilt: dict[tuple[str, int], Any] = {}
    for study in recording.studies:
        asked = [trial for trial in study.trials if trial.ask is not None]
        if not asked:
            continue
        if study.spec.strategy.type != "bayesian":
            raise RecordingError(f"trials: {study.name} is not Bayesian, so it made no asks.")
        strategy = strategies.make_strategy(study.spec.space, study.spec.strategy)
        for trial in asked:
            try:
                rebuilt[study.name, trial.number] = strategies.ask_record_from_facts(
                    strategy, trial.ask
                )
            except (ValueError, TypeError, ArithmeticError) as error:
                raise RecordingError(
                    f"trials: trial {trial.number}'s ask does not fit the spec "
                    f"({str(error).rstrip('.')[:200]})."
                ) from None
    return rebuilt


def replay(
    store: Store,
    recording: Recording | RaceRecording,
    speed: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    worker_pid: int | None = None,
    started: Callable[[], None] | None = None,
    asks: dict[tuple[str, int], Any] | None = None,
) -> None:
    """Write ``recording`` into ``store`` as a running study would: trial starts, epochs and
    ends in the recorded order, ``speed`` times faster than recorded (None: all at once), from
    the first epoch on (what came before it is written at once). A race replays its studies
    one after another, as its worker ran them.

    A study (or race) of the same name is replaced (a lesson replayed again starts afresh).
    While it replays, the study is running with ``worker_pid`` as its worker, so pages show it
    live; ``started`` is called once the study and its first epoch are in the store. ``asks``
    are :func:`signed_asks` of the recording, made now when not given. The store stamps each
    row with the time it is written (a finished trial is never changed), so durations read
    as the replay's: the recorded ones divided by ``speed``, and all near 0 at once.
    """
    if asks is None:
        asks = signed_asks(recording)
    delete_replayed(store, recording)
    race_id = (
        races.open_race(store, recording.race) if isinstance(recording, RaceRecording) else None
    )
    events: list[tuple[float, int, int, RecordedTrial | None, RecordedEpoch | None]] = []
    offset = 0.0
    for index, study in enumerate(recording.studies):
        # kinds: -1 opens a study, 0 starts a trial, 1 an epoch, 2 ends a trial, 3 a study
        events.append((offset, -1, index, None, None))
        for trial in study.trials:
            events.append((offset + trial.started, 0, index, trial, None))
            events += [(offset + e.at, 1, index, trial, e) for e in trial.epochs]
            events.append((offset + trial.finished, 2, index, trial, None))
        events.append((offset + study.seconds, 3, index, None, None))
        offset += study.seconds + RACE_GAP_S
    events.sort(key=lambda e: (e[0], e[1] if e[1] >= 0 else -1, e[2], e[3].number if e[3] else -1))
    # The replay starts at the first epoch: before it the recorded run only built its model,
    # and a lesson's first chart should not wait for that. A Bayesian study's asks start it at
    # its first model-chosen trial instead: the random points before it teach nothing on "Why
    # this point?", which has no chart to draw until then.
    head_start = min((e[0] for e in events if e[1] == 1), default=0.0)
    head_start = max(
        head_start,
        min(
            (e[0] for e in events if e[1] == 0 and e[3].ask and not e[3].ask["initial"]),
            default=0.0,
        ),
    )
    began = time.monotonic() - head_start / (speed or 1.0)
    study_ids: dict[int, int] = {}
    ids: dict[tuple[int, int], int] = {}
    for at, kind, index, trial, epoch in events:
        study = recording.studies[index]
        if started is not None and at > head_start:
            started()  # the first epoch is in: a page drawn now has a chart to show
            started = None
        if speed is not None:
            wait = at / speed - (time.monotonic() - began)
            if wait > 0:
                sleep(wait)
            running = study_ids.get(index)
            if _stop_requested(store, running, race_id):
                if running is not None:
                    store.interrupt_running_trials(running, "stopped during the replay")
                    store.set_status(running, StudyStatus.STOPPED)
                if race_id is not None:
                    store.set_race_status(race_id, StudyStatus.STOPPED, None, "stopped on request")
                return
        if kind == -1:
            study_ids[index] = store.create_study(study.spec)
            store.set_status(study_ids[index], StudyStatus.RUNNING, worker_pid=worker_pid)
        elif kind == 0 and trial is not None:
            ask = asks.get((study.name, trial.number))
            if ask is not None:
                store.save_ask(
                    study_ids[index], trial.number, ask.state, ask.initial, ask.acquisition
                )
            ids[index, trial.number] = store.start_trial(
                study_ids[index], trial.number, trial.params
            )
        elif kind == 1 and trial is not None and epoch is not None:
            store.add_epoch_metrics(ids[index, trial.number], epoch.epoch, epoch.metrics)
        elif kind == 2 and trial is not None:
            trial_id = ids[index, trial.number]
            for progress, loss in trial.batch_losses:
                store.add_batch_loss(trial_id, progress, loss)
            store.finish_trial(
                trial_id, trial.state, trial.value, trial.error, trial.note, trial.pruned
            )
        elif kind == 3:
            store.set_status(study_ids[index], StudyStatus.FINISHED)
    if race_id is not None:
        message = f"all {len(recording.studies)} studies finished"
        store.set_race_status(race_id, StudyStatus.FINISHED, None, message)
    if started is not None:
        started()


def _stop_requested(store: Store, study_id: int | None, race_id: int | None) -> bool:
    if study_id is not None and store.stop_requested(study_id):
        return True
    return race_id is not None and store.race_stop_requested(race_id)


def delete_replayed(store: Store, recording: Recording | RaceRecording) -> None:
    """Remove what ``recording`` replays into (its study, or its race and the race's studies):
    a lesson replayed again, or run live instead, starts afresh."""
    if isinstance(recording, RaceRecording):
        # delete_race keeps a race's studies (they are the user's); a lesson's are the lesson's.
        store.delete_race(recording.name)
    for study in recording.studies:
        store.delete_study(study.name)
