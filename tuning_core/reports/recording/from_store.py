"""Recording a finished study (or a race of them) from a store, and writing it compactly.

The store keeps a trial's start and end but not each epoch's time, so epochs are placed
evenly between them.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from tuning_core.engine import race as races
from tuning_core.engine.pruners import PruneDecision
from tuning_core.engine.states import TrialState
from tuning_core.engine.storage import Store
from tuning_core.reports.recording.asks import recorded_ask_facts, share_told_points
from tuning_core.reports.recording.schema import FORMAT, VERSION, RecordingError


def record(store: Store, name: str, asks: bool = True) -> dict[str, Any]:
    """A finished or stopped study, or a race of them, as a recording (plain JSON-able dict).

    The store keeps a trial's start and end but not each epoch's time, so epochs are placed
    evenly between them: each epoch of a trial takes the same share of its time. With
    ``asks``, a Bayesian study's trials carry what the search knew (see ``recording.asks``).
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
    facts = recorded_ask_facts(store, study.id) if asks else {}
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
        if trial.values:  # every metric it measured; a trial of an older store has none
            rows[-1]["values"] = {name: _finite(v) for name, v in trial.values.items()}
        if trial.number in facts:
            rows[-1]["ask"] = facts[trial.number]
    share_told_points(rows)
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
