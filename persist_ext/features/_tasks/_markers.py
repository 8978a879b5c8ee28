"""Markers: a tree over a group's tasks that says, exactly once, "everything is settled".

This is the persistence interface of the marker-tree seed (``000``), under its names, working
on any :class:`~persist_ext.storage._protocol.KeyValueStore`:

- ``marker_persist``, ``marker_get``, ``marker_get_multi``, ``marker_get_children``;
- ``store_context``, ``load_context``;
- ``mark_reached``, ``reached_by_another_request`` (operational storage);
- ``filter_known_done``, ``all_done`` (logic over the stored done flags).

A group of N tasks becomes a tree: up to ``batch_size`` leaves under each internal node, up
to ``group_size`` internal nodes under each node above, more levels as needed, one root.

Exactly once. The original could fire its callback twice when two siblings finished at the
same time (both read "all done"). Here a node's *done* flag is written with the store's
atomic ``add`` (set-if-absent; ``add_many`` for the nodes a batch completes), so of all
processes that see a node complete exactly one wins it and carries completion upwards. A
per-node counter (atomic ``incr``) makes the common path cheap: the child whose increment
reaches the node's child count is the last one. A crash between marking a child and
counting it can lose a count; :func:`sweep` (run on resume) recomputes completion from the
done flags, which are the truth.

Store layout, for a marker id ``"<group>/<path>"``: ``tasks/<group>/markers/<path>`` holds
the marker record, with ``@done``, ``@count``, ``@result``, ``@ctx`` and ``@reached/<key>``
suffixes. A task group's tree stores only its root record, with the tree's shape; its internal
nodes' records are derived from it (:func:`persist_shape`, in ``_shape``).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..._errors import TaskError
from ...storage._protocol import MISSING, KeyValueStore
from ._keys import (
    leaf_bitmap_key,
    marker_flag,
    reached_key,
    split_marker_key,
    tree_scan_prefix,
)
from ._keys import marker_key as _key
from ._shape import derived_record as _derived
from ._shape import leaf_paths, persist_shape
from ._shape import level_counts as _level_counts
from ._shape import load_record as _load_record

__all__ = [
    "Marker",
    "all_done",
    "build_tree",
    "complete_leaf",
    "filter_known_done",
    "leaf_paths",
    "level_completion",
    "load_context",
    "mark_reached",
    "marker_get",
    "marker_get_children",
    "marker_get_multi",
    "marker_persist",
    "marker_store",
    "marker_store_or_default",
    "paths_to_root",
    "persist_shape",
    "reached_by_another_request",
    "set_marker_store",
    "settle_leaf_indices",
    "settle_leaves",
    "store_context",
    "sweep",
]

Combiner = Callable[[list[Any]], Any]


@dataclass
class Marker:
    """One vertex of a marker tree.

    ``id`` is ``"<group>/<path>"``; ``group_id`` is the parent's id (None at the root);
    ``children`` holds child markers or their ids (empty for a leaf); ``callbacks`` maps
    event names to picklable values (e.g. combiner functions); ``start_time`` and
    ``work_time`` are epoch seconds and seconds.

    >>> root = build_tree("demo/1", ["a", "b", "c"], batch_size=2, group_size=2)
    >>> root.id, [c.id for c in root.children]
    ('demo/1/root', ['demo/1/n1.0', 'demo/1/n1.1'])
    """

    id: str
    group_id: str | None = None
    children: list[Any] = field(default_factory=list)
    done: bool = False
    result: Any = None
    callbacks: dict[str, Any] = field(default_factory=dict)
    start_time: float | None = None
    work_time: float | None = None
    level: int = 0

    @property
    def is_leaf(self) -> bool:
        """True for a marker without children (one task)."""
        return not self.children

    def children_ids(self) -> list[str]:
        """The children's ids, whether children are held as markers or as ids."""
        return [c.id if isinstance(c, Marker) else str(c) for c in self.children]

    def to_record(self) -> dict[str, Any]:
        """The stored form: children as ids, no ``done`` (a separate atomic flag), no result."""
        return {
            "id": self.id,
            "group_id": self.group_id,
            "children": self.children_ids(),
            "callbacks": self.callbacks,
            "start_time": self.start_time,
            "work_time": self.work_time,
            "level": self.level,
        }


