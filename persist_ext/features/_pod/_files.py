"""The on-disk format of a POD: a manifest, JSON-lines chunk files and a lock file.

Layout of a POD directory::

    path/
      pod.json              manifest: format, version, file_size, gzipped, generation, chunks,
                          checksums (xxh3-128 of each chunk file, by file name)
      000000.7.jsonl        chunk 0 written by sync generation 7 (``.jsonl.gz`` when gzipped)
      000001.9.jsonl        chunk 1 written by sync generation 9
      .lock                 flock()ed by the process that has the POD open; holds its pid
      damaged/              damaged chunk files moved aside by ``pod.repair()`` (if ever)

A chunk file is human-readable JSON lines. The first line is a header listing the chunk's
keys in order (so the key -> chunk index can be rebuilt by reading one line per chunk, without
parsing any value); each following line is one ``[key, value]`` JSON array::

    {"format": "persist_ext.pod.chunk", "keys": ["foo", 3]}
    ["foo", {"1": "bar"}]
    [3, [1, 2]]

The header decides the order of the keys; **each line's own key decides which key it fills**
(two swapped lines still give every key its own value). A chunk whose lines do not match its
header one to one, or that is missing, is *damaged*: reading it raises
:class:`~persist_ext.PersistentOrderedDictIntegrityError` naming the file and the recovery,
for its own keys only.

Integrity: the manifest records the xxh3-128 checksum of each chunk file's bytes (as written,
gzipped or not) when the chunk is written; reading the chunk (its header for the key index, or
its lines) verifies it, so flipped bytes that still parse as JSON are a damaged chunk too.
A manifest written before checksums existed has no ``checksums``: its chunks are read
unverified until a sync rewrites them. Files in a POD folder are opened with ``O_NOFOLLOW``:
a chunk file, manifest or lock that is a symbolic link (or not a regular file) is refused,
so a planted link never makes persist_ext read or write outside the folder.

Crash safety is copy-on-write: a sync writes the new version of each dirty chunk under a new
file name (its generation), then atomically replaces the manifest (the commit point), then
deletes the superseded files. A ``SIGKILL`` before the manifest is replaced leaves the old
manifest pointing at old, untouched files; after it, the new state is complete. Unreferenced
files left by a killed sync are removed the next time the POD is opened.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import io
import json
import os
import re
import stat
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import xxhash

from ..._errors import (
    ConcurrentAccessError,
    PersistentOrderedDictIntegrityError,
    PODError,
)
from ...storage._atomic import atomic_write

__all__ = [
    "CHUNK_FORMAT",
    "DAMAGED_DIR",
    "FORMAT",
    "LOCK_NAME",
    "MANIFEST_NAME",
    "DirLock",
    "Manifest",
    "check_key",
    "checksum",
    "chunk_name",
    "damaged",
    "describe_unstorable",
    "encode_value",
    "is_pod_file",
    "parse_line",
    "read_chunk",
    "read_chunk_keys",
    "read_manifest",
    "remove_orphans",
    "salvage_chunk",
    "write_chunk",
    "write_manifest",
]

FORMAT = "persist_ext.pod"
CHUNK_FORMAT = "persist_ext.pod.chunk"
VERSION = 1
MANIFEST_NAME = "pod.json"
LOCK_NAME = ".lock"
DAMAGED_DIR = "damaged"
_CHUNK_RE = re.compile(r"^(\d+)\.(\d+)\.jsonl(\.gz)?$")
_JSON_SCALARS = (str, int, float, bool, type(None))
_DECODER = json.JSONDecoder()
# Never follow a link planted in a POD folder; never block on a FIFO planted there
# (O_NONBLOCK changes nothing for the regular files that are then the only ones used).
_SAFE_OPEN = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


def checksum(data: bytes) -> str:
    """The checksum the manifest records for a chunk file's bytes (xxh3-128, hex)."""
    return xxhash.xxh3_128_hexdigest(data)


def chunk_name(cid: int, gen: int, gzipped: bool = False) -> str:
    """File name of chunk ``cid`` as written by sync generation ``gen``."""
    return f"{cid:06d}.{gen}.jsonl" + (".gz" if gzipped else "")


