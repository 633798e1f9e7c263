"""The driver's Dask client: a scheduler's address checked (one sentence naming ``--dask``
when it is not one, or nobody answers there), and a Client of that scheduler or of a
LocalCluster this process starts."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
from collections.abc import Iterator

import dask
from distributed import Client, LocalCluster
from distributed.comm import connect
from distributed.security import Security

from tuning_core.engine.dask_address import is_dask_address
from tuning_core.engine.errors import SpecError, brief

# How long a scheduler has to answer the driver (and a task, the stop variable).
CONNECT_TIMEOUT_S = 5.0


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
