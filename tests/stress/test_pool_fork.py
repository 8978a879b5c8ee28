"""Race test of the process pool's forks (issue 12, point 2): a worker forked while other
threads of the parent are inside SQLite must never hang a task.

``fork()`` copies SQLite's process-wide mutexes in whatever state they are in; one held by
another thread at that instant stays held in the child, whose first ``sqlite3.connect``
then blocks forever (seen as a hung ``test_a_dying_worker_fails_only_its_task``). Here
three threads write to SQLite without pause while every call kills its worker, so the pool
forks a replacement for each one: ~7 % of such forks copied a held mutex on this machine,
and before the start check a run of 80 calls almost always hung.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest

from persist_ext.features._tasks._pool import WorkerPool
from persist_ext.storage._store import Store

pytestmark = pytest.mark.slow


def _open_store_then_die(folder: str) -> None:
    # What a task's bookkeeping does first in a worker: open a store (SQLite).
    Store(Path(folder) / f"w{os.getpid()}").close()
    os._exit(0)


def test_workers_forked_while_threads_use_sqlite_never_hang(tmp_path: Path) -> None:
    stop = threading.Event()

    def write(i: int) -> None:
        db = sqlite3.connect(tmp_path / f"busy{i}.db")
        db.execute("CREATE TABLE t (k INTEGER, v TEXT)")
        while not stop.is_set():
            db.execute("INSERT INTO t VALUES (?, ?)", (i, "x" * 100))
            db.commit()
            db.execute("DELETE FROM t")
            db.commit()
        db.close()

    writers = [threading.Thread(target=write, args=(i,), daemon=True) for i in range(3)]
    for thread in writers:
        thread.start()
    pool = WorkerPool(2)
    try:
        futures = [pool.submit(_open_store_then_die, str(tmp_path)) for _ in range(80)]
        deaths = 0
        for future in futures:
            # A hung worker would block here: each call must end (the worker dies by design).
            error = future.exception(timeout=300)
            deaths += "died" in str(error)
        assert deaths == 80
        assert pool.replaced == 80
    finally:
        stop.set()
        pool.shutdown(wait=True)
        for thread in writers:
            thread.join(10)
