"""The study loop: ask -> run the trial -> tell, with budgets, stop requests and resume.

Resuming replays the stored trials through a fresh strategy in their original order (asking
before each told trial, exactly as the first run did), so a study that was interrupted or
recycled proposes the same params as one that never stopped. Trials that a dead worker left
running become ``interrupted`` and are retried first, with the params they had.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tuning_core.engine.errors import DatasetError, SpecError
from tuning_core.engine.objectives import Objective, TrialDiverged, TrialOutcome, TrialStopped
from tuning_core.engine.space import SearchSpace
from tuning_core.engine.spec import StudySpec, parse_spec
from tuning_core.engine.storage import Store, StudyRecord, StudyStatus, TrialRecord, TrialState
from tuning_core.engine.strategies import Strategy, make_strategy

STOP_POLL_SECONDS = 0.5


def process_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours has exited; treat it as dead.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


class StoreReporter:
    """Writes a trial's metrics straight through to the store and relays stop requests."""

    def __init__(self, store: Store, study_id: int, trial_id: int, deadline: float | None) -> None:
        self.store = store
        self.study_id = study_id
        self.trial_id = trial_id
        self.deadline = deadline
        self.stop_reason: str | None = None
        self._last_poll = 0.0

    def report(self, epoch: int, metrics: dict[str, float]) -> None:
        self.store.add_epoch_metrics(self.trial_id, epoch, metrics)

    def report_batch(self, progress: float, loss: float) -> None:
        self.store.add_batch_loss(self.trial_id, progress, loss)

    def should_stop(self) -> bool:
        now = time.monotonic()
        if self.stop_reason is None and now - self._last_poll >= STOP_POLL_SECONDS:
            self._last_poll = now
            if self.store.stop_requested(self.study_id):
                self.stop_reason = "stopped on request"
            elif self.deadline is not None and time.time() >= self.deadline:
                self.stop_reason = "the time budget ran out"
        return self.stop_reason is not None


@dataclass
class _Teller:
    """Tells the strategy each finished trial; failures become a finite penalty.

    A failed or diverged trial is told as the worst loss seen so far, never NaN or inf, so the
    surrogate stays well-defined. Failures before any finite loss wait until one arrives.
    """

    strategy: Strategy
    space: SearchSpace
    direction: str
    worst_loss: float | None = None
    waiting_penalties: list[dict[str, Any]] = field(default_factory=list)

    def tuned(self, params: dict[str, Any]) -> dict[str, Any]:
        return {name: params[name] for name in self.space.names}

    def tell(self, params: dict[str, Any], state: TrialState, value: float | None) -> None:
        if state == TrialState.COMPLETE and value is not None and math.isfinite(value):
            loss = value if self.direction == "minimize" else -value
            self.strategy.tell(self.tuned(params), loss)
            self.worst_loss = loss if self.worst_loss is None else max(self.worst_loss, loss)
            for waiting in self.waiting_penalties:
                self.strategy.tell(self.tuned(waiting), self.worst_loss)
            self.waiting_penalties.clear()
        elif self.worst_loss is None:
            self.waiting_penalties.append(params)
        else:
            self.strategy.tell(self.tuned(params), self.worst_loss)


@dataclass
class StudyRun:
    """What one call of :func:`run_study` did."""

    study_id: int
    status: StudyStatus
    message: str
    trials_run: int = 0
    recycle: bool = False


def better(a: float, b: float, direction: str) -> bool:
    return a > b if direction == "maximize" else a < b


def best_trial(trials: list[TrialRecord], direction: str) -> TrialRecord | None:
    """The complete trial with the best value, or None."""
    best: TrialRecord | None = None
    for trial in trials:
        if trial.state == TrialState.COMPLETE and trial.value is not None:
            if best is None or better(trial.value, best.value, direction):  # type: ignore[arg-type]
                best = trial
    return best


def counts_against_budget(trial: TrialRecord) -> bool:
    return trial.state.is_finished() and trial.state != TrialState.INTERRUPTED


def worker_running(study: StudyRecord) -> bool:
    """Whether a live worker is running the study (a killed one leaves status "running")."""
    return study.status == StudyStatus.RUNNING.value and process_alive(study.worker_pid)


