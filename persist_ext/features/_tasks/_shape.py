"""The shape of a task group's marker tree, stored as one record (see :func:`persist_shape`).

A task group's tree is regular (:func:`~._markers.build_tree`'s shape: ``batch_size`` leaves
per level-1 node, ``group_size`` nodes per node above), so its internal nodes need not be
stored one record each: the root's record carries ``leaves`` and ``shape`` and every internal
node's record is derived from them on read.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from ..._errors import TaskError
from ...storage._protocol import KeyValueStore
from ._keys import marker_key

__all__ = [
    "derived_record",
    "leaf_paths",
    "level_counts",
    "load_record",
    "marker_key",
    "persist_shape",
]


def leaf_paths(
    prefix: str, n_leaves: int, *, batch_size: int = 10, group_size: int = 10
) -> list[list[tuple[str, int]]]:
    """``paths_to_root`` of ``build_tree``'s tree, by leaf index, without building it.

    Siblings share one path list (treat them as read-only); computing it is O(number of
    internal nodes + leaves) with no marker objects.
    """
    levels: list[list[tuple[str, int]]] = []
    nodes, width, level = n_leaves, batch_size, 1
    while True:
        if nodes <= width:
            levels.append([(f"{prefix}/root", nodes)])
            break
        count = -(-nodes // width)
        levels.append(
            [(f"{prefix}/n{level}.{j}", min(width, nodes - j * width)) for j in range(count)]
        )
        nodes, width, level = count, group_size, level + 1
    paths: list[list[tuple[str, int]]] = [[levels[-1][0]]]
    for nodes_at in reversed(levels[:-1]):
        paths = [[node, *paths[j // group_size]] for j, node in enumerate(nodes_at)]
    return [paths[i // batch_size] if len(levels) > 1 else paths[0] for i in range(n_leaves)]


def level_counts(n_leaves: int, batch_size: int, group_size: int) -> list[int]:
    """Nodes per level of ``build_tree``'s tree: ``[leaves, level 1, ..., root (1)]``."""
    counts, nodes, width = [n_leaves], n_leaves, batch_size
    while nodes > width:
        nodes, width = -(-nodes // width), group_size
        counts.append(nodes)
    counts.append(1)
    return counts


def persist_shape(
    prefix: str,
    n_leaves: int,
    *,
    batch_size: int = 10,
    group_size: int = 10,
    callbacks: dict[str, Any] | None = None,
    store: KeyValueStore,
) -> str:
    """Persist ``build_tree``'s tree for ``n_leaves`` leaves as one record; its root id.

    The same tree as ``marker_persist(build_tree(...), save_leaves=False)``, but only the
    root is written, with the tree's shape: the internal nodes' records follow from it and
    ``marker_get`` derives them (ids, children, parents, levels), so a tree of any size
    costs one store write instead of one per internal node. Done flags, counts, results and
    reached points are stored per node exactly as for a fully persisted tree.

    >>> from persist_ext.features._tasks._markers import marker_get
    >>> from persist_ext.storage._memory import MemoryStore
    >>> store = MemoryStore()
    >>> persist_shape("g/1", 5, batch_size=2, group_size=2, store=store)
    'g/1/root'
    >>> node = marker_get("g/1/n1.2", store=store)
    >>> node.children, node.group_id, node.level
    (['g/1/t/4'], 'g/1/n2.1', 1)
    """
    if batch_size < 1 or group_size < 2:
        raise TaskError(
            f"batch_size must be >= 1 and group_size >= 2 (got {batch_size}, {group_size})."
        )
    counts = level_counts(n_leaves, batch_size, group_size)
    top = len(counts) - 1
    child = "t/" if top == 1 else f"n{top - 1}."
    record: dict[str, Any] = {
        "id": f"{prefix}/root",
        "group_id": None,
        "children": [f"{prefix}/{child}{i}" for i in range(counts[top - 1])],
        "callbacks": dict(callbacks or {}),
        "start_time": time.time(),
        "work_time": None,
        "level": top,
        "leaves": n_leaves,
        "shape": [batch_size, group_size],
    }
    try:
        stored: Any = json.dumps(record, separators=(",", ":"))
    except (TypeError, ValueError):  # callbacks holding functions: keep the dict
        stored = record
    store.set(marker_key(record["id"]), stored)
    return record["id"]


def derived_record(idx: str, store: KeyValueStore, roots: dict[str, Any]) -> dict[str, Any] | None:
    """The record of internal node ``idx`` of a tree persisted by :func:`persist_shape`."""
    prefix, _, name = idx.rpartition("/")
    match = _NODE.fullmatch(name)
    if match is None or not prefix:
        return None
    if prefix not in roots:
        roots[prefix] = load_record(store, marker_key(f"{prefix}/root"))
    root = roots[prefix]
    if root is None or "shape" not in root:
        return None
    batch_size, group_size = root["shape"]
    counts = level_counts(int(root["leaves"]), batch_size, group_size)
    level, index = int(match[1]), int(match[2])
    top = len(counts) - 1
    if not 1 <= level < top or index >= counts[level]:
        return None
    width = batch_size if level == 1 else group_size
    child = "t/" if level == 1 else f"n{level - 1}."
    above = f"{prefix}/root" if level + 1 == top else f"{prefix}/n{level + 1}.{index // group_size}"
    first = index * width
    return {
        "id": idx,
        "group_id": above,
        "children": [
            f"{prefix}/{child}{i}" for i in range(first, min(first + width, counts[level - 1]))
        ],
        "callbacks": {},
        "start_time": root.get("start_time"),
        "work_time": None,
        "level": level,
    }


_NODE = re.compile(r"n([1-9][0-9]*)\.(0|[1-9][0-9]*)")


def load_record(store: KeyValueStore, key: str) -> dict[str, Any] | None:
    """The marker record stored under ``key`` (JSON text or a dict), None when absent."""
    record = store.get(key, None)
    return json.loads(record) if isinstance(record, str) else record
