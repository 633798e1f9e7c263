"""A claimed study's state between trials (:class:`Session`) and the steps the sequential loop
and the Dask driver share: beginning a session (interrupting what a dead worker left running,
replaying the history, the time budget left), counting a finished trial and printing its line,
storing what the strategy knew at each ask, and stopping a study whose user objective fails
every first trial alike.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tuning_core.engine.records import best_trial, front_trials
from tuning_core.engine.spec import StudySpec
from tuning_core.engine.states import StudyStatus, TrialState
from tuning_core.engine.storage import Store, TrialRecord
from tuning_core.engine.strategies import Strategy, make_strategy
from tuning_core.engine.study.progress import _multi_progress_line, _progress_line
from tuning_core.engine.study.replay import _Replay, _replay
from tuning_core.engine.study.teller import _Teller
from tuning_core.engine.user_objectives import ObjectiveError, first_trials_all_fail


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
