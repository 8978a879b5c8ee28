"""Every exception and warning persist_ext raises, in one place.

Hierarchy::

    PersistError (Exception)
    ├── InvalidArgumentError        (also TypeError, ValueError) a bad argument to a public call
    │   ├── CellCacheError          a %%persist argument cannot be used (e.g. --deps /dev/zero)
    │   └── ProgressError           progress() or a wait policy got a bad option
    ├── StoreError                  a store cannot be opened, read or written
    │   ├── StoreClosedError        (also a RuntimeError) the store was closed
    │   ├── StoreConfigError        (also an InvalidArgumentError) a bad store argument/setting
    │   │   └── InvalidKeyError     a key no store can take (not a str, a lone surrogate)
    │   └── CorruptEntryError       an entry exists but cannot be decoded
    │       ├── InvalidPickle       (also a ValueError) a checksum did not match
    │       ├── PersistentOrderedDictIntegrityError   a POD file is missing or damaged
    │       └── UntrustedEntryError an entry is not signed with this machine's secret
    ├── SerializationError          a value cannot be stored (names the type)
    ├── FingerprintError            (also a TypeError) a value cannot be fingerprinted
    ├── LiveLinkError               a sound entry links to live state that does not fit it now
    │   └── LiveLayoutError         a stored view's live input holds its data laid out otherwise
    ├── UnsafeNameError             (also a ValueError) a name would escape the store root
    ├── PODError                    (also a ValueError) a POD key or value is not JSON
    │   └── DuplicateKeyError       Tracker.add() of a task already tracked
    ├── ConcurrentAccessError       another process holds an exclusive resource
    ├── PersistableError            a stash or persisted work was misused
    ├── TaskError                   a task group was misused or a task failed
    │   ├── GroupBusyError          (also ConcurrentAccessError) a live process runs the group
    │   ├── WorkerDiedError         a worker process died while running a task
    │   └── TaskTimeoutError        a task ran past its group's timeout and was stopped
    ├── CheckpointError             a checkpoint was misused (bad name, unknown variable)
    │   └── UnknownCheckpointError  (also a KeyError) no checkpoint by that name or id
    ├── CacheError                  (also a ValueError) persist_ext.cache was misused
    ├── WorkflowError               a workflow graph or its storage was misused
    └── CellRaisedError             a %%persist cell raised (its traceback was already shown)

    PersistWarning (UserWarning)
    ├── UnstorableVariableWarning   a cell variable could not be stored
    ├── CellCacheWarning            a cell's input or stored entry could not be used
    ├── CacheWarning                a cached function call ran without its cache
    └── EvictionWarning             units were evicted to keep a store within its budget

Each error carries the context needed to act on it (``key``, ``path``, ``type_name``)
and its message says what to do instead.
"""

from __future__ import annotations

__all__ = [
    "ByNameError",
    "CacheError",
    "CacheWarning",
    "CellCacheError",
    "CellCacheWarning",
    "CellRaisedError",
    "CheckpointError",
    "ConcurrentAccessError",
    "CorruptEntryError",
    "DuplicateKeyError",
    "EvictionWarning",
    "FingerprintError",
    "GroupBusyError",
    "InvalidArgumentError",
    "InvalidKeyError",
    "InvalidPickle",
    "LiveLayoutError",
    "LiveLinkError",
    "PODError",
    "PersistError",
    "PersistWarning",
    "PersistableError",
    "PersistentOrderedDictIntegrityError",
    "ProgressError",
    "SerializationError",
    "SharedInputError",
    "StalledError",
    "StoreClosedError",
    "StoreConfigError",
    "StoreError",
    "TaskError",
    "TaskInterruptedWarning",
    "TaskTimeoutError",
    "UnknownCheckpointError",
    "UnsafeNameError",
    "UnstorableVariableWarning",
    "UntrustedEntryError",
    "WorkerDiedError",
    "WorkerRestartWarning",
    "WorkflowError",
]


class PersistError(Exception):
    """Base class of every persist_ext error."""


