"""persist_ext: keep long-running notebook work safe and visible.

Public API; everything not listed in ``__all__`` is private. The Jupyter and IPython
hooks at the bottom import their machinery lazily so that ``import persist_ext`` stays cheap.
"""

from __future__ import annotations

import importlib.metadata as _metadata
import typing as _t

from ._config import default_directory
from ._errors import (
    CacheError,
    CacheWarning,
    CellCacheError,
    CellCacheWarning,
    CellRaisedError,
    CheckpointError,
    ConcurrentAccessError,
    CorruptEntryError,
    DuplicateKeyError,
    EvictionWarning,
    FingerprintError,
    InvalidArgumentError,
    InvalidKeyError,
    InvalidPickle,
    PersistableError,
    PersistentOrderedDictIntegrityError,
    PersistError,
    PersistWarning,
    PODError,
    ProgressError,
    SerializationError,
    StoreClosedError,
    StoreConfigError,
    StoreError,
    TaskError,
    TaskInterruptedWarning,
    UnknownCheckpointError,
    UnsafeNameError,
    UnstorableVariableWarning,
    UntrustedEntryError,
    WorkerRestartWarning,
)
from .features._progress import ProgressSnapshot, WaitPolicy, set_wait_policy, wait_policy
from .features._progress import register_live_renderer as _register_live_renderer
from .features._progress import register_run_watch as _register_run_watch
from .interfaces.widgets import live_progress as _live_progress
from .interfaces.widgets import watch_run_in_kernel as _watch_run_in_kernel

if _t.TYPE_CHECKING:  # the names below load on first use (``__getattr__``)
    from ._limits import Budget
    from .features._budget import enforce_budget
    from .features._checkpoint import (
        CheckpointReport,
        CheckpointSession,
        list_checkpoints,
        restore_checkpoint,
        save_checkpoint,
    )
    from .features._loop import LoopProgress, progress
    from .features._memo import cache
    from .features._pod import (
        DEFAULT_FILE_SIZE,
        DEFAULT_PROGRESS_TRACKER_MAPPING,
        DEFAULT_SYNC_AT,
        POD,
        JSONSerializer,
        PersistentOrderedDict,
        ProgressTracker,
        RepairReport,
        Tracker,
        ls,
    )
    from .features._stash import (
        CacheStash,
        CloseableStash,
        DelegateStash,
        DictionaryStash,
        DirectoryStash,
        DiskCacheStash,
        FactoryStash,
        IncrementKeyDirectoryStash,
        KeyLimitStash,
        MultiProcessStash,
        OneShotFactoryStash,
        PreemptiveStash,
        PrimeableStash,
        ReadOnlyStash,
        ShelveStash,
        SortedStash,
        Stash,
        UnionStash,
    )
    from .features._stash._persisted import (
        Deallocatable,
        PersistableContainer,
        PersistedWork,
        dealloc,
        persisted,
    )
    from .features._tasks import (
        GroupResult,
        Marker,
        SessionBackend,
        StoreSessionBackend,
        StoreSpec,
        TaskConfig,
        TaskFailure,
        TaskGroup,
        TaskInstance,
        TaskProgress,
        TaskStatus,
        all_done,
        filter_known_done,
        load_context,
        mark_reached,
        marker_get,
        marker_get_children,
        marker_get_multi,
        marker_persist,
        open_session,
        reached_by_another_request,
        session_backend,
        store_context,
    )
    from .features._workflow import (
        DiskCacheStorage,
        FileStorage,
        MemoryStorage,
        RedisStorage,
        storage_factory,
    )
    from .storage._fingerprint import fingerprint, fingerprint_code
    from .storage._memory import MemoryStore
    from .storage._protocol import MISSING, EntryInfo, KeyValueStore
    from .storage._redis import RedisStore
    from .storage._resign import TrustReport, trust
    from .storage._serializers import Serializer, register_serializer, serializer_for, summarize
    from .storage._store import Store
    from .storage._trust import use_secret_file

try:
    from ._version import __version__
except ImportError:  # a source tree that was never built
    try:
        __version__ = _metadata.version("persist_ext")
    except _metadata.PackageNotFoundError:
        __version__ = "0.0.0+unbuilt"

