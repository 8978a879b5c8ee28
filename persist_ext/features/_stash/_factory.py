"""Stashes that create values: :class:`FactoryStash` and :class:`OneShotFactoryStash`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..._errors import PersistableError
from ._base import PreemptiveStash, PrimeableStash, ReadOnlyStash, Stash

__all__ = ["FactoryStash", "OneShotFactoryStash"]

logger = logging.getLogger("persist_ext")


class FactoryStash(PreemptiveStash):
    """Load from ``delegate``; on a miss, create with ``factory`` and keep the result.

    :meth:`load` (and so ``get`` and ``[]``) asks the delegate first; when it has nothing,
    ``factory.load(name)`` creates the value, which is dumped into the delegate so the next
    read (in this or a later session) is served from there.

    Keys come from the delegate once it holds data, else from the factory; with
    ``enable_preemptive=False`` they always come from the factory.

    ``dump_factory_nones`` (default ``False``, unlike the original) decides whether a ``None``
    from the factory is stored; storing it would make "could not create" permanent.

    Examples
    --------
    >>> from persist_ext.features._stash import DictionaryStash, ReadOnlyStash
    >>> class Squares(ReadOnlyStash):
    ...     def load(self, name):
    ...         return int(name) ** 2
    ...     def keys(self):
    ...         return map(str, range(3))
    >>> backing = DictionaryStash()
    >>> stash = FactoryStash(backing, Squares())
    >>> stash["2"], backing.data
    (4, {'2': 4})
    """

    def __init__(
        self,
        delegate: Stash,
        factory: Stash,
        enable_preemptive: bool = True,
        dump_factory_nones: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(delegate, **kwargs)
        if not isinstance(factory, Stash):
            raise PersistableError(
                f"FactoryStash needs a factory stash, got {factory!r}; pass a Stash whose "
                "load(name) creates the value."
            )
        self.factory = factory
        self.enable_preemptive = enable_preemptive
        self.dump_factory_nones = dump_factory_nones

    def _calculate_has_data(self) -> bool:
        return super()._calculate_has_data() if self.enable_preemptive else False

    def load(self, name: str) -> Any:
        """The delegate's value, else a new one from the factory (stored in the delegate)."""
        item = super().load(name)
        if item is None:
            item = self.factory.load(name)
            if item is not None or self.dump_factory_nones:
                super().dump(name, item)
                self._reset_has_data()
        return item

    def keys(self) -> Iterable[str]:
        """The delegate's keys once it has data, else the factory's."""
        return super().keys() if self.has_data else self.factory.keys()

    def exists(self, name: str) -> bool:
        """Whether the delegate has ``name`` or the factory can create it."""
        return super().exists(name) or self.factory.exists(name)

    def clear(self) -> None:
        """Clear the delegate, and the factory unless it is read-only."""
        super().clear()
        if not isinstance(self.factory, ReadOnlyStash):
            self.factory.clear()


class OneShotFactoryStash(PrimeableStash, PreemptiveStash):
    """Fill ``delegate`` once, on first use, from a ``worker``.

    ``worker`` is either a callable returning an iterable of ``(key, value)`` pairs, or such
    an iterable itself. Pass it to the constructor, assign ``.worker``, or define it as a
    property/method in a subclass. Before any read or write the stash checks (by keys only)
    whether the delegate already holds data; if not, it runs the worker and dumps every pair.
    A persistent delegate therefore makes the work happen once across sessions.

    Examples
    --------
    >>> from persist_ext.features._stash import DictionaryStash
    >>> calls = []
    >>> def work():
    ...     calls.append(1)
    ...     return ((str(i), i * i) for i in range(3))
    >>> stash = OneShotFactoryStash(DictionaryStash(), worker=work)
    >>> dict(stash.items()), stash["2"], len(calls)
    ({'0': 0, '1': 1, '2': 4}, 4, 1)
    """

    worker: Callable[[], Iterable[tuple[str, Any]]] | Iterable[tuple[str, Any]] | None = None

    def __init__(
        self,
        delegate: Stash,
        worker: Callable[[], Iterable[tuple[str, Any]]] | Iterable[tuple[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(delegate, **kwargs)
        if worker is not None:
            self.worker = worker
        self._priming = False

    def _get_worker_type(self) -> str:
        """``"m"`` (call the worker), ``"a"`` (iterate it) or ``"u"`` (decide by ``callable``)."""
        return "u"

    def _process_work(self) -> int:
        """Run the worker and dump its pairs into the delegate; return how many."""
        worker = self.worker
        if worker is None:
            raise PersistableError(
                f"{type(self).__name__} has no worker; pass worker=... (a callable returning "
                "(key, value) pairs, or an iterable of them) or set .worker."
            )
        kind = self._get_worker_type()
        if kind == "u":
            kind = "m" if callable(worker) else "a"
        if kind == "m":
            pairs = worker()  # type: ignore[operator]  # callable, as checked above
        elif kind == "a":
            pairs = worker
        else:
            raise PersistableError(f"Unknown worker type {kind!r}; use 'm', 'a' or 'u'.")
        count = 0
        for key, value in pairs:
            self.delegate.dump(key, value)
            count += 1
        return count

    def prime(self) -> None:
        """Run the worker when the delegate has no data yet."""
        super().prime()
        # Guard re-entry: a worker that reads this stash must not start the work again.
        if self._priming or self.has_data:
            return
        self._priming = True
        try:
            started = time.perf_counter()
            count = self._process_work()
            logger.info(
                "%s created %d values in %.2fs",
                type(self).__name__,
                count,
                time.perf_counter() - started,
            )
        finally:
            self._priming = False
            self._reset_has_data()
