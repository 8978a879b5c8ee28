"""Values to bytes and back for byte-oriented stores (Redis), with a JSON summary.

Until the serializer registry (``_serializers``) is in place every value is a pickle
(protocol 5); ``decode_value`` checks the serializer name recorded with the entry so that
entries written later with other serializers are refused clearly, never misread.
"""

from __future__ import annotations

import pickle
from typing import Any

from .._errors import CorruptEntryError, SerializationError

__all__ = ["decode_value", "encode_value", "summarize"]

_REPR_LIMIT = 80


def summarize(value: Any) -> dict[str, Any]:
    """A small JSON description of ``value``: type, shape or length, a short repr."""
    t = type(value)
    summary: dict[str, Any] = {"type": f"{t.__module__}.{t.__qualname__}".removeprefix("builtins.")}
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and all(isinstance(n, int) for n in shape):
        summary["shape"] = list(shape)
        dtype = getattr(value, "dtype", None)
        if dtype is not None:
            summary["dtype"] = str(dtype)
    else:
        try:
            summary["len"] = len(value)
        except Exception:
            pass
    try:
        text = repr(value)
    except Exception:
        text = f"<{summary['type']}>"
    summary["repr"] = text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 3] + "..."
    return summary


def encode_value(value: Any) -> tuple[str, bytes, dict[str, Any]]:
    """Return ``(serializer name, payload, summary)`` for ``value``.

    Raises :class:`~persist_ext.SerializationError` naming the type if it cannot be stored.
    """
    try:
        payload = pickle.dumps(value, protocol=5)
    except Exception as exc:
        name = f"{type(value).__module__}.{type(value).__qualname__}"
        raise SerializationError(
            f"Cannot store a value of type {name}: pickling failed ({type(exc).__name__}: "
            f"{exc}). Store a picklable value (e.g. define __getstate__) instead.",
            type_name=name,
        ) from exc
    return "pickle", payload, summarize(value)


def decode_value(key: str, serializer: str, payload: bytes | memoryview) -> Any:
    """Rebuild a value written by :func:`encode_value` (``CorruptEntryError`` if it cannot)."""
    if serializer != "pickle":
        raise CorruptEntryError(
            f"Entry {key!r} was written with serializer {serializer!r}, which this version of "
            "persist_ext does not know; upgrade persist_ext to read it.",
            key=key,
        )
    try:
        return pickle.loads(payload)
    except Exception as exc:
        raise CorruptEntryError(
            f"Entry {key!r} cannot be unpickled ({type(exc).__name__}: {exc}); it is damaged "
            "or needs a module that is not importable here. Delete it and store it again.",
            key=key,
        ) from exc
