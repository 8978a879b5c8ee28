"""Background threads of persist_ext itself, told apart from the notebook's.

persist_ext keeps a few threads for its own upkeep: noting uses of cached entries,
removing replaced blobs, syncing a ``POD``, renewing leases, driving a task group, polling
for a live display. They open SQLite connections, write and remove files of the stores, and
run whenever they are due, so also while a ``%%persist`` cell runs. What they do is not what
the cell did: the cell cache's file watch (``features._cellcache._effects``) leaves their
file events out, so that a cell never looks as though it wrote or removed a store's files
(it would then be re-run for good, or miss at every later run).

Every such thread is a :class:`HousekeepingThread`. A task group's driver is one too: the
completion callback it calls is notebook code, but one the group fires when it ends, not
something the cell running then did. Threads that may do a cell's work (the workers of a
pool the notebook made, reused by a later cell) are plain threads and stay watched.

>>> import threading
>>> done = threading.Event()
>>> HousekeepingThread(target=done.set, name="persist-ext-example").start()
>>> done.wait(5)
True
>>> is_housekeeping()
False
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["HousekeepingThread", "is_housekeeping"]


class HousekeepingThread(threading.Thread):
    """A daemon thread of persist_ext's own upkeep, whose file operations are no cell's.

    Same arguments as :class:`threading.Thread`; ``daemon`` defaults to ``True`` (upkeep
    never keeps a process alive: what must be written at exit is written by ``_exit``).
    """

    def __init__(
        self,
        target: Callable[..., object] | None = None,
        name: str | None = None,
        args: Iterable[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        daemon: bool = True,
    ) -> None:
        super().__init__(target=target, name=name, args=args, kwargs=kwargs, daemon=daemon)


def is_housekeeping() -> bool:
    """Whether the calling thread is one of persist_ext's own (:class:`HousekeepingThread`)."""
    return isinstance(threading.current_thread(), HousekeepingThread)
