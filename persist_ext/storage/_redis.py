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

A store must never lose an entry behind the user's back, so opening a ``RedisStore`` checks
the server's ``maxmemory-policy`` and refuses any policy that evicts keys (everything but
``noeviction``) with an error naming that setting; ``allow_eviction=True`` (or
``?allow_eviction=1`` in the URL, for ``%%persist --store``) accepts eviction for a store used
as a cache. A full server with ``noeviction`` refuses writes, which become a
:class:`~persist_ext.StoreError` saying so.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .._errors import (
    ConcurrentAccessError,
    CorruptEntryError,
    InvalidPickle,
    StoreClosedError,
    StoreConfigError,
    StoreError,
)
from .._limits import Budget
from ._entry import (
    HEADER_FIXED,
    MAGIC,
    Where,
    check_key,
    decode_record,
    encode_entries,
    encode_entry,
    is_record,
    is_storable_key,
    read_info,
    resign,
)
from ._protocol import MISSING, EntryInfo

__all__ = ["RedisStore"]

_LEGACY_MAGIC = b"PXR1"  # unsigned values of older versions: described, never decoded
# change_token(): the store's change counter and the server's counts of keys it removed on
# its own (expired, evicted), read in one atomic step. A counter that is missing (a new
# store, a flushed or restarted server) starts at a random value, so a token seen before
# never comes back by counting up from zero again.
_TOKEN_SCRIPT = """
local c = redis.call('GET', KEYS[1])
if not c then
  redis.call('SET', KEYS[1], ARGV[1], 'NX')
  c = redis.call('GET', KEYS[1])
end
local s = redis.call('INFO', 'stats')
return {c, string.match(s, 'expired_keys:(%d+)') or '', string.match(s, 'evicted_keys:(%d+)') or ''}
"""
_HEADER_PROBE = 4096  # bytes fetched by info(): the header almost always fits