@dataclass
class Manifest:
    """The committed state: chunk files in key order, as ``[id, generation, count]``.

    ``checksums`` maps a chunk file name to the checksum of its bytes; a file without one
    (written by a persist_ext before checksums) is read unverified.
    """

    file_size: int
    generation: int = 0
    chunks: list[list[int]] = field(default_factory=list)
    gzipped: bool = False
    checksums: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> bytes:
        doc = {
            "format": FORMAT,
            "version": VERSION,
            "file_size": self.file_size,
            "gzipped": self.gzipped,
            "generation": self.generation,
            "chunks": self.chunks,
            # A separate field (not a 4th item per chunk): older readers ignore it.
            "checksums": self.checksums,
        }
        return (json.dumps(doc) + "\n").encode()


def read_manifest(root: Path) -> Manifest | None:
    """Read ``root/pod.json``; None when the POD is new (no manifest yet)."""
    path = root / MANIFEST_NAME
    try:
        raw = _read_bytes(path)
    except FileNotFoundError:
        return None
    except _Refused as exc:
        raise PersistentOrderedDictIntegrityError(
            f"POD manifest {path} {exc}; persist_ext never follows it (it could lead outside "
            f"the POD folder). Remove it and put the real file there, or move the directory "
            "aside to start a new POD",
            path=str(path),
        ) from None
    try:
        doc = json.loads(raw)
        if doc.get("format") != FORMAT:
            raise ValueError(f"format is {doc.get('format')!r}, expected {FORMAT!r}")
        if doc.get("version") != VERSION:
            raise ValueError(f"version {doc.get('version')!r} is not supported (expected 1)")
        chunks = [[int(c), int(g), int(n)] for c, g, n in doc["chunks"]]
        gzipped = bool(doc.get("gzipped", False))
        sums = doc.get("checksums", {})
        if not isinstance(sums, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in sums.items()
        ):
            raise ValueError("checksums is not a mapping of file names to checksums")
        return Manifest(int(doc["file_size"]), int(doc["generation"]), chunks, gzipped, sums)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PersistentOrderedDictIntegrityError(
            f"POD manifest {path} cannot be read ({exc}); restore it from a backup, "
            "or move the directory aside to start a new POD",
            path=str(path),
        ) from exc


def write_manifest(root: Path, manifest: Manifest, *, durable: bool) -> int:
    """Atomically replace the manifest (the commit point of a sync); returns bytes written."""
    data = manifest.to_json()
    atomic_write(root / MANIFEST_NAME, data, durable=durable)
    return len(data)


