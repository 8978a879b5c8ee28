"""The diskcache seam of :class:`~persist_ext.Store`: blob files and error translation.

Large values are written by the store to their own file under ``<store>/blobs/`` in one pass,
then handed to diskcache as an :class:`External` record. :class:`BlobDisk` (a
``diskcache.Disk``) stores that record's small header in SQLite and the file name in the
``filename`` column, so diskcache's own bookkeeping (overwrite, delete, expire) removes the
file after its transaction commits, and ``volume()`` counts it.

:func:`translate_errors` is the one place where diskcache, SQLite and OS errors become
persist_ext errors.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import mmap
import os
import pickle
import queue
import re
import sqlite3
import stat
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import diskcache
import xxhash

from .._errors import CorruptEntryError, SerializationError, StoreError
from .._exit import at_exit
from .._threads import HousekeepingThread
from ._allocator import note_block
from ._atomic import create_locked, fsync_directory

logger = logging.getLogger("persist_ext")

__all__ = [
    "BLOB_DIR",
    "MODE_BLOB",
    "BlobDisk",
    "BlobRef",
    "External",
    "ForeignRecord",
    "Pending",
    "RefusedRecord",
    "drain_removals",
    "fresh_buffer",
    "open_blob",
    "read_blob",
    "translate_errors",
    "translated",
    "valid_blob_name",
]

BLOB_DIR = "blobs"
# diskcache's own modes are 0-4; this one marks "header in SQLite, payload in a blob file".
MODE_BLOB = 8
# Unlinking a large file that was already written back costs ~0.25-0.7 s per GiB here (the
# file system frees its extents and pages); files at least this big are removed off the
# caller's thread. Smaller ones are removed inline: it is cheap and keeps things simple.
BACKGROUND_REMOVE_BYTES = 16 << 20
# The only file names an index row may hold: anything else (absolute, "..", another folder)
# was not written by persist_ext and is never opened nor deleted.
_BLOB_NAME = re.compile(r"blobs/[0-9a-f]{32}\.bin\Z")
_READ_CHUNK = 8 << 20
# Payloads from this size on are hashed by a second thread while being read (a thread costs
# ~0.1 ms to start: nothing next to a 64 MiB read).
HASH_BEHIND_BYTES = 64 << 20


def valid_blob_name(name: object) -> bool:
    """Whether an index row's ``filename`` is one persist_ext writes (``blobs/<hex>.bin``)."""
    return isinstance(name, str) and _BLOB_NAME.match(name) is not None


