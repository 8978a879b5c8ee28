"""Files holding one value each: the store's signed record format, written atomically.

:class:`~persist_ext.DirectoryStash`, :class:`~persist_ext.PersistedWork` and the stash
helpers store one value per file. Each file is one record of ``storage/_entry.py`` — the
framing every store shares — so

* a file persist_ext did not write (a stray ``.dat`` in the same folder) is refused before
  any byte of it is decoded;
* a file not signed with this machine's secret (planted, or copied from another user's
  stash) is an :class:`~persist_ext.UntrustedEntryError` and is never unpickled;
* a torn or damaged file is an :class:`~persist_ext.InvalidPickle` (checksum mismatch).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ...storage._atomic import atomic_writer
from ...storage._entry import Where, decode_record, encode_entry

__all__ = ["dumps_framed", "loads_framed", "read_pickle_file", "write_pickle_file"]

# Files are not keyed: the MAC binds their content, not their name.
_FILE_KEY = ""


def dumps_framed(value: Any) -> bytes:
    """Return the signed record of ``value`` (serializer chosen by type, pickle by default).

    Raises :class:`SerializationError` naming the type when ``value`` cannot be stored.
    """
    return encode_entry(_FILE_KEY, value).record()


def loads_framed(data: bytes, *, where: str) -> Any:
    """Verify the record in ``data`` (checksum, then signature) and decode it.

    ``where`` names the file in error messages; its folder is what ``persist_ext.trust``
    would re-sign.
    """
    source = str(Path(where).parent) if where else None
    return decode_record(_FILE_KEY, data, Where(f"File {where}", source))


def write_pickle_file(path: str | os.PathLike[str], value: Any, *, durable: bool = False) -> None:
    """Atomically replace ``path`` with the signed record of ``value``.

    The value is serialized before the file is touched, so an unstorable value leaves the
    old file (or no file) in place.
    """
    data = dumps_framed(value)
    with atomic_writer(path, durable=durable, mkdir=False) as handle:
        handle.write(data)


def read_pickle_file(path: str | os.PathLike[str]) -> Any:
    """Read and verify a file written by :func:`write_pickle_file`."""
    path = Path(path)
    return loads_framed(path.read_bytes(), where=str(path))
