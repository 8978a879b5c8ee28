"""RedisStore: the :class:`~persist_ext.storage._protocol.KeyValueStore` protocol on Redis.

Task groups running on several machines (a Dask cluster, a batch queue) share their state
through a Redis server every worker can reach: ``RedisStore("redis://host:6379/0")``.

Layout. Entry ``key`` lives in the single Redis string ``<namespace>:<key>``: one signed,
checksummed record of ``_entry.py`` (the framing every store and file shares). Its header
holds the serializer name, the JSON summary, ``meta``, the creation time and the expiry, so
:meth:`RedisStore.info` reads only the header (``GETRANGE``) and never decodes the value;
``get`` verifies the record's checksum and MAC before decoding it.

Because one entry is one Redis key, ``set`` is ``SET``, ``add`` is ``SET NX`` (exactly
one of any number of concurrent writers wins), ``expire`` is ``SET PX`` and ``delete`` is
``DEL``: each is atomic on the server. Counters made by :meth:`RedisStore.incr` are plain Redis
integers (``INCRBY``), read back by :meth:`~RedisStore.get` as ``int``.

:meth:`RedisStore.transact` holds a Redis lock (``<namespace>:__transact__``, a lease that
expires after ``lock_timeout`` seconds if its holder dies), so read-modify-write blocks from
different processes exclude each other. Unlike diskcache's ``transact``, single operations
outside a ``transact()`` block are not held back by it; group every update of shared state
in ``transact()`` when several writers touch it.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from .._errors import (
    ConcurrentAccessError,
    CorruptEntryError,
    InvalidPickle,
    StoreClosedError,
    StoreError,
)
from .._limits import Budget
from ._entry import (
    HEADER_FIXED,
    MAGIC,
    Where,
    check_key,
    decode_record,
    encode_entry,
    is_record,
    read_info,
    resign,
)
from ._protocol import MISSING, EntryInfo

__all__ = ["RedisStore"]

_LEGACY_MAGIC = b"PXR1"  # unsigned values of older versions: described, never decoded
_HEADER_PROBE = 4096  # bytes fetched by info(): the header almost always fits


def parse_header_length(key: str, head: bytes) -> int:
    """Where a record's header ends, from its fixed prefix (``head`` may stop before)."""
    if len(head) < HEADER_FIXED:
        raise CorruptEntryError(f"Entry {key!r} is truncated; delete it.", key=key)
    nlen = int.from_bytes(head[4:6], "little")
    jlen = int.from_bytes(head[6:10], "little")
    return HEADER_FIXED + nlen + jlen


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class RedisStore:
    """A key-value store on a Redis server, shared by every process that can reach it.

    Parameters
    ----------
    url
        A Redis URL, e.g. ``"redis://localhost:6379/0"`` or ``"unix:///tmp/redis.sock"``.
    namespace
        Prefix of every Redis key this store uses, so several stores (or other
        applications) can share one database. ``keys()`` and ``len()`` see only it.
    lock_timeout
        Lease of the :meth:`transact` lock in seconds: if the holder dies, others may take
        it after this long. A block must finish within it.
    wait_timeout
        How long :meth:`transact` waits for the lock before raising
        :class:`~persist_ext.ConcurrentAccessError`.
    budget
        Limits features keep this store to (a :class:`~persist_ext.Budget` or a dict of its
        fields); see docs/budgets.md.

    Examples
    --------
    With a Redis server running (``tests/unit/test_redis_store.py`` runs this against a
    real one)::

        store = RedisStore("redis://localhost:6379/0")
        store.set("tasks/fit/status", "done")
        store.add("tasks/fit/reached", True), store.add("tasks/fit/reached", True)
        # (True, False)
    """

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        *,
        namespace: str = "persist_ext",
        lock_timeout: float = 60.0,
        wait_timeout: float = 60.0,
        budget: Budget | Mapping[str, Any] | None = None,
    ) -> None:
        import redis  # optional dependency: persist_ext[redis]

        if not namespace or ":" in namespace:
            raise ValueError(f"namespace must be a non-empty name without ':', got {namespace!r}.")
        self.budget = Budget.coerce(budget)  # limits features enforce (docs/budgets.md)
        self.url = url
        self.namespace = namespace
        self.lock_timeout = lock_timeout
        self.wait_timeout = wait_timeout
        self._redis_errors = (redis.RedisError,)
        self._client: Any = redis.Redis.from_url(url)
        self._local = threading.local()  # per-thread transact() nesting depth and lock
        self._closed = False

    # -- pickling: workers (Dask, processes) reconnect from the URL ---------------------------
    def __getstate__(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "namespace": self.namespace,
            "lock_timeout": self.lock_timeout,
            "wait_timeout": self.wait_timeout,
            "budget": self.budget,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state.pop("url"), **state)  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"RedisStore({self.url!r}, namespace={self.namespace!r})"

    # -- helpers ----------------------------------------------------------------------------
    def _key(self, key: str) -> str:
        if self._closed:
            raise StoreClosedError(f"{self!r} is closed; open a new RedisStore.", key=key)
        check_key(key)
        return f"{self.namespace}:{key}"

    @contextlib.contextmanager
    def _errors(self, key: str | None) -> Iterator[None]:
        try:
            yield
        except self._redis_errors as exc:
            raise StoreError(f"Redis at {self.url} failed: {exc}", key=key) from exc

    def _frame(
        self,
        key: str,
        value: Any,
        expire: float | None,
        meta: dict | None,
        serializer: str | None = None,
    ) -> tuple[bytes, EntryInfo]:
        entry = encode_entry(key, value, expire=expire, meta=meta, serializer=serializer)
        return entry.record(), entry.info

    def _where(self, key: str) -> Where:
        return Where(f"Entry {key!r} of {self!r}", self.url)

    @staticmethod
    def _px(expire: float | None) -> int | None:
        if expire is None:
            return None
        if expire <= 0:
            raise ValueError(f"expire must be a positive number of seconds, got {expire!r}.")
        return max(1, int(expire * 1000))

    def _legacy_header(self, key: str, head: bytes) -> tuple[dict[str, Any] | None, int]:
        """Parse an unsigned value of an older version (describing it only)."""
        try:
            if len(head) < 8:
                raise ValueError("shorter than the frame")
            end = 8 + int.from_bytes(head[4:8], "little")
            if end > len(head):
                return None, end
            return json.loads(head[8:end]), end
        except (ValueError, UnicodeDecodeError) as exc:
            raise CorruptEntryError(
                f"Entry {key!r} has a damaged header; delete it and store it again.", key=key
            ) from exc

    # -- the protocol -----------------------------------------------------------------------
    def set(
        self,
        key: str,
        value: Any,
        *,
        expire: float | None = None,
        meta: dict | None = None,
        serializer: str | None = None,
    ) -> EntryInfo:
        """Store ``value`` under ``key`` (replacing any previous value) and describe it.

        ``serializer`` names a registered serializer (e.g. ``"json"``); by default the
        registry picks one by type. An unstorable value raises ``SerializationError`` and
        leaves the previous value in place.
        """
        rkey = self._key(key)
        data, info = self._frame(key, value, expire, meta, serializer)
        with self._errors(key):
            self._client.set(rkey, data, px=self._px(expire))
        return info

    def add(self, key: str, value: Any, *, expire: float | None = None) -> bool:
        """Store ``value`` only if ``key`` is absent (``SET NX``); return whether it was added.

        Atomic on the server: of any number of processes adding the same key, exactly one
        gets ``True``.
        """
        rkey = self._key(key)
        data, _ = self._frame(key, value, expire, None)
        with self._errors(key):
            return bool(self._client.set(rkey, data, px=self._px(expire), nx=True))

    def get(self, key: str, default: Any = MISSING, *, mmap: bool = False) -> Any:
        """Return the value of ``key``; ``default`` (or ``KeyError``) on a miss.

        ``mmap`` is accepted for protocol compatibility; values from Redis are in memory.
        """
        rkey = self._key(key)
        with self._errors(key):
            data = self._client.get(rkey)
        if data is None:
            if default is MISSING:
                raise KeyError(key)
            return default
        if data.startswith((MAGIC, _LEGACY_MAGIC)):
            # Checksum and MAC are verified before anything is decoded.
            return decode_record(key, data, self._where(key))
        try:
            return int(data)  # a counter made by incr(): a plain integer, never a pickle
        except ValueError:
            raise CorruptEntryError(
                f"Entry {key!r} was not written by persist_ext; delete it.", key=key
            ) from None

    def info(self, key: str) -> EntryInfo | None:
        """Describe ``key`` from its header alone (``GETRANGE``); ``None`` on a miss."""
        rkey = self._key(key)
        with self._errors(key):
            pipe = self._client.pipeline(transaction=True)
            pipe.getrange(rkey, 0, _HEADER_PROBE - 1).strlen(rkey)
            head, size = pipe.execute()
        if not size:
            return None
        if head.startswith(MAGIC):
            end = parse_header_length(key, head)
            if end > len(head):  # a header longer than the probe: fetch exactly its length
                with self._errors(key):
                    head = self._client.getrange(rkey, 0, end - 1)
            return read_info(key, head)
        if not head.startswith(_LEGACY_MAGIC):
            text = head.decode("ascii", "replace")
            if text.lstrip("-").isdigit():  # a counter made by incr()
                return EntryInfo(key, "int", size, 0.0, {"type": "int", "repr": text})
            summary = {"type": "unknown", "repr": "<not written by persist_ext: never decoded>"}
            return EntryInfo(key, "foreign", size, 0.0, summary)
        header, start = self._legacy_header(key, head)
        if header is None:  # a header longer than the probe: fetch exactly its length
            with self._errors(key):
                head = self._client.getrange(rkey, 0, start - 1)
            header, start = self._legacy_header(key, head)
            if header is None:
                raise CorruptEntryError(f"Entry {key!r} is truncated; delete it.", key=key)
        return EntryInfo(
            key,
            header["serializer"],
            size - start,
            header["created"],
            header["summary"],
            header["meta"],
            header["expires"],
        )

    def resign(self) -> tuple[int, int, list[str], list[str]]:
        """Re-sign every entry with this machine's secret (``persist_ext.trust`` calls this).

        Returns ``(signed, already, corrupt, refused)`` like ``Store.resign``; nothing is
        decoded, counters (plain integers) are left as they are, expiries are kept.
        """
        signed, already, corrupt, refused = 0, 0, [], []
        for key in self.keys():
            rkey = self._key(key)
            with self._errors(key):
                data = self._client.get(rkey)
            if data is None or not is_record(data):
                continue
            try:
                new = resign(key, data)
            except InvalidPickle:
                corrupt.append(key)
                continue
            except CorruptEntryError:
                refused.append(key)
                continue
            if new is None:
                already += 1
                continue
            with self._errors(key):
                self._client.set(rkey, new, keepttl=True, xx=True)
            signed += 1
        return signed, already, corrupt, refused

    def delete(self, key: str) -> bool:
        """Remove ``key``; return whether it existed."""
        rkey = self._key(key)
        with self._errors(key):
            return bool(self._client.delete(rkey))

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Iterate over the keys starting with ``prefix`` (``SCAN``, sorted)."""
        rprefix = self._key(prefix)
        cut = len(self.namespace) + 1
        with self._errors(None):
            found = [
                k.decode()[cut:]
                for k in self._client.scan_iter(match=_glob_escape(rprefix) + "*", count=1000)
            ]
        transact_key = "__transact__"
        return iter(sorted(k for k in found if k != transact_key))

    def incr(self, key: str, delta: int = 1, default: int = 0) -> int:
        """Add ``delta`` to the integer at ``key`` (``default`` if absent), atomically."""
        rkey = self._key(key)
        with self._errors(key):
            pipe = self._client.pipeline(transaction=True)
            pipe.set(rkey, int(default), nx=True).incrby(rkey, int(delta))
            try:
                _, value = pipe.execute()
            except self._redis_errors as exc:
                if "not an integer" not in str(exc):
                    raise
                raise StoreError(
                    f"Entry {key!r} holds a stored value, not a counter; incr() works on keys "
                    "created by incr() only.",
                    key=key,
                ) from exc
        return int(value)

    @contextlib.contextmanager
    def transact(self) -> Iterator[RedisStore]:
        """Hold the store's Redis lock for the block (re-entrant within a thread).

        Raises :class:`~persist_ext.ConcurrentAccessError` if the lock is not acquired
        within ``wait_timeout`` seconds.
        """
        depth = getattr(self._local, "depth", 0)
        if depth:
            self._local.depth = depth + 1
            try:
                yield self
            finally:
                self._local.depth -= 1
            return
        lock = self._client.lock(
            self._key("__transact__"),
            timeout=self.lock_timeout,
            blocking_timeout=self.wait_timeout,
            thread_local=False,
        )
        with self._errors(None):
            acquired = lock.acquire()
        if not acquired:
            raise ConcurrentAccessError(
                f"Another process held the transaction lock of {self!r} for more than "
                f"{self.wait_timeout} s; retry, or raise wait_timeout."
            )
        self._local.depth = 1
        try:
            yield self
        finally:
            self._local.depth = 0
            with contextlib.suppress(*self._redis_errors):
                lock.release()  # an expired lease was already released by Redis

    def close(self) -> None:
        """Close the connection pool; later operations raise ``StoreClosedError``."""
        if not self._closed:
            self._closed = True
            self._client.close()

    def clear(self) -> int:
        """Delete every key of this store's namespace; return how many were deleted."""
        removed = 0
        for key in list(self.keys()):
            removed += self.delete(key)
        return removed

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        with self._errors(key):
            return bool(self._client.exists(self._key(key)))

    def __len__(self) -> int:
        return sum(1 for _ in self.keys())

    def __enter__(self) -> RedisStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
