"""The abstract :class:`Stash` and the framework stashes that wrap other stashes.

A stash is a dict-like object that creates, reads, updates and deletes (CRUD) values by
string key. Each one does one job; they are stacked (a factory over a directory over a cache)
to build richer structures. This module holds the abstract base and the wrappers:
:class:`ReadOnlyStash`, :class:`CloseableStash`, :class:`DelegateStash`,
:class:`KeyLimitStash`, :class:`PreemptiveStash`, :class:`PrimeableStash` and
:class:`SortedStash`.
"""

from __future__ import annotations

import inspect
import itertools
import logging
import sys
from abc import ABCMeta, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..._errors import InvalidArgumentError, PersistableError

__all__ = [
    "CloseableStash",
    "DelegateDefaults",
    "DelegateStash",
    "KeyLimitStash",
    "PreemptiveStash",
    "PrimeableStash",
    "ProtectiveStash",
    "ReadOnlyStash",
    "SortedStash",
    "Stash",
    "chunks",
]

logger = logging.getLogger("persist_ext")

# "No value" marker private to the stash layer. Not the protocol's MISSING: a stash passes its
# default on to a KeyValueStore, which reads MISSING as "no default given" and raises KeyError.
NOT_FOUND: Any = object()


def chunks(iterable: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """Yield lists of ``size`` consecutive items of ``iterable`` (the last may be shorter).

    >>> list(chunks(range(5), 2))
    [[0, 1], [2, 3], [4]]
    """
    if size < 1:
        raise InvalidArgumentError(f"chunk size must be at least 1, got {size}.")
    iterator = iter(iterable)
    while True:
        chunk = list(itertools.islice(iterator, size))
        if not chunk:
            return
        yield chunk


class _StashMeta(ABCMeta):
    """Lets zensols' dataclass idiom work: ``@dataclass class S(DelegateStash): n: int``.

    zensols' stashes are dataclasses, so such a subclass's generated ``__init__`` takes the
    parents' fields too (``S(delegate=..., n=1)``). Here the parents have plain ``__init__``
    methods, so the keyword arguments the generated one does not know go to the first stash
    ``__init__`` above it, which runs first; then the generated one sets the subclass's
    fields (and calls its ``__post_init__``). Anything neither knows is a ``TypeError``.
    """

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        inits = [c for c in cls.__mro__ if "__init__" in vars(c)]
        if kwargs and "__dataclass_fields__" in vars(inits[0]):
            generated = vars(inits[0])["__init__"]
            known = inspect.signature(generated).parameters
            extra = {k: v for k, v in kwargs.items() if k not in known}
            base = next((c for c in inits[1:] if "__dataclass_fields__" not in vars(c)), object)
            if extra and base is not object:
                new: Any = cls.__new__
                obj = new(cls)
                vars(base)["__init__"](obj, **extra)
                generated(obj, *args, **{k: v for k, v in kwargs.items() if k in known})
                return obj
        return super().__call__(*args, **kwargs)


class Stash(metaclass=_StashMeta):
    """A dict-like abstract store of values by string key.

    Subclasses implement four methods: :meth:`load`, :meth:`dump`, :meth:`delete` and
    :meth:`keys`. Everything else (``get``, ``exists``, ``clear``, ``values``, ``items``,
    ``key_groups``, ``[]``, ``in``, ``len``, ``del``) is derived from them.

    Differences from ``dict``, kept from the original design:

    * **iterating a stash yields ``(key, value)`` pairs**, like ``dict.items()``, not keys;
    * :meth:`load` returns ``None`` for a missing key, and for factory stashes it may *create*
      the value, while :meth:`get` prefers what already exists;
    * :meth:`delete` of a missing key does nothing, while ``del stash[key]`` raises
      ``KeyError`` like a dict;
    * ``stash[key]`` raises ``KeyError`` when the key is missing.

    Examples
    --------
    >>> from persist_ext.features._stash import DictionaryStash
    >>> stash = DictionaryStash()
    >>> stash["a"] = 1
    >>> list(stash), stash.get("b", 0), "a" in stash, len(stash)
    ([('a', 1)], 0, True, 1)
    >>> stash["b"]
    Traceback (most recent call last):
    KeyError: 'b'
    """

    @abstractmethod
    def load(self, name: str) -> Any:
        """Return the value of ``name``, or ``None`` when it does not exist.

        Factory stashes may create the value here; see :meth:`get`.
        """

    @abstractmethod
    def dump(self, name: str, inst: Any) -> Any:
        """Store ``inst`` under key ``name``, replacing any previous value."""

    @abstractmethod
    def delete(self, name: str | None = None) -> None:
        """Remove ``name`` (nothing happens when it is missing)."""

    @abstractmethod
    def keys(self) -> Iterable[str]:
        """Return an iterable of the keys in the stash."""

    def get(self, name: str, default: Any = None) -> Any:
        """Return the value of ``name`` if it exists, else ``default``.

        Unlike :meth:`load`, this avoids creating values where the stash can tell that a
        value does not exist yet.
        """
        if self.exists(name):
            return self.load(name)
        return default

    def exists(self, name: str) -> bool:
        """Return whether ``name`` has a value (subclasses override this linear scan)."""
        return any(key == name for key in self.keys())

    def clear(self) -> None:
        """Delete every value. Exercise caution."""
        # Materialize first: deleting while a directory listing is iterated is undefined.
        for key in tuple(self.keys()):
            self.delete(key)

    def key_groups(self, n: int) -> Iterator[list[str]]:
        """Yield the keys in lists of ``n`` (the last list may be shorter).

        >>> from persist_ext.features._stash import DictionaryStash
        >>> list(DictionaryStash({"a": 1, "b": 2, "c": 3}).key_groups(2))
        [['a', 'b'], ['c']]
        """
        return chunks(self.keys(), n)

    def values(self) -> Iterator[Any]:
        """Yield every value, in the order of :meth:`keys`."""
        return (self[key] for key in self.keys())

    def items(self) -> Iterator[tuple[str, Any]]:
        """Yield every ``(key, value)`` pair, in the order of :meth:`keys`."""
        return ((key, self[key]) for key in self.keys())

    def __getitem__(self, key: str) -> Any:
        value = self.get(key, NOT_FOUND)
        if value is NOT_FOUND:
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        self.dump(key, value)

    def __delitem__(self, key: str) -> None:
        if not self.exists(key):
            raise KeyError(key)
        self.delete(key)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.exists(key)

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        """Yield ``(key, value)`` pairs (not keys, unlike a ``dict``)."""
        return self.items()

    def __len__(self) -> int:
        return sum(1 for _ in self.keys())

    def __bool__(self) -> bool:
        # A stash object is always truthy: `if stash:` must not load or count every key.
        return True


class ReadOnlyStash(Stash):
    """A stash whose write methods do nothing, or raise when ``strict=True``.

    Subclasses implement :meth:`load` and :meth:`keys` (and ideally :meth:`exists`).
    Typical use is a factory that generates values, paired with a writable stash.

    Examples
    --------
    >>> class Squares(ReadOnlyStash):
    ...     def load(self, name):
    ...         return int(name) ** 2 if self.exists(name) else None
    ...     def keys(self):
    ...         return map(str, range(3))
    ...     def exists(self, name):
    ...         return name in {"0", "1", "2"}
    >>> dict(Squares().items())
    {'0': 0, '1': 1, '2': 4}
    >>> Squares(strict=True).dump("3", 9)
    Traceback (most recent call last):
    persist_ext._errors.PersistableError: Squares is read-only: dump is not supported; ...
    """

    def __init__(self, *, strict: bool = False) -> None:
        self.strict = strict

    def _ro_check(self, method: str) -> None:
        if getattr(self, "strict", False):
            raise PersistableError(
                f"{type(self).__name__} is read-only: {method} is not supported; "
                "write to the stash it reads from instead."
            )

    def dump(self, name: str, inst: Any) -> None:
        """Do nothing (raise :class:`PersistableError` when ``strict``)."""
        self._ro_check("dump")

    def delete(self, name: str | None = None) -> None:
        """Do nothing (raise :class:`PersistableError` when ``strict``)."""
        self._ro_check("delete")

    def clear(self) -> None:
        """Do nothing (raise :class:`PersistableError` when ``strict``)."""
        self._ro_check("clear")

    def __delitem__(self, key: str) -> None:
        self._ro_check("delete")


class CloseableStash(Stash):
    """A stash holding a resource (a file, a database) that :meth:`close` releases.

    Closeable stashes are context managers: ``with stash: ...`` closes on exit.
    """

    @abstractmethod
    def close(self) -> None:
        """Release the stash's resources."""

    def __enter__(self) -> CloseableStash:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DelegateDefaults:
    """Process-wide defaults of :class:`DelegateStash` (the seed's names).

    ``CLASS_CHECK``: a delegate that is not a :class:`Stash` raises (``True``, the default
    here) or only logs a warning (``False``, the seed's default, kept for code that relies on
    duck-typed delegates). A missing (``None``) delegate always raises.
    ``DELEGATE_ATTR``: the default of ``delegate_attr`` for new delegate stashes.
    """

    CLASS_CHECK: bool = True
    DELEGATE_ATTR: bool = False


class DelegateStash(CloseableStash):
    """Forward every operation to ``delegate``; the base of stacked stashes.

    With ``delegate_attr=True``, attributes this stash lacks are looked up on the delegate
    (convenient, but it can hide typos, so it is off by default; see
    :class:`DelegateDefaults`).

    Examples
    --------
    >>> from persist_ext.features._stash import DictionaryStash
    >>> inner = DictionaryStash()
    >>> outer = DelegateStash(inner)
    >>> outer["k"] = "v"
    >>> inner.data
    {'k': 'v'}
    >>> DelegateStash(None)
    Traceback (most recent call last):
    persist_ext._errors.PersistableError: DelegateStash needs a delegate stash, got None; ...
    """

    def __init__(self, delegate: Stash, *, delegate_attr: bool | None = None) -> None:
        if delegate is None or not isinstance(delegate, Stash):
            message = (
                f"{type(self).__name__} needs a delegate stash, got {delegate!r}; "
                "pass a Stash such as DictionaryStash() or DirectoryStash(path)."
            )
            if delegate is None or DelegateDefaults.CLASS_CHECK:
                raise PersistableError(message)
            logger.warning(message)
        self.delegate = delegate
        self.delegate_attr = (
            DelegateDefaults.DELEGATE_ATTR if delegate_attr is None else delegate_attr
        )

    def __getattr__(self, attr: str) -> Any:
        # Only called when normal lookup fails; vars() avoids recursion before __init__ ran.
        state = vars(self)
        if state.get("delegate_attr") and "delegate" in state:
            return getattr(state["delegate"], attr)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {attr!r}")

    def load(self, name: str) -> Any:
        """Load from the delegate."""
        return self.delegate.load(name)

    def get(self, name: str, default: Any = None) -> Any:
        """Get from the delegate."""
        return self.delegate.get(name, default)

    def exists(self, name: str) -> bool:
        """Ask the delegate."""
        return self.delegate.exists(name)

    def dump(self, name: str, inst: Any) -> Any:
        """Dump into the delegate."""
        return self.delegate.dump(name, inst)

    def delete(self, name: str | None = None) -> None:
        """Delete from the delegate."""
        self.delegate.delete(name)

    def keys(self) -> Iterable[str]:
        """The delegate's keys."""
        return self.delegate.keys()

    def clear(self) -> None:
        """Clear the delegate."""
        self.delegate.clear()

    def close(self) -> None:
        """Close the delegate when it is closeable."""
        if isinstance(self.delegate, CloseableStash):
            self.delegate.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.delegate!r})"


