"""The sequential study loop: ask -> run the trial -> tell, one trial at a time in this
process, until the budget (trials, seconds or epochs) is spent, a stop is requested, or the
grid ends; :func:`run_study` is the entry point. The Dask driver (engine/parallel/) runs the
same session with several trials at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tuning_core.engine.objectives import Objective
from tuning_core.engine.spec import StudySpec
from tuning_core.engine.states import StudyStatus, TrialState
from tuning_core.engine.storage import Store
from tuning_core.engine.strategies import SnapshotStrategy
from tuning_core.engine.study.claim import StudyRun, claim_and_run
from tuning_core.engine.study.session import begin_session, save_ask, stop_if_every_trial_fails
from tuning_core.engine.study.trial import _run_trial
from tuning_core.engine.user_objectives import FAILURE_REPEATS


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
