"""The driver of a study on Dask: the ask -> submit -> record loop, what it does with each
task's events, and how it handles workers that die, go silent or need a restart (the design:
this package's docstring). ``run_parallel_study`` is its entry point.

``_Driver`` is assembled from one module per part, each building on those before it:
driver_state.py (what it holds, and recording a trial's end), restarts.py (workers restarted
through their nannies), lost_workers.py (workers that die or go silent), task_events.py (the
events tasks send) and, here, the loop itself: submitting, recording results and stopping.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

from distributed import Client, KilledWorker, Queue
from distributed.client import FutureCancelledError

from tuning_core.engine.errors import ClusterError, DatasetError, ObjectiveError, brief
from tuning_core.engine.parallel.client import check_address, dask_client
from tuning_core.engine.parallel.driver_state import _Attempt
from tuning_core.engine.parallel.task_events import _TaskEvents
from tuning_core.engine.parallel.worker_task import ObjectiveFactory, run_trial_task
from tuning_core.engine.spec import StudySpec
from tuning_core.engine.spec_parts import UserFunctionSpec, UserModelSpec
from tuning_core.engine.states import StudyStatus, TrialState
from tuning_core.engine.storage import Store
from tuning_core.engine.strategies import ask_with_pending
from tuning_core.engine.study import (
    STOP_POLL_SECONDS,
    StudyRun,
    TrialEnd,
    begin_session,
    claim_and_run,
    save_ask,
    stop_if_every_trial_fails,
)
from tuning_core.engine.user_objectives import FAILURE_REPEATS

# How long the driver waits for a finished task's last events before recording it anyway.
EVENTS_GRACE_S = 10.0
# How long the driver waits for running tasks to honour a stop before it cancels them.
STOP_GRACE_S = 30.0

# The reason Dask gives a future it cancelled because its client lost the scheduler.
SCHEDULER_LOST = "scheduler-connection-lost"


class SchedulerLost(RuntimeError):
    """The driver's client lost its scheduler; run_parallel_study says so in one sentence."""


