"""Tracker: the seed's two loops, try/done/abort bookkeeping, counters, progress snapshots."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from persist_ext._errors import PODError
from persist_ext.features._pod._tracker import ProgressTracker, Tracker
from persist_ext.features._progress import ProgressSnapshot

MAX_TRIES = 2


@dataclass
class Task:
    name: str


@dataclass
class Result:
    success: bool
    value: int


def test_seed_first_loop(tmp_path: Path) -> None:
    attempts: dict[str, int] = {}

    def run(task: Task) -> Result:
        attempts[task.name] = attempts.get(task.name, 0) + 1
        return Result(success=task.name != "flaky", value=len(task.name))

    def do_work(work_queue: list[Task]) -> None:
        tracker = Tracker(tmp_path / "my.tracker")
        for task in work_queue:
            if tracker.check(task.name):
                continue
            if task.name not in tracker:
                tracker.add(task.name)
            if tracker.tries(task.name) > MAX_TRIES:
                continue
            tracker.increment_tries(task.name)
            result = run(task)
            if result.success:
                tracker.mark_done(task.name)
                tracker[task.name]["result"] = result.value

    queue = [Task("a"), Task("flaky"), Task("bb")]
    do_work(queue)
    do_work(queue)  # a rerun skips what is done
    assert attempts == {"a": 1, "flaky": 2, "bb": 1}
    tracker = Tracker(tmp_path / "my.tracker")
    assert tracker["bb"]["result"] == 2
    tracker.close()


def test_seed_second_loop_with_max_tries_resumes_after_reopen(tmp_path: Path) -> None:
    calls: list[str] = []

    def do_work(work_queue: list[Task], crash_at: str | None = None) -> None:
        tracker = Tracker(tmp_path / "my.tracker", max_tries=3)
        for task in work_queue:
            if not tracker.try_it(task.name):
                continue
            calls.append(task.name)
            if task.name == crash_at or task.name == "always-fails":
                continue  # "crashed": never marked done
            result = len(task.name)
            tracker.mark_done(task.name)
            tracker[task.name]["result"] = result
        tracker.close()

    queue = [Task("x"), Task("always-fails"), Task("yy")]
    for _ in range(5):
        do_work(queue)
    assert calls.count("x") == 1
    assert calls.count("yy") == 1
    assert calls.count("always-fails") == 3  # max_tries
    with Tracker(tmp_path / "my.tracker", max_tries=3) as tracker:
        assert tracker.num_done() == 2
        assert tracker.num_failed() == 1
        assert tracker["yy"] == {"_tries": 1, "_done": True, "_aborted": False, "result": 2}


def test_try_it_rules(tmp_path: Path) -> None:
    tracker = Tracker(tmp_path / "t", max_tries=2)
    assert tracker.try_it("k")
    assert tracker.tries("k") == 1
    assert tracker.try_it("k")
    assert tracker.tries("k") == 2
    assert not tracker.try_it("k")
    assert tracker.tries("k") == 2
    tracker.add("done")
    tracker.mark_done("done")
    assert not tracker.try_it("done")
    tracker.add("stop")
    tracker.abort("stop")
    assert not tracker.try_it("stop")
    assert tracker.try_it("stop", allow_aborted=True)
    tracker.unabort("stop")
    tracker.mark_not_done("done")
    assert tracker.try_it("done")
    tracker.close()


def test_unlimited_tries_and_add_errors(tmp_path: Path) -> None:
    tracker = ProgressTracker(tmp_path / "t")
    for _ in range(50):
        assert tracker.try_it("k")
    assert tracker.tries("k") == 50
    with pytest.raises(PODError, match="already tracked"):
        tracker.add("k")
    tracker.add_if_absent("k")
    assert not tracker.check("missing")
    with pytest.raises(KeyError):
        tracker.tries("missing")
    with pytest.raises(ValueError, match="max_tries"):
        Tracker(tmp_path / "u", max_tries=-1)
    tracker.close()


def test_counters_fractions_and_iterators(tmp_path: Path) -> None:
    tracker = Tracker(tmp_path / "t", max_tries=1)
    tracker.add_many(["a", "b", "c", "d"])
    tracker.mark_done("a")
    tracker.abort("b")
    tracker.increment_tries("c")  # out of tries
    assert list(tracker.todo_keys()) == ["d"]
    assert list(tracker.todo_keys(allow_aborted=True)) == ["b", "d"]
    assert tracker.num_done() == 1
    assert tracker.num_tried() == 1
    assert tracker.num_aborted() == 1
    assert tracker.num_failed() == 2
    assert tracker.num_todo() == 1
    assert tracker.fraction_done() == 0.25
    assert tracker.percent_done() == "25.00 %"
    assert tracker.percent_not_done(1) == "75.0 %"
    assert list(tracker.try_keys()) == ["d"]
    assert tracker.tries("d") == 1
    assert list(dict(tracker.todo_items(allow_aborted=True))) == ["b"]
    # Direct edits through tracker[key] are counted too.
    tracker["a"]["_done"] = False
    assert tracker.num_done() == 0
    del tracker["b"]
    assert tracker.num_aborted() == 0
    tracker.close()
    with Tracker(tmp_path / "t", max_tries=1) as again:
        assert again.num_tried() == 2
        assert len(again) == 3


def test_status_reads_do_not_dirty(tmp_path: Path) -> None:
    with Tracker(tmp_path / "t") as tracker:
        tracker.add("a")
        tracker.sync()
        tracker.check("a"), tracker.tries("a"), tracker.should_do("a")
        assert tracker.dirty() == set()


def test_progress_snapshot_and_reprs(tmp_path: Path) -> None:
    tracker = Tracker(tmp_path / "jobs", max_tries=1)
    tracker.add_many(range(4))
    snap = tracker.progress()
    assert isinstance(snap, ProgressSnapshot)
    assert (snap.title, snap.total, snap.done, snap.failed, snap.todo) == ("jobs", 4, 0, 0, 4)
    assert snap.rate is None
    tracker.mark_done(0)
    tracker.abort(1)
    snap = tracker.progress()
    assert (snap.done, snap.failed, snap.todo, snap.finished) == (1, 1, 2, False)
    assert snap.rate is not None
    assert snap.rate > 0
    assert "1 done, 1 failed, 2 to do" in repr(tracker)
    assert "persist-ext-progress" in tracker._repr_html_()
    tracker.mark_done(2)
    tracker.mark_done(3)
    assert tracker.progress().finished
    tracker.close()


def test_rate_ignores_work_done_by_earlier_runs(tmp_path: Path) -> None:
    with Tracker(tmp_path / "t") as tracker:
        for i in range(100):
            tracker.add(i)
            tracker.mark_done(i)
        tracker.add("new")
    with Tracker(tmp_path / "t") as tracker:
        assert tracker.progress().rate is None  # nothing settled in this session yet
        tracker.mark_done("new")
        snap = tracker.progress()
        elapsed = snap.updated - snap.started
        assert snap.settled / elapsed == pytest.approx(snap.rate)


def test_observers_are_called_on_changes(tmp_path: Path) -> None:
    seen: list[int] = []
    with Tracker(tmp_path / "t") as tracker:
        callback = lambda t: seen.append(t.num_done())  # noqa: E731
        tracker.add_observer(callback)
        tracker.try_it("a")
        tracker.mark_done("a")
        tracker.remove_observer(callback)
        tracker.mark_not_done("a")
    assert seen[-1] == 1
    assert len(seen) == 3
