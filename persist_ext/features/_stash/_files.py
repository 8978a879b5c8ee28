"""Files holding one value each: the store's signed record format, written atomically.

:class:`~persist_ext.DirectoryStash`, :class:`~persist_ext.PersistedWork` and the stash
helpers store one value per file. Each file is one record of ``storage/_entry.py`` — the
framing every store shares — so

* a file persist_ext did not write (a stray ``.dat`` in the same folder) is refused before
  any byte of it is decoded;
* a file not signed with this machine's secret (planted, or copied from another user's
  stash) is an :class:`~persist_ext.UntrustedEntryError` and is never unpickled;
* a torn or damaged file is an :class:`~persist_ext.InvalidPickle` (checksum mismatch);
* each file is signed for its own name (the record's key is the file name), so a signed file
  renamed or copied over another one is refused instead of returning the other's value.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ...storage._atomic import atomic_writer
from ...storage._entry import Where, encode_entry, load_payload, open_named

__all__ = ["dumps_framed", "loads_framed", "read_pickle_file", "write_pickle_file"]


def dumps_framed(value: Any, name: str) -> bytes:
    """Return the signed record of ``value`` for the file called ``name`` (serializer chosen
    by type, pickle by default).

    Raises :class:`SerializationError` naming the type when ``value`` cannot be stored.
    """
    return encode_entry(name, value).record()


def loads_framed(data: bytes, *, where: str) -> Any:
    """Verify the record in ``data`` (checksum, then signature) and decode it.

    ``where`` is the file's path: its name is the record's key, and it names the file in
    error messages; its folder is what ``persist_ext.trust`` would re-sign.
    """
    path = Path(where)
    place = Where(f"File {where}", str(path.parent) if where else None)
    serializer, payload = open_named(path.name, data, place)
    return load_payload(path.name, serializer, payload, place)


def write_pickle_file(path: str | os.PathLike[str], value: Any, *, durable: bool = False) -> None:
    """Atomically replace ``path`` with the signed record of ``value``.

    The value is serialized before the file is touched, so an unstorable value leaves the
    old file (or no file) in place.
    """
    data = dumps_framed(value, Path(path).name)
    with atomic_writer(path, durable=durable, mkdir=False) as handle:
        handle.write(data)


def read_pickle_file(path: str | os.PathLike[str]) -> Any:
    """Read and verify a file written by :func:`write_pickle_file`."""
    path = Path(path)
    return loads_framed(path.read_bytes(), where=str(path))