def build_tree(
    prefix: str,
    leaf_keys: Sequence[str],
    *,
    batch_size: int = 10,
    group_size: int = 10,
    callbacks: dict[str, Any] | None = None,
) -> Marker:
    """Build (in memory) the marker tree for ``leaf_keys``; ids start with ``prefix``.

    Leaves are ``f"{prefix}/t/{i}"`` (``i`` the key's position; the leaf's ``callbacks``
    record ``{"task": key}``), internal nodes ``f"{prefix}/n{level}.{index}"`` and the root
    ``f"{prefix}/root"``. An empty group is a root with no children.
    """
    if batch_size < 1 or group_size < 2:
        raise TaskError(
            f"batch_size must be >= 1 and group_size >= 2 (got {batch_size}, {group_size})."
        )
    now = time.time()
    level_nodes: list[Marker] = [
        Marker(f"{prefix}/t/{i}", callbacks={"task": key}, start_time=now, level=0)
        for i, key in enumerate(leaf_keys)
    ]
    level, width = 1, batch_size
    while True:
        if len(level_nodes) <= width:
            root = Marker(f"{prefix}/root", children=level_nodes, level=level, start_time=now)
            break
        parents = []
        for index, start in enumerate(range(0, len(level_nodes), width)):
            parents.append(
                Marker(
                    f"{prefix}/n{level}.{index}",
                    children=level_nodes[start : start + width],
                    level=level,
                    start_time=now,
                )
            )
        level_nodes, level, width = parents, level + 1, group_size
    root.callbacks = dict(callbacks or {})
    _link(root)
    return root


def _link(node: Marker) -> None:
    for child in node.children:
        if isinstance(child, Marker):
            child.group_id = node.id
            _link(child)


def paths_to_root(root: Marker) -> dict[str, list[tuple[str, int]]]:
    """For each leaf id: ``[(ancestor id, number of its children), ...]`` up to the root."""
    paths: dict[str, list[tuple[str, int]]] = {}

    def walk(node: Marker, above: list[tuple[str, int]]) -> None:
        here = [(node.id, len(node.children)), *above]
        for child in node.children:
            if child.is_leaf:
                paths[child.id] = here
            else:
                walk(child, here)

    walk(root, [])
    return paths


# --- the seed's persistence functions -----------------------------------------------------

_CONTEXT_STORE: contextvars.ContextVar[KeyValueStore | None] = contextvars.ContextVar(
    "persist_ext_marker_store", default=None
)
_PROCESS_STORE: list[KeyValueStore] = []


@contextlib.contextmanager
def marker_store(store: KeyValueStore) -> Iterator[KeyValueStore]:
    """Make ``store`` the store of every marker function called without ``store=``.

    The seed's functions take no store (its persistence layer is configured once); inside
    ``with marker_store(s):`` they use ``s``. Outside any such block they use the store set
    by :func:`set_marker_store`, else the default :class:`~persist_ext.Store` (the
    ``PERSIST_EXT_DIR`` directory), opened once per process.

    >>> from persist_ext.storage._memory import MemoryStore
    >>> with marker_store(MemoryStore()):
    ...     marker_persist(Marker("ctx1", children=[Marker("ctx1,a0", group_id="ctx1")]))
    ...     marker_get("ctx1").children
    ['ctx1,a0']
    """
    token = _CONTEXT_STORE.set(store)
    try:
        yield store
    finally:
        _CONTEXT_STORE.reset(token)


def set_marker_store(store: KeyValueStore | None) -> None:
    """Set (or with None, forget) the process-wide store of the marker functions."""
    _PROCESS_STORE[:] = [] if store is None else [store]


def marker_store_or_default(store: KeyValueStore | None) -> KeyValueStore:
    """``store`` if given, else the :func:`marker_store` in effect, else the default store."""
    if store is not None:
        return store
    current = _CONTEXT_STORE.get()
    if current is not None:
        return current
    if not _PROCESS_STORE:
        from ...storage._store import Store

        _PROCESS_STORE.append(Store())
    return _PROCESS_STORE[0]


