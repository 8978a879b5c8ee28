"""Tracker: the seed's two loops, try/done/abort bookkeeping, counters, progress snapshots."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from persist_ext import DEFAULT_PROGRESS_TRACKER_MAPPING, DuplicateKeyError
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
    with pytest.raises(KeyError, match=r"task 'missing' is not tracked; add it with tracker"):
        tracker.tries("missing")
    # A typo'd key type names the key that is tracked, and nothing is marked.
    tracker.add(3)
    with pytest.raises(KeyError, match=r"task '3' is not tracked \(3 is: str and int keys"):
        tracker.mark_done("3")
    assert not tracker.check(3)
    with pytest.raises(PODError, match="max_tries"):
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
        assert snap.resumed == 100  # settled by the earlier run
        elapsed = snap.updated - snap.started
        assert snap.rate == pytest.approx(1 / elapsed)  # this session settled one


def test_a_finished_trackers_rate_and_moment_do_not_change_when_read_later(
    tmp_path: Path,
) -> None:
    with Tracker(tmp_path / "t") as tracker:
        tracker.add_many(range(10))
        for i in range(10):
            tracker.mark_done(i)
        first = tracker.progress()
        time.sleep(0.05)
        later = tracker.progress()
        assert later.finished
        assert later.updated == first.updated
        assert later.rate == first.rate


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


# --- nothing lost (issue #12) ---------------------------------------------------------------

SEED_EXAMPLE_1 = """
import persist_ext as tastypy
MAX_TRIES = 3

class Result:                       # not JSON: the seed stores it in the record
    def __init__(self, success):
        self.success = success

class Task:
    def __init__(self, name):
        self.name = name

def run(task):
    return Result(task.name != "t3")

def do_work(work_queue):
    tracker = tastypy.Tracker(PATH)

    for task in work_queue:

        # If the task has be done, skip it
        if tracker.check(task.name):
            continue

        # Add the task if it is not already in the tracker
        if task.name not in tracker:
            tracker.add(task.name)

        # Skip this task if we've tried it too many times
        if tracker.tries(task.name) > MAX_TRIES:
            continue

        # Now attempt the task
        result = run(task)

        # If it succeeded, mark the task done, and record results
        if result.success:
            tracker.mark_done(task.name)
            tracker[task.name]['result'] = result

do_work([Task(f"t{i}") for i in range(5)])
"""


def run_script(code: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout
    )


def test_seed_example_1_verbatim_loses_no_done_mark(tmp_path: Path) -> None:
    path = tmp_path / "my.tracker"
    child = run_script(f"PATH = {str(path)!r}\n" + SEED_EXAMPLE_1)
    assert child.returncode == 0, child.stderr
    # Said on stderr, exactly: which tasks, which field, what type, and that marks were saved.
    for name in ["t0", "t1", "t2", "t4"]:
        assert f"tracker['{name}']['result'] is a Result, which is not JSON" in child.stderr
    assert "_done/_tries/_aborted marks and its other fields were saved" in child.stderr
    with Tracker(path) as tracker:
        assert [k for k in tracker if tracker.check(k)] == ["t0", "t1", "t2", "t4"]
        assert not tracker.check("t3")
        assert "result" not in tracker["t0"]  # the one thing that could not be saved


def test_try_counts_and_json_fields_survive_a_bad_field(tmp_path: Path) -> None:
    path = tmp_path / "t"
    code = f"""
import persist_ext as tastypy
tracker = tastypy.Tracker({str(path)!r}, max_tries=3)
for name in ["a", "b", "c"]:
    if not tracker.try_it(name):
        continue
    tracker[name]["note"] = "tried " + name       # JSON: saved
    tracker[name]["handle"] = open("/dev/null")      # not JSON
    if name != "b":
        tracker.mark_done(name)
"""
    for _ in range(2):
        child = run_script(code)
        assert child.returncode == 0, child.stderr
        assert "['handle'] is a TextIOWrapper" in child.stderr
    with Tracker(path, max_tries=3) as tracker:
        assert [(k, tracker.tries(k), tracker.check(k)) for k in tracker] == [
            ("a", 1, True),
            ("b", 2, False),
            ("c", 1, True),
        ]
        assert tracker["b"]["note"] == "tried b"


def test_marks_reach_disk_without_any_exit_handler(tmp_path: Path) -> None:
    """A hard kill (no atexit, no signal handler) keeps marks older than ``sync_after``."""
    path = tmp_path / "t"
    code = f"""