def start_conflict(store: Store, spec: StudySpec) -> str | None:
    """Why ``spec`` cannot be started now, in one sentence, or None.

    A study with the same name but another objective, space or strategy is refused, so one
    spec never makes two studies and a typo never mixes two searches in one history; so is a
    study that another live worker is running. The CLI and the New-study form both ask this.
    """
    existing = store.get_study(spec.name)
    if existing is None:
        return None
    if parse_spec(existing.spec).search_identity() != spec.search_identity():
        return (
            f"name: a study called {spec.name!r} already exists with a different objective, space or strategy; "
            "give this spec another name."
        )
    if worker_running(existing) and existing.worker_pid != os.getpid():
        return f"name: the study {spec.name!r} is already running in worker process {existing.worker_pid}; stop it first."
    return None


def open_study(store: Store, spec: StudySpec) -> int:
    """Create the study, or find the existing one with the same name; returns its id."""
    conflict = start_conflict(store, spec)
    if conflict:
        raise SpecError(conflict)
    existing = store.get_study(spec.name)
    if existing is None:
        return store.create_study(spec.name, spec.to_json())
    if parse_spec(existing.spec).budget != spec.budget:
        store.update_spec(existing.id, spec.to_json())
    return existing.id


def study_summaries(store: Store) -> list[dict[str, Any]]:
    """One dict per study: name, status, done, budget, best_value, metric, direction."""
    rows = []
    for study in store.studies():
        trials = store.trials(study.id)
        objective = study.spec["objective"]
        best = best_trial(trials, objective["direction"])
        rows.append(
            {
                "name": study.name,
                "status": study.status,
                "done": sum(counts_against_budget(t) for t in trials),
                "budget": study.spec["budget"]["trials"],
                "best_value": None if best is None else best.value,
                "metric": objective["metric"],
                "direction": objective["direction"],
                "strategy": study.spec["strategy"]["type"],
                "created_at": study.created_at,
                "message": study.message,
            }
        )
    return rows


def _format_params(params: dict[str, Any], names: list[str]) -> str:
    def fmt(value: Any) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    return ", ".join(f"{name}={fmt(params[name])}" for name in names if name in params)


