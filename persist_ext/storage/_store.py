"""The embedded default store: diskcache in a directory, configured so it never loses data.

Layout of a store directory::

    cache.db (+ -wal, -shm)   SQLite index: one row per key (small values inline)
    blobs/<uuid>.bin          payloads above ``large_threshold``, one file each

Why not plain ``diskcache.Cache(directory)``:

* its default ``size_limit`` (1 GiB) with ``eviction_policy="least-recently-stored"``
  silently culls old entries: seven 191 MB values written in a row left one. A store that
  keeps hours of work must never drop data on its own, so eviction is off and the limit is
  effectively infinite;
* its ``set`` copies a large value through a 4 MiB chunked writer (~0.4 GB/s here, 7-12x
  slower than one ``write``); the store writes large payloads itself, straight from the
  value's buffers, and hands diskcache only the file name;
* keys are plain ``str`` (digests or ``/``-separated names), never pickled arguments.

Crash safety: a blob gets a fresh unique name and is complete (and fsynced when
``durable=True``) before the SQLite transaction that references it commits; the row replaces
the old one atomically; the old blob is deleted after the commit (large ones by a
background thread, see ``_disk.py``; :meth:`Store.close` waits for it). A process killed at
any instant therefore leaves the old value or the new one; orphans are removed by
:meth:`Store.cleanup`.

Listing, counting and cleanup live in :class:`~persist_ext.storage._store_scan.StoreScan`.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import itertools
import logging
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import diskcache

from .._config import default_directory
from .._cwd import absolute
from .._errors import (
    CorruptEntryError,
    InvalidPickle,
    StoreClosedError,
    StoreConfigError,
    StoreError,
)
from .._limits import Budget
from ._disk import (
    BLOB_DIR,
    MODE_BLOB,
    BlobDisk,
    BlobRef,
    External,
    ForeignRecord,
    RefusedRecord,
    drain_removals,
    open_blob,
    read_blob,
    translate_errors,
    translated,
)
from ._entry import (
    EncodedEntry,
    Where,
    check_key,
    decode_record,
    encode_entries,
    encode_entry,
    load_payload,
    parse_header,
    read_info,
    resign,
    verify,
)
from ._forkgate import WRITING
from ._protocol import MISSING, EntryInfo
from ._serializers import serializer_named
from ._store_scan import StoreScan
from ._walindex import WalIndex

__all__ = ["DEBRIS_EVERY", "LARGE_THRESHOLD", "Store"]

logger = logging.getLogger("persist_ext")

LARGE_THRESHOLD = 1 << 20
DEBRIS_EVERY = 60.0  # seconds between debris sweeps triggered by large writes
# "Never evict": diskcache compares the total size against size_limit before culling;
# 2**62 bytes is unreachable, and eviction_policy="none" disables culling by age anyway.
_NO_LIMIT = 1 << 62
_ABSENT = object()
# diskcache.Cache.get's query (a str key is stored as itself with raw = 1).
_SELECT = (
    "SELECT mode, filename, value FROM Cache "
    "WHERE key = ? AND raw = 1 AND (expire_time IS NULL OR expire_time > ?)"
)
_SERIALS = itertools.count(1)
# Keys per "key IN (...)" query (SQLite's default limit on bound parameters is 999).
_IN_CHUNK = 500


class _State(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"


class Store(StoreScan):
    """A persistent key-value store in a directory (the :class:`KeyValueStore` default).

    Parameters
    ----------
    directory
        Where the store lives; default :func:`persist_ext._config.default_directory`
        (``$PERSIST_EXT_DIR`` or ``.persist/`` next to the notebook). Created if missing.
    durable
        fsync every write (blob file, its directory, SQLite ``synchronous=FULL``) so it also
        survives power loss; costs one or more disk flushes per ``set`` (see docs/storage.md).
        Without it a write survives a killed process, not a power cut.
    large_threshold
        Payloads of at least this many bytes go to their own file (written in one pass and
        memory-mappable); smaller ones live inline in SQLite.
    read_only
        Open an existing store for description only: ``info``, ``keys``, ``items_info``,
        ``len``, ``in`` and ``volume`` work; ``get`` (which could unpickle) and every write
        raise :class:`~persist_ext.StoreError`. The Jupyter server uses this.
    timeout
        Seconds to wait for another process's write lock before raising ``StoreError``.
    budget
        Limits this store keeps to (a :class:`~persist_ext.Budget` or a dict of its fields:
        ``max_size``, ``max_count``, ``max_age``); features that write through this object
        evict least recently used cached units beyond it (see docs/budgets.md); or give the
        limits one by one: ``max_size="10G"``, ``max_count=500``, ``max_age="30d"``. Default: no
        limit of its own (traitlets and ``PERSIST_EXT_MAX_*`` may still set one).

    Examples
    --------
    >>> import tempfile
    >>> with Store(tempfile.mkdtemp()) as store:
    ...     info = store.set("results/x", [1, 2, 3], meta={"unit": "m"})
    ...     store.get("results/x"), info.summary["len"], store.info("results/x").meta
    ([1, 2, 3], 3, {'unit': 'm'})
    >>> store.get("results/x")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    persist_ext._errors.StoreClosedError: The store at ... is closed; ...
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        *,
        durable: bool = False,
        large_threshold: int = LARGE_THRESHOLD,
        read_only: bool = False,
        timeout: float = 60.0,
        budget: Budget | Mapping[str, Any] | None = None,
        max_size: int | str | None = None,
        max_count: int | str | None = None,
        max_age: float | str | None = None,
    ) -> None:
        self.budget = Budget.of(budget, max_size=max_size, max_count=max_count, max_age=max_age)
        self.directory = Path(absolute(default_directory(directory)))
        self._source = str(self.directory)  # what errors name, and what to trust
        for flag, value in (("durable", durable), ("read_only", read_only)):
            if not isinstance(value, bool):
                # Store(read_only="no") would open read-only: refuse what is not a bool.
                raise StoreConfigError(f"{flag} is True or False, not {value!r}")
        self.durable = durable
        if isinstance(large_threshold, bool) or not isinstance(large_threshold, int):
            raise StoreConfigError(
                f"large_threshold must be a byte count (an int), not {large_threshold!r}"
            )
        self.large_threshold = large_threshold
        self.read_only = read_only
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, (int, float))
            or not 0 <= timeout < float("inf")
        ):
            raise StoreConfigError(
                f"timeout must be the seconds to wait for another process's write lock "
                f"(a number >= 0, e.g. 60.0), not {timeout!r}"
            )
        if self.large_threshold < 1:
            raise StoreConfigError(
                f"large_threshold must be a positive byte count, not {large_threshold}"
            )
        if read_only and not (self.directory / diskcache.core.DBNAME).is_file():
            raise StoreError(
                f"No store at {self.directory}; open it once without read_only=True to create it."
            )
        if self.directory.exists() and not self.directory.is_dir():
            raise StoreConfigError(
                f"A store is a folder, and {self.directory} is a file; pass a folder path "
                "(it is created if missing), e.g. Store('.persist')."
            )
        _refuse_links(self.directory)
        _refuse_planted_sql(self.directory)
        if not read_only:
            with translate_errors(where=f"creating {self.directory}"):
                _create_index(self.directory)
        settings: dict[str, Any] = {}
        if not read_only:  # a read-only open keeps the index's own settings untouched
            settings = {
                "eviction_policy": "none",
                "size_limit": _NO_LIMIT,
                "cull_limit": 10,  # with eviction off, culling only removes expired entries
                "statistics": False,
                "tag_index": False,
                # Everything below large_threshold is inline; diskcache never writes its
                # own (chunk-copied, never fsynced) files for our records.
                "disk_min_file_size": self.large_threshold + (1 << 20),
                "sqlite_synchronous": 2 if durable else 1,
            }
        with WRITING, translate_errors(where=f"opening {self.directory}"):
            self._cache = diskcache.Cache(
                str(self.directory), timeout=timeout, disk=BlobDisk, **settings
            )
        self._disk: BlobDisk = self._cache.disk
        self._disk.durable = durable
        self._state = _State.OPEN
        self._swept = time.monotonic()
        self._connections = threading.local()  # see change_token
        if not read_only:
            # Crash debris (blobs of killed writers) goes on every open, and on a large write
            # at most once a minute after that; expired entries about once a day.
            with translate_errors(where=f"removing crash debris in {self.directory}"):
                self.remove_debris()
            self._maybe_cleanup()

    # ----------------------------------------------------------------- lifecycle
    def _open_cache(self, *, write: bool = False) -> diskcache.Cache:
        if self._state is not _State.OPEN:
            raise StoreClosedError(
                f"The store at {self.directory} is closed; "
                f"open a new Store({str(self.directory)!r})."
            )
        if write and self.read_only:
            raise StoreError(
                f"The store at {self.directory} was opened read_only=True; open it without "
                "read_only to change it."
            )
        return self._cache

    def close(self) -> None:
        """Close the store; later operations raise :class:`~persist_ext.StoreClosedError`."""
        if self._state is _State.OPEN:
            self._state = _State.CLOSED
            with WRITING:  # the last connection's close checkpoints the log
                self._cache.close()
            self._connections = threading.local()  # drops every thread's wal-index map
            # Replaced large blobs are deleted in the background; finish before returning
            # so a closed store's directory holds only live data and can be removed.
            drain_removals()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.directory)!r}, state={self._state.value})"

    # ----------------------------------------------------------------- writing
    def _write(self, op: str, key: str, value: Any, expire: Any, meta: Any, ser: Any) -> Any:
        self._open_cache(write=True)
        entry = encode_entry(key, value, expire=expire, meta=meta, serializer=ser)
        return entry.info, self._write_entry(op, key, entry, expire)

    def _write_entry(self, op: str, key: str, entry: EncodedEntry, expire: Any) -> Any:
        cache = self._open_cache(write=True)
        filename = handle = None
        if entry.info.size < self.large_threshold:
            record: Any = entry.record()
        else:
            with translate_errors(key, where=f"writing {key!r}"):
                filename, _, handle = self._disk.write_blob(entry.buffers)
            record = External(entry.header, filename, entry.info.size)
        try:
            with WRITING, translate_errors(key, where=op):
                if op == "set":
                    cache.set(key, record, expire=expire)
                    result: Any = True
                else:
                    result = cache.add(key, record, expire=expire)
        except BaseException:
            if filename is not None:
                self._disk.discard(filename)
            raise
        finally:
            # Unlocked once its row is committed (inside transact(), when the block ends).
            if handle is not None and not self._disk.in_transaction():
                handle.close()
        if op == "add" and not result and filename is not None:
            self._disk.discard(filename)  # lost the race: nothing references our blob
        if filename is not None and time.monotonic() - self._swept > DEBRIS_EVERY:
            self._sweep()
        return result

    def _sweep(self) -> None:
        """Remove other processes' crash debris during a long session (housekeeping only)."""
        self._swept = time.monotonic()
        if self._disk.in_transaction():
            return
        try:
            self.remove_debris()
        except Exception as exc:  # housekeeping must never fail the write that triggered it
            logger.warning("persist_ext: removing crash debris in %s: %s", self.directory, exc)

    def set(
        self,
        key: str,
        value: Any,
        *,
        expire: float | None = None,
        meta: dict[str, Any] | None = None,
        serializer: str | None = None,
    ) -> EntryInfo:
        """Store ``value`` under ``key``, replacing any old value atomically.

        Parameters
        ----------
        key
            A ``str``: a digest or a ``/``-separated name.
        value
            Anything a registered serializer or pickle can store.
        expire
            Seconds until the entry disappears (``None``: never).
        meta
            Small JSON-ready dict kept with the entry and returned by :meth:`info`.
        serializer
            Force a serializer by name (e.g. ``"json"``); default: chosen by type.

        Returns
        -------
        EntryInfo
            What was recorded (serializer, payload size, summary, meta).

        Raises
        ------
        SerializationError
            The value (or ``meta``) cannot be serialized; nothing was changed.

        Examples
        --------
        >>> import tempfile, threading
        >>> store = Store(tempfile.mkdtemp())
        >>> store.set("n", 41).serializer
        'pickle'
        >>> store.set("n", threading.Lock())  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        persist_ext._errors.SerializationError: Cannot pickle a value of type _thread.lock: ...
        >>> store.get("n")
        41
        """
        return self._write("set", key, value, expire, meta, serializer)[0]

    def add(
        self,
        key: str,
        value: Any,
        *,
        expire: float | None = None,
        meta: dict[str, Any] | None = None,
        serializer: str | None = None,
    ) -> bool:
        """Store ``value`` only if ``key`` is absent; atomic across processes.

        Returns whether it was added. Exactly one of several racing processes gets ``True``.

        >>> import tempfile
        >>> store = Store(tempfile.mkdtemp())
        >>> store.add("once", 1), store.add("once", 2), store.get("once")
        (True, False, 1)
        """
        return bool(self._write("add", key, value, expire, meta, serializer)[1])

    def add_many(
        self,
        items: Mapping[str, Any] | Iterable[tuple[str, Any]],
        *,
        expire: float | None = None,
        meta: dict[str, Any] | None = None,
        serializer: str | None = None,
    ) -> frozenset[str]:
        """:meth:`add` for several keys in one transaction; returns the keys it set.

        Each key is set only if absent, as :meth:`add` would (atomic across processes: the
        presence check and the writes are one SQLite transaction holding the write lock); a
        key already present keeps its value and is not in the result, nor is a key repeated
        in ``items`` after its first value. All or nothing: a value that cannot be stored
        raises before anything is written, and a failure while writing rolls back the
        whole call (inside an outer :meth:`transact`, with that block).

        >>> import tempfile
        >>> store = Store(tempfile.mkdtemp())
        >>> store.add("b", 0)
        True
        >>> sorted(store.add_many({"a": 1, "b": 2, "c": 3})), store.get("b")
        (['a', 'c'], 0)
        """
        cache = self._open_cache(write=True)
        entries = encode_entries(items, expire=expire, meta=meta, serializer=serializer)
        added: set[str] = set()
        if not entries:
            return frozenset()
        with self.transact():
            # One query finds the keys that have a row. A live one is kept; a new key with a
            # small record is inserted straight away, the row diskcache's add would insert;
            # the rest (an expired row to replace, a blob to write) take add's own path.
            now = time.time()
            present = self._present(list(entries))
            disk = self._disk
            expire_time = None if expire is None else now + expire
            with translate_errors(where="add_many"):
                for key, entry in entries.items():
                    if key in present:
                        expires = present[key]
                        if expires is None or expires > now:
                            continue
                    if key in present or entry.info.size >= self.large_threshold:
                        if self._write_entry("add", key, entry, expire):
                            added.add(key)
                        continue
                    db_key, raw = disk.put(key)
                    size, mode, filename, value = disk.store(entry.record(), False, key=key)
                    columns = (expire_time, None, size, mode, filename, value)
                    cache._row_insert(db_key, raw, now, columns)
                    added.add(key)
        return frozenset(added)

    def _present(self, keys: list[str]) -> dict[str, float | None]:
        """The keys among ``keys`` that have a row in the index, expired or not, with their
        expiry time (call inside a transaction: the answer holds until it ends)."""
        con = self._cache._con
        found: dict[str, float | None] = {}
        for start in range(0, len(keys), _IN_CHUNK):
            chunk = keys[start : start + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT key, expire_time FROM Cache WHERE raw = 1 AND key IN ({marks})"
            with translate_errors(where="add_many"):
                found.update(con.execute(query, chunk).fetchall())
        return found

    def delete(self, key: str) -> bool:
        """Remove ``key``; return whether it existed."""
        cache = self._open_cache(write=True)
        if type(key) is not str or not key.isascii():
            check_key(key)
        with WRITING, translate_errors(key, where="delete"):
            return bool(cache.delete(key))

    def incr(self, key: str, delta: int = 1, default: int | None = 0) -> int:
        """Add ``delta`` to the integer at ``key`` (``default`` if absent) atomically.

        ``default=None`` makes a missing key a ``KeyError``. Meta and expiry are kept.

        >>> import tempfile
        >>> store = Store(tempfile.mkdtemp())
        >>> store.incr("hits"), store.incr("hits", 10)
        (1, 11)
        """
        self._open_cache(write=True)
        with self.transact():
            record = self._raw(key)
            meta, expire = None, None
            if record is _ABSENT:
                if default is None:
                    raise KeyError(key)
                current = default
            else:
                current = self._decode(key, record, mmap=False)  # verified like any entry
                info = self._info_of(key, record)
                meta = info.meta or None
                if info.expires is not None:
                    expire = max(info.expires - time.time(), 0.001)
            if isinstance(current, bool) or not isinstance(current, int):
                raise StoreError(
                    f"incr({key!r}) needs an int value, the entry holds "
                    f"{type(current).__name__}; set it to an int first.",
                    key=key,
                )
            new = current + delta
            # Counters are JSON, never pickles: describing or reading one runs no code.
            self.set(key, new, expire=expire, meta=meta, serializer="json")
        return new

    @contextlib.contextmanager
    def transact(self) -> Iterator[Store]:
        """Group operations into one atomic transaction (diskcache ``transact``).

        Other processes' writes wait until the block ends; an exception rolls everything
        back. Keep the block short: it holds the store's write lock.

        >>> import tempfile
        >>> store = Store(tempfile.mkdtemp())
        >>> with store.transact():
        ...     _ = store.set("a", 1); _ = store.set("b", 2)
        >>> sorted(store.keys())
        ['a', 'b']
        """
        cache = self._open_cache(write=True)
        with WRITING, self._disk.deferring() as pending:
            manager = cache.transact(retry=False)
            with translate_errors(where="starting a transaction"):
                manager.__enter__()
            try:
                yield self
            except BaseException:
                # Rolled back: the blobs written in the block are referenced by nothing.
                for name in pending.written if pending else ():
                    self._disk.discard(name)
                if not manager.__exit__(*sys.exc_info()):
                    raise
            else:
                with translate_errors(where="committing a transaction"):
                    manager.__exit__(None, None, None)
            finally:
                for handle in pending.held if pending else ():
                    handle.close()  # committed or rolled back: release the writer's locks
        # Only the outermost block deletes replaced blobs, and only after its commit (a
        # rollback restores rows that still point at them).
        for name in pending.removed if pending else ():
            self._disk.discard(name)

    # ----------------------------------------------------------------- reading
    def _raw(self, key: str) -> Any:
        """The record of ``key`` as ``BlobDisk.fetch`` returns it, or ``_ABSENT``.

        The same query as ``diskcache.Cache.get``'s fast path (no statistics, no eviction
        bookkeeping on reads, both off here), on diskcache's connection of this thread, so
        it sees this thread's open transaction: without the Python layers around it, which
        cost as much as the MAC check of a small entry.
        """
        cache = self._open_cache()
        if type(key) is not str or not key.isascii():
            check_key(key)
        try:
            rows = cache._con.execute(_SELECT, (key, time.time())).fetchall()
            if not rows:
                return _ABSENT
            ((mode, filename, value),) = rows
            return self._disk.fetch(mode, filename, value, False)
        except Exception as exc:
            new = translated(exc, key, "get")
            if new is exc:
                raise
            raise new from exc

    def _where(self, key: str) -> Where:
        return Where.entry(key, self._source)

    def _decode(self, key: str, record: Any, *, mmap: bool) -> Any:
        if type(record) is bytes:  # an inline record, the common case (never refused/foreign)
            return decode_record(key, record, store=self._source)
        _refuse_foreign(key, record)
        where = self._where(key)
        if not isinstance(record, BlobRef):
            return decode_record(key, record, where)
        header = parse_header(key, record.header, where)
        try:
            serializer = serializer_named(header.serializer)
        except KeyError as exc:
            raise CorruptEntryError(f"{where.label}: {exc.args[0]}", key=key) from None
        fd = open_blob(self.directory, record.filename, key)  # FileNotFoundError: re-read
        try:
            if mmap and serializer.mappable:
                return self._load_mapped(key, header, serializer, fd, where, record.filename)
            try:
                payload, digest = read_blob(fd, header.size)
            except ValueError as exc:
                raise InvalidPickle(
                    f"{where.label}: {exc}; delete it and store it again.", key=key
                ) from exc
            verify(key, header, payload, where, digest=digest)
            return load_payload(key, header.serializer, payload, where)
        finally:
            os.close(fd)

    def _load_mapped(
        self, key: str, header: Any, serializer: Any, fd: int, where: Where, filename: str
    ) -> Any:
        """Map a pure-data payload after checking its MAC; its checksum is NOT verified.

        A memory-mapped restore reads pages on demand, so hashing the whole payload first
        would defeat it (docs/security.md says so). The signed head and tail (dtype, shape,
        Arrow schema) are authenticated; the data bytes are not checked.
        """
        size = os.fstat(fd).st_size
        if size != header.size:
            raise InvalidPickle(
                f"{where.label}: its blob has {size} bytes, expected {header.size}; delete it "
                "and store it again.",
                key=key,
            )
        head = os.pread(fd, header.signed_head, 0)
        tail = os.pread(fd, header.signed_tail, size - header.signed_tail)
        verify(key, header, None, where, signed_parts=(head, tail))
        pinned = Path(f"/proc/self/fd/{fd}")
        path = pinned if pinned.exists() else self.directory / filename
        try:
            return serializer.load_file(path, size, mmap=True)
        except Exception as exc:
            raise CorruptEntryError(
                f"{where.label} (serializer {header.serializer!r}) cannot be mapped: "
                f"{type(exc).__name__}: {exc}. Delete it and store it again.",
                key=key,
            ) from exc

    def get(self, key: str, default: Any = MISSING, *, mmap: bool = False) -> Any:
        """The value at ``key``; ``default`` if absent, else ``KeyError``.

        ``mmap=True`` maps large numpy arrays (``np.memmap``, read-only) and Arrow frames
        instead of reading them: opening a 1 GiB array takes well under 10 ms. A mapped
        payload's MAC is checked but its checksum is not (that would read it all); other
        values are read and verified as usual.

        Every entry is authenticated before it is decoded: one not signed with this
        machine's secret raises :class:`~persist_ext.UntrustedEntryError` and is never
        unpickled; a checksum mismatch raises :class:`~persist_ext.InvalidPickle`.

        Raises
        ------
        KeyError
            ``key`` is absent and no ``default`` was given.
        CorruptEntryError
            The entry exists but cannot be decoded (its class is gone, its file truncated).
        """
        if self.read_only:
            self._open_cache()
            raise StoreError(
                f"The store at {self.directory} was opened read_only=True, which never "
                "decodes values; use info()/items_info(), or open it without read_only.",
                key=key,
            )
        previous = None
        while True:
            record = self._raw(key)
            if record is _ABSENT:
                if default is MISSING:
                    raise KeyError(key)
                return default
            try:
                return self._decode(key, record, mmap=mmap)
            except FileNotFoundError as exc:
                # Another process replaced the entry (and removed its blob) between our
                # index read and the file open: read the index again.
                if record == previous:
                    raise CorruptEntryError(
                        f"Entry {key!r}: its data file {record.filename} is missing; delete "
                        "the entry and store it again.",
                        key=key,
                    ) from exc
                previous = record

    def resign(self) -> tuple[int, int, list[str], list[str]]:
        """Re-sign every entry with this machine's secret (``persist_ext.trust`` calls this).

        Returns ``(signed, already, corrupt, refused)``: entries signed now, entries already
        signed with this secret, keys whose checksum fails (never signed) and keys whose row
        persist_ext refuses (a file outside the store, another program's record). Nothing is
        decoded; a blob is read only to check its checksum.
        """
        cache = self._open_cache(write=True)
        signed, already, corrupt, refused = 0, 0, [], []
        with translate_errors(where="re-signing"):
            rows = cache._sql(
                "SELECT rowid, key, mode, filename, value FROM Cache WHERE raw = 1"
            ).fetchall()
        for rowid, key, mode, filename, value in rows:
            if not isinstance(key, str) or not isinstance(value, bytes):
                refused.append(str(key))
                continue
            try:
                if mode == diskcache.core.MODE_RAW:
                    new = resign(key, value)
                elif mode == MODE_BLOB:
                    fd = open_blob(self.directory, filename, key)
                    try:
                        size = os.fstat(fd).st_size
                        payload, _ = read_blob(fd, size)
                    finally:
                        os.close(fd)
                    new = resign(key, value, payload)
                else:
                    refused.append(key)
                    continue
            except (InvalidPickle, ValueError):
                corrupt.append(key)
                continue
            except (StoreError, OSError):
                refused.append(key)
                continue
            if new is None:
                already += 1
                continue
            with self.transact(), translate_errors(key, where="re-signing"):
                cache._sql(
                    "UPDATE Cache SET value = ? WHERE rowid = ? AND key = ?",
                    (sqlite3.Binary(new), rowid, key),
                )
            signed += 1
        return signed, already, corrupt, refused

    def _info_of(self, key: str, record: Any) -> EntryInfo:
        _refuse_foreign(key, record)
        return read_info(key, record.header if isinstance(record, BlobRef) else record)

    def info(self, key: str) -> EntryInfo | None:
        """What is known about ``key`` without decoding its value (``None`` if absent)."""
        record = self._raw(key)
        return None if record is _ABSENT else self._info_of(key, record)

    def change_token(self) -> tuple[int, int, int, int] | None:
        """A value that stays equal only while nothing in the store changes.

        Two calls return equal tokens only if, in between, no process (this one included)
        committed a change to the store — a set, add, delete, incr, a budget's eviction,
        a re-signing — and no entry reached its expiry time. SQLite's ``PRAGMA
        data_version`` moves with every commit of another connection, ``total_changes``
        with every change made on this thread's own connection; the earliest expiry time
        of the stored entries is read again when either moves, and passing it moves the
        token too. Between two calls with no commit anywhere, not even the pragma runs: the
        header of SQLite's shared wal-index, which every commit rewrites, is compared
        (``_walindex``). A cheaper check than ``key in store`` for a caller that keeps a
        value in memory and must notice when another process deletes or replaces it
        (``persist_ext.cache``, the cell cache). ``None`` when it cannot be known; compare
        tokens of one store only.
        """
        cache = self._open_cache()
        try:
            con = cache._con  # diskcache's connection of this thread (one per thread)
            local = self._connections
            if getattr(local, "con", None) is not con:
                # Tokens of two connections differ; the expiry state starts afresh.
                if getattr(local, "wal", None) is not None:
                    local.wal.close()
                local.con, local.serial = con, next(_SERIALS)
                local.seen, local.deadline, local.passed, local.token = None, None, 0, None
                local.wal, local.header = None, None
            # Read before the pragma: a commit after this read moves the next one.
            header = local.wal.header() if local.wal is not None else None
            if header is not None and header == local.header and self._unexpired(local):
                return local.token  # the common case: nothing committed, nothing expired
            ((version,),) = con.execute("PRAGMA data_version").fetchall()
            seen = (version, con.total_changes)
            if seen == local.seen and self._unexpired(local):
                local.header = header
                return local.token  # nothing changed, nothing expired
            if local.seen is not None and seen == local.seen:
                local.passed += 1  # an entry expired: a change without a commit
            local.seen, local.deadline = seen, _next_expiry(con, time.time())
            local.token = (local.serial, version, seen[1], local.passed)
            local.header = header
            if local.wal is None:
                # Mapped once this connection has read (its -shm is in use from then on).
                local.wal = WalIndex.beside(self.directory / diskcache.core.DBNAME)
            return local.token
        except (sqlite3.Error, ValueError):
            return None

    @staticmethod
    def _unexpired(local: Any) -> bool:
        # Whether no stored entry reached its expiry time since the token was made.
        deadline = local.deadline
        return local.token is not None and (deadline is None or time.time() < deadline)


def _next_expiry(con: sqlite3.Connection, now: float) -> float | None:
    """The earliest expiry time after ``now`` of an entry in the index (indexed column)."""
    ((deadline,),) = con.execute(
        "SELECT MIN(expire_time) FROM Cache WHERE expire_time > ?", (now,)
    ).fetchall()
    return None if deadline is None else float(deadline)


def _refuse_links(directory: Path) -> None:
    """Refuse a store whose index or blob folder is a symbolic link (it could lead anywhere)."""
    for name in (diskcache.core.DBNAME, "cache.db-wal", "cache.db-shm", BLOB_DIR):
        if os.path.islink(directory / name):
            raise StoreError(
                f"{directory / name} is a symbolic link; persist_ext never follows a link out of "
                "a store. Replace it with the real file or folder (or open the store it points "
                "to directly)."
            )


_SCHEMA_SECONDS = 5.0  # reading a few schema rows takes microseconds; a planted one spins


# The triggers diskcache (5.x) creates, by name, whitespace collapsed. Opening an existing
# store compares its schema with these; only when they differ is a throwaway cache made to
# learn what the installed diskcache writes (that costs a whole diskcache open: 15-50 ms,
# paid by the first %%persist cell of every kernel when it was done on every open).
_KNOWN_TRIGGERS: dict[str, str] = {
    f"Settings_{name}": f"CREATE TRIGGER Settings_{name} AFTER {event} ON Cache FOR EACH ROW "
    f'BEGIN UPDATE Settings SET value = {change} WHERE key = "{key}"; END'
    for name, event, change, key in (
        ("count_insert", "INSERT", "value + 1", "count"),
        ("count_delete", "DELETE", "value - 1", "count"),
        ("size_insert", "INSERT", "value + NEW.size", "size"),
        ("size_update", "UPDATE", "value + NEW.size - OLD.size", "size"),
        ("size_delete", "DELETE", "value - OLD.size", "size"),
    )
}


def _planted_rows(rows: list[Any], expected: dict[str, str]) -> list[str]:
    return [
        f"{kind} {name!r}"
        for kind, name, sql in rows
        if kind == "view"
        or (name in ("Cache", "Settings") and kind != "table")
        or (kind == "trigger" and expected.get(name) != " ".join(str(sql).split()))
    ]


@functools.lru_cache(maxsize=1)
def _diskcache_triggers() -> dict[str, str]:
    """The triggers the installed diskcache creates (from a throwaway cache), by name."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="persist-ext-schema-") as folder:
        diskcache.Cache(folder).close()
        con = sqlite3.connect(Path(folder) / diskcache.core.DBNAME)
        try:
            rows = con.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
            return {name: " ".join(sql.split()) for name, sql in rows.fetchall()}
        finally:
            con.close()


def _refuse_planted_sql(directory: Path) -> None:
    """Refuse an index whose schema runs SQL diskcache never wrote (views, edited triggers).

    A crafted ``cache.db`` (``Cache`` as a recursive view, a trigger that loops) would make
    every later statement spin. Only the schema table is read here, read-only and bounded.
    """
    path = directory / diskcache.core.DBNAME
    try:
        if path.stat().st_size == 0:
            return
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0)
    except (OSError, sqlite3.Error):
        return  # no index yet, or unreadable: diskcache reports it
    deadline = time.monotonic() + _SCHEMA_SECONDS
    con.set_progress_handler(lambda: time.monotonic() > deadline, 1000)
    try:
        rows = con.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
    except sqlite3.Error:
        return  # locked or damaged: diskcache's own open reports it
    finally:
        con.close()
    planted = _planted_rows(rows, _KNOWN_TRIGGERS)
    if planted:  # another diskcache version may write other triggers: ask it
        planted = _planted_rows(rows, _diskcache_triggers())
    if planted:
        raise StoreError(
            f"The index {path} holds {', '.join(planted)}, which diskcache never creates: "
            "someone edited it, and persist_ext does not run SQL it did not write. Move the "
            "store aside and start a new one (or restore it from a backup)."
        )


def _create_index(directory: Path) -> None:
    """Create the store folder and an empty index with the umask's permissions.

    SQLite would create ``cache.db`` with 0644 and diskcache the folder with 0755, which a
    group sharing the folder cannot write; SQLite's -wal and -shm files copy the index's mode.
    """
    directory.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        os.close(os.open(directory / diskcache.core.DBNAME, flags, 0o666))


def _refuse_foreign(key: str, record: Any) -> None:
    if isinstance(record, RefusedRecord):
        raise StoreError(
            f"Entry {key!r} is refused: {record.reason}. The store stays usable; remove the "
            f"row with store.delete({key!r}) (its file is left alone).",
            key=key,
        )
    if isinstance(record, ForeignRecord):
        raise CorruptEntryError(
            f"Entry {key!r} was not written by persist_ext (it is a diskcache pickle); "
            "persist_ext never unpickles what it did not write. Open it with diskcache "
            "itself if you trust its origin.",
            key=key,
        )
