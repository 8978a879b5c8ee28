"""Find persist_ext stores under a directory and describe their entries without decoding any.

A store is a directory named ``.persist`` (the default store beside a notebook) or any
directory holding a diskcache index ``cache.db``. Stores may be nested (``.persist/demo``):
each is listed on its own and its bytes are not counted in its parent's size.

Entries are described from the index and the JSON headers written with them; nothing is
ever unpickled, so a browser can look at untrusted stores safely.

Why SQLite directly and not ``Store(read_only=True)``: opening a ``diskcache.Cache`` writes
its settings into the index and needs the write lock, and diskcache's ``fetch`` unpickles
values of foreign caches. Here the index is opened by :func:`._index.open_index` (read-only,
deadline-bounded, never through a symbolic link) and only JSON headers are parsed.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..._config import DEFAULT_DIRNAME
from ..._errors import CorruptEntryError, StoreError
from ..._threads import HousekeepingThread
from ...storage._atomic import atomic_write
from ...storage._disk import BLOB_DIR, MODE_BLOB
from ...storage._entry import read_info
from ...storage._leases import LEASES_DIRNAME
from ...storage._protocol import EntryInfo
from ...storage._store_scan import prefix_end
from ._index import INDEX_FILE, open_index

__all__ = [
    "HEADER_BYTES",
    "MAX_PAGE",
    "EntryPage",
    "StoreSummary",
    "describe_row",
    "find_stores",
    "is_store",
    "read_entries",
    "read_headers",
    "read_keys",
]

#: Largest page of entries one request returns.
MAX_PAGE = 1000
#: Bytes of a stored record read to find its JSON header (headers are small; payloads stay put).
HEADER_BYTES = 256 * 1024
#: Directories visited per scan, so a huge root (a home directory) cannot stall the server.
MAX_DIRECTORIES = 20_000
MAX_DEPTH = 8
#: SQLite time allowed per store while listing stores (a hostile index shows as an error).
LIST_DEADLINE = 0.5
#: Longest a listing on a budget waits for the counts of recently written stores.
HOT_WAIT = 5.0
# Folders that never hold a user's stores but can hold many thousands of directories.
_SKIP = frozenset({"node_modules", "__pycache__", "site-packages", ".git", ".venv", "venv"})
# Folders inside a store that belong to it (diskcache's value folders are two hex digits).
_STORE_PARTS = frozenset({BLOB_DIR, LEASES_DIRNAME})

# diskcache's value modes (diskcache.core.MODE_*), named for display, and persist_ext's blob.
_MODE_RAW = 1
_MODES = {0: "none", 1: "raw", 2: "binary", 3: "text", 4: "pickle", MODE_BLOB: "blob"}
# Expired entries are gone for every reader, though diskcache removes them lazily.
_LIVE = "(expire_time IS NULL OR expire_time > :now)"
# Columns describing an entry without its value; only persist_ext headers are fetched.
_COLUMNS = (
    "key, raw, store_time, expire_time, mode, typeof(value), "
    "CASE WHEN filename IS NULL THEN length(CAST(value AS BLOB)) ELSE size END, "
    "CASE WHEN raw AND mode IN (:mode_raw, :mode_blob) AND typeof(value) = 'blob' "
    "THEN substr(value, 1, :header_bytes) END"
)


@dataclass(frozen=True)
class StoreSummary:
    """One store: where it is, how many entries, its own bytes on disk, last change."""

    path: str
    entries: int | None  # None: still being counted (see find_stores' ``budget``)
    size: int
    modified: float
    error: str | None = None
    nested: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (one row of ``GET /persist-ext/api/stores``)."""
        return {
            "path": self.path,
            "entries": self.entries,
            "size": self.size,
            "modified": self.modified,
            "error": self.error,
            "nested": list(self.nested),
        }


