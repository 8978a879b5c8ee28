"""tastypy's API under persist_ext: ``import persist_ext.pod as tastypy``.

``POD`` / ``PersistentOrderedDict`` (a dict that syncs itself to JSON files) and ``Tracker``
/ ``ProgressTracker`` (resumable progress bookkeeping), ``SharedPOD`` / ``SharedTracker`` (one
of them used by several processes), with the seed's errors. Existing
tastypy folders open read-only; see docs/pod-and-tracker.md.
"""

from ._errors import DuplicateKeyError, PersistentOrderedDictIntegrityError
from .features._pod import (
    DEFAULT_FILE_SIZE,
    DEFAULT_PROGRESS_TRACKER_MAPPING,
    DEFAULT_SYNC_AT,
    POD,
    JSONSerializer,
    PersistentOrderedDict,
    ProgressTracker,
    SharedPOD,
    SharedTracker,
    Tracker,
    ls,
)

SharedPersistentOrderedDict = SharedPOD  # tastypy's long names
SharedProgressTracker = SharedTracker

__all__ = [
    "DEFAULT_FILE_SIZE",
    "DEFAULT_PROGRESS_TRACKER_MAPPING",
    "DEFAULT_SYNC_AT",
    "POD",
    "DuplicateKeyError",
    "JSONSerializer",
    "PersistentOrderedDict",
    "PersistentOrderedDictIntegrityError",
    "ProgressTracker",
    "SharedPOD",
    "SharedPersistentOrderedDict",
    "SharedProgressTracker",
    "SharedTracker",
    "Tracker",
    "ls",
]
