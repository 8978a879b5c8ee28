"""Task groups as budget units: a settled group may be evicted, a running one never.

A unit is everything under the group's prefix (:func:`~._keys.group_keys`), present as long
as its task configurations are (the marker). It is protected while a live process runs it
(:meth:`~._runner.RunnerLease.holders`) and while it has tasks that are not settled (its
tree's root is not done): evicting it then would lose finished work a resume skips. Its
last use is its newest entry's time.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...storage._protocol import KeyValueStore
from .._budget import Unit, register_units
from ._keys import group_keys, group_names
from ._runner import RunnerLease
from ._tree import GroupTree

__all__ = ["list_task_units"]


def _protection(store: KeyValueStore, group: str) -> str:
    try:
        if RunnerLease.holders(store, group):
            return "the task group is running"
        if not GroupTree(store, group, 10, 10).root_done():
            return "the task group has unsettled tasks"
    except Exception:  # unreadable: keep it
        return "the task group's state cannot be read"
    return ""


def list_task_units(store: KeyValueStore) -> Iterator[Unit]:
    """One :class:`Unit` per task group in ``store``."""
    for group in group_names(store):
        keys = group_keys(group)
        size, newest = 0, 0.0
        for key in list(keys.keys_in(store)):
            info = store.info(key)
            if info is not None:
                size += info.size
                newest = max(newest, info.created)
        yield Unit(
            kind="tasks",
            name=group,
            prefix=keys.prefix,
            marker=keys.configs,
            size=size,
            last_used=newest,
            protected=_protection(store, group),
            counted=False,
        )


register_units("tasks", list_task_units)
