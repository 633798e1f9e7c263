"""The events running tasks send the driver (a start, each epoch's metrics, in-epoch losses,
a pruning question, a heartbeat) and a finished restart: written to the store as they arrive,
from the live attempt only, so a dead attempt or a worker given up on is ignored.
"""

from __future__ import annotations

import queue
import time
from typing import Any

from tuning_core.engine.parallel.lost_workers import _LostWorkers


class _TaskEvents(_LostWorkers):
    """The driver's inbox: what tasks and restart threads report, handled in its thread."""

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