class InvalidArgumentError(PersistError, TypeError, ValueError):
    """A public function or class was given an argument it cannot use.

    The message names the argument, what was given and what to pass instead. It is also a
    ``TypeError`` and a ``ValueError``, so code written against the seeds' APIs (which raise
    those) keeps working.
    """


class CellCacheError(InvalidArgumentError):
    """A ``%%persist`` argument cannot be used, e.g. a ``--deps`` path that is a device or a
    pipe (it would never finish hashing); the message names it and what to give instead."""


class StoreError(PersistError):
    """A store could not be opened, read or written.

    ``key`` names the entry involved, when there is one.
    """

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class StoreClosedError(StoreError, RuntimeError):
    """An operation was attempted on a store after ``close()``."""


class StoreConfigError(StoreError, InvalidArgumentError):
    """A store was given an argument or setting it cannot use (a bad namespace, expiry,
    ``meta``, URL, or a server configured to lose entries); the message names what to change."""


class InvalidKeyError(StoreConfigError):
    """A store key that is not a ``str``, or holds characters UTF-8 cannot encode."""


class CorruptEntryError(StoreError):
    """An entry exists but its bytes cannot be decoded (torn, truncated or tampered)."""


class InvalidPickle(CorruptEntryError, ValueError):
    """A stored file's checksum does not match its contents (the seed's name)."""


class PersistentOrderedDictIntegrityError(CorruptEntryError):
    """A file of a POD is missing or damaged (the seed's name); ``path`` names the file.

    Only the keys stored in that file fail; the message says how to recover (restore the file
    from a backup, or ``pod.repair()`` to keep its readable entries).
    """

    def __init__(self, message: str, *, path: str | None = None, key: str | None = None) -> None:
        super().__init__(message, key=key)
        self.path = path


class UntrustedEntryError(CorruptEntryError):
    """An entry's signature does not match this machine's secret, so it is never decoded.

    It was forged, or written with another secret (another user or machine, a rotated
    secret, a persist_ext older than signing). ``persist_ext.trust(path)`` re-signs a store
    whose origin the user vouches for.
    """


class SerializationError(PersistError):
    """A value cannot be serialized; ``type_name`` names its type."""

    def __init__(self, message: str, *, type_name: str | None = None) -> None:
        super().__init__(message)
        self.type_name = type_name


class ByNameError(SerializationError):
    """Variables to store are, or hold, a class or function of the notebook that a cell made
    by a call and bound to its own name (``Point = namedtuple('Point', ...)``).

    Pickle stores it by name, which a restore would resolve to what the name held before the
    cell's variables are bound (an older ``class Point``); the cell cache runs such a cell.
    """


class SharedInputError(SerializationError):
    """Variables to store hold objects found inside an input that is kept live, not stored.

    A restore would give them copies where a re-run binds the input's own objects; the cell
    cache runs such a cell instead of storing it.
    """


class LiveLinkError(PersistError):
    """An entry is sound but links to live state (a variable of the kernel) that does not
    fit it now. A serializer's load raises it; the storage layer passes it on unchanged
    (it is no sign of damage), and the feature that stored the link decides what to do.
    """


class LiveLayoutError(LiveLinkError):
    """A stored view is made on the memory of a live input that is laid out otherwise now
    (``y = df['price'].values`` stored against ``df``, whose columns pandas now holds in
    other arrays). The entry is sound; the cell cache runs the cell instead of restoring it.
    """


class StalledError(SerializationError):
    """Pickling a value stopped making progress: one call blocks (a ``__reduce__`` or
    ``__getstate__`` waiting on an event, a lock or a server). The cell cache runs such a
    cell instead of storing it, and says so."""


class FingerprintError(PersistError, TypeError):
    """A value cannot be fingerprinted; ``type_name`` names its type."""

    def __init__(self, message: str, *, type_name: str | None = None) -> None:
        super().__init__(message)
        self.type_name = type_name


class UnsafeNameError(PersistError, ValueError):
    """A name or path would leave the store's root directory."""


class PODError(PersistError, ValueError):
    """A POD key or value cannot be represented in JSON."""


