"""Adapters that let the stash browser list, describe, load and delete entries of anything.

A source answers four questions: which keys (names only), what is known about one key
*without decoding its value* (type, size, age, the JSON summary stored with it), the value
itself (only on an explicit request), and how to delete one. Stores describe entries from
``info()`` (:class:`~persist_ext.storage._protocol.EntryInfo`); stashes from ``info()`` when
they have it, from the file behind a key (``DirectoryStash``), or from the object already in
memory (``DictionaryStash``) — never by calling ``load``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from ..._errors import InvalidArgumentError
from ...storage._protocol import EntryInfo, KeyValueStore

__all__ = ["Entry", "EntrySource", "MappingSource", "StashSource", "StoreSource", "source_for"]


@dataclass(frozen=True)
class Entry:
    """What the browser shows for one key; ``None`` means unknown without loading."""

    key: str
    type: str = "?"
    size: int | None = None
    created: float | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    serializer: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    expires: float | None = None

    @classmethod
    def from_info(cls, info: EntryInfo) -> Entry:
        """Build from a store's :class:`EntryInfo` (its JSON summary names the type)."""
        summary = dict(info.summary or {})
        return cls(
            key=info.key,
            type=str(summary.get("type") or info.serializer or "?"),
            size=info.size,
            created=info.created,
            summary=summary,
            serializer=info.serializer,
            meta=dict(info.meta or {}),
            expires=info.expires,
        )


def _type_name(value: Any) -> str:
    from ...storage._serializers import type_name

    return str(type_name(value))


def memory_summary(value: Any) -> dict[str, Any]:
    """The store's JSON summary of an object already in memory (nothing is decoded)."""
    from ...storage._serializers import summarize

    return summarize(value)


def memory_size(value: Any) -> int:
    """Bytes an in-memory value holds, cheaply (array buffers, frame columns, or getsizeof)."""
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    usage = getattr(value, "memory_usage", None)
    if callable(usage) and hasattr(value, "columns"):
        try:
            return int(usage(index=True, deep=False).sum())
        except Exception:
            pass
    return sys.getsizeof(value)


class EntrySource:
    """Base class: the operations the browser needs. Subclasses override all of them."""

    label: str = ""
    #: Whether ``delete`` really removes entries (read-only stashes say False).
    writable: bool = True

    def list_keys(self) -> list[str]:
        """Every key, in the source's order (names only, values untouched)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def describe(self, key: str) -> Entry | None:
        """What is known about ``key`` without decoding its value; None if it is gone."""
        raise NotImplementedError  # pragma: no cover - abstract

    def load(self, key: str) -> Any:
        """The value (only called when the user asks for it)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def delete(self, key: str) -> None:
        """Remove ``key``."""
        raise NotImplementedError  # pragma: no cover - abstract


class StoreSource(EntrySource):
    """A :class:`~persist_ext.storage._protocol.KeyValueStore`, optionally under a prefix
    (or several: ``("cell/", "memo/")`` lists cached cells, then cached function calls)."""

    def __init__(
        self, store: KeyValueStore, prefix: str | tuple[str, ...] = "", label: str = ""
    ) -> None:
        self.store, self.prefix = store, prefix
        prefixes = (prefix,) if isinstance(prefix, str) else tuple(prefix)
        self._prefixes = prefixes or ("",)
        shown = " ".join(f"{p}*" for p in prefixes if p)
        self.label = label or f"{type(store).__name__}" + (f" {shown}" if shown else "")

    def list_keys(self) -> list[str]:
        return [key for prefix in self._prefixes for key in self.store.keys(prefix)]

    def describe(self, key: str) -> Entry | None:
        info = self.store.info(key)
        return None if info is None else Entry.from_info(info)

    def load(self, key: str) -> Any:
        return self.store.get(key)

    def delete(self, key: str) -> None:
        self.store.delete(key)


