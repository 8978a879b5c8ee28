"""A crashing or hanging task fails only itself; one group, one runner (issue 12, 2 and 4)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import time
import warnings
from pathlib import Path

import distributed
import pytest
from _task_funcs import crash, crash_once, hang, hang_noting_pid, slow_square, square

from persist_ext._errors import (
    ConcurrentAccessError,
    GroupBusyError,
    TaskError,
    TaskInterruptedWarning,
    WorkerRestartWarning,
)
from persist_ext.features._tasks import GroupResult, TaskGroup, TaskStatus
from persist_ext.storage._memory import MemoryStore
from persist_ext.storage._store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "store")


@pytest.mark.parametrize(
    ("how", "says"),
    [("exit", "exit code 3"), ("segfault", "signal 11 (SIGSEGV)"), ("kill", "signal 9 (SIGKILL)")],
)
def test_a_dying_worker_fails_only_its_task(store: Store, how: str, says: str) -> None:
    seen: list[GroupResult] = []
    group = TaskGroup("die", store, executor="processes", max_workers=2, on_complete=seen.append)
    group.map(square, range(19), key=str)
    group.submit(crash, 0, how, key="boom")
    result = group.run().wait()
    group.close()
    # every other task ran (and if not, why not)
    assert result.results == {str(i): i * i for i in range(19)}, result.failures
    failure = result.failures["boom"]
    assert "'boom'" in failure.error  # names the task ...
    assert says in failure.error  # ... and the exit code or signal
    assert failure.tries == 1  # counted as one try
    assert len(seen) == 1


def test_worker_death_counts_one_try_then_retries_and_replay_works(
    store: Store, tmp_path: Path
) -> None:
    flags = tmp_path / "flags"
    flags.mkdir()
    group = TaskGroup("retry", store, executor="processes", max_workers=2, max_tries=2)
    group.map(square, range(5), key=str)
    group.submit(crash_once, 1, str(flags), key="once")
    result = group.run().wait()
    assert result.results["once"] == 10  # the second try, in a fresh worker
    assert group.session["once#0"].tries == 2
    group.close()

    # max_tries=1: the crash fails the task for good; replay runs it on a working pool.
    again = TaskGroup("replay", store, executor="processes", max_workers=2)
    again.map(square, range(5), key=str)
    again.submit(crash_once, 2, str(flags), key="once")
    assert "exit code 7" in again.run().wait().failures["once"].error
    clone = again.replay("once")
    assert clone.name == "once#1"
    assert again.wait().results["once"] == 20
    assert again.status("once") is TaskStatus.FINISHED
    again.close()


def test_timeout_kills_a_hung_task_on_processes(store: Store) -> None:
    group = TaskGroup("hang-p", store, executor="processes", max_workers=2, timeout=1)
    group.map(square, range(6), key=str)
    group.submit(hang, 1, key="stuck")
    result = group.run().wait(120)
    assert result.results == {str(i): i * i for i in range(6)}
    assert "TaskTimeoutError" in result.failures["stuck"].error
    assert "'stuck'" in result.failures["stuck"].error
    group.close()


def test_timeout_on_threads_records_the_task_failed(store: Store) -> None:
    group = TaskGroup("hang-t", store, max_workers=2, timeout=0.5)
    group.map(square, range(6), key=str)
    group.submit(hang, 1, 30, key="stuck")
    result = group.run().wait(60)
    assert result.results == {str(i): i * i for i in range(6)}
    assert "ran longer than its timeout" in result.failures["stuck"].error
    group.close()  # does not wait for the abandoned thread


def test_timeout_on_dask(store: Store) -> None:
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        group = TaskGroup("hang-d", store, executor=client, timeout=0.5)
        group.map(square, range(4), key=str)
        group.submit(hang, 1, 20, key="stuck")
        result = group.run().wait(120)
        assert result.results == {str(i): i * i for i in range(4)}
        assert "ran longer than its timeout" in result.failures["stuck"].error
        group.close()


def _process_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")  # a zombie has stopped running; its parent reaps it


def test_timeout_on_a_dask_cluster_restarts_the_worker_running_the_hung_task(
    store: Store, tmp_path: Path
) -> None:
    seen: list[GroupResult] = []
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        group = TaskGroup("hang-dn", store, executor=client, timeout=4, on_complete=seen.append)
        # The hung task first, then half-second tasks: the hung try's worker is usually
        # running one of them when it restarts (Dask runs that one again).
        group.submit(hang_noting_pid, str(tmp_path), key="stuck")
        for i in range(16):
            group.submit(slow_square, i, 0.5, key=str(i))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", WorkerRestartWarning)
            result = group.run().wait(300)
            group.close()
        assert not [w for w in caught if w.category is WorkerRestartWarning], caught
        # Every other task succeeded once, including those the restart made Dask run again.
        assert result.results == {str(i): i * i for i in range(16)}
        for i in range(16):
            instance = group.session.refresh_instance(f"{i}#0")
            assert instance is not None
            assert instance.tries == 1
            assert instance.status is TaskStatus.FINISHED
        error = result.failures["stuck"].error
        assert "TaskTimeoutError" in error
        assert "'stuck'" in error
        assert "timeout of 4 s" in error
        assert "restarted" in error
        assert len(seen) == 1
        # The process that ran the hung function is gone: the function no longer runs.
        pid = int((tmp_path / "pid").read_text())
        assert pid != os.getpid()
        deadline = time.monotonic() + 120
        while not _process_gone(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _process_gone(pid)
        # The cluster still works: the nanny started a fresh worker.
        client.wait_for_workers(2, timeout=120)
        assert client.submit(square, 3).result(timeout=120) == 9

        # The opt-out for a shared cluster: an executor instead of the Client abandons the
        # try (no worker is restarted) and the recorded error says so.
        polite = TaskGroup("hang-dx", store, executor=client.get_executor(pure=False), timeout=1)
        polite.submit(hang, 1, 3, key="stuck")
        error = polite.run().wait(120).failures["stuck"].error
        assert "abandoned" in error
        assert "pass the Client itself" in error
        polite.close()
    assert len(seen) == 1


def test_a_dask_worker_holding_a_wanted_try_is_not_restarted_and_a_warning_says_so(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from persist_ext.features._tasks import _dask

    monkeypatch.setattr(_dask, "_RELEASE_WAIT", 1.0)
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        # A finished try this client still wants (named like one): restarting the worker
        # would make Dask run it again, so the restart must not happen.
        held = client.submit(square, 3, key="run_task-held-by-the-test", pure=False)
        assert held.result(timeout=120) == 9
        before = set(client.scheduler_info()["workers"])
        group = TaskGroup("hang-held", store, executor=client, timeout=1)
        group.submit(hang, 1, 3, key="stuck")
        with pytest.warns(WorkerRestartWarning, match="was not restarted") as caught:
            result = group.run().wait(120)  # the run ends after the restart's attempt
        group.close()
        assert "tcp://" in str(caught[0].message)  # names the worker
        assert "TaskTimeoutError" in result.failures["stuck"].error
        assert set(client.scheduler_info()["workers"]) == before  # same worker, not restarted
        assert held.result(timeout=60) == 9


def test_timeout_on_dask_without_a_nanny_says_the_try_was_abandoned(store: Store) -> None:
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        group = TaskGroup("hang-dt", store, executor=client, timeout=0.5)
        group.submit(hang, 1, 5, key="stuck")
        result = group.run().wait(120)
        error = result.failures["stuck"].error
        assert "has no nanny" in error
        assert "abandoned" in error
        assert "runs on" in error
        group.close()


def test_close_with_a_timeout_never_blocks_forever(store: Store) -> None:
    group = TaskGroup("close-p", store, executor="processes", max_workers=1)
    group.submit(hang, 1, key="stuck")
    group.map(square, range(3), key=str)
    group.run()
    while group.status("stuck") is not TaskStatus.RUNNING:
        time.sleep(0.05)
    assert group.cancel() >= 0  # returns at once
    with pytest.warns(TaskInterruptedWarning, match="'stuck#0'.*worker processes were killed"):
        group.close(timeout=0.5)  # kills the worker after half a second
    assert not group.running
    # Interrupted, not failed: the try is counted and the next run runs it again.
    instance = group.session.refresh_instance("stuck#0")
    assert instance is not None
    assert instance.status is TaskStatus.RUNNING
    assert instance.tries == 1


def _hung_then_resumed(store: Store, name: str, executor: str) -> None:
    """close() with no timeout returns for a hung task; the task is recorded interrupted,
    the others keep their results, and the next run runs it again."""
    group = TaskGroup(name, store, executor=executor, max_workers=2, close_grace=0.5)
    group.map(square, range(4), key=str)
    # A thread cannot be stopped and the interpreter joins pool threads at exit: keep the
    # "hung" thread finite; a process is killed.
    group.submit(hang, 7, 30 if executor == "threads" else 3600, key="stuck")
    group.run()
    while group.status("stuck") is not TaskStatus.RUNNING or group.status("3") not in (
        TaskStatus.FINISHED,
    ):
        time.sleep(0.05)
    with pytest.warns(TaskInterruptedWarning, match=r"'stuck#0'") as caught:
        group.close()  # no timeout anywhere: returns after the grace period
    assert not group.running
    text = str(caught[0].message)
    assert "interrupted" in text
    assert "runs them again" in text
    if executor == "threads":
        assert "cannot stop" in text
    else:
        assert "worker processes were killed" in text
    instance = group.session.refresh_instance("stuck#0")
    assert instance is not None
    assert instance.status is TaskStatus.RUNNING  # interrupted: not settled
    assert instance.tries == 1
    assert not group.done()
    assert group.result("3") == 9  # finished work is untouched

    # Resume (a fresh group object, as after a restart): only the interrupted task runs.
    again = TaskGroup(name, store, executor=executor, max_workers=2)
    again.map(square, range(4), key=str)
    again.submit(square, 7, key="stuck")  # the same key, this time it returns
    result = again.run().wait(120)
    assert result.results == {"0": 0, "1": 1, "2": 4, "3": 9, "stuck": 49}
    assert again.session.refresh_instance("stuck#0").tries == 2  # type: ignore[union-attr]
    assert again.session.refresh_instance("0#0").tries == 1  # type: ignore[union-attr]
    again.close()


def test_close_returns_for_a_hung_thread_task_and_resume_runs_it(store: Store) -> None:
    _hung_then_resumed(store, "hung-t", "threads")


def test_close_returns_for_a_hung_process_task_and_resume_runs_it(store: Store) -> None:
    _hung_then_resumed(store, "hung-p", "processes")


def test_close_returns_for_a_hung_dask_task(store: Store) -> None:
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        group = TaskGroup("hung-d", store, executor=client, close_grace=0.5)
        group.map(square, range(3), key=str)
        # The cluster's close waits for the thread still sleeping: keep it short.
        group.submit(hang, 1, 10, key="stuck")
        group.run()
        while group.status("stuck") is not TaskStatus.RUNNING:
            time.sleep(0.05)
        with pytest.warns(TaskInterruptedWarning, match=r"'stuck#0'.*dask executor"):
            group.close()
        assert not group.running
        assert group.status("stuck") is TaskStatus.RUNNING  # interrupted: runs again next time


def test_cancel_never_blocks_on_a_hung_task(store: Store) -> None:
    group = TaskGroup("cancel-h", store, max_workers=1, close_grace=0.2)
    group.submit(hang, 1, 30, key="stuck")
    group.map(square, range(3), key=str)
    group.run()
    while group.status("stuck") is not TaskStatus.RUNNING:
        time.sleep(0.05)
    assert group.cancel() == 3  # the three queued behind the hung one; returns at once
    with pytest.warns(TaskInterruptedWarning):
        group.close()
    for key in ("0", "1", "2"):
        assert group.status(key) is TaskStatus.SCHEDULED  # never started: run next time


def test_bad_close_grace_is_refused() -> None:
    for bad in (-1, "1", True):
        with pytest.raises(TaskError, match="close_grace must be seconds"):
            TaskGroup("x", MemoryStore(), close_grace=bad)  # type: ignore[arg-type]


def test_close_on_threads_with_a_timeout_returns(store: Store) -> None:
    group = TaskGroup("close-t", store, max_workers=1)
    group.submit(hang, 1, 20, key="stuck")
    group.run()
    while group.status("stuck") is not TaskStatus.RUNNING:
        time.sleep(0.05)
    with pytest.warns(TaskInterruptedWarning, match="cannot stop"):
        group.close(timeout=0.2)  # returns without waiting for the hung thread
    assert not group.running
    assert group.status("stuck") is TaskStatus.RUNNING  # recorded as interrupted


def test_bad_timeouts_are_refused() -> None:
    for bad in (0, -1, "1", True):
        with pytest.raises(TaskError, match="timeout must be seconds"):
            TaskGroup("x", MemoryStore(), timeout=bad)  # type: ignore[arg-type]


# --- one group, one runner -----------------------------------------------------------------


def _run_forever(directory: str, ready: str) -> None:
    store = Store(directory)
    group = TaskGroup("solo", store, max_workers=2)
    group.submit(hang, 1, 600, key="stuck")
    group.map(square, range(3), key=str)
    group.run(["stuck"])
    Path(ready).touch()
    time.sleep(600)


def test_a_second_runner_is_refused_then_takes_over_a_dead_holder(tmp_path: Path) -> None:
    directory, ready = str(tmp_path / "store"), tmp_path / "ready"
    Store(directory).close()
    proc = multiprocessing.get_context("fork").Process(
        target=_run_forever, args=(directory, str(ready))
    )
    proc.start()
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists()
        store = Store(directory)
        group = TaskGroup("solo", store)
        group.submit(hang, 1, 0, key="stuck")
        group.map(square, range(3), key=str)
        with pytest.raises(GroupBusyError) as caught:
            group.run()
        message = str(caught.value)
        assert f"pid {proc.pid}" in message
        assert socket.gethostname() in message
        assert "since" in message
        assert "some of its tasks" in message
        assert caught.value.holder["pid"] == proc.pid
        assert isinstance(caught.value, ConcurrentAccessError)
        assert not group.running
        # Other keys of the same group may run meanwhile: they do not overlap.
        other = TaskGroup("solo", store)
        other.submit(hang, 1, 0, key="stuck")
        other.map(square, range(3), key=str)
        assert other.run(["0", "1"]).wait().results["0"] == 0
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()
    result = group.run().wait(60)  # the holder is dead: taken over
    assert result.results == {"stuck": 1, "0": 0, "1": 1, "2": 4}
    group.close()


# --- threads: feeders (no executor Future per try) ------------------------------------------


def _exits(x: int) -> int:
    raise SystemExit(f"task {x} called sys.exit")


def test_a_task_raising_systemexit_on_threads_fails_alone(store: Store) -> None:
    seen: list[GroupResult] = []
    group = TaskGroup("sysexit", store, max_workers=2, on_complete=seen.append)
    group.map(square, range(40), key=str)
    group.submit(_exits, 1, key="bye")
    result = group.run().wait(120)
    group.close()
    assert result.results == {str(i): i * i for i in range(40)}
    assert "SystemExit" in result.failures["bye"].error
    assert "'bye'" in result.failures["bye"].error
    assert len(seen) == 1


def test_cancel_on_a_borrowed_thread_pool_keeps_queued_tries_scheduled(
    store: Store, tmp_path: Path
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    gate = tmp_path / "gate"
    with ThreadPoolExecutor(1) as pool:
        group = TaskGroup("borrowed", store, executor=pool, close_grace=0.2)
        group.submit(_wait_for_file, str(gate), key="first")
        group.map(square, range(50), key=str)
        group.run()
        while group.status("first") is not TaskStatus.RUNNING:
            time.sleep(0.05)
        assert group.cancel() == 50  # every try no feeder took; returns at once
        gate.touch()
        result = group.wait(120)
        assert result.results == {"first": 1}
        for i in range(50):
            assert group.status(str(i)) is TaskStatus.SCHEDULED
        group.close()
        pool.submit(square, 2).result(timeout=60)  # the borrowed pool still works

        # The next run runs exactly the cancelled ones, once each.
        seen: list[GroupResult] = []
        again = TaskGroup("borrowed", store, executor=pool, on_complete=seen.append)
        again.submit(_wait_for_file, str(gate), key="first")
        again.map(square, range(50), key=str)
        assert again.run().wait(120).results == {"first": 1, **{str(i): i * i for i in range(50)}}
        assert all(again.session.refresh_instance(f"{i}#0").tries == 1 for i in range(50))  # type: ignore[union-attr]
        assert len(seen) == 1
        again.close()


def _wait_for_file(path: str) -> int:
    while not os.path.exists(path):
        time.sleep(0.02)
    return 1
