"""Method-level caching: :class:`PersistedWork`, ``@persisted``, :class:`PersistableContainer`.

A :class:`PersistedWork` caches what a method returns: always on the instance, optionally
process-wide for the class (``cache_global``) and optionally in a pickle file (when its path is
a :class:`pathlib.Path`). ``@persisted(name)`` wraps a method with one.
:class:`PersistableContainer` makes objects holding persisted works picklable, and
:class:`Deallocatable` / :class:`dealloc` (in ``_dealloc``, re-exported here) release
resources deterministically.

Differences from the original (zensols.persist), all deliberate:

* the file is written atomically *after* the worker returns (temporary file + rename), so a
  worker that raises leaves no file and a crash never leaves a torn one;
* a ``None`` result is cached like any other value (the original recomputed it every call);
* files carry persist_ext's header and checksum and other files are refused, not unpickled.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..._errors import InvalidArgumentError, PersistableError
from ._dealloc import Deallocatable, dealloc
from ._files import read_pickle_file, write_pickle_file

__all__ = ["Deallocatable", "PersistableContainer", "PersistedWork", "dealloc", "persisted"]

logger = logging.getLogger("persist_ext")

# Process-wide values of cache_global works, keyed by PersistedWork.varname. Guarded by
# _GLOBAL_LOCK so two threads do not both compute the same global value.
_GLOBAL_CACHE: dict[str, Any] = {}
_GLOBAL_LOCK = threading.RLock()

_NOT_SET = object()


class PersistedWork(Deallocatable):
    """The cached result of a method, kept on its owner, optionally globally and on disk.

    Calling the work returns the value from, in order: the owner's attribute; the
    process-wide cache (``cache_global=True``); the pickle file (when ``path`` is a
    :class:`pathlib.Path`); else it runs the worker (the ``worker`` attribute, or
    :meth:`__do_work__` in a subclass) with the call's arguments, and stores the result in
    each of those places. Arguments therefore only matter on the first computation.

    Parameters
    ----------
    path
        A :class:`~pathlib.Path`: also pickle the value to that file (atomically, only once
        the worker succeeded). A ``str``: memory only; the string names the value.
    owner
        The object the value is cached on (as attribute :attr:`varname`).
    cache_global
        Share one value per (module, class, path) across every instance in this process.
        The first computed (or loaded) value is used by every instance that has not cached its
        own; :meth:`set` replaces it, :meth:`clear` removes it. Computation of a global value is
        serialized across threads, so two threads never compute it twice.
    transient
        When the owner is a :class:`PersistableContainer`, drop the value on pickling.
    initial_value
        If not ``None``, set as the value right away (the worker is never called).
    mkdir
        Create the file's parent directories; otherwise a missing parent is an error,
        reported before the worker runs.
    deallocate_recursive
        Deallocate containers of :class:`Deallocatable` values recursively.
    recover_empty
        Treat a zero-byte file as "not computed" (files of older tools); persist_ext never
        writes one.

    Examples
    --------
    >>> class Owner:
    ...     pass
    >>> owner = Owner()
    >>> work = PersistedWork("_answer", owner)
    >>> work.worker = lambda: print("computing") or 42
    >>> work(), work()
    computing
    (42, 42)
    >>> work.clear(); work.is_set()
    False
    """

    def __init__(
        self,
        path: str | Path,
        owner: object,
        cache_global: bool = False,
        transient: bool = False,
        initial_value: Any = None,
        mkdir: bool = False,
        deallocate_recursive: bool = False,
        recover_empty: bool = False,
    ) -> None:
        super().__init__()
        if owner is None:
            raise PersistableError("PersistedWork needs an owner object to cache its value on.")
        self.owner: Any = owner
        self.cache_global = cache_global
        self.transient = transient
        self.worker: Callable[..., Any] | None = None
        if not isinstance(path, Path) and not (isinstance(path, str) and path):
            raise InvalidArgumentError(
                f"path must be a pathlib.Path (disk) or a non-empty str (memory), got {path!r}."
            )
        self.use_disk = isinstance(path, Path)
        self.path = Path(path)
        fname = str(self.path.absolute()) if self.use_disk else str(path)
        owner_type = type(owner)
        self.varname = f"_{owner_type.__module__}.{owner_type.__qualname__}_{fname}_pwvinst"
        self.mkdir = mkdir
        self.deallocate_recursive = deallocate_recursive
        self.recover_empty = recover_empty
        if initial_value is not None:
            self.set(initial_value)

    # --- cache levels --------------------------------------------------------------------

    def _owner_value(self) -> Any:
        # Presence, not truthiness, marks a cached value: None is a legitimate result.
        owner = self.owner
        if owner is None:
            return _NOT_SET
        if hasattr(owner, "__dict__"):
            return vars(owner).get(self.varname, _NOT_SET)
        return getattr(owner, self.varname, _NOT_SET)

    def _load_or_create(self, *args: Any, **kwargs: Any) -> Any:
        path = self.path
        if path.is_file() and not (self.recover_empty and path.stat().st_size == 0):
            logger.debug("loading %s from %s", self.varname, path)
            try:
                return read_pickle_file(path)
            except FileNotFoundError:
                pass  # removed between the check and the read: compute it
        if self.mkdir:
            path.parent.mkdir(parents=True, exist_ok=True)
        elif not path.parent.is_dir():
            raise PersistableError(
                f"Parent directory does not exist: {path.parent}; create it or pass mkdir=True."
            )
        value = self._do_work(*args, **kwargs)
        write_pickle_file(path, value)
        return value

    def _do_work(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        value = self.__do_work__(*args, **kwargs)
        logger.debug("%s computed in %.3fs", self.varname, time.perf_counter() - started)
        return value

    def __do_work__(self, *args: Any, **kwargs: Any) -> Any:
        """Compute the value: call :attr:`worker` (override in a subclass instead if you like)."""
        if self.worker is None:
            raise PersistableError(
                f"{self.varname} has no worker; set .worker, use @persisted, or subclass "
                "PersistedWork and override __do_work__."
            )
        return self.worker(*args, **kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Return the cached value, computing and storing it the first time."""
        value = self._owner_value()
        if value is not _NOT_SET:
            return value
        if not self.cache_global:
            value = self._compute(*args, **kwargs)
        else:
            with _GLOBAL_LOCK:
                value = _GLOBAL_CACHE.get(self.varname, _NOT_SET)
                if value is _NOT_SET:
                    value = self._compute(*args, **kwargs)
        self.set(value)
        return value

    def _compute(self, *args: Any, **kwargs: Any) -> Any:
        if self.use_disk:
            return self._load_or_create(*args, **kwargs)
        return self._do_work(*args, **kwargs)

    def set(self, obj: Any) -> None:
        """Make ``obj`` the value on the owner and, with ``cache_global``, process-wide.

        An explicit ``set`` replaces the global value for instances that have not cached their
        own yet (instances keep what they already hold). The file is not written.
        """
        if self.owner is None:
            raise PersistableError(f"Owner is not set for persisted work {self.varname}.")
        setattr(self.owner, self.varname, obj)
        if self.cache_global:
            with _GLOBAL_LOCK:
                _GLOBAL_CACHE[self.varname] = obj

    def is_set(self) -> bool:
        """Whether a value is cached (globally for ``cache_global``, else on the owner)."""
        if self.cache_global:
            return self.varname in _GLOBAL_CACHE
        return self._owner_value() is not _NOT_SET

    def clear_global(self) -> None:
        """Forget the process-wide value only."""
        with _GLOBAL_LOCK:
            _GLOBAL_CACHE.pop(self.varname, None)

    def clear(self) -> None:
        """Forget the value everywhere: the file, the owner's attribute and the global."""
        if self.use_disk:
            self.path.unlink(missing_ok=True)
        if self._owner_value() is not _NOT_SET:
            delattr(self.owner, self.varname)
        self.clear_global()

    def deallocate(self) -> None:
        """Deallocate the value, detach from the owner and forget the global value."""
        super().deallocate()
        value = self._owner_value()
        if value is not _NOT_SET:
            self._try_deallocate(value, self.deallocate_recursive)
            delattr(self.owner, self.varname)
        self.clear_global()
        self.owner = None

    def __getstate__(self) -> dict[str, Any]:
        # The owner re-attaches itself (PersistableContainer.__setstate__) and @persisted
        # re-sets the worker on the next call; neither is pickled.
        state = dict(self.__dict__)
        state["owner"] = None
        state["worker"] = None
        return state

    def __str__(self) -> str:
        return self.varname

    def __repr__(self) -> str:
        return f"PersistedWork({self.varname!r})"


