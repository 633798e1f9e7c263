"""A Bayesian study's asks in a recording: what the search knew when it proposed each trial.

The store's ask records are pickles signed with the recording user's key, which no one else
may open, so a recording carries plain numbers instead (``strategies.ask_facts``: the told
points, the GP's fitted kernel hyperparameters, the acquisition). A replay rebuilds each
record from them (the same surrogate, conditioned on the same points with the same kernel:
the same numbers, see ``strategies.ask_record_from_facts``) and signs it with this user's
key, so "Why this point?" reads a replayed study as it reads one run here. A sequential study
tells one point between asks, so each ask's told points are written as those of the ask
before it plus the new ones (:func:`share_told_points`, undone by :func:`with_told_points`).
"""

from __future__ import annotations

import math
from typing import Any

from tuning_core.engine import snapshots, strategies
from tuning_core.engine.storage import Store
from tuning_core.reports.recording.schema import (
    MAX_METRICS,
    MAX_TRIALS,
    RaceRecording,
    RecordedTrial,
    Recording,
    RecordingError,
    read_number,
)

ACQUISITIONS = ("EI", "PI", "LCB")


def recorded_ask_facts(store: Store, study_id: int) -> dict[int, dict[str, Any]]:
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


def share_told_points(rows: list[dict[str, Any]]) -> None:
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


def parse_ask(raw: Any, where: str, dims: int) -> dict[str, Any] | None:
    """Validate a trial's ask facts (``strategies.ask_facts``, told points shared with the
    ask before, see ``share_told_points``); whether they fit the study's space is checked
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
        "yi": [read_number(y, f"{where}.yi") for y in ys],
        "told_before": before,
    }
    if "weights" in raw:  # a study of several metrics: the ask's ParEGO weights, told losses
        facts.update(_weights_and_losses(raw, where))
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
            str(k)[:40]: read_number(v, f"{where}.acq_func_kwargs") for k, v in options.items()
        },
    )
    if "kernel_theta" in raw:
        theta = raw["kernel_theta"]
        if not isinstance(theta, list) or not 0 < len(theta) <= 200:
            raise RecordingError(f"{where}.kernel_theta: a list of at most 200 numbers.")
        facts["kernel_theta"] = [read_number(v, f"{where}.kernel_theta") for v in theta]
        facts["noise"] = read_number(raw.get("noise"), f"{where}.noise", allow_none=True)
    return facts


def _weights_and_losses(raw: dict[str, Any], where: str) -> dict[str, Any]:
    """A multi-metric ask's weights (one per metric) and the losses told before it (one per
    metric each; written whole, not shared with the ask before, as the scalarised ``yi`` are
    redrawn each ask)."""
    weights, losses = raw["weights"], raw.get("losses", [])
    if not isinstance(weights, list) or not 0 < len(weights) <= MAX_METRICS:
        raise RecordingError(f"{where}.weights: a list of 1 to {MAX_METRICS} numbers.")
    if not isinstance(losses, list) or len(losses) > 2 * MAX_TRIALS:
        raise RecordingError(f"{where}.losses: a list of at most {2 * MAX_TRIALS} told losses.")
    for row in losses:
        if not isinstance(row, list) or len(row) != len(weights):
            raise RecordingError(
                f"{where}.losses: each must list {len(weights)} numbers, one a metric."
            )
    return {
        "weights": [read_number(w, f"{where}.weights") for w in weights],
        "losses": [[read_number(v, f"{where}.losses") for v in row] for row in losses],
    }


def with_told_points(trials: tuple[RecordedTrial, ...], where: str) -> tuple[RecordedTrial, ...]:
    """Each ask's whole told points again: the previous ask's first ``told_before`` ones,
    then its own (undoing ``share_told_points``)."""
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