__all__ = [
    "DEFAULT_FILE_SIZE",
    "DEFAULT_PROGRESS_TRACKER_MAPPING",
    "DEFAULT_SYNC_AT",
    "MISSING",
    "POD",
    "Budget",
    "CacheError",
    "CacheStash",
    "CacheWarning",
    "CellCacheError",
    "CellCacheWarning",
    "CellRaisedError",
    "CheckpointError",
    "CheckpointReport",
    "CheckpointSession",
    "CloseableStash",
    "ConcurrentAccessError",
    "CorruptEntryError",
    "Deallocatable",
    "DelegateStash",
    "DictionaryStash",
    "DirectoryStash",
    "DiskCacheStash",
    "DiskCacheStorage",
    "DuplicateKeyError",
    "EntryInfo",
    "EvictionWarning",
    "FactoryStash",
    "FileStorage",
    "FingerprintError",
    "GroupResult",
    "IncrementKeyDirectoryStash",
    "InvalidArgumentError",
    "InvalidKeyError",
    "InvalidPickle",
    "JSONSerializer",
    "KeyLimitStash",
    "KeyValueStore",
    "LoopProgress",
    "Marker",
    "MarkerProgress",
    "MemoryStorage",
    "MemoryStore",
    "MultiProcessStash",
    "OneShotFactoryStash",
    "PODError",
    "PersistError",
    "PersistWarning",
    "PersistableContainer",
    "PersistableError",
    "PersistedWork",
    "PersistentOrderedDict",
    "PersistentOrderedDictIntegrityError",
    "PreemptiveStash",
    "PrimeableStash",
    "ProgressError",
    "ProgressSnapshot",
    "ProgressTracker",
    "ReadOnlyStash",
    "RedisStorage",
    "RedisStore",
    "RepairReport",
    "SerializationError",
    "Serializer",
    "SessionBackend",
    "ShelveStash",
    "SortedStash",
    "Stash",
    "StashBrowser",
    "Store",
    "StoreClosedError",
    "StoreConfigError",
    "StoreError",
    "StoreSessionBackend",
    "StoreSpec",
    "TaskConfig",
    "TaskError",
    "TaskFailure",
    "TaskGroup",
    "TaskGroupProgress",
    "TaskInstance",
    "TaskInterruptedWarning",
    "TaskProgress",
    "TaskStatus",
    "Tracker",
    "TrustReport",
    "UnionStash",
    "UnknownCheckpointError",
    "UnsafeNameError",
    "UnstorableVariableWarning",
    "UntrustedEntryError",
    "WaitPolicy",
    "WorkerRestartWarning",
    "__version__",
    "all_done",
    "browse",
    "cache",
    "dealloc",
    "default_directory",
    "display_markers",
    "display_tasks",
    "enforce_budget",
    "filter_known_done",
    "fingerprint",
    "fingerprint_code",
    "list_checkpoints",
    "load_context",
    "ls",
    "mark_reached",
    "marker_get",
    "marker_get_children",
    "marker_get_multi",
    "marker_persist",
    "open_session",
    "persisted",
    "progress",
    "reached_by_another_request",
    "register_serializer",
    "restore_checkpoint",
    "save_checkpoint",
    "serializer_for",
    "session_backend",
    "set_wait_policy",
    "storage_factory",
    "store_context",
    "summarize",
    "trust",
    "use_secret_file",
    "wait_policy",
]