class PersistableContainer(Deallocatable):
    """Base class for objects holding :class:`PersistedWork` attributes that must pickle.

    On pickling (``__getstate__``), class attributes steer what is kept (the seed spells
    them ``PERSITABLE``):

    * ``_PERSITABLE_PROPERTIES`` / ``_PERSITABLE_METHODS``: properties read / methods
      called first, so their values are computed and pickled along;
    * ``_PERSITABLE_TRANSIENT_ATTRIBUTES``: attributes pickled as ``None``;
    * ``_PERSITABLE_REMOVE_ATTRIBUTES``: attributes left out entirely;
    * the values of ``transient=True`` works are left out (recomputed after unpickling).

    Unpickling re-attaches every persisted work to the new object. :meth:`deallocate`
    deallocates every persisted work too.

    Examples
    --------
    >>> import copy  # deepcopy goes through __getstate__/__setstate__ like pickle
    >>> class Doc(PersistableContainer):
    ...     _PERSITABLE_TRANSIENT_ATTRIBUTES = {"connection"}
    ...     def __init__(self):
    ...         self.connection = object()
    ...     @persisted("_tokens")
    ...     def tokens(self):
    ...         return ["a", "b"]
    >>> doc = Doc(); _ = doc.tokens()
    >>> clone = copy.deepcopy(doc)
    >>> clone.connection, clone.tokens(), clone._tokens.owner is clone
    (None, ['a', 'b'], True)
    """

    def __getstate__(self) -> dict[str, Any]:
        for name in getattr(self, "_PERSITABLE_PROPERTIES", ()):
            getattr(self, name)
        for name in getattr(self, "_PERSITABLE_METHODS", ()):
            getattr(self, name)()
        state = dict(self.__dict__)
        for name in getattr(self, "_PERSITABLE_TRANSIENT_ATTRIBUTES", ()):
            state[name] = None
        for value in self.__dict__.values():
            # Remove (not None) the cached value: None is a legitimate cached result.
            if isinstance(value, PersistedWork) and value.transient:
                state.pop(value.varname, None)
        for name in getattr(self, "_PERSITABLE_REMOVE_ATTRIBUTES", ()):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        for value in state.values():
            if isinstance(value, PersistedWork):
                value.owner = self

    def _persisted_works(self) -> dict[str, PersistedWork]:
        return {k: v for k, v in self.__dict__.items() if isinstance(v, PersistedWork)}

    def _clear_persistable_state(self) -> None:
        """Clear every persisted work of this object (memory, global and files)."""
        for work in self._persisted_works().values():
            work.clear()

    def deallocate(self) -> None:
        """Deallocate this object and every persisted work it holds."""
        super().deallocate()
        for work in self._persisted_works().values():
            work.deallocate()


