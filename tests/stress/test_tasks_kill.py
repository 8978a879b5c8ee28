"""Kill tests of task groups (issue 12, points 2 and 3): a process killed inside the
completion-callback window, on diskcache and on a real Redis; the workers of a killed
kernel stop.

Deterministic: the child process signals (by creating a file) that it is *inside* the
window — the callback has been claimed and has started — and only then is it SIGKILLed.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from persist_ext.features._tasks import GroupResult, TaskGroup

pytestmark = pytest.mark.slow


def _square(x: int) -> int:
    return x * x


def _open(kind: str, where: str) -> Any:
    if kind == "redis":
        from persist_ext.storage._redis import RedisStore

        url, namespace = where.split("#")
        return RedisStore(url, namespace=namespace)
    from persist_ext.storage._store import Store

    return Store(where)


def _run_and_hang_in_callback(kind: str, where: str, inside: str, calls: str) -> None:
    store = _open(kind, where)

    def on_complete(result: GroupResult) -> None:
        with open(calls, "a") as fh:
            fh.write("child\n")
        Path(inside).touch()  # claimed and started: the window is open
        time.sleep(600)

    group = TaskGroup("cb", store, on_complete=on_complete)
    group.map(_square, range(30), key=str)
    group.run().wait()
    os._exit(0)


def _kill_inside_the_window(kind: str, where: str, tmp_path: Path) -> None:
    inside, calls = tmp_path / "inside", tmp_path / "calls"
    proc = multiprocessing.get_context("fork").Process(
        target=_run_and_hang_in_callback, args=(kind, where, str(inside), str(calls))
    )
    proc.start()
    deadline = time.monotonic() + 120
    while not inside.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert inside.exists(), "the child never reached the callback"
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()

    seen: list[GroupResult] = []
    store = _open(kind, where)
    resumed = TaskGroup("cb", store, on_complete=seen.append)
    resumed.map(_square, range(30), key=str)
    result = resumed.run().wait()
    assert len(seen) == 1  # called again, by the resume
    assert seen[0].results == {str(i): i * i for i in range(30)}
    assert result.ok
    again = TaskGroup("cb", _open(kind, where), on_complete=seen.append)
    again.map(_square, range(30), key=str)
    again.run().wait()
    assert len(seen) == 1  # and never a third time
    assert calls.read_text() == "child\n"
    resumed.close()
    again.close()


def test_callback_is_called_again_after_a_kill_inside_the_window_diskcache(
    tmp_path: Path,
) -> None:
    _kill_inside_the_window("store", str(tmp_path / "store"), tmp_path)


def test_callback_is_called_again_after_a_kill_inside_the_window_redis(
    redis_server: str, tmp_path: Path
) -> None:
    _kill_inside_the_window("redis", f"{redis_server}#cb{uuid.uuid4().hex[:8]}", tmp_path)


def test_callback_hook_kill_between_claim_and_call(tmp_path: Path) -> None:
    """The narrowest window: after the claim is stored, before the callback is entered."""
    directory = str(tmp_path / "store")

    def child() -> None:
        from persist_ext.features._tasks import _completion

        _completion.completion_hook.append(lambda root: os._exit(9))
        group = TaskGroup("hook", _open("store", directory), on_complete=print)
        group.map(_square, range(5), key=str)
        group.run().wait()
        os._exit(0)

    proc = multiprocessing.get_context("fork").Process(target=child)
    proc.start()
    proc.join(120)
    assert proc.exitcode == 9  # died inside the window
    seen: list[GroupResult] = []
    group = TaskGroup("hook", _open("store", directory), on_complete=seen.append)
    group.map(_square, range(5), key=str)
    group.wait()  # nothing to run: wait() finishes the orphaned call
    assert len(seen) == 1


_KERNEL = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {tests!r})
    from _task_funcs import hang
    from persist_ext.features._tasks import TaskGroup
    from persist_ext.storage._store import Store
    group = TaskGroup("orphans", Store({store!r}), executor="processes", max_workers=2)
    group.map(hang, range(4), key=str)
    group.run()
    while len(group.progress().rows) < 2 or group.progress().running < 2:
        time.sleep(0.05)
    print("running", flush=True)
    time.sleep(600)
    """
)


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def test_workers_stop_when_their_kernel_is_killed(tmp_path: Path) -> None:
    tests = str(Path(__file__).parents[1] / "unit")
    script = _KERNEL.format(tests=tests, store=str(tmp_path / "store"))
    kernel = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert kernel.stdout is not None
        assert kernel.stdout.readline().strip() == "running"
        workers = [p for p in _children(kernel.pid) if _alive(p)]
        assert len(workers) >= 2
    finally:
        kernel.kill()
        kernel.wait()
    deadline = time.monotonic() + 30  # "within seconds"; generous for a loaded CI machine
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in workers), "worker processes outlived their kernel"