def marker_persist(
    marker: Marker, save_leaves: bool = True, *, store: KeyValueStore | None = None
) -> None:
    """Save ``marker`` and its descendants; leaves only when ``save_leaves``.

    Done flags and results are written only if set on the in-memory markers (a stored flag
    is never cleared). Everything is written in one store transaction.

    >>> from persist_ext.storage._memory import MemoryStore
    >>> store = MemoryStore()
    >>> marker_persist(build_tree("g/1", ["a"]), store=store)
    >>> marker_get("g/1/root", store=store).children
    ['g/1/t/0']
    """
    store = marker_store_or_default(store)
    with store.transact():
        _persist(marker, save_leaves, store)


def _persist(marker: Marker, save_leaves: bool, store: KeyValueStore) -> None:
    if marker.is_leaf and not save_leaves:
        return
    key = _key(marker.id)
    record = marker.to_record()
    if marker.group_id is None:
        # Leaves may be persisted without records: the root says how many there are.
        record["leaves"] = _count_leaves(marker)
    try:
        # JSON text stores ~4x faster than a dict (no per-entry summary of a nested value).
        stored: Any = json.dumps(record, separators=(",", ":"))
    except (TypeError, ValueError):  # callbacks holding functions: keep the dict
        stored = record
    store.set(key, stored)
    if marker.done:
        store.add(marker_flag(marker.id, "done"), time.time())
    if marker.result is not None:
        store.set(marker_flag(marker.id, "result"), marker.result)
    for child in marker.children:
        if isinstance(child, Marker):
            _persist(child, save_leaves, store)


def _count_leaves(marker: Marker) -> int:
    if marker.is_leaf:
        return 0 if marker.group_id is None else 1
    return sum(_count_leaves(c) if isinstance(c, Marker) else 1 for c in marker.children)


def marker_get(
    idx: str, load_results: bool = False, *, store: KeyValueStore | None = None
) -> Marker | None:
    """Load the marker ``idx`` (children as ids), or None when it was never persisted.

    ``result`` is loaded only with ``load_results=True``; otherwise it is None.
    """
    store = marker_store_or_default(store)
    return _marker_get(idx, load_results, store, {})


def _marker_get(
    idx: str, load_results: bool, store: KeyValueStore, roots: dict[str, Any]
) -> Marker | None:
    key = _key(idx)
    record = _load_record(store, key)
    if record is None:
        # An internal node of a tree persisted as its shape (persist_shape).
        record = _derived(idx, store, roots)
        if record is None:
            return None
    marker = Marker(
        id=record["id"],
        group_id=record.get("group_id"),
        children=list(record.get("children", [])),
        callbacks=dict(record.get("callbacks", {})),
        start_time=record.get("start_time"),
        work_time=record.get("work_time"),
        level=record.get("level", 0),
    )
    marker.done = marker_flag(idx, "done") in store
    if load_results:
        marker.result = store.get(marker_flag(idx, "result"), None)
    return marker


def marker_get_multi(
    ids: Iterable[str], load_results: bool = False, *, store: KeyValueStore | None = None
) -> list[Marker]:
    """The plural of :func:`marker_get`; ids that were never persisted are dropped."""
    store = marker_store_or_default(store)
    roots: dict[str, Any] = {}  # root records, read once per tree
    found = (_marker_get(idx, load_results, store, roots) for idx in ids)
    return [m for m in found if m is not None]


def marker_get_children(
    marker: Marker, load_results: bool = False, *, store: KeyValueStore | None = None
) -> list[Marker]:
    """The stored children of ``marker`` (what the original's completion logic needs)."""
    store = marker_store_or_default(store)
    return marker_get_multi(marker.children_ids(), load_results, store=store)


def store_context(
    idx: str, context_dict: dict[str, Any], *, store: KeyValueStore | None = None
) -> None:
    """Store a dict of context for marker ``idx`` (replaces any earlier one)."""
    store = marker_store_or_default(store)
    if not isinstance(context_dict, dict):
        raise TaskError(f"store_context needs a dict, got {type(context_dict).__name__}.")
    store.set(marker_flag(idx, "ctx"), dict(context_dict))


