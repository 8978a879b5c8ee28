"""The one framing of everything persist_ext stores: a signed, checksummed record.

Every Store row, Redis value, stash file, PersistedWork file, workflow result and shelve
value is one record::

    prefix  b"PXE2" u16 name_len u32 json_len u64 size u64 signed_head u64 signed_tail
            16 bytes xxh3_128(payload)
    mac     32 bytes HMAC-SHA256 (see ``_trust.py``)
    name    the serializer name (utf-8)
    json    created, expires, size, summary, meta: what ``info`` shows, never the value
    payload inline (or, for large Store entries, the blob file the row names)

* ``checksum`` (xxh3_128 of the whole payload) is verified on every full read: a flipped bit
  anywhere is an :class:`~persist_ext.InvalidPickle` (a ``CorruptEntryError``) naming the
  entry.
* ``mac`` covers the entry's key, the prefix (so the checksum too), the name, the JSON, and the
  first ``signed_head`` and last ``signed_tail`` payload bytes: every byte whose content can
  decide what decoding *does* (a pickle stream, an array's dtype, an Arrow schema). The bytes
  in between are plain data (raw array buffers, Arrow column buffers, pickle's out-of-band
  buffers) and are bound to the MAC through the checksum. An entry whose MAC does not verify
  is an :class:`~persist_ext.UntrustedEntryError` and is never decoded.

:func:`encode_entry` is the one way a value becomes a record, :func:`seal` the one way any
payload does (the workflow storage seals its own pickles), :func:`open_record` /
:func:`verify` the one reader, and :func:`read_info` describes a record from its JSON alone.
"""

from __future__ import annotations

import hmac
import json
import struct
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

import xxhash

from .._errors import (
    CorruptEntryError,
    InvalidKeyError,
    InvalidPickle,
    LiveLinkError,
    SerializationError,
    StoreConfigError,
    UntrustedEntryError,
)
from ._protocol import EntryInfo
from ._serializers import PICKLE, dump_value, peek, serializer_for, serializer_named, summarize
from ._trust import MAC_SIZE, mac, mac_of, trust_hint

__all__ = [
    "LEGACY_MAGICS",
    "MAGIC",
    "EncodedEntry",
    "Header",
    "Where",
    "check_expire",
    "check_key",
    "decode_record",
    "encode_entries",
    "encode_entry",
    "is_record",
    "is_storable_key",
    "open_named",
    "open_record",
    "parse_header",
    "read_info",
    "seal",
    "signed_for",
    "verify",
]

MAGIC = b"PXE2"
_PREFIX = struct.Struct("<4sHIQQQ16s")
HEADER_FIXED = _PREFIX.size + MAC_SIZE
# Formats written before entries were signed: recognised only to say "untrusted, re-sign".
LEGACY_MAGICS = (b"PXE1", b"PXR1", b"PERSIST-EXT-PICKLE/1\n", b"PXWF1\n")
_DOMAIN = b"persist_ext record v2\0"
_JOIN_PAYLOAD = 1 << 20


def check_key(key: object) -> None:
    """Refuse a key that is not a ``str`` (every store keys on strings, never on pickles).

    Also refuses a ``str`` holding a lone surrogate (what ``os.listdir`` returns for a file name
    that is not UTF-8): no store can write it, so it is refused before anything is touched.
    """
    if not isinstance(key, str):
        raise InvalidKeyError(
            f"Store keys are str (a digest or a '/'-separated name), not {type(key).__name__}; "
            "hash other keys with persist_ext.fingerprint()."
        )
    if not key.isascii():
        try:
            key.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidKeyError(
                f"Store key {key!r} holds a lone surrogate {key[exc.start]!r} at index "
                f"{exc.start}, which UTF-8 cannot encode; convert it first, e.g. "
                "key.encode('utf-8', 'surrogateescape').decode('utf-8', 'replace')",
                key=key.encode("utf-8", "replace").decode(),
            ) from None


def is_storable_key(key: object) -> TypeGuard[str]:
    """Whether ``key`` could be stored (``key in store`` is False for any other)."""
    if not isinstance(key, str):
        return False
    if key.isascii():
        return True
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_expire(expire: object) -> None:
    """Refuse an ``expire`` that is not a positive number of seconds (``None``: never)."""
    if expire is None:
        return
    if isinstance(expire, bool) or not isinstance(expire, (int, float)) or not expire > 0:
        raise StoreConfigError(
            f"expire must be a positive number of seconds (or None for never), got {expire!r}."
        )


