"""tastypy's API: ``POD`` (a dict that syncs itself to JSON files) and ``Tracker``.

Seed 003. ``_files`` owns the on-disk format, ``_state`` the shared in-process state (and what
happens to a value or a file that cannot be used), ``_open`` how a path becomes a state,
``_exit`` the interpreter-exit and signal syncs, ``_flusher`` the background syncs, ``_dict``
the ``POD`` mapping, ``_tracker`` the resumable progress tracker built on it, ``_shared``
one of them served to several processes (``SharedPOD``, ``SharedTracker``), and ``_tastypy``
the original tastypy's folder format and helpers (``ls``, ``JSONSerializer``).
"""

from ._dict import (
    DEFAULT_FILE_SIZE,
    DEFAULT_SYNC_AT,
    POD,
    PersistentOrderedDict,
    RepairReport,
    SyncStats,
)
from ._shared import SharedPOD, SharedTracker
from ._tastypy import DEFAULT_PROGRESS_TRACKER_MAPPING, JSONSerializer, ls
from ._tracker import ProgressTracker, Tracker

__all__ = [
    "DEFAULT_FILE_SIZE",
    "DEFAULT_PROGRESS_TRACKER_MAPPING",
    "DEFAULT_SYNC_AT",
    "POD",
    "JSONSerializer",
    "PersistentOrderedDict",
    "ProgressTracker",
    "RepairReport",
    "SharedPOD",
    "SharedTracker",
    "SyncStats",
    "Tracker",
    "ls",
]
