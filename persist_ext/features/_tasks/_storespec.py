"""How a worker process reopens the group's store: a small picklable description.

A store object holds open connections (sqlite, sockets) that must not cross a ``fork`` or be
pickled. Workers instead receive a :class:`StoreSpec` and call :func:`open_store`. In the
process that created the spec (threads, an in-process Dask cluster) the live store object is
reused; anywhere else it is reopened from its path or URL.
"""

from __future__ import annotations

import os
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..._errors import TaskError
from ...storage._protocol import KeyValueStore

__all__ = ["StoreSpec", "open_store", "spec_for"]

# token -> (pid, store). The pid guards against reusing a store inherited through fork():
# its sqlite connection or socket belongs to the parent.
_LIVE: dict[str, tuple[int, KeyValueStore]] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class StoreSpec:
    """Picklable "how to reopen this store".

    ``kind`` is ``"store"`` (a diskcache directory), ``"redis"`` (a URL), ``"pickle"`` (the
    store pickles itself) or ``"local"`` (lives only in its own process, e.g. ``MemoryStore``).
    """

    kind: str
    location: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    payload: Any = None
    type_name: str = ""

    @property
    def reopenable(self) -> bool:
        """True when another process can open the store from this spec."""
        return self.kind != "local"


def spec_for(store: KeyValueStore) -> StoreSpec:
    """Describe ``store`` so a worker can reopen it, and remember the live object here.

    The store may describe itself with a ``reopen_spec()`` method returning
    ``(kind, location, options)``; otherwise a ``directory`` attribute means a diskcache
    ``Store``, a ``url`` attribute a ``RedisStore``; anything else is usable only in this
    process.

    >>> from persist_ext.storage._memory import MemoryStore
    >>> spec_for(MemoryStore()).reopenable
    False
    """
    type_name = f"{type(store).__module__}.{type(store).__qualname__}"
    describe = getattr(store, "reopen_spec", None)
    if callable(describe):
        kind, location, options = describe()
        spec = StoreSpec(str(kind), str(location), dict(options), type_name=type_name)
    elif getattr(store, "url", None):
        names = ("namespace", "lock_timeout", "wait_timeout")
        options = {n: getattr(store, n) for n in names if getattr(store, n, None) is not None}
        spec = StoreSpec("redis", str(store.url), options, type_name=type_name)  # type: ignore[attr-defined]
    elif getattr(store, "directory", None):
        options = {"durable": bool(getattr(store, "durable", False))}
        spec = StoreSpec("store", os.fspath(store.directory), options, type_name=type_name)  # type: ignore[attr-defined]
    else:
        spec = StoreSpec("local", type_name=type_name)
    with _LOCK:
        _LIVE[spec.token] = (os.getpid(), store)
    return spec


_REOPENED: dict[str, KeyValueStore] = {}


def open_store(spec: StoreSpec) -> KeyValueStore:
    """Return the store ``spec`` describes: the live object in its own process, else reopen.

    Reopened stores are cached per process (one per spec token), so a worker that runs
    many tasks opens the store once.
    """
    pid = os.getpid()
    live = _LIVE.get(spec.token)
    if live is not None and live[0] == pid:
        return live[1]
    cached = _REOPENED.get(spec.token)
    if cached is not None:
        return cached
    with _LOCK:
        cached = _REOPENED.get(spec.token)
        if cached is not None:
            return cached
        store = _reopen(spec)
        _REOPENED[spec.token] = store
        return store


def _reopen(spec: StoreSpec) -> KeyValueStore:
    if spec.kind == "store":
        from ...storage._store import Store

        return Store(spec.location, **spec.options)
    if spec.kind == "redis":
        from ...storage._redis import RedisStore

        return RedisStore(spec.location, **spec.options)
    if spec.kind == "pickle":
        return spec.payload
    raise TaskError(
        f"The store {spec.type_name} lives in one process and cannot be reopened by a worker "
        "process; use Store(directory) or RedisStore(url) with processes or Dask, or run the "
        "group on threads."
    )