class _Driver(_TaskEvents):
    """The ask -> submit -> record loop of one claimed study on Dask."""

    # Submitting ----------------------------------------------------------------------

    def _next_params(self) -> tuple[dict[str, Any], int | None] | None:
        session, spec = self.session, self.session.spec
        if session.replay.retry_queue:
            retried = session.replay.retry_queue.pop(0)
            return dict(retried.params), retried.number
        if session.replay.exhausted:
            return None
        pending = [session.teller.tuned(a.params) for a in self.attempts.values()]
        tuned = ask_with_pending(session.strategy, pending)
        if tuned is None:
            session.replay.exhausted = True
            return None
        return spec.space.full_params(tuned), None

    def _submit(self, params: dict[str, Any], retry_of: int | None) -> None:
        session = self.session
        number = session.next_number
        session.next_number += 1
        trial_id = self.store.start_trial(session.study_id, number, params, retry_of=retry_of)
        if retry_of is None:
            save_ask(self.store, session.study_id, number, session.strategy)
        answers = None
        if self.channels.pruning:
            answers = Queue(self.channels.answers(trial_id), client=self.client)
        future = self.client.submit(
            run_trial_task,
            self.spec_json,
            self.factory,
            params,
            trial_id,
            self.channels,
            key=f"{self.channels.topic}-trial-{trial_id}",
            pure=False,
        )
        self.attempts[trial_id] = _Attempt(
            key=trial_id,
            trial_id=trial_id,
            number=number,
            params=params,
            retry_of=retry_of,
            future=future,
            started_at=time.time(),
            reporter=self._reporter(trial_id, number),
            answers=answers,
            losses=self.losses_of.pop(retry_of, 0) if retry_of is not None else 0,
        )

    # Results ---------------------------------------------------------------------------

    def collect(self) -> None:
        """Record every task that has finished, in the order they finished."""
        for attempt in [a for a in self.attempts.values() if a.future.done()]:
            self._record(attempt)

    def _record(self, attempt: _Attempt) -> None:
        session = self.session
        try:
            result = attempt.future.result()
        except KilledWorker:
            self._lost(
                attempt, "its Dask worker died while running it and Dask gave up on the task"
            )
            return
        except Exception as error:  # noqa: BLE001 - a task that could not run, or no scheduler
            lost = isinstance(error, FutureCancelledError) and error.reason == SCHEDULER_LOST
            if lost or not self.scheduler_answers():
                # The loop names the scheduler and interrupts every attempt, this one too.
                raise SchedulerLost(type(error).__name__) from None
            del self.attempts[attempt.key]
            sentence = (
                f"a Dask worker could not run trial {attempt.number} ({type(error).__name__}: "
                f"{brief(str(error))}); every worker needs Tuning Lab and its requirements "
                "installed."
            )
            self.store.finish_trial(attempt.trial_id, TrialState.INTERRUPTED, error=sentence)
            raise ClusterError(sentence) from None
        # Record only once every event the task sent is in, so no epoch follows the end.
        waited = time.monotonic() + EVENTS_GRACE_S
        while (
            attempt.worker != result["worker"] or attempt.received < result["events"]
        ) and time.monotonic() < waited:
            self.drain(0.05)
        del self.attempts[attempt.key]
        if attempt.answers is not None:
            attempt.answers.close()
        if "dataset_error" in result:
            sentence = result["dataset_error"]
            self.store.finish_trial(attempt.trial_id, TrialState.INTERRUPTED, error=sentence)
            self.store.set_status(session.study_id, StudyStatus.FAILED, message=sentence)
            raise DatasetError(sentence)
        if "objective_error" in result:  # as in one process: the trial fails, the study stops
            sentence = result["objective_error"]
            self.store.finish_trial(attempt.trial_id, TrialState.FAILED, error=sentence)
            self.store.set_status(session.study_id, StudyStatus.FAILED, message=sentence)
            raise ObjectiveError(sentence)
        end = TrialEnd(
            TrialState(result["state"]),
            result["value"],
            result["error"],
            result["note"],
            values=result.get("values"),
        )
        if end.state == TrialState.PRUNED:
            end.pruned = attempt.reporter.prune_decision
            if end.pruned is not None:
                end.value, end.note = end.pruned.value, end.pruned.sentence(session.spec.metric)
        self.trials_on[result["worker"]] = self.trials_on.get(result["worker"], 0) + 1
        self.trials_run += 1
        if end.state == TrialState.INTERRUPTED:
            finished = self.store.finish_trial(attempt.trial_id, end.state, error=end.error)
            trial = self._finished(attempt, finished, end)
            session.replay.retry_queue.insert(0, trial)
            return
        self.lost_in_a_row.clear()
        self._tell_and_record(attempt, end)
        user_code = isinstance(session.spec.objective, (UserFunctionSpec, UserModelSpec))
        if user_code and session.done == FAILURE_REPEATS:
            # The sequential loop's rule: the first trials failing alike is a bug in the
            # user's code; ObjectiveError ends the loop and the trials in flight with it.
            stop_if_every_trial_fails(self.store, session.study_id)

    # The loop --------------------------------------------------------------------------

    def ask_to_stop(self, reason: str) -> None:
        if self.stopping is None:
            self.stopping = reason
            self.stop_variable.set(reason)

    def run(self, parallel: int) -> tuple[StudyStatus, str]:
        session, spec = self.session, self.session.spec
        budget_trials = int(spec.budget.trials)
        budget_epochs = spec.budget.epochs
        status, message = StudyStatus.FINISHED, "the trial budget is spent"
        last_poll = 0.0
        stop_asked_at: float | None = None
        while True:
            # Record what finished first, so a worker due for a restart is seen idle before
            # anything new is submitted (which the scheduler might give to it).
            self.drain(0.05)
            self.collect()
            if self.scheduler_answers():  # a dead scheduler silences every task at once
                self.check_pulses()
            now = time.monotonic()
            if self.stopping is None and now - last_poll >= STOP_POLL_SECONDS / 2:
                last_poll = now
                if self.store.stop_requested(session.study_id):
                    status, message = StudyStatus.STOPPED, "stopped on request"
                    self.ask_to_stop("stopped on request")
                elif session.deadline is not None and time.time() >= session.deadline:
                    message = "the time budget is spent"
                    self.ask_to_stop("the time budget ran out")
            if self.stopping is not None:
                stop_asked_at = stop_asked_at or now
                if now - stop_asked_at > STOP_GRACE_S:
                    for attempt in list(self.attempts.values()):
                        attempt.future.cancel()
                        del self.attempts[attempt.key]
                        self._interrupt(attempt, self.stopping)
            else:
                self.recycle_workers()
            if self.stopping is None and not self.restarting:
                while (
                    len(self.attempts) < parallel
                    and session.done + len(self.attempts) < budget_trials
                ):
                    if (
                        budget_epochs is not None
                        and self.store.epochs_trained(session.study_id) >= budget_epochs
                    ):
                        message = "the epoch budget is spent"
                        break
                    following = self._next_params()
                    if following is None:
                        message = "every grid point has been tried"
                        break
                    self._submit(*following)
            if not self.attempts and not self.restarting:
                if session.done >= budget_trials and self.stopping is None:
                    message = "the trial budget is spent"
                return status, message

    def close(self) -> None:
        """Release this run's channels on the scheduler (a cluster outlives its drivers)."""
        with contextlib.suppress(Exception):
            self.client.unsubscribe_topic(self.channels.topic)
        with contextlib.suppress(Exception):
            self.stop_variable.delete()

    def abandon(self, reason: str) -> None:
        """Whatever ended the loop early: stop the tasks and leave no trial running."""
        with contextlib.suppress(Exception):
            self.stop_variable.set(reason)
        for attempt in list(self.attempts.values()):
            with contextlib.suppress(Exception):
                attempt.future.cancel()
            with contextlib.suppress(Exception):
                self.store.finish_trial(attempt.trial_id, TrialState.INTERRUPTED, error=reason)
        self.attempts.clear()


