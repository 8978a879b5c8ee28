"""The furious seed's marker functions called exactly as the seed writes them (issue 18)."""

from __future__ import annotations

from pathlib import Path

import pytest

from persist_ext._errors import TaskError
from persist_ext.features._tasks import (
    Marker,
    all_done,
    filter_known_done,
    load_context,
    mark_reached,
    marker_get,
    marker_get_multi,
    marker_key,
    marker_persist,
    marker_store,
    reached_by_another_request,
    set_marker_store,
    store_context,
)
from persist_ext.storage._memory import MemoryStore
from persist_ext.storage._store import Store


def _furious_tree() -> Marker:
    leaves = [Marker(f"ctx1,a{i}", group_id="ctx1") for i in range(3)]
    return Marker("ctx1", children=leaves)


def test_seed_signatures_and_ids_with_a_store_from_the_context() -> None:
    store = MemoryStore()
    with marker_store(store):
        tree = _furious_tree()
        tree.children[1].done = True
        tree.children[1].result = 42
        marker_persist(tree, save_leaves=True)
        root = marker_get("ctx1")
        assert root is not None
        assert root.children == ["ctx1,a0", "ctx1,a1", "ctx1,a2"]
        assert marker_get("ctx1,a1").done
        assert marker_get("ctx1,a1", load_results=True).result == 42
        assert marker_get("ctx1,a9") is None
        assert [m.id for m in marker_get_multi(["ctx1,a0", "nope", "ctx1,a2"])] == [
            "ctx1,a0",
            "ctx1,a2",
        ]
        assert filter_known_done(["ctx1,a0", "ctx1,a1", "ctx1,a2"]) == ["ctx1,a0", "ctx1,a2"]
        assert not all_done(["ctx1,a0", "ctx1,a1"])
        assert all_done(["ctx1,a1"])
        store_context("ctx1", {"user": "ada"})
        assert load_context("ctx1") == {"user": "ada"}
        assert not reached_by_another_request("ctx1", "callback")
        assert mark_reached("ctx1", "callback") is True
        assert mark_reached("ctx1", "callback") is False
        assert reached_by_another_request("ctx1", "callback")
    # Everything went to the context's store, under the layout of _keys.
    assert marker_key("ctx1,a0") in store
    assert marker_get("ctx1", store=MemoryStore()) is None  # an explicit store wins


def test_process_wide_default_store(tmp_path: Path) -> None:
    store = Store(tmp_path / "markers")
    set_marker_store(store)
    try:
        marker_persist(_furious_tree(), save_leaves=False)
        assert marker_get("ctx1").children == ["ctx1,a0", "ctx1,a1", "ctx1,a2"]
        assert marker_get("ctx1,a0") is None  # leaves were not saved
    finally:
        set_marker_store(None)
    assert marker_get("ctx1", store=Store(tmp_path / "markers")) is not None


def test_bad_ids_name_the_accepted_forms() -> None:
    with marker_store(MemoryStore()):
        for bad in ("", ",a0", "a@b", "/x"):
            with pytest.raises(TaskError, match="ctx1"):
                marker_get(bad)
