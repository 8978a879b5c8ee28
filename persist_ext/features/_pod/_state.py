"""The in-memory state one process keeps for one POD directory, shared by every handle on it.

Memory model, built for large PODs:

* opening reads only the manifest (``len()`` comes from the chunk counts);
* the key -> chunk index is built on the first key operation from each chunk's header line;
* a chunk's raw lines are read when one of its keys is first read or when it must be rewritten,
  and a value is parsed from its line only when accessed (then cached);
* a sync rewrites only the chunks holding dirty or deleted keys, re-encoding only the dirty
  keys and copying the other lines verbatim.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..._errors import ConcurrentAccessError, PODError, StoreClosedError
from . import _exit as _pod_exit
from ._files import (
    DirLock,
    Manifest,
    chunk_name,
    encode_value,
    read_chunk,
    read_chunk_keys,
    read_manifest,
    remove_orphans,
    write_chunk,
    write_manifest,
)

__all__ = ["PODState", "SyncStats"]

_SCALARS = (str, int, float, bool, type(None))


class SyncStats:
    """What the last sync did: ``chunks`` rewritten and ``bytes`` written (incl. manifest)."""

    __slots__ = ("bytes", "chunks")

    def __init__(self, chunks: int = 0, nbytes: int = 0) -> None:
        self.chunks = chunks
        self.bytes = nbytes

    def __repr__(self) -> str:
        return f"SyncStats(chunks={self.chunks}, bytes={self.bytes})"


class _Chunk:
    __slots__ = ("cid", "count", "gen", "keys", "lines")

    def __init__(self, cid: int, gen: int, count: int) -> None:
        self.cid = cid
        self.gen = gen  # -1: never written
        self.count = count
        self.keys: dict[Any, None] | None = None  # ordered key set, once indexed
        self.lines: dict[Any, str] | None = None  # raw lines on disk, once read


class PODState:
    """Data, dirty set, lock and files of one open POD directory (one per path per process)."""

    def __init__(self, root: Path, file_size: int, durable: bool) -> None:
        self.root = root
        self.pid = os.getpid()
        self.durable = durable
        self.lock = threading.RLock()
        self.closed = False
        self.last_sync = SyncStats()
        # Callbacks run with a key after any access/change to it (None: everything changed).
        self.watchers: list[Callable[[Any], None]] = []
        self.extras: dict[str, Any] = {}
        root.mkdir(parents=True, exist_ok=True)
        self._dirlock = DirLock(root)
        try:
            manifest = read_manifest(root)
            remove_orphans(root, manifest)
        except BaseException:
            self._dirlock.release()
            raise
        if manifest is None:
            manifest = Manifest(file_size=file_size)
        self._load(manifest)

    # --- loading --------------------------------------------------------------------------

    def _load(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self.file_size = manifest.file_size
        self.chunks = [_Chunk(c, g, n) for c, g, n in manifest.chunks]
        self.next_cid = max((c.cid for c in self.chunks), default=-1) + 1
        self.length = sum(c.count for c in self.chunks)
        self.where: dict[Any, _Chunk] | None = None
        self.values: dict[Any, Any] = {}
        self.dirty: set[Any] = set()
        self.changed: set[_Chunk] = set()  # chunks with deleted keys
        self.deletes = 0

    def index(self) -> dict[Any, _Chunk]:
        """The key -> chunk map, built from chunk headers on first use."""
        if self.where is None:
            where: dict[Any, _Chunk] = {}
            for chunk in self.chunks:
                keys = read_chunk_keys(self.root / chunk_name(chunk.cid, chunk.gen))
                chunk.keys = dict.fromkeys(keys)
                for key in keys:
                    where[key] = chunk
            self.where = where
        return self.where

    def _lines(self, chunk: _Chunk) -> dict[Any, str]:
        if chunk.lines is None:
            chunk.lines = (
                {} if chunk.gen < 0 else read_chunk(self.root / chunk_name(chunk.cid, chunk.gen))
            )
        return chunk.lines

    def check_open(self) -> None:
        if self.closed:
            raise StoreClosedError(
                f"the POD at {self.root} was closed; open it again with POD(path)"
            )

    def notify(self, key: Any) -> None:
        for watcher in self.watchers:
            watcher(key)

    # --- key operations (callers hold self.lock and have checked the key) -----------------

    def get(self, key: Any) -> Any:
        """The value for ``key`` (KeyError if absent), parsed from disk on first access."""
        try:
            return self.values[key]
        except KeyError:
            pass
        chunk = self.index()[key]
        value = json.loads(self._lines(chunk)[key])[1]
        self.values[key] = value
        return value

    def contains(self, key: Any) -> bool:
        return key in self.index()

    def set(self, key: Any, value: Any) -> None:
        where = self.index()
        encoded = encode_value(key, value)  # refuse non-JSON now, not at sync time
        if not isinstance(value, _SCALARS):
            # Keep what a reopen would give back (tuples -> lists, dict keys -> str), so the
            # in-memory value never differs from the stored one.
            value = json.loads(encoded)
        if key not in where:
            last = self.chunks[-1] if self.chunks else None
            if last is None or len(self._keys(last)) >= self.file_size:
                last = _Chunk(self.next_cid, -1, 0)
                last.keys = {}
                self.next_cid += 1
                self.chunks.append(last)
            self._keys(last)[key] = None
            where[key] = last
            self.length += 1
        self.values[key] = value
        self.dirty.add(key)

    def delete(self, key: Any) -> None:
        chunk = self.index().pop(key)  # KeyError when absent
        self._keys(chunk).pop(key)
        self.values.pop(key, None)
        self.dirty.discard(key)
        self.changed.add(chunk)
        self.length -= 1
        self.deletes += 1

    def _keys(self, chunk: _Chunk) -> dict[Any, None]:
        self.index()  # fills chunk.keys for every chunk on disk
        if chunk.keys is None:
            raise RuntimeError(f"POD chunk {chunk.cid} was not indexed")
        return chunk.keys

    def iter_keys(self) -> Iterator[Any]:
        self.index()
        for chunk in list(self.chunks):
            yield from list(self._keys(chunk))

    def pending(self) -> int:
        """Changes not yet synced (dirty keys + deletions)."""
        return len(self.dirty) + self.deletes

    # --- sync -----------------------------------------------------------------------------

    def sync(self, *, skip_invalid: bool = False) -> SyncStats:
        """Write every chunk holding a dirty or deleted key, then commit the manifest.

        All dirty values are encoded before anything is written: a value made non-JSON by a
        nested mutation raises :class:`PODError` and leaves the files untouched (with
        ``skip_invalid`` those keys keep their last synced value on disk instead).
        """
        with self.lock, _pod_exit.main_thread_sync():
            self.check_open()
            if self.pid != os.getpid():
                raise ConcurrentAccessError(
                    f"the POD at {self.root} was opened by process {self.pid}; a forked "
                    "child must not write it. Open the POD in the child only after the parent "
                    "closed it, or send results back to the parent"
                )
            if not self.dirty and not self.changed:
                return SyncStats()
            encoded, bad = self._encode_dirty(skip_invalid)
            where = self.index()
            touched = {where[k] for k in encoded} | self.changed
            gen = self.manifest.generation + 1
            stats = SyncStats()
            new_lines: dict[_Chunk, dict[Any, str]] = {}
            for chunk in sorted(touched, key=lambda c: c.cid):
                old = self._lines(chunk)
                lines = {}
                for key in self._keys(chunk):
                    line = encoded.get(key) or old.get(key)
                    if line is not None:  # None: a new key whose value is not JSON (skipped)
                        lines[key] = line
                new_lines[chunk] = lines
                if lines:
                    stats.bytes += write_chunk(
                        self.root / chunk_name(chunk.cid, gen), lines, durable=self.durable
                    )
                    stats.chunks += 1
            entries = []
            for chunk in self.chunks:
                if chunk in new_lines:
                    if new_lines[chunk]:
                        entries.append([chunk.cid, gen, len(new_lines[chunk])])
                elif chunk.gen >= 0:
                    entries.append([chunk.cid, chunk.gen, chunk.count])
            committed = Manifest(self.file_size, gen, entries)
            stats.bytes += write_manifest(self.root, committed, durable=self.durable)
            # Committed: drop superseded files and adopt the new state in memory.
            for chunk, lines in new_lines.items():
                if chunk.gen >= 0:
                    _unlink(self.root / chunk_name(chunk.cid, chunk.gen))
                # An emptied chunk has no file any more (gen -1) and leaves the order.
                chunk.gen = gen if lines else -1
                chunk.lines, chunk.count = lines, len(lines)
            self.chunks = [c for c in self.chunks if c.gen >= 0 or c.keys]
            self.manifest = committed
            self.dirty = bad
            self.changed = set()
            self.deletes = 0
            self.last_sync = stats
            return stats

    def _encode_dirty(self, skip_invalid: bool) -> tuple[dict[Any, str], set[Any]]:
        encoded: dict[Any, str] = {}
        bad: set[Any] = set()
        for key in self.dirty:
            try:
                kjson = json.dumps(key, ensure_ascii=False)
                encoded[key] = f"[{kjson}, {encode_value(key, self.values[key])}]"
            except PODError:
                if not skip_invalid:
                    raise
                bad.add(key)
        return encoded, bad

    def sync_for_exit(self) -> None:
        """Exit/signal path: sync what can be synced and report keys that cannot."""
        with self.lock:
            if self.closed:
                return
            self.sync(skip_invalid=True)
            if self.dirty:
                import logging

                logging.getLogger("persist_ext").error(
                    "persist_ext: POD %s: keys %r hold non-JSON values and kept their last "
                    "synced value on disk",
                    self.root,
                    sorted(map(repr, self.dirty)),
                )

    def revert(self) -> None:
        """Drop unsynced changes and reload from the committed files."""
        with self.lock:
            self.check_open()
            manifest = read_manifest(self.root) or Manifest(file_size=self.file_size)
            self._load(manifest)
            self.notify(None)

    def release(self) -> None:
        """Release the directory lock (files stay as last synced)."""
        self._dirlock.release()

    def close(self) -> None:
        """Sync, release the lock and stop tracking this state (idempotent)."""
        with self.lock:
            if self.closed:
                return
            try:
                self.sync()
            finally:
                self.closed = True
                self.release()
                _pod_exit.unregister(str(self.root))


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
