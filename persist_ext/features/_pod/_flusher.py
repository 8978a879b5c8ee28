"""Background syncs that bound how long a change stays only in memory (``sync_after``).

A Tracker records marks that must survive a hard kill (``SIGKILL``, an out-of-memory kill, a
dead kernel), where no exit handler runs. With ``sync_after=s`` the first change after a sync
schedules a sync ``s`` seconds later on one daemon thread per process; later changes ride
along, so a loop marking thousands of tasks a second still writes about once per ``s``
seconds (the cost is measured in ``benchmarks/bench_pod.py``).

The thread only calls :meth:`PODState.sync_in_background`, which takes the state's lock: it
never runs in the middle of another sync or of an assignment, and ``hold()`` postpones it.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Protocol

from ..._threads import HousekeepingThread

__all__ = ["schedule"]


class _Flushable(Protocol):
    def sync_in_background(self) -> None: ...


_cond = threading.Condition(threading.Lock())
_due: dict[int, tuple[float, Any]] = {}  # id(state) -> (deadline, state)
_thread: threading.Thread | None = None
_thread_pid = -1


def schedule(state: _Flushable, delay: float) -> None:
    """Sync ``state`` in the background ``delay`` seconds from now (unless already due sooner)."""
    global _thread, _thread_pid
    deadline = time.monotonic() + delay
    with _cond:
        current = _due.get(id(state))
        if current is not None and current[0] <= deadline:
            return
        _due[id(state)] = (deadline, state)
        if _thread is None or _thread_pid != os.getpid() or not _thread.is_alive():
            # A forked child inherits no threads: start its own.
            _thread = HousekeepingThread(target=_run, name="persist_ext-pod-sync")
            _thread_pid = os.getpid()
            _thread.start()
        _cond.notify()


def _run() -> None:
    while True:
        with _cond:
            while not _due:
                _cond.wait()
            ident, (deadline, state) = min(_due.items(), key=lambda item: item[1][0])
            wait = deadline - time.monotonic()
            if wait > 0:
                _cond.wait(wait)
                continue
            del _due[ident]
        state.sync_in_background()
