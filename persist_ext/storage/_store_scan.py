"""The read-only, whole-store side of :class:`~persist_ext.Store`: listing and housekeeping.

:class:`StoreScan` is a mixin holding what walks the index rather than one entry: key
listing by prefix, counting, membership, volume, and the cleanup of expired entries and
orphan blob files. It relies on the store's ``directory``, ``_open_cache`` and ``info``.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import diskcache

from ._disk import BLOB_DIR, MODE_BLOB, translate_errors
from ._protocol import EntryInfo

__all__ = ["CLEANUP_EVERY", "StoreScan"]

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
        cache = self._open_cache()
        last, inclusive = prefix, True
        while True:
            op = ">=" if inclusive else ">"
            with translate_errors(where="listing keys"):
                # diskcache has no prefix scan; its (key, raw) index makes this a range read.
                rows = cache._sql(
                    f"SELECT key FROM Cache WHERE raw = 1 AND key {op} ?"
                    " AND (expire_time IS NULL OR expire_time > ?) ORDER BY key LIMIT ?",
                    (last, time.time(), _BATCH),
                ).fetchall()
            for (key,) in rows:
                if not isinstance(key, str):
                    continue
                if not key.startswith(prefix):
                    return
                yield key
            if len(rows) < _BATCH:
                return
            last, inclusive = rows[-1][0], False

    def items_info(self, prefix: str = "") -> Iterator[tuple[str, EntryInfo]]:
        """``(key, EntryInfo)`` for live keys starting with ``prefix`` (no decoding)."""
        for key in self.keys(prefix):
            info = self.info(key)
            if info is not None:
                yield key, info

    def __contains__(self, key: object) -> bool:
        cache = self._open_cache()
        with translate_errors(where="membership test"):
            return isinstance(key, str) and key in cache

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
    def cleanup(self, older_than: float = 3600.0) -> int:
        """Remove expired entries and orphan blob files older than ``older_than`` seconds.

        Orphans are left by processes killed between writing a blob and committing it; they
        are never referenced, so removing them is safe. The age guard spares files another
        process is writing right now. Runs automatically about once a day on open.
        Returns the number of files removed.
        """
        cache = self._open_cache(write=True)
        blobs = self.directory / BLOB_DIR
        with translate_errors(where="cleanup"):
            cache.expire()
            if not blobs.is_dir():
                return 0
            referenced = {
                name
                for (name,) in cache._sql(
                    "SELECT filename FROM Cache WHERE mode = ?", (MODE_BLOB,)
                ).fetchall()
            }
            cutoff = time.time() - older_than
            removed = 0
            for entry in os.scandir(blobs):
                name = f"{BLOB_DIR}/{entry.name}"
                if not entry.name.endswith(".bin") or name in referenced:
                    continue
                with contextlib.suppress(FileNotFoundError):
                    if entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)
                        removed += 1
            (blobs / _CLEANUP_MARKER).touch()
        return removed

    def _maybe_cleanup(self) -> None:
        marker = self.directory / BLOB_DIR / _CLEANUP_MARKER
        try:
            due = time.time() - marker.stat().st_mtime > CLEANUP_EVERY
        except FileNotFoundError:
            due = (self.directory / BLOB_DIR).is_dir()
        if due:
            self.cleanup()
