"""A task group's marker tree is stored as its shape (one root record); every marker read
from the shape equals the marker the full per-node layout stores."""

from __future__ import annotations

import pytest

from persist_ext.features._tasks._markers import (
    build_tree,
    leaf_paths,
    level_completion,
    marker_get,
    marker_persist,
    persist_shape,
    settle_leaves,
    sweep,
)
from persist_ext.storage._memory import MemoryStore

SHAPES = [(1, 2), (2, 2), (3, 2), (10, 10), (4, 3)]


@pytest.mark.parametrize("leaves", [1, 2, 3, 5, 9, 10, 11, 25, 99, 100, 101, 1234])
@pytest.mark.parametrize(("batch_size", "group_size"), SHAPES)
def test_shape_reads_back_like_the_full_tree(leaves: int, batch_size: int, group_size: int) -> None:
    full, shaped = MemoryStore(), MemoryStore()
    root = build_tree(
        "g/1", [str(i) for i in range(leaves)], batch_size=batch_size, group_size=group_size
    )
    marker_persist(root, save_leaves=False, store=full)
    root_id = persist_shape(
        "g/1", leaves, batch_size=batch_size, group_size=group_size, store=shaped
    )
    assert root_id == root.id

    for key in full.keys("tasks/g/markers/"):
        idx = "g/" + key[len("tasks/g/markers/") :]
        expected, derived = marker_get(idx, store=full), marker_get(idx, store=shaped)
        expected.start_time = derived.start_time = None
        assert derived == expected, idx
    for level in range(8):
        for j in range(0, 60, 7):
            for idx in (f"g/1/n{level}.{j}", f"g/1/t/{j}", f"g/1/n{level}.0{j}"):
                exists_full = marker_get(idx, store=full) is not None
                assert (marker_get(idx, store=shaped) is not None) == exists_full, idx
    assert level_completion(shaped, root_id) == level_completion(full, root_id)

    # Settling every leaf completes both trees the same way, exactly once each.
    paths = leaf_paths("g/1", leaves, batch_size=batch_size, group_size=group_size)
    for store in (full, shaped):
        with store.transact():
            done = settle_leaves(
                store, [(f"g/1/t/{i}", p) for i, p in enumerate(paths)], batch_size=batch_size
            )
        assert done is True
        assert sweep(store, root_id) is False
    assert level_completion(shaped, root_id) == level_completion(full, root_id)
