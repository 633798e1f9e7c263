"""Parallel trials on Dask: N trials at once on a LocalCluster, or on an existing scheduler.

The driver (``python -m tuning_core run`` with ``parallel`` above 1, or ``--dask ADDRESS``)
keeps the strategy and the store, as the sequential loop in engine/study.py does, and is the
only process that opens the store. Each trial is one Dask task: it gets the spec (a small JSON
object), its params and the names of its channels, builds the objective on the worker (the
dataset by its built-in name or path there), and returns how the trial ended.

Channels, all Dask's own:

- **Metrics and starts: worker events.** The task's reporter calls
  ``get_worker().log_event(topic, msg)`` for its start, each epoch's metrics and each in-epoch
  loss, and the driver's ``client.subscribe_topic`` handler queues them for the driver's
  thread, which writes them to the store as they arrive, so the dashboard's live view reads
  them as it reads a sequential trial's. Chosen over a ``distributed.Queue`` or Pub/Sub
  because an event costs the task no round trip (it rides the worker's batched stream to the
  scheduler, which pushes it to the subscribed client): a Keras trial sends ~10 per epoch,
  and none of them may slow its batches. Events from one worker arrive in order. The task's
  result says how many events it sent, and the driver records the trial only once it has
  them all, so no epoch arrives after its trial is final.
- **Stop: a ``distributed.Variable``** holding "" or the reason ("stopped on request", "the
  time budget ran out"). The driver polls ``store.stop_requested`` (and the deadline) and sets
  it; the task's ``should_stop()`` reads it at most every STOP_POLL_SECONDS, so a stop reaches
  a running trial within about a second. The task also stops once the scheduler has cancelled
  it (its driver cancelled it, or died): Dask cannot interrupt a running task, so a killed
  driver's trials would otherwise train on, orphaned, holding their workers.
- **Pruning: a ``distributed.Queue`` per trial.** Decisions need the store, which only the
  driver reads. After reporting epoch e the task sends an "ask" event and blocks on its
  queue; the driver answers once it has written epoch e, deciding from finished epochs only
  (``StoreReporter.should_prune``), exactly as a sequential trial does. Answers carry the
  epoch and the worker's address, so a rerun never takes an answer meant for a dead attempt.

Faults. A worker that dies mid-trial is handled both ways Dask may report it: the scheduler
reruns the task on another worker (the driver sees a second start of the same task: the
first attempt becomes ``interrupted``, and the rerun is recorded as a new trial retrying it),
or, after ``distributed.scheduler.allowed-failures`` deaths, the future raises
``KilledWorker`` (the trial becomes ``interrupted`` and is retried first, as a sequential
retry is). A finished trial is final in the store (a trigger), so nothing done is lost.

A worker that stops answering (SIGSTOP, a hung host, a cut network) sends nothing, so each
task also sends an uncounted "beat" event from a thread every quarter of the heartbeat; a
trial not heard from for ``heartbeat_seconds`` is cancelled, recorded ``interrupted`` and
retried, and the scheduler is asked to drop its worker (``restart_workers``: a nanny kills and
restarts the process, a worker without one is removed), as its own ``worker-ttl`` (5 minutes
by default) would later; nothing is submitted until it is gone, so the retry runs elsewhere.
Each trial may lose ``max_retries`` workers, counting Dask's reruns, ``KilledWorker`` and
silences alike; one more and it is ``failed`` with a sentence saying so. When ``parallel``
trials (at least 2) fail that way with none finishing in between, every worker is dying: the
study ends with ClusterError. A scheduler that goes away cancels every future; that is said
as the scheduler's fault, not the workers'.

Memory. Keras leaks ~2 MB per fit, so the driver restarts a worker through its nanny (``Client
.restart_workers``, in a thread, submitting nothing meanwhile) once it has run
``restart_every`` trials and is idle; LocalCluster workers have nannies. A worker started with
``--no-nanny`` cannot be restarted: the driver says so once and goes on (give such workers
``--lifetime`` instead).

Bayesian search asks with the pending trials' params (``strategies.ask_with_pending``), so no
two pending trials share a point; results are told in the order trials finish.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import dask
from distributed import Client, Future, KilledWorker, LocalCluster, Queue, Variable, get_worker
from distributed.client import FutureCancelledError
from distributed.comm import connect
from distributed.security import Security

from tuning_core.engine.dask_address import is_dask_address
from tuning_core.engine.errors import ClusterError, DatasetError, ObjectiveError, SpecError, brief
from tuning_core.engine.objectives import Objective
from tuning_core.engine.pruners import PruneDecision
from tuning_core.engine.spec import StudySpec, parse_spec
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
    run_objective,
    save_ask,
    stop_if_every_trial_fails,
)
from tuning_core.engine.user_objectives import FAILURE_REPEATS

CONNECT_TIMEOUT_S = 5.0
# How long a task waits for the driver's pruning answer before it trains on.
PRUNE_ANSWER_TIMEOUT_S = 60.0
# How long the driver waits for a finished task's last events before recording it anyway.
EVENTS_GRACE_S = 10.0
# How long the driver waits for running tasks to honour a stop before it cancels them.
STOP_GRACE_S = 30.0
# How long the driver waits for the scheduler to drop a silent worker (a nanny kills a stopped
# process after 4 s of asking it to close).
DROP_TIMEOUT_S = 15.0

# The reason Dask gives a future it cancelled because its client lost the scheduler.
SCHEDULER_LOST = "scheduler-connection-lost"

ObjectiveFactory = Callable[[StudySpec], Objective]


class SchedulerLost(RuntimeError):
    """The driver's client lost its scheduler; run_parallel_study says so in one sentence."""


