"""Stashes that keep values in memory or combine other stashes.

:class:`DictionaryStash` (a ``dict``), :class:`LRUCacheStash` (a bounded ``dict`` that drops
the least recently used key), :class:`CacheStash` (a read-through, write-through
cache in front of a slower stash) and :class:`UnionStash` (a read-only join of stashes).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from ..._errors import InvalidArgumentError, PersistableError
from ._base import NOT_FOUND, DelegateStash, ReadOnlyStash, Stash

__all__ = ["CacheStash", "DictionaryStash", "LRUCacheStash", "UnionStash"]


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


class LRUCacheStash(DictionaryStash):
    """A :class:`DictionaryStash` holding at most ``maxsize`` values, least recently used out.

    :attr:`data` is an :class:`~collections.OrderedDict` from least to most recently used; a
    :meth:`load` of a key or a :meth:`dump` makes it the most recent, and a :meth:`dump` beyond
    ``maxsize`` drops the oldest keys.

    Examples
    --------
    >>> stash = LRUCacheStash(2)
    >>> stash.dump("a", 1); stash.dump("b", 2); stash.load("a"); stash.dump("c", 3)
    1
    >>> list(stash.keys())
    ['a', 'c']
    """

    def __init__(self, maxsize: int) -> None:
        if not isinstance(maxsize, int) or isinstance(maxsize, bool) or maxsize < 1:
            raise PersistableError(
                f"LRUCacheStash needs a maxsize of at least 1, got {maxsize!r}; "
                "pass how many values to keep, e.g. LRUCacheStash(128)."
            )
        super().__init__(OrderedDict())
        self.maxsize = maxsize

    @property
    def data(self) -> OrderedDict[str, Any]:
        """The backing ordered dictionary, least recently used first."""
        return self._data  # type: ignore[return-value]

    def load(self, name: str) -> Any:
        """The value of ``name`` (now the most recently used), or ``None``."""
        value = self._data.get(name)
        if name in self._data:
            self.data.move_to_end(name)
        return value

    def get(self, name: str, default: Any = None) -> Any:
        """The value of ``name`` (now the most recently used), or ``default``."""
        return self.load(name) if name in self._data else default

    def dump(self, name: str, inst: Any) -> None:
        """Set ``name`` (now the most recently used); drop the oldest keys beyond maxsize."""
        self._data[name] = inst
        self.data.move_to_end(name)
        while len(self._data) > self.maxsize:
            self.data.popitem(last=False)

    def __getitem__(self, key: str) -> Any:
        value = self._data[key]
        self.data.move_to_end(key)
        return value

    def values(self) -> Iterator[Any]:
        """The values, least recently used first (listing them is not a use)."""
        return iter(list(self._data.values()))

    def items(self) -> Iterator[tuple[str, Any]]:
        """The ``(key, value)`` pairs, least recently used first (not a use)."""
        return iter(list(self._data.items()))

    def __repr__(self) -> str:
        return f"LRUCacheStash(maxsize={self.maxsize}, keys={list(self._data)!r})"


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
        if isinstance(stashes, (str, bytes, Stash)) or not isinstance(stashes, Iterable):
            raise InvalidArgumentError(
                f"UnionStash takes a list of stashes, got {type(stashes).__name__}; "
                "e.g. UnionStash([DictionaryStash(), DirectoryStash(path)])."
            )
        self.stashes = tuple(stashes)
        for stash in self.stashes:
            if not isinstance(stash, Stash):
                raise InvalidArgumentError(f"UnionStash joins stashes; got {type(stash).__name__}.")

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
