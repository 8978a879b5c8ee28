"""SIGKILL the workers of a SharedPOD at random moments while they update it: nobody blocks,
nothing acknowledged is lost, and the server survives every torn request."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import threading
import time
from pathlib import Path

import pytest

from persist_ext.pod import POD, SharedPOD

pytestmark = pytest.mark.slow


def _bump(shared: SharedPOD, log: str) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    while True:
        with shared.locked():
            shared.set["n"] += 1
        os.write(fd, b"1")  # acknowledged: the increment returned
        shared.set["items"].append(os.getpid())
        if random.random() < 0.05:
            shared.keys()


def _alive(workers: list[multiprocessing.Process]) -> None:
    ended = [w.exitcode for w in workers if not w.is_alive()]
    assert not ended, f"a worker ended by itself (exit code {ended}): its connection broke"


def test_workers_killed_at_random_moments(tmp_path: Path) -> None:
    shared = SharedPOD(tmp_path / "p")
    shared["n"] = 0
    shared["items"] = []
    log = str(tmp_path / "acks")
    workers = [multiprocessing.Process(target=_bump, args=(shared, log)) for _ in range(4)]
    for worker in workers:
        worker.start()
    kills = 0
    for _ in range(100):
        time.sleep(random.uniform(0.01, 0.08))
        i = random.randrange(len(workers))
        _alive(workers)
        os.kill(workers[i].pid, signal.SIGKILL)
        workers[i].join()
        kills += 1
        workers[i] = multiprocessing.Process(target=_bump, args=(shared, log))
        workers[i].start()
    _alive(workers)
    for worker in workers:
        os.kill(worker.pid, signal.SIGKILL)
        worker.join()
        kills += 1
    acknowledged = os.path.getsize(log)
    box: list[int] = []
    reader = threading.Thread(target=lambda: box.append(shared["n"]), daemon=True)
    reader.start()
    reader.join(30)
    assert box, "the SharedPOD blocked after its workers were killed"
    assert acknowledged <= box[0] <= acknowledged + kills  # a killed call may or may not apply
    shared.close()
    with POD(tmp_path / "p") as pod:
        assert pod["n"] == box[0]