def check_address(address: str) -> str:
    """The scheduler address, or SpecError naming ``--dask`` when it is not a Dask address."""
    if not is_dask_address(address):
        raise SpecError(
            "--dask must be a Dask scheduler address such as tcp://10.0.0.5:8786 (tcp://, "
            f"tls://, ucx:// or inproc://), not {brief(address)}."
        )
    return address.strip()


def refuse_unreachable(address: str) -> None:
    """Raise SpecError naming ``--dask`` unless a Dask scheduler answers at ``address``
    within about CONNECT_TIMEOUT_S (called before a store is opened, so none is created)."""
    problem = _unreachable(check_address(address))
    if problem is not None:
        raise SpecError(problem)


def _unreachable(address: str) -> str | None:
    """Why no Dask scheduler can be reached at ``address``, in one sentence naming
    ``--dask``, or None once one has answered; never takes much over CONNECT_TIMEOUT_S.

    A throwaway connection comes first because ``Client`` turns some failures (a tls://
    address with no certificates, ucx:// without UCX, an inproc:// address from another
    process) into a 10 s wait while it closes itself, and then into a traceback.
    """
    scheme = address.split("://", 1)[0] if "://" in address else "tcp"

    async def knock() -> None:
        comm = await connect(
            address, timeout=CONNECT_TIMEOUT_S, **Security().get_connection_args("client")
        )
        await comm.close()

    def attempt() -> None:
        asyncio.run(asyncio.wait_for(knock(), CONNECT_TIMEOUT_S + 0.5))

    # In a thread of its own: the caller may already run an event loop (a notebook).
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        try:
            pool.submit(attempt).result()
            return None
        except Exception as error:  # noqa: BLE001 - every failure becomes one sentence
            failure = type(error).__name__
    if scheme == "tls" and Security().get_connection_args("client")["ssl_context"] is None:
        return (
            f"--dask: {brief(address)} is a tls:// address, but no TLS certificates are set "
            "here; set distributed.comm.tls.ca-file, .client.cert and .client.key in Dask's "
            "configuration, or use tcp:// on a private network."
        )
    if scheme == "ucx":
        return (
            f"--dask: {brief(address)} is a ucx:// address, which needs UCX support for Dask "
            "installed here (distributed-ucxx); install it or use a tcp:// address."
        )
    if scheme == "inproc":
        return (
            f"--dask: {brief(address)} is an inproc:// address, which reaches only a scheduler "
            "inside this same Python process, and none runs here; use a tcp:// address."
        )
    return (
        f"--dask: no Dask scheduler answered at {brief(address)} within "
        f"{CONNECT_TIMEOUT_S:g} s ({failure}); start one with `dask scheduler` or check the "
        "address."
    )