class Where:
    """How errors name a record: its ``label`` (``"Entry 'k' of the store at /s"``) and the
    ``source`` a user would pass to ``persist_ext.trust`` to vouch for it.

    The label is formatted only when an error needs it (``Where.entry``): reads stay cheap.
    """

    __slots__ = ("_label", "_store_key", "source")

    def __init__(self, label: str, source: str | None = None) -> None:
        self._label: str | None = label
        self._store_key: str | None = None
        self.source = source

    @classmethod
    def entry(cls, key: str, store: str) -> Where:
        """An entry ``key`` of the store at ``store`` (also what to trust)."""
        where = cls("", store)
        where._label, where._store_key = None, key
        return where

    @property
    def label(self) -> str:
        if self._label is None:
            return f"Entry {self._store_key!r} of the store at {self.source}"
        return self._label

    def __repr__(self) -> str:
        return f"Where({self.label!r}, {self.source!r})"


def _where(key: str, where: Where | None) -> Where:
    return where if where is not None else Where(f"Entry {key!r}")


@dataclass(frozen=True)
class EncodedEntry:
    """A sealed value: its payload buffers, the record header, and its info."""

    buffers: list[Any]
    header: bytes
    info: EntryInfo

    def payload(self) -> bytes:
        """The buffers joined into one ``bytes``."""
        if len(self.buffers) == 1 and type(self.buffers[0]) is bytes:
            return self.buffers[0]
        return b"".join(bytes(memoryview(b).cast("B")) for b in self.buffers)

    def record(self) -> bytes:
        """Header and payload: the whole record, for inline storage or a file."""
        return self.header + self.payload()


@dataclass(slots=True)
class Header:
    """A parsed record header (nothing verified yet)."""

    serializer: str
    size: int
    signed_head: int
    signed_tail: int
    checksum: bytes
    mac: bytes
    prefix: bytes
    name_json: bytes
    json_start: int
    end: int  # where the payload starts in the record


def _key_bytes(key: str) -> bytes:
    return key.encode("utf-8", "surrogatepass")


def _mac(key: str, prefix: bytes, name_json: bytes, head: Any, tail: Any) -> bytes:
    # Always the secret configured *now* (use_secret_file, the environment): never a key
    # cached from an earlier configuration.
    return mac(_DOMAIN, _key_bytes(key), b"\0", prefix, name_json, head, tail)


def _checksum(buffers: Sequence[Any]) -> bytes:
    if len(buffers) == 1:
        return xxhash.xxh3_128_digest(buffers[0])
    hasher = xxhash.xxh3_128()
    for buf in buffers:
        hasher.update(buf)
    return hasher.digest()


def _slices(buffers: Sequence[Any], size: int, head: int, tail: int) -> tuple[bytes, bytes]:
    """The first ``head`` and last ``tail`` bytes of the concatenated ``buffers``."""
    return peek(buffers, 0, head), peek(buffers, size - tail, tail)