def is_store(directory: Path) -> bool:
    """Whether ``directory`` is a store (named ``.persist`` or holding ``cache.db``)."""
    return directory.name == DEFAULT_DIRNAME or (directory / INDEX_FILE).is_file()


def _is_store_entry(entry: os.DirEntry[str]) -> bool:
    if entry.name == DEFAULT_DIRNAME:
        return True
    # Any cache.db counts, links included: such a store is listed with the reason it
    # cannot be read rather than silently hidden.
    return os.path.lexists(os.path.join(entry.path, INDEX_FILE))


def _store_part(name: str) -> bool:
    return name in _STORE_PARTS or (len(name) == 2 and all(c in "0123456789abcdef" for c in name))


def find_stores(root: Path, *, budget: float | None = None) -> tuple[list[StoreSummary], bool]:
    """Return the stores under ``root`` (sorted by path) and whether the scan was cut short.

    Entry counts are read by background threads (:class:`_Counter`). Without ``budget``
    this waits for all of them; with it, it returns after ``budget`` seconds (counted from
    the call) with ``entries=None`` for the stores still being counted: the caller asks
    again later, and counts finished meanwhile are remembered (never shown once the index
    changed). Stores written in the last :data:`QUIET_SECONDS` are counted first and
    waited for up to :data:`HOT_WAIT` seconds: their counts cannot be remembered, and a
    store just written is the one a user looks for.

    Symbolic links are never followed; hidden folders other than ``.persist`` and tool
    folders (``node_modules``, ``.git``, ...) are skipped, so the scan stays inside
    ``root``. A store's size counts its own files, not those of stores nested in it.

    A store whose index has not changed since the last scan is not read again: its entry
    count and the bytes of its value folders come from :data:`_SCANS` (see
    :class:`_StoreScan`); only its top-level files are looked at.

    >>> find_stores(Path("/nonexistent"))
    ([], False)
    """
    started = time.monotonic()
    found: list[dict[str, Any]] = []
    # (directory, depth, owning store index or -1, inside one of the store's own value folders)
    stack: list[tuple[str, int, int, bool]] = [(str(root), 0, -1, False)]
    visited = 0
    truncated = False
    now = time.time()
    while stack:
        current, depth, owner, in_part = stack.pop()
        visited += 1
        if visited > MAX_DIRECTORIES:
            truncated = True
            break
        try:
            with os.scandir(current) as listing:
                entries = list(listing)
        except OSError:
            continue
        for entry in entries:
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if not is_dir:
                if owner >= 0:
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except OSError:  # removed while we walk: a live store
                        continue
                    where = "parts" if in_part else "own"
                    found[owner][f"{where}_size"] += info.st_size
                    found[owner][f"{where}_modified"] = max(
                        found[owner][f"{where}_modified"], info.st_mtime
                    )
                continue
            name = entry.name
            if name in _SKIP:
                continue
            if _is_store_entry(entry):
                if owner >= 0:
                    found[owner]["nested"].append(entry.path)
                item = _new_item(entry, now)
                found.append(item)
                stack.append((entry.path, depth + 1, len(found) - 1, False))
            elif owner >= 0 and (in_part or _store_part(name)):
                if found[owner]["scan"] is None:  # unchanged store: its value folders are known
                    stack.append((entry.path, depth + 1, owner, True))
            elif name.startswith("."):
                continue
            elif depth < MAX_DEPTH:
                # A plain folder: part of its store (if any); may hold nested stores.
                stack.append((entry.path, depth + 1, owner, False))
    changed = [item for item in found if item["scan"] is None]
    jobs = [(item, _COUNTER.request(item["dir"], item["key"], now)) for item in changed]
    until = None if budget is None else started + budget
    until_hot = None if budget is None else started + max(budget, HOT_WAIT)
    for item, job in jobs:
        if job is not None and not job.wait(until_hot if job.hot else until):
            item["entries"] = None  # still counting: shown as such, never a guess
            continue
        _rescan(item, now, job)
    summaries = [_summarize(root, item) for item in found]
    summaries.sort(key=lambda store: store.path)
    return summaries, truncated


