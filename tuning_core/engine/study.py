"""The study loop: ask -> run the trial -> tell, with budgets, stop requests and resume.

:func:`run_study` is three parts, as Optuna splits ``_optimize``, ``_run_trial`` and its
logging: :func:`_replay` rebuilds the strategy from the stored history, :func:`_run_trial`
runs and records one trial, and :func:`_progress_line` says what happened.

Resuming replays the stored trials through a fresh strategy in their original order (asking
before each told trial, exactly as the first run did), so a study that was interrupted or
recycled proposes the same params as one that never stopped. Trials that a dead worker left
running become ``interrupted`` and are retried first, with the params they had.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tuning_core.engine.errors import DatasetError, SpecError, StoreError, StoreGoneError
from tuning_core.engine.objectives import (
    Objective,
    Reporter,
    TrialDiverged,
    TrialPruned,
    TrialStopped,
)
from tuning_core.engine.pruners import PruneDecision, StudyPruning, pruner_for
from tuning_core.engine.records import best_trial, front_trials, start_conflict
from tuning_core.engine.snapshots import SnapshotError
from tuning_core.engine.space import SearchSpace
from tuning_core.engine.spec import StudySpec
from tuning_core.engine.spec_parts import MetricGoal
from tuning_core.engine.states import Direction, StudyStatus, TrialState
from tuning_core.engine.storage import Store, TrialRecord
from tuning_core.engine.strategies import SnapshotStrategy, Strategy, make_strategy
from tuning_core.engine.user_objectives import (
    FAILURE_REPEATS,
    ObjectiveError,
    exception_line,
    first_trials_all_fail,
)

STOP_POLL_SECONDS = 0.5
# How long a trial in this process holds its in-epoch losses before writing them: one
# transaction each half second, not one per point (~0.2 ms each, 2% of a small model's trial).
BATCH_FLUSH_SECONDS = 0.5


class StoreReporter:
    """Writes a trial's metrics through to the store, relays stop requests, and asks the
    study's pruner after each epoch.

    Epoch rows are written at once. In-epoch losses are held for up to ``flush_seconds``
    (0: written at once) and always written before the next epoch row and by
    :meth:`flush`, which the trial's owner calls when the trial ends.
    """

    def __init__(
        self,
        store: Store,
        study_id: int,
        trial_id: int,
        deadline: float | None,
        spec: StudySpec | None = None,
        trial_number: int | None = None,
        flush_seconds: float = 0.0,
    ) -> None:
        self.store = store
        self.flush_seconds = flush_seconds
        self._held_batches: list[tuple[float, float]] = []
        self._last_flush = time.monotonic()
        self.study_id = study_id
        self.trial_id = trial_id
        self.deadline = deadline
        self.spec = spec
        self.trial_number = trial_number
        self.stop_reason: str | None = None
        self.prune_decision: PruneDecision | None = None
        self._pruning: StudyPruning | None = None
        self._last_poll = 0.0

    def report(self, epoch: int, metrics: dict[str, float]) -> None:
        self.flush()
        self.store.add_epoch_metrics(self.trial_id, epoch, metrics)

    def report_batch(self, progress: float, loss: float) -> None:
        self._held_batches.append((progress, loss))
        if time.monotonic() - self._last_flush >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        """Write the in-epoch losses held so far."""
        self._last_flush = time.monotonic()
        if self._held_batches:
            points, self._held_batches = self._held_batches, []
            self.store.add_batch_losses(self.trial_id, points)

    def should_prune(self, epoch: int) -> bool:
        """Whether the pruner stops this trial after ``epoch``, from the finished epochs in the
        store (so a resumed or parallel study decides the same way)."""
        if self.spec is None or self.trial_number is None:
            return False
        if self._pruning is None:
            pruner = pruner_for(self.spec.pruner)
            self._pruning = StudyPruning(
                pruner, self.spec.direction, self.study_id, self.spec.metric
            )
        self.prune_decision = self._pruning.decide(self.store, self.trial_number, epoch)
        return self.prune_decision is not None

    def should_stop(self) -> bool:
        now = time.monotonic()
        if self.stop_reason is None and now - self._last_poll >= STOP_POLL_SECONDS:
            self._last_poll = now
            if self.store.stop_requested(self.study_id):
                self.stop_reason = "stopped on request"
            elif self.deadline is not None and time.time() >= self.deadline:
                self.stop_reason = "the time budget ran out"
        return self.stop_reason is not None


Loss = float | tuple[float, ...]


def _worse(a: Loss, b: Loss) -> Loss:
    """The worse of two losses; for several metrics, the worse of each component."""
    if isinstance(a, tuple) and isinstance(b, tuple):
        return tuple(max(x, y) for x, y in zip(a, b, strict=True))
    return max(a, b)  # type: ignore[type-var]


@dataclass
class _Teller:
    """Tells the strategy each finished trial; failures become a finite penalty.

    A failed or diverged trial is told as the worst loss seen so far (over complete and pruned
    trials), never NaN or inf, so the surrogate stays well-defined. Failures before any finite
    loss wait until one arrives. A pruned trial is told its value when it stopped
    (``pruned_told`` "last") or, like a failure, the worst loss ("worst");
    benchmarks/pruned_told.py compares the two.

    With several ``goals`` (a study of several metrics) the loss told is a tuple, one
    component per metric in the spec's order (minimised metrics as they are, maximised ones
    negated), read from the trial's ``values``; a failure, or a trial missing a finite value
    of one of them, is told the worst of each component seen so far, with the same waiting
    rule. One metric tells a float, exactly as before.
    """

    strategy: Strategy
    space: SearchSpace
    direction: Direction
    pruned_told: str = "last"
    worst_loss: Loss | None = None
    waiting_penalties: list[dict[str, Any]] = field(default_factory=list)
    goals: tuple[MetricGoal, ...] = ()

    def tuned(self, params: dict[str, Any]) -> dict[str, Any]:
        return {name: params[name] for name in self.space.names}

    def _loss(
        self, state: TrialState, value: float | None, values: Mapping[str, float] | None
    ) -> Loss | None:
        """What a complete or pruned trial is told, or None when it has no finite loss."""
        if state not in (TrialState.PRUNED, TrialState.COMPLETE):
            return None
        if len(self.goals) <= 1:
            finite = value is not None and math.isfinite(value)
            return self.direction.sign * value if finite else None  # type: ignore[operator]
        numbers = [(values or {}).get(goal.name) for goal in self.goals]
        if any(number is None or not math.isfinite(number) for number in numbers):
            return None
        return tuple(
            goal.direction.sign * number  # type: ignore[operator]
            for goal, number in zip(self.goals, numbers, strict=True)
        )

    def tell(
        self,
        params: dict[str, Any],
        state: TrialState,
        value: float | None,
        record_only: bool = False,
        values: Mapping[str, float] | None = None,
    ) -> None:
        """Tell the strategy; ``record_only`` keeps the bookkeeping (worst loss, penalties
        waiting for one) for a trial a restored snapshot has already told. ``values`` (every
        metric by name) is read only for a study of several metrics."""
        tell = (lambda *_, **__: None) if record_only else self.strategy.tell
        loss = self._loss(state, value, values)
        if loss is not None:
            # A pruned trial's value is a real (partial) observation too: it joins the worst
            # loss, so a failure is never told a better score than a trial that was cut.
            self.worst_loss = loss if self.worst_loss is None else _worse(self.worst_loss, loss)
            told_worst = state == TrialState.PRUNED and self.pruned_told == "worst"
            tell(self.tuned(params), self.worst_loss if told_worst else loss)
            for waiting in self.waiting_penalties:
                tell(self.tuned(waiting), self.worst_loss, failed=True)
            self.waiting_penalties.clear()
        elif self.worst_loss is None:
            self.waiting_penalties.append(params)
        else:
            tell(self.tuned(params), self.worst_loss, failed=True)


@dataclass
class StudyRun:
    """What one call of :func:`run_study` did."""

    study_id: int
    status: StudyStatus
    message: str
    trials_run: int = 0
    recycle: bool = False


def open_study(store: Store, spec: StudySpec) -> int:
    """Create the study, or find the existing one with the same name; returns its id."""
    conflict = start_conflict(store, spec)
    if conflict:
        raise SpecError(conflict)
    existing = store.get_study(spec.name)
    if existing is None:
        return store.create_study(spec)
    if existing.spec.search_identity() != spec.search_identity():
        store.restart_study(existing.id, spec)  # start_conflict allowed it: no results yet
    elif existing.spec.to_json() != spec.to_json():  # a new budget, or a new parallel count
        store.update_spec(existing.id, spec)
    return existing.id


@dataclass
class _Replay:
    """What the stored history left to do: trials to retry, and whether the grid is spent."""

    retry_queue: list[TrialRecord]
    exhausted: bool
    restored_at: int | None = None  # the trial told just before the restored snapshot
    snapshot_refused: str | None = None  # why a stored snapshot was not used


def _replay(
    history: list[TrialRecord],
    strategy: Strategy,
    teller: _Teller,
    snapshot: tuple[int, bytes] | None = None,
) -> _Replay:
    """Feed the stored trials to a fresh strategy, asking before each as the first run did.

    With a ``snapshot`` taken once the strategy had been told one of those trials, the
    strategy starts from it instead: that trial and those before it only update the
    bookkeeping, so a resume refits no surrogate for them. A snapshot that cannot be used is
    ignored.
    """
    restored, restored_at, refused = -1, None, None
    if snapshot is not None and isinstance(strategy, SnapshotStrategy):
        number, blob = snapshot
        position = next((i for i, t in enumerate(history) if t.number == number), None)
        if position is not None:
            try:
                strategy.restore(blob)
                restored, restored_at = position, number
            except SnapshotError as error:
                refused = str(error)
    retry_queue: list[TrialRecord] = []
    exhausted = False
    for position, trial in enumerate(history):
        retried = trial.retry_of is not None
        if position > restored and not retried and strategy.ask() is None:
            exhausted = True
        if trial.state == TrialState.INTERRUPTED:
            retry_queue.append(trial)
        elif trial.state.is_finished():
            teller.tell(
                trial.params,
                trial.state,
                trial.value,
                record_only=position <= restored,
                values=trial.values,
            )
        if retried:
            retry_queue = [t for t in retry_queue if t.number != trial.retry_of]
    return _Replay(retry_queue, exhausted, restored_at, refused)


@dataclass
class TrialEnd:
    """How a trial ended, before it is recorded: the same for a trial run here or on Dask."""

    state: TrialState
    value: float | None = None
    error: str | None = None
    note: str | None = None
    pruned: PruneDecision | None = None
    values: dict[str, float] | None = None  # every metric measured, by name


def missing_metric(values: Mapping[str, float], metrics: Sequence[str]) -> str | None:
    """The sentence that stops a study whose objective returned none of one of its metrics
    (naming the missing one and those it did return), or None."""
    missing = [name for name in metrics if name not in values]
    if not missing:
        return None
    returned = ", ".join(values) or "nothing"
    return (
        f"the objective returned no {missing[0]} (it returned {returned}); return every metric "
        f"the study optimises: {', '.join(metrics)}."
    )


def run_objective(
    objective: Objective,
    params: dict[str, Any],
    reporter: Reporter,
    metric: str,
    metrics: Sequence[str] = (),
) -> TrialEnd:
    """Call the objective and say how the trial ended. Training errors fail the trial, not the
    search; :class:`DatasetError` and ``KeyboardInterrupt`` propagate for the caller to record.

    ``metric`` is the study's first metric, ``metrics`` all of them (for a study of several):
    when the objective returns ``values``, the trial's value is ``values[metric]``, and a
    metric it did not return stops the study (:class:`ObjectiveError`, one sentence).

    ``reporter`` must have ``prune_decision`` and ``stop_reason`` attributes (None unless it
    pruned or stopped the trial).
    """
    end = TrialEnd(TrialState.COMPLETE)
    try:
        outcome = objective(params, reporter)
        end.value, end.note = outcome.value, outcome.note
        if outcome.values is not None:
            problem = missing_metric(outcome.values, list(dict.fromkeys([metric, *metrics])))
            if problem:
                raise ObjectiveError(problem)
            end.values = dict(outcome.values)
            end.value = end.values[metric]
        if end.value is None or not math.isfinite(end.value):
            end.state, end.error = TrialState.DIVERGED, f"the objective returned {end.value}"
    except TrialPruned:
        end.pruned = getattr(reporter, "prune_decision", None)
        end.state = TrialState.PRUNED
        if end.pruned is not None:
            end.value, end.note = end.pruned.value, end.pruned.sentence(metric)
    except TrialDiverged as diverged:
        end.state = TrialState.DIVERGED
        end.error = f"diverged at epoch {diverged.epoch}: {diverged}"
    except TrialStopped as stopped:
        end.state = TrialState.INTERRUPTED
        end.error = getattr(reporter, "stop_reason", None) or str(stopped) or "stopped"
    except ObjectiveError:
        raise  # the user's objective cannot run at all: the caller stops the study
    except (DatasetError, StoreError, KeyboardInterrupt):
        raise  # no trial could be kept: the caller stops the study
    except Exception as exc:  # noqa: BLE001 - any training error fails the trial, not the search
        end.state, end.error = TrialState.FAILED, exception_line(exc)
    if end.state not in (TrialState.COMPLETE, TrialState.PRUNED):
        end.value = None
    return end


def metric_names(spec: StudySpec) -> tuple[str, ...]:
    """The names of every metric ``spec`` optimises, in its order."""
    return tuple(goal.name for goal in spec.metrics)


def _run_trial(
    store: Store,
    study_id: int,
    number: int,
    params: dict[str, Any],
    retry_of: int | None,
    objective: Objective,
    deadline: float | None,
    spec: StudySpec,
) -> TrialRecord:
    """Run one trial, record how it ended, and return its finished record.

    Training errors fail the trial, not the search. A dataset that cannot be loaded stops
    the study with that sentence: no trial could run, so the trial is left interrupted, and a
    re-run retries it once the data is there.
    """
    trial_id = store.start_trial(study_id, number, params, retry_of=retry_of)
    reporter = StoreReporter(
        store, study_id, trial_id, deadline, spec, number, flush_seconds=BATCH_FLUSH_SECONDS
    )
    started = time.time()
    try:
        try:
            end = run_objective(objective, params, reporter, spec.metric, metric_names(spec))
        finally:
            reporter.flush()
    except DatasetError as dataset_error:
        store.finish_trial(trial_id, TrialState.INTERRUPTED, error=str(dataset_error))
        store.set_status(study_id, StudyStatus.FAILED, message=str(dataset_error))
        raise
    except ObjectiveError as objective_error:
        # Retrying would fail the same way: the trial failed, and the study stops with it.
        store.finish_trial(trial_id, TrialState.FAILED, error=str(objective_error))
        message = str(objective_error)
        store.set_status(study_id, StudyStatus.FAILED, worker_pid=None, message=message)
        raise
    except KeyboardInterrupt:
        store.finish_trial(trial_id, TrialState.INTERRUPTED, error="the worker was interrupted")
        store.set_status(study_id, StudyStatus.STOPPED, message="the worker was interrupted")
        raise
    finished = store.finish_trial(
        trial_id, end.state, end.value, end.error, end.note, end.pruned, values=end.values
    )
    return finished_record(trial_id, number, params, retry_of, started, finished, end)


def finished_record(
    trial_id: int,
    number: int,
    params: dict[str, Any],
    retry_of: int | None,
    started_at: float,
    finished_at: float,
    end: TrialEnd,
) -> TrialRecord:
    """The stored record of a trial that ended as ``end`` says."""
    return TrialRecord(
        id=trial_id,
        number=number,
        params=params,
        state=end.state,
        value=end.value,
        error=end.error,
        note=end.note,
        retry_of=retry_of,
        started_at=started_at,
        finished_at=finished_at,
        values=dict(end.values or {}),
    )


def _format_params(params: dict[str, Any], names: list[str]) -> str:
    def fmt(value: Any) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    return ", ".join(f"{name}={fmt(params[name])}" for name in names if name in params)


def _multi_progress_line(spec: StudySpec, trial: TrialRecord, front: list[int], done: int) -> str:
    """The CLI's line for a finished trial of a study of several metrics: each metric's
    value, the trials on the front so far, params, time."""
    complete = trial.state == TrialState.COMPLETE and trial.value is not None
    if complete:
        shown = ", ".join(
            f"{goal.name}={trial.values[goal.name]:.6g}"
            for goal in spec.metrics
            if goal.name in trial.values
        )
    else:
        shown = ", ".join(goal.name for goal in spec.metrics) + "=" + trial.state.value
    listed = ", ".join(str(number) for number in front[:10]) + (" …" if len(front) > 10 else "")
    line = (
        f"trial {trial.number} [{done}/{spec.budget['trials']}] {trial.state.value}: {shown}  "
        f"front={'trials ' + listed if front else 'none yet'}  "
        f"{_format_params(trial.params, spec.space.all_names())}  ({trial.duration_s or 0.0:.1f} s)"
    )
    if trial.note:
        line += f"  note: {trial.note}"
    if trial.error and not complete:
        line += f"  error: {trial.error}"
    return line


def _progress_line(spec: StudySpec, trial: TrialRecord, best: TrialRecord | None, done: int) -> str:
    """The CLI's line for a finished trial: state, value, best so far, params, time."""
    complete = trial.state == TrialState.COMPLETE and trial.value is not None
    shown = f"{trial.value:.6g}" if complete else trial.state.value
    how, why = trial.state.value, ""
    if trial.state == TrialState.PRUNED and trial.value is not None and trial.note:
        # The note begins "pruned at epoch e: <why>"; the line says where, then the value.
        how, _, why = trial.note.partition(": ")
        shown = f"{trial.value:.6g}"
    best_text = (
        f"{best.value:.6g} (trial {best.number})" if best and best.value is not None else "none yet"
    )
    line = (
        f"trial {trial.number} [{done}/{spec.budget['trials']}] {how}: "
        f"{spec.metric}={shown}  best={best_text}  "
        f"{_format_params(trial.params, spec.space.all_names())}  ({trial.duration_s or 0.0:.1f} s)"
    )
    if why:
        line += f"  why: {why}"
    elif trial.note:
        line += f"  note: {trial.note}"
    if trial.error and not complete:
        line += f"  error: {trial.error}"
    return line


