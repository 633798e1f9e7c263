"""Time left, fitted to the study's own timed epochs (Live), and what New study's a-priori
estimate assumes.

New study can only guess from the data and model sizes on an idle 2-core CPU; a loaded machine
ran 2-3x slower than that guess. Once a trial has finished, Live knows better: each finished
trial's duration against its epochs gives the seconds an epoch takes here and now (and a
trial's fixed set-up cost), whatever else the machine is doing, and the rest of the budget is
priced at that rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tuning_core.engine.errors import SpecError
from tuning_core.engine.pruners import expected_epoch_fraction
from tuning_core.engine.spec import StudySpec, parse_spec
from tuning_core.engine.states import TrialState

FINISHED = (TrialState.COMPLETE.value, TrialState.PRUNED.value)
# Below this many finished trials a pruned study's epochs a trial come from the pruner's plan
# rather than from the trials seen (the first ones are rarely cut).
OBSERVED_AFTER = 3


@dataclass(frozen=True)
class Eta:
    """Seconds left, and the rates they were priced at."""

    seconds: float
    per_epoch: float  # seconds an epoch takes on this machine now
    per_trial: float  # a trial's set-up (building the model, the first batch's tracing)
    epochs_per_trial: float

    def basis(self) -> str:
        """What the figure rests on, for the page."""
        setup = f" + {self.per_trial:.2g} s a trial" if self.per_trial >= 0.05 else ""
        return f"fitted: {self.per_epoch:.2g} s an epoch{setup} here, so far"


def fit_rates(durations: np.ndarray, epochs: np.ndarray) -> tuple[float, float]:
    """(seconds an epoch, seconds a trial's set-up) from finished trials' durations and epochs:
    least squares on duration = set-up + epochs x per-epoch when the trials trained different
    numbers of epochs (a pruned study), else the plain ratio with no set-up."""
    if len(set(epochs.tolist())) >= 2:
        slope, intercept = np.polyfit(epochs.astype(float), durations.astype(float), 1)
        if slope > 0 and intercept >= 0:
            return float(slope), float(intercept)
    return float(durations.sum() / max(epochs.sum(), 1)), 0.0


def fitted_eta(
    spec: StudySpec, trials: pd.DataFrame, epochs_done: pd.Series, budget_trials: int
) -> Eta | None:
    """Seconds until the trial budget is spent, priced at this study's own epochs; None until a
    trial with epochs has finished.

    ``trials`` is :func:`frames.trials_frame` (running trials' duration_s counts up to now),
    ``epochs_done`` whole epochs per trial number (:func:`frames.epochs_by_trial`).
    """
    if trials.empty:
        return None
    epochs = trials["number"].map(epochs_done).fillna(0).astype(float)
    finished = trials["state"].isin(FINISHED) & trials["duration_s"].notna() & (epochs > 0)
    if not finished.any():
        return None
    per_epoch, per_trial = fit_rates(
        trials.loc[finished, "duration_s"].to_numpy(), epochs[finished].to_numpy()
    )
    planned = _planned_epochs(spec)
    if planned is None or (spec.pruner.enabled and finished.sum() >= OBSERVED_AFTER):
        epochs_per_trial = float(epochs[finished].mean())
    else:
        epochs_per_trial = planned
    whole_trial = per_trial + per_epoch * epochs_per_trial
    running = trials["state"] == TrialState.RUNNING.value
    in_flight = sum(
        max(whole_trial - float(elapsed or 0.0), per_epoch * max(epochs_per_trial - done, 0))
        for elapsed, done in zip(trials.loc[running, "duration_s"], epochs[running], strict=True)
    )
    spent = [state.value for state in TrialState if state.counts_against_budget()]
    done = int(trials["state"].isin(spent).sum())
    left = max(budget_trials - done - int(running.sum()), 0)
    work = in_flight + left * whole_trial
    # N trials at once share the work N ways (at best: on one machine they share its cores,
    # which the fitted rate, measured while they ran together, already reflects).
    at_once = max(1, min(spec.parallel, left + int(running.sum())))
    return Eta(work / at_once, per_epoch, per_trial, epochs_per_trial)


def _planned_epochs(spec: StudySpec) -> float | None:
    """Epochs a trial is expected to train, from the spec (a pruner trains a share of them)."""
    epochs = spec.objective.epochs
    if epochs <= 0:
        return None
    if not spec.pruner.enabled:
        return float(epochs)
    return float(spec.pruner.max_epochs or epochs) * expected_epoch_fraction(spec.pruner)


def estimate_assumptions(raw: dict[str, Any]) -> str | None:
    """What New study's run-time estimate assumes, in one sentence; None for a spec that does
    not parse yet (the form says why)."""
    try:
        spec = parse_spec(raw)
    except SpecError:
        return None
    epochs = _planned_epochs(spec)
    trials = spec.planned_trials
    parts = [f"{trials} trial{'s' if trials != 1 else ''}"]
    if epochs is not None:
        if not spec.pruner.enabled:
            parts.append(f"{math.ceil(epochs)} epochs each")
        else:
            parts.append(f"{epochs:.3g} epochs each (the share a pruner is expected to keep)")
    if spec.parallel > 1:
        parts.append(f"{spec.parallel} at a time")
    return (
        "The estimate assumes " + ", ".join(parts) + " on an idle 2-core CPU, from the data and "
        "model sizes alone: another job on the machine makes it run longer. After the first trial "
        "Live gives a time left fitted to this study's own epochs."
    )
