"""TaskGroup: declaring, running, results, failures, resume, skip/replay, progress, errors."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from _task_funcs import fail, shout, square

from persist_ext._errors import TaskError
from persist_ext.features._progress import ProgressSnapshot, ProgressSource
from persist_ext.features._tasks import GroupResult, TaskGroup, TaskStatus
from persist_ext.storage._memory import MemoryStore
from persist_ext.storage._store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "store")


def test_map_submit_run_wait_results(store: Store) -> None:
    seen: list[GroupResult] = []
    with TaskGroup("g", store, on_complete=seen.append) as group:
        keys = group.map(square, range(5), key=lambda x: f"sq{x}")
        extra = group.submit(square, 7, key="seven")
        assert group.submit(square, 8) == "square-0"  # automatic, stable keys
        result = group.run().wait()
    assert keys == [f"sq{i}" for i in range(5)]
    assert extra == "seven"
    assert result.results == {**{f"sq{i}": i * i for i in range(5)}, "seven": 49, "square-0": 64}
    assert result.ok
    assert len(seen) == 1
    assert seen[0].results == result.results
    assert group.result("seven") == 49
    assert group.read_task("sq3") == 9
    assert group.list_tasks("sq?") == [f"sq{i}" for i in range(5)]
    record = group.session["sq2#0"]
    assert record.status is TaskStatus.FINISHED
    assert record.tries == 1
    assert record.started is not None
    assert record.ended >= record.started


def test_run_does_not_block(store: Store) -> None:
    gate = threading.Event()
    group = TaskGroup("nb", store)
    group.submit(gate.wait, 30, key="waits")
    group.run()  # returns while the task is blocked
    assert group.running
    with pytest.raises(TimeoutError):
        group.wait(timeout=0.05)
    gate.set()
    assert group.wait().results == {"waits": True}
    assert not group.running
    group.close()


def test_failure_recorded_with_traceback_and_reported_to_callback(store: Store) -> None:
    seen: list[GroupResult] = []
    group = TaskGroup("f", store, on_complete=seen.append, max_tries=3)
    group.map(fail, [1], key=str)
    group.submit(square, 2, key="ok")
    result = group.run().wait()
    failure = result.failures["1"]
    assert failure.tries == 3
    assert "ValueError: bad input 1" in failure.error
    assert 'raise ValueError(f"bad input {x}")' in failure.traceback
    assert len(seen) == 1
    assert seen[0].failures.keys() == {"1"}
    assert seen[0].results == {"ok": 4}
    instance = group.session["1#0"]
    assert instance.status is TaskStatus.FAILED
    assert group.session.get_instances_with_unresolved_logs() == [instance]
    with pytest.raises(TaskError, match="status: failed"):
        group.result("1")
    with pytest.raises(FileNotFoundError):
        group.read_task("1")
    group.close()


def test_captured_output_per_thread(store: Store) -> None:
    group = TaskGroup("out", store, max_workers=4)
    group.map(shout, range(8), key=str)
    group.run().wait()
    for i in range(8):
        instance = group.session[f"{i}#0"]
        assert instance.stdout == f"out {i}\n"
        assert instance.stderr == f"err {i}\n"
    group.close()


@pytest.mark.parametrize("workers", [2, 4])
def test_threads_run_every_task_at_once_when_workers_allow(store: Store, workers: int) -> None:
    """Tasks that can only finish together (a barrier) finish: each gets its own thread."""
    meet = threading.Barrier(workers, timeout=60)

    def wait_for_all(x: int) -> int:
        meet.wait()
        return x

    group = TaskGroup("meet", store, max_workers=workers)
    group.map(wait_for_all, range(workers), key=str)
    result = group.run().wait()
    group.close()
    assert result.results == {str(i): i for i in range(workers)}


def test_bad_input_errors(store: Store) -> None:
    group = TaskGroup("bad", store)
    group.map(square, [1, 2], key=str)
    with pytest.raises(TaskError, match="Duplicate task key '1'"):
        group.submit(square, 1, key="1")
    with pytest.raises(TaskError, match="Duplicate task key 'x'"):
        group.map(square, [1, 2], key=lambda _: "x")
    with pytest.raises(TaskError, match="'#' is reserved"):
        group.submit(square, 1, key="a#1")
    with pytest.raises(TaskError, match="Unknown task keys"):
        group.run(["nope"])
    with pytest.raises(TaskError, match="max_tries must be an int >= 1"):
        TaskGroup("m", store, max_tries=0)
    # Mistyped arguments are refused when the group is made, before it opens a store.
    with pytest.raises(TaskError, match="Unknown executor 'gpu'; use 'threads'"):
        TaskGroup("e", store, executor="gpu")
    with pytest.raises(TaskError, match=r"on_complete must be a function.*not int 1"):
        TaskGroup("e", store, on_complete=1)
    with pytest.raises(TaskError, match=r"map\(\) needs an iterable of items, not int 5"):
        group.map(square, 5)
    empty = TaskGroup("empty", store)
    with pytest.raises(TaskError, match="no tasks declared"):
        empty.run()
    group.close()
    with pytest.raises(TaskError, match="closed"):
        group.run()


def test_a_mistyped_executor_is_refused_before_the_default_store_is_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PERSIST_EXT_DIR", raising=False)
    with pytest.raises(TaskError, match=r"Unknown executor 'thread' \(did you mean 'threads'\?\)"):
        TaskGroup("downloads", executor="thread")
    # A path where the store goes (like Store(path)) was an AttributeError: 'str' ... 'keys'.
    with pytest.raises(TaskError, match=r"store must be a store such as .*not str '\.persist'"):
        TaskGroup("downloads", ".persist")  # type: ignore[arg-type]
    with pytest.raises(TaskError, match="max_workers must be an int >= 1"):
        TaskGroup("downloads", max_workers="4")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []  # no .persist made for a group that cannot run


def test_progress_shows_as_its_line_in_a_notebook(ip, store: Store) -> None:
    """docs/tasks.md, Progress: ``group.progress()`` as a cell's last expression shows the
    line every renderer draws (examples/02-task-groups.ipynb ends a cell with it), not the
    dataclass's fields; a snapshot of unfinished work says when it was read."""
    group = TaskGroup("shown", store)
    group.map(square, [1, 2], key=str)
    before = ip.display_formatter.format(group.progress())[0]
    assert before["text/plain"].startswith("shown [")
    assert "0 done, 2 to do" in before["text/plain"]
    assert "not finished then" in before["text/plain"]
    group.run().wait()
    after = ip.display_formatter.format(group.progress())[0]
    assert "ProgressSnapshot(" not in after["text/plain"]
    assert "2 done, 0 to do" in after["text/plain"]
    assert "finished" in after["text/plain"]
    assert "not finished then" not in after["text/plain"]
    assert "persist-ext-progress" in group.progress()._repr_html_()
    assert "ProgressSnapshot(" in repr(group.progress())  # repr keeps every field
    group.close()


