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

One module per idea: ``client.py`` (the scheduler address checked, the Client of a scheduler
or of a LocalCluster), ``worker_task.py`` (what runs on a worker: the task, its reporter and
heartbeat, shipped to workers by reference, so it is imported there by this module path) and
``driver.py`` (the loop that submits and records, and ``run_parallel_study``), which builds on
``driver_state.py`` (what the driver holds, a trial's end recorded), ``restarts.py`` (workers
restarted through their nannies), ``lost_workers.py`` (workers that die or go silent) and
``task_events.py`` (the events tasks send). This package re-exports their public names, so
``tuning_core.engine.parallel`` stays the one import path, and it is the only place that
imports Dask.
"""

from __future__ import annotations

from tuning_core.engine.parallel.client import (
    CONNECT_TIMEOUT_S,
    check_address,
    dask_client,
    refuse_unreachable,
)
from tuning_core.engine.parallel.driver import SchedulerLost, run_parallel_study
from tuning_core.engine.parallel.worker_task import Channels, ObjectiveFactory, run_trial_task

__all__ = [
    "CONNECT_TIMEOUT_S",
    "Channels",
    "ObjectiveFactory",
    "SchedulerLost",
    "check_address",
    "dask_client",
    "refuse_unreachable",
    "run_parallel_study",
    "run_trial_task",
]