@contextlib.contextmanager
def dask_client(parallel: int, address: str | None) -> Iterator[Client]:
    """A client of the scheduler at ``address``, or of a LocalCluster of ``parallel`` worker
    processes that this process starts, binds to 127.0.0.1 and closes on exit.

    Each local worker gets one thread for tasks and ``cores // parallel`` threads for
    TensorFlow, so N trials share the machine instead of each taking every core.
    """
    if address is not None:
        address = check_address(address)
        refuse_unreachable(address)
        try:
            client = Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        except (OSError, TimeoutError) as error:
            raise SpecError(
                f"--dask: no Dask scheduler answered at {brief(address)} within "
                f"{CONNECT_TIMEOUT_S:g} s ({type(error).__name__}); start one with `dask "
                "scheduler` or check the address."
            ) from None
        # Once the scheduler dies, the client's own reconnect logs "Failed to reconnect"
        # and a CancelledError traceback while it closes (when depends on timing); the
        # driver says in one sentence that the scheduler stopped answering instead.
        client_log = logging.getLogger("distributed.client")
        level = client_log.level
        client_log.setLevel(logging.CRITICAL)
        try:
            yield client
        finally:
            try:
                client.close()
            except Exception:  # noqa: BLE001 - e.g. a TimeoutError once the scheduler died
                # Closing must not replace the sentence that ended the run, and a client
                # left "closing" would try again at exit and print a traceback.
                client.status = "closed"
            finally:
                client_log.setLevel(level)
        return
    threads = str(max(1, (os.cpu_count() or 1) // parallel))
    # Workers forked from one clean server process start, and above all close, faster than
    # spawned ones (4 workers on 2 cores: ~1.1 s against 1-2 s to start, 0.03 s against
    # 0.2-0.7 s to close); none of them inherits this process' threads.
    with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}):
        cluster = _local_cluster(parallel, threads)
        try:
            with Client(cluster, set_as_default=False) as client:
                yield client
        finally:
            cluster.close()


def _local_cluster(parallel: int, threads: str) -> LocalCluster:
    return LocalCluster(
        n_workers=parallel,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        # No dashboard; the scheduler's small HTTP server (health, metrics) still starts, so
        # keep it on loopback at a free port rather than 8787 (two drivers at once).
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        silence_logs=logging.ERROR,
        # Read by TensorFlow (and BLAS) when the worker first imports them.
        env={
            "TF_NUM_INTRAOP_THREADS": threads,
            "TF_NUM_INTEROP_THREADS": threads,
            "OMP_NUM_THREADS": threads,
        },
    )


# The worker side ------------------------------------------------------------------------


@dataclass(frozen=True)
class Channels:
    """The names of one driver run's Dask channels (unique per run, so a resumed study never
    reads a dead driver's messages)."""

    topic: str
    stop: str
    pruning: bool
    beat_s: float = 1.0  # how often a task says it is alive (a quarter of the heartbeat)

    def answers(self, key: int) -> str:
        return f"{self.topic}-answers-{key}"