def run_study(
    spec: StudySpec,
    store: Store,
    objective: Objective,
    log: Callable[[str], None] = print,
    max_trials_this_process: int | None = None,
    stop_also_when: Callable[[], bool] | None = None,
) -> StudyRun:
    """Run or resume ``spec`` until its budget is spent, a stop is requested, or the grid ends.

    With ``max_trials_this_process`` the call returns early with ``recycle=True`` so that the
    caller can start a fresh process (Keras leaks memory per fit) that resumes the study.
    ``stop_also_when`` is asked before each trial as the study's own stop flag is: a race's
    stop, which may come before the study exists or is claimed.
    """
    return claim_and_run(
        spec,
        store,
        lambda study_id: _run_claimed(
            spec, store, study_id, objective, log, max_trials_this_process, stop_also_when
        ),
    )


def claim_and_run(spec: StudySpec, store: Store, loop: Callable[[int], StudyRun]) -> StudyRun:
    """Claim the study for this process, then run ``loop(study_id)``; whatever ends the loop,
    the study is never left "running" by this process."""
    # Claim the study atomically: two workers started together cannot both pass the check.
    with store.transaction():
        study_id = open_study(store, spec)
        store.set_status(study_id, StudyStatus.RUNNING, worker_pid=os.getpid())
    try:
        return loop(study_id)
    except StoreGoneError:
        raise  # the file it would mark is gone: nothing can be written
    except BaseException as error:
        # Whatever stops this process, the study is never left "running" by it.
        study = store.get_study(spec.name)
        if study is not None and study.status == StudyStatus.RUNNING:
            reason = str(error) or type(error).__name__
            status = (
                StudyStatus.STOPPED if isinstance(error, KeyboardInterrupt) else StudyStatus.FAILED
            )
            store.set_status(study_id, status, message=reason)
        raise