class ProtectiveStash(DelegateStash):
    """A delegate stash whose :meth:`dump` never raises: a failed dump stores the exception.

    When the delegate's ``dump(name, inst)`` raises an :class:`Exception`, the exception
    instance is dumped under ``name`` instead, so a batch job records which items failed and
    why without stopping. With ``log_errors=True`` each failure is logged as a warning.

    Examples
    --------
    >>> from persist_ext.features._stash import DictionaryStash
    >>> class Picky(DictionaryStash):
    ...     def dump(self, name, inst):
    ...         if inst is None:
    ...             raise ValueError(f"no value for {name}")
    ...         super().dump(name, inst)
    >>> stash = ProtectiveStash(Picky(), log_errors=False)
    >>> stash.dump("a", 1)
    >>> stash.dump("b", None)
    >>> stash["a"], repr(stash["b"])
    (1, "ValueError('no value for b')")
    """

    def __init__(self, delegate: Stash, log_errors: bool = True) -> None:
        super().__init__(delegate)
        self.log_errors = log_errors

    def dump(self, name: str, inst: Any) -> Any:
        """Dump ``inst``; if that raises, dump the exception instead."""
        try:
            return super().dump(name, inst)
        except Exception as error:
            if self.log_errors:
                logger.warning("could not dump %r, storing the error instead: %s", name, error)
            return super().dump(name, error)


