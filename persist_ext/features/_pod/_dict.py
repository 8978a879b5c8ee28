"""POD / PersistentOrderedDict: an ordered dict of JSON values that syncs itself to disk.

The file format and crash safety are described in :mod:`persist_ext.features._pod._files`;
the in-memory model (lazy index, lazy values, chunk-local syncs, what happens to a value or a
file that cannot be used) in :mod:`persist_ext.features._pod._state`; how a path is opened
(sharing, ``clone``, tastypy folders) in :mod:`persist_ext.features._pod._open`; exit and
signal handling in :mod:`persist_ext.features._pod._exit`; background syncs in
:mod:`persist_ext.features._pod._flusher`.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any, TypeVar

from ..._errors import PODError
from ._files import check_key
from ._open import check_count, check_path, open_state
from ._state import PODState, RepairReport, SyncStats, say
from ._tastypy import read_legacy

__all__ = [
    "DEFAULT_FILE_SIZE",
    "DEFAULT_SYNC_AT",
    "POD",
    "PersistentOrderedDict",
    "RepairReport",
    "SyncStats",
]

DEFAULT_FILE_SIZE = 1000
DEFAULT_SYNC_AT = 1000
_CONTAINERS = (dict, list)
_P = TypeVar("_P", bound="PersistentOrderedDict")


def _release_hold(state: PODState) -> None:
    with state.lock:
        state.holds = max(0, state.holds - 1)


class PersistentOrderedDict(MutableMapping[Any, Any]):
    """An insertion-ordered dict of JSON values, persisted to JSON-lines files under ``path``.

    Values must be JSON: dict, list, str, int, float, bool, None, nested freely, with strings
    UTF-8 can encode. They are checked and normalized at assignment, so what you read back is
    what a reopen gives (tuples become lists, dict keys become strings). A value that is not
    JSON, or a string holding a lone surrogate (``os.listdir`` returns such names for
    undecodable bytes), raises :class:`~persist_ext.PODError` naming the key and the offending
    part, and nothing is stored. Keys must be ``str`` or ``int``.

    A key becomes *dirty* when assigned and when read with ``pod[key]`` (so
    ``pod[key]["sub"] = 1`` and ``pod[key].append(x)`` are caught); after ``sync_at`` dirty keys
    the POD syncs. It also syncs on :meth:`sync`, :meth:`close`, at interpreter exit, on
    ``SIGTERM`` and on Ctrl-C, and — with ``sync_after`` — at most that many seconds after a
    change, so a hard kill loses only the last moments. Changes made through another reference
    to a value are not seen: call :meth:`update` with the key (or :meth:`mark_dirty`) after them.

    Nothing good is lost to something bad: a value made non-JSON by a nested mutation keeps its
    last synced value on disk while every other change is saved; :meth:`sync` and
    :meth:`close` then raise :class:`~persist_ext.PODError` naming it (automatic syncs and the
    exit sync say it on stderr). A missing or damaged chunk file fails only its own keys, with
    :class:`~persist_ext.PersistentOrderedDictIntegrityError` naming the file and the recovery
    (:meth:`repair`).

    Every handle opened on the same path in one process shares one state (``clone=True``).
    The directory is locked while open: a second *process* opening it gets
    :class:`~persist_ext.ConcurrentAccessError` naming the holder's pid. A folder written by the
    original tastypy (``0.json``, ``1.json``, ...) opens read-only in place; convert it with
    :meth:`from_tastypy`.

    Parameters
    ----------
    path
        Directory holding the files (created if missing).
    init
        Optional mapping or iterable of pairs to :meth:`update` the POD with.
    gzipped
        Gzip the chunk files. Fixed when the POD is created; ``None`` (default) keeps the
        POD's own setting (plain files for a new POD).
    file_size
        Keys per chunk file, used when the POD is created (a reopened POD keeps its own).
        Smaller chunks make syncs of a few keys cheaper but mean more files.
    sync_at
        Sync automatically once this many keys are dirty (per handle).
    clone
        ``True`` (default): share the state of any handle open on ``path`` in this process.
        ``False``: a separate copy, refused while ``path`` is open elsewhere in this process.
    durable
        Also ``fsync`` files at each sync (survives power loss, not just process death).
    sync_after
        Seconds after which a change is synced in the background (``None``: only ``sync_at``,
        explicit syncs and exit). :class:`~persist_ext.Tracker` uses 1 second by default.

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
        gzipped: bool | None = None,
        file_size: int = DEFAULT_FILE_SIZE,
        sync_at: int = DEFAULT_SYNC_AT,
        clone: bool = True,
        *,
        durable: bool = False,
        sync_after: float | None = None,
    ) -> None:
        check_count("sync_at", sync_at)
        self._state = open_state(
            path,
            file_size=file_size,
            durable=durable,
            gzipped=gzipped,
            clone=clone,
            sync_after=sync_after,
        )
        self.sync_at = sync_at
        self._hold = False
        self._hold_release: weakref.finalize | None = None
        if init:
            self.update(init)

    # --- mapping protocol -----------------------------------------------------------------

    def __getitem__(self, key: Any) -> Any:
        state = self._state
        with state.lock:
            state.check_open()
            value = state.get(key) if type(key) in (str, int) else self._bad_get(key)
            if isinstance(value, _CONTAINERS):
                if state.readonly is None:
                    # The caller may be about to mutate it: sync what is due *first*, so that
                    # this key stays dirty after any automatic sync (the change comes later).
                    self._maybe_sync()
                    state.mark(key, handed=True)
                else:
                    state.handed.add(key)  # a change cannot be saved: said at close/exit
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

    def keys(self) -> list[Any]:  # type: ignore[override]
        """All keys in insertion order, as a new list (as in tastypy)."""
        return list(self)

    def values(self) -> list[Any]:  # type: ignore[override]
        """All values in key order (reading them does not mark keys dirty)."""
        return [self.peek(key) for key in self]

    def items(self) -> list[tuple[Any, Any]]:  # type: ignore[override]
        """All ``(key, value)`` pairs in key order (does not mark keys dirty).

        To change a value found this way, assign it (``pod[key] = value``) or call
        ``pod.update(key)`` afterwards.
        """
        return [(key, self.peek(key)) for key in self]

    def iterkeys(self) -> Iterator[Any]:
        """tastypy's spelling of ``iter(pod)``."""
        return iter(self)

    def itervalues(self) -> Iterator[Any]:
        """Values in key order, one at a time (does not mark keys dirty)."""
        return (self.peek(key) for key in self)

    def iteritems(self) -> Iterator[tuple[Any, Any]]:
        """``(key, value)`` pairs in key order, one at a time (does not mark keys dirty)."""
        return ((key, self.peek(key)) for key in self)

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

        Like tastypy, several mappings (or iterables of pairs) may be given; later ones win.

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
            for key, value in _pairs(args, kwargs):
                self[key] = value

    def mark_dirty(self, key: Any) -> None:
        """Force ``key`` to be written at the next sync (KeyError if absent)."""
        check_key(key)
        state = self._state
        with state.lock:
            state.check_writable()
            state.get(key)  # KeyError for an unknown key; loads it so the sync can encode it
            self._maybe_sync()
            state.mark(key)
            state.notify(key)

    def sync_key(self, key: Any) -> SyncStats:
        """Mark ``key`` dirty and sync now (tastypy's name)."""
        with self._state.lock:
            self.mark_dirty(key)
            return self.sync()

    def dirty(self) -> set[Any]:
        """The keys that will be written at the next sync."""
        return set(self._state.dirty)

    @property
    def unsaved(self) -> dict[Any, str]:
        """Keys whose latest value is not (entirely) on disk, with the reason."""
        return dict(self._state.unsaved)

    def _maybe_sync(self) -> None:
        if not self._hold and self._state.pending() >= self.sync_at:
            self._state.sync_and_report()

    def sync(self) -> SyncStats:
        """Write every unsynced change that can be written now; returns what was written.

        If a value was made non-JSON through a nested mutation (``pod[key]["s"] = {1, 2}``),
        every other change is still written, that key keeps its last synced value on disk,
        and :class:`~persist_ext.PODError` names it; fix or delete that key.
        """
        state = self._state
        with state.lock:
            stats = state.sync()
            if state.unsaved:
                state.mark_reported()
                raise PODError(state.unsaved_message())
            return stats

    def hold(self) -> None:
        """Suspend automatic syncing (exit, signals, :meth:`sync` and :meth:`close` still sync)."""
        state = self._state
        with state.lock:
            if not self._hold:
                self._hold = True
                state.holds += 1
                # A handle dropped while holding must not block background syncs forever.
                self._hold_release = weakref.finalize(self, _release_hold, state)

    def unhold(self) -> None:
        """Resume automatic syncing, and sync now if enough changes are pending."""
        state = self._state
        with state.lock:
            if self._hold:
                self._hold = False
                if self._hold_release is not None:
                    self._hold_release()
                    self._hold_release = None
            self._maybe_sync()
            if state.pending():
                state.schedule()

    def revert(self) -> None:
        """Discard unsynced changes and reload the last synced state from disk.

        Every chunk is read and checked: a damaged one raises
        :class:`~persist_ext.PersistentOrderedDictIntegrityError` naming it (the other keys
        stay usable).
        """
        self._state.revert()

    def repair(self) -> RepairReport:
        """Recover from damaged or missing chunk files: keep what can be read, move them aside.

        Each damaged file is moved into ``<path>/damaged/`` (for a later look), the entries
        that can still be read from it are kept, and the POD is synced. Returns a
        :class:`RepairReport` listing what was kept and lost.
        """
        return self._state.repair()

    def close(self) -> None:
        """Sync and release the directory (for every handle on this path in this process).

        Every change that can be written is written; then, if a value could not be,
        :class:`~persist_ext.PODError` names it (the POD is closed either way).
        """
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
    def gzipped(self) -> bool:
        """Whether chunk files are gzipped (fixed when the POD was created)."""
        return self._state.gzipped

    @property
    def read_only(self) -> bool:
        """True for a tastypy folder read in place (convert it with :meth:`from_tastypy`)."""
        return self._state.readonly is not None

    @property
    def last_sync(self) -> SyncStats:
        """Chunks and bytes written by the most recent sync that wrote anything."""
        return self._state.last_sync

    def _path_from_int(self, i: int) -> str:
        """The path of data file ``i`` (tastypy's private helper; its own tests call it)."""
        with self._state.lock:
            return str(self._state.path_of(self._state.chunks[i]))

    def __enter__(self: _P) -> _P:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        try:
            self.close()
        except PODError as err:
            if exc_type is None:
                raise
            say(str(err))  # do not hide the exception that is already on its way

    # --- tastypy folders ------------------------------------------------------------------

    @classmethod
    def from_tastypy(
        cls: type[_P],
        source: str | os.PathLike[str],
        path: str | os.PathLike[str],
        *,
        convert_key: Callable[[Any], Any] | None = None,
        **options: Any,
    ) -> _P:
        """Convert a folder written by the original tastypy into a new POD at ``path``.

        ``source`` (``0.json``, ``1.json``, ... or ``.json.gz``) is only read, never changed.
        tastypy allowed tuple keys, which a POD refuses: pass ``convert_key`` (e.g.
        ``lambda k: "/".join(map(str, k)) if isinstance(k, tuple) else k``). ``options`` go to
        the constructor (``file_size``, ``gzipped``, ``max_tries`` for a Tracker...).

        >>> import pathlib, tempfile
        >>> old = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (old / "0.json").write_text('"a"\\t1\\n"b"\\t{"x": [2]}\\n')
        >>> pod = POD.from_tastypy(old, tempfile.mkdtemp() + "/new.pod")
        >>> pod.items(), sorted(p.name for p in old.iterdir())
        ([('a', 1), ('b', {'x': [2]})], ['0.json'])
        >>> pod.close()
        """
        source_root = check_path(source)
        target = check_path(path)
        if target == source_root:
            raise PODError(
                f"from_tastypy writes a new POD and leaves {source_root} untouched: give it "
                "another path"
            )
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise PODError(f"{target} already exists and is not empty; give a new path")
        chunks, was_gzipped = read_legacy(source_root)
        options.setdefault("gzipped", was_gzipped)
        pod = cls(target, **options)
        seen: dict[Any, Any] = {}
        with pod._state.lock:
            pod.hold()
            try:
                for entries in chunks:
                    for old_key, value in entries:
                        key = convert_key(old_key) if convert_key is not None else old_key
                        if isinstance(key, tuple):
                            raise PODError(
                                f"tastypy key {old_key!r} is a tuple, which a POD cannot key "
                                "on; pass convert_key=, e.g. lambda k: '/'.join(map(str, k)) "
                                "if isinstance(k, tuple) else k"
                            )
                        if key in seen:
                            raise PODError(
                                f"tastypy keys {seen[key]!r} and {old_key!r} both become "
                                f"{key!r}; choose a convert_key that keeps keys distinct"
                            )
                        seen[key] = old_key
                        pod._store_converted(key, value)
                pod.sync()
            except BaseException:
                pod.close()
                raise
            finally:
                pod.unhold()
        return pod

    def _store_converted(self, key: Any, value: Any) -> None:
        self[key] = value


def _pairs(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Iterator[tuple[Any, Any]]:
    """The ``(key, value)`` pairs of tastypy's ``update(*mappings, **kwargs)``, in order."""
    for mapping in args:
        if hasattr(mapping, "keys"):
            for key in list(mapping.keys()):
                yield key, mapping[key]
        else:
            for pair in mapping:
                if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                    raise PODError(
                        f"update() takes mappings or iterables of (key, value) pairs; got "
                        f"{pair!r} inside {type(mapping).__name__}"
                    )
                yield pair[0], pair[1]
    yield from kwargs.items()


POD = PersistentOrderedDict
