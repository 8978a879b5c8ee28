"""Stashes that keep values in memory or combine other stashes.

:class:`DictionaryStash` (a ``dict``), :class:`CacheStash` (a read-through, write-through
cache in front of a slower stash) and :class:`UnionStash` (a read-only join of stashes).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from ._base import NOT_FOUND, DelegateStash, ReadOnlyStash, Stash

__all__ = ["CacheStash", "DictionaryStash", "UnionStash"]


class DictionaryStash(Stash):
    """A stash backed by a ``dict`` (given, or a new empty one), exposed as :attr:`data`.

    Examples
    --------
    >>> stash = DictionaryStash()
    >>> stash.dump("a", [1, 2])
    >>> stash.load("a"), stash.load("missing"), stash.data
    ([1, 2], None, {'a': [1, 2]})
    """

    def __init__(self, data: dict[str, Any] | None = None) -> None:
        self._data: dict[str, Any] = {} if data is None else data

    @property
    def data(self) -> dict[str, Any]:
        """The backing dictionary."""
        return self._data

    def load(self, name: str) -> Any:
        """The value of ``name``, or ``None``."""
        return self._data.get(name)

    def get(self, name: str, default: Any = None) -> Any:
        """The value of ``name``, or ``default``."""
        return self._data.get(name, default)

    def exists(self, name: str) -> bool:
        """Whether ``name`` is a key."""
        return name in self._data

    def dump(self, name: str, inst: Any) -> None:
        """Set ``name`` to ``inst``."""
        self._data[name] = inst

    def delete(self, name: str | None = None) -> None:
        """Remove ``name`` if present; with no name, remove everything."""
        if name is None:
            self._data.clear()
        else:
            self._data.pop(name, None)

    def keys(self) -> Iterable[str]:
        """A live view of the keys."""
        return self._data.keys()

    def clear(self) -> None:
        """Remove everything."""
        self._data.clear()

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"DictionaryStash({self._data!r})"


class CacheStash(DelegateStash):
    """Cache a slower ``delegate`` in ``cache_stash`` (a new :class:`DictionaryStash` by default).

    Reads go to the cache first, then to the delegate, and what the delegate *has* is
    copied into the cache. Writes and deletes go to both, so the cache never serves a value
    the delegate no longer holds.

    Unlike the original, a miss is never cached: if the delegate has no value for a key, the
    next read asks the delegate again (it may have been created meanwhile, e.g. by another
    process). A stored ``None`` is a value and is cached.

    Examples
    --------
    >>> slow = DictionaryStash({"a": 1})
    >>> cached = CacheStash(slow)
    >>> cached["a"], cached.cache_stash.data
    (1, {'a': 1})
    >>> cached.get("b"), cached.cache_stash.data  # the miss is not remembered
    (None, {'a': 1})
    >>> slow.dump("b", 2); cached["b"]
    2
    """

    def __init__(self, delegate: Stash, cache_stash: Stash | None = None, **kwargs: Any) -> None:
        super().__init__(delegate, **kwargs)
        self.cache_stash: Stash = DictionaryStash() if cache_stash is None else cache_stash

    def load(self, name: str) -> Any:
        """Return the cached value, else load from the delegate and cache what exists."""
        if self.cache_stash.exists(name):
            return self.cache_stash.load(name)
        value = self.delegate.load(name)
        # A None from load() may mean "missing"; only cache it when the delegate has the key.
        if value is not None or self.delegate.exists(name):
            self.cache_stash.dump(name, value)
        return value

    def get(self, name: str, default: Any = None) -> Any:
        """Return the cached value, else the delegate's (cached), else ``default``."""
        if self.cache_stash.exists(name):
            return self.cache_stash.get(name, default)
        value = self.delegate.get(name, NOT_FOUND)
        if value is NOT_FOUND:
            return default
        self.cache_stash.dump(name, value)
        return value

    def exists(self, name: str) -> bool:
        """Whether the cache or the delegate has ``name``."""
        return self.cache_stash.exists(name) or self.delegate.exists(name)

    def dump(self, name: str, inst: Any) -> None:
        """Write through: the delegate first (it is the truth), then the cache."""
        self.delegate.dump(name, inst)
        self.cache_stash.dump(name, inst)

    def delete(self, name: str | None = None) -> None:
        """Delete from the cache and from a writable delegate."""
        self.cache_stash.delete(name)
        if not isinstance(self.delegate, ReadOnlyStash):
            self.delegate.delete(name)

    def clear(self) -> None:
        """Clear the cache and a writable delegate."""
        if not isinstance(self.delegate, ReadOnlyStash):
            self.delegate.clear()
        self.cache_stash.clear()


class UnionStash(ReadOnlyStash):
    """A read-only view joining ``stashes``: the first stash that has a key wins.

    Keys are chained in order, each listed once.

    Examples
    --------
    >>> union = UnionStash([DictionaryStash({"a": 1}), DictionaryStash({"a": 9, "b": 2})])
    >>> union["a"], union["b"], list(union.keys()), union.get("zzz", "default")
    (1, 2, ['a', 'b'], 'default')
    """

    def __init__(self, stashes: Sequence[Stash], *, strict: bool = False) -> None:
        super().__init__(strict=strict)
        self.stashes = tuple(stashes)
        for stash in self.stashes:
            if not isinstance(stash, Stash):
                raise TypeError(f"UnionStash joins stashes; got {type(stash).__name__}.")

    def load(self, name: str) -> Any:
        """The value from the first stash that has ``name``, else ``None``."""
        for stash in self.stashes:
            if stash.exists(name):
                return stash.load(name)
        return None

    def get(self, name: str, default: Any = None) -> Any:
        """The value from the first stash that has ``name``, else ``default``."""
        for stash in self.stashes:
            if stash.exists(name):
                return stash.get(name, default)
        return default

    def exists(self, name: str) -> bool:
        """Whether any stash has ``name``."""
        return any(stash.exists(name) for stash in self.stashes)

    def keys(self) -> Iterator[str]:
        """The keys of every stash in order, without duplicates."""
        seen: set[str] = set()
        for stash in self.stashes:
            keys = stash.keys()  # (a stash iterates (key, value) pairs, not keys)
            for key in keys:
                if key not in seen:
                    seen.add(key)
                    yield key