def _surrogate_at(text: str) -> int:
    """Index of the first character UTF-8 cannot encode (a lone surrogate), or -1."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return -1


_SURROGATE_FIX = (
    "UTF-8 cannot encode it (os.listdir and sys.argv return such strings for file names "
    "that are not valid UTF-8); convert it first, e.g. "
    "s.encode('utf-8', 'surrogateescape').decode('utf-8', 'replace')"
)


def check_key(key: Any) -> None:
    """Refuse keys that JSON cannot give back unchanged (only ``str`` and ``int`` can).

    >>> check_key(("a", 1))
    Traceback (most recent call last):
    ...
    persist_ext._errors.PODError: POD keys must be str or int, not tuple: ('a', 1) ...
    """
    kind = type(key)
    if kind is int:
        return
    if kind is str:
        if not key.isascii() and _surrogate_at(key) >= 0:
            at = _surrogate_at(key)
            raise PODError(
                f"POD key {key!r} holds a lone surrogate {key[at]!r} at index {at}: "
                + _SURROGATE_FIX
            )
        return
    if isinstance(key, bool) or not isinstance(key, (str, int)):
        raise PODError(
            f"POD keys must be str or int, not {kind.__name__}: {key!r} (JSON would not give "
            "it back as the same key); convert it first, e.g. str(key) or '/'.join(parts)"
        )
    # An int or str subclass: check it as its base type.
    check_key(int(key) if isinstance(key, int) else str(key))


def _find_unjsonable(value: Any, where: str, depth: int = 0) -> tuple[str, str] | None:
    """Locate the first part of ``value`` that ``json`` refuses: (where, type name)."""
    if depth > 500:
        return where, "a nesting too deep or a reference cycle"
    if isinstance(value, _JSON_SCALARS):
        return None
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = _find_unjsonable(item, f"{where}[{i}]", depth + 1)
            if found:
                return found
        return None
    if isinstance(value, dict):
        for k, item in value.items():
            if not isinstance(k, _JSON_SCALARS):
                return f"{where} key {k!r}", type(k).__name__
            found = _find_unjsonable(item, f"{where}[{k!r}]", depth + 1)
            if found:
                return found
        return None
    return where, type(value).__name__


def _find_surrogate(value: Any, where: str, depth: int = 0) -> tuple[str, str] | None:
    """Locate the first string in ``value`` UTF-8 cannot encode: (where, the string)."""
    if depth > 500:
        return None
    if isinstance(value, str):
        return (where, value) if _surrogate_at(value) >= 0 else None
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = _find_surrogate(item, f"{where}[{i}]", depth + 1)
            if found:
                return found
    elif isinstance(value, dict):
        for k, item in value.items():
            if isinstance(k, str) and _surrogate_at(k) >= 0:
                return f"{where} key", k
            found = _find_surrogate(item, f"{where}[{k!r}]", depth + 1)
            if found:
                return found
    return None


def describe_unstorable(value: Any, where: str) -> str:
    """Why ``value`` cannot be stored, e.g. ``"t['k']['r'] is a Result"`` (for messages)."""
    found = _find_unjsonable(value, where)
    if found:
        return f"{found[0]} is a {found[1]}, which is not JSON"
    bad = _find_surrogate(value, where)
    if bad:
        return f"{bad[0]} is a string holding a lone surrogate, which UTF-8 cannot encode"
    return f"{where} cannot be encoded"


def encode_value(key: Any, value: Any) -> str:
    """Encode ``value`` as JSON text, or raise :class:`PODError` naming the key and the type.

    >>> encode_value("k", {"a": (1, 2)})
    '{"a": [1, 2]}'
    >>> encode_value("k", {"a": {1, 2}})
    Traceback (most recent call last):
    ...
    persist_ext._errors.PODError: POD value for key 'k' is not JSON: pod['k']['a'] is a set ...
    """
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError) as exc:
        found = _find_unjsonable(value, f"pod[{key!r}]")
        where, type_name = found if found else (f"pod[{key!r}]", type(value).__name__)
        raise PODError(
            f"POD value for key {key!r} is not JSON: {where} is a {type_name} ({exc}). "
            "Store only dict, list, str, int, float, bool or None (tuples become lists, "
            "dict keys become strings); convert it first, e.g. list(...), .tolist() or str(...)"
        ) from exc
    if not text.isascii() and _surrogate_at(text) >= 0:
        found = _find_surrogate(value, f"pod[{key!r}]")
        where, bad = found if found else (f"pod[{key!r}]", text)
        at = _surrogate_at(bad)
        raise PODError(
            f"POD value for key {key!r} is not storable: {where} is the string {bad!r}, whose "
            f"character {at} is a lone surrogate {bad[at]!r}; " + _SURROGATE_FIX
        )
    return text


def damaged(path: Path, problem: str) -> PersistentOrderedDictIntegrityError:
    """The error for a missing or damaged chunk: names the file, the problem and the recovery."""
    root = path.parent
    return PersistentOrderedDictIntegrityError(
        f"POD file {path} {problem}. The keys stored in it cannot be read or written; every "
        f"other key works. To recover, restore that file from a backup and reopen the POD, "
        f"or call pod.repair() to keep its readable entries (the damaged file is moved to "
        f"{root / DAMAGED_DIR}/)",
        path=str(path),
    )


class _Refused(Exception):
    """A file in a POD folder is a symbolic link or not a regular file (never read)."""


def _open_regular(path: Path, flags: int, mode: int = 0o666) -> int:
    """``os.open`` a file in a POD folder without following a link; a descriptor of a regular file.

    Raises :class:`_Refused` (its message says what the file is) for a symbolic link or
    anything but a regular file; other ``OSError`` (e.g. ``FileNotFoundError``) propagate.
    """
    try:
        fd = os.open(path, flags | _SAFE_OPEN, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _Refused("is a symbolic link") from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _Refused("is not a regular file")
    except BaseException:
        os.close(fd)
        raise
    return fd


def _read_bytes(path: Path) -> bytes:
    fd = _open_regular(path, os.O_RDONLY)
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def _open_chunk(path: Path) -> int:
    """Open a chunk file for reading (a descriptor); a missing or non-regular one is damage."""
    try:
        return _open_regular(path, os.O_RDONLY)
    except FileNotFoundError:
        raise damaged(path, "is missing") from None
    except _Refused as exc:
        raise damaged(
            path, f"{exc}; persist_ext never follows it (it could lead outside the POD folder)"
        ) from None


def _read_raw(path: Path, expected: str | None) -> bytes:
    """A chunk file's bytes, verified against ``expected`` (its recorded checksum) if given."""
    with os.fdopen(_open_chunk(path), "rb") as handle:
        raw = handle.read()
    if expected is not None and checksum(raw) != expected:
        # Name what is broken when the file is visibly damaged (truncated, an extra line...);
        # otherwise the checksum alone tells (bytes changed that still parse).
        _parse_chunk(path, _decode(path, raw))
        raise damaged(
            path,
            "does not match the checksum recorded in the manifest when it was written (its "
            "bytes changed on disk: a disk error, a bad copy or an edit)",
        )
    return raw


