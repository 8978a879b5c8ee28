"""Stopping a hung try on a Dask cluster: restart the worker that runs it.

A try that overruns the group's ``timeout`` on a Dask worker is detected in the worker
(:func:`~._worker.run_task` waits for it in a helper thread) and comes back as a failed
:class:`~._worker.TaskOutcome` naming the worker (:func:`where_am_i`). Python cannot stop
the thread that still runs the function, so the driver asks the worker's *nanny* to
restart the worker process (:func:`restart_worker`): the process and the hung function go
away, the nanny starts a fresh worker, and Dask reschedules every other task that worker
was running or holding, so none is lost or counted as a failed try (each is run again and
comes back once).

Order matters. The hung try's own Dask task has returned, and Dask would *recompute* a key
still wanted by the client whose only copy was on the restarted worker; that would run the
hung function again and overwrite its failed record. The same holds for a try that
finished on that worker a moment ago, whose outcome the driver has not taken in yet: run
again, it would write "running" over its finished record. So the restart first cancels the
hung try's key (its outcome is already here) and waits until that worker holds neither it
nor any finished try this client still wants (the driver drops each outcome within a batch).

A worker without a nanny (``LocalCluster(processes=False)``, ``dask worker --no-nanny``)
cannot be restarted — the scheduler could only remove it for good — so it is left alone,
the try is recorded failed as *abandoned*, and the recorded error says so.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

__all__ = ["HungWorker", "restart_worker", "where_am_i"]

# How long the restart waits for the hung try's key to be released, and for the nanny.
_RELEASE_WAIT = 30.0
_RESTART_TIMEOUT = 60.0


class HungWorker(tuple[str, str, int, bool]):
    """``(address, key, pid, has_nanny)`` of the Dask worker running a try (picklable)."""

    __slots__ = ()

    @property
    def address(self) -> str:
        return self[0]

    @property
    def key(self) -> str:
        return self[1]

    @property
    def pid(self) -> int:
        return self[2]

    @property
    def has_nanny(self) -> bool:
        return self[3]


def where_am_i() -> HungWorker | None:
    """The Dask worker running the current task, or None outside a Dask worker."""
    if "distributed" not in sys.modules:  # a Dask worker has imported it
        return None
    try:
        from distributed import get_worker

        worker = get_worker()
        key = worker.get_current_task()
    except Exception:  # not in a Dask worker's task
        return None
    return HungWorker((str(worker.address), str(key), os.getpid(), bool(worker.nanny)))


def restart_worker(client: Any, hung: HungWorker) -> str:
    """Restart the worker ``hung`` names through its nanny; return "" or what went wrong.

    Cancels the hung try's key first and waits (at most a few seconds) until the
    scheduler has released it, so the restart does not make Dask run the try again.
    """
    if not hung.has_nanny:
        return f"the Dask worker {hung.address} has no nanny and cannot be restarted"
    deadline = time.monotonic() + _RELEASE_WAIT
    try:
        from distributed import Future

        client.cancel([Future(hung.key, client)])
        while _holds_our_tries(client, hung):
            if time.monotonic() > deadline:
                return (
                    f"the Dask worker {hung.address} was not restarted: it still holds tries "
                    "of this group (the overrun one, or finished ones not collected yet), "
                    "which a restart would make Dask run again"
                )
            time.sleep(0.05)
        status = client.restart_workers(
            [hung.address], timeout=_RESTART_TIMEOUT, raise_for_error=False
        )
    except Exception as exc:  # the client or the cluster is closing or gone
        return f"restarting the Dask worker {hung.address} failed: {type(exc).__name__}: {exc}"
    outcome = status.get(hung.address, "OK") if isinstance(status, dict) else "OK"
    if outcome != "OK":
        return f"restarting the Dask worker {hung.address} did not succeed: {outcome}"
    return ""


def _holds_our_tries(client: Any, hung: HungWorker) -> bool:
    """True while the hung worker holds the hung try, or a finished try this client wants."""
    held = client.has_what([hung.address]).get(hung.address, ())
    if hung.key in held:
        return True
    # Tries are Dask keys named after run_task ("run_task-<uuid>"); ``client.futures``
    # holds the keys this client still wants.
    prefix = hung.key.split("-", 1)[0] + "-"
    wanted = client.futures
    return any(str(key).startswith(prefix) and key in wanted for key in held)