def load_context(idx: str, *, store: KeyValueStore | None = None) -> dict[str, Any]:
    """The dict given to :func:`store_context` for ``idx`` (``{}`` when none was stored)."""
    store = marker_store_or_default(store)
    return dict(store.get(marker_flag(idx, "ctx"), {}))


def mark_reached(marker_id: str, key: str, *, store: KeyValueStore | None = None) -> bool:
    """Record that this request reached point ``key`` of ``marker_id``.

    Atomic across processes (the store's ``add``). Returns True for the one call that got
    there first and False for every later one, so ``if mark_reached(...): fire()`` runs
    ``fire`` exactly once; checking :func:`reached_by_another_request` first and marking
    afterwards would race.
    """
    store = marker_store_or_default(store)
    return store.add(reached_key(marker_id, key), time.time())


def reached_by_another_request(
    marker_id: str, key: str, *, store: KeyValueStore | None = None
) -> bool:
    """True if some call of :func:`mark_reached` for ``marker_id`` and ``key`` happened."""
    store = marker_store_or_default(store)
    return reached_key(marker_id, key) in store


def filter_known_done(ids: Iterable[str], *, store: KeyValueStore | None = None) -> list[str]:
    """The ids among ``ids`` not known to be done (order kept).

    A task group's leaves have no done flag of their own: they are done when their bit is
    set in the tree's leaf bitmap (see :func:`settle_leaves`); both are understood.
    """
    store = marker_store_or_default(store)
    bitmaps: dict[str, bytes] = {}
    pending = []
    for idx in ids:
        if marker_flag(idx, "done") in store:
            continue
        prefix, sep, index = idx.rpartition("/t/")
        if sep and index.isdigit():
            if prefix not in bitmaps:
                bitmaps[prefix] = store.get(leaf_bitmap_key(prefix), b"")
            if _bit(bitmaps[prefix], int(index)):
                continue
        pending.append(idx)
    return pending


def all_done(ids: Iterable[str], *, store: KeyValueStore | None = None) -> bool:
    """True if every marker in ``ids`` is done."""
    store = marker_store_or_default(store)
    return not filter_known_done(ids, store=store)


# --- completion ----------------------------------------------------------------------------


def complete_leaf(
    store: KeyValueStore,
    leaf_id: str,
    path: Sequence[tuple[str, int]],
    *,
    result: Any = MISSING,
    combiners: tuple[Combiner | None, Combiner | None] = (None, None),
) -> bool:
    """Mark a leaf done and carry completion up ``path``; True if this call completed the root.

    ``path`` is ``[(parent id, its child count), ..., (root id, its child count)]``. Calling
    it again for the same leaf (a re-run task) changes nothing and returns False. Call it
    inside ``store.transact()`` together with the task's own record, so a crash cannot leave
    a finished task whose leaf is not counted.
    """
    if result is not MISSING and any(combiners):
        store.set(marker_flag(leaf_id, "result"), result)
    if not store.add(marker_flag(leaf_id, "done"), time.time()):
        return False
    return _count_up(store, path, combiners)


def settle_leaves(
    store: KeyValueStore,
    leaves: Iterable[tuple[str, Sequence[tuple[str, int]]]],
    *,
    batch_size: int,
    results: dict[str, Any] | None = None,
    combiners: tuple[Combiner | None, Combiner | None] = (None, None),
) -> bool:
    """Mark many leaves done at once; True if this call completed the root.

    The batched form of :func:`complete_leaf` that task groups use. Leaves have no done
    flag of their own: the tree keeps one bitmap of done leaves (``<prefix>/t@done``, bit
    ``i`` for leaf ``t/i``), read, merged and written once per batch. A parent whose leaves
    are all set is marked done (``@done``), and counts above are incremented once per node
    by the number of its children that completed. Leaves already set change nothing, so
    settling a leaf twice (a task run again after a crash) is harmless. ``batch_size`` is
    the tree's (leaves per parent, as given to :func:`build_tree`). Call it inside
    ``store.transact()`` together with the records it settles: the read-merge-write of the
    bitmap relies on it, and a crash then leaves either both or neither.
    """
    by_parent: dict[str, tuple[Sequence[tuple[str, int]], list[int]]] = {}
    bitmap_key = ""
    for leaf_id, path in leaves:
        if not path:
            continue
        prefix, _, index = leaf_id.rpartition("/t/")
        bitmap_key = leaf_bitmap_key(prefix)
        by_parent.setdefault(path[0][0], (path, []))[1].append(int(index))
        if results is not None and leaf_id in results and any(combiners):
            store.set(marker_flag(leaf_id, "result"), results[leaf_id])
    return settle_leaf_indices(
        store, bitmap_key, by_parent, batch_size=batch_size, combiners=combiners
    )


