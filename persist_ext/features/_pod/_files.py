"""The on-disk format of a POD: a manifest, JSON-lines chunk files and a lock file.

Layout of a POD directory::

    path/
      pod.json              manifest: format, version, file_size, generation, chunk list
      000000.7.jsonl        chunk 0 written by sync generation 7
      000001.9.jsonl        chunk 1 written by sync generation 9
      .lock                 flock()ed by the process that has the POD open; holds its pid

A chunk file is human-readable JSON lines. The first line is a header listing the chunk's
keys in order (so the key -> chunk index can be rebuilt by reading one line per chunk, without
parsing any value); each following line is one ``[key, value]`` JSON array::

    {"format": "persist_ext.pod.chunk", "keys": ["foo", 3]}
    ["foo", {"1": "bar"}]
    [3, [1, 2]]

Crash safety is copy-on-write: a sync writes the new version of each dirty chunk under a new
file name (its generation), then atomically replaces the manifest (the commit point), then
deletes the superseded files. A ``SIGKILL`` before the manifest is replaced leaves the old
manifest pointing at old, untouched files; after it, the new state is complete. Unreferenced
files left by a killed sync are removed the next time the POD is opened.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..._errors import ConcurrentAccessError, CorruptEntryError, PODError
from ...storage._atomic import atomic_write

__all__ = [
    "CHUNK_FORMAT",
    "FORMAT",
    "LOCK_NAME",
    "MANIFEST_NAME",
    "DirLock",
    "Manifest",
    "check_key",
    "chunk_name",
    "encode_value",
    "read_chunk",
    "read_chunk_keys",
    "read_manifest",
    "remove_orphans",
    "write_chunk",
    "write_manifest",
]

FORMAT = "persist_ext.pod"
CHUNK_FORMAT = "persist_ext.pod.chunk"
VERSION = 1
MANIFEST_NAME = "pod.json"
LOCK_NAME = ".lock"
_CHUNK_RE = re.compile(r"^(\d+)\.(\d+)\.jsonl$")
_JSON_SCALARS = (str, int, float, bool, type(None))


def chunk_name(cid: int, gen: int) -> str:
    """File name of chunk ``cid`` as written by sync generation ``gen``."""
    return f"{cid:06d}.{gen}.jsonl"


@dataclass
class Manifest:
    """The committed state: chunk files in key order, as ``[id, generation, count]``."""

    file_size: int
    generation: int = 0
    chunks: list[list[int]] = field(default_factory=list)

    def to_json(self) -> bytes:
        doc = {
            "format": FORMAT,
            "version": VERSION,
            "file_size": self.file_size,
            "generation": self.generation,
            "chunks": self.chunks,
        }
        return (json.dumps(doc) + "\n").encode()


def read_manifest(root: Path) -> Manifest | None:
    """Read ``root/pod.json``; None when the POD is new (no manifest yet)."""
    path = root / MANIFEST_NAME
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        doc = json.loads(raw)
        if doc.get("format") != FORMAT:
            raise ValueError(f"format is {doc.get('format')!r}, expected {FORMAT!r}")
        if doc.get("version") != VERSION:
            raise ValueError(f"version {doc.get('version')!r} is not supported (expected 1)")
        chunks = [[int(c), int(g), int(n)] for c, g, n in doc["chunks"]]
        return Manifest(int(doc["file_size"]), int(doc["generation"]), chunks)
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptEntryError(
            f"POD manifest {path} cannot be read ({exc}); restore it from a backup "
            "or move the directory aside to start a new POD"
        ) from exc


def write_manifest(root: Path, manifest: Manifest, *, durable: bool) -> int:
    """Atomically replace the manifest (the commit point of a sync); returns bytes written."""
    data = manifest.to_json()
    atomic_write(root / MANIFEST_NAME, data, durable=durable)
    return len(data)


def check_key(key: Any) -> None:
    """Refuse keys that JSON cannot give back unchanged (only ``str`` and ``int`` can).

    >>> check_key(("a", 1))
    Traceback (most recent call last):
    ...
    persist_ext._errors.PODError: POD keys must be str or int, not tuple: ('a', 1) ...
    """
    kind = type(key)
    if kind is str or kind is int:
        return
    if isinstance(key, bool) or not isinstance(key, (str, int)):
        raise PODError(
            f"POD keys must be str or int, not {kind.__name__}: {key!r} (JSON would not give "
            "it back as the same key); convert it first, e.g. str(key) or '/'.join(parts)"
        )


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
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError) as exc:
        found = _find_unjsonable(value, f"pod[{key!r}]")
        where, type_name = found if found else (f"pod[{key!r}]", type(value).__name__)
        raise PODError(
            f"POD value for key {key!r} is not JSON: {where} is a {type_name} ({exc}). "
            "Store only dict, list, str, int, float, bool or None (tuples become lists, "
            "dict keys become strings); convert it first, e.g. list(...), .tolist() or str(...)"
        ) from exc


def _header(keys: list[Any]) -> str:
    return json.dumps({"format": CHUNK_FORMAT, "keys": keys}, ensure_ascii=False)


def read_chunk_keys(path: Path) -> list[Any]:
    """The keys of one chunk, in order, read from its header line only."""
    with open(path, encoding="utf-8") as handle:
        first = handle.readline()
    return _parse_header(path, first)


def _parse_header(path: Path, line: str) -> list[Any]:
    try:
        doc = json.loads(line)
        if doc.get("format") != CHUNK_FORMAT:
            raise ValueError("missing chunk header")
        return list(doc["keys"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CorruptEntryError(f"POD chunk {path} has no valid header line ({exc})") from exc


def read_chunk(path: Path) -> dict[Any, str]:
    """Map each key of a chunk to its raw ``[key, value]`` line (values are parsed lazily)."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    lines = text.split("\n")
    keys = _parse_header(path, lines[0])
    # The writer ends the file with a newline, so a complete chunk has len(keys) + 2 parts.
    if len(lines) != len(keys) + 2 or lines[-1] != "":
        raise CorruptEntryError(
            f"POD chunk {path} lists {len(keys)} keys but holds {len(lines) - 2} lines; "
            "it was edited by hand or truncated"
        )
    return dict(zip(keys, lines[1:-1]))


def write_chunk(path: Path, lines: dict[Any, str], *, durable: bool) -> int:
    """Atomically write one chunk (header + lines); returns bytes written."""
    body = "\n".join([_header(list(lines)), *lines.values()]) + "\n"
    data = body.encode("utf-8")
    atomic_write(path, data, durable=durable)
    return len(data)


def remove_orphans(root: Path, manifest: Manifest | None) -> None:
    """Delete chunk files and temp files the manifest does not reference (a killed sync)."""
    keep = set()
    if manifest is not None:
        keep = {chunk_name(c, g) for c, g, _ in manifest.chunks}
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
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
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

    def release(self) -> None:
        """Drop the lock (idempotent)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)
