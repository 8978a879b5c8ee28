"""Open a store's diskcache index for reading, safely, whatever the folder holds.

The server reads indices it did not write (a shared drive, an unzipped archive), so every
open here is defensive:

- the index and SQLite's side files (``-wal``, ``-shm``, ``-journal``) must be regular
  files, never symbolic links (SQLite would follow a link out of the root);
- the database is opened read-only (``mode=ro``), with ``trusted_schema`` off and
  ``query_only`` on, and ``Cache`` must be a real table (a crafted *view*, e.g. a recursive
  one, could otherwise make any query run forever);
- every statement runs under a deadline enforced by SQLite's progress handler, so a
  hostile index costs at most :data:`DEADLINE` seconds of one worker thread and answers an
  error; the server's event loop never runs SQLite at all (handlers use threads).
"""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..._errors import StoreError
from ...storage._layout import INDEX_FILE

__all__ = ["DEADLINE", "INDEX_FILE", "IndexConnection", "index_signature", "open_index"]

#: Seconds of SQLite work allowed per request and store.
DEADLINE = 2.0
_SIDE_FILES = ("-wal", "-shm", "-journal")
# The progress handler runs every this many SQLite virtual-machine instructions (~10 us).
_PROGRESS_STEPS = 2000


def _check_regular(path: Path, *, required: bool) -> os.stat_result | None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        if required:
            raise StoreError(f"No index {path.name} in {path.parent}.") from None
        return None
    except OSError as exc:
        raise StoreError(f"Cannot read {path}: {exc.strerror}.") from None
    if stat.S_ISLNK(info.st_mode):
        raise StoreError(
            f"{path} is a symbolic link; the server never follows links out of a store. "
            "Replace it with the real file."
        )
    if not stat.S_ISREG(info.st_mode):
        raise StoreError(f"{path} is not a regular file.")
    return info


def index_signature(store: Path) -> tuple[int, ...]:
    """Sizes and modification times of the index files: changes whenever a writer commits.

    Cheap (a few ``lstat`` calls, no SQLite): live views compare it before reading again.
    """
    parts: list[int] = []
    for suffix in ("", "-wal"):
        try:
            info = os.lstat(store / f"{INDEX_FILE}{suffix}")
        except OSError:
            parts += [0, 0]
            continue
        parts += [info.st_mtime_ns, info.st_size]
    return tuple(parts)


class IndexConnection(sqlite3.Connection):
    """A connection that knows what ``Cache`` and ``Settings`` are (``"table"``, ``"view"``...).

    Read once on open: callers need not ask ``sqlite_master`` again (a statement per store
    counts when a listing reads thousands of indexes).
    """

    kinds: dict[str, str]


@contextmanager
def open_index(store: Path, *, deadline: float = DEADLINE) -> Iterator[IndexConnection]:
    """A read-only connection to ``store``'s index, closed on exit.

    Raises :class:`~persist_ext.StoreError` (with the reason) when the index is missing, a
    link, not a diskcache index, or when a statement runs past ``deadline`` seconds.
    """
    index = store / INDEX_FILE
    _check_regular(index, required=True)
    for suffix in _SIDE_FILES:
        _check_regular(store / f"{INDEX_FILE}{suffix}", required=False)
    stop_at = time.monotonic() + deadline

    def over_time() -> int:
        return 1 if time.monotonic() > stop_at else 0

    try:
        connection = sqlite3.connect(
            f"{index.as_uri()}?mode=ro",
            uri=True,
            timeout=min(deadline, 1.0),
            factory=IndexConnection,
        )
    except sqlite3.Error as exc:
        raise StoreError(f"Cannot open the index {index}: {exc}.") from None
    try:
        connection.set_progress_handler(over_time, _PROGRESS_STEPS)
        try:
            connection.execute("PRAGMA trusted_schema = OFF")
            connection.execute("PRAGMA query_only = ON")
            connection.kinds = dict(
                connection.execute(
                    "SELECT name, type FROM sqlite_master WHERE name IN ('Cache', 'Settings')"
                ).fetchall()
            )
        except sqlite3.Error as exc:
            raise _error(index, exc) from None
        if connection.kinds.get("Cache") != "table":
            raise StoreError(
                f"{index} is not a diskcache index (no Cache table); it cannot be listed."
            )
        yield connection
    except sqlite3.Error as exc:
        raise _error(index, exc) from None
    finally:
        connection.close()


def _error(index: Path, exc: sqlite3.Error) -> StoreError:
    if "interrupt" in str(exc).lower():
        return StoreError(
            f"Reading {index} took longer than the server allows; the index may be damaged "
            "or crafted. Nothing was changed."
        )
    return StoreError(f"Cannot read the index {index}: {exc}.")
