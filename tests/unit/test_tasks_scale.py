"""Task groups at scale and under stress: 1,000 tasks on threads, processes and Dask; eight
processes completing a group at once (50 times); SIGKILL mid-run then resume; Redis."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from _task_funcs import slow_counted, square

from persist_ext.features._tasks import GroupResult, TaskGroup, TaskStatus
from persist_ext.storage._store import Store

pytestmark = pytest.mark.slow

N = 1000


def _check_thousand(group: TaskGroup, seen: list[GroupResult]) -> None:
    result = group.run().wait()
    assert result.results == {str(i): i * i for i in range(N)}
    assert len(seen) == 1
    assert len(seen[0].results) == N
    snap = group.progress()
    assert (snap.done, snap.total, snap.finished) == (N, N, True)
    assert snap.levels[-1] == (1, 1)


def test_thousand_tasks_on_threads(tmp_path: Path) -> None:
    seen: list[GroupResult] = []
    with TaskGroup("t", Store(tmp_path), on_complete=seen.append) as group:
        group.map(square, range(N), key=str)
        _check_thousand(group, seen)


def test_thousand_tasks_on_processes(tmp_path: Path) -> None:
    seen: list[GroupResult] = []
    group = TaskGroup(
        "p", Store(tmp_path), executor="processes", max_workers=2, on_complete=seen.append
    )
    with group:
        group.map(square, range(N), key=str)
        _check_thousand(group, seen)


def test_thousand_tasks_on_dask_local_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import distributed

    seen: list[GroupResult] = []
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        # The run's first tries reach the scheduler in one client.map, not 1,000 submits
        # (counted on the real client's own methods, which still do the work).
        calls = {"map": 0, "submit": 0}
        real_map, real_submit = client.map, client.submit

        def counted(name: str, real: Any) -> Any:
            def call(*args: Any, **kwargs: Any) -> Any:
                calls[name] += 1
                return real(*args, **kwargs)

            return call

        monkeypatch.setattr(client, "map", counted("map", real_map))
        monkeypatch.setattr(client, "submit", counted("submit", real_submit))
        group = TaskGroup("d", Store(tmp_path), executor=client, on_complete=seen.append)
        group.map(square, range(N), key=str)
        _check_thousand(group, seen)
        group.close()
        assert calls == {"map": 1, "submit": 0}


# --- eight processes finish the last tasks of a group at the same instant -----------------


def _finish_one(directory: str, name: str, key: str, barrier: object) -> None:
    store = Store(directory)

    def count_callback(result: GroupResult) -> None:
        store.incr(f"callbacks/{name}")

    def task(i: int) -> int:
        barrier.wait(30)  # type: ignore[attr-defined]
        return i

    group = TaskGroup(name, store, on_complete=count_callback, batch_size=2, group_size=2)
    group.map(task, range(8), key=str)
    group.run([key]).wait()
    group.close()
    os._exit(0)  # skip atexit handlers inherited through fork


def test_eight_processes_complete_concurrently_callback_once(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    directory = str(tmp_path)
    Store(directory).close()
    for round_ in range(50):
        name = f"race{round_}"
        barrier = ctx.Barrier(8)
        procs = [
            ctx.Process(target=_finish_one, args=(directory, name, str(i), barrier))
            for i in range(8)
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
            assert p.exitcode == 0
        store = Store(directory)
        assert store.get(f"callbacks/{name}", 0) == 1, f"round {round_}"
        session = TaskGroup(name, store).session
        finished = [i for i in session if i.status is TaskStatus.FINISHED]
        assert len(finished) == 8
        store.close()


# --- SIGKILL the process running a group, then resume -----------------------------------


def _run_group_until_killed(directory: str, marks: str) -> None:
    store = Store(directory)
    group = TaskGroup(
        "k",
        store,
        max_workers=4,
        on_complete=lambda result: store.incr("callbacks/k"),
    )
    group.map(lambda i: slow_counted(i, marks), range(300), key=str)
    group.run().wait()
    os._exit(0)


def test_sigkill_mid_run_then_resume(tmp_path: Path) -> None:
    directory, marks = str(tmp_path / "store"), tmp_path / "marks"
    marks.mkdir()
    Store(directory).close()
    ctx = multiprocessing.get_context("fork")
    proc = ctx.Process(target=_run_group_until_killed, args=(directory, str(marks)))
    proc.start()
    store = Store(directory)
    deadline = time.monotonic() + 60
    while len(os.listdir(marks)) < 60 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    assert proc.exitcode == -signal.SIGKILL

    before = TaskGroup("k", store)
    finished_before = {i.task for i in before.session if i.status is TaskStatus.FINISHED}
    assert 0 < len(finished_before) < 300, "kill the run mid-way"
    runs_before = {p.name: p.read_text() for p in marks.iterdir()}

    seen: list[GroupResult] = []
    resumed = TaskGroup("k", store, max_workers=4, on_complete=seen.append)
    resumed.map(lambda i: slow_counted(i, str(marks)), range(300), key=str)
    result = resumed.run().wait()
    resumed.close()

    assert result.results == {str(i): i for i in range(300)}  # nothing lost
    for key in finished_before:  # nothing finished ran again
        assert (marks / f"ran-{key}").read_text() == runs_before[f"ran-{key}"] == "x"
    assert len(seen) + store.get("callbacks/k", 0) == 1  # the callback fired once in all


# --- a RedisStore-backed group -----------------------------------------------------------


def test_group_on_redis_store(redis_server: str) -> None:
    from persist_ext.storage._redis import RedisStore

    namespace = f"t{uuid.uuid4().hex[:8]}"
    store = RedisStore(redis_server, namespace=namespace)
    seen: list[GroupResult] = []
    group = TaskGroup("r", store, executor="processes", max_workers=2, on_complete=seen.append)
    group.map(square, range(200), key=str)
    group.submit(square, "x", key="bad")  # str * str fails in the worker
    result = group.run().wait()
    group.close()
    assert result.results == {str(i): i * i for i in range(200)}
    assert "TypeError" in result.failures["bad"].error
    assert len(seen) == 1
    again = TaskGroup("r", RedisStore(redis_server, namespace=namespace))
    assert again.read_task("199") == 199 * 199
    assert again.session["bad#0"].status is TaskStatus.FAILED