class _Remover:
    """Deletes files that nothing references any more, in one background thread.

    Only used for blob files whose index row is already gone (committed), so deleting them
    late is safe: a reader never finds them through the index, and a process that exits
    before the thread got to a file leaves an orphan that ``Store.cleanup()`` removes.
    :meth:`drain` waits for the queue; ``Store.close()`` and interpreter exit call it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: queue.Queue[str] | None = None
        self._pid = -1

    def submit(self, path: str) -> None:
        with self._lock:
            # A forked child inherits the queue but not the thread: start its own.
            if self._queue is None or self._pid != os.getpid():
                self._queue = queue.Queue()
                self._pid = os.getpid()
                HousekeepingThread(
                    target=self._run, args=(self._queue,), name="persist_ext-blob-remover"
                ).start()
            self._queue.put(path)

    @staticmethod
    def _run(jobs: queue.Queue[str]) -> None:
        while True:
            path = jobs.get()
            try:
                os.unlink(path)
            except OSError:  # already gone (cleanup raced us) or unremovable: an orphan
                pass
            finally:
                jobs.task_done()

    def drain(self) -> None:
        with self._lock:
            jobs = self._queue if self._pid == os.getpid() else None
        if jobs is not None:
            jobs.join()

    def after_fork(self) -> None:
        # The parent's lock may have been held by another thread at fork time.
        self._lock = threading.Lock()


_REMOVER = _Remover()
at_exit(_REMOVER.drain)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_REMOVER.after_fork)


def drain_removals() -> None:
    """Wait until every blob file queued for background removal is deleted."""
    _REMOVER.drain()


@dataclass(frozen=True)
class External:
    """A record whose payload is already in ``filename`` (relative to the store)."""

    header: bytes
    filename: str
    size: int


@dataclass(frozen=True)
class ForeignRecord:
    """A record persist_ext did not write (e.g. a diskcache pickle); never decoded."""

    mode: int


@dataclass(frozen=True)
class RefusedRecord:
    """A row persist_ext refuses to follow (e.g. a ``filename`` outside the store)."""

    reason: str


@dataclass(frozen=True)
class BlobRef:
    """What :meth:`BlobDisk.fetch` returns for an external record."""

    header: bytes
    filename: str


@dataclass
class Pending:
    """Blob files written and replaced inside the current transaction."""

    written: list[str]
    removed: list[str]
    held: list[Any]


class BlobDisk(diskcache.Disk):
    """diskcache ``Disk`` that also knows about externally written blob files."""

    durable = False

    def __init__(self, directory: str, **kwargs: Any) -> None:
        super().__init__(directory, **kwargs)
        self._local = threading.local()

    # -- diskcache hooks ---------------------------------------------------------------
    def store(self, value: Any, read: bool, key: Any = diskcache.UNKNOWN) -> Any:
        if type(value) is External:
            return value.size, MODE_BLOB, value.filename, sqlite3.Binary(value.header)
        return super().store(value, read, key=key)

    def fetch(self, mode: int, filename: str | None, value: Any, read: bool) -> Any:
        if mode == diskcache.core.MODE_RAW and type(value) is bytes:
            return value  # our inline records: the common, latency-critical case
        if mode == MODE_BLOB:
            if not valid_blob_name(filename) or type(value) is not bytes:
                return RefusedRecord(
                    f"its index row names the file {filename!r}, which is not a blob of this "
                    "store (persist_ext never follows a row outside its directory)"
                )
            return BlobRef(value, str(filename))
        # Anything else was written by another program: a diskcache pickle is code, and its
        # other modes name files that may be anywhere. Never read, never decode.
        return ForeignRecord(mode)

    def remove(self, file_path: str) -> None:
        # diskcache calls this for every row it drops (overwrite, delete, expire, cull): a
        # name persist_ext did not write (absolute, "..") is never deleted, whatever the
        # index says.
        if not valid_blob_name(file_path):
            logger.warning(
                "persist_ext: not deleting %r named by an index row of %s: it is not a blob of "
                "this store",
                file_path,
                self._directory,
            )
            return
        # Inside Store.transact() a replaced blob is only deleted once the outermost
        # transaction commits: diskcache deletes files when an inner block exits, so a later
        # rollback would otherwise restore a row whose file is gone.
        pending = getattr(self._local, "pending", None)
        if pending is not None:
            pending.removed.append(file_path)
            return
        self.discard(file_path)

    # -- ours --------------------------------------------------------------------------
    def in_transaction(self) -> bool:
        """Whether this thread is inside ``Store.transact()``."""
        return getattr(self._local, "pending", None) is not None

    def discard(self, file_path: str) -> None:
        """Delete an unreferenced file (never the blob directory: other writers use it).

        Large blob files go to the background remover, so replacing or deleting a 1 GiB
        value does not make the caller wait for the file system to free it.
        """
        if not valid_blob_name(file_path) or os.path.islink(self._blob_dir()):
            return
        full = os.path.join(self._directory, file_path)
        with contextlib.suppress(OSError):
            # lstat: a symlink planted under a blob's name is unlinked, never followed.
            if os.lstat(full).st_size >= BACKGROUND_REMOVE_BYTES:
                _REMOVER.submit(full)
            else:
                os.unlink(full)

    def _blob_dir(self) -> str:
        return os.path.join(self._directory, BLOB_DIR)

    @contextlib.contextmanager
    def deferring(self) -> Iterator[Pending | None]:
        """Track blob files during a (possibly nested) transaction.

        Yields the :class:`Pending` record of the outermost block (``None`` for a nested
        one, whose files join the outer record). After a commit, ``removed`` files are
        deleted; after a rollback, ``written`` ones are (nothing references them).
        """
        if getattr(self._local, "pending", None) is not None:
            yield None
            return
        pending = Pending([], [], [])
        self._local.pending = pending
        try:
            yield pending
        finally:
            self._local.pending = None

    def write_blob(self, buffers: Sequence[Any]) -> tuple[str, int, Any]:
        """Write ``buffers`` to a new uniquely named blob file in one pass.

        The name is unique and unreferenced until the index row commits, so a reader never
        sees a half-written file. The file stays locked (``flock``) by this process until the
        caller closes the returned handle, after the row commits: cleanup never removes a
        blob a live writer holds, and removes those of killed writers on the next open.
        """
        relative = f"{BLOB_DIR}/{uuid.uuid4().hex}.bin"
        blob_dir = self._blob_dir()
        if os.path.islink(blob_dir):
            raise StoreError(
                f"{blob_dir} is a symbolic link; persist_ext never writes through a link out of "
                "a store. Replace it with a real folder."
            )
        Path(blob_dir).mkdir(exist_ok=True)
        path = os.path.join(self._directory, relative)
        handle = create_locked(path)
        size = 0
        try:
            for buf in buffers:
                size += handle.write(buf)
            handle.flush()
            if self.durable:
                os.fsync(handle.fileno())
                fsync_directory(blob_dir)
        except BaseException:
            handle.close()
            self.discard(relative)
            raise
        pending = getattr(self._local, "pending", None)
        if pending is not None:
            pending.written.append(relative)
            pending.held.append(handle)
        return relative, size, handle


def open_blob(directory: Path, filename: str, key: str) -> int:
    """Open a blob file read-only, refusing links: the fd of a file inside the store."""
    if not valid_blob_name(filename):
        raise StoreError(f"Entry {key!r} names {filename!r}, not a blob of {directory}.", key=key)
    blob_dir = directory / BLOB_DIR
    if os.path.islink(blob_dir):
        raise StoreError(
            f"Entry {key!r}: {blob_dir} is a symbolic link; persist_ext never follows a link out "
            "of a store. Replace it with a real folder.",
            key=key,
        )
    try:
        fd = os.open(directory / filename, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise StoreError(
                f"Entry {key!r}: its blob {filename} is a symbolic link; persist_ext never follows "
                f"it. Delete the entry (store.delete({key!r})) and store it again.",
                key=key,
            ) from exc
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise StoreError(
            f"Entry {key!r}: its blob {filename} is not a regular file; delete the entry.", key=key
        )
    return fd


def _huge_pages_wanted() -> bool:
    """Whether large read buffers ask for transparent huge pages, as numpy's arrays do.

    numpy (``np.empty``, ``np.load``) advises huge pages for arrays of 4 MiB and more on
    Linux 4.6+, unless ``$NUMPY_MADVISE_HUGEPAGE`` is ``0``; the store's read buffers follow
    the same rule, so a restore gets the same pages ``np.load`` would.
    """
    if not hasattr(mmap, "MADV_HUGEPAGE"):
        return False
    configured = os.environ.get("NUMPY_MADVISE_HUGEPAGE")
    if configured is not None:
        try:
            return int(configured) != 0
        except ValueError:
            return True
    try:
        major, minor = (int(part) for part in os.uname().release.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (4, 6)


_HUGE_PAGES = _huge_pages_wanted()
_HUGE_MIN = 4 << 20


def fresh_buffer(size: int) -> memoryview:
    """``size`` bytes of fresh writable memory for a payload read (``size`` > 0)."""
    # Private anonymous memory, like malloc's: mmap's default (MAP_SHARED) is shmem-backed,
    # whose page faults measured 1.2-2x slower for a 256 MiB-1 GiB read (bench_memo).
    buffer = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if size >= _HUGE_MIN and _HUGE_PAGES:
        # Faulting in 2 MiB pages instead of 4 KiB ones is most of a page-cache read's cost
        # (np.load gets them through numpy's allocator; the same advice here).
        with contextlib.suppress(OSError):
            buffer.madvise(mmap.MADV_HUGEPAGE)
    # The allocator never sees this memory: told of a block its size, it keeps freed heap
    # memory for later arrays as it would after the original run (see _allocator).
    note_block(size)
    return memoryview(buffer)


def read_blob(fd: int, size: int) -> tuple[memoryview, bytes]:
    """Read ``size`` bytes of ``fd`` into fresh writable memory, hashing as it goes.

    Returns the payload view and its xxh3_128 digest. Anonymous memory (no zero-fill, page
    aligned) receives the data in one pass; each chunk is hashed while it is still in cache.
    """
    actual = os.fstat(fd).st_size
    if actual != size:
        raise ValueError(f"the blob has {actual} bytes, the index says {size}")
    if not size:
        return memoryview(bytearray()), xxhash.xxh3_128_digest(b"")
    view = fresh_buffer(size)
    if size >= HASH_BEHIND_BYTES:
        return view, _read_hashing_behind(fd, view, size)
    hasher = xxhash.xxh3_128()
    _read_into(fd, view, size, hasher.update)
    return view, hasher.digest()


def _read_into(fd: int, view: memoryview, size: int, sink: Callable[[memoryview], object]) -> None:
    """Fill ``view`` from ``fd`` chunk by chunk, handing each chunk read to ``sink``."""
    done = 0
    while done < size:
        n = os.preadv(fd, [view[done : done + _READ_CHUNK]], done)
        if not n:
            raise ValueError(f"the blob is truncated: {done} of {size} bytes")
        sink(view[done : done + n])
        done += n


def _read_hashing_behind(fd: int, view: memoryview, size: int) -> bytes:
    """Read ``fd`` into ``view`` while another thread hashes what was read, chunk by chunk.

    The kernel copies chunk i+1 while xxh3 runs over chunk i (both release the GIL), so
    with a core to spare the checksum costs no time on top of the read. Chunks are hashed
    in order (a FIFO); the digest is the one a single pass gives. If the hashing thread
    failed, the digest would be wrong and the entry refused, never returned unchecked.
    """
    hasher = xxhash.xxh3_128()
    chunks: queue.SimpleQueue[memoryview | None] = queue.SimpleQueue()

    def hash_chunks() -> None:
        while (chunk := chunks.get()) is not None:
            hasher.update(chunk)

    worker = HousekeepingThread(target=hash_chunks, name="persist_ext-read-hash")
    worker.start()
    try:
        _read_into(fd, view, size, chunks.put)
    finally:
        chunks.put(None)
        worker.join()
    return hasher.digest()


@contextlib.contextmanager
def translate_errors(key: str | None = None, *, where: str = "") -> Iterator[None]:
    """Map diskcache, SQLite, pickle and OS errors to persist_ext errors, chained.

    ============================  ==================================================
    raised below                  raised to the caller
    ============================  ==================================================
    ``diskcache.Timeout``         :class:`StoreError` (another process holds the lock)
    "database is locked"          :class:`StoreError` (the same, said by SQLite)
    ``sqlite3.DatabaseError``     :class:`StoreError` (corrupt or unreadable index)
    ``sqlite3.Error`` (other)     :class:`StoreError`
    ``pickle.PicklingError``      :class:`SerializationError`
    ``pickle.UnpicklingError``    :class:`CorruptEntryError`
    ``OSError``                   :class:`StoreError` (disk full, permissions, ...)
    ============================  ==================================================

    persist_ext's own errors and ``KeyError`` pass through unchanged. Hot paths call
    :func:`translated` from a plain ``try``/``except`` instead (no generator overhead).
    """
    try:
        yield
    except Exception as exc:
        new = translated(exc, key, where)
        if new is exc:
            raise
        raise new from exc


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    """True for SQLite's "database is locked": a lock wait that timed out, not a bad file."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:  # Python 3.10 does not say
        return "is locked" in str(exc)
    return (code & 0xFF) in _BUSY_CODES  # the primary code of any extended one