# Everything but the errors loads on first use (PEP 562): ``%load_ext persist_ext`` then
# imports only what ``%%persist`` needs, not task groups, memoization, dask or pandas.
# Widgets import ipywidgets; they load on first use too.
_LAZY = {
    "Budget": "persist_ext._limits",
    "enforce_budget": "persist_ext.features._budget",
    "CheckpointReport": "persist_ext.features._checkpoint",
    "CheckpointSession": "persist_ext.features._checkpoint",
    "list_checkpoints": "persist_ext.features._checkpoint",
    "restore_checkpoint": "persist_ext.features._checkpoint",
    "save_checkpoint": "persist_ext.features._checkpoint",
    "LoopProgress": "persist_ext.features._loop",
    "progress": "persist_ext.features._loop",
    "cache": "persist_ext.features._memo",
    "DEFAULT_FILE_SIZE": "persist_ext.features._pod",
    "DEFAULT_PROGRESS_TRACKER_MAPPING": "persist_ext.features._pod",
    "DEFAULT_SYNC_AT": "persist_ext.features._pod",
    "POD": "persist_ext.features._pod",
    "JSONSerializer": "persist_ext.features._pod",
    "PersistentOrderedDict": "persist_ext.features._pod",
    "ProgressTracker": "persist_ext.features._pod",
    "RepairReport": "persist_ext.features._pod",
    "Tracker": "persist_ext.features._pod",
    "ls": "persist_ext.features._pod",
    "CacheStash": "persist_ext.features._stash",
    "CloseableStash": "persist_ext.features._stash",
    "DelegateStash": "persist_ext.features._stash",
    "DictionaryStash": "persist_ext.features._stash",
    "DirectoryStash": "persist_ext.features._stash",
    "DiskCacheStash": "persist_ext.features._stash",
    "FactoryStash": "persist_ext.features._stash",
    "IncrementKeyDirectoryStash": "persist_ext.features._stash",
    "KeyLimitStash": "persist_ext.features._stash",
    "MultiProcessStash": "persist_ext.features._stash",
    "OneShotFactoryStash": "persist_ext.features._stash",
    "PreemptiveStash": "persist_ext.features._stash",
    "PrimeableStash": "persist_ext.features._stash",
    "ReadOnlyStash": "persist_ext.features._stash",
    "ShelveStash": "persist_ext.features._stash",
    "SortedStash": "persist_ext.features._stash",
    "Stash": "persist_ext.features._stash",
    "UnionStash": "persist_ext.features._stash",
    "Deallocatable": "persist_ext.features._stash._persisted",
    "PersistableContainer": "persist_ext.features._stash._persisted",
    "PersistedWork": "persist_ext.features._stash._persisted",
    "dealloc": "persist_ext.features._stash._persisted",
    "persisted": "persist_ext.features._stash._persisted",
    "GroupResult": "persist_ext.features._tasks",
    "Marker": "persist_ext.features._tasks",
    "SessionBackend": "persist_ext.features._tasks",
    "StoreSessionBackend": "persist_ext.features._tasks",
    "StoreSpec": "persist_ext.features._tasks",
    "TaskConfig": "persist_ext.features._tasks",
    "TaskFailure": "persist_ext.features._tasks",
    "TaskGroup": "persist_ext.features._tasks",
    "TaskInstance": "persist_ext.features._tasks",
    "TaskProgress": "persist_ext.features._tasks",
    "TaskStatus": "persist_ext.features._tasks",
    "all_done": "persist_ext.features._tasks",
    "filter_known_done": "persist_ext.features._tasks",
    "load_context": "persist_ext.features._tasks",
    "mark_reached": "persist_ext.features._tasks",
    "marker_get": "persist_ext.features._tasks",
    "marker_get_children": "persist_ext.features._tasks",
    "marker_get_multi": "persist_ext.features._tasks",
    "marker_persist": "persist_ext.features._tasks",
    "open_session": "persist_ext.features._tasks",
    "reached_by_another_request": "persist_ext.features._tasks",
    "session_backend": "persist_ext.features._tasks",
    "store_context": "persist_ext.features._tasks",
    "DiskCacheStorage": "persist_ext.features._workflow",
    "FileStorage": "persist_ext.features._workflow",
    "MemoryStorage": "persist_ext.features._workflow",
    "RedisStorage": "persist_ext.features._workflow",
    "storage_factory": "persist_ext.features._workflow",
    "fingerprint": "persist_ext.storage._fingerprint",
    "fingerprint_code": "persist_ext.storage._fingerprint",
    "MemoryStore": "persist_ext.storage._memory",
    "MISSING": "persist_ext.storage._protocol",
    "EntryInfo": "persist_ext.storage._protocol",
    "KeyValueStore": "persist_ext.storage._protocol",
    "RedisStore": "persist_ext.storage._redis",
    "TrustReport": "persist_ext.storage._resign",
    "trust": "persist_ext.storage._resign",
    "Serializer": "persist_ext.storage._serializers",
    "register_serializer": "persist_ext.storage._serializers",
    "serializer_for": "persist_ext.storage._serializers",
    "summarize": "persist_ext.storage._serializers",
    "Store": "persist_ext.storage._store",
    "use_secret_file": "persist_ext.storage._trust",
    "browse": "persist_ext.interfaces.widgets._browser",
    "StashBrowser": "persist_ext.interfaces.widgets._browser",
    "display_tasks": "persist_ext.interfaces.widgets._tasks",
    "TaskGroupProgress": "persist_ext.interfaces.widgets._tasks",
    "display_markers": "persist_ext.interfaces.widgets._markers",
    "MarkerProgress": "persist_ext.interfaces.widgets._markers",
}


def __getattr__(name: str) -> _t.Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'persist_ext' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


# Trackers and task groups display as live widgets wherever a kernel runs them; the
# interface layer provides the widget, so it is injected here, above every layer.
_register_live_renderer(_live_progress)
_register_run_watch(_watch_run_in_kernel)


# --- IPython extension -------------------------------------------------------------------


def load_ipython_extension(ipython: _t.Any) -> None:
    """Register ``%persist`` / ``%%persist`` (``%load_ext persist_ext``)."""
    from .interfaces.magics import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython: _t.Any) -> None:
    """Undo :func:`load_ipython_extension` (``%unload_ext persist_ext``)."""
    from .interfaces.magics import unload_ipython_extension as _unload

    _unload(ipython)


# --- Jupyter server and JupyterLab --------------------------------------------------------


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "persist-ext"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "persist_ext"}]


def _load_jupyter_server_extension(server_app: _t.Any) -> None:
    """Register the REST API under ``/persist-ext/api/``."""
    from .interfaces.server import load_jupyter_server_extension

    load_jupyter_server_extension(server_app)