def seal(
    key: str,
    serializer: str,
    buffers: Sequence[Any],
    *,
    summary: dict[str, Any],
    meta: dict[str, Any] | None = None,
    expire: float | None = None,
    signed: tuple[int, int] | None = None,
    created: float | None = None,
) -> EncodedEntry:
    """Frame ``buffers`` (a payload written by ``serializer``) as a signed record of ``key``.

    ``signed`` is ``(head, tail)``: how many leading and trailing payload bytes the MAC
    covers (default: all of them). Raises :class:`~persist_ext.SerializationError` when
    ``meta`` is not JSON.
    """
    buffers = list(buffers)
    size = sum(memoryview(b).nbytes for b in buffers)
    head, tail = (size, 0) if signed is None else signed
    if head < 0 or tail < 0 or head + tail > size:
        head, tail = size, 0
    if size <= _JOIN_PAYLOAD:
        # Small payloads are joined once: the record needs them in one piece anyway.
        if len(buffers) != 1 or type(buffers[0]) is not bytes:
            buffers = [b"".join(buffers)]
        payload = buffers[0]
        checksum = xxhash.xxh3_128_digest(payload)
        first, last = payload[:head], payload[size - tail :]
    else:
        checksum = _checksum(buffers)
        first, last = _slices(buffers, size, head, tail)
    now = time.time() if created is None else created
    expires = None if expire is None else now + expire
    fields: dict[str, Any] = {"created": now, "expires": expires, "size": size}
    fields["summary"] = summary
    if meta:
        fields["meta"] = meta
    try:
        text = _FIELDS_JSON.encode(fields)
    except (TypeError, ValueError) as exc:
        if meta and not _encodes(meta):
            raise SerializationError(
                f"`meta` must be JSON-serializable (str keys; str/int/float/bool/None, lists, "
                f"dicts): {exc}.",
                type_name=type(meta).__name__,
            ) from exc
        # Not the caller's `meta`: the serializer's summary of the value (a registered
        # serializer's own `summarize`, or a fact of a built-in one JSON cannot hold).
        raise SerializationError(
            f"the {serializer!r} serializer's summary of this value is not "
            f"JSON-serializable ({exc}): `summarize` must return str keys and "
            "str/int/float/bool/None, lists, dicts. Nothing was written.",
            type_name=serializer,
        ) from exc
    name = serializer.encode()
    body = text.encode("utf-8", "surrogatepass")
    prefix = _PREFIX.pack(MAGIC, len(name), len(body), size, head, tail, checksum)
    signature = _mac(key, prefix, name + body, first, last)
    info = EntryInfo(key, serializer, size, now, summary, dict(meta or {}), expires)
    return EncodedEntry(buffers, prefix + signature + name + body, info)


def encode_entry(
    key: str,
    value: Any,
    *,
    expire: float | None = None,
    meta: dict[str, Any] | None = None,
    serializer: str | None = None,
) -> EncodedEntry:
    """Serialize ``value`` and seal it: the one encoding every store and file shares.

    Raises :class:`~persist_ext.InvalidKeyError` for a key no store can take,
    :class:`~persist_ext.StoreConfigError` (also a ``TypeError``) for a non-dict ``meta``, and
    :class:`~persist_ext.SerializationError` for a value (or ``meta``) that cannot be
    stored; nothing is written by this function, so a failure changes nothing.
    """
    check_key(key)
    check_expire(expire)
    if meta is not None and not isinstance(meta, dict):
        raise StoreConfigError(
            f"meta must be a dict of JSON values, not {type(meta).__name__}", key=key
        )
    plain = _PLAIN.get(type(value))
    if plain is not None and serializer is None and serializer_for(value) is PICKLE:
        # A number, a bool or None (a task group's done flags, counters' neighbours): the
        # same record as below, byte for byte, without the general summary's probes.
        buffers = PICKLE.dump(value)
        size = sum(len(b) for b in buffers)
        text = repr(value)
        if len(text) <= _PLAIN_REPR:
            summary = {"type": plain, "repr": text, "size": size}
            return seal(key, "pickle", buffers, summary=summary, meta=meta, expire=expire)
    chosen, buffers = dump_value(value, serializer)
    size = sum(memoryview(b).nbytes for b in buffers)
    try:
        summary = chosen.summarize(value)
    except Exception:  # a third-party summarize must not block storing
        summary = summarize(value)
    summary["size"] = size
    try:
        signed = chosen.signed_span(buffers, size)
    except Exception:  # a span we cannot compute: sign everything
        signed = (size, 0)
    return seal(key, chosen.name, buffers, summary=summary, meta=meta, expire=expire, signed=signed)


def encode_entries(
    items: Mapping[str, Any] | Iterable[tuple[str, Any]],
    *,
    expire: float | None = None,
    meta: dict[str, Any] | None = None,
    serializer: str | None = None,
) -> dict[str, EncodedEntry]:
    """:func:`encode_entry` for several keys (a store's ``add_many``), in their order.

    A key given twice keeps its first value. One atom (a number, bool, str, bytes or None)
    given for several keys in a row — a batch of flags sharing one timestamp — is
    serialized once and its record only re-signed for each key: the same bytes as encoding
    it per key at that instant. Raises what :func:`encode_entry` raises, before returning
    anything.
    """
    entries: dict[str, EncodedEntry] = {}
    last: EncodedEntry | None = None
    last_value: Any = None
    pairs = items.items() if isinstance(items, Mapping) else items
    for key, value in pairs:
        if key in entries:
            continue
        if last is not None and value is last_value and type(value) in _ATOMS:
            check_key(key)
            entries[key] = signed_for(last, key)
            continue
        last = entries[key] = encode_entry(
            key, value, expire=expire, meta=meta, serializer=serializer
        )
        last_value = value
    return entries


