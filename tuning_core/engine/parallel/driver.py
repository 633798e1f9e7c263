"""The driver of a study on Dask: the ask -> submit -> record loop, what it does with each
task's events, and how it handles workers that die, go silent or need a restart (the design:
this package's docstring). ``run_parallel_study`` is its entry point."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from distributed import Client, Future, KilledWorker, Queue, Variable
from distributed.client import FutureCancelledError

from tuning_core.engine.errors import ClusterError, DatasetError, ObjectiveError, brief
from tuning_core.engine.parallel.client import check_address, dask_client
from tuning_core.engine.parallel.worker_task import Channels, ObjectiveFactory, run_trial_task
from tuning_core.engine.spec import StudySpec
from tuning_core.engine.spec_parts import UserFunctionSpec, UserModelSpec
from tuning_core.engine.states import StudyStatus, TrialState
from tuning_core.engine.storage import Store, TrialRecord
from tuning_core.engine.strategies import SnapshotStrategy, ask_with_pending
from tuning_core.engine.study import (
    STOP_POLL_SECONDS,
    Session,
    StoreReporter,
    StudyRun,
    TrialEnd,
    begin_session,
    claim_and_run,
    finished_record,
    save_ask,
    stop_if_every_trial_fails,
)
from tuning_core.engine.user_objectives import FAILURE_REPEATS

# How long the driver waits for a finished task's last events before recording it anyway.
EVENTS_GRACE_S = 10.0
# How long the driver waits for running tasks to honour a stop before it cancels them.
STOP_GRACE_S = 30.0
# How long the driver waits for the scheduler to drop a silent worker (a nanny kills a stopped
# process after 4 s of asking it to close).
DROP_TIMEOUT_S = 15.0

# The reason Dask gives a future it cancelled because its client lost the scheduler.
SCHEDULER_LOST = "scheduler-connection-lost"


class SchedulerLost(RuntimeError):
    """The driver's client lost its scheduler; run_parallel_study says so in one sentence."""


@dataclass
class _Attempt:
    """A trial submitted as a task. ``key`` (the id of its first row) names the task; a rerun
    by Dask after a worker died gets a new row, so ``trial_id`` and ``number`` follow it."""

    key: int
    trial_id: int
    number: int
    params: dict[str, Any]
    retry_of: int | None
    future: Future
    started_at: float  # when it was submitted, then when a worker started it
    reporter: StoreReporter
    answers: Queue | None
    worker: str | None = None
    worker_name: str | None = None
    received: int = 0
    losses: int = 0  # workers this trial has lost so far, over its retries in this run
    pulse_from: str | None = None  # the worker last heard running it (a beat or any event)
    pulse_at: float = 0.0  # time.monotonic() then