@dataclass
class Session:
    """A claimed study's state between trials: the strategy, what is left to retry, the
    budgets and the counts; shared by the sequential loop and the parallel driver."""

    spec: StudySpec
    store: Store
    study_id: int
    strategy: Strategy
    teller: _Teller
    replay: _Replay
    deadline: float | None
    best: TrialRecord | None
    next_number: int
    done: int
    # A study of several metrics: the complete trials so far, for the front its line shows.
    finished: list[TrialRecord] = field(default_factory=list)

    def note_finished(self, trial: TrialRecord, log: Callable[[str], None]) -> None:
        """Count a trial that used up part of the budget, keep the best, print its line (the
        caller has told the strategy)."""
        self.done += 1
        if trial.state == TrialState.COMPLETE and (
            self.best is None or self.spec.direction.better(trial.value, self.best.value)
        ):  # type: ignore[arg-type]
            self.best = trial
        if not self.spec.multi_metric:
            log(_progress_line(self.spec, trial, self.best, self.done))
            return
        if trial.state == TrialState.COMPLETE:
            self.finished.append(trial)
        front = [t.number for t in front_trials(self.finished, self.spec.metrics)]
        log(_multi_progress_line(self.spec, trial, front, self.done))


def begin_session(
    spec: StudySpec, store: Store, study_id: int, log: Callable[[str], None]
) -> Session:
    """Interrupt what a dead worker left running, clear old stop requests, and rebuild the
    strategy from the stored history."""
    interrupted = store.interrupt_running_trials(
        study_id, "the worker stopped before the trial finished"
    )
    if interrupted:
        log(
            f"{interrupted} trial(s) left running by a stopped worker are now interrupted and "
            "will be retried"
        )
    store.clear_stop(study_id)

    strategy = make_strategy(spec.space, spec.strategy)
    teller = _Teller(
        strategy,
        spec.space,
        spec.direction,
        spec.pruner.get("tell", "last"),
        goals=spec.metrics,
    )
    history = store.trials(study_id)
    started = time.perf_counter()
    replay = _replay(history, strategy, teller, store.load_snapshot(study_id))
    if replay.snapshot_refused is not None:
        log(f"the strategy's snapshot was not used ({replay.snapshot_refused}); replaying instead")
    if history:
        how = (
            f"from the snapshot at trial {replay.restored_at}"
            if replay.restored_at is not None
            else "by replaying every trial"
        )
        seconds = time.perf_counter() - started
        log(f"resumed {len(history)} stored trials {how} in {seconds:.3f} s")

    budget_seconds = spec.budget.get("seconds")
    seconds_spent_before = _busy_seconds([t for t in history if t.state.is_finished()])
    deadline = time.time() + budget_seconds - seconds_spent_before if budget_seconds else None
    return Session(
        spec=spec,
        store=store,
        study_id=study_id,
        strategy=strategy,
        teller=teller,
        replay=replay,
        deadline=deadline,
        best=best_trial(history, spec.direction),
        next_number=(history[-1].number + 1) if history else 0,
        done=sum(trial.state.counts_against_budget() for trial in history),
        finished=[t for t in history if t.state == TrialState.COMPLETE],
    )