def _read_text(path: Path, expected: str | None = None) -> str:
    return _decode(path, _read_raw(path, expected))


def _decode(path: Path, raw: bytes) -> str:
    try:
        if path.name.endswith(".gz"):
            raw = gzip.decompress(raw)
        return raw.decode("utf-8")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise damaged(path, f"cannot be decoded ({exc})") from exc


def _parse_header(path: Path, line: str) -> list[Any]:
    try:
        doc = json.loads(line)
        if doc.get("format") != CHUNK_FORMAT:
            raise ValueError("missing chunk header")
        keys = doc["keys"]
        if not isinstance(keys, list):
            raise TypeError("keys is not a list")
        return keys
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise damaged(path, f"has no valid header line ({exc})") from exc


def read_chunk_keys(path: Path, expected: str | None = None) -> list[Any]:
    """The keys of one chunk, in order, from its header line.

    With a recorded checksum (``expected``) the whole file is read and verified first, so a
    damaged header never gives wrong keys; without one only the header line is read.
    """
    source: IO[bytes]
    if expected is not None:
        source = io.BytesIO(_read_raw(path, expected))
    else:
        source = os.fdopen(_open_chunk(path), "rb")
    try:
        with source:
            reader = gzip.GzipFile(fileobj=source) if path.name.endswith(".gz") else source
            first = reader.readline().decode("utf-8")
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise damaged(path, f"cannot be decoded ({exc})") from exc
    return _parse_header(path, first)


def _line_key(line: str) -> Any:
    """The key at the start of a ``[key, value]`` line (the value is not parsed)."""
    if not line.startswith("["):
        raise ValueError("not a [key, value] line")
    key, end = _DECODER.raw_decode(line, 1)
    if type(key) not in (str, int) or line[end : end + 1] != ",":
        raise ValueError("not a [key, value] line")
    return key


def read_chunk(path: Path, expected: str | None = None) -> dict[Any, str]:
    """Map each key of a chunk to its raw ``[key, value]`` line, in header order.

    Each line is matched to a key by the key it holds, not by its position; the value is
    parsed later (:func:`parse_line`). Raises the :func:`damaged` error if the file does not
    match its recorded checksum ``expected`` (when one is recorded) or its lines do not hold
    exactly the header's keys.
    """
    return _parse_chunk(path, _read_text(path, expected))


def _parse_chunk(path: Path, text: str) -> dict[Any, str]:
    lines = text.split("\n")
    keys = _parse_header(path, lines[0])
    # The writer ends the file with a newline, so a complete chunk has len(keys) + 2 parts.
    if len(lines) != len(keys) + 2 or lines[-1] != "":
        held = len(lines) - 2 if lines[-1] == "" else len(lines) - 1
        raise damaged(
            path,
            f"lists {len(keys)} keys but holds {held} lines (was it edited by hand or truncated?)",
        )
    by_key: dict[Any, str] = {}
    for number, line in enumerate(lines[1:-1], start=2):
        try:
            key = _line_key(line)
        except ValueError:
            raise damaged(path, f"has an unreadable line {number}: {line[:60]!r}") from None
        if key in by_key:
            raise damaged(path, f"holds key {key!r} twice (line {number})")
        by_key[key] = line
    if len(by_key) != len(keys) or any(k not in by_key for k in keys):
        extra = [k for k in by_key if k not in set(keys)][:3]
        raise damaged(path, f"has lines for keys its header does not list: {extra!r}")
    return {k: by_key[k] for k in keys}


