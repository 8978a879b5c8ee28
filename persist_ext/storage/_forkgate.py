"""Store writes and ``fork()``: a worker is never forked while this process writes a store.

SQLite keeps, per process, which locks each open file holds. ``fork()`` copies that
bookkeeping as it is at that instant: if another thread of the parent was inside a write
transaction, the child believes one of its own connections holds the write lock of that
database, a connection no thread of the child will ever release. Every write the child then
attempts on that file waits for the whole busy timeout and fails ("database is locked"),
for as long as the child lives. A process-pool worker forked while the group's driver
records outcomes is exactly that child (seen as every task of a run failing after 60 s).

So every write of a :class:`~persist_ext.storage._store.Store` runs inside :data:`WRITING`,
and every ``fork()`` of this process (``os.register_at_fork``: the task groups' process
pool, ``MultiProcessStash``'s, a user's ``multiprocessing``) first waits until no other
thread is writing, holding new writes back until the fork is done (a few milliseconds). The
child starts with the gate open. Reads need no gate: they hold no lock between calls.

>>> with WRITING:
...     writers_elsewhere()
0
>>> import multiprocessing
>>> with WRITING:  # the forking thread's own write is not waited for
...     child = multiprocessing.get_context("fork").Process(target=writers_elsewhere)
...     child.start(); child.join(); child.exitcode
0
"""

from __future__ import annotations

import logging
import os
import threading
import time

__all__ = ["WRITING", "writers_elsewhere"]

logger = logging.getLogger(__name__)

# How long a fork waits for the writes in flight. Store writes last milliseconds; a
# ``transact()`` block that is held open longer (it may itself wait for the pool's workers)
# must not turn into a deadlock, so the fork then goes ahead, and says so in the log.
_WAIT = 30.0


class _Gate:
    """Counts the writes in flight; while a fork waits or runs, new writes wait."""

    def __init__(self) -> None:
        self.changed = threading.Condition(threading.Lock())
        self.writers = 0
        self.forking = False
        self.mine = threading.local()  # this thread's depth (writes nest: set in transact)


class _Writing:
    """Context manager around one store write (reentrant within a thread)."""

    __slots__ = ()

    def __enter__(self) -> None:
        gate = _gate
        depth = getattr(gate.mine, "depth", 0)
        with gate.changed:
            # A fork that waits for the writes in flight goes first (else a thread writing
            # without pause would starve it); a nested write must not wait for a fork that
            # waits for its own outer write.
            while gate.forking and depth == 0:
                gate.changed.wait()
            gate.writers += 1
        gate.mine.depth = depth + 1

    def __exit__(self, *exc: object) -> None:
        gate = _gate
        depth = getattr(gate.mine, "depth", 0)
        if depth == 0:  # entered before a fork, in the parent: this child's gate is new
            return
        gate.mine.depth = depth - 1
        with gate.changed:
            gate.writers -= 1
            if gate.forking:
                gate.changed.notify_all()


#: Wrap every SQLite write of a store: ``with WRITING: ...``.
WRITING = _Writing()


def writers_elsewhere() -> int:
    """How many store writes other threads of this process have in flight."""
    return _gate.writers - getattr(_gate.mine, "depth", 0)


def _before_fork() -> None:
    # Runs in the forking thread; the lock stays held until the fork is done, so that no
    # other thread starts a write meanwhile.
    gate = _gate
    gate.changed.acquire()
    while gate.forking:  # another thread's fork, waiting below (wait releases the lock)
        gate.changed.wait()
    gate.forking = True
    deadline = time.monotonic() + _WAIT
    while writers_elsewhere() > 0:
        left = deadline - time.monotonic()
        if left <= 0:
            logger.warning(
                "persist_ext: forking while another thread has held a store write open for "
                "%.0f s; the child may be unable to write that store",
                _WAIT,
            )
            break
        gate.changed.wait(left)


def _after_fork_in_parent() -> None:
    gate = _gate
    gate.forking = False
    gate.changed.notify_all()
    gate.changed.release()


def _after_fork_in_child() -> None:
    # The child's only thread is the one that forked; the lock it copied is held and the
    # count includes writes of threads that do not exist here: start afresh.
    global _gate
    _gate = _Gate()


if "_gate" not in globals():
    # Once per process: ``importlib.reload`` (``%autoreload``) runs this module again in the
    # same namespace, and a second set of hooks would take the gate twice in one fork (a
    # deadlock), a second gate would lose the writes in flight.
    _gate = _Gate()
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )
