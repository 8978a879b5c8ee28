"""Task groups: persistent task tracking, exactly-once completion, resumable runs.

See ``docs/tasks.md``. Public names are re-exported from ``persist_ext``.
"""

from __future__ import annotations

from ._group import TaskGroup
from ._markers import (
    Marker,
    all_done,
    filter_known_done,
    load_context,
    mark_reached,
    marker_get,
    marker_get_children,
    marker_get_multi,
    marker_persist,
    reached_by_another_request,
    store_context,
)
from ._model import GroupResult, TaskConfig, TaskFailure, TaskInstance, TaskStatus
from ._progress import TaskProgress
from ._session import SessionBackend, StoreSessionBackend, open_session, session_backend
from ._storespec import StoreSpec

__all__ = [
    "GroupResult",
    "Marker",
    "SessionBackend",
    "StoreSessionBackend",
    "StoreSpec",
    "TaskConfig",
    "TaskFailure",
    "TaskGroup",
    "TaskInstance",
    "TaskProgress",
    "TaskStatus",
    "all_done",
    "filter_known_done",
    "load_context",
    "mark_reached",
    "marker_get",
    "marker_get_children",
    "marker_get_multi",
    "marker_persist",
    "open_session",
    "reached_by_another_request",
    "session_backend",
    "store_context",
]