def signed_for(entry: EncodedEntry, key: str) -> EncodedEntry:
    """``entry``'s record, signed for ``key`` instead (the MAC covers the key)."""
    header, buffers, info = entry.header, entry.buffers, entry.info
    prefix = header[: _PREFIX.size]
    _, _, _, size, head, tail, _ = _PREFIX.unpack(prefix)
    name_json = header[HEADER_FIXED:]
    payload = entry.payload()
    signature = _mac(key, prefix, name_json, payload[:head], payload[size - tail :])
    new_info = EntryInfo(
        key,
        info.serializer,
        info.size,
        info.created,
        dict(info.summary),
        dict(info.meta),
        info.expires,
    )
    return EncodedEntry(buffers, prefix + signature + name_json, new_info)


# Values encode_entries serializes once for several keys: immutable, so one object gives one
# payload however many keys it is stored under.
_ATOMS = frozenset({float, int, bool, type(None), str, bytes})


# Types whose summary is only their type name and repr (what summarize() gives them) and
# whose pickle has no out-of-band buffer (so the whole payload is signed).
_PLAIN: dict[type, str] = {float: "float", int: "int", bool: "bool", type(None): "NoneType"}
# summarize()'s reprlib shortens an int's repr past 40 characters: those take the long way.
_PLAIN_REPR = 40


def _no_json(obj: Any) -> Any:
    raise TypeError(f"{type(obj).__name__} is not JSON-serializable")


# json.dumps with these arguments, without building an encoder per record (~10 % of a small
# Store.set); the same text byte for byte. An encoder keeps no state between calls.
_FIELDS_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False, default=_no_json)


def is_record(data: bytes | memoryview) -> bool:
    """Whether ``data`` starts like a persist_ext record (signed or legacy)."""
    head = bytes(data[:32])
    return head.startswith(MAGIC) or any(head.startswith(m) for m in LEGACY_MAGICS)


def parse_header(key: str, record: bytes | memoryview, where: Where | None = None) -> Header:
    """Parse a record's header (no verification). Refuses what persist_ext did not write."""
    try:
        magic, nlen, jlen, size, head, tail, checksum = _PREFIX.unpack_from(record, 0)
    except struct.error:
        magic = None
    if magic != MAGIC:
        w = _where(key, where)
        start = bytes(record[:32])
        if any(start.startswith(m) for m in LEGACY_MAGICS):
            raise UntrustedEntryError(
                f"{w.label} was written without a signature (by a persist_ext older than "
                "entry signing), so it is not decoded. " + trust_hint(w.source),
                key=key,
            )
        hint = "delete it."
        if start[:1] == b"\x80" and w.source:  # a bare pickle, e.g. from zensols.persist
            hint = (
                "delete it, or, if you trust where it came from (a folder the original "
                f"zensols.persist wrote), adopt it with persist_ext.trust({str(w.source)!r}, "
                "pickles=True)."
            )
        raise InvalidPickle(
            f"{w.label} was not written by persist_ext (bad header), so it is never decoded; "
            + hint,
            key=key,
        )
    json_start = HEADER_FIXED + nlen
    end = json_start + jlen
    if type(record) is not bytes:
        record = bytes(record[:end])
    if len(record) < end or head + tail > size:
        w = _where(key, where)
        raise InvalidPickle(f"{w.label} has a truncated header; delete it.", key=key)
    try:
        name = record[HEADER_FIXED:json_start].decode()
    except UnicodeDecodeError:
        w = _where(key, where)
        raise CorruptEntryError(f"{w.label} has a damaged header; delete it.", key=key) from None
    return Header(
        name,
        size,
        head,
        tail,
        checksum,
        record[_PREFIX.size : HEADER_FIXED],
        record[: _PREFIX.size],
        record[HEADER_FIXED:end],
        json_start,
        end,
    )


