"""Use records: when a cached unit was last restored and how often (the one mechanism).

Cached cells (``%%persist``) and cached calls (``persist_ext.cache``) both note each hit with
:func:`note_use`. A hit then costs a dict update in memory; the records are written in one
store transaction per store about once a second by a background thread, before anything
that reads them (listings, ``%persist info`` / ``gc``, every eviction: :func:`flush_uses`,
which waits for a write under way), and when the process exits normally (``atexit``), so a
use is never lost on a normal exit.
Least-recently-used eviction (``_budget.py``) and the hit counts that listings show read
what is written here.

A record (``used_key``) is JSON ``{"last_used": ..., "hits": ...}`` in both its value and
its meta (serializer ``json``), so a listing reads it with ``info()`` and never decodes a
pickle. ``counter=`` additionally adds the hits to an integer counter key (cells keep one
that the server's listing reads).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from .._exit import at_exit
from .._threads import HousekeepingThread
from ..storage._protocol import KeyValueStore

__all__ = ["FLUSH_EVERY", "flush_uses", "note_use", "read_use", "touch"]

FLUSH_EVERY = 1.0  # seconds between background writes of the noted uses
# How long a flush waits for one under way (the background thread's) to finish writing;
# past that it goes on without it (a store held elsewhere must not stall its caller).
_FLUSH_WAIT = 30.0


def read_use(store: KeyValueStore, key: str) -> tuple[float | None, int]:
    """``(last_used, hits)`` of a use record, from its JSON meta (``(None, 0)`` if absent)."""
    try:
        info = store.info(key)
    except Exception:
        return None, 0
    if info is None:
        return None, 0
    meta = info.meta
    last = meta.get("last_used")
    return (float(last) if isinstance(last, (int, float)) else None), int(meta.get("hits", 0))


def touch(
    store: KeyValueStore, key: str, *, hits: int = 1, when: float | None = None
) -> dict[str, Any]:
    """Record a use at ``key``: last use ``when`` (default now), hit count increased by ``hits``.

    The record is JSON (value and meta alike); callers batching several uses wrap their
    calls in one ``store.transact()``.
    """
    _, old_hits = read_use(store, key)
    record = {"last_used": time.time() if when is None else when, "hits": old_hits + hits}
    store.set(key, record, meta=record, serializer="json")  # type: ignore[call-arg]
    return record


class _Pending:
    """One unit's uses noted since the last write."""

    __slots__ = ("counter", "hits", "marker", "store", "when")

    def __init__(self, store: KeyValueStore, marker: str, counter: str | None) -> None:
        self.store = store
        self.marker = marker
        self.counter = counter
        self.when = 0.0
        self.hits = 0


class _Uses:
    """Uses noted in memory, written by :meth:`flush` (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._pending: dict[tuple[int, str], _Pending] = {}
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    def note(self, store: KeyValueStore, used_key: str, marker: str, counter: str | None) -> None:
        slot = (id(store), used_key)
        with self._lock:
            item = self._pending.get(slot)
            if item is None:
                item = self._pending[slot] = _Pending(store, marker, counter)
            item.when = time.time()
            item.hits += 1
            if self._thread is None:
                self._thread = HousekeepingThread(target=self._run, name="persist-ext-uses")
                self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(FLUSH_EVERY)
            self.flush()

    def flush(self, store: KeyValueStore | None = None) -> None:
        # One flush at a time: a reader flushes before it reads, and must then find the uses
        # that the background thread took a moment earlier written, not still in flight.
        waited = self._flushing.acquire(timeout=_FLUSH_WAIT)
        try:
            self._flush(store)
        finally:
            if waited:
                self._flushing.release()

    def _flush(self, store: KeyValueStore | None) -> None:
        with self._lock:
            if store is None:
                taken, self._pending = self._pending, {}
            else:
                mine = id(store)
                taken = {slot: item for slot, item in self._pending.items() if slot[0] == mine}
                for slot in taken:
                    del self._pending[slot]
        by_store: dict[int, list[tuple[str, _Pending]]] = {}
        for (store_id, used), item in taken.items():
            by_store.setdefault(store_id, []).append((used, item))
        for items in by_store.values():
            target = items[0][1].store
            try:
                with target.transact():
                    for used, item in items:
                        if item.marker not in target:
                            continue  # not for a unit evicted or cleared meanwhile
                        touch(target, used, hits=item.hits, when=item.when)
                        if item.counter is not None:
                            target.incr(item.counter, item.hits)
            except Exception:  # a closed or locked store: use records are best effort
                continue

    def forget(self) -> None:
        """In a forked child: the parent writes its own pending uses; start afresh."""
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._pending = {}
        self._thread = None
        self._wake = threading.Event()


_USES = _Uses()


def note_use(
    store: KeyValueStore, used_key: str, marker: str, *, counter: str | None = None
) -> None:
    """Note a use (a hit) of the unit whose marker is ``marker``; written within a second.

    ``used_key`` is where the JSON use record lives; ``counter``, when given, is an integer
    key that is increased by the number of hits as well.
    """
    _USES.note(store, used_key, marker, counter)


def flush_uses(store: KeyValueStore | None = None) -> None:
    """Write the pending use records now (of ``store`` only, when given)."""
    _USES.flush(store)


at_exit(flush_uses)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_USES.forget)
