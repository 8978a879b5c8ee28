"""The marker tree level by level and the completion callback, read from headers (#15.2)."""

from __future__ import annotations

import time
from pathlib import Path

from _task_funcs import square

from persist_ext.features._tasks import TaskGroup
from persist_ext.interfaces.server._groups import read_group
from persist_ext.storage._store import Store


def _run(directory: Path, *, on_complete=None) -> None:
    with Store(directory) as store:
        group = TaskGroup("fit", store, batch_size=3, group_size=2, on_complete=on_complete)
        group.map(square, range(12), key=lambda x: f"k{x:02d}")
        group.run().wait()
        group.close()


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