def test_lambda_with_processes_is_a_clear_error(store: Store) -> None:
    group = TaskGroup("lam", store, executor="processes", max_workers=1)
    group.map(lambda x: x, [1])
    with pytest.raises(TaskError, match=r"cannot be sent to a process pool.*module level"):
        group.run()
    group.close()


def test_memory_store_with_processes_is_a_clear_error() -> None:
    group = TaskGroup("mem", MemoryStore(), executor="processes", max_workers=1)
    group.map(square, [1])
    with pytest.raises(TaskError, match=r"Store\(directory\) or RedisStore\(url\)"):
        group.run()
    group.close()


def test_resume_skips_finished_and_retries_failed(store: Store) -> None:
    calls: list[int] = []
    flaky_ok = threading.Event()

    def flaky(x: int) -> int:
        calls.append(x)
        if x == 3 and not flaky_ok.is_set():
            raise RuntimeError("transient")
        return x

    seen: list[GroupResult] = []
    # First run: no retries, so task 3 fails for now.
    first = TaskGroup("r", store, max_tries=1, on_complete=seen.append)
    first.map(flaky, range(5), key=str)
    first.run().wait()
    assert first.status(3) is TaskStatus.FAILED
    first.close()
    assert len(seen) == 1  # failed for good under max_tries=1: the group completed
    calls.clear()
    flaky_ok.set()

    again = TaskGroup("r", store, max_tries=2, on_complete=seen.append)  # "after a restart"
    again.map(flaky, range(5), key=str)
    result = again.run().wait()
    assert calls == [3]  # finished tasks did not run again
    assert result.results == {str(i): i for i in range(5)}
    assert again.session["3#0"].tries == 2
    assert len(seen) == 1  # the callback does not fire a second time
    again.close()


def test_skip_abandon_and_replay(store: Store) -> None:
    seen: list[GroupResult] = []
    group = TaskGroup("s", store, on_complete=seen.append)
    group.map(fail, [1, 2], key=str)
    group.submit(square, 3, key="later")
    group.run(["1", "2"]).wait()
    assert seen == []  # "later" is unsettled
    skipped = group.skip("later")
    assert skipped.status is TaskStatus.SKIPPED
    assert len(seen) == 1
    assert seen[0].skipped == ("later",)
    with pytest.raises(TaskError, match="already skipped"):
        group.skip("later")
    with pytest.raises(TaskError, match="Only failed instances can be replayed"):
        group.replay("later")

    group.close()
    group = TaskGroup("s", store, on_complete=seen.append)  # the fix, after a restart
    group.map(square, [1, 2], key=str)
    group.submit(square, 3, key="later")
    clone = group.replay("1#0")
    assert clone.name == "1#1"
    assert clone.metadata == {"parent": "1#0", "depth": 1}
    group.wait()
    assert group.session["1#0"].status is TaskStatus.REPLAYED
    assert group.result("1") == 1
    assert group.abandon("2").status is TaskStatus.ABANDONED
    assert group.session.get_unresolved_instances() == []
    assert group.session.get_instances_with_unresolved_logs() == []
    assert len(seen) == 1
    group.close()


