"""The bytes of one store entry: a fixed prefix, the serializer name, a JSON header, a payload.

Layout (little-endian)::

    b"PXE1"  u16 name_len  u32 json_len  name  json  [payload]

``json`` holds ``created``, ``expires``, ``size`` (payload bytes), ``summary`` and ``meta``;
it is what :meth:`Store.info` returns, read without touching the payload. Small payloads
follow inline (one SQLite row); large ones live in a blob file and only the prefix, name
and JSON sit in the row. :func:`split` finds the serializer and payload without parsing the
JSON, which keeps ``get`` close to raw diskcache speed.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from .._errors import CorruptEntryError, SerializationError
from ._protocol import EntryInfo

__all__ = ["MAGIC", "pack_header", "read_info", "split"]

MAGIC = b"PXE1"
_PREFIX = struct.Struct("<4sHI")


def pack_header(
    serializer: str,
    *,
    created: float,
    expires: float | None,
    size: int,
    summary: dict[str, Any],
    meta: dict[str, Any] | None,
) -> bytes:
    """The prefix + name + JSON part of an entry (append the payload for inline entries)."""
    fields = {"created": created, "expires": expires, "size": size, "summary": summary}
    if meta:
        fields["meta"] = meta
    try:
        text = json.dumps(fields, ensure_ascii=False, allow_nan=False, default=_no_json)
    except (TypeError, ValueError) as exc:
        raise SerializationError(
            f"`meta` must be JSON-serializable (str keys; str/int/float/bool/None, lists, "
            f"dicts): {exc}.",
            type_name=type(meta).__name__,
        ) from exc
    name = serializer.encode()
    body = text.encode()
    return _PREFIX.pack(MAGIC, len(name), len(body)) + name + body


def _no_json(obj: Any) -> Any:
    raise TypeError(f"{type(obj).__name__} is not JSON-serializable")


def split(key: str, record: bytes | memoryview) -> tuple[str, memoryview]:
    """Serializer name and payload view of an entry, without parsing its JSON."""
    try:
        magic, nlen, jlen = _PREFIX.unpack_from(record, 0)
    except struct.error:
        magic = None
    if magic != MAGIC:
        raise CorruptEntryError(
            f"Entry {key!r} was not written by persist_ext (bad header); delete it.", key=key
        )
    start = _PREFIX.size
    name = bytes(record[start : start + nlen]).decode()
    return name, memoryview(record)[start + nlen + jlen :]


def read_info(key: str, record: bytes | memoryview) -> EntryInfo:
    """The :class:`EntryInfo` recorded in an entry (never decodes the payload)."""
    name, _ = split(key, record)
    _, nlen, jlen = _PREFIX.unpack_from(record, 0)
    start = _PREFIX.size + nlen
    try:
        fields = json.loads(bytes(record[start : start + jlen]))
    except ValueError as exc:
        raise CorruptEntryError(
            f"Entry {key!r} has an unreadable header: {exc}; delete it.", key=key
        ) from exc
    return EntryInfo(
        key=key,
        serializer=name,
        size=fields["size"],
        created=fields["created"],
        summary=fields["summary"],
        meta=fields.get("meta", {}),
        expires=fields["expires"],
    )