def parse_header_length(key: str, head: bytes) -> int:
    """Where a record's header ends, from its fixed prefix (``head`` may stop before)."""
    if len(head) < HEADER_FIXED:
        raise CorruptEntryError(f"Entry {key!r} is truncated; delete it.", key=key)
    nlen = int.from_bytes(head[4:6], "little")
    jlen = int.from_bytes(head[6:10], "little")
    return HEADER_FIXED + nlen + jlen


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def split_url(url: object) -> tuple[str, bool | None]:
    """``url`` without persist_ext's own ``allow_eviction`` query argument, and its value."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
        raise StoreConfigError(
            f"a Redis URL starts with redis://, rediss:// or unix://, not {url!r}; "
            "e.g. RedisStore('redis://localhost:6379/0')"
        )
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    allow: bool | None = None
    kept = []
    for name, value in query:
        if name != "allow_eviction":
            kept.append((name, value))
        elif value.lower() in _TRUE:
            allow = True
        elif value.lower() in _FALSE:
            allow = False
        else:
            raise StoreConfigError(f"allow_eviction in {url!r} must be 1 or 0, not {value!r}")
    return urlunsplit(parts._replace(query=urlencode(kept))), allow


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
        fields), or ``max_size= / max_count= / max_age=``; see docs/budgets.md.
    allow_eviction
        Accept a server whose ``maxmemory-policy`` evicts keys (entries may then vanish when
        Redis is full: only for a store used as a cache). By default such a server is refused
        with :class:`~persist_ext.StoreConfigError` naming the setting. ``?allow_eviction=1``
        in the URL does the same.

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
        allow_eviction: bool | None = None,
        max_size: int | str | None = None,
        max_count: int | str | None = None,
        max_age: float | str | None = None,
    ) -> None:
        import redis  # optional dependency: persist_ext[redis]

        clean_url, url_allows = split_url(url)
        if not isinstance(namespace, str) or not namespace or ":" in namespace:
            raise StoreConfigError(
                f"namespace must be a non-empty name without ':', got {namespace!r}."
            )
        for name, seconds in (("lock_timeout", lock_timeout), ("wait_timeout", wait_timeout)):
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
                raise StoreConfigError(
                    f"{name} must be a positive number of seconds, not {seconds!r}"
                )
        if allow_eviction is not None and not isinstance(allow_eviction, bool):
            raise StoreConfigError(f"allow_eviction must be True or False, not {allow_eviction!r}")
        self.budget = Budget.of(
            budget, max_size=max_size, max_count=max_count, max_age=max_age
        )  # limits features enforce (docs/budgets.md)
        self.url = url
        self.namespace = namespace
        self.lock_timeout = lock_timeout
        self.wait_timeout = wait_timeout
        self.allow_eviction = bool(allow_eviction if allow_eviction is not None else url_allows)
        self._redis_errors = (redis.RedisError,)
        self._response_error = redis.ResponseError
        self._oom_error = getattr(redis.exceptions, "OutOfMemoryError", redis.ResponseError)
        try:
            self._client: Any = redis.Redis.from_url(clean_url)
        except (ValueError, TypeError) as exc:
            raise StoreConfigError(f"{url!r} is not a usable Redis URL: {exc}") from exc
        self._local = threading.local()  # per-thread transact() nesting depth and lock
        self._closed = False
        # The change counter (change_token). Outside "<namespace>:" so no entry key can be
        # it and keys()/len()/volume() never see it.
        self._changes = f"{namespace}#changes"
        self._token_script: Any = None
        try:
            self.eviction_policy = self._check_eviction()
        except BaseException:
            self._client.close()
            raise

    # -- pickling: workers (Dask, processes) reconnect from the URL ---------------------------
    def __getstate__(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "namespace": self.namespace,
            "lock_timeout": self.lock_timeout,
            "wait_timeout": self.wait_timeout,
            "budget": self.budget,
            "allow_eviction": self.allow_eviction,
        }

    def reopen_spec(self) -> tuple[str, str, dict[str, Any]]:
        """How a worker process reopens this store: ``("redis", url, options)``.

        The options include ``allow_eviction``, so a worker accepts exactly what this
        process accepted (task groups' ``StoreSpec`` uses this).
        """
        state = self.__getstate__()
        return "redis", state.pop("url"), state

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
            if isinstance(exc, self._oom_error) or "maxmemory" in str(exc):
                raise StoreError(
                    f"Redis at {self.url} is full (it reached maxmemory and refuses writes, "
                    "keeping every stored entry): raise maxmemory (CONFIG SET maxmemory ...), "
                    "or delete entries you no longer need (store.clear(), %persist clear)",
                    key=key,
                ) from exc
            raise StoreError(f"Redis at {self.url} failed: {exc}", key=key) from exc

    def _check_eviction(self) -> str:
        """The server's ``maxmemory-policy``; refuses one that evicts unless allowed."""
        policy = None
        with self._errors(None):
            try:
                policy = self._client.info("memory").get("maxmemory_policy")
            except self._response_error:  # INFO may be renamed away on managed servers
                policy = None
            if policy is None:
                try:
                    policy = self._client.config_get("maxmemory-policy").get("maxmemory-policy")
                except self._response_error:
                    policy = None
        if policy is None:
            if self.allow_eviction:
                return "unknown"
            raise StoreConfigError(
                f"cannot read maxmemory-policy of Redis at {self.url} (INFO and CONFIG GET are "
                "refused), so it cannot be checked that Redis never evicts stored entries. Make "
                "sure maxmemory-policy is noeviction, then pass allow_eviction=True (or "
                "?allow_eviction=1 in the URL)"
            )
        if policy != "noeviction" and not self.allow_eviction:
            raise StoreConfigError(
                f"Redis at {self.url} has maxmemory-policy {policy!r}: when it is full it "
                "deletes keys, which would silently drop stored entries. Set maxmemory-policy "
                "to noeviction (redis-cli CONFIG SET maxmemory-policy noeviction, and "
                "'maxmemory-policy noeviction' in redis.conf), or, for a store used only as a "
                "cache, pass RedisStore(..., allow_eviction=True) or add ?allow_eviction=1 to "
                "the URL"
            )
        return str(policy)

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
        if isinstance(expire, bool) or not isinstance(expire, (int, float)) or not expire > 0:
            raise StoreConfigError(f"expire must be a positive number of seconds, got {expire!r}.")
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

    def _count_change(self, pipe: Any) -> Any:
        """Queue the change counter's increment in ``pipe`` (a MULTI/EXEC transaction).

        Every write and delete runs in one transaction with it, so no client ever sees the
        change without the new count (or the reverse). A lost ``add`` counts too: the token
        may move without a change, never stay put across one.
        """
        pipe.set(self._changes, secrets.randbits(62), nx=True)
        return pipe.incr(self._changes)

    def change_token(self) -> tuple[bytes, ...] | None:
        """A value that stays equal only while nothing in the store changes.

        It moves with every set, add, delete, incr and re-signing made through any
        ``RedisStore`` of this namespace (a counter incremented in the same transaction as
        each of them), and with every key the server itself removed, expired or evicted
        (its ``expired_keys`` and ``evicted_keys`` counts, server-wide: keys of other
        applications move it too). Redis removes an expired key when something reads it or
        in its background cycle, so the token moves at the latest when the expired entry is
        looked up; compare ``EntryInfo.expires`` with the clock for the exact moment (as
        ``persist_ext.cache`` does). Writes that bypass ``RedisStore`` (``redis-cli``,
        ``FLUSHDB``) are not counted. One round trip (a Lua script); ``None`` when the
        server refuses scripts. Compare tokens of one store only.
        """
        if self._closed:
            raise StoreClosedError(f"{self!r} is closed; open a new RedisStore.")
        try:
            if self._token_script is None:
                self._token_script = self._client.register_script(_TOKEN_SCRIPT)
            return tuple(self._token_script(keys=[self._changes], args=[secrets.randbits(62)]))
        except self._redis_errors:
            return None

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
            pipe = self._client.pipeline(transaction=True)
            pipe.set(rkey, data, px=self._px(expire))
            self._count_change(pipe).execute()
        return info

    def add(
        self,
        key: str,
        value: Any,
        *,
        expire: float | None = None,
        meta: dict | None = None,
        serializer: str | None = None,
    ) -> bool:
        """Store ``value`` only if ``key`` is absent (``SET NX``); return whether it was added.

        Atomic on the server: of any number of processes adding the same key, exactly one
        gets ``True``. ``meta`` and ``serializer`` are as for :meth:`set`.
        """
        rkey = self._key(key)
        data, _ = self._frame(key, value, expire, meta, serializer)
        with self._errors(key):
            pipe = self._client.pipeline(transaction=True)
            pipe.set(rkey, data, px=self._px(expire), nx=True)
            return bool(self._count_change(pipe).execute()[0])

    def add_many(
        self,
        items: Mapping[str, Any] | Iterable[tuple[str, Any]],
        *,
        expire: float | None = None,
        meta: dict | None = None,
        serializer: str | None = None,
    ) -> frozenset[str]:
        """:meth:`add` for several keys in one ``MULTI``/``EXEC``; returns the keys it set.

        Each key is a ``SET NX`` (set only if absent; a present key keeps its value and is
        not in the result, nor is a key repeated in ``items`` after its first value). The
        server runs the whole transaction at once, so every ``SET NX`` of the call is
        decided against the same state and none of another client's commands runs between
        them; a value that cannot be stored raises before anything is sent.
        """
        entries = encode_entries(items, expire=expire, meta=meta, serializer=serializer)
        if not entries:
            return frozenset()
        px = self._px(expire)
        keys = list(entries)
        with self._errors(None):
            pipe = self._client.pipeline(transaction=True)
            for key in keys:
                pipe.set(self._key(key), entries[key].record(), px=px, nx=True)
            replies = self._count_change(pipe).execute()
        return frozenset(key for key, reply in zip(keys, replies, strict=False) if reply)

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
                pipe = self._client.pipeline(transaction=True)
                pipe.set(rkey, new, keepttl=True, xx=True)
                self._count_change(pipe).execute()
            signed += 1
        return signed, already, corrupt, refused

    def delete(self, key: str) -> bool:
        """Remove ``key``; return whether it existed."""
        rkey = self._key(key)
        with self._errors(key):
            pipe = self._client.pipeline(transaction=True)
            pipe.delete(rkey)
            return bool(self._count_change(pipe).execute()[0])

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

    def incr(self, key: str, delta: int = 1, default: int | None = 0) -> int:
        """Add ``delta`` to the integer at ``key`` (``default`` if absent), atomically.

        ``default=None`` makes a missing key a ``KeyError``. A counter made by ``incr`` is a
        plain Redis integer (``INCRBY``); an int stored with :meth:`set` is updated in place,
        keeping its ``meta`` and expiry, as in the other stores.
        """
        rkey = self._key(key)
        for name, number in (("delta", delta), ("default", default)):
            if number is None and name == "default":
                continue
            if isinstance(number, bool) or not isinstance(number, int):
                raise StoreConfigError(f"incr() {name} must be an int, not {number!r}", key=key)
        if default is not None:
            with self._errors(key):
                pipe = self._client.pipeline(transaction=True)
                pipe.set(rkey, default, nx=True).incrby(rkey, delta)
                try:
                    value = self._count_change(pipe).execute()[1]
                    return int(value)
                except self._response_error as exc:
                    if "not an integer" not in str(exc):
                        raise
        return self._incr_entry(key, rkey, delta, default)

    def _incr_entry(self, key: str, rkey: str, delta: int, default: int | None) -> int:
        """``incr`` of a framed entry (or with ``default=None``): optimistic WATCH/MULTI."""
        import redis

        with self._errors(key), self._client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(rkey)
                    data = pipe.get(rkey)
                    if data is None:
                        if default is None:
                            raise KeyError(key)
                        pipe.multi()
                        pipe.set(rkey, default + delta)
                        self._count_change(pipe).execute()
                        return default + delta
                    if not data.startswith((MAGIC, _LEGACY_MAGIC)):
                        pipe.multi()
                        pipe.incrby(rkey, delta)
                        return int(self._count_change(pipe).execute()[0])
                    # Checksum and MAC are verified before anything is decoded.
                    current = decode_record(key, data, self._where(key))
                    meta = read_info(key, data).meta or None
                    if isinstance(current, bool) or not isinstance(current, int):
                        raise StoreError(
                            f"incr({key!r}) needs an int value, the entry holds "
                            f"{type(current).__name__}; set it to an int first.",
                            key=key,
                        )
                    ttl = pipe.pttl(rkey)
                    expire = ttl / 1000 if ttl and ttl > 0 else None
                    framed, _ = self._frame(key, current + delta, expire, meta)
                    pipe.multi()
                    pipe.set(rkey, framed, px=self._px(expire))
                    self._count_change(pipe).execute()
                    return current + delta
                except redis.WatchError:
                    continue  # another writer changed it between WATCH and EXEC: retry

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
        if not is_storable_key(key):
            return False
        with self._errors(key):
            return bool(self._client.exists(self._key(key)))

    def items_info(self, prefix: str = "") -> Iterator[tuple[str, EntryInfo]]:
        """``(key, EntryInfo)`` for the keys starting with ``prefix`` (headers only)."""
        for key in self.keys(prefix):
            info = self.info(key)
            if info is not None:
                yield key, info

    def volume(self) -> int:
        """Bytes held by this store's entries (the sum of their Redis string lengths)."""
        keys = [self._key(k) for k in self.keys()]
        with self._errors(None):
            pipe = self._client.pipeline(transaction=False)
            for rkey in keys:
                pipe.strlen(rkey)
            return int(sum(pipe.execute())) if keys else 0

    def __len__(self) -> int:
        return sum(1 for _ in self.keys())

    def __enter__(self) -> RedisStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