class KeyLimitStash(DelegateStash):
    """Expose only the first ``limit`` keys of the delegate (handy while debugging).

    Examples
    --------
    >>> from persist_ext.features._stash import DictionaryStash
    >>> limited = KeyLimitStash(DictionaryStash({"a": 1, "b": 2, "c": 3}), limit=2)
    >>> list(limited.keys()), "c" in limited, limited.get("c")
    (['a', 'b'], False, None)
    """

    def __init__(self, delegate: Stash, limit: int = sys.maxsize, **kwargs: Any) -> None:
        super().__init__(delegate, **kwargs)
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise InvalidArgumentError(
                f"limit must be an int >= 0 (how many keys to expose), got "
                f"{type(limit).__name__} {limit!r}."
            )
        if limit < 0:
            raise InvalidArgumentError(f"limit must be >= 0, got {limit}.")
        self.limit = limit

    def keys(self) -> Iterable[str]:
        """The first ``limit`` keys of the delegate."""
        return itertools.islice(self.delegate.keys(), self.limit)

    def exists(self, name: str) -> bool:
        """Whether ``name`` is among the first ``limit`` keys."""
        return any(key == name for key in self.keys())

    def load(self, name: str) -> Any:
        """Load ``name`` when it is within the limit, else ``None``."""
        return self.delegate.load(name) if self.exists(name) else None

    def get(self, name: str, default: Any = None) -> Any:
        """Get ``name`` when it is within the limit, else ``default``."""
        return self.delegate.get(name, default) if self.exists(name) else default


