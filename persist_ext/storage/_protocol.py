"""The small protocol every key-value store implements, and the entry description it returns.

Features (cell cache, task groups, browsers, the server) program against
:class:`KeyValueStore`, so the embedded default (:class:`~persist_ext.Store`, diskcache),
the shared server store (``RedisStore``) and the in-memory test double (``MemoryStore``)
are interchangeable.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = ["MISSING", "EntryInfo", "KeyValueStore"]


class _Missing:
    """Sentinel for "no default given" (``None`` is a legitimate default)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __reduce__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class EntryInfo:
    """What a store knows about an entry without decoding its value.

    ``summary`` is small JSON built when the value was stored, e.g.
    ``{"type": "numpy.ndarray", "shape": [1000, 3], "dtype": "float64", "repr": "array([...])"}``;
    browsers and the server describe entries from it and never unpickle.
    """

    key: str
    serializer: str
    size: int
    created: float
    summary: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    expires: float | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (what the server extension returns)."""
        return {
            "key": self.key,
            "serializer": self.serializer,
            "size": self.size,
            "created": self.created,
            "expires": self.expires,
            "summary": self.summary,
            "meta": self.meta,
        }


@runtime_checkable
class KeyValueStore(Protocol):
    """Operations features rely on. Keys are ``str``; values are any storable object.

    Every bundled kind (``Store``, ``MemoryStore``, ``RedisStore``) also offers
    ``change_token()``: a value equal between two calls only if nothing changed the store in
    between (see docs/storage.md). It is not required here, so a store of your own without
    it still passes ``isinstance``; callers look it up with ``getattr`` and treat a missing
    method or a ``None`` token as "unknown" (they then read the entry). The same holds for
    ``add_many(items, *, expire, meta, serializer) -> frozenset``: ``add`` for several keys
    in one transaction, returning the keys it set; without it, callers call ``add`` per key.
    """

    def set(
        self,
        key: str,
        value: Any,
        *,
        expire: float | None = None,
        meta: dict | None = None,
        serializer: str | None = None,
    ) -> EntryInfo: ...

    def get(self, key: str, default: Any = MISSING, *, mmap: bool = False) -> Any: ...

    def add(
        self, key: str, value: Any, *, expire: float | None = None, meta: dict | None = None
    ) -> bool: ...

    def delete(self, key: str) -> bool: ...

    def info(self, key: str) -> EntryInfo | None: ...

    def keys(self, prefix: str = "") -> Iterator[str]: ...

    def incr(self, key: str, delta: int = 1, default: int = 0) -> int: ...

    def transact(self) -> AbstractContextManager[Any]: ...

    def close(self) -> None: ...

    def __contains__(self, key: object) -> bool: ...

    def __len__(self) -> int: ...
