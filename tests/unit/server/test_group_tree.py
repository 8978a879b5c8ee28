"""The marker tree level by level and the completion callback, read from headers (#15.2)."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from persist_ext.interfaces.server._groups import read_group
from persist_ext.storage._store import Store

from ._seed import run_group, run_tree_group


def _run(directory: Path, *, on_complete=None) -> None:
    keys = [f"k{x:02d}" for x in range(12)]
    run_group(directory, "fit", keys, batch_size=3, group_size=2, on_complete=on_complete)


def test_levels_list_their_settled_nodes_and_the_callback_is_timed(tmp_path: Path) -> None:
    called: list[float] = []
    before = time.time()
    _run(tmp_path / "s", on_complete=lambda result: called.append(time.time()))
    assert len(called) == 1
    state = read_group(tmp_path / "s", "fit").to_json()
    # 12 leaves, 3 per level-1 node, 2 per node above: 4 nodes, then 2, then the root.
    assert [(lv["level"], lv["done"]) for lv in state["levels"]] == [(1, 4), (2, 2)]
    assert [n["node"] for n in state["levels"][0]["nodes"]] == ["n1.0", "n1.1", "n1.2", "n1.3"]
    assert all(before <= n["done"] <= time.time() for n in state["levels"][0]["nodes"])
    assert state["completed"] is not None
    assert before <= state["callback"] <= called[0] <= state["callback_finished"]
    assert state["callback_attempts"] == 1


def test_without_a_callback_nothing_says_it_fired(tmp_path: Path) -> None:
    _run(tmp_path / "s")
    state = read_group(tmp_path / "s", "fit").to_json()
    assert state["completed"] is not None
    assert (state["callback"], state["callback_finished"], state["callback_attempts"]) == (
        None,
        None,
        0,
    )


def test_each_node_counts_its_tasks_and_the_callback_says_where_it_ran(tmp_path: Path) -> None:
    """Per-node done / failed / total at every level, from headers only (#15): 7 tasks, 3
    leaves per level-1 node, 2 nodes per node above; k3 and k6 fail."""
    run_tree_group(tmp_path / "s", "mixed")
    state = read_group(tmp_path / "s", "mixed").to_json()
    level1, level2 = state["levels"]
    assert (level1["total"], level1["done"], level1["failing"]) == (3, 3, 2)
    assert [n["tasks"] for n in level1["nodes"]] == [
        {"done": 3, "failed": 0, "running": 0, "todo": 0, "total": 3},
        {"done": 2, "failed": 1, "running": 0, "todo": 0, "total": 3},
        {"done": 0, "failed": 1, "running": 0, "todo": 0, "total": 1},
    ]
    assert all(n["done"] is not None for n in level1["nodes"])  # all settled (failures too)
    assert (level2["total"], level2["failing"]) == (2, 2)
    assert [n["tasks"]["total"] for n in level2["nodes"]] == [6, 1]
    assert [n["tasks"]["failed"] for n in level2["nodes"]] == [1, 1]
    owner = state["callback_owner"]
    assert (owner["host"], owner["pid"]) == (socket.gethostname(), os.getpid())
    assert state["callback"] <= owner["at"] <= state["callback_finished"]


def test_a_tree_without_its_shape_in_the_header_lists_settled_nodes_only(tmp_path: Path) -> None:
    """Stores written before the shape was recorded: levels as before, no totals."""
    from persist_ext.features._tasks._keys import group_keys

    _run(tmp_path / "s")
    with Store(tmp_path / "s") as store:
        key = group_keys("fit").tree
        store.set(key, store.get(key))  # the same record, without header meta
    state = read_group(tmp_path / "s", "fit").to_json()
    assert [(lv["level"], lv["done"]) for lv in state["levels"]] == [(1, 4), (2, 2)]
    assert all("total" not in lv for lv in state["levels"])
    assert state["callback_owner"] is None


def test_a_key_order_past_the_limit_gives_node_totals_without_task_counts(
    tmp_path: Path, monkeypatch
) -> None:
    from persist_ext.features._tasks import _tree

    monkeypatch.setattr(_tree, "TREE_ORDER_LIMIT", 10)  # as if the key list were huge
    _run(tmp_path / "s")
    level1, level2 = read_group(tmp_path / "s", "fit").to_json()["levels"]
    assert (level1["total"], level1["done"], level1["failing"]) == (4, 4, None)
    assert (level2["total"], level2["done"]) == (2, 2)
    assert all("tasks" not in node for node in level1["nodes"])


def test_a_crafted_tree_header_cannot_stall_or_break_the_reader(tmp_path: Path) -> None:
    """Header meta is data from the store: absurd shapes give bounded answers, no error."""
    from persist_ext.features._tasks._keys import group_keys

    _run(tmp_path / "s")
    key = group_keys("fit").tree
    hostile = [
        {"gen": 1, "leaves": 10**15, "batch_size": 1, "group_size": 2},
        {"gen": 1, "leaves": 12, "batch_size": 0, "group_size": 2},
        {"gen": 1, "leaves": 12, "batch_size": 3, "group_size": 2, "keys": ["only-one"]},
        {"gen": "x", "leaves": [], "batch_size": None, "group_size": 2},
        {"gen": 1, "leaves": -5, "batch_size": 3, "group_size": 2},
    ]
    for meta in hostile:
        with Store(tmp_path / "s") as store:
            store.set(key, store.get(key), meta=meta)
        started = time.monotonic()
        state = read_group(tmp_path / "s", "fit").to_json()
        assert time.monotonic() - started < 30
        assert all(len(level["nodes"]) <= 200 for level in state["levels"])
        assert state["counts"]["done"] == 12  # the journal is unaffected


def test_a_rate_is_given_only_over_a_second_or_more(tmp_path: Path) -> None:
    """A group settled in milliseconds has no rate (was e.g. 11701.9/s from 7 tasks)."""
    run_tree_group(tmp_path / "s", "quick")
    state = read_group(tmp_path / "s", "quick")
    assert state.started is not None
    state.updated = state.started + 0.0006  # the 7 tasks settled within 0.6 ms
    assert state.to_json()["rate"] is None
    state.updated = state.started + 2.0  # the same 7 tasks settled over two seconds
    assert state.to_json()["rate"] == 3.5
