"""Questions asked of stored studies: the best trial, a worker's liveness, whether a spec can
start, and one summary row per study. The CLI, the study loop and the dashboard all ask here."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import psutil

from tuning_core.engine.pareto import front_indices
from tuning_core.engine.spec import StudySpec
from tuning_core.engine.spec_parts import MetricGoal
from tuning_core.engine.states import Direction, StudyStatus, TrialState
from tuning_core.engine.storage import Store, StudyRecord, TrialRecord, TrialWorker

# The timeline's lane for trials that ran in the study's own process (parallel 1, no Dask).
IN_PROCESS_LANE = "in process"


def best_trial(trials: list[TrialRecord], direction: Direction) -> TrialRecord | None:
    """The complete trial with the best value, or None."""
    best: TrialRecord | None = None
    for trial in trials:
        if trial.state != TrialState.COMPLETE or trial.value is None:
            continue
        if best is None or direction.better(trial.value, best.value):  # type: ignore[arg-type]
            best = trial
    return best


def front_trials(trials: list[TrialRecord], metrics: Sequence[MetricGoal]) -> list[TrialRecord]:
    """The Pareto front of a study of several ``metrics``: the complete trials with a finite
    value of each that no other such trial dominates (identical ones all stay), by number.

    :func:`study_best` picks the default one among them: the best on the first metric.
    """
    measured = [
        trial
        for trial in trials
        if trial.state == TrialState.COMPLETE
        and all(math.isfinite(trial.values.get(goal.name, math.nan)) for goal in metrics)
    ]
    points = [[trial.values[goal.name] for goal in metrics] for trial in measured]
    if not points:
        return []
    chosen = front_indices(points, [goal.direction for goal in metrics])
    return sorted((measured[i] for i in chosen), key=lambda trial: trial.number)


def study_best(trials: list[TrialRecord], spec: StudySpec) -> TrialRecord | None:
    """The study's best trial, the default wherever one must be chosen (the best model, the
    export, ``best_params``): the best complete trial on the first metric; with several
    metrics, the best on the first metric among the front, so a tie on it goes to the trial
    the other metrics do not dominate (the best on the first metric is always on the front)."""
    if spec.multi_metric:
        front = front_trials(trials, spec.metrics)
        if front:
            return best_trial(front, spec.direction)
    return best_trial(trials, spec.direction)


def process_alive(pid: int | None) -> bool:
    """Whether process ``pid`` exists and has not exited (a zombie child has exited)."""
    if not pid:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # another user's process: it exists
        return True


def worker_running(study: StudyRecord) -> bool:
    """Whether a live worker is running the study (a killed one leaves status "running")."""
    return study.status == StudyStatus.RUNNING and process_alive(study.worker_pid)


def has_results(store: Store, study: StudyRecord) -> bool:
    """Whether any trial of the study finished (interrupted attempts do not count)."""
    return any(trial.state.counts_against_budget() for trial in store.trials(study.id))


def start_conflict(store: Store, spec: StudySpec) -> str | None:
    """Why ``spec`` cannot be started now, in one sentence, or None.

    A study with the same name but another objective, space or strategy is refused once it
    has results, so a typo never mixes two searches in one history (a study whose start
    crashed before any trial finished may be corrected under its name); so is a study that
    another live worker is running. The CLI and the New-study form both ask this.
    """
    existing = store.get_study(spec.name)
    if existing is None:
        return None
    if existing.spec.search_identity() != spec.search_identity() and has_results(store, existing):
        if existing.spec.metrics != spec.metrics:
            return (
                f"objective: the study {spec.name!r} optimises {_goals(existing.spec.metrics)}, "
                f"not {_goals(spec.metrics)}; give the same metrics to resume it (nothing "
                "stored is changed), or give this spec another name."
            )
        return (
            f"name: a study called {spec.name!r} already exists with a different objective, "
            "space or strategy; give this spec another name."
        )
    if worker_running(existing) and existing.worker_pid != os.getpid():
        return (
            f"name: the study {spec.name!r} is already running in worker process "
            f"{existing.worker_pid}; stop it first."
        )
    return None


def _goals(goals: Sequence[MetricGoal]) -> str:
    """Metrics in words: "val_accuracy (maximize) and train_seconds (minimize)"."""
    words = [f"{goal.name} ({goal.direction.value})" for goal in goals]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


@dataclass(frozen=True)
class StudySummary:
    """One line of ``list`` and one row of the Studies page."""

    name: str
    status: StudyStatus
    done: int
    budget: int
    best_value: float | None
    metric: str
    direction: Direction
    strategy: str
    created_at: float
    message: str | None
    pruner: str = "none"
    pruned: int = 0
    # A study of several metrics: all of them (the first is ``metric``) and its front's size.
    metrics: tuple[str, ...] = ()
    front: int = 0


def study_summaries(store: Store) -> list[StudySummary]:
    """A summary of every study; a dead worker's study reads as stopped, not running."""
    summaries = []
    for study in store.studies():
        trials = store.trials(study.id)
        spec = study.spec
        best = study_best(trials, spec)
        status = study.status
        if status == StudyStatus.RUNNING and not worker_running(study):
            status = StudyStatus.STOPPED
        summaries.append(
            StudySummary(
                name=study.name,
                status=status,
                done=sum(trial.state.counts_against_budget() for trial in trials),
                budget=study.spec.planned_trials,  # a grid of fewer points ends with them
                best_value=None if best is None else best.value,
                metric=study.spec.metric,
                direction=study.spec.direction,
                strategy=study.spec.strategy.type,
                created_at=study.created_at,
                message=study.message,
                pruner=study.spec.pruner.type,
                pruned=sum(trial.state == TrialState.PRUNED for trial in trials),
                metrics=tuple(goal.name for goal in spec.metrics),
                front=len(front_trials(trials, spec.metrics)) if spec.multi_metric else 0,
            )
        )
    return summaries


@dataclass(frozen=True)
class TimelineBar:
    """One trial on the worker timeline: a bar in its worker's lane, coloured by state.

    ``finished_at`` is None while the trial runs; a chart draws it up to now.
    """

    number: int
    worker: str
    started_at: float
    finished_at: float | None
    state: TrialState


def worker_timeline(
    trials: list[TrialRecord], workers: dict[int, TrialWorker]
) -> list[TimelineBar]:
    """The bars of a timeline with one lane per worker (``Store.trial_workers`` gives
    ``workers``), ordered by start; trials that ran in the study's own process share the lane
    :data:`IN_PROCESS_LANE`. A trial starts when its worker began it, not when it was queued.
    """
    bars = []
    for trial in trials:
        ran_on = workers.get(trial.number)
        started = ran_on.started_at if ran_on is not None else trial.started_at
        if started is None:
            continue
        bars.append(
            TimelineBar(
                number=trial.number,
                worker=ran_on.worker if ran_on is not None else IN_PROCESS_LANE,
                started_at=started,
                finished_at=trial.finished_at,
                state=trial.state,
            )
        )
    return sorted(bars, key=lambda bar: (bar.started_at, bar.number))
