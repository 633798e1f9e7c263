"""Workers that die or go silent while they run a trial (the design: this package's
docstring). A trial whose worker died is rerun by Dask (recorded as a new trial retrying it)
or, once Dask gives up, retried first by the driver; one whose worker sent nothing for the
heartbeat is given up, retried elsewhere, and its worker dropped. Each trial may lose
``max_retries`` workers; one more and it fails, and trials failing so in a row end the study
with ClusterError. ``scheduler_answers`` tells a lost scheduler from lost workers.
"""

from __future__ import annotations

import contextlib
import threading
import time

from tuning_core.engine.errors import ClusterError
from tuning_core.engine.parallel.driver_state import _Attempt
from tuning_core.engine.parallel.restarts import _WorkerRestarts
from tuning_core.engine.states import TrialState
from tuning_core.engine.study import TrialEnd


class _LostWorkers(_WorkerRestarts):
    """The driver's handling of lost and silent workers."""

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
