"""Restarting Dask workers through their nannies: an idle worker once it has run
``restart_every`` trials (Keras leaks memory per fit), and a silent one the driver gave up on
(lost_workers.py). A restart runs in a thread and reports back through the driver's inbox; a
worker without a nanny cannot be restarted, which is said once.
"""

from __future__ import annotations

import threading

from tuning_core.engine.errors import brief
from tuning_core.engine.parallel.driver_state import _DriverState

# How long the driver waits for the scheduler to drop a silent worker (a nanny kills a stopped
# process after 4 s of asking it to close).
DROP_TIMEOUT_S = 15.0


class _WorkerRestarts(_DriverState):
    """The driver's worker restarts: for memory (``recycle_workers``) and after a silence."""

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
