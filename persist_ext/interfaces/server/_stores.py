"""Find persist_ext stores under a directory and describe them without decoding any value.

A store is a directory named ``.persist`` (the default store beside a notebook) or any
directory holding a diskcache index ``cache.db``. Entries are described from the index
and the JSON summaries written when the values were stored; nothing is ever unpickled,
so a browser can look at untrusted stores safely.

Why SQLite directly and not ``Store(read_only=True)``: opening a ``diskcache.Cache`` writes
its settings into the index (turning another tool's eviction policy into ours) and needs
the write lock, and diskcache's ``fetch`` unpickles values of foreign caches. Here the index
is opened with SQLite's ``mode=ro`` and only persist_ext's JSON headers are parsed.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..._config import DEFAULT_DIRNAME
from ..._errors import CorruptEntryError, StoreError
from ...storage._disk import MODE_BLOB
from ...storage._entry import read_info
from ...storage._protocol import EntryInfo

__all__ = ["MAX_ENTRIES", "StoreSummary", "find_stores", "is_store", "read_entries"]

INDEX_FILE = "cache.db"
#: Entries listed per store; the reply says when there are more.
MAX_ENTRIES = 1000
#: Directories visited per scan, so a huge root (a home directory) cannot stall the server.
MAX_DIRECTORIES = 20_000
MAX_DEPTH = 8
# Folders that never hold a user's stores but can hold many thousands of directories.
_SKIP = frozenset({"node_modules", "__pycache__", "site-packages", ".git", ".venv", "venv"})

# diskcache's value modes (diskcache.core.MODE_*), named for display, and persist_ext's blob.
_MODE_RAW = 1
_MODES = {0: "none", 1: "raw", 2: "binary", 3: "text", 4: "pickle", MODE_BLOB: "blob"}
# Expired entries are gone for every reader, though diskcache removes them lazily.
_LIVE = "(expire_time IS NULL OR expire_time > ?)"


@dataclass(frozen=True)
class StoreSummary:
    """One store: where it is, how many entries, bytes on disk, last change."""

    path: str
    entries: int
    size: int
    modified: float
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (one row of ``GET /persist-ext/api/stores``)."""
        return {
            "path": self.path,
            "entries": self.entries,
            "size": self.size,
            "modified": self.modified,
            "error": self.error,
        }


def is_store(directory: Path) -> bool:
    """Whether ``directory`` is a store (named ``.persist`` or holding ``cache.db``)."""
    return directory.name == DEFAULT_DIRNAME or (directory / INDEX_FILE).is_file()


def find_stores(root: Path) -> tuple[list[StoreSummary], bool]:
    """Return the stores under ``root`` (sorted by path) and whether the scan was cut short.

    Symbolic links are not followed and hidden folders other than ``.persist`` are
    skipped, so the scan stays inside ``root`` and away from tool caches.

    >>> find_stores(Path("/nonexistent"))
    ([], False)
    """
    found: list[StoreSummary] = []
    visited = 0
    truncated = False
    for current, dirnames, _files in os.walk(root, followlinks=False):
        here = Path(current)
        depth = len(here.relative_to(root).parts)
        keep = []
        for name in sorted(dirnames):
            child = here / name
            if name in _SKIP or child.is_symlink():
                continue
            if name.startswith(".") and name != DEFAULT_DIRNAME:
                continue
            if is_store(child):
                found.append(_summarize(root, child))
            elif depth < MAX_DEPTH:
                keep.append(name)
        visited += 1
        if visited >= MAX_DIRECTORIES:
            truncated = True
            break
        dirnames[:] = keep  # never descend into a store, skipped or too deep folders
    found.sort(key=lambda store: store.path)
    return found, truncated


def _summarize(root: Path, store: Path) -> StoreSummary:
    size = 0
    modified = store.stat().st_mtime
    for current, _dirs, files in os.walk(store, followlinks=False):
        for name in files:
            try:
                stat = os.lstat(os.path.join(current, name))
            except FileNotFoundError:  # removed while we walk: a live store
                continue
            size += stat.st_size
            modified = max(modified, stat.st_mtime)
    entries, error = 0, None
    try:
        entries = _count_entries(store)
    except StoreError as exc:
        error = str(exc)
    return StoreSummary(store.relative_to(root).as_posix(), entries, size, modified, error)