import os, signal, time
import persist_ext as tastypy
tracker = tastypy.Tracker({str(path)!r})            # default: marks synced within 1 s
for i in range(50):
    tracker.try_it(i)
    tracker.mark_done(i)
deadline = time.monotonic() + 60
while time.monotonic() < deadline:                   # wait until the background sync wrote
    entries = {{}}
    for name in tastypy.ls({str(path)!r}):
        with open(name) as f:
            entries.update(tastypy.JSONSerializer.read_items(f))
    if sum(1 for v in entries.values() if v["_done"]) == 50:
        break
    time.sleep(0.05)
os.kill(os.getpid(), signal.SIGKILL)
"""
    child = run_script(code)
    assert child.returncode == -signal.SIGKILL
    with Tracker(path) as tracker:
        assert tracker.num_done() == 50
        assert tracker.num_tried() == 50


def test_background_sync_keeps_a_handed_out_record_dirty(tmp_path: Path) -> None:
    tracker = Tracker(tmp_path / "t")
    tracker.add("a")
    record = tracker["a"]  # handed out: the caller may mutate it right after a sync
    state = tracker._state
    state.sync_in_background()  # what the sync_after thread runs, here at the worst moment
    assert on_disk_record(tmp_path / "t", "a") == dict(DEFAULT_PROGRESS_TRACKER_MAPPING)
    record["late"] = 1  # the mutation that follows the access
    state.sync_in_background()
    assert on_disk_record(tmp_path / "t", "a")["late"] == 1
    assert tracker.dirty() == set()  # one extra round only
    tracker.close()


def on_disk_record(path: Path, key: str) -> dict:
    from persist_ext import JSONSerializer, ls

    entries: dict = {}
    for name in ls(path):
        with open(name) as handle:
            entries.update(JSONSerializer.read_items(handle))
    return entries.get(key, {})


def test_close_saves_marks_then_raises_about_the_bad_field(tmp_path: Path) -> None:
    tracker = Tracker(tmp_path / "t")
    tracker.try_it("a")
    tracker.mark_done("a")
    tracker["a"]["result"] = {1, 2}
    tracker["a"]["ok"] = [1]
    with pytest.raises(PODError, match=r"tracker\['a'\]\['result'\] is a set"):
        tracker.close()
    with Tracker(tmp_path / "t") as again:
        assert again["a"] == {"_tries": 1, "_done": True, "_aborted": False, "ok": [1]}


def test_replacing_a_record_keeps_its_bookkeeping(tmp_path: Path) -> None:
    with Tracker(tmp_path / "t") as tracker:
        tracker.try_it("a")
        tracker.mark_done("a")
        tracker["a"] = {"result": 42}  # the marks are not the user's to lose by accident
        assert tracker["a"] == {"result": 42, "_tries": 1, "_done": True, "_aborted": False}
        tracker["a"] = {"_done": False}  # explicit fields win
        assert not tracker.check("a")
        tracker["new"] = {}
        assert tracker["new"] == dict(DEFAULT_PROGRESS_TRACKER_MAPPING)
        with pytest.raises(PODError, match="task records"):
            tracker["b"] = 5
        with pytest.raises(DuplicateKeyError):
            tracker.add("a")


def test_hold_postpones_background_syncs_until_unhold(tmp_path: Path) -> None:
    tracker = Tracker(tmp_path / "t", sync_after=0.05)
    tracker.hold()
    tracker.try_it("a")
    tracker.mark_done("a")
    tracker._state.sync_in_background()  # what the thread would run while held
    assert on_disk_record(tmp_path / "t", "a") == {}
    tracker.unhold()  # schedules the postponed sync
    deadline = time.monotonic() + 60
    while not on_disk_record(tmp_path / "t", "a") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert on_disk_record(tmp_path / "t", "a")["_done"] is True
    tracker.close()