def settle_leaf_indices(
    store: KeyValueStore,
    bitmap_key: str,
    by_parent: dict[str, tuple[Sequence[tuple[str, int]], list[int]]],
    *,
    batch_size: int,
    combiners: tuple[Combiner | None, Combiner | None] = (None, None),
) -> bool:
    """:func:`settle_leaves` given the leaves already grouped by parent: ``{parent id:
    (path of the parent's leaves, [leaf indices])}``, the tree's bitmap key from
    :func:`~._keys.leaf_bitmap_key` (a task group builds no key per leaf)."""
    if not by_parent:
        return False
    bits = bytearray(store.get(bitmap_key, b""))
    completed_root = False
    increments: dict[str, tuple[Sequence[tuple[str, int]], int]] = {}
    changed = False
    complete: list[tuple[str, Sequence[tuple[str, int]]]] = []
    for parent, (path, indices) in by_parent.items():
        new = False
        for i in indices:
            byte, bit = divmod(i, 8)
            if byte >= len(bits):
                bits.extend(bytes(byte + 1 - len(bits)))
            if not bits[byte] >> bit & 1:
                bits[byte] |= 1 << bit
                new = True
        if not new:
            continue
        changed = True
        # Leaves of a parent are consecutive; parent n1.j starts at j * batch_size.
        first = 0 if len(path) == 1 else int(parent.rsplit(".", 1)[1]) * batch_size
        if _all_set(bits, first, first + path[0][1]):
            complete.append((parent, path))
    if changed:
        store.set(bitmap_key, bytes(bits))
    while complete:  # one level per round: every leaf is at the same depth
        won = _mark_done(store, [node_id for node_id, _ in complete])
        for node_id, path in complete:
            if node_id not in won:
                continue  # another batch or process marked it, and carried it up
            _combine(store, node_id, combiners)
            if len(path) == 1:
                completed_root = True
            else:
                above, count = increments.get(path[1][0], (path[1:], 0))
                increments[path[1][0]] = (above, count + 1)
        complete = []
        for node_id, (path, delta) in increments.items():
            n_children = path[0][1]
            count = store.incr(marker_flag(node_id, "count"), delta)
            if count >= n_children > count - delta:  # this increment completed the node
                complete.append((node_id, path))
        increments = {}
    return completed_root


def _mark_done(store: KeyValueStore, node_ids: list[str]) -> set[str]:
    """Set the ``@done`` flag of each node in ``node_ids`` unless it is set; the ids whose
    flag this call set (of racing callers exactly one sets each).

    One ``add_many`` (one store transaction, the record encoded once) where the store has
    it, as every bundled kind does; a store of one's own may have only ``add``.
    """
    if not node_ids:
        return set()
    now = time.time()  # one object for all: encoded once, signed per key
    flags = {marker_flag(node_id, "done"): node_id for node_id in node_ids}
    add_many = getattr(store, "add_many", None)
    if add_many is None:
        return {flags[flag] for flag in flags if store.add(flag, now)}
    return {flags[flag] for flag in add_many([(flag, now) for flag in flags])}


def _all_set(bits: bytes | bytearray, start: int, stop: int) -> bool:
    """True when bits ``start`` to ``stop - 1`` are all set (once per parent per batch)."""
    if stop > start and (stop - 1) >> 3 >= len(bits):
        return False
    return all(bits[i >> 3] >> (i & 7) & 1 for i in range(start, stop))


