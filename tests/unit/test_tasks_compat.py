"""A store written by persist_ext as of main 66b8612 (before the task-group restructuring)
resumes unchanged: the persisted format is the same.

``data/tasks_store_main/cache.db`` was written by ``data/tasks_store_main/make_fixture.py``
run against that commit: group "legacy" (max_tries=2) with sq0..sq3 and "big" finished,
"bad" failed twice then replayed (bad#1 unstarted), "later" never run; and a marker tree
"old/1" persisted with the seed's functions, with a context.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from _task_funcs import square

import persist_ext
from persist_ext.features._tasks import (
    TaskGroup,
    TaskStatus,
    group_keys,
    group_names,
    load_context,
    marker_get,
)
from persist_ext.storage._store import Store

FIXTURE = Path(__file__).parent / "data" / "tasks_store_main"


def _copy(tmp_path: Path) -> Store:
    target = tmp_path / "store"
    target.mkdir()
    shutil.copy(FIXTURE / "cache.db", target / "cache.db")
    # Written before entries were signed: a user upgrading vouches for it once (docs/trust).
    persist_ext.trust(target)
    return Store(target)


def test_store_written_by_main_resumes(tmp_path: Path) -> None:
    store = _copy(tmp_path)
    assert group_names(store) == ["legacy"]
    assert set(store.keys(group_keys("legacy").prefix)) >= {
        group_keys("legacy").configs,
        group_keys("legacy").tree,
        group_keys("legacy").result("big#0"),
    }
    ran: list[str] = []

    def tracked(x: int) -> int:
        ran.append(str(x))
        return square(x)

    seen = []
    group = TaskGroup("legacy", store, max_tries=2, on_complete=seen.append)
    for i in range(4):
        group.submit(tracked, i, key=f"sq{i}")
    group.submit(list, range(3000), key="big")
    group.submit(tracked, 1, key="bad")  # fixed since
    group.submit(tracked, 9, key="later")
    before = group.session["bad#0"]
    assert (before.status, before.tries) == (TaskStatus.REPLAYED, 2)
    result = group.run().wait()
    group.close()

    assert sorted(ran) == ["1", "9"]  # finished tasks did not run again
    assert dict(result.results) == {
        **{f"sq{i}": i * i for i in range(4)},
        "big": list(range(3000)),
        "bad": 1,
        "later": 81,
    }
    assert group.session["bad#1"].metadata == {"parent": "bad#0", "depth": 1}
    assert len(seen) == 1
    assert group.result("big") == list(range(3000))


def test_markers_written_by_main_read_back(tmp_path: Path) -> None:
    store = _copy(tmp_path)
    root = marker_get("old/1/root", store=store)
    assert root is not None
    assert root.children == ["old/1/t/0", "old/1/t/1"]
    assert load_context("old/1/root", store=store) == {"who": "fixture"}
