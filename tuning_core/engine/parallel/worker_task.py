"""What runs on a Dask worker: one trial's task (``run_trial_task``), the reporter that
sends its starts, epochs and losses as worker events and asks the driver whether to prune or
stop, and its heartbeat. Dask ships these by reference, so a worker imports this module by
its path (``tuning_core.engine.parallel.worker_task``)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from distributed import Queue, Variable, get_worker

from tuning_core.engine.errors import DatasetError, ObjectiveError
from tuning_core.engine.objectives import Objective
from tuning_core.engine.parallel.client import CONNECT_TIMEOUT_S
from tuning_core.engine.pruners import PruneDecision
from tuning_core.engine.spec import StudySpec, parse_spec
from tuning_core.engine.study import STOP_POLL_SECONDS, run_objective

# How long a task waits for the driver's pruning answer before it trains on.
PRUNE_ANSWER_TIMEOUT_S = 60.0

ObjectiveFactory = Callable[[StudySpec], Objective]


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