class persisted:  # lower case: the seed's name
    """Decorator caching a method's result in a :class:`PersistedWork` named ``name``.

    Put it right above the method, below ``@property``. On the first call it reuses the
    :class:`PersistedWork` the instance already holds under ``name`` (created in
    ``__init__``, e.g. with a file path), else creates one with these options: ``path``
    (a ``str`` or :class:`~pathlib.Path` here both mean a file) and the
    :class:`PersistedWork` options. The method's arguments only matter on the first call.

    Examples
    --------
    >>> class Corpus:
    ...     @property
    ...     @persisted("_size")
    ...     def size(self):
    ...         print("counting")
    ...         return 3
    >>> corpus = Corpus()
    >>> corpus.size, corpus.size
    counting
    (3, 3)
    """

    def __init__(
        self,
        name: str,
        path: str | Path | None = None,
        cache_global: bool = False,
        transient: bool = False,
        allocation_track: bool = True,
        mkdir: bool = False,
        deallocate_recursive: bool = False,
        recover_empty: bool = False,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise InvalidArgumentError(f"@persisted needs an attribute name (str), got {name!r}.")
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise InvalidArgumentError(
                f"@persisted({name!r}, path=...) takes a file path (str or pathlib.Path) or "
                f"None (memory only), got {type(path).__name__} {path!r}."
            )
        self.attr_name = name
        self.path = path
        self.cache_global = cache_global
        self.transient = transient
        self.allocation_track = allocation_track
        self.mkdir = mkdir
        self.deallocate_recursive = deallocate_recursive
        self.recover_empty = recover_empty

    def _work_for(self, inst: Any) -> PersistedWork:
        work = vars(inst).get(self.attr_name) if hasattr(inst, "__dict__") else None
        if work is None and hasattr(inst, self.attr_name):
            work = getattr(inst, self.attr_name)
            if work is None:
                raise PersistableError(
                    f"Attribute {self.attr_name!r} of {type(inst).__name__} is None; it "
                    "should hold a PersistedWork or not exist."
                )
        if work is None:
            work = PersistedWork(
                self.attr_name if self.path is None else Path(self.path),
                owner=inst,
                cache_global=self.cache_global,
                transient=self.transient,
                mkdir=self.mkdir,
                deallocate_recursive=self.deallocate_recursive,
                recover_empty=self.recover_empty,
            )
            setattr(inst, self.attr_name, work)
            if not self.allocation_track:
                work._mark_deallocated()
        elif not isinstance(work, PersistedWork):
            raise PersistableError(
                f"Attribute {self.attr_name!r} of {type(inst).__name__} holds a "
                f"{type(work).__name__}, not a PersistedWork; rename one of them."
            )
        return work

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapped(inst: Any, *args: Any, **kwargs: Any) -> Any:
            work = self._work_for(inst)
            work.worker = functools.partial(fn, inst)
            return work(*args, **kwargs)

        return wrapped