class _TaskReporter:
    """The reporter a trial gets on a Dask worker: everything goes through ``channels``."""

    def __init__(self, key: int, channels: Channels) -> None:
        self.key = key
        self.channels = channels
        self.worker = get_worker()
        self.address = self.worker.address
        self.sent = 0
        self.stop_reason: str | None = None
        self.prune_decision: PruneDecision | None = None  # the driver keeps the decision
        self.task_key = self.worker.get_current_task()
        self._stop = Variable(channels.stop)
        self._last_poll = 0.0

    def send(self, kind: str, **message: Any) -> None:
        message.update(kind=kind, key=self.key, worker=self.address)
        self.worker.log_event(self.channels.topic, message)
        self.sent += 1

    def report(self, epoch: int, metrics: dict[str, float]) -> None:
        self.send("epoch", epoch=epoch, metrics={k: float(v) for k, v in metrics.items()})

    def report_batch(self, progress: float, loss: float) -> None:
        self.send("batch", progress=float(progress), loss=float(loss))

    def should_stop(self) -> bool:
        now = time.monotonic()
        if self.stop_reason is None and now - self._last_poll >= STOP_POLL_SECONDS:
            self._last_poll = now
            if self._cancelled():
                self.stop_reason = "the driver cancelled the trial"
            else:
                self.stop_reason = self._stop.get(timeout=CONNECT_TIMEOUT_S) or None
        return self.stop_reason is not None

    def _cancelled(self) -> bool:
        """Whether the scheduler no longer wants this task: its driver cancelled it, or died
        (Dask cannot interrupt a running task, so an orphaned trial would train on)."""
        task = self.worker.state.tasks.get(self.task_key)
        return task is None or task.state in ("cancelled", "released", "forgotten")

    def should_prune(self, epoch: int) -> bool:
        if not self.channels.pruning:
            return False
        self.send("ask", epoch=epoch)
        answers = Queue(self.channels.answers(self.key))
        deadline = time.monotonic() + PRUNE_ANSWER_TIMEOUT_S
        while (left := deadline - time.monotonic()) > 0:
            try:
                answer = answers.get(timeout=left)
            except TimeoutError:
                break
            if answer["epoch"] == epoch and answer["worker"] == self.address:
                return bool(answer["prune"])
        return False  # no answer: train on, as a study without a pruner would


_objectives: dict[str, Objective] = {}


def _objective_here(spec_json: dict[str, Any], factory: ObjectiveFactory) -> Objective:
    """The spec's objective in this worker process, built once (a Keras objective keeps its
    dataset loaded between trials); only the latest study's is kept."""
    text = json.dumps(spec_json, sort_keys=True)
    if text not in _objectives:
        _objectives.clear()
        _objectives[text] = factory(parse_spec(spec_json))
    return _objectives[text]


@contextlib.contextmanager
def _heartbeat(reporter: _TaskReporter) -> Iterator[None]:
    """Send a "beat" every ``channels.beat_s`` while the block runs, from a thread of its
    own, so the driver hears from a trial whose objective reports nothing for minutes and
    notices a worker that stops answering (a stopped process sends nothing at all)."""
    done = threading.Event()
    message = {"kind": "beat", "key": reporter.key, "worker": reporter.address}
    message["name"] = str(reporter.worker.name)

    def beat() -> None:
        while not done.wait(reporter.channels.beat_s):
            reporter.worker.log_event(reporter.channels.topic, dict(message))

    reporter.worker.log_event(reporter.channels.topic, dict(message))
    thread = threading.Thread(target=beat, name=f"tuning-lab-beat-{reporter.key}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()


def run_trial_task(
    spec_json: dict[str, Any],
    factory: ObjectiveFactory,
    params: dict[str, Any],
    key: int,
    channels: Channels,
) -> dict[str, Any]:
    """The Dask task of one trial: run it on this worker, report through ``channels``, and
    return how it ended (the driver records it). Beats (uncounted) go out while it runs."""
    reporter = _TaskReporter(key, channels)
    with _heartbeat(reporter):
        return _run_trial_here(spec_json, factory, params, reporter)


def _run_trial_here(
    spec_json: dict[str, Any],
    factory: ObjectiveFactory,
    params: dict[str, Any],
    reporter: _TaskReporter,
) -> dict[str, Any]:
    # Built before the start is announced: a worker's first trial would otherwise count the
    # import of TensorFlow (seconds) as training time, in its duration and on the timeline.
    objective = _objective_here(spec_json, factory)
    reporter.send("start", name=str(reporter.worker.name))
    result: dict[str, Any] = {"worker": reporter.address}
    try:
        # The stored objective names its first metric, or lists several (metrics).
        stored = spec_json["objective"]
        goals = stored.get("metrics") or [{"name": stored["metric"]}]
        names = [str(goal["name"]) for goal in goals]
        end = run_objective(objective, params, reporter, names[0], names)
        result.update(state=end.state.value, value=end.value, error=end.error, note=end.note)
        result.update(values=end.values)
    except DatasetError as error:
        result.update(dataset_error=str(error))
    except ObjectiveError as error:  # the user's model cannot train as asked: one sentence
        result.update(objective_error=str(error))
    result["events"] = reporter.sent
    return result


# The driver side ------------------------------------------------------------------------


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
