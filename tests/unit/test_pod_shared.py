"""SharedPOD / SharedTracker: one POD or Tracker used by several processes (tastypy's
SharedPersistentOrderedDict / SharedProgressTracker, under ``persist_ext.pod``)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import struct
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from persist_ext import ConcurrentAccessError, PODError
from persist_ext.pod import (
    POD,
    SharedPersistentOrderedDict,
    SharedPOD,
    SharedProgressTracker,
    SharedTracker,
    Tracker,
)


def _bump(shared: SharedPOD, times: int) -> None:
    for _ in range(times):
        with shared.locked():
            shared.set["n"] += 1
        shared.set["log"].append(os.getpid())


def _work(tracker: SharedTracker, keys: list[str]) -> None:
    for key in keys:
        with tracker.locked():  # try and mark as one step: no other process tries it between
            if tracker.try_it(key):
                tracker.mark_done(key)


def test_processes_update_one_pod_through_set_and_nothing_is_lost(tmp_path: Path) -> None:
    shared = SharedPOD(tmp_path / "p")
    shared["n"] = 0
    shared["log"] = []
    workers = [multiprocessing.Process(target=_bump, args=(shared, 100)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    assert shared["n"] == 300
    assert len(shared["log"]) == 300
    shared.set["d"] = {"a": 1, "gone": 2, "l": [1]}
    shared.set["d"]["l"] += [2]
    shared.set["d"].update({"b": 3})
    del shared.set["d"]["gone"]
    assert shared["d"] == {"a": 1, "l": [1, 2], "b": 3}
    assert shared.keys() == ["n", "log", "d"]
    assert list(shared) == shared.keys()
    assert "d" in shared
    assert len(shared) == 3
    shared.close()
    with POD(tmp_path / "p") as pod:
        assert pod["n"] == 300
        assert pod["d"] == {"a": 1, "l": [1, 2], "b": 3}


def test_shared_tracker_runs_the_tracker_methods_in_its_server(tmp_path: Path) -> None:
    tracker = SharedTracker(tmp_path / "t", max_tries=2)
    tracker.add_many(["a", "b", "c", "d"])
    tracker.abort("a")
    tracker.increment_tries("b")
    tracker.increment_tries("c")
    tracker.increment_tries("c")
    tracker.mark_done("d")
    assert [key for key, _ in tracker.todo_items()] == ["b"]
    keys = [f"k{i}" for i in range(40)]
    workers = [multiprocessing.Process(target=_work, args=(tracker, keys)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert tracker.num_done() == 41
    assert all(tracker.tries(key) == 1 for key in keys)  # each task tried by one process
    tracker.close()
    with Tracker(tmp_path / "t") as again:
        assert again.num_done() == 41


def test_errors_of_the_server_reach_the_caller_and_the_pod_stays_usable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(PODError, match="is a file"):
        SharedPOD(tmp_path / "file")
    shared = SharedPOD(tmp_path / "p")
    with pytest.raises(PODError, match="is a set"):
        shared["k"] = {1, 2}
    with pytest.raises(KeyError):
        shared["missing"]
    with pytest.raises(AttributeError):
        shared.no_such_method
    shared["k"] = 1
    assert shared["k"] == 1
    shared.close()
    with pytest.raises(PODError, match="closed"):
        shared["k"]


def test_tastypy_long_names() -> None:
    assert SharedPersistentOrderedDict is SharedPOD
    assert SharedProgressTracker is SharedTracker


def test_what_a_killed_creator_was_told_is_stored_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "p"
    script = textwrap.dedent(
        f"""
        import sys, time
        from persist_ext.pod import SharedPOD
        shared = SharedPOD({str(path)!r})
        for i in range(50):
            shared[f"k{{i}}"] = i
        print("stored", flush=True)
        time.sleep(600)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "stored"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    deadline = time.monotonic() + 60
    while True:  # the server sees its clients gone, syncs and releases the directory
        try:
            pod = POD(path)
            break
        except ConcurrentAccessError:
            assert time.monotonic() < deadline, "the server kept the POD after its creator died"
            time.sleep(0.1)
    with pod:
        assert [pod[f"k{i}"] for i in range(50)] == list(range(50))


def test_shared_tracker_passes_every_tracker_option_to_its_server(tmp_path: Path) -> None:
    with pytest.raises(PODError, match="sync_after"):
        SharedTracker(tmp_path / "t", 3, sync_after=-1)
    with pytest.raises(PODError, match="file_size"):
        SharedTracker(tmp_path / "t", 3, None, None, 0)


def _die_holding_the_lock(shared: SharedPOD) -> None:
    with shared.locked():
        shared["inside"] = True
        os.kill(os.getpid(), signal.SIGKILL)


def _die_before_reading_the_reply(shared: SharedPOD) -> None:
    shared.lock()
    shared._connection().send((("dead", 1), "call", "__getitem__", ("n",), {}))  # never read
    os.kill(os.getpid(), signal.SIGKILL)


def _die_mid_send(shared: SharedPOD) -> None:
    shared.lock()
    conn = shared._connection()
    conn._send(struct.pack("!i", 1000) + b"torn")  # a frame's header and a piece of it
    os.kill(os.getpid(), signal.SIGKILL)


def _in_time(call) -> object:
    box: list[object] = []
    thread = threading.Thread(target=lambda: box.append(call()), daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "blocked: a dead process's lock was never released"
    return box[0]


@pytest.mark.parametrize(
    "death", [_die_holding_the_lock, _die_before_reading_the_reply, _die_mid_send]
)
def test_a_worker_killed_inside_a_call_blocks_nobody(tmp_path: Path, death) -> None:
    shared = SharedPOD(tmp_path / "p")
    shared["n"] = 5
    worker = multiprocessing.Process(target=death, args=(shared,))
    worker.start()
    worker.join(60)
    assert worker.exitcode == -signal.SIGKILL
    assert _in_time(lambda: shared["n"]) == 5  # its own answer, not the dead one's
    _in_time(lambda: shared.__setitem__("n", 6))
    assert _in_time(lambda: shared.keys())[0] == "n"
    shared.close()