def verify(
    key: str,
    header: Header,
    payload: bytes | memoryview | None,
    where: Where | None = None,
    *,
    digest: bytes | None = None,
    signed_parts: tuple[bytes, bytes] | None = None,
) -> None:
    """Check a record's checksum (when ``payload`` is given) and its MAC.

    ``signed_parts`` (the first ``signed_head`` and last ``signed_tail`` payload bytes) lets a
    memory-mapped read authenticate without reading the whole payload; the checksum is then
    not verified (documented in docs/security.md). ``digest`` is the payload's xxh3_128
    when the caller computed it while reading.
    """
    if payload is not None:
        view = memoryview(payload).cast("B") if not isinstance(payload, bytes) else payload
        if len(view) != header.size:
            w = _where(key, where)
            raise InvalidPickle(
                f"{w.label} is truncated ({len(view)} of {header.size} payload bytes); delete "
                "it and store it again.",
                key=key,
            )
        if digest is None:
            digest = xxhash.xxh3_128_digest(view)
        if digest != header.checksum:
            w = _where(key, where)
            raise InvalidPickle(
                f"{w.label} is corrupted (checksum mismatch); delete it and store it again.",
                key=key,
            )
        mv = memoryview(view)
        first: bytes | memoryview = mv[: header.signed_head]
        last: bytes | memoryview = mv[header.size - header.signed_tail : header.size]
    elif signed_parts is not None:
        first, last = signed_parts
    else:  # pragma: no cover - programming error
        raise ValueError("verify() needs the payload or its signed parts")
    expected = _mac(key, header.prefix, header.name_json, first, last)
    if not _equal(expected, header.mac):
        w = _where(key, where)
        raise UntrustedEntryError(
            f"{w.label} is not signed with this machine's persist_ext secret (it was forged, "
            "or written with another secret: another user, machine or a rotated secret), so "
            "it is not decoded. " + trust_hint(w.source),
            key=key,
        )


_equal = hmac.compare_digest  # constant time: a forger learns nothing from timing


_ONE_MESSAGE = 1 << 14  # records up to this size are MACed as one joined message


def _open_signed(key: str, record: bytes) -> tuple[str, memoryview] | None:
    """The common inline record in one pass: well formed, its MAC covering every payload byte.

    Then the MAC alone authenticates the whole record (prefix with the checksum field,
    serializer name, JSON and payload), so one HMAC over the record's bytes in place is the
    whole check and the payload is not hashed a second time for its checksum. ``None``
    when the record is anything else or does not verify: the full path then checks it
    again and names the problem (a flipped bit is a checksum mismatch, ``InvalidPickle``;
    a forged or foreign record is ``UntrustedEntryError``). Nothing is decoded here.
    """
    try:
        magic, nlen, jlen, size, head, tail, _ = _PREFIX.unpack_from(record, 0)
    except struct.error:
        return None
    end = HEADER_FIXED + nlen + jlen
    if magic != MAGIC or head + tail != size or len(record) != end + size:
        return None
    view = memoryview(record)
    # name, JSON and payload follow the MAC contiguously: with head + tail == size the
    # signed message is exactly  domain | key | 0 | prefix | record[HEADER_FIXED:].
    if len(record) <= _ONE_MESSAGE:
        expected = mac_of(
            b"".join((_DOMAIN, _key_bytes(key), b"\0", view[: _PREFIX.size], view[HEADER_FIXED:]))
        )
    else:
        expected = mac(_DOMAIN, _key_bytes(key), b"\0", view[: _PREFIX.size], view[HEADER_FIXED:])
    if not _equal(expected, view[_PREFIX.size : HEADER_FIXED]):
        return None
    try:
        name = record[HEADER_FIXED : HEADER_FIXED + nlen].decode()
    except UnicodeDecodeError:
        return None
    return name, view[end:]


def open_record(
    key: str, record: bytes | memoryview, where: Where | None = None
) -> tuple[str, memoryview]:
    """Verify an inline record; return its serializer name and payload view."""
    if type(record) is bytes:
        found = _open_signed(key, record)
        if found is not None:
            return found
    header = parse_header(key, record, where)
    payload = memoryview(record)[header.end :]
    verify(key, header, payload, where)
    return header.serializer, payload


# The key of file records (stash, PersistedWork, workflow files) written before each was
# bound to its file name: they still verify, so an upgrade does not strand them.
LEGACY_FILE_KEY = ""


