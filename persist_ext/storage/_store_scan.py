"""The read-only, whole-store side of :class:`~persist_ext.Store`: listing and housekeeping.

:class:`StoreScan` is a mixin holding what walks the index rather than one entry: key
listing by prefix, counting, membership, volume, and the cleanup of expired entries and
orphan blob files. It relies on the store's ``directory``, ``_open_cache`` and ``info``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import diskcache

from .._errors import StoreError
from ._atomic import is_locked
from ._disk import BLOB_DIR, MODE_BLOB, translate_errors, valid_blob_name
from ._entry import check_key, is_storable_key
from ._forkgate import WRITING
from ._protocol import EntryInfo

logger = logging.getLogger("persist_ext")

__all__ = ["CLEANUP_EVERY", "StoreScan", "prefix_end"]

_BATCH = 1000
CLEANUP_EVERY = 24 * 3600.0
_CLEANUP_MARKER = ".last-cleanup"


class StoreScan:
    """Listing, counting and cleanup for a diskcache-backed store (mixed into ``Store``)."""

    directory: Path

    def _open_cache(self, *, write: bool = False) -> diskcache.Cache:  # pragma: no cover
        raise NotImplementedError

    def info(self, key: str) -> EntryInfo | None:  # pragma: no cover
        raise NotImplementedError

    # ----------------------------------------------------------------- listing
    def keys(self, prefix: str = "") -> Iterator[str]:
        """Live keys starting with ``prefix``, in sorted order (read in batches)."""
        check_key(prefix)
        cache = self._open_cache()
        # diskcache has no prefix scan (``iterkeys`` walks every key from the first); its
        # (key, raw) index makes this a range read, bounded at both ends of the prefix so
        # that a lookup reads only its own keys, however many the neighbouring prefixes hold.
        end = prefix_end(prefix)
        upper = "" if end is None else " AND key < ?"
        last, inclusive = prefix, True
        while True:
            op = ">=" if inclusive else ">"
            args: tuple[object, ...] = (last,) if end is None else (last, end)
            with translate_errors(where="listing keys"):
                rows = cache._sql(
                    f"SELECT key FROM Cache WHERE raw = 1 AND key {op} ?{upper}"
                    " AND (expire_time IS NULL OR expire_time > ?) ORDER BY key LIMIT ?",
                    (*args, time.time(), _BATCH),
                ).fetchall()
            for (key,) in rows:
                # Only text keys sort between two strings; startswith stays as a guard.
                if isinstance(key, str) and key.startswith(prefix):
                    yield key
            if len(rows) < _BATCH:
                return
            last, inclusive = rows[-1][0], False

    def items_info(self, prefix: str = "") -> Iterator[tuple[str, EntryInfo]]:
        """``(key, EntryInfo)`` for live keys starting with ``prefix`` (no decoding).

        A row the store refuses (it names a file outside the store, or was written by
        another program) is skipped with a logged warning: one hostile row never stops a
        listing.
        """
        for key in self.keys(prefix):
            try:
                info = self.info(key)
            except StoreError as exc:
                logger.warning("persist_ext: skipping %r in %s: %s", key, self.directory, exc)
                continue
            if info is not None:
                yield key, info

    def __contains__(self, key: object) -> bool:
        cache = self._open_cache()
        with translate_errors(where="membership test"):
            return is_storable_key(key) and key in cache

    def __len__(self) -> int:
        cache = self._open_cache()
        with translate_errors(where="counting"):
            ((count,),) = cache._sql(
                "SELECT COUNT(*) FROM Cache WHERE expire_time IS NULL OR expire_time > ?",
                (time.time(),),
            ).fetchall()
        return int(count)

    def __iter__(self) -> Iterator[str]:
        return self.keys()

    def volume(self) -> int:
        """Bytes on disk: the SQLite index plus every blob file."""
        cache = self._open_cache()
        with translate_errors(where="measuring volume"):
            return int(cache.volume())

    # ----------------------------------------------------------------- maintenance
    def _orphans(self, cache: diskcache.Cache, fresh: float = 30.0) -> list[Path]:
        """Blob files no row references and no live writer holds (crash debris)."""
        blobs = self.directory / BLOB_DIR
        if os.path.islink(blobs) or not blobs.is_dir():
            return []
        names = [
            entry.name for entry in os.scandir(blobs) if valid_blob_name(f"{BLOB_DIR}/{entry.name}")
        ]
        if not names:
            return []
        referenced = {
            name
            for (name,) in cache._sql(
                "SELECT filename FROM Cache WHERE mode = ?", (MODE_BLOB,)
            ).fetchall()
        }
        candidates = [blobs / n for n in names if f"{BLOB_DIR}/{n}" not in referenced]
        # A writer holds its blob locked until the row that references it commits, so an
        # unlocked, unreferenced blob belongs to a dead writer; re-check the index for those
        # that committed while we looked.
        dead = [path for path in candidates if is_locked(path, fresh=fresh) is False]
        return [
            path
            for path in dead
            if not cache._sql(
                "SELECT 1 FROM Cache WHERE filename = ? LIMIT 1", (f"{BLOB_DIR}/{path.name}",)
            ).fetchall()
        ]

    def debris(self) -> list[Path]:
        """Crash debris waiting for removal: blobs of killed writers nothing references.

        ``%persist info`` reports them; the next writable open (or :meth:`cleanup`) removes
        them. Never includes a file a live writer is still writing.
        """
        cache = self._open_cache()
        with translate_errors(where="looking for crash debris"):
            return self._orphans(cache)

    def remove_debris(self, *, fresh: float = 30.0) -> int:
        """Remove the blobs of killed writers (see :meth:`debris`); return how many.

        An empty blob younger than ``fresh`` seconds is spared: its writer may be alive and
        about to lock it.
        """
        cache = self._open_cache(write=True)
        removed = 0
        for path in self._orphans(cache, fresh):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed += 1
        if removed:
            logger.info("persist_ext: removed %d orphan blob(s) in %s", removed, self.directory)
        return removed

    def cleanup(self, older_than: float = 3600.0) -> int:
        """Remove expired entries and orphan blob files; return the number of files removed.

        Orphans are left by processes killed between writing a blob and committing it; they
        are never referenced, so removing them is safe. A blob a live writer holds (it stays
        locked until its row commits) is never removed. Orphans of dead writers are removed
        whatever their age, except empty ones younger than ``older_than`` (at most 30 s: a
        writer may be between creating and locking one). Runs
        automatically about once a day on open (crash debris goes on every open).
        Rows that name files outside the store are dropped without touching those files.
        """
        cache = self._open_cache(write=True)
        blobs = self.directory / BLOB_DIR
        with WRITING, translate_errors(where="cleanup"):
            cache.expire()
            removed = self.remove_debris(fresh=min(max(older_than, 0.0), 30.0))
            if blobs.is_dir() and not os.path.islink(blobs):
                _touch_inside(blobs / _CLEANUP_MARKER)
        return removed

    def _maybe_cleanup(self) -> None:
        marker = self.directory / BLOB_DIR / _CLEANUP_MARKER
        try:
            due = time.time() - marker.lstat().st_mtime > CLEANUP_EVERY
        except FileNotFoundError:
            due = (self.directory / BLOB_DIR).is_dir()
        if due:
            self.cleanup()


def prefix_end(prefix: str) -> str | None:
    """The least string above every string starting with ``prefix`` (``None``: no bound).

    SQLite compares text by its UTF-8 bytes, whose order is code point order, so the
    strings starting with ``prefix`` are exactly those in ``[prefix, prefix_end(prefix))``:
    the last character that can grow grows by one, and the characters after it go (a
    trailing U+10FFFF cannot grow). Surrogates cannot be encoded, so U+D7FF grows to U+E000,
    the next encodable code point.
    """
    chars = list(prefix)
    while chars:
        point = ord(chars.pop()) + 1
        if point > 0x10FFFF:
            continue
        if 0xD800 <= point <= 0xDFFF:
            point = 0xE000
        return "".join(chars) + chr(point)
    return None


def _touch_inside(path: Path) -> None:
    """Create or touch ``path`` without following a link planted under its name."""
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o666)
    except OSError:  # a symbolic link (ELOOP) or something odd: replace it by our file
        with contextlib.suppress(OSError):
            path.unlink()
        fd = os.open(path, flags | os.O_EXCL, 0o666)
    try:
        os.utime(fd)
    finally:
        os.close(fd)