def test_a_finished_groups_rate_and_moment_do_not_change_when_read_later(store: Store) -> None:
    # Read later (the end-of-cell re-publish, a display opened the next day, a second run
    # that finds everything done), a finished group shows the rate its tasks ran at and the
    # moment its last task settled, not a rate spread over the time since.
    group = TaskGroup("later", store)
    group.map(square, range(20), key=str)
    group.run().wait()
    first = group.progress()
    group.close()
    time.sleep(0.3)
    again = TaskGroup("later", store)
    again.map(square, range(20), key=str)
    again.run().wait()  # nothing left to run
    later = again.progress()
    assert later.finished
    assert later.updated == first.updated
    assert later.rate == first.rate
    assert later.updated <= time.time() - 0.3
    again.close()


def test_progress_model_and_text(store: Store) -> None:
    group = TaskGroup("p", store, batch_size=2, group_size=2)
    group.map(square, range(5), key=str)
    group.submit(fail, 0, key="bad")
    snap0 = group.progress()
    assert isinstance(group.progress_model(), ProgressSource)
    assert (snap0.total, snap0.done, snap0.todo) == (6, 0, 6)
    group.run().wait()
    snap = group.progress()
    assert isinstance(snap, ProgressSnapshot)
    assert (snap.total, snap.done, snap.failed, snap.running, snap.todo) == (6, 5, 1, 0, 0)
    assert snap.finished
    assert snap.rate is not None
    assert snap.eta == 0.0
    assert snap.levels[0] == (6, 6)
    assert snap.levels[-1] == (1, 1)
    assert [row["instance"] for row in snap.rows] == ["bad#0"]
    counts = group.counts()
    assert counts["finished"] == 5
    assert counts["failed"] == 1
    assert counts["running"] == 0
    text = repr(group)
    assert "5/6" in text or "6/6" in text
    assert "bad#0: failed" in text
    assert "ValueError" in text
    group.close()


def test_combined_result(store: Store) -> None:
    group = TaskGroup(
        "c", store, batch_size=2, leaf_combiner=sum, internal_vertex_combiner=sum, max_workers=2
    )
    group.map(square, range(10), key=str)
    assert group.run().wait().combined == sum(i * i for i in range(10))
    group.close()


def test_root_id_levels_output_and_large_results(store: Store) -> None:
    import numpy as np

    from persist_ext.features._tasks import filter_known_done, marker_get
    from persist_ext.features._tasks._markers import level_completion

    def loud(x: int) -> object:
        print(f"working on {x}\nstep {x} done")
        if x == 3:
            raise ValueError("three")
        return np.arange(x) if x == 2 else x

    group = TaskGroup("o", store, batch_size=2, group_size=2, flush_interval=0)
    assert group.root_id is None
    group.map(loud, range(5), key=str)
    group.run().wait()
    assert group.root_id == "o/1/root"
    assert marker_get(group.root_id, store=store).done
    # leaves are stored without records: the totals still count them (not "tasks 5/0")
    assert level_completion(store, group.root_id)[0] == (5, 5)
    assert group.progress().levels[0] == (5, 5)
    assert filter_known_done([f"o/1/t/{i}" for i in range(5)], store=store) == []
    (row,) = group.progress().rows
    assert row["instance"] == "3#0"
    assert row["output"] == "step 3 done"
    assert np.array_equal(group.result("2"), np.arange(2))  # under its own key
    assert group.result("4") == 4  # inline in a journal page
    results = group.result().results
    assert sorted(results) == ["0", "1", "2", "4"]
    assert results["4"] == 4
    assert np.array_equal(results["2"], np.arange(2))
    with pytest.raises(TaskError, match="flush_interval"):
        TaskGroup("bad", store, flush_interval=5)
    group.close()


def test_journal_compaction_keeps_everything(store: Store) -> None:
    from persist_ext.features._tasks._journal import page_prefix

    for round_ in range(70):  # one page or more per run: compaction kicks in past 64
        group = TaskGroup("j", store, flush_interval=0)
        group.map(square, range(3), key=str)
        if round_ % 10 == 0:
            group.submit(square, round_, key=f"r{round_}")
        group.run().wait()
        group.close()
    assert len(list(store.keys(page_prefix("j")))) <= 65
    fresh = TaskGroup("j", store)
    assert fresh.read_task("2") == 4
    assert fresh.read_task("r60") == 3600
    assert all(i.status is TaskStatus.FINISHED for i in fresh.session)


def test_a_closed_group_is_freed_without_the_cycle_collector(store: Store) -> None:
    # A group holds its records (10,000 dicts for 10,000 tasks). Left in a reference cycle
    # it waits for the cyclic collector, whose next full pass then runs inside another
    # group's run; freed by reference counting, it costs nothing later.
    import gc
    import weakref

    group = TaskGroup("freed", store, on_complete=lambda result: None)
    group.map(square, range(20), key=str)
    group.run().wait()
    group.close()
    ref = weakref.ref(group)
    enabled = gc.isenabled()
    gc.disable()
    try:
        del group
        assert ref() is None
    finally:
        if enabled:
            gc.enable()
