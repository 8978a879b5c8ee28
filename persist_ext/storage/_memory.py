"""MemoryStore: the :class:`KeyValueStore` protocol in memory, for tests and throwaway work.

Values go through the same serializers as :class:`~persist_ext.Store`, so a test double
behaves like the real store where it matters: ``get`` returns a fresh copy (mutating it does
not change the stored value), unpicklable values raise
:class:`~persist_ext.SerializationError`, and summaries and ``meta`` look the same.
Thread-safe; not shared between processes.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .._errors import StoreClosedError, StoreError
from .._limits import Budget
from ._entry import check_key, decode_record, encode_entries, encode_entry, is_storable_key
from ._protocol import MISSING, EntryInfo

__all__ = ["MemoryStore"]

_SERIALS = itertools.count(1)  # tokens of two MemoryStores never compare equal


class MemoryStore:
    """An in-memory store with the same protocol as :class:`~persist_ext.Store`.

    Examples
    --------
    >>> store = MemoryStore()
    >>> _ = store.set("a/1", {"x": [1, 2]}, meta={"run": 3})
    >>> store.get("a/1"), store.info("a/1").meta, list(store.keys("a/"))
    ({'x': [1, 2]}, {'run': 3}, ['a/1'])
    >>> store.get("missing")
    Traceback (most recent call last):
    KeyError: 'missing'
    """

    def __init__(
        self,
        *,
        budget: Budget | Mapping[str, Any] | None = None,
        max_size: int | str | None = None,
        max_count: int | str | None = None,
        max_age: float | str | None = None,
    ) -> None:
        # Limits features enforce (docs/budgets.md).
        self.budget = Budget.of(budget, max_size=max_size, max_count=max_count, max_age=max_age)
        self._data: dict[str, tuple[bytes, EntryInfo]] = {}
        self._lock = threading.RLock()
        self._closed = False
        self._depth = 0
        self._undo: dict[str, tuple[bytes, EntryInfo] | None] | None = None
        # change_token(): a count of changes, and the earliest expiry of a stored entry (an
        # entry reaching it is a change too, see _expire_due).
        self._serial = next(_SERIALS)
        self._version = 0
        self._next_expiry = math.inf

    # ----------------------------------------------------------------- helpers
    def _check(self) -> None:
        if self._closed:
            raise StoreClosedError("This MemoryStore is closed; create a new MemoryStore().")

    def _remember(self, key: str) -> None:
        # Called with the lock held before every change: keep the item a rollback must
        # restore (first write wins), and move the change token.
        self._version += 1
        if self._undo is not None and key not in self._undo:
            self._undo[key] = self._data.get(key)

    def _put(self, key: str, item: tuple[bytes, EntryInfo]) -> None:
        self._remember(key)
        self._data[key] = item
        expires = item[1].expires
        if expires is not None and expires < self._next_expiry:
            self._next_expiry = expires

    def _live(self, key: str) -> tuple[bytes, EntryInfo] | None:
        item = self._data.get(key)
        if item is not None and item[1].expires is not None and item[1].expires <= time.time():
            self._version += 1
            del self._data[key]
            return None
        return item

    def _expire_due(self) -> None:
        """Drop every entry past its expiry once the earliest expiry has passed (lock held).

        Dropping moves the change token, so an entry reaching its expiry time is a change
        like a delete, seen by the first ``change_token()`` after it.
        """
        now = time.time()
        if now < self._next_expiry:
            return
        self._version += 1
        for key in [k for k, (_, info) in self._data.items() if info.expires is not None]:
            self._live(key)
        self._next_expiry = min(
            (i.expires for _, i in self._data.values() if i.expires is not None), default=math.inf
        )

    @staticmethod
    def _encode(
        key: str, value: Any, expire: float | None, meta: dict | None, serializer: str | None
    ) -> tuple[bytes, EntryInfo]:
        entry = encode_entry(key, value, expire=expire, meta=meta, serializer=serializer)
        return entry.record(), entry.info

    # ----------------------------------------------------------------- protocol
    def set(
        self,
        key: str,
        value: Any,
        *,
        expire: float | None = None,
        meta: dict[str, Any] | None = None,
        serializer: str | None = None,
    ) -> EntryInfo:
        """Store ``value`` under ``key`` (see :meth:`Store.set <persist_ext.Store.set>`)."""
        self._check()
        item = self._encode(key, value, expire, meta, serializer)
        with self._lock:
            self._check()
            self._put(key, item)
        return item[1]

    def add(
        self,
        key: str,
        value: Any,
        *,
        expire: float | None = None,
        meta: dict[str, Any] | None = None,
        serializer: str | None = None,
    ) -> bool:
        """Store ``value`` only if ``key`` is absent; return whether it was added."""
        self._check()
        item = self._encode(key, value, expire, meta, serializer)
        with self._lock:
            self._check()
            if self._live(key) is not None:
                return False
            self._put(key, item)
            return True

    def add_many(
        self,
        items: Mapping[str, Any] | Iterable[tuple[str, Any]],
        *,
        expire: float | None = None,
        meta: dict[str, Any] | None = None,
        serializer: str | None = None,
    ) -> frozenset[str]:
        """:meth:`add` for several keys at once; returns the keys it set (see
        :meth:`Store.add_many <persist_ext.Store.add_many>`): all or nothing, under the lock."""
        self._check()
        entries = encode_entries(items, expire=expire, meta=meta, serializer=serializer)
        added: set[str] = set()
        with self.transact():
            for key, entry in entries.items():
                if self._live(key) is None:
                    self._put(key, (entry.record(), entry.info))
                    added.add(key)
        return frozenset(added)

    def get(self, key: str, default: Any = MISSING, *, mmap: bool = False) -> Any:
        """A fresh copy of the value at ``key``; ``mmap`` is accepted and ignored."""
        check_key(key)
        with self._lock:
            self._check()
            item = self._live(key)
        if item is None:
            if default is MISSING:
                raise KeyError(key)
            return default
        record, _ = item
        return decode_record(key, record)

    def delete(self, key: str) -> bool:
        """Remove ``key``; return whether it existed."""
        check_key(key)
        with self._lock:
            self._check()
            if key not in self._data:
                return False
            self._remember(key)
            return self._data.pop(key) is not None

    def info(self, key: str) -> EntryInfo | None:
        """The entry's :class:`EntryInfo`, or ``None``."""
        check_key(key)
        with self._lock:
            self._check()
            item = self._live(key)
        return None if item is None else item[1]

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Live keys starting with ``prefix``, sorted (a snapshot)."""
        check_key(prefix)
        with self._lock:
            self._check()
            found = sorted(k for k in list(self._data) if k.startswith(prefix) and self._live(k))
        return iter(found)

    def items_info(self, prefix: str = "") -> Iterator[tuple[str, EntryInfo]]:
        """``(key, EntryInfo)`` pairs for live keys starting with ``prefix``."""
        for key in self.keys(prefix):
            info = self.info(key)
            if info is not None:
                yield key, info

    def incr(self, key: str, delta: int = 1, default: int | None = 0) -> int:
        """Add ``delta`` to the int at ``key`` atomically (``default`` when absent)."""
        with self._lock:
            self._check()
            item = self._live(key)
            if item is None:
                if default is None:
                    raise KeyError(key)
                current, meta, expires = default, None, None
            else:
                current, meta, expires = self.get(key), item[1].meta or None, item[1].expires
            if isinstance(current, bool) or not isinstance(current, int):
                raise StoreError(
                    f"incr({key!r}) needs an int value, the entry holds "
                    f"{type(current).__name__}; set it to an int first.",
                    key=key,
                )
            expire = None if expires is None else max(expires - time.time(), 0.001)
            self.set(key, current + delta, expire=expire, meta=meta, serializer="json")
            return current + delta

    @contextlib.contextmanager
    def transact(self) -> Iterator[MemoryStore]:
        """Hold the lock for the block; an exception restores the state before it.

        Writes in the block record each key's previous item once (an undo log), so a
        transaction costs what it changes, not the size of the store.
        """
        with self._lock:
            self._check()
            outer = self._depth == 0
            if outer:
                self._undo = {}
            self._depth += 1
            try:
                yield self
            except BaseException:
                if outer and self._undo is not None:
                    self._version += 1
                    for key, item in self._undo.items():
                        if item is None:
                            self._data.pop(key, None)
                        else:
                            self._data[key] = item
                            if item[1].expires is not None:
                                self._next_expiry = min(self._next_expiry, item[1].expires)
                raise
            finally:
                self._depth -= 1
                if outer:
                    self._undo = None

    def change_token(self) -> tuple[int, int]:
        """A value that stays equal only while nothing in this store changes.

        It moves with every set, add, delete, incr, clear and rolled-back transaction, and
        when an entry reaches its expiry time (see :meth:`Store.change_token
        <persist_ext.Store.change_token>`). Compare tokens of one store only.
        """
        with self._lock:
            self._check()
            self._expire_due()
            return self._serial, self._version

    def volume(self) -> int:
        """Bytes held by records (headers and payloads)."""
        with self._lock:
            self._check()
            return sum(len(payload) for payload, _ in self._data.values())

    def close(self) -> None:
        """Drop everything; later operations raise :class:`~persist_ext.StoreClosedError`."""
        with self._lock:
            self._closed = True
            self._version += 1
            self._data = {}

    def __contains__(self, key: object) -> bool:
        with self._lock:
            self._check()
            return is_storable_key(key) and self._live(key) is not None

    def __len__(self) -> int:
        with self._lock:
            self._check()
            return sum(1 for k in list(self._data) if self._live(k))

    def __iter__(self) -> Iterator[str]:
        return self.keys()

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._data)} entries"
        return f"MemoryStore({state})"