def _busy_seconds(trials: list[TrialRecord]) -> float:
    """Seconds during which at least one of ``trials`` ran: their summed durations when they
    ran one after another, the wall time they covered when they ran in parallel."""
    spans = sorted(
        (t.started_at, t.started_at + (t.duration_s or 0.0))
        for t in trials
        if t.started_at is not None
    )
    busy, covered_until = 0.0, -math.inf
    for start, end in spans:
        if end > covered_until:
            busy += end - max(start, covered_until)
            covered_until = end
    return busy


def stop_if_every_trial_fails(store: Store, study_id: int) -> None:
    """Raise :class:`ObjectiveError` (the study failed) when a user objective's first trials
    all failed with one error: a bug in the function would otherwise spend the whole budget."""
    counted = [t for t in store.trials(study_id) if t.state.counts_against_budget()]
    problem = first_trials_all_fail(
        [t.error if t.state == TrialState.FAILED else None for t in counted]
    )
    if problem:
        store.set_status(study_id, StudyStatus.FAILED, worker_pid=None, message=problem)
        raise ObjectiveError(problem)


def save_ask(store: Store, study_id: int, number: int, strategy: Strategy) -> None:
    """Store what the strategy knew when it proposed trial ``number`` (Bayesian only)."""
    take = getattr(strategy, "take_ask_record", None)
    record = take() if take is not None else None
    if record is not None:
        store.save_ask(study_id, number, record.state, record.initial, record.acquisition)


