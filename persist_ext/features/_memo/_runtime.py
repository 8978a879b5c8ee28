"""Process-wide helpers of cached calls: the default store, batched use records, leases.

* :func:`default_store` is the notebook's store: the one ``%persist`` uses when the
  extension is loaded (``c.PersistMagics.directory``), else ``$PERSIST_EXT_DIR`` or
  ``./.persist``.
* :data:`LEASES` refreshes the lease of every call this process is computing, so a process
  killed mid-call releases its claim after ``LEASE`` seconds and another takes over.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from ..._config import ENV_VAR, default_directory
from ..._cwd import absolute, getcwd
from ..._threads import HousekeepingThread
from ...storage._protocol import KeyValueStore

__all__ = ["LEASE", "LEASES", "default_store", "open_location"]

LEASE = 30.0  # seconds a claim lives without a heartbeat

_OPENED: dict[str, KeyValueStore] = {}
_OPEN_LOCK = threading.Lock()
_DEFAULT: tuple[Any, KeyValueStore] | None = None


def open_location(location: str) -> KeyValueStore:
    """The store at a directory or ``redis://`` URL, opened once per process."""
    with _OPEN_LOCK:
        store = _OPENED.get(location)
        if store is None:
            if location.startswith(("redis://", "rediss://", "unix://")):
                from ...storage._redis import RedisStore

                store = RedisStore(location)
            else:
                from ...storage._store import Store

                store = Store(location)
            _OPENED[location] = store
        return store


def _magics() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None:
        return None
    return shell.magics_manager.registry.get("PersistMagics")


def default_store() -> KeyValueStore:
    """The notebook's store (see the module docstring); resolved again when its setting changes."""
    global _DEFAULT
    magics = _magics()
    setting = (getattr(magics, "directory", None), os.environ.get(ENV_VAR), getcwd())
    if _DEFAULT is not None and _DEFAULT[0] == setting:
        return _DEFAULT[1]
    if magics is not None:
        location = absolute(magics.store_directory)
        store = magics.cache_for(location).store  # share the magics' open store
    else:
        store = open_location(absolute(default_directory()))
    _DEFAULT = (setting, store)
    return store


class _Leases:
    """Claims this process holds on calls it is computing, refreshed in the background."""

    def __init__(self, lease: float = LEASE) -> None:
        self.lease = lease  # seconds a claim outlives its process's last heartbeat
        self._lock = threading.Lock()
        self._held: dict[tuple[int, str], tuple[KeyValueStore, Any]] = {}
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def hold(self, store: KeyValueStore, key: str, claim: Any) -> None:
        with self._lock:
            self._held[(id(store), key)] = (store, claim)
            if self._thread is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._thread = HousekeepingThread(target=self._run, name="persist-ext-leases")
                self._thread.start()

    def release(self, store: KeyValueStore, key: str) -> None:
        with self._lock:
            self._held.pop((id(store), key), None)
        try:
            store.delete(key)
        except Exception:  # the lease expires on its own
            pass

    def _run(self) -> None:
        while True:
            time.sleep(self.lease / 3)
            with self._lock:
                held = list(self._held.items())
            for (_, key), (store, claim) in held:
                try:
                    store.set(key, claim, expire=self.lease)
                except Exception:
                    continue


LEASES = _Leases()
