"""Task groups: persistent task tracking, exactly-once completion, resumable runs.

See ``docs/tasks.md``. Public names are re-exported from ``persist_ext``.
"""

from __future__ import annotations

from ._group import TaskGroup, running_groups, wait_for_running_groups
from ._keys import GroupKeys, group_keys, group_names, marker_flag, marker_key, reached_key
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
    marker_store,
    reached_by_another_request,
    set_marker_store,
    store_context,
)
from ._model import GroupResult, TaskConfig, TaskFailure, TaskInstance, TaskStatus
from ._progress import TaskProgress
from ._session import SessionBackend, StoreSessionBackend, open_session, session_backend
from ._storespec import StoreSpec

__all__ = [
    "GroupKeys",
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
    "group_keys",
    "group_names",
    "load_context",
    "mark_reached",
    "marker_flag",
    "marker_get",
    "marker_get_children",
    "marker_get_multi",
    "marker_key",
    "marker_persist",
    "marker_store",
    "open_session",
    "reached_by_another_request",
    "reached_key",
    "running_groups",
    "session_backend",
    "set_marker_store",
    "store_context",
    "wait_for_running_groups",
]
