"""Pickle files that persist_ext wrote itself: a header, a checksum, then the pickle.

:class:`~persist_ext.DirectoryStash` and :class:`~persist_ext.PersistedWork` store one value
per file. Each file starts with a magic line and an xxh3_128 digest of the payload, so that

* a file persist_ext did not write (a stray ``.dat`` in the same folder) is refused before
  any byte of it is unpickled;
* a torn or tampered file is reported as :class:`~persist_ext.InvalidPickle` instead of
  failing somewhere inside ``pickle``.

The checksum guards against accidents, not attackers: anyone who can write the directory can
write a valid file. Pickles are code; load them only from directories you trust.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import xxhash

from ..._errors import CorruptEntryError, InvalidPickle, SerializationError
from ...storage._atomic import atomic_writer

__all__ = ["MAGIC", "dumps_framed", "loads_framed", "read_pickle_file", "write_pickle_file"]

MAGIC = b"PERSIST-EXT-PICKLE/1\n"
_DIGEST_SIZE = 16


def dumps_framed(value: Any) -> bytes:
    """Return ``MAGIC + digest + pickle(value)``.

    Raises :class:`SerializationError` naming the type when ``value`` cannot be pickled.
    """
    try:
        payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        type_name = f"{type(value).__module__}.{type(value).__qualname__}"
        raise SerializationError(
            f"Cannot pickle a value of type {type_name}: {exc}. Store a picklable value "
            "(plain data, or an object whose attributes are picklable).",
            type_name=type_name,
        ) from exc
    return MAGIC + xxhash.xxh3_128_digest(payload) + payload


def loads_framed(data: bytes, *, where: str) -> Any:
    """Check the header and checksum of ``data``, then unpickle it.

    ``where`` names the file in error messages.
    """
    if not data.startswith(MAGIC):
        raise CorruptEntryError(
            f"{where} was not written by persist_ext (no persist_ext header), so it is not "
            "unpickled; remove it or move it out of the stash directory.",
            key=where,
        )
    start = len(MAGIC) + _DIGEST_SIZE
    digest, payload = data[len(MAGIC) : start], memoryview(data)[start:]
    if xxhash.xxh3_128_digest(payload) != digest:
        raise InvalidPickle(
            f"{where} is corrupted (checksum mismatch); delete it and compute the value again.",
            key=where,
        )
    try:
        return pickle.loads(payload)
    except Exception as exc:  # the checksum matched, so this is a missing class or module
        raise CorruptEntryError(
            f"{where} could not be unpickled: {type(exc).__name__}: {exc}. Make the classes "
            "it refers to importable again, or delete it.",
            key=where,
        ) from exc


def write_pickle_file(path: str | os.PathLike[str], value: Any, *, durable: bool = False) -> None:
    """Atomically replace ``path`` with the framed pickle of ``value``.

    The value is pickled before the file is touched, so an unpicklable value leaves the old
    file (or no file) in place.
    """
    data = dumps_framed(value)
    with atomic_writer(path, durable=durable, mkdir=False) as handle:
        handle.write(data)


def read_pickle_file(path: str | os.PathLike[str]) -> Any:
    """Read and verify a file written by :func:`write_pickle_file`."""
    path = Path(path)
    return loads_framed(path.read_bytes(), where=str(path))
