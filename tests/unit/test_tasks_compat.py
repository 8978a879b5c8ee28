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
    TaskInstance,
    TaskStatus,
    group_keys,
    group_names,
    load_context,
    marker_get,
)
from persist_ext.features._tasks._journal import Journal
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


def test_first_run_records_without_empty_fields_resume(tmp_path: Path) -> None:
    # A first run stores its new records with name, task and status only (the rest at
    # TaskInstance's defaults, so the garbage collector can untrack them); they read back
    # with those defaults, and a store left half-run that way resumes like one written
    # with every field.
    store = Store(tmp_path / "store")
    first = TaskGroup("fresh", store, on_complete=lambda result: None)
    for i in range(3):
        first.submit(square, i, key=f"k{i}")
    first.run(keys=["k0"]).wait()
    first.close()
    keys = group_keys("fresh")
    stored = [store.get(k) for k in store.keys(keys.log_prefix)]
    scheduled = next(page["r"]["k1#0"] for page in stored if "k1#0" in page["r"])
    assert scheduled == {"name": "k1#0", "task": "k1", "status": "unstarted"}
    # An earlier persist_ext's reader (TaskInstance.from_record) gets the defaults.
    assert TaskInstance.from_record(scheduled) == TaskInstance("k1#0", "k1")
    # Beside it, a record of the earlier, complete shape (written by hand here).
    with store.transact():
        Journal(store, "fresh").write({"k2#0": TaskInstance("k2#0", "k2").to_record()})

    seen = []
    again = TaskGroup("fresh", Store(tmp_path / "store"), on_complete=seen.append)
    for i in range(3):
        again.submit(square, i, key=f"k{i}")
    result = again.run().wait()
    again.close()
    assert dict(result.results) == {"k0": 0, "k1": 1, "k2": 4}
    assert len(seen) == 1
    instance = again.session["k1#0"]
    assert (instance.kwargs, instance.metadata, instance.logs) == ({}, {}, [])
    assert instance.status is TaskStatus.FINISHED


def test_page_outline_leaves_out_defaults() -> None:
    # The page header's outline (what the Persist panel's server reads with .get() and
    # these defaults) carries only what is set: task and status, then tries, times, lines.
    from persist_ext.features._tasks._journal import page_outline
    from persist_ext.features._tasks._model import new_record

    scheduled = new_record("a#0", "a", "scheduled")
    finished = {
        **scheduled,
        "status": "finished",
        "tries": 1,
        "started": 10.5,
        "ended": 11.0,
        "stdout": "one\ntwo\n",
    }
    failed = {**finished, "status": "failed", "stdout": "", "error": "ValueError: x"}
    assert page_outline({"a#0": scheduled}) == {"a#0": {"task": "a", "status": "scheduled"}}
    assert page_outline({"a#0": finished})["a#0"] == {
        "task": "a",
        "status": "finished",
        "tries": 1,
        "started": 10.5,
        "ended": 11.0,
        "output": "two",
    }
    assert page_outline({"a#0": failed})["a#0"]["error"] == "ValueError: x"
    assert "output" not in page_outline({"a#0": failed})["a#0"]