def open_named(
    name: str, record: bytes | memoryview, where: Where | None = None
) -> tuple[str, memoryview]:
    """:func:`open_record` for a record kept in a file called ``name`` (its key).

    A file's MAC covers its name, so a signed file renamed or copied over another one (a
    swap inside a folder) is an :class:`~persist_ext.UntrustedEntryError`, never the other
    file's value. Files signed before names were bound (key ``""``) are still accepted.
    """
    try:
        return open_record(name, record, where)
    except UntrustedEntryError as exc:
        try:
            return open_record(LEGACY_FILE_KEY, record, where)
        except UntrustedEntryError:
            pass
        w = _where(name, where)
        raise UntrustedEntryError(
            f"{w.label} is not signed for the name {name!r} with this machine's persist_ext "
            "secret (it was renamed or copied from another file, forged, or written with "
            "another secret: another user, machine or a rotated secret), so it is not "
            "decoded. " + trust_hint(w.source),
            key=exc.key,
        ) from None


def decode_record(
    key: str,
    record: bytes | memoryview,
    where: Where | None = None,
    *,
    store: str | None = None,
) -> Any:
    """Verify an inline record and rebuild its value (the one reader of stored values).

    ``store`` (the store's directory) names the record in errors when ``where`` is not
    given; the :class:`Where` is then only built if something fails.
    """
    if type(record) is bytes:
        found = _open_signed(key, record)  # the common case, checked in one pass
        if found is not None:
            return load_payload(key, found[0], found[1], where, store=store)
    if where is None and store is not None:
        where = Where.entry(key, store)
    name, payload = open_record(key, record, where)
    return load_payload(key, name, payload, where)


def load_payload(
    key: str,
    serializer: str,
    payload: memoryview,
    where: Where | None = None,
    *,
    store: str | None = None,
) -> Any:
    """Rebuild a value from a *verified* payload. Raises ``CorruptEntryError`` when it cannot."""
    try:
        loader = serializer_named(serializer)
    except KeyError as exc:
        w = _where(key, where if where is not None or store is None else Where.entry(key, store))
        raise CorruptEntryError(f"{w.label}: {exc.args[0]}", key=key) from None
    try:
        return loader.load(payload)
    except LiveLinkError:
        raise  # sound, but a live value it links to does not fit it now: not corrupt
    except Exception as exc:
        w = _where(key, where if where is not None or store is None else Where.entry(key, store))
        raise CorruptEntryError(
            f"{w.label} cannot be decoded by serializer {serializer!r} "
            f"({type(exc).__name__}: {exc}); it needs a module that is not importable here, "
            "or is damaged. Delete it and store it again.",
            key=key,
        ) from exc