class DuplicateKeyError(PODError):
    """``Tracker.add(key)`` for a task that is already tracked (the seed's name)."""


class ConcurrentAccessError(PersistError):
    """Another process holds a resource that must not be shared (e.g. a POD's lock)."""


class PersistableError(PersistError):
    """A stash or a persisted work was misused (the seed's name).

    Raised for a write to a strict read-only stash, a delegate stash without a delegate, or a
    ``PersistedWork`` whose owner or parent directory is missing.
    """


class TaskError(PersistError):
    """A task group was misused, or a task failed; ``task`` names it."""

    def __init__(self, message: str, *, task: str | None = None) -> None:
        super().__init__(message)
        self.task = task


class CheckpointError(PersistError):
    """A checkpoint was misused: a bad name, a variable that does not exist, a bad budget."""


class UnknownCheckpointError(CheckpointError, KeyError):
    """No checkpoint by that name or id; ``names`` and ``ids`` list what exists."""

    def __init__(
        self, message: str, *, names: list[str] | None = None, ids: list[int] | None = None
    ) -> None:
        super().__init__(message)
        self.names = list(names or [])
        self.ids = list(ids or [])

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class GroupBusyError(TaskError, ConcurrentAccessError):
    """A task group is already running in another live process; ``holder`` says which
    (``pid``, ``host``, ``since``), and the message says what to do."""

    def __init__(self, message: str, *, holder: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.holder = dict(holder or {})


class WorkerDiedError(TaskError):
    """The worker process running a task died (exit, signal, OOM kill); the task failed."""


class TaskTimeoutError(TaskError):
    """A task ran longer than its group's ``timeout`` and was stopped."""


class ProgressError(InvalidArgumentError):
    """``progress()`` or a wait policy got a bad option (the message names the fix)."""


class CacheError(PersistError, ValueError):
    """``persist_ext.cache`` was given something it cannot use (an ``ignore=`` name that is
    not a parameter, a bad ``expire=``, an object that is not a function)."""


class WorkflowError(PersistError):
    """A workflow graph (``@workflow`` nodes, ``LocalWorkflow``) or its storage was misused, or
    one of its nodes failed (``node`` names it; the cause is chained)."""

    def __init__(self, message: str, *, node: str | None = None) -> None:
        super().__init__(message)
        self.node = node


class PersistWarning(UserWarning):
    """Base class of persist_ext's warnings."""


class UnstorableVariableWarning(PersistWarning):
    """A variable produced by a ``%%persist`` cell could not be stored."""


class TaskInterruptedWarning(PersistWarning):
    """``TaskGroup.close()`` stopped waiting for tasks still running (a timeout, or no task
    finished within the grace period): they were recorded as interrupted and run again on
    the next ``run()``; the warning names them."""


class WorkerRestartWarning(PersistWarning):
    """A Dask worker running a task that overran its group's ``timeout`` could not be
    restarted (no nanny, or the restart failed): the task is recorded failed, but its
    function may still run on that worker; the warning names the worker and the reason."""


class CellCacheWarning(PersistWarning):
    """A ``%%persist`` cell ran without its cache: an input could not be fingerprinted, or a
    stored entry could not be read (it is then recomputed)."""


class CellRaisedError(PersistError):
    """A ``%%persist`` cell raised; nothing was cached.

    The shell already showed the cell's own traceback, so this error renders as one line
    (IPython's ``_render_traceback_`` hook); it exists so that the cell is marked failed and
    "Run All" stops there. ``original`` is the cell's exception.
    """

    def __init__(self, message: str, *, original: BaseException | None = None) -> None:
        super().__init__(message)
        self.original = original

    def _render_traceback_(self) -> list[str]:
        return [str(self)]


class CacheWarning(PersistWarning):
    """A call of a ``@persist_ext.cache`` function ran without its cache: an argument could not
    be fingerprinted, the result could not be stored, or a stored result could not be read."""


class EvictionWarning(PersistWarning):
    """Units were evicted to keep a store within its budget (shown where no shell prints the
    notice; in a kernel the notice is printed in the cell's output)."""