@dataclass(frozen=True)
class _StoreScan:
    """What one scan learnt about a store that only changes when its index changes.

    ``key`` is the size and mtime of ``cache.db`` and of its WAL (when not empty) and the
    mtime of the blob folder (blobs are added and removed there, flat). The entry count is
    also bounded in time: it is exact until the next entry expires (``valid_until``).
    """

    key: tuple[int, ...]
    entries: int
    parts_size: int
    parts_modified: float
    valid_until: float


#: Scans of quiet stores by directory (bounded; a scan is dropped when its store changes).
_SCANS: dict[str, _StoreScan] = {}
_SCANS_LOCK = threading.Lock()
_MAX_SCANS = 20_000
#: A store is remembered only once its index has been still this long: a writer removes
#: superseded value files just after committing, so a busier store is walked every time.
QUIET_SECONDS = 5.0


def _scan_key(store: str) -> tuple[int, ...]:
    # Like ``index_signature``, except that an empty WAL counts as none: a reader opening
    # a store creates an empty ``cache.db-wal``, which must not look like a write.
    key: list[int] = []
    for name in (INDEX_FILE, f"{INDEX_FILE}-wal", BLOB_DIR):
        try:
            info = os.lstat(os.path.join(store, name))
        except OSError:
            key += [0, 0]
            continue
        if name == BLOB_DIR:
            key += [info.st_mtime_ns, 0]
        elif info.st_size or name == INDEX_FILE:
            key += [info.st_mtime_ns, info.st_size]
        else:
            key += [0, 0]
    return tuple(key)


def _new_item(entry: os.DirEntry[str], now: float) -> dict[str, Any]:
    key = _scan_key(entry.path)
    with _SCANS_LOCK:
        scan = _SCANS.get(entry.path)
        if scan is not None and (scan.key != key or scan.valid_until <= now):
            del _SCANS[entry.path]  # changed (or an entry expired): read it again
            scan = None
    return {
        "dir": entry.path,
        "key": key,
        "scan": scan,
        "own_size": 0,
        "own_modified": _mtime(entry),
        "parts_size": 0 if scan is None else scan.parts_size,
        "parts_modified": 0.0 if scan is None else scan.parts_modified,
        "entries": 0 if scan is None else scan.entries,
        "error": None,
        "nested": [],
    }


def _rescan(item: dict[str, Any], now: float, job: _Count | None) -> None:
    """Take ``item``'s entry count from ``job``; remember the scan if the store is quiet.

    ``job`` is None when the store has no index (a bare ``.persist`` folder).
    """
    if job is None:
        return
    if job.error is not None:
        item["error"] = job.error  # never remembered: a slow read may pass next time
        return
    item["entries"], next_expiry = job.entries, job.next_expiry
    # A remembered count was matched against this very key; a fresh one may have been read
    # while the store changed: look at its files again before remembering the scan.
    if not _quiet(item["key"], now):
        return
    if not (job.remembered and job.key == item["key"]) and _scan_key(item["dir"]) != item["key"]:
        return
    scan = _StoreScan(
        item["key"],
        item["entries"],
        item["parts_size"],
        item["parts_modified"],
        next_expiry if next_expiry is not None else float("inf"),
    )
    with _SCANS_LOCK:
        if len(_SCANS) >= _MAX_SCANS:
            _SCANS.clear()  # rare (a root with more stores than this): start again
        _SCANS[item["dir"]] = scan


def _quiet(key: tuple[int, ...], now: float) -> bool:
    """No index file nor the blob folder changed in the last :data:`QUIET_SECONDS`.

    mtimes are in ns in the key; a file's mtime has a coarse tick (a few ms, 1 s on some
    file systems): a write in the same tick as a read could leave the key unchanged, so
    only counts of stores still for longer than any tick are remembered.
    """
    newest = max(key[0::2]) / 1e9 if key else now
    return now - newest >= QUIET_SECONDS