@dataclass
class _Driver:
    """The ask -> submit -> record loop of one claimed study on Dask."""

    session: Session
    client: Client
    factory: ObjectiveFactory
    log: Callable[[str], None]
    restart_every: int | None
    heartbeat_s: float
    max_retries: int
    channels: Channels = field(init=False)
    inbox: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    attempts: dict[int, _Attempt] = field(default_factory=dict)
    trials_on: dict[str, int] = field(default_factory=dict)  # worker address -> trials run
    cannot_restart: set[str] = field(default_factory=set)  # addresses of nanny-less workers
    restarting: set[str] = field(default_factory=set)
    trials_run: int = 0
    stopping: str | None = None
    told_up_to: int = -1  # the highest trial number the strategy has been told
    losses_of: dict[int, int] = field(default_factory=dict)  # retried number -> workers lost
    silent: set[str] = field(default_factory=set)  # workers given up on; their events ignored
    lost_in_a_row: list[int] = field(default_factory=list)  # failed since any trial finished

    def __post_init__(self) -> None:
        spec = self.session.spec
        prefix = f"tuning-lab-{self.session.study_id}-{uuid.uuid4().hex[:12]}"
        self.channels = Channels(
            prefix,
            f"{prefix}-stop",
            spec.pruner.enabled,
            beat_s=min(2.0, self.heartbeat_s / 4),
        )
        self.stop_variable = Variable(self.channels.stop, client=self.client)
        self.stop_variable.set("")
        self.client.subscribe_topic(prefix, lambda event: self.inbox.put(event[1]))
        self.spec_json = spec.to_json()

    @property
    def store(self) -> Store:
        return self.session.store

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

    def _reporter(self, trial_id: int, number: int) -> StoreReporter:
        """Writes the trial's metrics and asks its pruner, as a sequential trial's does (the
        store knows which trial a retry retries, so it keeps that trial's bracket)."""
        session = self.session
        return StoreReporter(self.store, session.study_id, trial_id, None, session.spec, number)

    # Messages from tasks ---------------------------------------------------------------

    def drain(self, wait_s: float) -> None:
        """Handle every message that has arrived, waiting up to ``wait_s`` for the first."""
        try:
            message = self.inbox.get(timeout=wait_s) if wait_s > 0 else self.inbox.get_nowait()
        except queue.Empty:
            return
        while True:
            self._handle(message)
            try:
                message = self.inbox.get_nowait()
            except queue.Empty:
                return

    def _handle(self, message: dict[str, Any]) -> None:
        if message["kind"] == "restarted":
            self._restarted(message["worker"], message["problem"], message["why"])
            return
        attempt = self.attempts.get(message.get("key", -1))
        if attempt is None:
            return  # a trial already recorded, or another run's
        worker = message["worker"]
        if worker in self.silent:
            return  # a worker given up on, answering again: its trial runs elsewhere now
        attempt.pulse_from, attempt.pulse_at = worker, time.monotonic()
        if message["kind"] == "beat":
            return
        if message["kind"] == "start":
            rerun = attempt.worker is not None and worker != attempt.worker
            if rerun and not self._rerun(attempt, worker):
                return  # failed: past its retries
            attempt.worker, attempt.worker_name = worker, message.get("name", worker)
            attempt.received = 1
            attempt.started_at = time.time()
            self.store.record_trial_worker(
                attempt.trial_id, attempt.worker_name, worker, attempt.started_at
            )
            return
        if worker != attempt.worker:
            return  # from an attempt that died
        attempt.received += 1
        kind = message["kind"]
        if kind == "epoch":
            attempt.reporter.report(int(message["epoch"]), message["metrics"])
        elif kind == "batch":
            attempt.reporter.report_batch(message["progress"], message["loss"])
        elif kind == "ask" and attempt.answers is not None:
            epoch = int(message["epoch"])
            prune = attempt.reporter.should_prune(epoch)
            attempt.answers.put({"epoch": epoch, "worker": worker, "prune": prune})

    def _rerun(self, attempt: _Attempt, worker: str) -> bool:
        """Dask started the task again elsewhere: its worker died. The first attempt is
        interrupted; the rerun is recorded as a new trial retrying it (or, past
        ``max_retries``, the trial fails and the rerun is cancelled)."""
        session = self.session
        reason = (
            f"its Dask worker {attempt.worker_name} ({attempt.worker}) died before the trial "
            f"finished; Dask reran it on {worker}"
        )
        if self._failed_after_losses(attempt, reason):
            return False
        self.store.finish_trial(attempt.trial_id, TrialState.INTERRUPTED, error=reason)
        self.log(f"trial {attempt.number} interrupted: {reason} (trial {session.next_number})")
        attempt.retry_of, attempt.number = attempt.number, session.next_number
        session.next_number += 1
        attempt.trial_id = self.store.start_trial(
            session.study_id, attempt.number, attempt.params, retry_of=attempt.retry_of
        )
        attempt.reporter = self._reporter(attempt.trial_id, attempt.number)
        return True

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

    def _tell_and_record(self, attempt: _Attempt, end: TrialEnd) -> None:
        """Tell the strategy how the trial ended, record it, and print its line."""
        session = self.session
        session.teller.tell(attempt.params, end.state, end.value, values=end.values)
        # The trial's end and the strategy's state after telling it commit together, keyed
        # on the highest trial number told: every finished trial up to it is in the
        # snapshot, so a resume after a crash tells none twice.
        with self.store.transaction():
            finished = self.store.finish_trial(
                attempt.trial_id,
                end.state,
                end.value,
                end.error,
                end.note,
                end.pruned,
                values=end.values,
            )
            self.told_up_to = max(self.told_up_to, attempt.number)
            if isinstance(session.strategy, SnapshotStrategy):
                self.store.save_snapshot(
                    session.study_id, self.told_up_to, session.strategy.snapshot()
                )
        session.note_finished(self._finished(attempt, finished, end), self.log)

    def _finished(self, attempt: _Attempt, finished_at: float, end: TrialEnd) -> TrialRecord:
        return finished_record(
            attempt.trial_id,
            attempt.number,
            attempt.params,
            attempt.retry_of,
            attempt.started_at,
            finished_at,
            end,
        )

    def _interrupt(self, attempt: _Attempt, reason: str) -> None:
        """Record a trial no worker will finish as interrupted, and retry it first."""
        finished = self.store.finish_trial(attempt.trial_id, TrialState.INTERRUPTED, error=reason)
        self.log(f"trial {attempt.number} interrupted: {reason}; it will be retried")
        trial = self._finished(attempt, finished, TrialEnd(TrialState.INTERRUPTED, error=reason))
        self.session.replay.retry_queue.insert(0, trial)

    # Lost workers ----------------------------------------------------------------------

    def _lost(self, attempt: _Attempt, reason: str) -> None:
        """The attempt's worker died or stopped answering, and no worker runs it now: retry
        it first, or fail it once its trial has lost more than ``max_retries`` workers."""
        with contextlib.suppress(Exception):
            attempt.future.cancel()
        self.attempts.pop(attempt.key, None)
        if attempt.answers is not None:
            with contextlib.suppress(Exception):
                attempt.answers.close()
        if self._failed_after_losses(attempt, reason):
            return
        self.losses_of[attempt.number] = attempt.losses
        self._interrupt(attempt, reason)

    def _failed_after_losses(self, attempt: _Attempt, reason: str) -> bool:
        """Count one more lost worker for the attempt's trial; past ``max_retries``, record
        it failed (told to the strategy as a failure) and return True. Raise ClusterError
        when trials keep failing so, with none finishing between: every worker is dying."""
        attempt.losses += 1
        if attempt.losses <= self.max_retries:
            return False
        with contextlib.suppress(Exception):
            attempt.future.cancel()
        self.attempts.pop(attempt.key, None)
        error = (
            f"its Dask worker was lost {attempt.losses} times, more than the "
            f"{self.max_retries} retries allowed (dask.max_retries in the spec, --max-retries); "
            f"the last time {reason}"
        )
        self._tell_and_record(attempt, TrialEnd(TrialState.FAILED, error=error))
        self.lost_in_a_row.append(attempt.number)
        if len(self.lost_in_a_row) >= max(2, self.session.spec.parallel):
            numbers = ", ".join(str(n) for n in self.lost_in_a_row[:-1])
            raise ClusterError(
                f"the Dask workers keep dying or going silent: trials {numbers} and "
                f"{self.lost_in_a_row[-1]} each lost their worker {attempt.losses} times, with "
                "no trial finishing in between, so the study stopped; look at the workers' "
                "logs and memory, then run it again to resume."
            )
        return True

    def check_pulses(self) -> None:
        """Give up each trial whose worker has sent nothing for ``heartbeat_s`` (stopped,
        hung or cut off), retry it elsewhere, and have the scheduler drop that worker, as
        its own worker-ttl would later: a nanny restarts it, a worker without one is
        removed. Nothing is submitted until the worker is gone, so no retry lands on it."""
        now = time.monotonic()
        for attempt in list(self.attempts.values()):
            if attempt.pulse_from is None or now - attempt.pulse_at <= self.heartbeat_s:
                continue
            address = attempt.pulse_from
            name = attempt.worker_name if attempt.worker == address else None
            reason = (
                f"its Dask worker {name or address}"
                + (f" ({address})" if name and name != address else "")
                + f" sent nothing for {self.heartbeat_s:g} s (dask.heartbeat_seconds, "
                "--heartbeat-seconds), so the driver gave it up"
            )
            self.silent.add(address)
            self.trials_on.pop(address, None)
            self._lost(attempt, reason)
            if address not in self.restarting:
                self.restarting.add(address)
                threading.Thread(
                    target=self._restart, args=(address, "silent"), daemon=True
                ).start()

    def scheduler_answers(self) -> bool:
        """Whether this driver's client still reaches its scheduler (while it tries to
        reconnect, every future has been cancelled already)."""
        return self.client.status == "running"

    # Workers ---------------------------------------------------------------------------

    def recycle_workers(self) -> None:
        """Restart, through its nanny, each idle worker that has run ``restart_every``
        trials since it started (Keras' per-fit leak stays bounded).

        A restart runs in a thread, so the driver goes on recording the other trials' events
        (with true times) meanwhile; nothing new is submitted until it is back, so no new
        trial lands on the worker being restarted.
        """
        if self.restart_every is None:
            return
        busy = {a.worker for a in self.attempts.values()}
        for address, count in list(self.trials_on.items()):
            if count < self.restart_every or address in busy | self.cannot_restart:
                continue
            del self.trials_on[address]
            self.restarting.add(address)
            threading.Thread(target=self._restart, args=(address, "memory"), daemon=True).start()

    def _restart(self, address: str, why: str) -> None:
        """Restart one worker (in a thread); the driver's thread hears how it went."""
        try:
            status = self.client.restart_workers(
                [address], timeout=DROP_TIMEOUT_S, raise_for_error=False
            )
            problem = None if status.get(address) in ("OK", "removed") else status.get(address)
        except Exception as error:  # noqa: BLE001 - e.g. ValueError: a worker with no nanny
            problem = f"{type(error).__name__}: {error}"
        self.inbox.put({"kind": "restarted", "worker": address, "problem": problem, "why": why})

    def _restarted(self, address: str, problem: str | None, why: str) -> None:
        self.restarting.discard(address)
        if why == "silent":
            # Restarted or removed, or (timed out) removed by the scheduler anyway.
            self.log(f"Dask worker {address} stopped answering and was dropped from the cluster")
            return
        if problem is not None:
            self.cannot_restart.add(address)
            self.log(
                f"could not restart Dask worker {address} to release Keras memory "
                f"({brief(str(problem))}); start workers with a nanny, or give them --lifetime"
            )

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
