"""tastypy's API: ``POD`` (a dict that syncs itself to JSON files) and ``Tracker``.

Seed 003. ``_files`` owns the on-disk format, ``_state`` the shared in-process state,
``_exit`` the interpreter-exit and SIGTERM syncs, ``_dict`` the ``POD`` mapping and
``_tracker`` the resumable progress tracker built on it.
"""

from ._dict import DEFAULT_FILE_SIZE, DEFAULT_SYNC_AT, POD, PersistentOrderedDict, SyncStats
from ._tracker import ProgressTracker, Tracker

__all__ = [
    "DEFAULT_FILE_SIZE",
    "DEFAULT_SYNC_AT",
    "POD",
    "PersistentOrderedDict",
    "ProgressTracker",
    "SyncStats",
    "Tracker",
]