def _run_claimed(
    spec: StudySpec,
    store: Store,
    study_id: int,
    objective: Objective,
    log: Callable[[str], None],
    max_trials_this_process: int | None,
    stop_also_when: Callable[[], bool] | None = None,
) -> StudyRun:
    """The loop of :func:`run_study`, once this process owns the study."""
    session = begin_session(spec, store, study_id, log)
    strategy, teller, replay, deadline = (
        session.strategy,
        session.teller,
        session.replay,
        session.deadline,
    )
    budget_trials = int(spec.budget["trials"])
    trials_run = 0
    status, message = StudyStatus.FINISHED, "the trial budget is spent"

    budget_epochs = spec.budget.get("epochs")
    while session.done < budget_trials:
        if deadline is not None and time.time() >= deadline:
            message = "the time budget is spent"
            break
        if budget_epochs is not None and store.epochs_trained(study_id) >= budget_epochs:
            message = "the epoch budget is spent"
            break
        if store.stop_requested(study_id) or (stop_also_when is not None and stop_also_when()):
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
        if replay.retry_queue:
            retried = replay.retry_queue.pop(0)
            params, retry_of = dict(retried.params), retried.number
        else:
            tuned = None if replay.exhausted else strategy.ask()
            if tuned is None:
                message = "every grid point has been tried"
                break
            params, retry_of = spec.space.full_params(tuned), None
            save_ask(store, study_id, session.next_number, strategy)
        trial = _run_trial(
            store, study_id, session.next_number, params, retry_of, objective, deadline, spec
        )
        trials_run += 1
        session.next_number += 1
        if trial.state == TrialState.INTERRUPTED:
            replay.retry_queue.insert(0, trial)
            continue
        teller.tell(trial.params, trial.state, trial.value, values=trial.values)
        if isinstance(strategy, SnapshotStrategy):
            # The state after this tell: a resume restores it and replays nothing before.
            store.save_snapshot(study_id, trial.number, strategy.snapshot())
        session.note_finished(trial, log)
        if spec.objective["type"] == "python" and session.done == FAILURE_REPEATS:
            stop_if_every_trial_fails(store, study_id)

    store.set_status(study_id, status, worker_pid=None, message=message)
    return StudyRun(study_id, status, message, trials_run)