def run_study(
    spec: StudySpec,
    store: Store,
    objective: Objective,
    log: Callable[[str], None] = print,
    max_trials_this_process: int | None = None,
) -> StudyRun:
    """Run or resume ``spec`` until its budget is spent, a stop is requested, or the grid ends.

    With ``max_trials_this_process`` the call returns early with ``recycle=True`` so that the
    caller can start a fresh process (Keras leaks memory per fit) that resumes the study.
    """
    study_id = open_study(store, spec)
    interrupted = store.interrupt_running_trials(
        study_id, "the worker stopped before the trial finished"
    )
    if interrupted:
        log(
            f"{interrupted} trial(s) left running by a stopped worker are now interrupted and will be retried"
        )
    store.clear_stop(study_id)
    store.set_status(study_id, StudyStatus.RUNNING, worker_pid=os.getpid())

    strategy = make_strategy(spec.space, spec.strategy)
    teller = _Teller(strategy, spec.space, spec.direction)
    history = store.trials(study_id)
    retry_queue: list[TrialRecord] = []
    exhausted = False
    for trial in history:
        retried = trial.retry_of is not None
        if not retried and strategy.ask() is None:
            exhausted = True
        if trial.state == TrialState.INTERRUPTED:
            retry_queue.append(trial)
        elif trial.state.is_finished():
            teller.tell(trial.params, trial.state, trial.value)
        if retried:
            retry_queue = [t for t in retry_queue if t.number != trial.retry_of]

    names = spec.space.all_names()
    budget_trials = int(spec.budget["trials"])
    budget_seconds = spec.budget.get("seconds")
    seconds_spent_before = sum(t.duration_s or 0.0 for t in history if t.state.is_finished())
    run_started = time.time()
    deadline = run_started + budget_seconds - seconds_spent_before if budget_seconds else None
    best = best_trial(history, spec.direction)
    next_number = (history[-1].number + 1) if history else 0
    done = sum(counts_against_budget(t) for t in history)
    trials_run = 0
    status, message = StudyStatus.FINISHED, "the trial budget is spent"

    while True:
        if done >= budget_trials:
            break
        if deadline is not None and time.time() >= deadline:
            message = "the time budget is spent"
            break
        if store.stop_requested(study_id):
            status, message = StudyStatus.STOPPED, "stopped on request"
            break
        if max_trials_this_process is not None and trials_run >= max_trials_this_process:
            return StudyRun(
                study_id,
                StudyStatus.RUNNING,
                "recycling the worker process",
                trials_run,
                recycle=True,
            )
        retry_of: int | None = None
        if retry_queue:
            retried_trial = retry_queue.pop(0)
            params, retry_of = dict(retried_trial.params), retried_trial.number
        else:
            tuned = None if exhausted else strategy.ask()
            if tuned is None:
                message = "every grid point has been tried"
                break
            params = spec.space.full_params(tuned)
        trial_id = store.start_trial(study_id, next_number, params, retry_of=retry_of)
        reporter = StoreReporter(store, study_id, trial_id, deadline)
        started = time.time()
        state, value, error, note = TrialState.COMPLETE, None, None, None
        try:
            outcome: TrialOutcome = objective(params, reporter)
            value, note = outcome.value, outcome.note
            if value is None or not math.isfinite(value):
                state, error = TrialState.DIVERGED, f"the objective returned {value}"
        except TrialDiverged as diverged:
            state, error = TrialState.DIVERGED, f"diverged at epoch {diverged.epoch}: {diverged}"
        except TrialStopped as stopped:
            state, error = TrialState.INTERRUPTED, reporter.stop_reason or str(stopped) or "stopped"
        except DatasetError as error:
            # The data cannot be loaded, so no trial can run: stop the study with that sentence.
            # The trial is interrupted, not failed: once the data is there, a re-run retries it.
            store.finish_trial(trial_id, TrialState.INTERRUPTED, error=str(error))
            store.set_status(study_id, StudyStatus.FAILED, message=str(error))
            raise
        except KeyboardInterrupt:
            store.finish_trial(trial_id, TrialState.INTERRUPTED, error="the worker was interrupted")
            store.set_status(study_id, StudyStatus.STOPPED, message="the worker was interrupted")
            raise
        except Exception as exc:  # noqa: BLE001 - any training error fails the trial, not the search
            state, error = TrialState.FAILED, f"{type(exc).__name__}: {exc}".strip()
        store.finish_trial(
            trial_id, state, value if state == TrialState.COMPLETE else None, error, note
        )
        trials_run += 1
        next_number += 1
        if state == TrialState.INTERRUPTED:
            retry_queue.insert(
                0,
                TrialRecord(
                    trial_id,
                    next_number - 1,
                    params,
                    state,
                    None,
                    error,
                    None,
                    retry_of,
                    None,
                    None,
                ),
            )
            continue
        done += 1
        teller.tell(params, state, value)
        if (
            state == TrialState.COMPLETE
            and value is not None
            and (best is None or better(value, best.value, spec.direction))
        ):  # type: ignore[arg-type]
            best = TrialRecord(
                trial_id,
                next_number - 1,
                params,
                state,
                value,
                None,
                note,
                retry_of,
                started,
                time.time(),
            )
        shown = (
            f"{value:.6g}" if state == TrialState.COMPLETE and value is not None else state.value
        )
        best_text = (
            f"{best.value:.6g} (trial {best.number})"
            if best and best.value is not None
            else "none yet"
        )
        log(
            f"trial {next_number - 1} [{done}/{budget_trials}] {state.value}: {spec.metric}={shown}  "
            f"best={best_text}  {_format_params(params, names)}  ({time.time() - started:.1f} s)"
            + (f"  note: {note}" if note else "")
            + (f"  error: {error}" if error and state != TrialState.COMPLETE else "")
        )

    store.set_status(study_id, status, worker_pid=None, message=message)
    return StudyRun(study_id, status, message, trials_run)