def run_parallel_study(
    spec: StudySpec,
    store: Store,
    factory: ObjectiveFactory,
    address: str | None = None,
    log: Callable[[str], None] = print,
    restart_every: int | None = None,
    client: Client | None = None,
    heartbeat_seconds: float | None = None,
    max_retries: int | None = None,
) -> StudyRun:
    """Run or resume ``spec`` with ``spec.parallel`` trials at once on Dask: through
    ``client``, else on the scheduler at ``address``, else on a LocalCluster this call starts
    and closes.

    A trial whose worker sends nothing for ``heartbeat_seconds`` is given up and retried on
    another worker; one that loses more than ``max_retries`` workers fails (both default to
    the spec's ``dask`` object, then to 60 s and 3). Trials failing so, ``parallel`` (at least
    2) in a row, end the study with ClusterError; so does a scheduler that stops answering.

    ``factory`` builds the objective from the spec on each worker (it is shipped by
    reference, so it must be importable there). Ends as :func:`study.run_study` does: budget
    spent, stop requested, grid exhausted; a dataset error raises DatasetError, a worker that
    cannot run trials at all raises ClusterError.
    """
    if address is not None:
        address = check_address(address)
    # Connect before claiming the study: an unreachable scheduler leaves the store untouched.
    connected = (
        contextlib.nullcontext(client)
        if client is not None
        else dask_client(spec.parallel, address)
    )
    with connected as client:
        where = (
            address
            or (client.cluster is None and client.scheduler.address)
            or f"a local Dask cluster of {spec.parallel} worker processes"
        )
        scheduler = address or client.scheduler.address

        def loop(study_id: int) -> StudyRun:
            session = begin_session(spec, store, study_id, log)
            driver = _Driver(
                session,
                client,
                factory,
                log,
                restart_every,
                heartbeat_s=heartbeat_seconds or spec.heartbeat_seconds,
                max_retries=spec.max_retries if max_retries is None else max_retries,
            )
            log(f"running {spec.parallel} trial(s) at once on {where}")
            try:
                status, message = driver.run(spec.parallel)
            except Exception as error:
                if not isinstance(error, SchedulerLost) and driver.scheduler_answers():
                    driver.abandon(str(error) or type(error).__name__)
                    raise
                # Every trial's error would blame the workers; the scheduler is what went.
                sentence = (
                    f"the Dask scheduler at {scheduler} stopped answering, so the study ended "
                    "with its running trials interrupted; start the scheduler (and its workers) "
                    "again and run the study again to resume."
                )
                driver.abandon(sentence)
                raise ClusterError(sentence) from None
            except BaseException as error:
                driver.abandon(str(error) or type(error).__name__)
                raise
            finally:
                driver.close()
            store.set_status(study_id, status, worker_pid=None, message=message)
            return StudyRun(study_id, status, message, driver.trials_run)

        return claim_and_run(spec, store, loop)