class PreemptiveStash(DelegateStash):
    """Track whether the delegate holds any data, so work can be done ahead of time.

    :attr:`has_data` is computed from the delegate's :meth:`keys` only (never by loading a
    value) and remembered until :meth:`clear` or :meth:`_reset_has_data`.

    :meth:`get` loads without checking :meth:`exists` first, because the value may be
    created on demand by a subclass; a ``None`` from :meth:`load` counts as "not there".
    """

    def __init__(self, delegate: Stash, **kwargs: Any) -> None:
        super().__init__(delegate, **kwargs)
        self._has_data: bool | None = None

    def get(self, name: str, default: Any = None) -> Any:
        """Load ``name``; return ``default`` when that yields ``None``."""
        item = self.load(name)
        return default if item is None else item

    @property
    def has_data(self) -> bool:
        """Whether the delegate has at least one key."""
        return self._calculate_has_data()

    def _calculate_has_data(self) -> bool:
        if self._has_data is None:
            self._has_data = next(iter(self.delegate.keys()), NOT_FOUND) is not NOT_FOUND
        return self._has_data

    def _reset_has_data(self) -> None:
        self._has_data = None

    def _set_has_data(self, has_data: bool = True) -> None:
        self._has_data = has_data

    def clear(self) -> None:
        """Clear the delegate and forget :attr:`has_data`."""
        super().clear()
        self._reset_has_data()


class PrimeableStash(Stash):
    """A stash that runs :meth:`prime` before every read or write.

    ``prime`` is where a subclass does one-time preparation (populating a delegate,
    spawning workers). The default primes a primeable delegate, if any. Mix it in *before*
    the stash it primes, e.g. ``class S(PrimeableStash, PreemptiveStash)``.
    """

    def prime(self) -> None:
        """Prepare the stash; the default primes a primeable delegate."""
        delegate = getattr(self, "delegate", None)
        if isinstance(delegate, PrimeableStash):
            delegate.prime()

    def load(self, name: str) -> Any:
        """Prime, then load."""
        self.prime()
        return super().load(name)  # type: ignore[safe-super]  # a cooperative mixin

    def get(self, name: str, default: Any = None) -> Any:
        """Prime, then get."""
        self.prime()
        return super().get(name, default)

    def exists(self, name: str) -> bool:
        """Prime, then check."""
        self.prime()
        return super().exists(name)

    def dump(self, name: str, inst: Any) -> Any:
        """Prime, then dump."""
        self.prime()
        return super().dump(name, inst)  # type: ignore[safe-super]

    def delete(self, name: str | None = None) -> None:
        """Prime, then delete."""
        self.prime()
        super().delete(name)  # type: ignore[safe-super]

    def keys(self) -> Iterable[str]:
        """Prime, then list keys."""
        self.prime()
        return super().keys()  # type: ignore[safe-super]


class SortedStash(DelegateStash):
    """Return the delegate's keys (and so values and items) in sorted order.

    Examples
    --------
    >>> from persist_ext.features._stash import DictionaryStash
    >>> stash = SortedStash(DictionaryStash({"b": 2, "a": 1, "c": 0}))
    >>> list(stash.keys()), list(stash.values())
    (['a', 'b', 'c'], [1, 2, 0])
    >>> list(SortedStash(stash.delegate, sort_function=lambda k: -ord(k)).keys())
    ['c', 'b', 'a']
    """

    def __init__(
        self,
        delegate: Stash,
        sort_function: Callable[[str], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(delegate, **kwargs)
        self.sort_function = sort_function

    def keys(self) -> list[str]:
        """The delegate's keys, sorted (by ``sort_function`` when given)."""
        return sorted(self.delegate.keys(), key=self.sort_function)