def read_info(key: str, record: bytes | memoryview) -> EntryInfo:
    """The :class:`EntryInfo` recorded in a record's JSON (never decodes, never verifies).

    Legacy (unsigned) records are described too: describing never runs code.
    """
    magic = bytes(record[:4])
    if magic == MAGIC:
        header = parse_header(key, record)
        name, text = header.serializer, header.name_json[header.json_start - HEADER_FIXED :]
    elif magic == b"PXE1":
        try:
            _, nlen, jlen = struct.unpack_from("<4sHI", record, 0)
            name = bytes(record[10 : 10 + nlen]).decode()
            text = bytes(record[10 + nlen : 10 + nlen + jlen])
        except (struct.error, UnicodeDecodeError):
            raise CorruptEntryError(
                f"Entry {key!r} has a damaged header; delete it.", key=key
            ) from None
    else:
        parse_header(key, record)  # raises the right error
        raise AssertionError  # pragma: no cover
    try:
        fields = json.loads(text)
        return EntryInfo(
            key=key,
            serializer=name,
            size=fields["size"],
            created=fields["created"],
            summary=fields["summary"],
            meta=fields.get("meta", {}),
            expires=fields["expires"],
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptEntryError(
            f"Entry {key!r} has an unreadable header: {exc}; delete it.", key=key
        ) from exc


# --------------------------------------------------------------------------- re-signing

_LEGACY_DIGEST = 16


def resign(
    key: str, record: bytes | memoryview, payload: bytes | memoryview | None = None
) -> bytes | None:
    """Re-sign a record with this machine's secret (what ``persist_ext.trust`` does).

    ``record`` is a whole record (header and inline payload) or, with ``payload`` (read
    from its blob file), a header alone. Returns the new record (or header), or ``None``
    when it is already signed with this secret. Unsigned formats of older versions are
    converted without decoding them. A damaged record (checksum mismatch) raises
    :class:`~persist_ext.InvalidPickle` and is never signed; bytes persist_ext did not write
    raise :class:`~persist_ext.CorruptEntryError`.
    """
    data = bytes(record[:32])
    if data.startswith(MAGIC):
        header = parse_header(key, record)
        body = memoryview(record)[header.end :] if payload is None else memoryview(payload)
        try:
            verify(key, header, body)
            return None
        except UntrustedEntryError:
            pass
        first = body[: header.signed_head]
        last = body[header.size - header.signed_tail : header.size]
        signature = _mac(key, header.prefix, header.name_json, first, last)
        new_header = header.prefix + signature + header.name_json
        return new_header if payload is not None else new_header + bytes(body)
    if data.startswith(b"PXE1") or data.startswith(b"PXR1"):
        name, fields, start = _legacy_fields(key, record)
        body = memoryview(record)[start:] if payload is None else memoryview(payload)
        if len(body) != fields["size"]:
            raise InvalidPickle(f"Entry {key!r} is truncated; it is not re-signed.", key=key)
        return _reseal(key, name, body, fields, header_only=payload is not None)
    for magic, name in ((b"PERSIST-EXT-PICKLE/1\n", "pickle"), (b"PXWF1\n", "workflow")):
        if data.startswith(magic):
            start = len(magic) + _LEGACY_DIGEST
            digest, body = bytes(record[len(magic) : start]), memoryview(record)[start:]
            if xxhash.xxh3_128_digest(body) != digest:
                raise InvalidPickle(f"{key or 'File'} is damaged (checksum mismatch).", key=key)
            if name == "pickle":  # the pickle serializer's payload: no out-of-band buffers
                body = memoryview(struct.pack("<IQ", 0, len(body)) + bytes(body))
            fields = {"summary": {"type": "unknown (re-signed by persist_ext.trust)"}}
            return _reseal(key, name, body, fields, header_only=False)
    raise CorruptEntryError(f"{key!r} was not written by persist_ext; it is not signed.", key=key)


def resign_pickle(key: str, data: bytes) -> bytes:
    """Wrap a bare pickle (a ``shelve`` value of an older version) as a signed record."""
    body = memoryview(struct.pack("<IQ", 0, len(data)) + data)
    fields = {"summary": {"type": "unknown (re-signed by persist_ext.trust)"}}
    return _reseal(key, "pickle", body, fields, header_only=False)


def _legacy_fields(key: str, record: bytes | memoryview) -> tuple[str, dict[str, Any], int]:
    try:
        if bytes(record[:4]) == b"PXE1":
            _, nlen, jlen = struct.unpack_from("<4sHI", record, 0)
            name = bytes(record[10 : 10 + nlen]).decode()
            fields = json.loads(bytes(record[10 + nlen : 10 + nlen + jlen]))
            return name, fields, 10 + nlen + jlen
        hlen = int.from_bytes(bytes(record[4:8]), "little")
        fields = json.loads(bytes(record[8 : 8 + hlen]))
        fields.setdefault("size", len(record) - 8 - hlen)
        return fields["serializer"], fields, 8 + hlen
    except (ValueError, KeyError, struct.error) as exc:
        raise CorruptEntryError(f"Entry {key!r} has a damaged header: {exc}.", key=key) from exc


def _reseal(
    key: str, name: str, body: memoryview, fields: dict[str, Any], *, header_only: bool
) -> bytes:
    try:
        signed = serializer_named(name).signed_span([body], len(body))
    except Exception:  # unknown serializer or odd payload: sign it all
        signed = (len(body), 0)
    created = fields.get("created")
    expires = fields.get("expires")
    entry = seal(
        key,
        name,
        [body],
        summary=fields.get("summary") or {},
        meta=fields.get("meta") or None,
        created=created,
        expire=None if expires is None or created is None else expires - created,
        signed=signed,
    )
    return entry.header if header_only else entry.record()


def _encodes(value: Any) -> bool:
    """Whether ``value`` encodes as the JSON of an entry's header."""
    try:
        _FIELDS_JSON.encode(value)
    except (TypeError, ValueError):
        return False
    return True
