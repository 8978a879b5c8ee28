"""A task group's marker tree: which generation is current, where each task's leaf is.

The tree for a set of task keys is built once (one record, :func:`~._shape.persist_shape`)
and described by the group's ``tree`` entry (generation, key digest, key order, shape). A
different key set makes a new generation; the same key set, declared in any process, finds
the same tree. :class:`GroupTree` answers "which leaf is task ``k``?" and settles leaves
through :func:`~._markers.settle_leaves`; it never reads task records.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from ...storage._protocol import KeyValueStore
from ._keys import group_keys, leaf_bitmap_key
from ._markers import marker_get, settle_leaf_indices, settle_leaves
from ._shape import leaf_paths, persist_shape

__all__ = ["GroupTree"]

Combiners = tuple[Any, Any]


class GroupTree:
    """The current marker tree of group ``group`` in ``store``.

    ``batch_size`` and ``group_size`` shape a tree built here; a tree already stored for the
    same key set keeps its own shape.
    """

    def __init__(
        self,
        store: KeyValueStore,
        group: str,
        batch_size: int,
        group_size: int,
        combiners: Combiners = (None, None),
    ) -> None:
        self.store = store
        self.keys_of = group_keys(group)
        self.group = group
        self.batch_size = batch_size
        self.group_size = group_size
        self.combiners = combiners
        self.root_id: str | None = None
        self.task_keys: list[str] = []
        self._index: dict[str, int] = {}
        self._leaf_prefix = ""
        self._bitmap_key = ""
        self._paths: list[list[tuple[str, int]]] = []
        self._tree_batch = batch_size

    @property
    def combines(self) -> bool:
        """True when results are combined up the tree."""
        return any(self.combiners)

    def ensure(self, keys: Sequence[str]) -> bool:
        """Load or build the tree for ``keys`` (call inside ``store.transact()``).

        Returns True when that tree already existed (a resume), False when built now.
        """
        digest = hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()
        meta = self.store.get(self.keys_of.tree, None)
        existed = meta is not None and meta["digest"] == digest
        if not existed:
            gen = 1 if meta is None else int(meta["gen"]) + 1
            # One record for the whole tree, not one per internal node (1,111 for 10,000
            # tasks at ~100 us each on a diskcache Store).
            root_id = persist_shape(
                self.keys_of.tree_prefix(gen),
                len(keys),
                batch_size=self.batch_size,
                group_size=self.group_size,
                store=self.store,
            )
            meta = {
                "gen": gen,
                "digest": digest,
                "keys": list(keys),
                "batch_size": self.batch_size,
                "group_size": self.group_size,
                "root": root_id,
            }
            self.store.set(self.keys_of.tree, meta, meta=_tree_meta(meta))
        self._adopt(meta)
        return existed

    def load(self) -> bool:
        """Read the current tree if there is one (any process may have built it)."""
        if self.root_id is not None:
            return True
        meta = self.store.get(self.keys_of.tree, None)
        if meta is None:
            return False
        self._adopt(meta)
        return True

    def _adopt(self, meta: dict[str, Any]) -> None:
        # A tree built by another process (or an earlier run) is authoritative: same key
        # set, its order and shape.
        prefix = self.keys_of.tree_prefix(int(meta["gen"]))
        self.root_id = f"{prefix}/root"
        self._leaf_prefix = f"{prefix}/t/"
        self._bitmap_key = leaf_bitmap_key(prefix)
        self.task_keys = list(meta["keys"])
        self._index = {key: i for i, key in enumerate(self.task_keys)}
        self._tree_batch = int(meta["batch_size"])
        self._paths = leaf_paths(
            prefix,
            len(self.task_keys),
            batch_size=meta["batch_size"],
            group_size=meta["group_size"],
        )

    def has(self, key: str) -> bool:
        """True when task ``key`` has a leaf in the current tree."""
        return key in self._index

    def leaf_id(self, key: str) -> str:
        """The marker id of task ``key``'s leaf."""
        return f"{self._leaf_prefix}{self._index[key]}"

    def settle(self, keys: Iterable[str], results: dict[str, Any] | None = None) -> bool:
        """Mark the leaves of ``keys`` done (call inside ``store.transact()``, together with
        the records that settle them); True if this call completed the root.

        ``results`` (task key -> value) feed the combiners when there are any.
        """
        if self.root_id is None:
            return False
        index, paths = self._index, self._paths
        if results and self.combines:
            leaves = [(self.leaf_id(k), paths[index[k]]) for k in keys if k in index]
            leaf_results = {self.leaf_id(k): v for k, v in results.items() if k in index}
            return settle_leaves(
                self.store,
                leaves,
                batch_size=self._tree_batch,
                results=leaf_results,
                combiners=self.combiners,
            )
        # The common case: no per-leaf key is built, leaves go straight to their parent.
        by_parent: dict[str, tuple[Any, list[int]]] = {}
        for k in keys:
            i = index.get(k)
            if i is None:
                continue
            path = paths[i]
            entry = by_parent.get(path[0][0])
            if entry is None:
                by_parent[path[0][0]] = (path, [i])
            else:
                entry[1].append(i)
        return settle_leaf_indices(
            self.store,
            self._bitmap_key,
            by_parent,
            batch_size=self._tree_batch,
            combiners=self.combiners,
        )

    def root_done(self) -> bool:
        """True when the root is done (every task settled)."""
        if not self.load():
            return False
        root = marker_get(self.root_id, store=self.store)  # type: ignore[arg-type]
        return bool(root and root.done)

    def combined(self) -> Any:
        """The root's combined result (None without combiners or before completion)."""
        if not self.combines or not self.load():
            return None
        root = marker_get(self.root_id, load_results=True, store=self.store)  # type: ignore[arg-type]
        return root.result if root else None


#: Largest key list (JSON bytes) copied into the tree record's header; past it the server
#: shows per-level counts without the per-node ones.
TREE_ORDER_LIMIT = 2 << 20


def _tree_meta(record: dict[str, Any]) -> dict[str, Any]:
    """The tree record's shape (and key order, when not huge) as JSON header meta: the
    server computes per-node done/failed/total from it and the journal, never unpickling."""
    keys = record["keys"]
    meta = {k: record[k] for k in ("gen", "batch_size", "group_size")}
    meta["leaves"] = len(keys)
    if len(json.dumps(keys)) <= TREE_ORDER_LIMIT:
        meta["keys"] = list(keys)
    return meta
