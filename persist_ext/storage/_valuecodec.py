"""Values to one bytes payload and back, for byte-oriented stores (Redis).

A thin layer over the serializer registry (:mod:`._serializers`): the serializer chosen for
the value (numpy raw, Arrow frames, pickle 5, JSON on request) produces buffers that are
joined into one payload; the serializer's name is stored beside it and picks the loader.
"""

from __future__ import annotations

from typing import Any

from .._errors import CorruptEntryError
from ._serializers import dump_value, serializer_named, summarize

__all__ = ["decode_value", "encode_value"]


def encode_value(value: Any, serializer: str | None = None) -> tuple[str, bytes, dict[str, Any]]:
    """Return ``(serializer name, payload, JSON summary)`` for ``value``.

    Raises :class:`~persist_ext.SerializationError` naming the type if it cannot be stored.
    """
    chosen, buffers = dump_value(value, serializer)
    return chosen.name, b"".join(buffers), summarize(value)


def decode_value(key: str, serializer: str, payload: memoryview) -> Any:
    """Rebuild a value written by :func:`encode_value` (``CorruptEntryError`` if it cannot)."""
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