def parse_line(path: Path, key: Any, line: str) -> Any:
    """The value of ``key`` from its raw line (damaged error if the line is not valid)."""
    try:
        doc = json.loads(line)
        if not isinstance(doc, list) or len(doc) != 2 or doc[0] != key:
            raise ValueError("not a [key, value] pair for this key")
        return doc[1]
    except (ValueError, RecursionError) as exc:
        err = damaged(path, f"holds an unreadable value for key {key!r} ({exc})")
        err.key = key if isinstance(key, str) else str(key)
        raise err from exc


def salvage_chunk(path: Path) -> tuple[list[Any], dict[Any, str]]:
    """What can still be read from a damaged chunk: (header keys or [], {key: valid line}).

    Lines that are not complete ``[key, value]`` JSON are dropped; of two lines for one key
    the first is kept. The file's checksum is not checked: a file that failed it is salvaged
    the same way (what still parses is kept; the caller says so).
    """
    try:
        text = _read_text(path)
    except PersistentOrderedDictIntegrityError:
        return [], {}
    lines = text.split("\n")
    try:
        header = _parse_header(path, lines[0])
        body = lines[1:]
    except PersistentOrderedDictIntegrityError:
        header, body = [], lines
    found: dict[Any, str] = {}
    for line in body:
        try:
            doc = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(doc, list) and len(doc) == 2 and type(doc[0]) in (str, int):
            found.setdefault(doc[0], line)
    return header, found


def write_chunk(
    path: Path, lines: dict[Any, str], *, durable: bool, gzipped: bool
) -> tuple[int, str]:
    """Atomically write one chunk (header + lines); returns (bytes written, their checksum)."""
    header = json.dumps({"format": CHUNK_FORMAT, "keys": list(lines)}, ensure_ascii=False)
    data = ("\n".join([header, *lines.values()]) + "\n").encode("utf-8")
    if gzipped:
        data = gzip.compress(data, compresslevel=6, mtime=0)
    atomic_write(path, data, durable=durable)
    return len(data), checksum(data)


def is_pod_file(name: str) -> bool:
    """Whether ``name`` is one a POD writes in its folder: its lock, manifest, damaged
    folder, chunks, or the temporary file of a write (a first sync in flight in another
    process has written chunks or temporary files, and no manifest yet).

    >>> is_pod_file("000000.1.jsonl"), is_pod_file(".pod.json.0123456789abcdef.tmp")
    (True, True)
    >>> is_pod_file("notes.txt")
    False
    """
    return (
        name in (LOCK_NAME, MANIFEST_NAME, DAMAGED_DIR)
        or _CHUNK_RE.match(name) is not None
        or (name.startswith(".") and name.endswith(".tmp"))
    )


def remove_orphans(root: Path, manifest: Manifest | None) -> None:
    """Delete chunk files and temp files the manifest does not reference (a killed sync)."""
    keep = set()
    if manifest is not None:
        keep = {chunk_name(c, g, manifest.gzipped) for c, g, _ in manifest.chunks}
    for entry in os.scandir(root):
        name = entry.name
        orphan_chunk = _CHUNK_RE.match(name) and name not in keep
        stale_tmp = name.startswith(".") and name.endswith(".tmp")
        if orphan_chunk or stale_tmp:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)


class DirLock:
    """An exclusive ``flock`` on ``root/.lock``, held while a process has the POD open.

    The kernel drops the lock when the process dies (even by ``SIGKILL``), so a stale lock
    file never blocks anyone; the pid written inside is only used for the error message.
    """

    def __init__(self, root: Path) -> None:
        import fcntl

        self.path = root / LOCK_NAME
        try:
            # The umask decides the mode (#11); a planted link is never followed.
            fd = _open_regular(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except _Refused as exc:
            raise PersistentOrderedDictIntegrityError(
                f"POD lock file {self.path} {exc}; persist_ext never opens it (it could lead "
                f"outside the POD folder). Remove it (it holds nothing) and open the POD again",
                path=str(self.path),
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ConcurrentAccessError(
                f"the POD at {root} is open in another process (pid {holder}); two writers "
                "would silently lose each other's updates. Close it there (pod.close()) or end "
                "that process, then open it again"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd: int | None = fd

    def is_current(self) -> bool:
        """Whether the lock file is still the one locked (False if the directory was removed)."""
        if self._fd is None:
            return False
        try:
            mine = os.fstat(self._fd)
            now = os.stat(self.path)
        except OSError:
            return False
        return (mine.st_dev, mine.st_ino) == (now.st_dev, now.st_ino)

    def release(self) -> None:
        """Drop the lock (idempotent)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)