class MappingSource(EntrySource):
    """A plain mapping (e.g. a ``dict``); entries are described from the objects in memory."""

    def __init__(self, mapping: Mapping[str, Any], label: str = "") -> None:
        self.mapping = mapping
        self.label = label or f"{type(mapping).__name__} ({len(mapping)} keys)"
        self.writable = isinstance(mapping, MutableMapping)

    def list_keys(self) -> list[str]:
        return [str(k) for k in self.mapping]

    def describe(self, key: str) -> Entry | None:
        if key not in self.mapping:
            return None
        value = self.mapping[key]
        return Entry(key, _type_name(value), memory_size(value), None, memory_summary(value))

    def load(self, key: str) -> Any:
        return self.mapping[key]

    def delete(self, key: str) -> None:
        if not isinstance(self.mapping, MutableMapping):
            raise TypeError(f"{type(self.mapping).__name__} is read-only; cannot delete {key!r}")
        del self.mapping[key]


def _describe_stash(stash: Any, key: str, depth: int = 0) -> Entry | None:
    """Describe ``key`` from the stash's metadata, walking delegates; never calls ``load``."""
    from ...features._stash import DictionaryStash, DirectoryStash

    info = getattr(stash, "info", None)
    if callable(info):
        found = info(key)
        if isinstance(found, EntryInfo):
            return Entry.from_info(found)
    if isinstance(stash, DictionaryStash):
        if key not in stash.data:
            return None
        value = stash.data[key]  # already in memory: reading the dict decodes nothing
        return Entry(key, _type_name(value), memory_size(value), None, memory_summary(value))
    if isinstance(stash, DirectoryStash):
        try:
            st = os.stat(stash.key_to_path(key))
        except (OSError, ValueError):
            return None
        return Entry(key, "pickle", st.st_size, st.st_mtime, {}, serializer="pickle")
    delegate = vars(stash).get("delegate") if hasattr(stash, "__dict__") else None
    if delegate is not None and depth < 20:
        return _describe_stash(delegate, key, depth + 1)
    return None


class StashSource(EntrySource):
    """Any :class:`~persist_ext.Stash` (keys from ``keys()``, values from ``load``)."""

    def __init__(self, stash: Any, label: str = "") -> None:
        from ...features._stash import ReadOnlyStash

        self.stash = stash
        text = repr(stash)
        self.label = label or (text if len(text) < 80 else type(stash).__name__)
        self.writable = not isinstance(stash, ReadOnlyStash)

    def list_keys(self) -> list[str]:
        # not `for k in stash`: iterating a stash yields (key, value) pairs, loading values
        return list(map(str, self.stash.keys()))

    def describe(self, key: str) -> Entry | None:
        entry = _describe_stash(self.stash, key)
        if entry is None and self.stash.exists(key):  # exists() never loads a value
            entry = Entry(key)  # present, but nothing is known without loading it
        return entry

    def load(self, key: str) -> Any:
        return self.stash.load(key)

    def delete(self, key: str) -> None:
        if not self.writable:
            raise TypeError(f"{type(self.stash).__name__} is read-only; cannot delete {key!r}")
        self.stash.delete(key)


def _default_store() -> Any:
    from ..._config import default_directory
    from ...storage._store import Store

    return Store(default_directory())


def source_for(obj: Any = None, *, prefix: str | tuple[str, ...] = "") -> EntrySource:
    """Pick the adapter for ``obj``: a store, a stash, the cell cache, or a mapping.

    ``None`` opens the default store (``.persist`` / ``$PERSIST_EXT_DIR``).

    Raises
    ------
    TypeError
        For anything else, naming what is accepted.
    """
    from ...features._stash import Stash

    if isinstance(obj, EntrySource):
        return obj
    if obj is None:
        return StoreSource(_default_store(), prefix)
    if isinstance(obj, Stash):
        return StashSource(obj)
    if isinstance(obj, KeyValueStore):
        return StoreSource(obj, prefix)
    inner = getattr(obj, "store", None)  # the cell cache and task groups keep a store
    if inner is not None and isinstance(inner, KeyValueStore):
        inner_prefix = prefix or str(getattr(obj, "prefix", "") or "")
        return StoreSource(inner, inner_prefix, label=f"{type(obj).__name__} {inner_prefix}*")
    if isinstance(obj, Mapping):
        return MappingSource(obj)
    raise InvalidArgumentError(
        f"cannot browse a {type(obj).__name__}: pass a Stash, a Store (or any KeyValueStore), "
        "the cell cache, a mapping, or nothing for the default store"
    )
