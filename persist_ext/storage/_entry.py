"""The bytes of one store entry: a fixed prefix, the serializer name, a JSON header, a payload.

Layout (little-endian)::

    b"PXE1"  u16 name_len  u32 json_len  name  json  [payload]

``json`` holds ``created``, ``expires``, ``size`` (payload bytes), ``summary`` and ``meta``;
it is what :meth:`Store.info` returns, read without touching the payload. Small payloads
follow inline (one SQLite row); large ones live in a blob file and only the prefix, name
and JSON sit in the row. :func:`split` finds the serializer and payload without parsing the
JSON, which keeps ``get`` close to raw diskcache speed.

:func:`encode_entry` is the one way a value becomes an entry (serializer chosen by type,
JSON summary, header) for every store — :class:`Store`, ``MemoryStore`` and ``RedisStore``
— and :func:`decode_value` the one way an inline payload becomes a value again.
"""

from __future__ import annotations

import json
import struct
import time
from dataclasses import dataclass
from typing import Any

from .._errors import CorruptEntryError, SerializationError
from ._protocol import EntryInfo
from ._serializers import dump_value, serializer_named, summarize

__all__ = [
    "MAGIC",
    "EncodedEntry",
    "check_key",
    "decode_value",
    "encode_entry",
    "pack_header",
    "read_info",
    "split",
]

MAGIC = b"PXE1"
_PREFIX = struct.Struct("<4sHI")


def check_key(key: object) -> None:
    """Refuse a key that is not a ``str`` (every store keys on strings, never on pickles)."""
    if not isinstance(key, str):
        raise TypeError(
            f"Store keys are str (a digest or a '/'-separated name), not {type(key).__name__}; "
            "hash other keys with persist_ext.fingerprint()."
        )


@dataclass(frozen=True)
class EncodedEntry:
    """A value ready to be stored: its serializer's buffers, the packed header, its info."""

    buffers: list[Any]
    header: bytes
    info: EntryInfo

    def payload(self) -> bytes:
        """The buffers joined into one ``bytes`` (for stores that keep one blob per key)."""
        if len(self.buffers) == 1 and type(self.buffers[0]) is bytes:
            return self.buffers[0]
        return b"".join(bytes(memoryview(b).cast("B")) for b in self.buffers)


def encode_entry(
    key: str,
    value: Any,
    *,
    expire: float | None = None,
    meta: dict[str, Any] | None = None,
    serializer: str | None = None,
) -> EncodedEntry:
    """Serialize ``value`` and describe it: the one encoding every store shares.

    Raises ``TypeError`` for a non-``str`` key or a non-dict ``meta``, and
    :class:`~persist_ext.SerializationError` for a value (or ``meta``) that cannot be
    stored; nothing is written by this function, so a failure changes nothing.
    """
    check_key(key)
    if meta is not None and not isinstance(meta, dict):
        raise TypeError(f"meta must be a dict of JSON values, not {type(meta).__name__}")
    chosen, buffers = dump_value(value, serializer)
    size = sum(memoryview(b).nbytes for b in buffers)
    now = time.time()
    expires = None if expire is None else now + expire
    try:
        summary = chosen.summarize(value)
    except Exception:  # a third-party summarize must not block storing
        summary = summarize(value)
    summary["size"] = size
    header = pack_header(
        chosen.name, created=now, expires=expires, size=size, summary=summary, meta=meta
    )
    info = EntryInfo(key, chosen.name, size, now, summary, dict(meta or {}), expires)
    return EncodedEntry(list(buffers), header, info)


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


def decode_value(key: str, serializer: str, payload: memoryview) -> Any:
    """Rebuild an inline value from its serializer's name and payload.

    Raises ``CorruptEntryError`` (with what to do) when it cannot.
    """
    try:
        loader = serializer_named(serializer)
    except KeyError as exc:
        raise CorruptEntryError(f"Entry {key!r}: {exc.args[0]}", key=key) from None
    try:
        return loader.load(payload)
    except Exception as exc:
        raise CorruptEntryError(
            f"Entry {key!r} cannot be decoded by serializer {serializer!r} "
            f"({type(exc).__name__}: {exc}); it is damaged or needs a module that is not "
            "importable here. Delete it and store it again.",
            key=key,
        ) from exc
