"""furious' marker API under persist_ext: completion callbacks for groups of tasks.

The persistence functions keep the seed's names and signatures (``marker_persist(marker,
save_leaves=True)``, ``marker_get(idx, load_results=False)``, ...) and its id format
(``'ctx1'``, ``'ctx1,a0'``). Without a ``store=`` they use the store set with
:func:`set_marker_store` (default: the notebook's store). Task groups build and complete
marker trees themselves; see docs/tasks.md.
"""

from .features._tasks import (
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

__all__ = [
    "Marker",
    "all_done",
    "filter_known_done",
    "load_context",
    "mark_reached",
    "marker_get",
    "marker_get_children",
    "marker_get_multi",
    "marker_persist",
    "marker_store",
    "reached_by_another_request",
    "set_marker_store",
    "store_context",
]