def _bit(bits: bytes | bytearray, i: int) -> bool:
    byte, bit = divmod(i, 8)
    return byte < len(bits) and bool(bits[byte] >> bit & 1)


def _count_up(
    store: KeyValueStore,
    path: Sequence[tuple[str, int]],
    combiners: tuple[Combiner | None, Combiner | None],
) -> bool:
    for node_id, n_children in path:
        if store.incr(marker_flag(node_id, "count")) < n_children:
            return False
        if not store.add(marker_flag(node_id, "done"), time.time()):
            return False
        _combine(store, node_id, combiners)
    return True


def _combine(
    store: KeyValueStore,
    node_id: str,
    combiners: tuple[Combiner | None, Combiner | None],
) -> None:
    leaf_combiner, internal_vertex_combiner = combiners
    if leaf_combiner is None and internal_vertex_combiner is None:
        return
    node = marker_get(node_id, store=store)
    if node is None:
        return
    # Read results by id: leaves may have been persisted without records.
    results = [store.get(marker_flag(cid, "result"), None) for cid in node.children_ids()]
    combiner = leaf_combiner if node.level == 1 else internal_vertex_combiner
    combined = combiner(results) if combiner is not None else results
    store.set(marker_flag(node_id, "result"), combined)


def sweep(
    store: KeyValueStore,
    root_id: str,
    *,
    combiners: tuple[Combiner | None, Combiner | None] = (None, None),
) -> bool:
    """Recompute completion from the done flags, bottom-up; True if this call completed the root.

    Repairs what a crash between marking a child and counting it left behind. Safe to run
    while workers are completing leaves: every node is still marked done exactly once.
    """
    root = marker_get(root_id, store=store)
    if root is None:
        raise TaskError(f"No marker tree with root {root_id!r} in this store.", task=root_id)
    levels: list[list[Marker]] = []
    frontier = [root]
    while frontier:
        levels.append(frontier)
        internal = [c for c in frontier if c.children]
        ids = [cid for node in internal for cid in node.children_ids()]
        children = marker_get_multi(ids, store=store)
        frontier = [c for c in children if c.children]
    completed_root = False
    for level in reversed(levels):
        for node in level:
            if node.done or not node.children:
                continue
            if not all_done(node.children_ids(), store=store):
                continue
            if not store.add(marker_flag(node.id, "done"), time.time()):
                continue
            _combine(store, node.id, combiners)
            if node.group_id is None:
                completed_root = True
    return completed_root


def level_completion(
    store: KeyValueStore, root_id: str, n_leaves: int | None = None
) -> tuple[tuple[int, int], ...]:
    """``(done, total)`` per tree level, leaves first and the root last (one key scan).

    Leaves persisted without records (``save_leaves=False``, as task groups do) are counted
    from the root's record; ``n_leaves`` overrides that count. Done leaves are their own
    ``@done`` flags plus the bits set in the tree's leaf bitmap (:func:`settle_leaves`).
    """
    key = _key(root_id)
    record = store.get(key, None)
    if record is None:
        return ()
    if isinstance(record, str):
        record = json.loads(record)
    top = int(record.get("level", 0))
    prefix = tree_scan_prefix(root_id)
    totals = [0] * (top + 1)
    done = [0] * (top + 1)
    for name_key in store.keys(prefix):
        name, suffix = split_marker_key(name_key, prefix)
        level = top if name == "root" else 0 if name.startswith("t") else None
        if level is None and name.startswith("n"):
            level = int(name[1:].split(".", 1)[0])
        if level is None or level > top:
            continue
        if not suffix:
            totals[level] += 1
        elif suffix == "done" and name == "t":  # a task group's leaf bitmap
            done[0] += sum(bin(byte).count("1") for byte in store.get(name_key, b""))
        elif suffix == "done":
            done[level] += 1
    if "shape" in record:  # internal nodes derived from the root (persist_shape)
        totals = _level_counts(int(record.get("leaves", 0)), *record["shape"])
    if n_leaves is not None:
        totals[0] = n_leaves
    elif top > 0:
        totals[0] = max(totals[0], int(record.get("leaves", 0)))
    return tuple(zip(done, totals))