@dataclass
class _Count:
    """One count of a store's entries, read by a :class:`_Counter` thread."""

    store: str
    key: tuple[int, ...]
    hot: bool
    done: threading.Event = field(default_factory=threading.Event)
    entries: int | None = None
    next_expiry: float | None = None
    error: str | None = None
    #: Remembered (quiet, unchanged while read): valid for as long as ``key`` is current.
    remembered: bool = False

    def wait(self, until: float | None) -> bool:
        """Wait for the count until ``until`` (``time.monotonic()``; None: no limit)."""
        if until is None:
            return self.done.wait()
        return self.done.wait(max(until - time.monotonic(), 0.0))


class _Counter:
    """Counts stores' entries in background threads, remembering quiet stores' counts.

    One SQLite read per store (~1 ms quiet, several under load) makes the first listing of
    1,000 stores take seconds; counting them here lets a listing answer at once and fill
    in counts as they come (the panel shows "counting…"). Results are remembered only for
    quiet stores (:func:`_quiet`) and only under the index key they were read for; a store
    written since is counted again. Stores written recently ("hot") jump the queue: their
    counts cannot be remembered, so a listing waits for them. The threads are daemons: a
    server stopping never waits for a queue of counts.
    """

    workers = 2  # SQLite reads overlap on the disk; more threads only contend for 2 cores

    def __init__(self, memo: Path | None = None) -> None:
        self._lock = threading.Condition()
        self._saving = threading.Lock()
        self._queue: deque[_Count] = deque()
        self._jobs: dict[str, _Count] = {}
        self._known: dict[str, _Count] = {}
        self._threads: list[threading.Thread] = []
        # Remembered counts survive a restart in this JSON file (read once, written after
        # a batch of counts): a restarted server lists unchanged stores without SQLite.
        self._memo = memo
        self._loaded = memo is None
        self._dirty = False
        self._saved = 0.0

    def request(self, store: str, key: tuple[int, ...], now: float) -> _Count | None:
        """The count of ``store`` for index ``key``: remembered, under way, or queued now.

        None when ``store`` has no index (nothing to count).
        """
        if not os.path.lexists(os.path.join(store, INDEX_FILE)):
            return None
        with self._lock:
            if not self._loaded:
                self._loaded = True
                self._known.update(_load_memo(self._memo))
            known = self._known.get(store)
            if known is not None:
                expiry = known.next_expiry
                if known.key == key and (expiry is None or expiry > now):
                    return known
                del self._known[store]
            job = self._jobs.get(store)
            if job is not None and job.key == key:
                return job
            job = _Count(store, key, hot=not _quiet(key, now))
            self._jobs[store] = job
            if job.hot:
                self._queue.appendleft(job)
            else:
                self._queue.append(job)
            if len(self._threads) < self.workers:
                thread = HousekeepingThread(target=self._work, name="persist-ext-count")
                self._threads.append(thread)
                thread.start()
            self._lock.notify()
            return job

    def forget(self) -> None:
        """Drop every remembered count (tests; a store's files restored from a backup)."""
        with self._lock:
            self._known.clear()

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._queue:
                    self._lock.wait()
                job = self._queue.popleft()
            try:
                job.entries, job.next_expiry = _count(Path(job.store), deadline=LIST_DEADLINE)
            except StoreError as exc:
                job.error = str(exc)
            except Exception as exc:  # a thread must never die of one store
                job.error = f"Cannot count the entries of {job.store}: {exc}."
            with self._lock:
                if self._jobs.get(job.store) is job:
                    del self._jobs[job.store]
                # Remembered only if quiet and unchanged while it was read (see _quiet).
                if (
                    job.error is None
                    and not job.hot
                    and _quiet(job.key, time.time())
                    and _scan_key(job.store) == job.key
                ):
                    if len(self._known) >= _MAX_SCANS:
                        self._known.clear()
                    job.remembered = True
                    self._known[job.store] = job
                    self._dirty = True
                job.done.set()
                save = self._dirty and (not self._queue or time.monotonic() - self._saved > 5)
                if save:
                    self._dirty = False
                    self._saved = time.monotonic()
            if save:
                self._save()

    def _save(self) -> None:
        # One save at a time, each of the counts known when it starts: two threads saving
        # at once could otherwise end with the older, smaller snapshot on disk.
        with self._saving:
            with self._lock:
                records = {
                    s: [list(j.key), j.entries, j.next_expiry] for s, j in self._known.items()
                }
            _save_memo(self._memo, records)