_BUSY_CODES = (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED (``sqlite3`` names them from Python 3.11)


def translated(exc: Exception, key: str | None = None, where: str = "") -> Exception:
    """The persist_ext error for ``exc`` (``exc`` itself when it needs no translation)."""
    place = f" {where}" if where else ""
    subject = f" (key {key!r})" if key is not None else ""
    if isinstance(exc, (StoreError, SerializationError, KeyError)):
        return exc
    if isinstance(exc, diskcache.Timeout) or (
        isinstance(exc, sqlite3.OperationalError) and _is_busy(exc)
    ):
        return StoreError(
            f"Timed out waiting for the store lock{place}{subject}: another process or "
            "connection held it longer than `timeout` seconds. Retry when it is done, or open "
            "the Store with a larger timeout.",
            key=key,
        )
    if isinstance(exc, sqlite3.DatabaseError):
        return StoreError(
            f"The store index{place} cannot be read{subject}: {exc}. If the file is corrupt, "
            "move the store directory aside and start a new one.",
            key=key,
        )
    if isinstance(exc, sqlite3.Error):
        return StoreError(f"SQLite error{place}{subject}: {exc}.", key=key)
    if isinstance(exc, pickle.PicklingError):
        return SerializationError(f"Cannot pickle{subject}: {exc}.")
    if isinstance(exc, pickle.UnpicklingError):
        return CorruptEntryError(
            f"Entry{subject} cannot be unpickled: {exc}. Delete it and store it again.", key=key
        )
    if isinstance(exc, OSError):
        return StoreError(
            f"File system error{place}{subject}: {exc}. Check free space and permissions.",
            key=key,
        )
    return exc
