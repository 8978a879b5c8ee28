"""The in-memory state one process keeps for one POD directory, shared by every handle on it.

Memory model, built for large PODs:

* opening reads only the manifest (``len()`` comes from the chunk counts);
* the key -> chunk index is built on the first key operation from each chunk's header line
  (a chunk with a recorded checksum is read whole once, to verify it, and not kept);
* a chunk's raw lines are read when one of its keys is first read or written, and a value is
  parsed from its line only when accessed (then cached);
* a sync rewrites only the chunks holding dirty or deleted keys, re-encoding only the dirty
  keys and copying the other lines verbatim.

Nothing is lost to one bad value or one bad file (issue #12):

* a sync writes every value that can be written; a value made non-JSON by a nested mutation
  keeps its last synced value on disk, stays dirty, and is listed in :attr:`PODState.unsaved`
  (explicit syncs and ``close()`` then raise about it, automatic syncs say it on stderr);
* an ``encoder`` may save part of a value (the Tracker saves a task's bookkeeping apart from
  the user's fields);
* a missing or damaged chunk (one whose bytes no longer match the checksum the manifest
  recorded for it included) fails only its own keys (a key that may be in a chunk whose keys
  cannot be read fails too), with the error naming the file and the recovery;
* a state whose directory was removed or replaced while open never writes into the new one.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..._errors import (
    ConcurrentAccessError,
    PersistentOrderedDictIntegrityError,
    PODError,
    StoreClosedError,
)
from . import _exit as _pod_exit
from . import _flusher
from ._files import (
    DAMAGED_DIR,
    DirLock,
    Manifest,
    chunk_name,
    damaged,
    encode_value,
    parse_line,
    read_chunk,
    read_chunk_keys,
    read_manifest,
    remove_orphans,
    salvage_chunk,
    write_chunk,
    write_manifest,
)

__all__ = ["Encoder", "PODState", "RepairReport", "SyncStats", "encode_whole", "say"]

log = logging.getLogger("persist_ext")

_SCALARS = (str, int, float, bool, type(None))

#: ``encoder(key, value, old_line)`` -> (JSON text of what to store or None, problem or None).
Encoder = Callable[[Any, Any, "str | None"], "tuple[str | None, str | None]"]


def encode_whole(key: Any, value: Any, old_line: str | None) -> tuple[str | None, str | None]:
    """The POD's encoder: the whole value, or nothing (the key keeps its last synced value)."""
    try:
        return encode_value(key, value), None
    except PODError as exc:
        return None, str(exc)


class SyncStats:
    """What the last sync did: ``chunks`` rewritten and ``bytes`` written (incl. manifest)."""

    __slots__ = ("bytes", "chunks")

    def __init__(self, chunks: int = 0, nbytes: int = 0) -> None:
        self.chunks = chunks
        self.bytes = nbytes

    def __repr__(self) -> str:
        return f"SyncStats(chunks={self.chunks}, bytes={self.bytes})"


@dataclass
class RepairReport:
    """What :meth:`POD.repair <persist_ext.POD.repair>` did.

    ``moved``: damaged files moved into ``damaged/``; ``kept``: entries read back from them;
    ``lost``: keys they listed that could not be read back; ``lost_unknown``: entries whose
    keys are unknown (the file was missing or its header unreadable); ``unverified``: kept
    keys read from a file whose checksum was recorded (its bytes changed, so a kept value may
    be one of the changed ones: compare with ``damaged/`` or a backup).
    """

    moved: list[str] = field(default_factory=list)
    kept: int = 0
    lost: list[Any] = field(default_factory=list)
    lost_unknown: int = 0
    unverified: list[Any] = field(default_factory=list)