#: Format of the remembered-counts file (see :func:`_load_memo`).
_MEMO_FORMAT = 1


def memo_path() -> Path | None:
    """Where remembered store counts are kept between server runs, or None (nowhere).

    ``PERSIST_EXT_LISTING_MEMO`` names the file (empty: keep nothing); by default
    ``$XDG_CACHE_HOME/persist_ext/store-counts.json`` (``~/.cache/...``): the user's own
    cache, never the served root, whose writers must not be able to plant counts.
    """
    setting = os.environ.get("PERSIST_EXT_LISTING_MEMO")
    if setting is not None:
        return Path(setting) if setting else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "persist_ext" / "store-counts.json"


def _load_memo(path: Path | None) -> dict[str, _Count]:
    """Counts remembered by an earlier server (JSON only; anything malformed is skipped).

    Each is used only while its store's index key is exactly the one it was read for,
    like a count remembered in memory: a store changed since is counted again.
    """
    if path is None:
        return {}
    try:
        data = json.loads(path.read_bytes()[: 64 << 20])
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != _MEMO_FORMAT:
        return {}
    records = data.get("counts")
    known: dict[str, _Count] = {}
    for store, record in (records if isinstance(records, dict) else {}).items():
        if not isinstance(record, list) or len(record) != 3:
            continue
        key, entries, expiry = record
        if (
            not isinstance(key, list)
            or not all(type(k) is int for k in key)
            or type(entries) is not int
            or entries < 0
            or not (expiry is None or isinstance(expiry, (int, float)))
        ):
            continue
        job = _Count(str(store), tuple(key), False, entries=entries, next_expiry=expiry)
        job.remembered = True
        job.done.set()
        known[job.store] = job
        if len(known) >= _MAX_SCANS:
            break
    return known


def _save_memo(path: Path | None, records: dict[str, Any]) -> None:
    """Write ``records`` over the memo file, keeping the other servers' records (another
    root, another process) whose stores still exist; ours win for the same store."""
    if path is None:
        return
    others = {
        store: [list(job.key), job.entries, job.next_expiry]
        for store, job in _load_memo(path).items()
        if store not in records and os.path.lexists(os.path.join(store, INDEX_FILE))
    }
    if len(others) + len(records) <= _MAX_SCANS:
        records = {**others, **records}
    try:
        text = json.dumps({"format": _MEMO_FORMAT, "counts": records}, separators=(",", ":"))
        atomic_write(path, text.encode())
    except (OSError, ValueError):  # a read-only home: counts are simply not kept
        pass


_COUNTER = _Counter(memo_path())


def _mtime(entry: os.DirEntry[str]) -> float:
    try:
        return entry.stat(follow_symlinks=False).st_mtime
    except OSError:
        return 0.0


def _relative(start: int, path: str) -> str:
    # Every path here was joined by the walk onto ``str(root)``: slicing it is exact, and
    # ~25 % of a 1,000-store walk went to ``Path.relative_to`` (profiled).
    relative = path[start:]
    return relative if os.sep == "/" else relative.replace(os.sep, "/")