def _connect(store: Path) -> sqlite3.Connection:
    """Open a store's diskcache index read-only (never creates or migrates anything)."""
    index = store / INDEX_FILE
    try:
        connection = sqlite3.connect(f"{index.as_uri()}?mode=ro", uri=True, timeout=2.0)
        connection.execute("SELECT 1 FROM Cache LIMIT 1")
    except sqlite3.Error as exc:
        raise StoreError(f"Cannot read the index {index}: {exc}.") from exc
    return connection


def _count_entries(store: Path) -> int:
    if not (store / INDEX_FILE).is_file():
        return 0
    connection = _connect(store)
    try:
        (count,) = connection.execute(
            f"SELECT COUNT(*) FROM Cache WHERE {_LIVE}", (time.time(),)
        ).fetchone()
    except sqlite3.Error as exc:
        raise StoreError(f"Cannot count the entries of {store}: {exc}.") from exc
    finally:
        connection.close()
    return int(count)


def read_entries(store: Path, limit: int = MAX_ENTRIES) -> list[dict[str, Any]]:
    """Describe up to ``limit`` live entries of ``store``, newest first, never decoding values.

    Entries written by persist_ext's ``Store`` are described by the JSON header stored with
    them (type, shape, size, ...); anything else in a diskcache index (another tool's cache)
    by its diskcache storage mode. Each item is :meth:`EntryInfo.to_json` plus ``"type"``.
    Raises :class:`~persist_ext.StoreError` when the index cannot be read.
    """
    if not (store / INDEX_FILE).is_file():
        return []
    connection = _connect(store)
    try:
        rows = connection.execute(
            "SELECT key, raw, store_time, expire_time, mode, typeof(value), "
            "CASE WHEN filename IS NULL THEN length(CAST(value AS BLOB)) ELSE size END, "
            # Only persist_ext's records (small headers) are fetched; other values stay put.
            "CASE WHEN mode IN (?, ?) AND typeof(value) = 'blob' THEN value END "
            f"FROM Cache WHERE {_LIVE} ORDER BY store_time DESC LIMIT ?",
            (_MODE_RAW, MODE_BLOB, time.time(), limit),
        ).fetchall()
    except sqlite3.Error as exc:
        raise StoreError(f"Cannot list the entries of {store}: {exc}.") from exc
    finally:
        connection.close()
    return [_describe(*row) for row in rows]


def _describe(
    key: Any,
    raw: int,
    created: float | None,
    expires: float | None,
    mode: int,
    sql_type: str,
    size: int | None,
    header: bytes | None,
) -> dict[str, Any]:
    if header is not None and raw and isinstance(key, str):
        try:
            info = read_info(key, header)  # parses the JSON header; the payload is untouched
        except CorruptEntryError:
            pass  # plain bytes stored by another tool: described below
        else:
            return {**info.to_json(), "type": str(info.summary.get("type", info.serializer))}
    serializer = f"diskcache-{_MODES.get(mode, str(mode))}"
    info = EntryInfo(
        key=_display_key(key, raw),
        serializer=serializer,
        size=int(size or 0),
        created=float(created or 0.0),
        summary={"type": _value_type(mode, sql_type)},
        expires=expires,
    )
    return {**info.to_json(), "type": info.summary["type"]}


def _display_key(key: Any, raw: int) -> str:
    if not raw:
        return "<pickled key>"  # never unpickle: the bytes may come from anywhere
    if isinstance(key, bytes):
        return key.decode("utf-8", errors="replace")
    return str(key)


def _value_type(mode: int, sql_type: str) -> str:
    if mode == _MODE_RAW:  # inline in SQLite: its storage class tells the Python type
        return {"integer": "int", "real": "float", "text": "str"}.get(sql_type, "bytes")
    return {2: "bytes", 3: "str", 4: "pickled object"}.get(mode, f"mode {mode}")
