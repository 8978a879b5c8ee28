"""POD / PersistentOrderedDict: an ordered dict of JSON values that syncs itself to disk.

The file format and crash safety are described in :mod:`persist_ext.features._pod._files`;
the in-memory model (lazy index, lazy values, chunk-local syncs) in
:mod:`persist_ext.features._pod._state`; exit and signal handling in
:mod:`persist_ext.features._pod._exit`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any

from ..._errors import PODError
from . import _exit as _pod_exit
from ._files import LOCK_NAME, MANIFEST_NAME, check_key
from ._state import PODState, SyncStats

__all__ = ["DEFAULT_FILE_SIZE", "DEFAULT_SYNC_AT", "POD", "PersistentOrderedDict", "SyncStats"]

DEFAULT_FILE_SIZE = 1000
DEFAULT_SYNC_AT = 1000
_CONTAINERS = (dict, list)


def _open_state(path: str | os.PathLike[str], file_size: int, durable: bool) -> PODState:
    root = Path(path).expanduser().resolve()
    key = str(root)
    state = _pod_exit.registered(key)
    if state is not None:
        return state  # type: ignore[return-value]
    if root.exists() and not root.is_dir():
        raise PODError(f"a POD path must be a directory, but {root} is a file; choose another path")
    if root.is_dir() and not (root / MANIFEST_NAME).exists():
        foreign = [p.name for p in root.iterdir() if p.name != LOCK_NAME][:3]
        if foreign:
            raise PODError(
                f"{root} is not empty and is not a POD directory (it holds {foreign}); "
                "give POD an empty or new directory"
            )
    if not isinstance(file_size, int) or file_size < 1:
        raise PODError(f"file_size must be a positive int, not {file_size!r}")
    state = PODState(root, file_size, durable)
    _pod_exit.register(key, state)
    return state


class PersistentOrderedDict(MutableMapping[Any, Any]):
    """An insertion-ordered dict of JSON values, persisted to JSON-lines files under ``path``.

    Values must be JSON: dict, list, str, int, float, bool, None, nested freely. They are
    checked and normalized at assignment, so what you read back is what a reopen gives
    (tuples become lists, dict keys become strings). A non-JSON value raises
    :class:`~persist_ext.PODError` naming the key and the offending type, and nothing is stored.
    Keys must be ``str`` or ``int`` (other types cannot round-trip through JSON).

    A key becomes *dirty* when assigned and when read with ``pod[key]`` (so
    ``pod[key]["sub"] = 1`` and ``pod[key].append(x)`` are caught); after ``sync_at`` dirty keys
    the POD syncs. It also syncs on :meth:`sync`, :meth:`close`, at interpreter exit, on
    ``SIGTERM`` and on Ctrl-C. Changes made through another reference to a value are not seen:
    call :meth:`update` with the key (or :meth:`mark_dirty`) after them.

    Every handle opened on the same path in one process shares one state. The directory is
    locked while open: a second *process* opening it gets
    :class:`~persist_ext.ConcurrentAccessError` naming the holder's pid.

    Parameters
    ----------
    path
        Directory holding the files (created if missing).
    init
        Optional mapping or iterable of pairs to :meth:`update` the POD with.
    file_size
        Keys per chunk file, used when the POD is created (a reopened POD keeps its own).
        Smaller chunks make syncs of a few keys cheaper but mean more files.
    sync_at
        Sync automatically once this many keys are dirty (per handle).
    durable
        Also ``fsync`` files at each sync (survives power loss, not just process death).

    Examples
    --------
    >>> import tempfile
    >>> pod = POD(tempfile.mkdtemp() + "/my.pod")
    >>> pod["foo"] = {1: "bar"}
    >>> pod["foo"]["more"] = [1, 2]
    >>> pod["foo"]
    {'1': 'bar', 'more': [1, 2]}
    >>> pod[("a", 1)] = 1
    Traceback (most recent call last):
    ...
    persist_ext._errors.PODError: POD keys must be str or int, not tuple: ('a', 1) ...
    >>> pod.close()
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        init: Mapping[Any, Any] | Iterable[tuple[Any, Any]] | None = None,
        *,
        file_size: int = DEFAULT_FILE_SIZE,
        sync_at: int = DEFAULT_SYNC_AT,
        durable: bool = False,
    ) -> None:
        self._state = _open_state(path, file_size, durable)
        self.sync_at = sync_at
        self._hold = False
        if init:
            self.update(init)

    # --- mapping protocol -----------------------------------------------------------------

    def __getitem__(self, key: Any) -> Any:
        state = self._state
        with state.lock:
            state.check_open()
            value = state.get(key) if type(key) in (str, int) else self._bad_get(key)
            if isinstance(value, _CONTAINERS):
                # The caller may be about to mutate it: sync what is due *first*, so that
                # this key stays dirty after any automatic sync (the change comes later).
                self._maybe_sync()
                state.dirty.add(key)
            state.notify(key)
            return value

    def _bad_get(self, key: Any) -> Any:
        check_key(key)  # raises PODError for tuples, floats...
        return self._state.get(key)  # int/str subclasses

    def __setitem__(self, key: Any, value: Any) -> None:
        check_key(key)
        state = self._state
        with state.lock:
            state.check_open()
            state.set(key, value)
            state.notify(key)
            self._maybe_sync()

    def __delitem__(self, key: Any) -> None:
        check_key(key)
        state = self._state
        with state.lock:
            state.check_open()
            state.delete(key)
            state.notify(key)
            self._maybe_sync()

    def __contains__(self, key: object) -> bool:
        if type(key) not in (str, int):
            return False
        with self._state.lock:
            self._state.check_open()
            return self._state.contains(key)

    def __iter__(self) -> Iterator[Any]:
        self._state.check_open()
        return self._state.iter_keys()

    def __len__(self) -> int:
        return self._state.length

    def __repr__(self) -> str:
        state = self._state
        status = "closed" if state.closed else f"{len(self)} keys, {state.pending()} unsynced"
        return f"{type(self).__name__}({str(state.root)!r}, {status})"

    def values(self) -> list[Any]:  # type: ignore[override]
        """All values in key order (reading them does not mark keys dirty)."""
        return [self.peek(key) for key in self]

    def items(self) -> list[tuple[Any, Any]]:  # type: ignore[override]
        """All ``(key, value)`` pairs in key order (does not mark keys dirty).

        To change a value found this way, assign it (``pod[key] = value``) or call
        ``pod.update(key)`` afterwards.
        """
        return [(key, self.peek(key)) for key in self]

    def peek(self, key: Any) -> Any:
        """Read a value without marking it dirty (mutating it will not be synced)."""
        with self._state.lock:
            self._state.check_open()
            return self._state.get(key)

    def clear(self) -> None:
        """Delete every key (synced like any deletion)."""
        with self._state.lock:
            self.hold()
            try:
                for key in list(self):
                    del self[key]
            finally:
                self.unhold()

    # --- synchronization ------------------------------------------------------------------

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """``update(key)`` marks one key dirty (the seed's spelling); otherwise ``dict.update``.

        >>> import tempfile
        >>> pod = POD(tempfile.mkdtemp())
        >>> pod.update({"a": [1]}, b=2)        # like dict.update
        >>> value = pod.peek("a"); value.append(2)
        >>> pod.update("a")                     # tell the POD that "a" changed
        >>> pod.sync().chunks
        1
        >>> pod.close()
        """
        if len(args) == 1 and not kwargs and type(args[0]) in (str, int):
            self.mark_dirty(args[0])
            return
        with self._state.lock:
            super().update(*args, **kwargs)

    def mark_dirty(self, key: Any) -> None:
        """Force ``key`` to be written at the next sync (KeyError if absent)."""
        check_key(key)
        state = self._state
        with state.lock:
            state.check_open()
            state.get(key)  # KeyError for an unknown key; loads it so the sync can encode it
            self._maybe_sync()
            state.dirty.add(key)
            state.notify(key)

    def dirty(self) -> set[Any]:
        """The keys that will be written at the next sync."""
        return set(self._state.dirty)

    def _maybe_sync(self) -> None:
        if not self._hold and self._state.pending() >= self.sync_at:
            self._state.sync()

    def sync(self) -> SyncStats:
        """Write every unsynced change now; returns what was written.

        Raises :class:`~persist_ext.PODError` (writing nothing) if a value was made non-JSON
        through a nested mutation, e.g. ``pod[key]["s"] = {1, 2}``; fix or delete that key.
        """
        return self._state.sync()

    def hold(self) -> None:
        """Suspend automatic syncing (exit, signals, :meth:`sync` and :meth:`close` still sync)."""
        self._hold = True

    def unhold(self) -> None:
        """Resume automatic syncing, and sync now if enough changes are pending."""
        self._hold = False
        self._maybe_sync()

    def revert(self) -> None:
        """Discard unsynced changes and reload the last synced state from disk."""
        self._state.revert()

    def close(self) -> None:
        """Sync and release the directory (for every handle on this path in this process)."""
        self._state.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (a closed POD raises on use; reopen it)."""
        return self._state.closed

    @property
    def path(self) -> Path:
        """The POD's directory."""
        return self._state.root

    @property
    def file_size(self) -> int:
        """Keys per chunk file (fixed when the POD was created)."""
        return self._state.file_size

    @property
    def last_sync(self) -> SyncStats:
        """Chunks and bytes written by the most recent sync that wrote anything."""
        return self._state.last_sync

    def __enter__(self) -> PersistentOrderedDict:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


POD = PersistentOrderedDict