def _summarize(root: Path, item: dict[str, Any]) -> StoreSummary:
    start = len(os.path.join(str(root), ""))
    return StoreSummary(
        _relative(start, item["dir"]),
        None if item["entries"] is None else int(item["entries"]),
        int(item["own_size"] + item["parts_size"]),
        float(max(item["own_modified"], item["parts_modified"])),
        item["error"],
        sorted(_relative(start, n) for n in item["nested"]),
    )


def count_entries(store: Path, *, deadline: float | None = None) -> int:
    """Live entries of ``store`` (diskcache's own counter minus expired rows; indexed)."""
    return _count(store, deadline=deadline)[0]


def _count(store: Path, *, deadline: float | None = None) -> tuple[int, float | None]:
    """Live entries of ``store`` and when the next live entry expires (``None``: never)."""
    kwargs = {} if deadline is None else {"deadline": deadline}
    with open_index(store, **kwargs) as connection:
        now = time.time()
        # One statement (the first listing reads 1,000s of indexes: each one costs). Only
        # diskcache's own Settings *table* is read (a crafted view could run forever).
        settings = connection.kinds.get("Settings") == "table"
        stored, expired, next_expiry = connection.execute(
            "SELECT "
            + ("(SELECT value FROM Settings WHERE key = 'count'), " if settings else "NULL, ")
            + "(SELECT COUNT(*) FROM Cache WHERE expire_time <= :now), "
            "(SELECT MIN(expire_time) FROM Cache WHERE expire_time > :now)",
            {"now": now},
        ).fetchone()
        if not isinstance(next_expiry, (int, float)):
            next_expiry = None
        if isinstance(stored, int):
            return max(stored - int(expired), 0), next_expiry
        (count,) = connection.execute(
            f"SELECT COUNT(*) FROM Cache WHERE {_LIVE}", {"now": now}
        ).fetchone()
        return int(count), next_expiry


@dataclass(frozen=True)
class EntryPage:
    """One page of a store's entries, in key order."""

    entries: list[dict[str, Any]]
    total: int
    offset: int
    next_after: str | None

    def to_json(self, path: str) -> dict[str, Any]:
        """The reply of ``GET /persist-ext/api/stores/entries``."""
        return {
            "path": path,
            "entries": self.entries,
            "total": self.total,
            "offset": self.offset,
            "next": self.next_after,
            "truncated": self.next_after is not None,
        }


def _prefix_bounds(prefix: str) -> tuple[str, str | bytes]:
    # Every text starting with ``prefix`` sorts (BINARY collation, UTF-8) before its end;
    # with no end (an empty prefix), before any BLOB, which SQLite sorts after all text.
    end = prefix_end(prefix)
    return prefix, b"" if end is None else end