class _Chunk:
    __slots__ = ("cid", "count", "damage", "gen", "keys", "lines", "sum")

    def __init__(self, cid: int, gen: int, count: int, sum: str | None = None) -> None:
        self.cid = cid
        self.gen = gen  # -1: never written
        self.count = count
        self.sum = sum  # checksum of its file recorded in the manifest (None: not recorded)
        self.keys: dict[Any, None] | None = None  # ordered key set, once indexed
        self.lines: dict[Any, str] | None = None  # raw lines on disk, once read
        self.damage: PersistentOrderedDictIntegrityError | None = None


def say(text: str) -> None:
    """Write ``text`` to stderr (and the log): what could not be saved must be seen."""
    # Issue #12: what could not be saved is said where the user looks, not only in a log.
    log.info("%s", text)  # info: logging's last-resort handler would print it twice
    try:
        sys.stderr.write(text.rstrip("\n") + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr closed at interpreter exit
        pass


class PODState:
    """Data, dirty set, lock and files of one open POD directory (one per path per process).

    ``readonly`` holds the reason when writes are refused (a tastypy folder read in place).
    """

    def __init__(
        self,
        root: Path,
        file_size: int,
        durable: bool,
        gzipped: bool | None = None,
    ) -> None:
        self.root = root
        self.pid = os.getpid()
        self.durable = durable
        self.lock = threading.RLock()
        self.closed = False
        self.readonly: str | None = None
        self.last_sync = SyncStats()
        # Callbacks run with a key after any access/change to it (None: everything changed).
        self.watchers: list[Callable[[Any], None]] = []
        self.extras: dict[str, Any] = {}
        self.encoder: Encoder = encode_whole
        self.unsaved: dict[Any, str] = {}  # key -> why its latest value is not (all) on disk
        self._reported: dict[Any, str] = {}
        self.sync_after: float | None = None
        self.holds = 0  # handles that called hold(): background syncs wait
        self._scheduled = False
        self.handed: set[Any] = set()  # containers handed out since the last background sync
        root.mkdir(parents=True, exist_ok=True)
        self._dirlock: DirLock | None = DirLock(root)
        try:
            manifest = read_manifest(root)
            remove_orphans(root, manifest)
            if manifest is None:
                manifest = Manifest(file_size=file_size, gzipped=bool(gzipped))
            elif gzipped is not None and gzipped != manifest.gzipped:
                raise PODError(
                    f"the POD at {root} was created with gzipped={manifest.gzipped}; open it "
                    f"with gzipped={manifest.gzipped} or leave gzipped out"
                )
        except BaseException:
            self.release()
            raise
        self._load(manifest)

    @classmethod
    def read_in_place(
        cls, root: Path, chunks: list[list[tuple[Any, Any]]], reason: str
    ) -> PODState:
        """A read-only state over entries already read (a tastypy folder): nothing is written."""
        state = cls.__new__(cls)
        state.root = root
        state.pid = os.getpid()
        state.durable = False
        state.lock = threading.RLock()
        state.closed = False
        state.readonly = reason
        state.last_sync = SyncStats()
        state.watchers = []
        state.extras = {}
        state.encoder = encode_whole
        state.unsaved = {}
        state._reported = {}
        state.sync_after = None
        state.holds = 0
        state._scheduled = False
        state.handed = set()
        state._dirlock = None
        size = max((len(c) for c in chunks), default=1) or 1
        state._load(Manifest(file_size=size))
        where: dict[Any, _Chunk] = {}
        for cid, entries in enumerate(chunks):
            chunk = _Chunk(cid, -2, len(entries))
            chunk.keys, chunk.lines = {}, {}
            for key, value in entries:
                chunk.keys[key] = None
                chunk.lines[key] = _line(key, json.dumps(value, ensure_ascii=False))
                where[key] = chunk
                state.values[key] = value
            chunk.count = len(chunk.keys)
            state.chunks.append(chunk)
        state.where = where
        state.length = len(where)
        return state

    # --- loading --------------------------------------------------------------------------

    def _load(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self.file_size = manifest.file_size
        self.gzipped = manifest.gzipped
        sums = manifest.checksums
        self.chunks = [
            _Chunk(c, g, n, sums.get(chunk_name(c, g, manifest.gzipped)))
            for c, g, n in manifest.chunks
        ]
        self.next_cid = max((c.cid for c in self.chunks), default=-1) + 1
        self.length = sum(c.count for c in self.chunks)
        self.where: dict[Any, _Chunk] | None = None
        self.unknown: list[_Chunk] = []  # chunks whose keys cannot be read (set by index())
        self.values: dict[Any, Any] = {}
        self.dirty: set[Any] = set()
        self.changed: set[_Chunk] = set()  # chunks with deleted keys or repaired
        self.deletes = 0
        self.unsaved = {}
        self._reported = {}
        self.handed = set()

    def path_of(self, chunk: _Chunk) -> Path:
        return self.root / chunk_name(chunk.cid, chunk.gen, self.gzipped)

    def index(self) -> dict[Any, _Chunk]:
        """The key -> chunk map, built from chunk headers on first use.

        A chunk whose header cannot be read (missing or damaged file) is indexed with its
        keys unknown; see :meth:`_locate`.
        """
        if self.where is None:
            where: dict[Any, _Chunk] = {}
            for chunk in self.chunks:
                if chunk.keys is not None:
                    keys: list[Any] = list(chunk.keys)
                elif chunk.gen < 0:
                    keys, chunk.keys = [], {}
                else:
                    try:
                        keys = read_chunk_keys(self.path_of(chunk), chunk.sum)
                    except PersistentOrderedDictIntegrityError as exc:
                        chunk.damage = exc
                        continue
                    chunk.keys = dict.fromkeys(keys)
                for key in keys:
                    where.setdefault(key, chunk)
            self.where = where
            self.unknown = [c for c in self.chunks if c.keys is None]
        return self.where

    def _unknown(self) -> list[_Chunk]:
        """Chunks whose keys cannot be known (missing file, unreadable header)."""
        self.index()
        return self.unknown

    def _locate(self, key: Any) -> _Chunk | None:
        """The chunk holding ``key``, None if absent; the damage error if it cannot be used."""
        chunk = (self.where if self.where is not None else self.index()).get(key)
        if chunk is None:
            unknown = self.unknown
            if unknown:
                # The key may be stored in that chunk: answering "absent" could lose it.
                raise unknown[0].damage or damaged(self.path_of(unknown[0]), "is damaged")
            return None
        if chunk.damage is not None:
            raise chunk.damage
        return chunk

    def _lines(self, chunk: _Chunk) -> dict[Any, str]:
        if chunk.lines is None:
            if chunk.damage is not None:
                raise chunk.damage
            if chunk.gen < 0:
                chunk.lines = {}
            else:
                try:
                    chunk.lines = read_chunk(self.path_of(chunk), chunk.sum)
                except PersistentOrderedDictIntegrityError as exc:
                    chunk.damage = exc
                    raise
        return chunk.lines

    def check_open(self) -> None:
        if self.closed:
            raise StoreClosedError(
                f"the POD at {self.root} was closed; open it again with POD(path)"
            )

    def check_writable(self) -> None:
        self.check_open()
        if self.readonly is not None:
            raise PODError(self.readonly)

    def notify(self, key: Any) -> None:
        for watcher in self.watchers:
            watcher(key)

    def is_stale(self) -> bool:
        """Whether the directory was removed or replaced since this state locked it."""
        if self._dirlock is None:
            return not self.root.is_dir()
        return not self._dirlock.is_current()

    # --- key operations (callers hold self.lock and have checked the key) -----------------

    def get(self, key: Any) -> Any:
        """The value for ``key`` (KeyError if absent), parsed from disk on first access."""
        try:
            return self.values[key]
        except KeyError:
            pass
        chunk = self._locate(key)
        if chunk is None:
            raise KeyError(key)
        value = parse_line(self.path_of(chunk), key, self._lines(chunk)[key])
        self.values[key] = value
        return value

    def contains(self, key: Any) -> bool:
        return key in self.values or self._locate(key) is not None

    def mark(self, key: Any, *, handed: bool = False) -> None:
        """Record that ``key`` changed (or may change: ``handed`` out as a container)."""
        self.dirty.add(key)
        if handed:
            self.handed.add(key)
        self.schedule()

    def schedule(self) -> None:
        """Ask the background thread for a sync ``sync_after`` seconds from now (if set)."""
        if self.sync_after is not None and not self._scheduled:
            self._scheduled = True
            _flusher.schedule(self, self.sync_after)

    def set(self, key: Any, value: Any) -> None:
        self.check_writable()
        chunk = self._locate(key)
        encoded = encode_value(key, value)  # refuse non-JSON now, not at sync time
        if not isinstance(value, _SCALARS):
            # Keep what a reopen would give back (tuples -> lists, dict keys -> str), so the
            # in-memory value never differs from the stored one.
            value = json.loads(encoded)
        if chunk is None:
            last = self.chunks[-1] if self.chunks else None
            if last is None or last.damage is not None or len(self._keys(last)) >= self.file_size:
                last = _Chunk(self.next_cid, -1, 0)
                last.keys = {}
                self.next_cid += 1
                self.chunks.append(last)
            else:
                self._lines(last)  # a damaged file is found now, not by the sync
            self._keys(last)[key] = None
            self.index()[key] = last
            self.length += 1
        else:
            self._lines(chunk)
        self.values[key] = value
        self.mark(key)

    def delete(self, key: Any) -> None:
        self.check_writable()
        chunk = self._locate(key)
        if chunk is None:
            raise KeyError(key)
        self._lines(chunk)
        self.index().pop(key)
        self._keys(chunk).pop(key)
        self.values.pop(key, None)
        self.dirty.discard(key)
        self.unsaved.pop(key, None)
        self.changed.add(chunk)
        self.length -= 1
        self.deletes += 1
        self.schedule()

    def _keys(self, chunk: _Chunk) -> dict[Any, None]:
        self.index()  # fills chunk.keys for every readable chunk on disk
        if chunk.keys is None:
            raise chunk.damage or damaged(self.path_of(chunk), "is damaged")
        return chunk.keys

    def iter_keys(self) -> Iterator[Any]:
        """Every key in order; after the readable ones, the damage error of an unreadable chunk."""
        self.index()
        for chunk in list(self.chunks):
            if chunk.keys is not None:
                yield from list(chunk.keys)
        unknown = self._unknown()
        if unknown:
            raise unknown[0].damage or damaged(self.path_of(unknown[0]), "is damaged")

    def pending(self) -> int:
        """Changes not yet synced (dirty keys + deletions)."""
        return len(self.dirty) + self.deletes

    # --- sync -----------------------------------------------------------------------------

    def sync(self) -> SyncStats:
        """Write every chunk holding a dirty or deleted key, then commit the manifest.

        Every value that can be encoded is written. A value that cannot (made non-JSON by a
        nested mutation) keeps its last synced value on disk, stays dirty and is recorded in
        :attr:`unsaved`; callers decide whether to raise or report it.
        """
        with self.lock, _pod_exit.main_thread_sync():
            self.check_open()
            if self.readonly is not None:
                return SyncStats()
            if self.pid != os.getpid():
                raise ConcurrentAccessError(
                    f"the POD at {self.root} was opened by process {self.pid}; a forked "
                    "child must not write it. Open the POD in the child only after the parent "
                    "closed it, or send results back to the parent"
                )
            if not self.dirty and not self.changed:
                return SyncStats()
            if self.is_stale():
                raise StoreClosedError(
                    f"the POD directory {self.root} was removed or replaced while this POD was "
                    f"open; its {self.pending()} unsynced changes cannot be written there. "
                    "Open the POD again with POD(path)"
                )
            where = self.index()
            encoded: dict[Any, str] = {}
            still_dirty: set[Any] = set()
            for key in self.dirty:
                chunk = where.get(key)
                if chunk is None:  # deleted meanwhile
                    continue
                try:
                    old = self._lines(chunk).get(key)
                except PersistentOrderedDictIntegrityError as exc:
                    self.unsaved[key] = str(exc)
                    still_dirty.add(key)
                    continue
                text, problem = self.encoder(key, self.values[key], old)
                if problem is None:
                    self.unsaved.pop(key, None)
                else:
                    self.unsaved[key] = problem
                if text is None:
                    still_dirty.add(key)
                else:
                    encoded[key] = _line(key, text)
            touched = {where[k] for k in encoded} | self.changed
            if not touched:  # only values that cannot be written: leave the files alone
                self.dirty = still_dirty
                return SyncStats()
            gen = self.manifest.generation + 1
            stats = SyncStats()
            new_lines: dict[_Chunk, dict[Any, str]] = {}
            new_sums: dict[_Chunk, str] = {}
            for chunk in sorted(touched, key=lambda c: c.cid):
                old_lines = self._lines(chunk)
                lines = {}
                for key in self._keys(chunk):
                    line = encoded.get(key) or old_lines.get(key)
                    if line is not None:  # None: a new key whose value is not JSON (skipped)
                        lines[key] = line
                new_lines[chunk] = lines
                if lines:
                    path = self.root / chunk_name(chunk.cid, gen, self.gzipped)
                    nbytes, new_sums[chunk] = write_chunk(
                        path, lines, durable=self.durable, gzipped=self.gzipped
                    )
                    stats.bytes += nbytes
                    stats.chunks += 1
            entries = []
            sums: dict[str, str] = {}
            for chunk in self.chunks:
                if chunk in new_lines:
                    if new_lines[chunk]:
                        entries.append([chunk.cid, gen, len(new_lines[chunk])])
                        sums[chunk_name(chunk.cid, gen, self.gzipped)] = new_sums[chunk]
                elif chunk.gen >= 0:
                    entries.append([chunk.cid, chunk.gen, chunk.count])
                    if chunk.sum is not None:  # an old chunk without one stays unverified
                        sums[chunk_name(chunk.cid, chunk.gen, self.gzipped)] = chunk.sum
            # The checksums are committed with the files they describe, by the manifest.
            committed = Manifest(self.file_size, gen, entries, self.gzipped, sums)
            stats.bytes += write_manifest(self.root, committed, durable=self.durable)
            # Committed: drop superseded files and adopt the new state in memory.
            for chunk, lines in new_lines.items():
                if chunk.gen >= 0:
                    _unlink(self.path_of(chunk))
                # An emptied chunk has no file any more (gen -1); it leaves the order unless
                # it still holds keys whose values could not be written yet.
                chunk.gen = gen if lines else -1
                chunk.sum = new_sums.get(chunk)
                chunk.lines, chunk.count = lines, len(lines)
            self.chunks = [c for c in self.chunks if c.gen >= 0 or c.keys]
            self.manifest = committed
            self.dirty = still_dirty
            self.changed = set()
            self.deletes = 0
            self.last_sync = stats
            return stats

    def unsaved_message(self, keys: list[Any] | None = None) -> str:
        """One message listing what is not (all) on disk, for an error or stderr.

        The first 20 problems are given in full, the keys of the others after them (all of
        them are in :attr:`unsaved`).
        """
        keys = [k for k in (list(self.unsaved) if keys is None else keys) if k in self.unsaved]
        order = {k: i for i, k in enumerate(self.where or {})}
        keys.sort(key=lambda k: order.get(k, len(order)))
        lines = [f"  {self.unsaved[k]}" for k in keys[:20]]
        if len(keys) > 20:
            rest = ", ".join(repr(k) for k in keys[20:])
            lines.append(f"  ... and {len(keys) - 20} more keys with problems: {rest}")
        count = f"{len(keys)} change{'s' * (len(keys) != 1)}"
        return (
            f"persist_ext: {count} to {self.root} could not be saved (everything else was "
            "saved; a value that could not be written keeps its last saved value on disk):\n"
            + "\n".join(lines)
        )

    def mark_reported(self) -> None:
        """The current :attr:`unsaved` problems were shown (raised): do not repeat them."""
        self._reported = dict(self.unsaved)

    def report_new(self) -> None:
        """Say on stderr what could not be saved, once per key and problem."""
        new = [k for k, why in self.unsaved.items() if self._reported.get(k) != why]
        for key in list(self._reported):
            if key not in self.unsaved:
                del self._reported[key]
        if new:
            for key in new:
                self._reported[key] = self.unsaved[key]
            say(self.unsaved_message(new))

    def sync_and_report(self) -> SyncStats:
        """An automatic sync: write what can be written, say on stderr what could not."""
        stats = self.sync()
        self.report_new()
        return stats

    def sync_in_background(self) -> None:
        """The ``sync_after`` thread's sync: never raises; held changes wait for ``unhold``."""
        with self.lock:
            self._scheduled = False
            if self.closed or self.holds or self.pid != os.getpid():
                return
            handed, self.handed = self.handed, set()
            try:
                self.sync_and_report()
            except Exception as exc:  # disk full, directory removed...: keep changes, retry
                say(f"persist_ext: background sync of the POD at {self.root} failed: {exc}")
                if self.is_stale():
                    return
            # A container handed out by pod[key] may be mutated right after this sync: keep it
            # dirty for one more round, so such a mutation is written too.
            self.dirty |= {k for k in handed if k in self.values}
            if self.dirty - set(self.unsaved) or self.changed:
                self.schedule()

    def report_read_only_changes(self) -> None:
        """A read-only POD cannot save: say on stderr which values were changed in memory."""
        changed = []
        for key in sorted(self.handed, key=repr):
            chunk = (self.where or {}).get(key)
            if chunk is None or chunk.lines is None or key not in self.values:
                continue
            try:
                now = _line(key, encode_value(key, self.values[key]))
            except PODError:
                now = None
            if now != chunk.lines.get(key):
                changed.append(key)
        self.handed = set()
        if changed:
            say(f"persist_ext: changes to {changed[:10]!r} were not saved: {self.readonly}")

    def sync_for_exit(self) -> None:
        """Exit/signal path: sync what can be synced and say on stderr what could not."""
        with self.lock:
            if self.closed:
                return
            if self.readonly is not None:
                self.report_read_only_changes()
                return
            if self.is_stale():
                if self.pending():
                    say(
                        f"persist_ext: the POD directory {self.root} was removed while open; "
                        f"{self.pending()} unsynced changes were not written"
                    )
                return
            self._reported = {}  # the final word: list everything still unsaved
            self.sync_and_report()

    def revert(self) -> None:
        """Drop unsynced changes, reload from the committed files and check every chunk.

        Raises :class:`~persist_ext.PersistentOrderedDictIntegrityError` naming each damaged
        file; the POD stays usable for the keys of the other chunks.
        """
        with self.lock:
            self.check_open()
            if self.readonly is not None:
                self.notify(None)
                return
            manifest = read_manifest(self.root) or Manifest(
                file_size=self.file_size, gzipped=self.gzipped
            )
            self._load(manifest)
            self.notify(None)
            problems = self.verify()
            if problems:
                raise PersistentOrderedDictIntegrityError(
                    "\n".join(str(p) for p in problems), path=problems[0].path
                )

    def verify(self) -> list[PersistentOrderedDictIntegrityError]:
        """Read every chunk and parse every value; the damage found (chunks are marked)."""
        problems = []
        self.index()
        for chunk in self.chunks:
            if chunk.damage is None and chunk.gen >= 0:
                try:
                    lines = self._lines(chunk)
                    for key, line in lines.items():
                        parse_line(self.path_of(chunk), key, line)
                except PersistentOrderedDictIntegrityError as exc:
                    chunk.damage = exc
            if chunk.damage is not None:
                problems.append(chunk.damage)
        return problems

    def repair(self) -> RepairReport:
        """Keep the readable entries of damaged chunks, move those files aside, and sync."""
        with self.lock:
            self.check_writable()
            if self.verify():
                self._check_damaged_folder()  # before anything is moved
            report = RepairReport()
            healthy = {k for c in self.chunks if c.damage is None and c.keys for k in c.keys}
            for chunk in self.chunks:
                if chunk.damage is None:
                    continue
                path = self.path_of(chunk)
                # A checksum mismatch is salvaged like other damage (the lead's call, #11):
                # what still parses is kept, and listed in report.unverified.
                header, found = salvage_chunk(path)
                lines: dict[Any, str] = {}
                for key in [*header, *found]:
                    if key in found and key not in healthy and key not in lines:
                        lines[key] = found[key]
                healthy |= set(lines)
                if header:
                    report.lost += [k for k in header if k not in lines]
                else:
                    report.lost_unknown += max(0, chunk.count - len(lines))
                report.kept += len(lines)
                if chunk.sum is not None:
                    report.unverified += list(lines)
                if os.path.lexists(path):
                    report.moved.append(self._move_aside(path))
                chunk.damage = None
                chunk.gen = -1
                chunk.sum = None
                chunk.keys = dict.fromkeys(lines)
                chunk.lines = lines
                chunk.count = len(lines)
                self.changed.add(chunk)
            self.where = None
            self.length = sum(len(c.keys or ()) for c in self.chunks)
            self.values = {k: v for k, v in self.values.items() if k in self.index()}
            self.notify(None)
            self.sync()
            return report

    def _check_damaged_folder(self) -> None:
        folder = self.root / DAMAGED_DIR
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            raise PersistentOrderedDictIntegrityError(
                f"{folder} is not a directory (a symbolic link or a file); pod.repair() moves "
                "damaged files only into a real folder inside the POD. Remove it and call "
                "pod.repair() again",
                path=str(folder),
            )

    def _move_aside(self, path: Path) -> str:
        """Move a damaged chunk file (or a link planted as one) into ``damaged/``."""
        folder = self.root / DAMAGED_DIR
        folder.mkdir(exist_ok=True)
        target = folder / path.name
        os.replace(path, target)  # a rename: a link is moved as a link, never followed
        return str(target)

    def release(self) -> None:
        """Release the directory lock (files stay as last synced)."""
        if self._dirlock is not None:
            self._dirlock.release()

    def detach(self) -> None:
        """Forget a state whose directory was removed or replaced (it never writes again)."""
        with self.lock:
            if self.closed:
                return
            if self.pending():
                say(
                    f"persist_ext: the POD directory {self.root} was removed or replaced while "
                    f"open; its {self.pending()} unsynced changes were dropped"
                )
            self.closed = True
            self.release()
            _pod_exit.unregister(str(self.root), self)

    def close(self) -> None:
        """Sync, release the lock and stop tracking this state (idempotent).

        Every change that can be written is written first; then, if some could not,
        :class:`~persist_ext.PODError` lists them.
        """
        with self.lock:
            if self.closed:
                return
            try:
                if self.readonly is not None:
                    self.report_read_only_changes()
                else:
                    if not self.is_stale():
                        self.sync()
                    elif self.pending():
                        say(
                            f"persist_ext: the POD directory {self.root} was removed or "
                            f"replaced while open; its {self.pending()} unsynced changes were "
                            "dropped"
                        )
            finally:
                self.closed = True
                self.release()
                _pod_exit.unregister(str(self.root), self)
            if self.unsaved:
                self.mark_reported()
                raise PODError(self.unsaved_message())


def _line(key: Any, value_text: str) -> str:
    return f"[{json.dumps(key, ensure_ascii=False)}, {value_text}]"


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
