"""The original tastypy's folders and the helpers its users call (``ls``, ``JSONSerializer``).

A tastypy POD folder holds ``0.json``, ``1.json``, ... (or ``0.json.gz``, ...), each with one
``key<TAB>value`` line per entry, ``file_size`` lines per file (only the last may hold fewer).
The key is JSON with backslashes doubled and tabs written ``\\t``; a JSON list key is a tuple
key. persist_ext opens such a folder **read-only in place** (``POD(folder)``: nothing is
written there, not even a lock file) and converts it with one call,
``POD.from_tastypy(folder, new_path)``, which writes a new persist_ext POD and leaves the
original untouched.

:func:`ls` and :class:`JSONSerializer` exist so that code written against tastypy, such as its
own test suite, keeps working: ``ls(path)`` lists the data files of a POD (persist_ext's chunk
files or tastypy's numbered files), and ``JSONSerializer.read_items(lines)`` reads the entries
of either format.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..._errors import PersistentOrderedDictIntegrityError, PODError
from ._files import CHUNK_FORMAT, MANIFEST_NAME, chunk_name, read_manifest

__all__ = [
    "DEFAULT_PROGRESS_TRACKER_MAPPING",
    "JSONSerializer",
    "legacy_files",
    "ls",
    "read_legacy",
]

#: The fields of a new task record, as tastypy spells them (``dict(...)`` gives the record).
DEFAULT_PROGRESS_TRACKER_MAPPING = (("_tries", 0), ("_done", False), ("_aborted", False))

_LEGACY_RE = re.compile(r"^(\d+)\.json(\.gz)?$")
# A "\t" escape that is not itself an escaped backslash followed by "t".
_TAB_ESCAPE = re.compile(r"(^|[^\\])\\t")


def _tuplify(key: Any) -> Any:
    if isinstance(key, list):
        return tuple(_tuplify(k) for k in key)
    return key


class JSONSerializer:
    """Read and write entry lines of a POD's data files (tastypy's class, both formats).

    ``read_items`` accepts tastypy's ``key<TAB>value`` lines and persist_ext's ``[key, value]``
    chunk lines (skipping a chunk's header line), as ``str`` or ``bytes`` (so a file opened
    with ``gzip.open`` in binary mode works); ``dump_items`` writes tastypy's lines.

    >>> list(JSONSerializer.read_items(['"a"\\t1\\n', '["b", [2]]\\n']))
    [('a', 1), ('b', [2])]
    >>> list(JSONSerializer.dump_items([("a\\tb", {"x": 1})]))
    ['"a\\\\\\\\tb"\\t{"x": 1}\\n']
    """

    @classmethod
    def read_items(cls, lines: Iterable[str | bytes]) -> Iterator[tuple[Any, Any]]:
        """Yield ``(key, value)`` for each entry line (blank and header lines are skipped)."""
        for number, raw in enumerate(lines, start=1):
            line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
            line = line.rstrip("\r\n")
            if not line:
                continue
            try:
                if "\t" in line:
                    key_text, value_text = line.split("\t", 1)
                    yield cls.deserialize_key(key_text), cls.deserialize_value(value_text)
                    continue
                doc = json.loads(line)
                if isinstance(doc, dict) and doc.get("format") == CHUNK_FORMAT:
                    continue
                if not (isinstance(doc, list) and len(doc) == 2):
                    raise ValueError("neither key<TAB>value nor [key, value]")
            except ValueError as exc:
                raise PersistentOrderedDictIntegrityError(
                    f"line {number} is not a POD entry ({exc}): {line[:60]!r}; the file is "
                    "damaged (restore it from a backup, or open the POD and call pod.repair())"
                ) from exc
            yield doc[0], doc[1]

    @classmethod
    def dump_items(cls, items: Iterable[tuple[Any, Any]]) -> Iterator[str]:
        """Yield one tastypy ``key<TAB>value`` line (with newline) per ``(key, value)``."""
        for key, value in items:
            yield f"{cls.serialize_key(key)}\t{cls.serialize_value(value)}\n"

    @classmethod
    def serialize_key(cls, key: Any) -> str:
        """JSON of ``key`` with backslashes doubled and tabs escaped (tuples become lists)."""
        return json.dumps(key, ensure_ascii=False).replace("\\", "\\\\").replace("\t", "\\t")

    @classmethod
    def deserialize_key(cls, text: str) -> Any:
        """Undo :meth:`serialize_key` (a JSON list becomes a tuple, as in tastypy)."""
        text = _TAB_ESCAPE.sub(lambda m: m.group(1) + "\t", text).replace("\\\\", "\\")
        return _tuplify(json.loads(text))

    @classmethod
    def serialize_value(cls, value: Any) -> str:
        """The value as JSON."""
        return json.dumps(value, ensure_ascii=False)

    @classmethod
    def deserialize_value(cls, text: str) -> Any:
        """The value from JSON."""
        return json.loads(text)


def legacy_files(root: Path) -> tuple[list[Path], bool] | None:
    """tastypy's numbered data files of ``root`` in order and whether they are gzipped.

    None when ``root`` is not a tastypy folder (it has a persist_ext manifest, or no
    numbered files). Raises the integrity error for a gap in the numbering or a mix of plain
    and gzipped files.
    """
    if (root / MANIFEST_NAME).exists() or not root.is_dir():
        return None
    numbered: dict[int, Path] = {}
    kinds = set()
    for entry in os.scandir(root):
        match = _LEGACY_RE.match(entry.name)
        if match and entry.is_file():
            numbered[int(match.group(1))] = Path(entry.path)
            kinds.add(bool(match.group(2)))
    if not numbered:
        return None
    if len(kinds) > 1:
        raise PersistentOrderedDictIntegrityError(
            f"{root} holds both N.json and N.json.gz files; a tastypy POD uses one kind. "
            "Move the files of the other kind aside, then open it again",
            path=str(root),
        )
    gzipped = kinds.pop()
    files = []
    for i in range(max(numbered) + 1):
        if i not in numbered:
            missing = root / (f"{i}.json" + (".gz" if gzipped else ""))
            raise PersistentOrderedDictIntegrityError(
                f"tastypy POD file {missing} is missing (files up to {max(numbered)} exist); "
                "restore it from a backup, or move the later files aside to keep what is "
                "before it",
                path=str(missing),
            )
        files.append(numbered[i])
    return files, gzipped


def read_legacy(root: Path) -> tuple[list[list[tuple[Any, Any]]], bool]:
    """Every entry of a tastypy folder, file by file, and whether it is gzipped.

    Checks what tastypy itself checked: numbered files without gaps, every file but the last
    holding the same number of entries, every line a valid entry.
    """
    found = legacy_files(root)
    if found is None:
        raise PersistentOrderedDictIntegrityError(
            f"{root} is not a tastypy POD folder (no 0.json or 0.json.gz)", path=str(root)
        )
    files, gzipped = found
    chunks: list[list[tuple[Any, Any]]] = []
    for path in files:
        try:
            raw = path.read_bytes()
            text = (gzip.decompress(raw) if gzipped else raw).decode("utf-8")
            entries = list(JSONSerializer.read_items(text.split("\n")))
        except PersistentOrderedDictIntegrityError as exc:
            raise PersistentOrderedDictIntegrityError(
                f"tastypy POD file {path}: {exc}", path=str(path)
            ) from exc
        except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
            raise PersistentOrderedDictIntegrityError(
                f"tastypy POD file {path} cannot be read ({exc}); restore it from a backup",
                path=str(path),
            ) from exc
        chunks.append(entries)
    size = len(chunks[0])
    for path, entries in zip(files[:-1], chunks[:-1]):
        if len(entries) != size:
            raise PersistentOrderedDictIntegrityError(
                f"tastypy POD file {path} holds {len(entries)} entries where the other files "
                f"hold {size}; it was truncated or edited. Restore it from a backup",
                path=str(path),
            )
    return chunks, gzipped


def ls(path: str | os.PathLike[str]) -> list[str]:
    """The data files of the POD at ``path``, in key order (tastypy's ``ls`` for POD folders).

    For a persist_ext POD: its committed chunk files (none before the first sync); for a
    tastypy folder: its numbered files; for any other directory: its entries whose names do
    not start with ``.``, sorted. Paths are ``path`` joined with each name.

    >>> import tempfile
    >>> from persist_ext.features._pod import POD
    >>> folder = tempfile.mkdtemp()
    >>> with POD(folder) as pod:
    ...     pod["a"] = 1
    >>> [p.rsplit("/", 1)[1] for p in ls(folder)]
    ['000000.1.jsonl']
    """
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise PODError(f"ls() takes a POD directory (str or os.PathLike), not {path!r}")
    root = Path(path)
    if not root.is_dir():
        raise PODError(f"ls({os.fspath(path)!r}): no such directory; give the path of a POD")
    manifest = read_manifest(root)
    if manifest is not None:
        names = [chunk_name(c, g, manifest.gzipped) for c, g, _ in manifest.chunks]
    else:
        legacy = legacy_files(root)
        if legacy is not None:
            names = [p.name for p in legacy[0]]
        else:
            names = sorted(n for n in os.listdir(root) if not n.startswith("."))
    return [os.path.join(os.fspath(path), name) for name in names]
