"""Seed a real store with a Keras-like study: complete, diverged and running trials with curves."""

from __future__ import annotations

import math
import os
from pathlib import Path

from tuning_core.engine.spec import parse_spec
from tuning_core.engine.states import StudyStatus, TrialState
from tuning_core.engine.storage import Store

SEEDED_SPEC = {
    "name": "seeded",
    "objective": {"type": "keras", "dataset": "digits", "model": "mlp", "epochs": 5},
    "space": {
        "learning_rate": {"type": "float", "low": 0.0001, "high": 10.0, "log": True},
        "units": {"type": "int", "low": 32, "high": 512, "log": True},
        "optimizer": {"type": "choice", "values": ["sgd", "adam"]},
    },
    "strategy": {"type": "bayesian", "initial_points": 3, "seed": 0},
    "budget": {"trials": 12},
}


def seed_store(
    path: Path,
    complete: int = 9,
    epochs: int = 5,
    running: bool = True,
    worker_pid: int | None = None,
    name: str = "seeded",
) -> None:
    """``complete`` finished trials whose score peaks near lr 0.01, one diverged, one running:
    the study ``name`` (SEEDED_SPEC's, renamed).

    A running study is owned by ``worker_pid``, by default this (live) test process.
    """
    spec = parse_spec({**SEEDED_SPEC, "name": name})
    with Store(path) as store:
        study_id = store.create_study(spec)
        owner = (worker_pid or os.getpid()) if running else None
        store.set_status(
            study_id, StudyStatus.RUNNING if running else StudyStatus.FINISHED, worker_pid=owner
        )
        number = 0
        for index in range(complete):
            learning_rate = 10 ** (-4 + 4 * index / max(complete - 1, 1))
            score = 0.95 - 0.08 * (math.log10(learning_rate) + 2) ** 2
            params = {
                "learning_rate": learning_rate,
                "units": 32 * 2 ** (index % 4),
                "optimizer": "sgd" if index % 2 else "adam",
            }
            trial_id = store.start_trial(study_id, number, params)
            for epoch in range(epochs):
                progress = (epoch + 1) / epochs
                store.add_epoch_metrics(
                    trial_id,
                    epoch,
                    {
                        "loss": 2.3 - 2.0 * score * progress,
                        "accuracy": score * progress,
                        "val_loss": 2.3 - 1.9 * score * progress,
                        "val_accuracy": score * progress,
                    },
                )
            store.finish_trial(trial_id, TrialState.COMPLETE, score)
            number += 1
        diverged = store.start_trial(
            study_id, number, {"learning_rate": 8.0, "units": 64, "optimizer": "sgd"}
        )
        store.add_epoch_metrics(
            diverged, 0, {"loss": 60.0, "accuracy": 0.1, "val_loss": 80.0, "val_accuracy": 0.1}
        )
        store.finish_trial(
            diverged, TrialState.DIVERGED, error="diverged at epoch 0: the loss exploded to 60"
        )
        number += 1
        if running:
            current = store.start_trial(
                study_id, number, {"learning_rate": 0.02, "units": 128, "optimizer": "adam"}
            )
            store.add_epoch_metrics(
                current, 0, {"loss": 1.0, "accuracy": 0.7, "val_loss": 1.1, "val_accuracy": 0.68}
            )
            for step in range(1, 6):
                store.add_batch_loss(current, 1 + step / 5, 1.0 - 0.05 * step)
