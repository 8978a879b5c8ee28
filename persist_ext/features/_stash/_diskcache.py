"""The default persistent stash: :class:`DiskCacheStash`, a stash view of a key-value store."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from ..._config import default_directory
from ..._errors import InvalidArgumentError
from ...storage._protocol import KeyValueStore
from ._base import NOT_FOUND, CloseableStash

__all__ = ["DiskCacheStash"]


class DiskCacheStash(CloseableStash):
    """The default persistent stash, on persist_ext's diskcache :class:`~persist_ext.Store`.

    ``path_or_store`` is a directory (``None``: the default store directory, ``.persist/`` next to
    the notebook, see :func:`~persist_ext.default_directory`) or an existing store implementing
    the ``KeyValueStore`` protocol (a ``Store``, a ``RedisStore``, a ``MemoryStore``). Extra
    keyword arguments are passed to ``Store`` when this stash opens one.

    Entries live under ``prefix`` (default ``"stash/"``) so a stash can share a store with the
    cell cache and task groups without touching their keys; :meth:`clear` removes only the
    stash's entries. Compared with :class:`~persist_ext.DirectoryStash` it gives the store's
    features: no silent eviction, large values (arrays, frames) written in one pass and loadable
    memory-mapped, safe use by several processes, crash-consistent writes, and entry summaries
    the browser can show without unpickling.

    Examples
    --------
    >>> import tempfile
    >>> with DiskCacheStash(tempfile.mkdtemp()) as stash:
    ...     stash["model/v1"] = {"acc": 0.93}
    ...     stash["model/v1"], list(stash.keys()), stash.get("nope", "default")
    ({'acc': 0.93}, ['model/v1'], 'default')
    """

    # Store writes are atomic and process-safe: MultiProcessStash workers may dump here.
    _PROCESS_SAFE = True

    def __init__(
        self,
        path_or_store: str | os.PathLike[str] | KeyValueStore | None = None,
        *,
        prefix: str = "stash/",
        **store_options: Any,
    ) -> None:
        if not isinstance(prefix, str):
            raise InvalidArgumentError(
                f"prefix must be a str (the start of every key in the store), got "
                f"{type(prefix).__name__}; e.g. prefix='stash/'."
            )
        self.prefix = prefix
        if path_or_store is None or isinstance(path_or_store, (str, os.PathLike)):
            from ...storage._store import Store  # imported here: opening a store is the costly part

            self.store: KeyValueStore = Store(default_directory(path_or_store), **store_options)
            self._owns_store = True
            self._store_options = store_options
        elif isinstance(path_or_store, KeyValueStore):
            if store_options:
                raise InvalidArgumentError(
                    f"Store options {sorted(store_options)} only apply when DiskCacheStash opens "
                    "the store from a path; configure the store you pass instead."
                )
            self.store = path_or_store
            self._owns_store = False
            self._store_options = {}
        else:
            raise InvalidArgumentError(
                "path_or_store must be a directory path, None (the default directory) or a "
                f"KeyValueStore such as persist_ext.Store, got {type(path_or_store).__name__}."
            )

    def _key(self, name: str) -> str:
        if not isinstance(name, str) or not name:
            raise InvalidArgumentError(f"Stash keys are non-empty str, got {name!r}.")
        return self.prefix + name

    def load(self, name: str) -> Any:
        """The value of ``name``, or ``None``."""
        return self.store.get(self._key(name), None)

    def get(self, name: str, default: Any = None) -> Any:
        """The value of ``name``, or ``default``."""
        return self.store.get(self._key(name), default)

    def exists(self, name: str) -> bool:
        """Whether ``name`` is stored (without reading the value)."""
        return self._key(name) in self.store

    def dump(self, name: str, inst: Any) -> None:
        """Store ``inst`` under ``name`` (atomically; an unstorable value leaves the old one)."""
        self.store.set(self._key(name), inst)

    def delete(self, name: str | None = None) -> None:
        """Remove ``name`` if present; with no name, remove every entry of this stash."""
        if name is None:
            self.clear()
        else:
            self.store.delete(self._key(name))

    def keys(self) -> Iterable[str]:
        """The stash's keys (the store's keys under :attr:`prefix`, without it)."""
        start = len(self.prefix)
        return [key[start:] for key in self.store.keys(self.prefix)]

    def __len__(self) -> int:
        return sum(1 for _ in self.store.keys(self.prefix))

    def clear(self) -> None:
        """Remove every entry under :attr:`prefix` in one transaction."""
        with self.store.transact():
            for key in list(self.store.keys(self.prefix)):
                self.store.delete(key)

    def close(self) -> None:
        """Close the store if this stash opened it (a store passed in stays open)."""
        if self._owns_store:
            self.store.close()

    def __getitem__(self, key: str) -> Any:
        value = self.store.get(self._key(key), NOT_FOUND)
        if value is NOT_FOUND:
            raise KeyError(key)
        return value

    def __getstate__(self) -> dict[str, Any]:
        # A store this stash opened travels as its directory and is reopened on the other side
        # (e.g. in a MultiProcessStash worker); an open SQLite connection cannot be pickled.
        state = dict(self.__dict__)
        if self._owns_store:
            state["store"] = str(self.store.directory)  # type: ignore[attr-defined]  # a Store
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self._owns_store:
            from ...storage._store import Store

            self.store = Store(state["store"], **self._store_options)

    def __repr__(self) -> str:
        return f"DiskCacheStash({self.store!r}, prefix={self.prefix!r})"