def read_entries(
    store: Path,
    *,
    prefix: str = "",
    glob: str = "",
    after: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> EntryPage:
    """A page of ``store``'s live entries in key order, described without decoding values.

    ``prefix`` and ``glob`` (SQLite ``GLOB``: ``*``, ``?``, ``[...]``, case-sensitive) filter
    keys in SQL. Paging is by key (``after``: the last key of the previous page, which stays
    fast however deep the page) or, without ``after``, by ``offset``. Entries written by
    persist_ext are described by their JSON header; anything else in a diskcache index by
    its storage mode. Raises :class:`~persist_ext.StoreError` when the index cannot be read.
    """
    where = [_LIVE]
    params: dict[str, Any] = {
        "now": time.time(),
        "mode_raw": _MODE_RAW,
        "mode_blob": MODE_BLOB,
        "header_bytes": HEADER_BYTES,
    }
    if prefix:
        params["lo"], params["hi"] = _prefix_bounds(prefix)
        where.append("key >= :lo AND key < :hi")
    if glob:
        params["glob"] = glob
        where.append("key GLOB :glob")
    condition = " AND ".join(where)
    page_where = condition
    if after is not None:
        params["after"] = after
        page_where += " AND key > :after"
    params["limit"] = limit + 1
    params["offset"] = 0 if after is not None else offset
    with open_index(store) as connection:
        (total,) = connection.execute(
            f"SELECT COUNT(*) FROM Cache WHERE {condition}", params
        ).fetchone()
        rows = connection.execute(
            f"SELECT {_COLUMNS} FROM Cache WHERE {page_where} "
            "ORDER BY key LIMIT :limit OFFSET :offset",
            params,
        ).fetchall()
    more = len(rows) > limit
    rows = rows[:limit]
    entries = [describe_row(*row) for row in rows]
    next_after = None
    if more and rows and isinstance(rows[-1][0], str):
        next_after = rows[-1][0]
    elif more:
        next_after = ""  # non-text keys: the client pages on by offset
    return EntryPage(entries, int(total), offset if after is None else -1, next_after)


def read_headers(
    store: Path,
    keys: list[str] | None = None,
    *,
    prefix: str = "",
    after: str | None = None,
    header_bytes: int = HEADER_BYTES,
) -> list[dict[str, Any]]:
    """Described entries for exact ``keys``, or every live key under ``prefix`` (key order).

    ``after`` skips keys up to and including it (incremental reads of append-only pages).
    ``header_bytes``: how much of each record is read to find its header (a header cut
    short describes the entry as foreign bytes, without its meta).
    """
    params: dict[str, Any] = {
        "now": time.time(),
        "mode_raw": _MODE_RAW,
        "mode_blob": MODE_BLOB,
        "header_bytes": header_bytes,
    }
    with open_index(store) as connection:
        if keys is not None:
            rows = []
            for key in keys:
                params["key"] = key
                rows += connection.execute(
                    f"SELECT {_COLUMNS} FROM Cache WHERE key = :key AND raw AND {_LIVE}",
                    params,
                ).fetchall()
        else:
            params["lo"], params["hi"] = _prefix_bounds(prefix)
            where = f"key >= :lo AND key < :hi AND {_LIVE}"
            if after is not None:
                params["after"] = after
                where += " AND key > :after"
            rows = connection.execute(
                f"SELECT {_COLUMNS} FROM Cache WHERE {where} ORDER BY key", params
            ).fetchall()
    return [describe_row(*row) for row in rows]


def read_keys(store: Path, *, prefix: str, glob: str) -> list[str]:
    """Live text keys under ``prefix`` matching ``glob`` (values are never read)."""
    lo, hi = _prefix_bounds(prefix)
    with open_index(store) as connection:
        rows = connection.execute(
            f"SELECT key FROM Cache WHERE key >= :lo AND key < :hi AND key GLOB :glob "
            f"AND raw AND {_LIVE} ORDER BY key",
            {"lo": lo, "hi": hi, "glob": glob, "now": time.time()},
        ).fetchall()
    return [key for (key,) in rows if isinstance(key, str)]


def describe_row(
    key: Any,
    raw: int,
    created: float | None,
    expires: float | None,
    mode: int,
    sql_type: str,
    size: int | None,
    header: bytes | None,
) -> dict[str, Any]:
    """One entry as :meth:`EntryInfo.to_json` plus ``"type"``, from its index row."""
    if header is not None and raw and isinstance(key, str):
        try:
            info = read_info(key, header)  # parses the JSON header; the payload is untouched
        except (CorruptEntryError, KeyError, TypeError, ValueError, UnicodeDecodeError):
            pass  # plain bytes stored by another tool, or a cut header: described below
        else:
            if isinstance(info.summary, dict) and isinstance(info.meta, dict):
                return {**info.to_json(), "type": str(info.summary.get("type", info.serializer))}
    serializer = f"diskcache-{_MODES.get(mode, str(mode))}"
    info = EntryInfo(
        key=_display_key(key, raw),
        serializer=serializer,
        size=int(size or 0) if isinstance(size, int) else 0,
        created=float(created or 0.0) if isinstance(created, (int, float)) else 0.0,
        summary={"type": _value_type(mode, sql_type)},
        expires=expires if isinstance(expires, (int, float)) else None,
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
