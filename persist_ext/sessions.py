"""triggers' session storage API under persist_ext: task configs, instances and metadata.

``SessionBackend`` is the base class of storage backends (implement ``_load_from_backend``
and ``_save``, serialize with ``self._serialize``); backends register under the
``triggers.storage_backends`` or ``persist_ext.session_backends`` entry-point groups and are
looked up by name with :func:`session_backend`. A ``TaskGroup(..., session=backend)`` writes
its task state through to a custom backend. See docs/tasks.md.
"""

from .features._tasks import (
    SessionBackend,
    StoreSessionBackend,
    TaskConfig,
    TaskInstance,
    TaskStatus,
    open_session,
    session_backend,
)

__all__ = [
    "SessionBackend",
    "StoreSessionBackend",
    "TaskConfig",
    "TaskInstance",
    "TaskStatus",
    "open_session",
    "session_backend",
]
